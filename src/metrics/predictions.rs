//! Validated predictions: `n` rows × `k` classes of probabilities plus labels.
//!
//! Validation happens once, here, so that every metric can assume finite
//! probabilities in `[0, 1]` that sum to 1 and labels below `k`, and so that a
//! bad input file is reported with the row and column of the first bad cell
//! instead of as a silently wrong ECE.

use super::binning::{merge_parts, BinAcc, EqualWidth};
use super::error::{MetricsError, Result};
use super::par::{map_chunks, CHUNK_ROWS};
use rayon::prelude::*;
use std::ops::Range;

/// Largest accepted `|sum of a row - 1|`. Probabilities exported as float32 and
/// re-read as f64 drift by ~1e-7 per row; 1e-6 accepts those and still catches
/// rows that were never normalised.
pub const ROW_SUM_TOLERANCE: f64 = 1e-6;

/// `n` rows × `k` classes of probabilities (row-major) plus one label per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    probs: Vec<f64>,
    labels: Vec<u32>,
    n_classes: usize,
}

impl Predictions {
    /// Validates probabilities: every value finite and in `[0, 1]`, every row
    /// summing to 1 within [`ROW_SUM_TOLERANCE`], every label below `n_classes`.
    /// The error names the first offending row (0-based) and column. A `-0.0`
    /// is stored as `0.0` so that sorting and comparing scores agree.
    pub fn from_probabilities(
        mut probs: Vec<f64>,
        n_classes: usize,
        labels: Vec<u32>,
    ) -> Result<Self> {
        check_shape(probs.len(), n_classes, labels.len())?;
        first_error(labels.len(), |rows| {
            check_probability_rows(&probs, n_classes, rows)
        })?;
        check_labels(&labels, n_classes)?;
        for p in probs.iter_mut().filter(|p| **p == 0.0) {
            *p = 0.0;
        }
        Ok(Self {
            probs,
            labels,
            n_classes,
        })
    }

    /// Softmax of logits (row-major, `n_classes` per row) with the row maximum
    /// subtracted first, so large logits cannot overflow `exp`. Errors on a
    /// non-finite logit (naming row and column) or a bad label. The buffer is
    /// reused in place: no second `n × k` allocation.
    pub fn from_logits(mut logits: Vec<f64>, n_classes: usize, labels: Vec<u32>) -> Result<Self> {
        check_shape(logits.len(), n_classes, labels.len())?;
        first_error(labels.len(), |rows| {
            check_finite_rows(&logits, n_classes, rows)
        })?;
        check_labels(&labels, n_classes)?;
        softmax_rows_in_place(&mut logits, n_classes, 1.0);
        Ok(Self {
            probs: logits,
            labels,
            n_classes,
        })
    }

    /// Builds from parts already known to be valid (softmax outputs, row subsets).
    pub(crate) fn from_trusted(probs: Vec<f64>, n_classes: usize, labels: Vec<u32>) -> Self {
        debug_assert_eq!(probs.len(), n_classes * labels.len());
        Self {
            probs,
            labels,
            n_classes,
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }
    /// Number of classes (columns).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }
    /// All probabilities, row-major.
    pub fn probabilities(&self) -> &[f64] {
        &self.probs
    }
    /// Labels, one per row.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }
    /// Probabilities of row `i`. Panics if `i >= n_rows()`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.probs[i * self.n_classes..(i + 1) * self.n_classes]
    }

    /// The rows at `rows` (repeats allowed), e.g. a bootstrap resample.
    /// Panics on an index `>= n_rows()`: indices come from code, not from users.
    pub fn select(&self, rows: &[usize]) -> Predictions {
        let mut probs = Vec::with_capacity(rows.len() * self.n_classes);
        for &i in rows {
            probs.extend_from_slice(self.row(i));
        }
        let labels = rows.iter().map(|&i| self.labels[i]).collect();
        Self::from_trusted(probs, self.n_classes, labels)
    }

