//! The paper's claims, tested on the study's selected runs.
//!
//! Each claim becomes a statistic with a seeded percentile-bootstrap 95%
//! interval, and the verdict is computed from the interval alone:
//! * holds: the interval excludes 0 on the claimed side;
//! * does not hold: it excludes 0 on the other side;
//! * inconclusive: it contains 0, or there are too few points to test.
//!
//! Points are the selected runs (one per model and seed), so seed noise is
//! part of every interval. Correlations resample runs with
//! [`crate::metrics::bootstrap`]; a resample whose x or y values are all equal
//! has no rank correlation and counts as 0 (no evidence either way), which can
//! only widen the interval towards 0. Comparisons between groups (pre-trained
//! vs scratch, recipes) resample within each group so that no group vanishes.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use super::rows::RunRow;
use super::stats::spearman;
use crate::metrics::bootstrap::{percentile, resample_indices};
use crate::metrics::{bootstrap, BootstrapOptions};

/// Fewest points (runs) and distinct x values for a correlation to be tested.
pub const MIN_POINTS: usize = 4;
pub const MIN_DISTINCT_X: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Holds,
    DoesNotHold,
    Inconclusive,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// From an interval and the sign the claim predicts (+1 or -1).
    pub fn from_interval(lower: f64, upper: f64, claimed_sign: f64) -> Verdict {
        let (lo, hi) = if claimed_sign >= 0.0 {
            (lower, upper)
        } else {
            (-upper, -lower)
        };
        if lo > 0.0 {
            Verdict::Holds
        } else if hi < 0.0 {
            Verdict::DoesNotHold
        } else {
            Verdict::Inconclusive
        }
    }
}

/// One claim's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimResult {
    /// The paper's claim number (`S1`: pre-trained against from scratch, the
    /// study's stand-in for claim 1 when it runs ERM alone).
    pub id: String,
    pub claim: String,
    /// What was measured, on which runs.
    pub test: String,
    pub statistic: String,
    /// +1: the claim predicts a positive statistic; -1: negative.
    pub claimed_sign: f64,
    pub points: usize,
    /// The models whose selected runs are the points, by label.
    pub models: Vec<String>,
    pub estimate: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub verdict: Verdict,
    /// Why a claim is inconclusive without an interval, or context for the numbers.
    pub note: String,
    /// Untested: too few points (the note says which).
    pub too_few_points: bool,
}

impl ClaimResult {
    /// No test yet: the fields a claim's test fills in, blank, inconclusive.
    pub(crate) fn blank() -> ClaimResult {
        ClaimResult {
            id: String::new(),
            claim: String::new(),
            test: String::new(),
            statistic: String::new(),
            claimed_sign: 1.0,
            points: 0,
            models: Vec::new(),
            estimate: None,
            lower: None,
            upper: None,
            verdict: Verdict::Inconclusive,
            note: String::new(),
            too_few_points: false,
        }
    }
}

/// Evaluates every claim the study can test: claim 1 on the runs of every
/// algorithm, the others on ERM's (the paper's claims 2-6 are ERM's).
pub fn evaluate_claims(all: &[RunRow], options: &BootstrapOptions) -> Vec<ClaimResult> {
    let erm: Vec<RunRow> = all
        .iter()
        .filter(|r| r.algorithm.is_erm())
        .cloned()
        .collect();
    let mut claims = vec![super::algorithms::model_vs_algorithm(all, options)];
    claims.extend(erm_claims(&erm, options));
    claims
}

