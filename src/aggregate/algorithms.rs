//! Claim 1 as the paper states it: choosing the pre-trained model improves
//! OOD accuracy more than choosing the fine-tuning algorithm.
//!
//! The paper's intro table puts, per dataset, ERM on a reference model (88.1
//! on PACS), the best DomainBed algorithm on that model (89.1) and the best
//! pre-trained model under ERM (96.7). Here every model of the study is a
//! reference in turn: for reference `r`, choosing the model gains
//! `best_m acc(m, ERM) − acc(r, ERM)` and choosing the algorithm gains
//! `best_a acc(r, a) − acc(r, ERM)` (ERM among the `a`, so never below 0).
//! Their difference, `best_m acc(m, ERM) − best_a acc(r, a)`, averaged over
//! the references, is the statistic; accuracies are means over seeds.
//!
//! The bootstrap resamples the reference models and, within each
//! (model, algorithm) cell, its seeds, so both which models were tried and
//! seed noise enter the interval.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use super::claims::{fill, ClaimResult};
use super::cluster::{mean, support};
use super::learned::{check_runs, Learned};
use super::rows::RunRow;
use super::summary::MeanSe;
use crate::metrics::bootstrap::{percentile, resample_indices};
use crate::metrics::BootstrapOptions;
use crate::train::Algorithm;

/// One model under one algorithm, over seeds (selected runs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlgorithmCell {
    pub label: String,
    pub algorithm: Algorithm,
    pub ood_accuracy: MeanSe,
    pub id_accuracy: MeanSe,
    /// Whether the model learned under this algorithm ([`super::learned`]'s
    /// rule on these runs): a penalty can keep a model at chance that ERM trains.
    pub learned: Learned,
}

/// Cells of every model that ran more than one algorithm, by label then algorithm.
pub fn algorithm_cells(selected: &[RunRow]) -> Vec<AlgorithmCell> {
    let by_cell = cells(selected);
    let several: BTreeSet<&str> = by_cell
        .keys()
        .filter(|(_, a)| !a.is_erm())
        .map(|(label, _)| *label)
        .collect();
    by_cell
        .into_iter()
        .filter(|((label, _), _)| several.contains(label))
        .map(|((label, algorithm), rows)| AlgorithmCell {
            label: label.to_string(),
            algorithm,
            ood_accuracy: MeanSe::of(&rows.iter().map(|r| r.ood_accuracy).collect::<Vec<_>>()),
            id_accuracy: MeanSe::of(&rows.iter().map(|r| r.id_accuracy).collect::<Vec<_>>()),
            learned: check_runs(label, &rows).verdict,
        })
        .collect()
}

fn cells(selected: &[RunRow]) -> BTreeMap<(&str, Algorithm), Vec<&RunRow>> {
    let mut by_cell: BTreeMap<(&str, Algorithm), Vec<&RunRow>> = BTreeMap::new();
    for row in selected {
        by_cell
            .entry((row.label.as_str(), row.algorithm))
            .or_default()
            .push(row);
    }
    by_cell
}

/// Seeds' OOD accuracies per (model label, algorithm).
type Cells<'a> = BTreeMap<(&'a str, Algorithm), Vec<f64>>;

