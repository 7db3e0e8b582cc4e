//! Progress bars for anything that takes seconds (stderr; hidden when stderr
//! is not a terminal, so logs and CI output stay clean).

use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Every bar of the process, so bars of concurrent runs stack instead of
/// overwriting each other.
fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(MultiProgress::new)
}

/// Prints a line to stdout above any bars being drawn.
pub fn println(line: &str) {
    let m = multi();
    if m.is_hidden() {
        println!("{line}");
    } else {
        let _ = m.println(line);
    }
}

/// A counted bar with a label, rate and ETA.
pub fn bar(len: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    multi().add(bar)
}
