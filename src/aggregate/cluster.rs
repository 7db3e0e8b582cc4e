//! Models, not runs, are the units of a claim's evidence.
//!
//! A study fine-tunes each model with several seeds. Seeds of one model share
//! its checkpoint, so they are not independent evidence about model size,
//! corpus size or recipe: treating 3 models × 2 seeds as 6 points makes an
//! interval look twice as sure as it is. Every claim therefore reduces a
//! model's selected runs to one point (their mean) and its bootstrap resamples
//! models, within the strata or groups the claim compares (a stratified
//! cluster bootstrap). One rule, [`support`], decides whether a claim has
//! enough models to be tested at all.

use std::collections::{BTreeMap, BTreeSet};

use super::rows::RunRow;
use crate::metrics::bootstrap::{percentile, resample_indices};
use crate::metrics::BootstrapOptions;

/// Fewest models a claim's statistic may rest on, in all.
pub const MIN_MODELS: usize = 4;
/// Fewest models in each group a claim compares (pre-trained and scratch,
/// each recipe, each algorithm's references).
pub const MIN_PER_GROUP: usize = 2;
/// Fewest distinct x values in a stratum for its rank correlation to count.
pub const MIN_DISTINCT_X: usize = 3;

/// One model's evidence: its label and the mean of x and y over its selected runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPoint<'a> {
    pub label: &'a str,
    pub x: f64,
    pub y: f64,
}

/// The models of `rows`, one point each (label order).
pub fn model_points<'a>(
    rows: &[&'a RunRow],
    x: impl Fn(&RunRow) -> f64,
    y: impl Fn(&RunRow) -> f64,
) -> Vec<ModelPoint<'a>> {
    let mut by_label: BTreeMap<&'a str, Vec<&'a RunRow>> = BTreeMap::new();
    for r in rows {
        by_label.entry(r.label.as_str()).or_default().push(r);
    }
    by_label
        .into_iter()
        .map(|(label, runs)| ModelPoint {
            label,
            x: mean(&runs.iter().map(|r| x(r)).collect::<Vec<_>>()),
            y: mean(&runs.iter().map(|r| y(r)).collect::<Vec<_>>()),
        })
        .collect()
}

/// How many distinct x values the points have.
pub fn distinct_x(points: &[ModelPoint]) -> usize {
    points
        .iter()
        .map(|p| p.x.to_bits())
        .collect::<BTreeSet<_>>()
        .len()
}

/// The one "too few points" rule, for every claim: at least [`MIN_MODELS`]
/// models in all, at least `min_groups` groups, and at least
/// [`MIN_PER_GROUP`] models in each. `per_group` counts each group's models
/// (a correlation's strata, the two sides of a comparison, the recipes);
/// `total` counts distinct models, which the groups may share (claim 1's
/// references appear under every algorithm). `Err` says what is missing.
pub fn support(total: usize, per_group: &[usize], min_groups: usize) -> Result<(), String> {
    let smallest = per_group.iter().copied().min().unwrap_or(0);
    if total >= MIN_MODELS && per_group.len() >= min_groups && smallest >= MIN_PER_GROUP {
        return Ok(());
    }
    let counts: Vec<String> = per_group.iter().map(usize::to_string).collect();
    Err(format!(
        "too few points: {total} model(s) in {} group(s) ({}); the rule for every claim is \
         {MIN_MODELS} models in all, {min_groups} group(s), {MIN_PER_GROUP} models in each",
        per_group.len(),
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(" + ")
        }
    ))
}

/// Percentile bootstrap resampling each group separately, group sizes kept.
/// Group `g` draws its indices from stream `b` of seed `seed + g`, the
/// generator [`crate::metrics::bootstrap`] uses, so intervals are
/// reproducible. Returns the estimate and the interval.
pub fn stratified<T: Copy>(
    groups: &[Vec<T>],
    options: &BootstrapOptions,
    statistic: impl Fn(&[Vec<T>]) -> f64,
) -> (f64, f64, f64) {
    let estimate = statistic(groups);
    let mut values: Vec<f64> = (0..options.resamples)
        .map(|b| {
            let resampled: Vec<Vec<T>> = groups
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

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_counts_models_groups_and_the_smallest_group() {
        assert!(support(4, &[2, 2], 2).is_ok());
        assert!(support(6, &[3, 3], 1).is_ok());
        let e = support(3, &[3], 1).unwrap_err();
        assert!(e.contains("3 model(s) in 1 group(s) (3)"), "{e}");
        assert!(support(5, &[4, 1], 2).is_err(), "a group of one model");
        assert!(
            support(6, &[6], 2).is_err(),
            "one group where two are compared"
        );
        assert!(support(0, &[], 1).unwrap_err().contains("(none)"));
    }

    #[test]
    fn the_stratified_bootstrap_keeps_each_group_and_repeats_bit_for_bit() {
        let options = BootstrapOptions {
            resamples: 2000,
            level: 0.95,
            seed: 7,
        };
        // Two groups of model means; the statistic is their difference.
        let diff = |g: &[Vec<f64>]| mean(&g[0]) - mean(&g[1]);
        let models = vec![vec![1.0, 3.0, 5.0], vec![0.0, 2.0, 4.0]];
        let (est, lo, hi) = stratified(&models, &options, diff);
        assert_eq!(est, 1.0);
        assert!(lo < 0.0 && hi > 2.0, "[{lo}, {hi}]");
        assert_eq!(stratified(&models, &options, diff), (est, lo, hi));
    }
}
