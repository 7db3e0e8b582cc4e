//! Per-model mean ± standard error over seeds of the selected runs.

use serde::Serialize;
use std::collections::BTreeMap;

use super::rows::RunRow;

/// Mean and standard error of the mean (sample SD / √n); `se` is `None` for one value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanSe {
    pub mean: f64,
    pub se: Option<f64>,
    pub n: usize,
}

impl MeanSe {
    pub fn of(values: &[f64]) -> MeanSe {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let se = (n > 1).then(|| {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            (var / n as f64).sqrt()
        });
        MeanSe { mean, se, n }
    }

    /// Half-width for error bars (0 when there is a single seed).
    pub fn se_or_zero(&self) -> f64 {
        self.se.unwrap_or(0.0)
    }
}

/// One model's results over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub label: String,
    pub family: String,
    pub size: String,
    pub params: u64,
    pub pretraining: Option<String>,
    pub pretrain_images: Option<u64>,
    pub recipe: Option<String>,
    pub seeds: Vec<u64>,
    pub ood_accuracy: MeanSe,
    pub ood_ece: MeanSe,
    pub ood_ece_mass: MeanSe,
    pub id_accuracy: MeanSe,
    pub id_ece: MeanSe,
    pub id_ece_mass: MeanSe,
    pub ood_ece_ts: MeanSe,
    pub id_ece_ts: MeanSe,
    pub ood_nll: MeanSe,
    pub ood_brier: MeanSe,
}

impl ModelSummary {
    pub fn is_pretrained(&self) -> bool {
        self.pretraining.is_some()
    }
}

/// Summaries of the selected runs (one per model and seed), sorted by label.
pub fn summarise(selected: &[RunRow]) -> Vec<ModelSummary> {
    let mut by_model: BTreeMap<&str, Vec<&RunRow>> = BTreeMap::new();
    for row in selected {
        by_model.entry(row.label.as_str()).or_default().push(row);
    }
    by_model.into_values().map(|rows| summary(&rows)).collect()
}

fn summary(rows: &[&RunRow]) -> ModelSummary {
    let first = rows[0];
    let stat = |f: fn(&RunRow) -> f64| MeanSe::of(&rows.iter().map(|r| f(r)).collect::<Vec<_>>());
    let mut seeds: Vec<u64> = rows.iter().map(|r| r.seed).collect();
    seeds.sort_unstable();
    ModelSummary {
        label: first.label.clone(),
        family: first.family.clone(),
        size: first.size.clone(),
        params: first.params,
        pretraining: first.pretraining.clone(),
        pretrain_images: first.pretrain_images,
        recipe: first.recipe.clone(),
        seeds,
        ood_accuracy: stat(|r| r.ood_accuracy),
        ood_ece: stat(|r| r.ood_ece),
        ood_ece_mass: stat(|r| r.ood_ece_mass),
        id_accuracy: stat(|r| r.id_accuracy),
        id_ece: stat(|r| r.id_ece),
        id_ece_mass: stat(|r| r.id_ece_mass),
        ood_ece_ts: stat(|r| r.ood_ece_ts),
        id_ece_ts: stat(|r| r.id_ece_ts),
        ood_nll: stat(|r| r.ood_nll),
        ood_brier: stat(|r| r.ood_brier),
    }
}
