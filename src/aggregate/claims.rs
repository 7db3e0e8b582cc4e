//! The paper's claims, tested on the study's selected runs.
//!
//! Each claim becomes a statistic with a seeded percentile-bootstrap 95%
//! interval, and the verdict is computed from the interval alone:
//! * holds: the interval excludes 0 on the claimed side;
//! * does not hold: it excludes 0 on the other side;
//! * inconclusive: it contains 0, or there are too few points to test.
//!
//! Points are models, each the mean of its selected runs (one per seed), and
//! the bootstrap resamples models within the strata or groups a claim
//! compares ([`super::cluster`]); one rule, [`super::cluster::support`],
//! decides whether a claim has enough models to be tested.
//!
//! Comparisons are controlled: model size (claims 2, 4a) is varied within one
//! family, corpus size and recipe, corpus size (3, 4b) within one architecture
//! and recipe, recipe (6) within one architecture and corpus. Strata are
//! pooled only through a within-stratum statistic (the model-weighted mean of
//! each stratum's rank correlation), so a difference between families never
//! passes for an effect of size. A resample in which a stratum's x or y values
//! are all equal has no rank correlation there and counts as 0 (no evidence
//! either way), which can only widen the interval towards 0.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use super::cluster::{distinct_x, mean, model_points, stratified, support, ModelPoint};
use super::cluster::{MIN_DISTINCT_X, MIN_PER_GROUP};
use super::rows::RunRow;
use super::stats::spearman;
use crate::metrics::BootstrapOptions;

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
    /// Selected runs behind the statistic (seeds of the models below).
    pub runs: usize,
    /// The models the statistic rests on, by label: its points, and the
    /// units the bootstrap resamples.
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
            runs: 0,
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
    let size = size_strata(selected);
    let data = data_strata(selected);
    let all = Strata {
        within: None,
        groups: vec![("all models".to_string(), selected.iter().collect())],
    };
    vec![
        pretrained_vs_scratch(selected, options),
        correlation(
            Corr {
                id: "2",
                claim: "Larger pre-trained models give higher OOD accuracy",
                x: "parameters",
                y: "OOD accuracy",
                sign: 1.0,
            },
            &size,
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
                sign: 1.0,
            },
            &data,
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
                sign: -1.0,
            },
            &size,
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
                sign: -1.0,
            },
            &data,
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
                sign: -1.0,
            },
            &all,
            ood_acc,
            ood_ece,
            options,
        ),
        recipe_claim(selected, options),
    ]
}

/// Runs split into the strata a claim is tested within, by stratum name.
struct Strata<'a> {
    /// What a stratum holds fixed, for the test's description; `None`: one
    /// stratum of every model.
    within: Option<&'static str>,
    groups: Vec<(String, Vec<&'a RunRow>)>,
}

/// Model size: pre-trained runs by family, corpus size and recipe, so that
/// only the size varies inside a stratum (and checkpoints pre-trained with
/// other seeds on the same data and recipe join their stratum); the
/// pre-training's name where the corpus size is not known.
fn size_strata(selected: &[RunRow]) -> Strata<'_> {
    let mut groups: BTreeMap<String, Vec<&RunRow>> = BTreeMap::new();
    for r in selected.iter().filter(|r| r.is_pretrained()) {
        let data = match r.pretrain_images {
            Some(n) => format!("{n} pre-training images"),
            None => format!(
                "pre-training `{}`",
                r.pretraining.as_deref().unwrap_or_default()
            ),
        };
        groups
            .entry(format!("{}, {data}, {}", r.family, recipe_text(r)))
            .or_default()
            .push(r);
    }
    Strata {
        within: Some("one family, corpus size and recipe"),
        groups: groups.into_iter().collect(),
    }
}

fn recipe_text(r: &RunRow) -> String {
    r.recipe
        .as_deref()
        .map_or("recipe not stated".to_string(), |k| format!("recipe `{k}`"))
}

/// Corpus size: pre-trained runs with a known corpus size by family, size
/// and recipe, so that only the corpus varies inside a stratum.
fn data_strata(selected: &[RunRow]) -> Strata<'_> {
    let mut groups: BTreeMap<String, Vec<&RunRow>> = BTreeMap::new();
    for r in selected.iter().filter(|r| r.pretrain_images.is_some()) {
        groups
            .entry(format!("{} {}, {}", r.family, r.size, recipe_text(r)))
            .or_default()
            .push(r);
    }
    Strata {
        within: Some("one architecture and one recipe"),
        groups: groups.into_iter().collect(),
    }
}