fn erm_claims(selected: &[RunRow], options: &BootstrapOptions) -> Vec<ClaimResult> {
    let ood_acc = |r: &RunRow| r.ood_accuracy;
    let ood_ece = |r: &RunRow| r.ood_ece;
    let params = |r: &RunRow| r.params as f64;
    let images = |r: &RunRow| r.pretrain_images.map_or(f64::NAN, |n| n as f64);
    let (size_rows, size_subset) = size_axis(selected);
    let (data_rows, data_subset) = data_axis(selected);
    vec![
        pretrained_vs_scratch(selected, options),
        correlation(
            Corr {
                id: "2",
                claim: "Larger pre-trained models give higher OOD accuracy",
                x: "parameters",
                y: "OOD accuracy",
                subset: &size_subset,
                sign: 1.0,
            },
            &size_rows,
            params,
            ood_acc,
            options,
        ),
        correlation(
            Corr {
                id: "3",
                claim: "Larger pre-training datasets give higher OOD accuracy",
                x: "pre-training images",
                y: "OOD accuracy",
                subset: &data_subset,
                sign: 1.0,
            },
            &data_rows,
            images,
            ood_acc,
            options,
        ),
        correlation(
            Corr {
                id: "4a",
                claim: "Larger models calibrate better (lower OOD ECE)",
                x: "parameters",
                y: "OOD ECE (equal-width)",
                subset: &size_subset,
                sign: -1.0,
            },
            &size_rows,
            params,
            ood_ece,
            options,
        ),
        correlation(
            Corr {
                id: "4b",
                claim: "Larger pre-training datasets calibrate better (lower OOD ECE)",
                x: "pre-training images",
                y: "OOD ECE (equal-width)",
                subset: &data_subset,
                sign: -1.0,
            },
            &data_rows,
            images,
            ood_ece,
            options,
        ),
        correlation(
            Corr {
                id: "5",
                claim: "OOD ECE falls as OOD accuracy rises",
                x: "OOD accuracy",
                y: "OOD ECE (equal-width)",
                subset: "all selected runs",
                sign: -1.0,
            },
            &selected.iter().collect::<Vec<_>>(),
            ood_acc,
            ood_ece,
            options,
        ),
        recipe_claim(selected, options),
    ]
}

/// The most common pre-training (corpus and recipe) among pre-trained runs,
/// so that size is varied with data and recipe held fixed; all pre-trained
/// runs when that leaves fewer than [`MIN_DISTINCT_X`] sizes.
fn size_axis(selected: &[RunRow]) -> (Vec<&RunRow>, String) {
    let pretrained: Vec<&RunRow> = selected.iter().filter(|r| r.is_pretrained()).collect();
    let mut labels: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &pretrained {
        labels
            .entry(r.pretraining.as_deref().unwrap_or_default())
            .or_default()
            .insert(&r.label);
    }
    let modal = labels
        .iter()
        .max_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| *k);
    if let Some(p) = modal {
        let rows: Vec<&RunRow> = pretrained
            .iter()
            .copied()
            .filter(|r| r.pretraining.as_deref() == Some(p))
            .collect();
        if distinct(&rows, |r| r.params as f64) >= MIN_DISTINCT_X {
            return (
                rows,
                format!("pre-trained models sharing pre-training `{p}`"),
            );
        }
    }
    (pretrained, "all pre-trained models".to_string())
}

/// Models of one family, size and recipe pre-trained on corpora of different
/// sizes (the group with the most distinct sizes); all pre-trained runs with a
/// known corpus size when no such group has [`MIN_DISTINCT_X`] sizes.
fn data_axis(selected: &[RunRow]) -> (Vec<&RunRow>, String) {
    let known: Vec<&RunRow> = selected
        .iter()
        .filter(|r| r.pretrain_images.is_some())
        .collect();
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&RunRow>> = BTreeMap::new();
    for r in &known {
        let key = (
            r.family.as_str(),
            r.size.as_str(),
            r.recipe.as_deref().unwrap_or(""),
        );
        groups.entry(key).or_default().push(r);
    }
    let images = |r: &RunRow| r.pretrain_images.unwrap_or(0) as f64;
    let best = groups.iter().max_by(|a, b| {
        distinct(a.1, images)
            .cmp(&distinct(b.1, images))
            .then_with(|| b.0.cmp(a.0))
    });
    if let Some(((family, size, recipe), rows)) = best {
        if distinct(rows, images) >= MIN_DISTINCT_X {
            let subset =
                format!("{family} {size}, recipe `{recipe}`, different pre-training corpora");
            return (rows.clone(), subset);
        }
    }
    (
        known,
        "all pre-trained models with a known corpus size".to_string(),
    )
}

fn distinct(rows: &[&RunRow], x: impl Fn(&RunRow) -> f64) -> usize {
    rows.iter()
        .map(|r| x(r).to_bits())
        .collect::<BTreeSet<_>>()
        .len()
}

struct Corr<'a> {
    id: &'a str,
    claim: &'a str,
    x: &'a str,
    y: &'a str,
    subset: &'a str,
    sign: f64,
}

