//! Did a model learn? A claim about models is only as good as the models
//! behind it: one whose predictions are no better than a uniform guess has an
//! ECE near zero for no merit of its own, and would decide a calibration claim.
//!
//! The rule: pool the ID-validation predictions of a model's selected runs
//! (one per seed) and take the Wilson score interval of its accuracy. The
//! model **learned** when the interval's lower end (95%, two-sided) lies more
//! than [`MARGIN_POINTS`] above chance (100 / classes). Otherwise it **did
//! not learn**: the report shows it with these numbers and every claim leaves
//! it out. Its ID-validation NLL is shown beside ln K, the NLL of a uniform
//! guess, as a second sign (an over-confident model can be above chance and
//! above ln K, so the NLL alone does not decide). A model whose runs have no
//! predictions file cannot be checked and is kept, with a notice.

use serde::Serialize;
use std::collections::BTreeMap;

use super::rows::RunRow;
use crate::record::predictions::SplitLogits;

/// How far above chance, in accuracy points, the interval's lower end must lie.
pub const MARGIN_POINTS: f64 = 5.0;
/// Two-sided 95% normal quantile.
const Z: f64 = 1.96;

/// What one run's ID-validation predictions show.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IdEvidence {
    pub examples: usize,
    pub correct: usize,
    pub classes: usize,
    /// Summed negative log-likelihood of the true labels (natural log).
    pub nll_sum: f64,
}

impl IdEvidence {
    /// Counts and NLL of `split` (`classes` logits per row), with the
    /// metrics module's definitions (first arg-max; log-sum-exp NLL).
    pub fn of(split: &SplitLogits, classes: usize) -> anyhow::Result<IdEvidence> {
        let logits = split.logits(classes)?;
        let top = logits.to_predictions(1.0).top_label();
        let examples = top.len();
        Ok(IdEvidence {
            examples,
            correct: top.correct().iter().filter(|&&c| c).count(),
            classes,
            nll_sum: logits.nll(1.0) * examples as f64,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Learned {
    Yes,
    No,
    /// Some selected run has no predictions file.
    Unchecked,
}

impl Learned {
    pub fn text(self) -> &'static str {
        match self {
            Learned::Yes => "learned",
            Learned::No => "did not learn",
            Learned::Unchecked => "not checked (no predictions)",
        }
    }
}

/// One model's check, over its selected runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Learning {
    pub label: String,
    pub runs: usize,
    pub examples: usize,
    pub classes: usize,
    /// Pooled ID-validation accuracy, its Wilson lower bound and chance, in percent.
    pub id_accuracy: f64,
    pub lower_bound: f64,
    pub chance: f64,
    /// Mean ID-validation NLL, and ln K (a uniform guess).
    pub id_nll: f64,
    pub uniform_nll: f64,
    pub verdict: Learned,
}

/// The check for every model of `selected`, by label.
pub fn check_learning(selected: &[RunRow]) -> Vec<Learning> {
    let mut by_model: BTreeMap<&str, Vec<&RunRow>> = BTreeMap::new();
    for row in selected {
        by_model.entry(&row.label).or_default().push(row);
    }
    by_model
        .into_iter()
        .map(|(label, rows)| check_runs(label, &rows))
        .collect()
}

/// The check of one model (or one model under one algorithm) over `rows`,
/// its selected runs, reported under `label`.
pub fn check_runs(label: &str, rows: &[&RunRow]) -> Learning {
    let evidence: Option<Vec<IdEvidence>> = rows.iter().map(|r| r.id_evidence).collect();
    let pooled = evidence.as_deref().unwrap_or_default();
    let examples: usize = pooled.iter().map(|e| e.examples).sum();
    let correct: usize = pooled.iter().map(|e| e.correct).sum();
    let classes = pooled.first().map_or(0, |e| e.classes);
    let chance = if classes > 0 {
        100.0 / classes as f64
    } else {
        f64::NAN
    };
    let lower_bound = 100.0 * wilson_lower(correct, examples);
    let verdict = match evidence {
        None => Learned::Unchecked,
        Some(_) if examples == 0 => Learned::Unchecked,
        Some(_) if clears_chance(lower_bound, chance) => Learned::Yes,
        Some(_) => Learned::No,
    };
    Learning {
        label: label.to_string(),
        runs: rows.len(),
        examples,
        classes,
        id_accuracy: 100.0 * correct as f64 / examples.max(1) as f64,
        lower_bound,
        chance,
        id_nll: pooled.iter().map(|e| e.nll_sum).sum::<f64>() / examples.max(1) as f64,
        uniform_nll: (classes as f64).ln(),
        verdict,
    }
}

/// The rule for "learned": the Wilson 95% lower bound of an accuracy, in
/// percent, lies more than [`MARGIN_POINTS`] above chance (percent).
pub fn clears_chance(lower_bound: f64, chance: f64) -> bool {
    lower_bound > chance + MARGIN_POINTS
}

/// Lower end of the Wilson score interval of `correct / n` (0 for n = 0).
pub fn wilson_lower(correct: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (n, p) = (n as f64, correct as f64 / n as f64);
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let spread = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

/// The labels of the models with `verdict`, in `learning`'s order.
pub fn labels_with(learning: &[Learning], verdict: Learned) -> Vec<&str> {
    learning
        .iter()
        .filter(|l| l.verdict == verdict)
        .map(|l| l.label.as_str())
        .collect()
}

/// The rows whose model did not fail the check (learned or unchecked).
pub fn learned_rows(selected: &[RunRow], learning: &[Learning]) -> Vec<RunRow> {
    let failed = labels_with(learning, Learned::No);
    selected
        .iter()
        .filter(|r| !failed.contains(&r.label.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_lower_bound_matches_the_closed_form() {
        // 81 of 100: p = 0.81, Wilson 95% interval [0.7222, 0.8752].
        assert!((wilson_lower(81, 100) - 0.7222).abs() < 1e-4);
        assert_eq!(wilson_lower(0, 0), 0.0);
        // All wrong: the bound is 0, never negative.
        assert_eq!(wilson_lower(0, 50), 0.0);
    }

    #[test]
    fn evidence_counts_argmax_hits_and_the_true_label_nll() {
        // Two rows of 3 classes: the first right with a clear margin, the
        // second uniform (argmax ties go to the first class; label 2 is missed).
        let split = SplitLogits {
            logits: vec![0.0, 5.0, 0.0, 1.0, 1.0, 1.0],
            labels: vec![1, 2],
        };
        let e = IdEvidence::of(&split, 3).unwrap();
        assert_eq!((e.examples, e.correct, e.classes), (2, 1, 3));
        let first = (1.0 + 2.0 * (-5f64).exp()).ln();
        assert!(
            (e.nll_sum - (first + 3f64.ln())).abs() < 1e-9,
            "{}",
            e.nll_sum
        );
    }
}