    /// Top-label view: each row's confidence and whether its prediction is right.
    pub fn top_label(&self) -> TopLabel {
        self.top_label_pass(false, &[]).top
    }

    /// One pass over the matrix for the top-label view that can also sum
    /// `-ln p(label)` (the NLL numerator) and fill equal-width bins of the
    /// confidences while each row is in cache: the matrix is by far the
    /// largest array, so reading it once is what makes the paper preset fast.
    /// Per-chunk sums are merged in chunk order, which makes the results
    /// bit-identical to the separate computations (`nll`, `Bins::accumulate`).
    pub(crate) fn top_label_pass(&self, with_nll: bool, width_bins: &[usize]) -> TopLabelPass {
        let n = self.n_rows();
        let mut confidence = vec![0.0; n];
        let mut correct = vec![false; n];
        let binners: Vec<EqualWidth> = width_bins.iter().map(|&b| EqualWidth::new(b)).collect();
        let parts: Vec<(f64, Vec<Vec<BinAcc>>)> = confidence
            .par_chunks_mut(CHUNK_ROWS)
            .zip(correct.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .map(|(c, (conf, corr))| {
                self.top_label_chunk(c * CHUNK_ROWS, conf, corr, with_nll, &binners)
            })
            .collect();
        let nll_sum = parts.iter().map(|(nll, _)| nll).sum();
        let width = binners
            .iter()
            .enumerate()
            .map(|(j, w)| {
                let chunks: Vec<Vec<BinAcc>> =
                    parts.iter().map(|(_, bins)| bins[j].clone()).collect();
                merge_parts(w.n_bins(), &chunks)
            })
            .collect();
        TopLabelPass {
            top: TopLabel {
                confidence,
                correct,
            },
            nll_sum,
            width_bins: width,
        }
    }

    /// The rows of one chunk, starting at row `first`: returns the chunk's NLL
    /// sum and its equal-width bins.
    fn top_label_chunk(
        &self,
        first: usize,
        conf: &mut [f64],
        corr: &mut [bool],
        with_nll: bool,
        binners: &[EqualWidth],
    ) -> (f64, Vec<Vec<BinAcc>>) {
        let k = self.n_classes;
        let mut nll = 0.0;
        let mut bins: Vec<Vec<BinAcc>> = binners
            .iter()
            .map(|w| vec![BinAcc::default(); w.n_bins()])
            .collect();
        for (r, (cf, ok)) in conf.iter_mut().zip(corr.iter_mut()).enumerate() {
            let i = first + r;
            let row = &self.probs[i * k..(i + 1) * k];
            let (arg, top) = arg_max(row);
            let label = self.labels[i] as usize;
            *cf = top;
            *ok = arg == label;
            if with_nll {
                nll -= row[label].ln();
            }
            for (w, acc) in binners.iter().zip(bins.iter_mut()) {
                let a = &mut acc[w.bin(top)];
                a.count += 1;
                a.sum_score += top;
                a.hits += *ok as u64;
            }
        }
        (nll, bins)
    }
}

/// What [`Predictions::top_label_pass`] computes.
pub(crate) struct TopLabelPass {
    /// Confidences and correctness.
    pub(crate) top: TopLabel,
    /// `-sum ln p(label)` when asked for, else 0.
    pub(crate) nll_sum: f64,
    /// Equal-width bins of the confidences, one per requested bin count.
    pub(crate) width_bins: Vec<Vec<BinAcc>>,
}

/// Per row: the top-label confidence (largest probability) and whether the
/// predicted class (the *first* arg-max on ties, as numpy's and torch's
/// `argmax` pick) equals the label.
#[derive(Debug, Clone, PartialEq)]
pub struct TopLabel {
    confidence: Vec<f64>,
    correct: Vec<bool>,
}

impl TopLabel {
    /// Builds a top-label view directly from confidences and correctness, e.g.
    /// for a binary problem scored outside this module. Errors on empty input,
    /// mismatched lengths, or a confidence that is not finite or not in `[0, 1]`.
    pub fn new(confidence: Vec<f64>, correct: Vec<bool>) -> Result<Self> {
        if confidence.len() != correct.len() {
            return Err(MetricsError::LabelCount {
                rows: confidence.len(),
                labels: correct.len(),
            });
        }
        if confidence.is_empty() {
            return Err(MetricsError::Empty);
        }
        for (row, &c) in confidence.iter().enumerate() {
            check_probability(c, row, 0)?;
        }
        let confidence = confidence
            .into_iter()
            .map(|c| if c == 0.0 { 0.0 } else { c })
            .collect();
        Ok(Self {
            confidence,
            correct,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.confidence.len()
    }
    /// Never true for a validated view; present for API completeness.
    pub fn is_empty(&self) -> bool {
        self.confidence.is_empty()
    }
    /// Confidences, one per row.
    pub fn confidence(&self) -> &[f64] {
        &self.confidence
    }
    /// Whether each row's prediction is right.
    pub fn correct(&self) -> &[bool] {
        &self.correct
    }

    /// The rows at `rows` (repeats allowed). Panics on an out-of-range index.
    pub fn select(&self, rows: &[usize]) -> TopLabel {
        TopLabel {
            confidence: rows.iter().map(|&i| self.confidence[i]).collect(),
            correct: rows.iter().map(|&i| self.correct[i]).collect(),
        }
    }
}

/// Index and value of the first maximum of a non-empty row.
#[inline]
pub(crate) fn arg_max(row: &[f64]) -> (usize, f64) {
    let mut best = 0;
    let mut best_value = row[0];
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v > best_value {
            best = j;
            best_value = v;
        }
    }
    (best, best_value)
}

/// Replaces each row of logits by `softmax(row / temperature)`, subtracting the
/// row maximum first so that `exp` never overflows.
pub(crate) fn softmax_rows_in_place(values: &mut [f64], k: usize, temperature: f64) {
    let inv_t = 1.0 / temperature;
    values.par_chunks_mut(k * CHUNK_ROWS).for_each(|chunk| {
        for row in chunk.chunks_exact_mut(k) {
            let (_, max) = arg_max(row);
            let mut sum = 0.0;
            for v in row.iter_mut() {
                *v = ((*v - max) * inv_t).exp();
                sum += *v;
            }
            let inv = 1.0 / sum;
            row.iter_mut().for_each(|v| *v *= inv);
        }
    });
}

pub(crate) fn check_shape(values: usize, n_classes: usize, labels: usize) -> Result<()> {
    if n_classes == 0 {
        return Err(MetricsError::NoClasses);
    }
    if !values.is_multiple_of(n_classes) {
        return Err(MetricsError::RaggedValues { values, n_classes });
    }
    let rows = values / n_classes;
    if rows != labels {
        return Err(MetricsError::LabelCount { rows, labels });
    }
    if rows == 0 {
        return Err(MetricsError::Empty);
    }
    Ok(())
}

/// Runs `check` over fixed row chunks in parallel and returns the error of the
/// lowest row, so the reported row does not depend on thread scheduling.
pub(crate) fn first_error<F>(n: usize, check: F) -> Result<()>
where
    F: Fn(Range<usize>) -> Result<()> + Sync + Send,
{
    map_chunks(n, check).into_iter().collect()
}

pub(crate) fn check_labels(labels: &[u32], n_classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l as usize >= n_classes) {
        Some(row) => Err(MetricsError::Label {
            row,
            label: labels[row],
            n_classes,
        }),
        None => Ok(()),
    }
}

fn check_probability(value: f64, row: usize, column: usize) -> Result<()> {
    if !value.is_finite() {
        return Err(MetricsError::NonFinite { row, column, value });
    }
    if !(0.0..=1.0).contains(&value) {
        return Err(MetricsError::OutOfRange { row, column, value });
    }
    Ok(())
}

fn check_probability_rows(probs: &[f64], k: usize, rows: Range<usize>) -> Result<()> {
    for i in rows {
        let row = &probs[i * k..(i + 1) * k];
        for (column, &value) in row.iter().enumerate() {
            check_probability(value, i, column)?;
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
            return Err(MetricsError::RowSum {
                row: i,
                sum,
                tolerance: ROW_SUM_TOLERANCE,
            });
        }
    }
    Ok(())
}

pub(crate) fn check_finite_rows(values: &[f64], k: usize, rows: Range<usize>) -> Result<()> {
    for i in rows {
        for (column, &value) in values[i * k..(i + 1) * k].iter().enumerate() {
            if !value.is_finite() {
                return Err(MetricsError::NonFinite {
                    row: i,
                    column,
                    value,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_row_and_column() {
        let err =
            Predictions::from_probabilities(vec![0.5, 0.5, 0.2, 1.2], 2, vec![0, 1]).unwrap_err();
        assert_eq!(
            err,
            MetricsError::OutOfRange {
                row: 1,
                column: 1,
                value: 1.2
            }
        );
        let err = Predictions::from_probabilities(vec![0.5, 0.5, 0.2, f64::NAN], 2, vec![0, 1])
            .unwrap_err();
        assert!(matches!(
            err,
            MetricsError::NonFinite {
                row: 1,
                column: 1,
                ..
            }
        ));
        let err = Predictions::from_probabilities(vec![0.5, 0.4], 2, vec![0]).unwrap_err();
        assert!(matches!(err, MetricsError::RowSum { row: 0, .. }));
        let err = Predictions::from_probabilities(vec![0.5, 0.5], 2, vec![2]).unwrap_err();
        assert_eq!(
            err,
            MetricsError::Label {
                row: 0,
                label: 2,
                n_classes: 2
            }
        );
        let err = Predictions::from_logits(vec![1.0, f64::INFINITY], 2, vec![0]).unwrap_err();
        assert!(matches!(
            err,
            MetricsError::NonFinite {
                row: 0,
                column: 1,
                ..
            }
        ));
    }

    #[test]
    fn shape_errors() {
        assert_eq!(
            Predictions::from_probabilities(vec![], 3, vec![]),
            Err(MetricsError::Empty)
        );
        assert_eq!(
            Predictions::from_probabilities(vec![1.0], 0, vec![0]),
            Err(MetricsError::NoClasses)
        );
        assert!(matches!(
            Predictions::from_probabilities(vec![0.5, 0.5, 1.0], 2, vec![0]),
            Err(MetricsError::RaggedValues { .. })
        ));
        assert!(matches!(
            Predictions::from_probabilities(vec![0.5, 0.5], 2, vec![0, 1]),
            Err(MetricsError::LabelCount { rows: 1, labels: 2 })
        ));
    }

    #[test]
    fn first_error_is_the_lowest_row_even_across_chunks() {
        let n = 3 * CHUNK_ROWS;
        let mut probs = vec![0.5; 2 * n];
        probs[2 * (2 * CHUNK_ROWS + 5)] = 7.0;
        probs[2 * (CHUNK_ROWS + 3) + 1] = -1.0;
        let err = Predictions::from_probabilities(probs, 2, vec![0; n]).unwrap_err();
        assert!(
            matches!(err, MetricsError::OutOfRange { row, column: 1, .. } if row == CHUNK_ROWS + 3)
        );
    }

    #[test]
    fn softmax_survives_huge_logits_and_breaks_ties_to_the_first_class() {
        let p = Predictions::from_logits(vec![1000.0, 1000.0, -1000.0], 3, vec![1]).unwrap();
        assert_eq!(p.row(0), &[0.5, 0.5, 0.0]);
        let top = p.top_label();
        assert_eq!(top.confidence(), &[0.5]);
        assert_eq!(
            top.correct(),
            &[false],
            "first arg-max (class 0) is predicted, label is 1"
        );
    }
}
