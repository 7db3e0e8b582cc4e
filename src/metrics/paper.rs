//! The paper's preset as numbers: accuracy and top-label 10-bin L1 ECE (both
//! binnings), ×100, and the OOD convention of averaging the test domain's two
//! splits. Every place that reports a paper number computes it here.

use super::ece::calibration_error;
use super::predictions::Predictions;
use super::variant::{Binning, EceSpec};

/// The paper's numbers for one set of predictions, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperScores {
    pub accuracy: f64,
    /// Equal-width bins (the paper's main tables).
    pub ece: f64,
    /// Equal-mass bins (the other branch of the authors' code).
    pub ece_mass: f64,
}

impl PaperScores {
    /// Accuracy and both ECEs of `p`.
    pub fn of(p: &Predictions) -> Self {
        Self {
            accuracy: paper_accuracy(p),
            ece: paper_ece(p),
            ece_mass: 100.0 * calibration_error(p, &EceSpec::paper(Binning::EqualMass)),
        }
    }

    /// The test domain's score: the mean over its `in` and `out` splits, as
    /// the paper's DomainBed protocol reports it.
    pub fn test_domain(ood_in: &Predictions, ood_out: &Predictions) -> Self {
        let (a, b) = (Self::of(ood_in), Self::of(ood_out));
        Self {
            accuracy: (a.accuracy + b.accuracy) / 2.0,
            ece: (a.ece + b.ece) / 2.0,
            ece_mass: (a.ece_mass + b.ece_mass) / 2.0,
        }
    }
}

/// Top-1 accuracy in percent.
pub fn paper_accuracy(p: &Predictions) -> f64 {
    100.0 * p.accuracy()
}

/// The paper's ECE (top-label, 10 equal-width bins, L1) in percent.
pub fn paper_ece(p: &Predictions) -> f64 {
    100.0 * calibration_error(p, &EceSpec::paper(Binning::EqualWidth))
}

/// The test domain's paper ECE: the mean over its two splits.
pub fn test_domain_ece(ood_in: &Predictions, ood_out: &Predictions) -> f64 {
    (paper_ece(ood_in) + paper_ece(ood_out)) / 2.0
}