struct Corr<'a> {
    id: &'a str,
    claim: &'a str,
    x: &'a str,
    y: &'a str,
    sign: f64,
}

/// A rank correlation within each stratum that varies x over at least
/// [`MIN_DISTINCT_X`] values, pooled as the model-weighted mean.
fn correlation(
    c: Corr,
    strata: &Strata,
    x: impl Fn(&RunRow) -> f64,
    y: impl Fn(&RunRow) -> f64,
    options: &BootstrapOptions,
) -> ClaimResult {
    let mut kept: Vec<(&str, Vec<ModelPoint>, usize)> = Vec::new();
    let mut left_out: Vec<&str> = Vec::new();
    for (name, rows) in &strata.groups {
        let points = model_points(rows, &x, &y);
        if distinct_x(&points) >= MIN_DISTINCT_X {
            kept.push((name, points, rows.len()));
        } else {
            left_out.push(name.as_str());
        }
    }
    let names: Vec<&str> = kept.iter().map(|(n, _, _)| *n).collect();
    let mut result = ClaimResult {
        id: c.id.to_string(),
        claim: c.claim.to_string(),
        test: format!(
            "{} vs {}, one point per model, {}",
            c.x,
            c.y,
            match strata.within {
                None => "over all models".to_string(),
                Some(w) if names.is_empty() => format!("within {w}: no such group varies it"),
                Some(w) => format!("within {w}: {}", names.join("; ")),
            }
        ),
        statistic: if kept.len() > 1 {
            "Spearman rank correlation within each stratum, mean weighted by models".to_string()
        } else {
            "Spearman rank correlation".to_string()
        },
        claimed_sign: c.sign,
        runs: kept.iter().map(|(_, _, runs)| runs).sum(),
        models: kept
            .iter()
            .flat_map(|(_, p, _)| p.iter().map(|m| m.label.to_string()))
            .collect(),
        ..ClaimResult::blank()
    };
    let left_out = left_out_note(&left_out, c.x);
    let groups: Vec<Vec<ModelPoint>> = kept.into_iter().map(|(_, p, _)| p).collect();
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    if let Err(why) = support(sizes.iter().sum(), &sizes, 1) {
        result.too_few_points = true;
        result.note = format!("{why}{left_out}");
        return result;
    }
    let (estimate, lower, upper) = stratified(&groups, options, pooled_spearman);
    fill(&mut result, estimate, lower, upper);
    let per_stratum: Vec<String> = names
        .iter()
        .zip(&groups)
        .map(|(name, p)| format!("{name}: {:+.2} over {} models", stratum_rho(p), p.len()))
        .collect();
    result.note = format!("ρ {}{left_out}", per_stratum.join("; "));
    result
}

/// Which strata did not vary x enough: named when few, counted otherwise.
fn left_out_note(names: &[&str], x: &str) -> String {
    match names.len() {
        0 => String::new(),
        1..=3 => format!(
            "; left out, fewer than {MIN_DISTINCT_X} values of {x}: {}",
            names.join("; ")
        ),
        n => format!("; left out: {n} other groups with fewer than {MIN_DISTINCT_X} values of {x}"),
    }
}

/// A stratum's rank correlation over its models; 0 where x or y is constant.
fn stratum_rho(points: &[ModelPoint]) -> f64 {
    let xs: Vec<f64> = points.iter().map(|p| p.x).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.y).collect();
    spearman(&xs, &ys).unwrap_or(0.0)
}

