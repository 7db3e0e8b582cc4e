//! One flat row per run: what selection, summaries and tables work on.

use serde::Serialize;

use super::learned::IdEvidence;
use super::load::LoadedRun;
use crate::record::RunStatus;
use crate::train::Algorithm;

/// A completed run's identity, settings and final metrics (accuracy and ECE in percent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub run_id: String,
    /// The record's folder under the records folder (normally the run id).
    pub folder: String,
    pub label: String,
    pub family: String,
    pub size: String,
    pub params: u64,
    /// `None`: trained from scratch.
    pub pretraining: Option<String>,
    pub pretrain_images: Option<u64>,
    pub recipe: Option<String>,
    pub algorithm: Algorithm,
    pub optimizer: String,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub id_accuracy: f64,
    pub id_ece: f64,
    pub id_ece_mass: f64,
    pub ood_accuracy: f64,
    pub ood_ece: f64,
    pub ood_ece_mass: f64,
    pub ood_in_accuracy: f64,
    pub ood_out_accuracy: f64,
    pub ood_nll: f64,
    pub ood_brier: f64,
    pub temperature: f64,
    pub id_ece_ts: f64,
    pub ood_ece_ts: f64,
    pub backend: String,
    pub device: String,
    pub wall_seconds: f64,
    pub record_sha256: String,
    /// ID-validation counts from the predictions file, when there is one.
    pub id_evidence: Option<IdEvidence>,
}

impl RunRow {
    pub fn is_pretrained(&self) -> bool {
        self.pretraining.is_some()
    }
}

/// A run that failed: listed in the report, never used as a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedRun {
    pub run_id: String,
    pub label: String,
    pub seed: u64,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub step: usize,
    pub reason: String,
}

/// The row of a completed run; `None` for a failed one (or one without final metrics).
pub fn run_row(run: &LoadedRun) -> Option<RunRow> {
    let r = &run.record;
    let f = r.final_metrics.as_ref().filter(|_| r.is_completed())?;
    let m = &r.model;
    Some(RunRow {
        run_id: r.run_id.clone(),
        folder: run.folder.clone(),
        label: m.label.clone(),
        family: m.family.clone(),
        size: m.size.clone(),
        params: m.params as u64,
        pretraining: m.pretraining.clone(),
        pretrain_images: m.pretrain_images.map(|n| n as u64),
        recipe: m.recipe.clone(),
        algorithm: m.algorithm,
        optimizer: m.optimizer.clone(),
        learning_rate: m.learning_rate,
        weight_decay: m.weight_decay,
        seed: m.seed,
        id_accuracy: f.at.id_accuracy,
        id_ece: f.at.id_ece,
        id_ece_mass: f.at.id_ece_mass,
        ood_accuracy: f.at.ood_accuracy,
        ood_ece: f.at.ood_ece,
        ood_ece_mass: f.at.ood_ece_mass,
        ood_in_accuracy: f.ood_in_accuracy,
        ood_out_accuracy: f.ood_out_accuracy,
        ood_nll: f.ood_nll,
        ood_brier: f.ood_brier,
        temperature: f.temperature,
        id_ece_ts: f.id_ece_ts,
        ood_ece_ts: f.ood_ece_ts,
        backend: r.device.backend.to_string(),
        device: r.device.device_name.clone(),
        wall_seconds: r.wall_seconds,
        record_sha256: run.record_sha256.clone(),
        id_evidence: run.id_evidence,
    })
}

/// The failure of a failed run; `None` for a completed one.
pub fn failed_run(run: &LoadedRun) -> Option<FailedRun> {
    let r = &run.record;
    let (step, reason) = match &r.status {
        RunStatus::Failed { step, reason } => (*step, reason.clone()),
        RunStatus::Completed if r.final_metrics.is_none() => {
            (0, "completed without final metrics".to_string())
        }
        RunStatus::Completed => return None,
    };
    Some(FailedRun {
        run_id: r.run_id.clone(),
        label: r.model.label.clone(),
        seed: r.model.seed,
        learning_rate: r.model.learning_rate,
        weight_decay: r.model.weight_decay,
        step,
        reason,
    })
}