/// Claim 1 on the selected runs of models that learned (every algorithm).
pub fn model_vs_algorithm(selected: &[RunRow], options: &BootstrapOptions) -> ClaimResult {
    let cells: Cells = cells(selected)
        .into_iter()
        .map(|(key, rows)| (key, rows.iter().map(|r| r.ood_accuracy).collect()))
        .collect();
    let algorithms: BTreeSet<Algorithm> = cells.keys().map(|(_, a)| *a).collect();
    let references: Vec<&str> = cells
        .keys()
        .filter(|(label, a)| {
            a.is_erm() && algorithms.iter().all(|b| cells.contains_key(&(*label, *b)))
        })
        .map(|(label, _)| *label)
        .collect();
    let mut result = ClaimResult {
        id: "1".to_string(),
        claim: "Choosing the pre-trained model improves OOD accuracy more than choosing the fine-tuning algorithm".to_string(),
        test: format!(
            "best model under ERM minus the best of {} on each reference model, mean over references",
            algorithms.iter().map(|a| a.display()).collect::<Vec<_>>().join(", ")
        ),
        statistic: "gain of choosing the model over choosing the algorithm (pp)".to_string(),
        claimed_sign: 1.0,
        runs: cells.values().map(Vec::len).sum(),
        models: references.iter().map(|l| l.to_string()).collect(),
        ..ClaimResult::blank()
    };
    // The references are the models resampled; each algorithm is a group of them.
    let groups = vec![references.len(); algorithms.len()];
    if let Err(why) = support(references.len(), &groups, 2) {
        result.too_few_points = true;
        result.note = format!(
            "{why} (reference models with every algorithm, under each of {} algorithm(s))",
            algorithms.len()
        );
        return result;
    }
    let (lower, upper) = interval(&cells, &references, options);
    fill(&mut result, gain(&cells, &references), lower, upper);
    let best_model = best_model(&cells);
    let erm_of = |r: &str| mean(&cells[&(r, Algorithm::Erm)]);
    let (gain, reference, algorithm) = largest_gain(&cells, &references);
    result.note = format!(
        "best model under ERM {best_model:.2}%; over the references, choosing the algorithm \
         gains {:.2} pp on ERM, choosing the model {:.2} pp; the largest gain of an \
         algorithm over ERM is {gain:+.2} pp ({} on {reference})",
        mean_over(&references, |r| best_algorithm(&cells, r) - erm_of(r)),
        mean_over(&references, |r| best_model - erm_of(r)),
        algorithm.display(),
    );
    result
}

/// The (reference, algorithm other than ERM) whose mean beats the
/// reference's ERM by the most, and by how much.
fn largest_gain<'a>(cells: &Cells, references: &[&'a str]) -> (f64, &'a str, Algorithm) {
    let mut best = (f64::MIN, references[0], Algorithm::Erm);
    for &r in references {
        let erm = mean(&cells[&(r, Algorithm::Erm)]);
        for ((label, a), v) in cells {
            if *label == r && !a.is_erm() && mean(v) - erm > best.0 {
                best = (mean(v) - erm, r, *a);
            }
        }
    }
    best
}

/// The statistic: best ERM model minus each reference's best algorithm, averaged.
fn gain(cells: &Cells, references: &[&str]) -> f64 {
    let best = best_model(cells);
    mean_over(references, |r| best - best_algorithm(cells, r))
}

fn best_model(cells: &Cells) -> f64 {
    cells
        .iter()
        .filter(|((_, a), _)| a.is_erm())
        .map(|(_, v)| mean(v))
        .fold(f64::MIN, f64::max)
}

/// The reference's best mean OOD accuracy over algorithms (ERM included).
fn best_algorithm(cells: &Cells, reference: &str) -> f64 {
    cells
        .iter()
        .filter(|((label, _), _)| *label == reference)
        .map(|(_, v)| mean(v))
        .fold(f64::MIN, f64::max)
}

/// Percentile interval: each cell's seeds resampled (cell `k` in key order
/// draws from stream `b` of seed `options.seed + k`), then the references
/// (seed `options.seed + cells`).
fn interval(cells: &Cells, references: &[&str], options: &BootstrapOptions) -> (f64, f64) {
    let seed = |k: usize| options.seed.wrapping_add(k as u64);
    let mut values: Vec<f64> = (0..options.resamples)
        .map(|b| {
            let resampled: Cells = cells
                .iter()
                .enumerate()
                .map(|(k, (key, v))| {
                    let draw = resample_indices(v.len(), seed(k), b);
                    (*key, draw.into_iter().map(|i| v[i]).collect())
                })
                .collect();
            let picked: Vec<&str> = resample_indices(references.len(), seed(cells.len()), b)
                .into_iter()
                .map(|i| references[i])
                .collect();
            gain(&resampled, &picked)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - options.level) / 2.0;
    (percentile(&values, tail), percentile(&values, 1.0 - tail))
}

fn mean_over(references: &[&str], f: impl Fn(&str) -> f64) -> f64 {
    references.iter().map(|r| f(r)).sum::<f64>() / references.len() as f64
}
