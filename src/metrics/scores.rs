//! Accuracy, negative log-likelihood and the Brier score.
//!
//! Sums run over fixed row chunks and are combined in chunk order, so values
//! are bit-identical for any thread count (see `par`).

use super::par::sum_chunks;
use super::predictions::{Predictions, TopLabel};

impl TopLabel {
    /// Fraction of rows whose first arg-max equals the label.
    pub fn accuracy(&self) -> f64 {
        let right = self.correct().iter().filter(|&&c| c).count();
        right as f64 / self.len() as f64
    }
}

impl Predictions {
    /// Top-1 accuracy (first arg-max on ties).
    pub fn accuracy(&self) -> f64 {
        self.top_label().accuracy()
    }

    /// Mean negative log-likelihood of the labels, natural log:
    /// `-(1/n) sum_i ln p_i[y_i]`. A zero probability on a label gives `+inf`,
    /// which is the true value; nothing is clipped, so that a model that is
    /// certain and wrong is not hidden. For logits, `Logits::nll` avoids the
    /// underflow of `softmax` and is the better estimate.
    pub fn nll(&self) -> f64 {
        let k = self.n_classes();
        let (p, y) = (self.probabilities(), self.labels());
        let total = sum_chunks(self.n_rows(), |rows| {
            rows.map(|i| -p[i * k + y[i] as usize].ln()).sum()
        });
        total / self.n_rows() as f64
    }

    /// Multiclass Brier score: the mean over rows of the **sum over classes**
    /// of `(p_ic - [y_i = c])^2` (Brier 1950), range `[0, 2]`. Some libraries
    /// divide by the number of classes or score only the top label; this one
    /// does neither, hence the name `brier[multiclass]`.
    pub fn brier(&self) -> f64 {
        let k = self.n_classes();
        let (p, y) = (self.probabilities(), self.labels());
        let total = sum_chunks(self.n_rows(), |rows| {
            rows.map(|i| {
                let row = &p[i * k..(i + 1) * k];
                let label = y[i] as usize;
                let sq: f64 = row.iter().map(|q| q * q).sum();
                // sum_c (p_c - [c = y])^2 = sum_c p_c^2 - 2 p_y + 1
                sq - 2.0 * row[label] + 1.0
            })
            .sum()
        });
        total / self.n_rows() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_scores() {
        let p = Predictions::from_probabilities(vec![0.7, 0.2, 0.1, 0.1, 0.1, 0.8], 3, vec![0, 1])
            .unwrap();
        assert_eq!(p.accuracy(), 0.5);
        let nll = -(0.7f64.ln() + 0.1f64.ln()) / 2.0;
        assert!((p.nll() - nll).abs() < 1e-15);
        let brier = ((0.3f64.powi(2) + 0.04 + 0.01) + (0.01 + 0.81 + 0.64)) / 2.0;
        assert!((p.brier() - brier).abs() < 1e-15);
    }

    #[test]
    fn certain_and_wrong_gives_infinite_nll_and_maximal_brier() {
        let p = Predictions::from_probabilities(vec![1.0, 0.0], 2, vec![1]).unwrap();
        assert_eq!(p.nll(), f64::INFINITY);
        assert_eq!(p.brier(), 2.0);
    }
}