fn correlation(
    c: Corr,
    rows: &[&RunRow],
    x: impl Fn(&RunRow) -> f64,
    y: impl Fn(&RunRow) -> f64,
    options: &BootstrapOptions,
) -> ClaimResult {
    let xs: Vec<f64> = rows.iter().map(|r| x(r)).collect();
    let ys: Vec<f64> = rows.iter().map(|r| y(r)).collect();
    let mut result = ClaimResult {
        id: c.id.to_string(),
        claim: c.claim.to_string(),
        test: format!("{} vs {}; {}", c.x, c.y, c.subset),
        statistic: "Spearman rank correlation".to_string(),
        claimed_sign: c.sign,
        points: rows.len(),
        models: labels(rows),
        ..ClaimResult::blank()
    };
    let n_x = distinct(rows, &x);
    if rows.len() < MIN_POINTS || n_x < MIN_DISTINCT_X {
        result.too_few_points = true;
        result.note = format!(
            "too few points: {} runs, {n_x} distinct {} values (need {MIN_POINTS} and {MIN_DISTINCT_X})",
            rows.len(),
            c.x
        );
        return result;
    }
    let Some(estimate) = spearman(&xs, &ys) else {
        result.note = format!("{} is constant over these runs", c.y);
        return result;
    };
    let pick = |v: &[f64], idx: &[usize]| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let interval = bootstrap(rows.len(), options, |idx| {
        spearman(&pick(&xs, idx), &pick(&ys, idx)).unwrap_or(0.0)
    });
    match interval {
        Ok(i) => fill(&mut result, estimate, i.lower, i.upper),
        Err(e) => result.note = format!("bootstrap failed: {e}"),
    }
    result
}

/// The distinct model labels of `rows`, sorted.
fn labels(rows: &[&RunRow]) -> Vec<String> {
    let set: BTreeSet<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    set.into_iter().map(str::to_string).collect()
}

pub(super) fn fill(result: &mut ClaimResult, estimate: f64, lower: f64, upper: f64) {
    result.estimate = Some(estimate);
    result.lower = Some(lower);
    result.upper = Some(upper);
    result.verdict = Verdict::from_interval(lower, upper, result.claimed_sign);
}

