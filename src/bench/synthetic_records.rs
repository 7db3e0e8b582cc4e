//! Synthetic run records with known metrics, for `oodcal bench report`.
//!
//! A study of `models × seeds × learning rates × weight decays` runs, each a
//! real record folder written with [`write_record`] (so it verifies exactly as
//! a trained run's does). Metrics are simple functions of the settings plus a
//! deterministic hash-based jitter, so aggregation has real work to do.

use anyhow::Result;
use rayon::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

use crate::checksum::sha256_bytes;
use crate::record::predictions::{self, EvalLogits, SplitLogits};
use crate::record::store::write_record;
use crate::record::{
    CodeVersion, Evaluation, FinalMetrics, ModelInfo, RunRecord, RunStatus, ENGINE_VERSION,
    RECORD_SCHEMA,
};
use crate::train::{Algorithm, BackendKind, DeviceInfo};

pub const LEARNING_RATES: [f64; 4] = [0.03, 0.01, 0.003, 0.001];
pub const WEIGHT_DECAYS: [f64; 5] = [0.0, 1e-4, 1e-3, 1e-2, 3e-2];
const RECIPES: [&str; 5] = ["baseline", "randaugment", "augmix", "mixup", "cutmix"];
const CORPORA: [usize; 3] = [2_000, 8_000, 32_000];

/// Deterministic jitter in [-1, 1) from a string.
fn jitter(key: &str) -> f64 {
    let d = sha256_bytes(key.as_bytes());
    let v = u32::from_str_radix(&d[..8], 16).unwrap_or(0) as f64 / u32::MAX as f64;
    2.0 * v - 1.0
}

/// The record of model `m` (of `models`), seed, learning rate `lr`, weight decay `wd`.
pub fn synthetic_record(
    study: &str,
    m: usize,
    models: usize,
    seed: u64,
    lr: f64,
    wd: f64,
) -> RunRecord {
    let family = if m.is_multiple_of(2) { "resnet" } else { "vit" };
    let scratch = m % 10 == 9;
    let params = 10f64.powf(4.0 + 3.0 * m as f64 / models.max(1) as f64) as usize;
    let images = CORPORA[m % CORPORA.len()];
    let recipe = RECIPES[(m / 3) % RECIPES.len()];
    let label = format!("model-{m:04}");
    let key = format!("{label}/{seed}/{lr}/{wd}");
    let lr_fit = -((lr.log10() + 2.0).powi(2));
    let size_gain = 4.0 * (params as f64).log10();
    let pre = if scratch {
        -15.0
    } else {
        2.0 * (images as f64).log10()
    };
    let ood_accuracy =
        (20.0 + size_gain + pre + 3.0 * lr_fit + 2.0 * jitter(&key)).clamp(1.0, 99.0);
    let id_accuracy = (ood_accuracy + 15.0 + 1.5 * jitter(&format!("{key}/id"))).clamp(1.0, 99.5);
    let ood_ece = (40.0 - 0.35 * ood_accuracy + jitter(&format!("{key}/ece"))).max(0.5);
    let eval = Evaluation {
        step: 120,
        train_loss: 0.5,
        id_accuracy,
        id_ece: ood_ece / 2.0,
        id_ece_mass: ood_ece / 2.0 + 0.3,
        ood_accuracy,
        ood_ece,
        ood_ece_mass: ood_ece + 0.4,
    };
    let spec = json!({
        "schema": "oodcal-run-spec-v2", "engine": ENGINE_VERSION,
        "benchmark": {"dataset": "glyph-dg", "test_domain": "art", "resolution": 32, "holdout_fraction": 0.2},
        "model": {"name": label, "family": family, "size": format!("p{params}"), "pretrain": if scratch { None } else { Some(format!("corpus-{images}-{recipe}")) }, "weights": null},
        "head": "add-linear", "optimizer": "sgd", "learning_rate": lr, "weight_decay": wd, "momentum": 0.9,
        "batch_per_domain": 32, "steps": 120, "eval_every": 40, "augment_id_validation": true, "seed": seed,
        "inputs": {"glyph-dg": sha256_bytes(b"synthetic benchmark")},
        "study": study,
    });
    RunRecord {
        schema: RECORD_SCHEMA.to_string(),
        run_id: sha256_bytes(&serde_json::to_vec(&spec).expect("JSON value")),
        study: study.to_string(),
        status: RunStatus::Completed,
        inputs: BTreeMap::from([("glyph-dg".to_string(), sha256_bytes(b"synthetic benchmark"))]),
        spec,
        model: ModelInfo {
            label,
            family: family.to_string(),
            size: format!("p{params}"),
            params,
            pretraining: (!scratch).then(|| format!("corpus-{images}-{recipe}")),
            pretrain_images: (!scratch).then_some(images),
            recipe: (!scratch).then(|| recipe.to_string()),
            algorithm: Algorithm::Erm,
            optimizer: "sgd".to_string(),
            learning_rate: lr,
            weight_decay: wd,
            seed,
        },
        code: CodeVersion {
            version: env!("CARGO_PKG_VERSION").to_string(),
            engine: ENGINE_VERSION.to_string(),
            git: "synthetic".to_string(),
            cargo_lock_sha256: sha256_bytes(b"synthetic lock"),
        },
        device: DeviceInfo {
            backend: BackendKind::Cpu,
            device_name: "synthetic".to_string(),
            driver: "none".to_string(),
        },
        wall_seconds: 1.0,
        resumed_from: 0,
        evaluations: vec![eval.clone()],
        final_metrics: Some(FinalMetrics {
            at: eval,
            ood_in_accuracy: ood_accuracy,
            ood_out_accuracy: ood_accuracy,
            ood_nll: 1.0,
            ood_brier: 0.5,
            temperature: 1.2,
            id_ece_ts: ood_ece / 4.0,
            ood_ece_ts: ood_ece / 1.5,
        }),
        predictions: None,
    }
}

