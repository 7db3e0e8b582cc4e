//! Synthetic run records for the report tests: real record folders written
//! with `store::write_record`, whose metrics are chosen by the test, so every
//! assertion about selection, summaries and claims is exact.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oodcal::checksum::sha256_bytes;
use oodcal::record::predictions::{self, EvalLogits, SplitLogits};
use oodcal::record::store::write_record;
use oodcal::record::{
    CodeVersion, Evaluation, FinalMetrics, ModelInfo, RunRecord, RunStatus, ENGINE_VERSION,
    RECORD_SCHEMA,
};
use oodcal::train::{Algorithm, BackendKind, DeviceInfo};

pub const DATA_DIGEST: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// One run's settings and the metrics it should report (percent).
#[derive(Debug, Clone)]
pub struct Synth {
    pub label: String,
    pub family: String,
    pub size: String,
    pub params: usize,
    /// (pre-training name, corpus images, recipe); `None`: from scratch.
    pub pretrain: Option<(String, usize, String)>,
    pub seed: u64,
    pub lr: f64,
    pub wd: f64,
    pub id_acc: f64,
    pub ood_acc: f64,
    pub ood_ece: f64,
    pub engine: String,
    /// SHA-256 of the Cargo.lock the record names.
    pub cargo_lock: String,
    /// Digest of the benchmark data the record names (in its spec and inputs).
    pub data_digest: String,
    pub steps: u32,
    pub temperature: f64,
    /// The commit the record names (`-dirty`: made from a modified tree).
    pub git: String,
    /// `Some(reason)`: a failed run.
    pub failed: Option<String>,
    pub algorithm: Algorithm,
}

impl Synth {
    pub fn new(label: &str, params: usize, seed: u64) -> Synth {
        Synth {
            label: label.to_string(),
            family: "resnet".to_string(),
            size: "small".to_string(),
            params,
            pretrain: Some((
                "corpus-8k-baseline".to_string(),
                8000,
                "baseline".to_string(),
            )),
            seed,
            lr: 0.01,
            wd: 1e-4,
            id_acc: 80.0,
            ood_acc: 60.0,
            ood_ece: 10.0,
            engine: ENGINE_VERSION.to_string(),
            cargo_lock: "2".repeat(64),
            data_digest: DATA_DIGEST.to_string(),
            steps: 120,
            temperature: 1.5,
            git: "0123456789abcdef".to_string(),
            failed: None,
            algorithm: Algorithm::Erm,
        }
    }

    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    pub fn scratch(mut self) -> Synth {
        self.pretrain = None;
        self
    }

    pub fn pretrain(mut self, name: &str, images: usize, recipe: &str) -> Synth {
        self.pretrain = Some((name.to_string(), images, recipe.to_string()));
        self
    }

    pub fn metrics(mut self, id_acc: f64, ood_acc: f64, ood_ece: f64) -> Synth {
        self.id_acc = id_acc;
        self.ood_acc = ood_acc;
        self.ood_ece = ood_ece;
        self
    }

    pub fn temperature(mut self, t: f64) -> Synth {
        self.temperature = t;
        self
    }

    pub fn grid(mut self, lr: f64, wd: f64) -> Synth {
        self.lr = lr;
        self.wd = wd;
        self
    }

    fn spec(&self) -> serde_json::Value {
        let mut spec = self.erm_spec();
        if !self.algorithm.is_erm() {
            spec["algorithm"] = self.algorithm.name().into();
        }
        spec
    }

    fn erm_spec(&self) -> serde_json::Value {
        serde_json::json!({
            "schema": "oodcal-run-spec-v2", "engine": oodcal::record::ENGINE_VERSION,
            "benchmark": {"dataset": "glyph-dg", "test_domain": "art", "resolution": 32, "holdout_fraction": 0.2},
            "model": {"name": self.label, "family": self.family, "size": self.size,
                      "pretrain": self.pretrain.as_ref().map(|p| p.0.clone()), "weights": null},
            "pretrain": null,
            "head": "add-linear", "optimizer": "sgd", "learning_rate": self.lr, "weight_decay": self.wd,
            "momentum": 0.9, "batch_per_domain": 32, "steps": self.steps, "eval_every": 40,
            "augment_id_validation": true, "seed": self.seed,
            "inputs": {"glyph-dg": self.data_digest},
        })
    }

