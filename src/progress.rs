//! Progress bars for anything that takes seconds (stderr; hidden when stderr
//! is not a terminal, so logs and CI output stay clean).

use indicatif::{ProgressBar, ProgressStyle};

/// A counted bar with a label, rate and ETA.
pub fn bar(len: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}
