//! Binned calibration errors (ECE, RMS, MCE, debiased L2), top-label and
//! class-wise, and the per-bin table behind a reliability diagram.
//!
//! For bins `b` with `n_b` rows, accuracy `a_b` and mean confidence `c_b` over
//! `n` rows:
//! * L1 (ECE): `sum_b (n_b/n) |a_b - c_b|`
//! * L2: `sqrt(sum_b (n_b/n) (a_b - c_b)^2)`
//! * max (MCE): `max_b |a_b - c_b|` over non-empty bins
//! * debiased L2 (Kumar et al. 2019, as uncertainty-calibration's
//!   `unbiased_l2_ce`): `sqrt(max(0, sum_{b: n_b >= 2} (n_b/n)
//!   ((a_b - c_b)^2 - a_b (1 - a_b) / (n_b - 1))))`: the plug-in squared
//!   gap overestimates the true one by the variance of `a_b`, which is
//!   subtracted; bins of one row have no variance estimate and count 0.
//!
//! Empty bins contribute 0 to every norm.

use super::binning::{BinAcc, Bins};
use super::error::{MetricsError, Result};
use super::predictions::{Predictions, TopLabel};
use super::variant::{Binning, EceSpec, Norm, Scope};
use serde::Serialize;

/// One row of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinRow {
    /// Lower bound of the bin (closed for equal width, open for equal mass
    /// except the first bin; see [`crate::metrics::binning`]).
    pub lo: f64,
    /// Upper bound (open for equal width except the last bin, closed for equal mass).
    pub hi: f64,
    /// Rows in the bin.
    pub count: u64,
    /// Mean confidence; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// Accuracy; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// Calibration error of `preds` under `spec` (a fraction in `[0, 1]`).
pub fn calibration_error(preds: &Predictions, spec: &EceSpec) -> f64 {
    match spec.scope() {
        Scope::TopLabel => top_label_error(&preds.top_label(), spec),
        Scope::Classwise => classwise_error(preds, spec),
    }
}

impl TopLabel {
    /// Calibration error of this top-label view. Errors if `spec` is
    /// class-wise, which needs every class's probability, not only the top one.
    pub fn calibration_error(&self, spec: &EceSpec) -> Result<f64> {
        match spec.scope() {
            Scope::TopLabel => Ok(top_label_error(self, spec)),
            Scope::Classwise => Err(MetricsError::Invalid {
                what: "scope",
                reason: "a class-wise error needs full predictions, not a top-label view".into(),
            }),
        }
    }

    /// Per-bin counts, mean confidences and accuracies (reliability diagram).
    pub fn reliability_table(&self, binning: Binning, n_bins: usize) -> Vec<BinRow> {
        let bins = Bins::fit(binning, n_bins, self.confidence());
        let acc = bins.accumulate(self.confidence(), self.correct());
        acc.iter()
            .enumerate()
            .map(|(b, a)| {
                let (lo, hi) = bins.bounds(b);
                BinRow {
                    lo,
                    hi,
                    count: a.count,
                    mean_confidence: a.mean_score(),
                    accuracy: a.accuracy(),
                }
            })
            .collect()
    }
}

impl Predictions {
    /// Calibration error under `spec`; see [`calibration_error`].
    pub fn calibration_error(&self, spec: &EceSpec) -> f64 {
        calibration_error(self, spec)
    }

    /// Top-label reliability-diagram table.
    pub fn reliability_table(&self, binning: Binning, n_bins: usize) -> Vec<BinRow> {
        self.top_label().reliability_table(binning, n_bins)
    }

    /// The calibration error of class `class` alone (its probability column
    /// against `label == class`), the per-class term of the class-wise error.
    /// Panics if `class >= n_classes()`.
    pub fn class_calibration_error(&self, class: usize, spec: &EceSpec) -> f64 {
        let (scores, hits) = class_column(self, class);
        scores_error(&scores, &hits, spec)
    }
}

pub(crate) fn top_label_error(top: &TopLabel, spec: &EceSpec) -> f64 {
    scores_error(top.confidence(), top.correct(), spec)
}