/// Percentile bootstrap resampling each group separately (group sizes kept).
/// Group `g` draws its indices from stream `b` of seed `seed + g`, the same
/// generator [`crate::metrics::bootstrap`] uses, so intervals are reproducible.
fn stratified(
    groups: &[Vec<f64>],
    options: &BootstrapOptions,
    statistic: impl Fn(&[Vec<f64>]) -> f64,
) -> (f64, f64, f64) {
    let estimate = statistic(groups);
    let mut values: Vec<f64> = (0..options.resamples)
        .map(|b| {
            let resampled: Vec<Vec<f64>> = groups
                .iter()
                .enumerate()
                .map(|(g, v)| {
                    resample_indices(v.len(), options.seed.wrapping_add(g as u64), b)
                        .into_iter()
                        .map(|i| v[i])
                        .collect()
                })
                .collect();
            statistic(&resampled)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - options.level) / 2.0;
    (
        estimate,
        percentile(&values, tail),
        percentile(&values, 1.0 - tail),
    )
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Stand-in for claim 1: pre-trained vs from-scratch models of the same
/// family and size, difference of mean OOD accuracy (percentage points).
fn pretrained_vs_scratch(selected: &[RunRow], options: &BootstrapOptions) -> ClaimResult {
    let scratch: Vec<&RunRow> = selected.iter().filter(|r| !r.is_pretrained()).collect();
    let shapes: BTreeSet<(&str, &str)> = scratch
        .iter()
        .map(|r| (r.family.as_str(), r.size.as_str()))
        .collect();
    let pretrained: Vec<&RunRow> = selected
        .iter()
        .filter(|r| r.is_pretrained() && shapes.contains(&(r.family.as_str(), r.size.as_str())))
        .collect();
    let mut result = ClaimResult {
        id: "S1".to_string(),
        claim: "Pre-trained models beat the same architectures trained from scratch on OOD accuracy (the study's stand-in for claim 1 where it runs one algorithm)".to_string(),
        test: "OOD accuracy, pre-trained minus from scratch, same family and size".to_string(),
        statistic: "difference of means (pp)".to_string(),
        claimed_sign: 1.0,
        points: scratch.len() + pretrained.len(),
        models: labels(&[pretrained.as_slice(), scratch.as_slice()].concat()),
        ..ClaimResult::blank()
    };
    if scratch.len() < 2 || pretrained.len() < 2 {
        result.too_few_points = true;
        result.note = format!(
            "too few points: {} pre-trained and {} from-scratch runs of matching architectures (need 2 each)",
            pretrained.len(),
            scratch.len()
        );
        return result;
    }
    let groups = vec![
        pretrained
            .iter()
            .map(|r| r.ood_accuracy)
            .collect::<Vec<_>>(),
        scratch.iter().map(|r| r.ood_accuracy).collect::<Vec<_>>(),
    ];
    let (est, lo, hi) = stratified(&groups, options, |g| mean(&g[0]) - mean(&g[1]));
    fill(&mut result, est, lo, hi);
    result.note = format!(
        "pre-trained {:.2}% over {} runs, from scratch {:.2}% over {} runs",
        mean(&groups[0]),
        groups[0].len(),
        mean(&groups[1]),
        groups[1].len()
    );
    result
}

/// Claim 6: do recipes differ by more than seed noise? Among models of one
/// family, size and corpus that differ only in recipe, the between-recipe
/// variance of mean OOD accuracy minus what seed noise alone would give
/// (mean of s²/n), reported as a signed square root in percentage points.
fn recipe_claim(selected: &[RunRow], options: &BootstrapOptions) -> ClaimResult {
    let mut result = ClaimResult {
        id: "6".to_string(),
        claim: "The pre-training recipe (data augmentation) matters".to_string(),
        test: String::new(),
        statistic: "excess between-recipe SD of OOD accuracy over seed noise (pp)".to_string(),
        ..ClaimResult::blank()
    };
    let mut groups: BTreeMap<(&str, &str, u64), BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    for r in selected.iter().filter(|r| r.is_pretrained()) {
        let (Some(recipe), Some(images)) = (&r.recipe, r.pretrain_images) else {
            continue;
        };
        groups
            .entry((&r.family, &r.size, images))
            .or_default()
            .entry(recipe)
            .or_default()
            .push(r.ood_accuracy);
    }
    let usable = |g: &BTreeMap<&str, Vec<f64>>| g.values().filter(|v| v.len() >= 2).count();
    let best = groups
        .iter()
        .max_by(|a, b| usable(a.1).cmp(&usable(b.1)).then_with(|| b.0.cmp(a.0)));
    let Some(((family, size, images), recipes)) = best.filter(|g| usable(g.1) >= 2) else {
        result.test = "OOD accuracy across recipes".to_string();
        result.too_few_points = true;
        result.note = "too few points: no two recipes with at least 2 seeds each on the same architecture and corpus".to_string();
        return result;
    };
    let kept: Vec<(&str, Vec<f64>)> = recipes
        .iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    result.test = format!(
        "OOD accuracy of {family} {size} pre-trained on {images} images with recipes {}",
        kept.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
    );
    let values: Vec<Vec<f64>> = kept.iter().map(|(_, v)| v.clone()).collect();
    result.points = values.iter().map(Vec::len).sum();
    let entered: Vec<&RunRow> = selected
        .iter()
        .filter(|r| {
            (r.family.as_str(), r.size.as_str(), r.pretrain_images)
                == (*family, *size, Some(*images))
        })
        .filter(|r| {
            r.recipe
                .as_deref()
                .is_some_and(|k| kept.iter().any(|(kk, _)| *kk == k))
        })
        .collect();
    result.models = labels(&entered);
    let (est, lo, hi) = stratified(&values, options, excess_sd);
    fill(&mut result, est, lo, hi);
    let means: Vec<f64> = values.iter().map(|v| mean(v)).collect();
    let spread = means.iter().cloned().fold(f64::MIN, f64::max)
        - means.iter().cloned().fold(f64::MAX, f64::min);
    let noise = mean(
        &values
            .iter()
            .map(|v| sample_var(v) / v.len() as f64)
            .collect::<Vec<_>>(),
    )
    .sqrt();
    result.note =
        format!("recipe means span {spread:.2} pp; seed noise (RMS standard error) {noise:.2} pp");
    result
}

fn sample_var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// Signed square root of (variance of group means - mean of s²/n).
fn excess_sd(groups: &[Vec<f64>]) -> f64 {
    let means: Vec<f64> = groups.iter().map(|v| mean(v)).collect();
    let between = sample_var(&means);
    let noise = mean(
        &groups
            .iter()
            .map(|v| sample_var(v) / v.len() as f64)
            .collect::<Vec<_>>(),
    );
    let excess = between - noise;
    excess.signum() * excess.abs().sqrt()
}
