//! Benchmark support: deterministic synthetic predictions and timings of the
//! paper preset (top-label 10-bin L1 ECE under both binnings, accuracy, NLL).
//!
//! Nothing here prints or reads the clock outside `time_paper_preset`, so a
//! CLI subcommand or an example can drive it and format the result.

use crate::metrics::par::CHUNK_ROWS;
use crate::metrics::predictions::{softmax_rows_in_place, Predictions};
use crate::metrics::{Binning, EceSpec, MetricKind, Variant};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// `n` rows × `k` classes of softmax probabilities with labels, identical for
/// a given `(n, k, seed)` on any machine and thread count: rows are generated
/// in fixed chunks, chunk `c` from `ChaCha8Rng::seed_from_u64(seed)` on stream
/// `c`. Each row's logits are uniform on `[0, 4)` plus a uniform `[0, 4)` boost
/// on the label, so accuracy and over-confidence are both moderate. Panics if
/// `n` or `k` is 0.
pub fn synthetic_predictions(n: usize, k: usize, seed: u64) -> Predictions {
    assert!(
        n > 0 && k > 0,
        "synthetic predictions need rows and classes"
    );
    let mut logits = vec![0.0; n * k];
    let mut labels = vec![0u32; n];
    logits
        .par_chunks_mut(CHUNK_ROWS * k)
        .zip(labels.par_chunks_mut(CHUNK_ROWS))
        .enumerate()
        .for_each(|(c, (z, y))| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(c as u64);
            for (row, label) in z.chunks_exact_mut(k).zip(y.iter_mut()) {
                row.iter_mut().for_each(|v| *v = 4.0 * rng.random::<f64>());
                *label = rng.random_range(0..k as u32);
                row[*label as usize] += 4.0 * rng.random::<f64>();
            }
        });
    softmax_rows_in_place(&mut logits, k, 1.0);
    Predictions::from_trusted(logits, k, labels)
}

/// Wall-clock seconds of each part of the paper preset on one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchTimings {
    /// Rows.
    pub n_rows: usize,
    /// Classes.
    pub n_classes: usize,
    /// One pass over the matrix: confidences, correctness and NLL sum.
    pub top_label_pass_s: f64,
    /// Equal-width 10-bin L1 ECE from the confidences.
    pub ece_equal_width_s: f64,
    /// Equal-mass 10-bin L1 ECE (selection of 9 order statistics + binning).
    pub ece_equal_mass_s: f64,
    /// `Predictions::report` on the four variants, end to end (what a user pays).
    pub report_s: f64,
    /// The reported `(name, value)` pairs, to check the work was done.
    pub values: Vec<(String, f64)>,
}

/// The variants timed: accuracy, NLL and the paper's ECE under both binnings.
pub fn paper_bench_variants() -> Vec<Variant> {
    vec![
        Variant::plain(MetricKind::Accuracy),
        Variant::plain(MetricKind::Nll),
        Variant::plain(MetricKind::Calibration(EceSpec::paper(Binning::EqualWidth))),
        Variant::plain(MetricKind::Calibration(EceSpec::paper(Binning::EqualMass))),
    ]
}

/// Times the paper preset on `preds`, part by part and end to end.
pub fn time_paper_preset(preds: &Predictions) -> BenchTimings {
    let seconds = |t: Instant| t.elapsed().as_secs_f64();
    let t = Instant::now();
    let top = preds.top_label_pass(true, &[]).top;
    let top_label_pass_s = seconds(t);
    let t = Instant::now();
    let _ew = top.calibration_error(&EceSpec::paper(Binning::EqualWidth));
    let ece_equal_width_s = seconds(t);
    let t = Instant::now();
    let _em = top.calibration_error(&EceSpec::paper(Binning::EqualMass));
    let ece_equal_mass_s = seconds(t);
    drop(top);
    let t = Instant::now();
    let values = preds.report(&paper_bench_variants());
    let report_s = seconds(t);
    BenchTimings {
        n_rows: preds.n_rows(),
        n_classes: preds.n_classes(),
        top_label_pass_s,
        ece_equal_width_s,
        ece_equal_mass_s,
        report_s,
        values,
    }
}

/// `oodcal bench metrics`: prints the preset's timings over `rows × classes`
/// synthetic predictions, `repeats` times, and the peak resident memory.
pub fn print_preset_timings(rows: usize, classes: usize, repeats: usize) {
    let t = Instant::now();
    let preds = synthetic_predictions(rows, classes, 0);
    println!(
        "generated {rows} x {classes} predictions in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    for r in 0..repeats.max(1) {
        let t = time_paper_preset(&preds);
        println!(
            "repeat {r}: top-label pass {:.3}s, ECE equal-width {:.3}s, ECE equal-mass {:.3}s, full preset {:.3}s",
            t.top_label_pass_s, t.ece_equal_width_s, t.ece_equal_mass_s, t.report_s
        );
    }
    println!("peak RSS {:.0} MiB", super::peak_rss_mib());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_data_is_deterministic_and_valid() {
        let a = synthetic_predictions(CHUNK_ROWS + 17, 4, 3);
        let b = synthetic_predictions(CHUNK_ROWS + 17, 4, 3);
        assert_eq!(a, b);
        assert_ne!(a, synthetic_predictions(CHUNK_ROWS + 17, 4, 4));
        let again =
            Predictions::from_probabilities(a.probabilities().to_vec(), 4, a.labels().to_vec());
        assert!(again.is_ok());
    }

    #[test]
    fn timings_report_the_four_variants() {
        let t = time_paper_preset(&synthetic_predictions(500, 3, 1));
        let names: Vec<&str> = t.values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "accuracy",
                "nll",
                "ece[top-label,equal-width,10,L1]",
                "ece[top-label,equal-mass,10,L1]"
            ]
        );
        assert!(t.values.iter().all(|(_, v)| v.is_finite() && *v >= 0.0));
    }
}