/// The within-stratum correlations' mean, each weighted by its models.
fn pooled_spearman(strata: &[Vec<ModelPoint>]) -> f64 {
    let models: usize = strata.iter().map(Vec::len).sum();
    strata
        .iter()
        .map(|p| stratum_rho(p) * p.len() as f64)
        .sum::<f64>()
        / models as f64
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

/// Each model's mean OOD accuracy over its runs.
fn model_accuracies(rows: &[&RunRow]) -> Vec<f64> {
    model_points(rows, |_| 0.0, |r| r.ood_accuracy)
        .iter()
        .map(|p| p.y)
        .collect()
}

/// Stand-in for claim 1: pre-trained vs from-scratch models of the same
/// family and size, difference of the mean model's OOD accuracy (pp).
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
        test: "OOD accuracy, pre-trained minus from scratch, same family and size, one point per model".to_string(),
        statistic: "difference of means (pp)".to_string(),
        claimed_sign: 1.0,
        runs: scratch.len() + pretrained.len(),
        models: labels(&[pretrained.as_slice(), scratch.as_slice()].concat()),
        ..ClaimResult::blank()
    };
    let groups = vec![model_accuracies(&pretrained), model_accuracies(&scratch)];
    let sizes = [groups[0].len(), groups[1].len()];
    if let Err(why) = support(sizes.iter().sum(), &sizes, 2) {
        result.too_few_points = true;
        result.note = format!("{why} (pre-trained + from scratch, matching architectures)");
        return result;
    }
    let (est, lo, hi) = stratified(&groups, options, |g| mean(&g[0]) - mean(&g[1]));
    fill(&mut result, est, lo, hi);
    result.note = format!(
        "pre-trained {:.2}% over {} models, from scratch {:.2}% over {} models",
        mean(&groups[0]),
        groups[0].len(),
        mean(&groups[1]),
        groups[1].len()
    );
    result
}

/// One architecture and corpus size's models, by recipe.
type RecipeGroups<'a> = BTreeMap<&'a str, Vec<&'a RunRow>>;

/// Claim 6: do recipes differ by more than the spread between models of one
/// recipe (pre-training seeds)? Among models of one family, size and corpus
/// that differ only in recipe, the between-recipe variance of mean OOD
/// accuracy minus what the within-recipe spread alone would give (mean of
/// s²/n over recipes, models as the units), as a signed square root in pp.
fn recipe_claim(selected: &[RunRow], options: &BootstrapOptions) -> ClaimResult {
    let mut result = ClaimResult {
        id: "6".to_string(),
        claim: "The pre-training recipe (data augmentation) matters".to_string(),
        test: "OOD accuracy across recipes".to_string(),
        statistic: "excess between-recipe SD of OOD accuracy over the spread between models of one recipe (pp)".to_string(),
        ..ClaimResult::blank()
    };
    let mut strata: BTreeMap<(&str, &str, u64), RecipeGroups> = BTreeMap::new();
    for r in selected.iter().filter(|r| r.is_pretrained()) {
        let (Some(recipe), Some(images)) = (&r.recipe, r.pretrain_images) else {
            continue;
        };
        strata
            .entry((&r.family, &r.size, images))
            .or_default()
            .entry(recipe)
            .or_default()
            .push(r);
    }
    let models = |rows: &[&RunRow]| labels(rows).len();
    let usable = |g: &RecipeGroups| g.values().filter(|v| models(v) >= MIN_PER_GROUP).count();
    let Some(((family, size, images), recipes)) = strata.iter().max_by(|a, b| {
        (usable(a.1), a.1.len())
            .cmp(&(usable(b.1), b.1.len()))
            .then_with(|| b.0.cmp(a.0))
    }) else {
        result.too_few_points = true;
        result.note = support(0, &[], 2).unwrap_err();
        return result;
    };
    // Recipes with one model cannot show the spread between models; they are
    // kept only when fewer than two recipes have more, so the note says why.
    let kept: Vec<(&str, &Vec<&RunRow>)> = if usable(recipes) >= 2 {
        recipes
            .iter()
            .filter(|(_, v)| models(v) >= MIN_PER_GROUP)
            .map(|(k, v)| (*k, v))
            .collect()
    } else {
        recipes.iter().map(|(k, v)| (*k, v)).collect()
    };
    result.test = format!(
        "OOD accuracy of {family} {size} pre-trained on {images} images with recipes {}, one point per model",
        kept.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
    );
    let entered: Vec<&RunRow> = kept.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    result.runs = entered.len();
    result.models = labels(&entered);
    let values: Vec<Vec<f64>> = kept.iter().map(|(_, v)| model_accuracies(v)).collect();
    let sizes: Vec<usize> = values.iter().map(Vec::len).collect();
    if let Err(why) = support(sizes.iter().sum(), &sizes, 2) {
        result.too_few_points = true;
        result.note = format!("{why} (models per recipe: one pre-training seed each cannot separate a recipe from its seed)");
        return result;
    }
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
    result.note = format!(
        "recipe means span {spread:.2} pp; spread between models of one recipe (RMS standard error) {noise:.2} pp"
    );
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
