//! Benchmarks: throughput figures to set beside a peer's (PyTorch,
//! torchmetrics, `sha256sum`) measured on the same machine, in the same run.
//! Benchmarks print figures; they never pass or fail on speed. `oodcal bench`
//! drives them all (`bench train` beside `benches/train_peer.py`).
//!
//! * [`metrics`]: the paper's metric preset over synthetic predictions.
//! * [`verify`]: checking a pinned folder disk-cold, cold and warm.
//! * [`pipeline`]: decoding and augmenting images, cold and cached.
//! * [`train`]: images per second through a training step and through
//!   evaluation (burn-generic: a `BackendJob`, like the trainer it measures).
//! * [`agree`]: the same SGD steps on two backends, step by step.
//! * [`report`] and [`synthetic_records`]: aggregation and the report over
//!   synthetic run records.

pub mod agree;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod synthetic_records;
pub mod train;
pub mod verify;

/// The median of `xs` (the upper one of an even count); sorts `xs`.
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Peak resident set size of this process (Linux: VmHWM).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}