    pub fn record(&self) -> RunRecord {
        let spec = self.spec();
        let eval = Evaluation {
            step: self.steps as usize,
            train_loss: 0.5,
            id_accuracy: self.id_acc,
            id_ece: self.ood_ece / 2.0,
            id_ece_mass: self.ood_ece / 2.0 + 1.0,
            ood_accuracy: self.ood_acc,
            ood_ece: self.ood_ece,
            ood_ece_mass: self.ood_ece + 1.0,
        };
        let completed = self.failed.is_none();
        RunRecord {
            schema: RECORD_SCHEMA.to_string(),
            run_id: sha256_bytes(&serde_json::to_vec(&spec).unwrap()),
            study: "quick".to_string(),
            status: match &self.failed {
                None => RunStatus::Completed,
                Some(reason) => RunStatus::Failed {
                    step: 7,
                    reason: reason.clone(),
                },
            },
            spec,
            model: ModelInfo {
                label: self.label.clone(),
                family: self.family.clone(),
                size: self.size.clone(),
                params: self.params,
                pretraining: self.pretrain.as_ref().map(|p| p.0.clone()),
                pretrain_images: self.pretrain.as_ref().map(|p| p.1),
                recipe: self.pretrain.as_ref().map(|p| p.2.clone()),
                algorithm: self.algorithm,
                optimizer: "sgd".to_string(),
                learning_rate: self.lr,
                weight_decay: self.wd,
                seed: self.seed,
            },
            inputs: BTreeMap::from([("glyph-dg".to_string(), self.data_digest.clone())]),
            code: CodeVersion {
                version: "0.1.0".to_string(),
                engine: self.engine.clone(),
                git: self.git.clone(),
                cargo_lock_sha256: self.cargo_lock.clone(),
            },
            device: DeviceInfo {
                backend: BackendKind::Cpu,
                device_name: "test cpu".to_string(),
                driver: "2 threads".to_string(),
            },
            wall_seconds: 2.5,
            resumed_from: 0,
            evaluations: vec![eval.clone()],
            final_metrics: completed.then(|| FinalMetrics {
                at: eval,
                ood_in_accuracy: self.ood_acc + 1.0,
                ood_out_accuracy: self.ood_acc - 1.0,
                ood_nll: 1.0,
                ood_brier: 0.4,
                temperature: self.temperature,
                id_ece_ts: self.ood_ece / 4.0,
                ood_ece_ts: self.ood_ece / 3.0,
            }),
            predictions: None,
        }
    }

    /// Writes the record folder `<dir>/<run id>/` (with predictions for completed runs).
    pub fn write(&self, dir: &Path) -> PathBuf {
        let mut record = self.record();
        let folder = dir.join(&record.run_id);
        let preds = self
            .failed
            .is_none()
            .then(|| predictions_csv(self.id_acc, self.ood_acc));
        write_record(&folder, &mut record, preds.as_deref()).unwrap();
        folder
    }
}

/// 3-class logits whose accuracy per split is the given percentage (to 1/50).
pub fn predictions_csv(id_acc: f64, ood_acc: f64) -> Vec<u8> {
    let rows = 50;
    let split = |acc: f64| {
        let right = (acc / 100.0 * rows as f64).round() as usize;
        let mut logits = Vec::with_capacity(rows * 3);
        for i in 0..rows {
            let top = if i < right { i % 3 } else { (i + 1) % 3 };
            let margin = 1.0 + (i % 5) as f32;
            logits.extend((0..3).map(|c| if c == top { margin } else { 0.0 }));
        }
        SplitLogits {
            logits,
            labels: (0..rows).map(|i| (i % 3) as u32).collect(),
        }
    };
    predictions::to_csv(&EvalLogits {
        classes: 3,
        id: split(id_acc),
        ood_in: split(ood_acc),
        ood_out: split(ood_acc),
    })
}

/// A study where every claim is built to hold: OOD accuracy rises and OOD ECE
/// falls with size and corpus size, recipes differ by far more than seed noise,
/// scratch models are far worse. `flip` reverses size and data effects (those
/// claims must then not hold). Three seeds; metrics differ by seed only a little.
pub fn claims_study(dir: &Path, flip: bool) {
    let sign = if flip { -1.0 } else { 1.0 };
    for seed in 0..3u64 {
        let noise = 0.1 * seed as f64;
        // Size axis: six models on the same pre-training.
        for (i, params) in [10_000usize, 30_000, 100_000, 300_000, 1_000_000, 3_000_000]
            .into_iter()
            .enumerate()
        {
            let acc = 60.0 + sign * 4.0 * i as f64 + noise;
            let ece = 20.0 - sign * 2.0 * i as f64 + noise;
            let family = if i % 2 == 0 { "resnet" } else { "vit" };
            let mut s =
                Synth::new(&format!("size-{i}"), params, seed).metrics(acc + 10.0, acc, ece);
            s.family = family.to_string();
            s.size = format!("s{i}");
            s.write(dir);
        }
        // Data axis: one architecture on three corpus sizes, two pre-training
        // seeds (checkpoints) each, so that models, not seeds, fill the axis.
        for (j, images) in [2_000usize, 32_000, 128_000].into_iter().enumerate() {
            for p in 0..2 {
                let acc = 62.0 + sign * 5.0 * j as f64 + noise + 0.3 * p as f64;
                let ece = 15.0 - sign * 3.0 * j as f64 + noise + 0.3 * p as f64;
                Synth::new(&format!("data-{images}-p{p}"), 50_000, seed)
                    .pretrain(
                        &format!("corpus-{images}-baseline-p{p}"),
                        images,
                        "baseline",
                    )
                    .metrics(acc + 10.0, acc, ece)
                    .write(dir);
            }
        }
        // Recipe axis: same architecture and corpus, three recipes far apart,
        // two checkpoints each.
        for (k, recipe) in ["augmix", "mixup", "randaugment"].into_iter().enumerate() {
            for p in 0..2 {
                let acc = 50.0 + 10.0 * k as f64 + noise + 0.5 * p as f64;
                Synth::new(&format!("recipe-{recipe}-p{p}"), 50_000, seed)
                    .pretrain(&format!("corpus-2000-{recipe}-p{p}"), 2_000, recipe)
                    .metrics(acc + 10.0, acc, 12.0 + noise)
                    .write(dir);
            }
        }
        // From scratch: two models of the same family and size as `data-*`,
        // much worse OOD, though they learned (ID 50% of 3 classes, clearly
        // above chance).
        for (q, label) in ["scratch", "scratch-b"].into_iter().enumerate() {
            Synth::new(label, 50_000, seed)
                .scratch()
                .metrics(50.0, 30.0 + noise + q as f64, 30.0)
                .write(dir);
        }
    }
}