fn scores_error(scores: &[f64], hits: &[bool], spec: &EceSpec) -> f64 {
    let bins = Bins::fit(spec.binning(), spec.n_bins(), scores);
    error_from_bins(
        &bins.accumulate(scores, hits),
        spec.norm(),
        spec.is_debiased(),
    )
}

fn class_column(preds: &Predictions, class: usize) -> (Vec<f64>, Vec<bool>) {
    let k = preds.n_classes();
    let scores = preds.probabilities()[class..]
        .iter()
        .step_by(k)
        .copied()
        .collect();
    let hits = preds
        .labels()
        .iter()
        .map(|&l| l as usize == class)
        .collect();
    (scores, hits)
}

/// Class-wise error: `(mean_c CE_c^p)^(1/p)` for L1 and L2 (debiased or not),
/// `max_c CE_c` for the max norm.
fn classwise_error(preds: &Predictions, spec: &EceSpec) -> f64 {
    let per_class: Vec<f64> = (0..preds.n_classes())
        .map(|c| preds.class_calibration_error(c, spec))
        .collect();
    let k = per_class.len() as f64;
    match spec.norm() {
        Norm::L1 => per_class.iter().sum::<f64>() / k,
        Norm::L2 => (per_class.iter().map(|e| e * e).sum::<f64>() / k).sqrt(),
        Norm::Max => per_class.iter().copied().fold(0.0, f64::max),
    }
}

/// Combines per-bin sums into one calibration error.
pub fn error_from_bins(bins: &[BinAcc], norm: Norm, debiased: bool) -> f64 {
    let total: u64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    let weight = |b: &BinAcc| b.count as f64 / n;
    match (norm, debiased) {
        (Norm::L1, _) => {
            bins.iter()
                .map(|b| (b.hits as f64 - b.sum_score).abs())
                .sum::<f64>()
                / n
        }
        (Norm::Max, _) => bins
            .iter()
            .filter_map(BinAcc::gap)
            .map(f64::abs)
            .fold(0.0, f64::max),
        (Norm::L2, false) => bins
            .iter()
            .filter_map(|b| b.gap().map(|g| weight(b) * g * g))
            .sum::<f64>()
            .sqrt(),
        (Norm::L2, true) => bins
            .iter()
            .filter(|b| b.count >= 2)
            .map(|b| {
                let (g, a) = (b.gap().unwrap_or(0.0), b.accuracy().unwrap_or(0.0));
                weight(b) * (g * g - a * (1.0 - a) / (b.count as f64 - 1.0))
            })
            .sum::<f64>()
            .max(0.0)
            .sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(count: u64, sum_score: f64, hits: u64) -> BinAcc {
        BinAcc {
            count,
            sum_score,
            hits,
        }
    }

    #[test]
    fn norms_on_hand_computed_bins() {
        // bin 0: 2 rows, conf mean 0.3, acc 0.5 (gap 0.2); bin 1 empty;
        // bin 2: 2 rows, conf mean 0.9, acc 0.5 (gap 0.4).
        let bins = [acc(2, 0.6, 1), acc(0, 0.0, 0), acc(2, 1.8, 1)];
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert!(close(
            error_from_bins(&bins, Norm::L1, false),
            0.5 * 0.2 + 0.5 * 0.4
        ));
        assert!(close(error_from_bins(&bins, Norm::Max, false), 0.4));
        let l2 = (0.5f64 * 0.04 + 0.5 * 0.16).sqrt();
        assert!(close(error_from_bins(&bins, Norm::L2, false), l2));
        // debias: subtract a(1-a)/(n_b-1) = 0.25 in each bin, weight 0.5:
        // 0.5*(0.04-0.25) + 0.5*(0.16-0.25) < 0, clamped to 0.
        assert_eq!(error_from_bins(&bins, Norm::L2, true), 0.0);
    }

    #[test]
    fn debiasing_ignores_single_row_bins_but_keeps_their_weight() {
        let bins = [acc(1, 0.9, 0), acc(3, 0.3, 3)];
        // Only bin 1 counts: weight 3/4, gap 0.9, a = 1 so no variance term.
        let want = (0.75f64 * 0.81).sqrt();
        assert!((error_from_bins(&bins, Norm::L2, true) - want).abs() < 1e-15);
    }
}
