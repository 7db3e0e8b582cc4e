//! Run records: what one fine-tuning run did and measured, as the report reads it.
//!
//! A finished run leaves, in `runs/<study>/<run-id>/`:
//!
//! * `record.json`: a [`RunRecord`] (spec, input digests, code version, device,
//!   per-evaluation and final metrics, status);
//! * `predictions.csv`: the final logits on the ID-validation and test splits,
//!   whose SHA-256 the record carries;
//! * `record.sha256`: `sha256sum` line of `record.json`, written last. It is the
//!   commit marker: a record without it, or whose bytes do not match it, does
//!   not count (so `sha256sum -c record.sha256` checks a record by hand).
//!
//! Every file is written atomically (temp file + rename).

pub mod predictions;
pub mod reference;
pub mod store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::train::{Algorithm, DeviceInfo};

/// Version tag of the record layout.
pub const RECORD_SCHEMA: &str = "oodcal-run-record-v1";
/// Bumped whenever training or evaluation changes meaning (records from
/// different engine versions are never pooled in one report group).
pub const ENGINE_VERSION: &str = "oodcal-engine-2";

/// One run's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub schema: String,
    /// SHA-256 of the canonical spec JSON (see `study::run_id`).
    pub run_id: String,
    pub study: String,
    pub status: RunStatus,
    /// The resolved run spec exactly as hashed into `run_id`.
    pub spec: serde_json::Value,
    /// What the report groups and plots by (derived from the spec and the model).
    pub model: ModelInfo,
    /// Every input the run read: data-manifest inputs, the split lists and the
    /// pre-trained checkpoint, name → digest.
    pub inputs: BTreeMap<String, String>,
    pub code: CodeVersion,
    pub device: DeviceInfo,
    /// Seconds of this run's work, summed over resumed attempts.
    pub wall_seconds: f64,
    /// Step the run resumed from in its last attempt (0: uninterrupted).
    pub resumed_from: usize,
    /// One entry per evaluation (every `eval_every` steps and the last step).
    pub evaluations: Vec<Evaluation>,
    /// Metrics at the final step (absent for a failed run).
    pub final_metrics: Option<FinalMetrics>,
    /// `predictions.csv` beside the record (absent for a failed run).
    pub predictions: Option<FileDigest>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase", deny_unknown_fields)]
pub enum RunStatus {
    Completed,
    /// Loss became NaN/inf (or training failed otherwise) at `step`; never a result.
    Failed {
        step: usize,
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The manifest's display label (unique in the study).
    pub label: String,
    /// The model family's name (`model::Family::name`).
    pub family: String,
    pub size: String,
    /// Counted on the built network (fine-tuned form, task head included).
    pub params: usize,
    /// `[[pretrain]]` entry, or the data downloaded weights were trained on
    /// (`imagenet-1k`); `None` for from-scratch runs.
    pub pretraining: Option<String>,
    /// Images in the pre-training corpus (`None`: from scratch or unknown).
    pub pretrain_images: Option<usize>,
    /// Pre-training recipe (a `data::recipes::RecipeName`).
    pub recipe: Option<String>,
    /// The fine-tuning algorithm; absent (ERM) in records written before algorithms existed.
    #[serde(default, skip_serializing_if = "Algorithm::is_erm")]
    pub algorithm: Algorithm,
    pub optimizer: String,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeVersion {
    /// Crate version.
    pub version: String,
    pub engine: String,
    /// `git` commit of the working tree that ran, `-dirty` when it had changes;
    /// `unknown` outside a git checkout.
    pub git: String,
    /// SHA-256 of Cargo.lock (pins every dependency's version).
    pub cargo_lock_sha256: String,
}

impl CodeVersion {
    /// Appended to the commit when the working tree had uncommitted changes.
    pub const DIRTY_SUFFIX: &'static str = "-dirty";

    /// The commit, without [`Self::DIRTY_SUFFIX`].
    pub fn commit(&self) -> &str {
        self.git
            .strip_suffix(Self::DIRTY_SUFFIX)
            .unwrap_or(&self.git)
    }

    /// Whether the run came from a working tree with uncommitted changes.
    pub fn is_dirty(&self) -> bool {
        self.git.ends_with(Self::DIRTY_SUFFIX)
    }
}

/// Accuracy and ECE in percent; `ece` is the paper's top-label 10-bin L1 ECE
/// with equal-width bins, `ece_mass` the same with equal-mass bins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub step: usize,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f64,
    /// ID validation: the `out` splits of the training domains, pooled.
    pub id_accuracy: f64,
    pub id_ece: f64,
    pub id_ece_mass: f64,
    /// The paper's OOD accuracy: mean of the test domain's `in` and `out` accuracies.
    pub ood_accuracy: f64,
    /// The paper's OOD ECE: mean of the two splits' ECE.
    pub ood_ece: f64,
    pub ood_ece_mass: f64,
}

/// The final evaluation plus what only the end of a run gets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalMetrics {
    pub at: Evaluation,
    pub ood_in_accuracy: f64,
    pub ood_out_accuracy: f64,
    /// Negative log-likelihood (nats) and multiclass Brier score, whole test domain.
    pub ood_nll: f64,
    pub ood_brier: f64,
    /// Temperature fitted on ID validation (NLL), then applied.
    pub temperature: f64,
    pub id_ece_ts: f64,
    pub ood_ece_ts: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// Path relative to the record's folder.
    pub file: String,
    pub sha256: String,
}

impl RunRecord {
    pub fn is_completed(&self) -> bool {
        matches!(self.status, RunStatus::Completed)
    }
}
