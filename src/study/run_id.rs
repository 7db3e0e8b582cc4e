//! Content-addressed run ids.
//!
//! A run's id is the SHA-256 of its fully resolved spec (every setting that
//! can change its result) together with the digests of every input it reads.
//! The spec is serialised as JSON with object keys sorted (at every level)
//! and shortest round-trip floats, so a record's stored spec re-hashes to its
//! id, the same manifest gives the same id on every machine, and any change
//! of a setting or an input's content gives a new one.
//! Settings that cannot change results (checkpoint interval, progress output,
//! backend choice) are deliberately left out.

use serde::Serialize;
use std::collections::BTreeMap;

use super::manifest::{Benchmark, ModelEntry, PretrainEntry};
use crate::checksum::sha256_bytes;
use crate::model::HeadMode;
use crate::train::{Algorithm, OptimizerKind};

/// Version tag of the spec layout; bump it when the meaning of a field changes.
pub const RUN_SPEC_SCHEMA: &str = "oodcal-run-spec-v2";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSpec {
    pub schema: &'static str,
    /// The training engine's version: a change of initialisation or of the
    /// training loop changes results, so it must change the id too.
    pub engine: &'static str,
    pub benchmark: Benchmark,
    pub model: ModelEntry,
    /// The resolved pre-training recipe, when the model is pre-trained by oodcal.
    pub pretrain: Option<PretrainEntry>,
    pub head: HeadMode,
    /// Left out for ERM, so runs planned before algorithms existed keep their ids.
    #[serde(skip_serializing_if = "Algorithm::is_erm")]
    pub algorithm: Algorithm,
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub batch_per_domain: u32,
    pub steps: u32,
    pub eval_every: u32,
    pub augment_id_validation: bool,
    /// Partial fine-tuning; left out when the whole network trains, so runs
    /// planned before it existed keep their ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trainable_blocks: Option<u32>,
    pub seed: u64,
    /// Input name → SHA-256 (file) or tree digest (folder); `unpinned:<name>`
    /// for inputs without a digest, so pinning one later changes the id.
    pub inputs: BTreeMap<String, String>,
}

impl RunSpec {
    /// Sorted-key JSON: `serde_json::Value` keeps objects in key order.
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_value()).expect("a RunSpec always serialises")
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a RunSpec always serialises")
    }
}

/// Full hex SHA-256 id of a run.
pub fn run_id(spec: &RunSpec) -> String {
    sha256_bytes(&spec.canonical_json())
}