/// Small logits consistent with an accuracy: class `label` gets a margin on
/// the first `round(acc × rows)` rows of each split.
fn predictions_csv(id_acc: f64, ood_acc: f64, rows: usize, classes: usize) -> Vec<u8> {
    let split = |acc: f64| {
        let right = (acc / 100.0 * rows as f64).round() as usize;
        let mut logits = Vec::with_capacity(rows * classes);
        for i in 0..rows {
            let top = if i < right {
                i % classes
            } else {
                (i + 1) % classes
            };
            let margin = 0.5 + 3.0 * (i % 7) as f32 / 7.0;
            logits.extend((0..classes).map(|c| if c == top { margin } else { 0.0 }));
        }
        SplitLogits {
            logits,
            labels: (0..rows).map(|i| (i % classes) as u32).collect(),
        }
    };
    predictions::to_csv(&EvalLogits {
        classes,
        id: split(id_acc),
        ood_in: split(ood_acc),
        ood_out: split(ood_acc),
    })
}

/// Writes `models × seeds × |LEARNING_RATES| × |WEIGHT_DECAYS|` records under
/// `dir` (in parallel); returns how many. Only seed 0 carries a predictions file.
pub fn write_synthetic_study(dir: &Path, models: usize, seeds: u64) -> Result<usize> {
    let jobs: Vec<(usize, u64, f64, f64)> = (0..models)
        .flat_map(|m| (0..seeds).map(move |s| (m, s)))
        .flat_map(|(m, s)| {
            LEARNING_RATES
                .iter()
                .flat_map(move |&lr| WEIGHT_DECAYS.iter().map(move |&wd| (m, s, lr, wd)))
        })
        .collect();
    jobs.par_iter()
        .try_for_each(|&(m, s, lr, wd)| -> Result<()> {
            let mut record = synthetic_record("synthetic", m, models, s, lr, wd);
            let folder = dir.join(&record.run_id);
            let f = record
                .final_metrics
                .clone()
                .expect("synthetic records are complete");
            let preds =
                (s == 0).then(|| predictions_csv(f.at.id_accuracy, f.at.ood_accuracy, 40, 4));
            write_record(&folder, &mut record, preds.as_deref())?;
            Ok(())
        })?;
    Ok(jobs.len())
}
