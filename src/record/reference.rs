//! Reference results a user verifies a re-run against.
//!
//! `reports/<study>/reference.json` lists, per run of the committed reference
//! study: its id, model and hyper-parameters, the digests of every input it
//! read, its status and its final metrics. [`compare`] checks a folder of
//! records against it and names every run that drifts, and by how much.
//!
//! Tolerances (documented in the README):
//! * inputs must match by digest, always;
//! * metrics must match exactly ([`EXACT`]) when the record ran on the same
//!   backend, device and thread count as the reference: burn's CPU kernels are
//!   deterministic for a given machine and thread count (resume is bit-identical);
//! * otherwise within [`CROSS_DEVICE_POINTS`] percentage points (accuracy, ECE):
//!   another CPU's SIMD width or another thread count changes the order of
//!   floating-point sums, and SGD amplifies that (the caches do not: gemm's
//!   blocking is pinned, `patches/gemm-common`). The shifts are mostly small,
//!   not always: between two CPUs, 13 of the quick study's 56 runs moved by
//!   more than this on some metric while every claim verdict stayed the same,
//!   so across machines the reports' claims are the comparison that holds.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::store::read_verified;
use super::{RunRecord, RunStatus};
use crate::train::{Algorithm, DeviceInfo};

pub const REFERENCE_SCHEMA: &str = "oodcal-reference-v1";
/// Metrics equal up to float printing.
pub const EXACT: f64 = 1e-9;
/// Allowed drift in percentage points on another device or thread count.
pub const CROSS_DEVICE_POINTS: f64 = 3.0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub schema: String,
    pub study: String,
    pub device: DeviceInfo,
    pub runs: Vec<ReferenceRun>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceRun {
    pub run_id: String,
    pub model: String,
    /// Absent for ERM, as in run specs and records.
    #[serde(default, skip_serializing_if = "Algorithm::is_erm")]
    pub algorithm: Algorithm,
    pub optimizer: String,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub inputs: BTreeMap<String, String>,
    /// `completed`, or `failed at step N`.
    pub status: String,
    /// Name → value (percent for accuracies and ECEs).
    pub metrics: BTreeMap<String, f64>,
}

/// The metrics compared, by name.
fn metrics_of(record: &RunRecord) -> BTreeMap<String, f64> {
    let Some(m) = &record.final_metrics else {
        return BTreeMap::new();
    };
    BTreeMap::from([
        ("id_accuracy".to_string(), m.at.id_accuracy),
        ("id_ece".to_string(), m.at.id_ece),
        ("ood_accuracy".to_string(), m.at.ood_accuracy),
        ("ood_ece".to_string(), m.at.ood_ece),
        ("ood_ece_mass".to_string(), m.at.ood_ece_mass),
        ("ood_ece_ts".to_string(), m.ood_ece_ts),
    ])
}

fn status_of(record: &RunRecord) -> String {
    match &record.status {
        RunStatus::Completed => "completed".to_string(),
        RunStatus::Failed { step, .. } => format!("failed at step {step}"),
    }
}

impl ReferenceRun {
    pub fn of(record: &RunRecord) -> Self {
        let m = &record.model;
        ReferenceRun {
            run_id: record.run_id.clone(),
            model: m.label.clone(),
            algorithm: m.algorithm,
            optimizer: m.optimizer.clone(),
            learning_rate: m.learning_rate,
            weight_decay: m.weight_decay,
            seed: m.seed,
            inputs: record.inputs.clone(),
            status: status_of(record),
            metrics: metrics_of(record),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} {} lr={} wd={} seed={})",
            &self.run_id[..12.min(self.run_id.len())],
            self.model,
            self.algorithm.name(),
            self.learning_rate,
            self.weight_decay,
            self.seed
        )
    }
}

/// Loads every verified record of `dir` (a corrupt one is an error naming it).
pub fn load_records(dir: &Path) -> Result<Vec<RunRecord>> {
    super::store::record_dirs(dir)
        .with_context(|| format!("{}: cannot list records", dir.display()))?
        .iter()
        .map(|d| read_verified(d).map_err(anyhow::Error::from))
        .collect()
}

/// The reference of a study from its records (sorted by run id).
pub fn build(study: &str, records: &[RunRecord]) -> Result<Reference> {
    let device = records
        .first()
        .map(|r| r.device.clone())
        .context("no records to build a reference from")?;
    let mut runs: Vec<ReferenceRun> = records.iter().map(ReferenceRun::of).collect();
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(Reference {
        schema: REFERENCE_SCHEMA.to_string(),
        study: study.to_string(),
        device,
        runs,
    })
}

pub fn read(path: &Path) -> Result<Reference> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let reference: Reference = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a reference file", path.display()))?;
    if reference.schema != REFERENCE_SCHEMA {
        anyhow::bail!(
            "{}: schema `{}`, expected `{REFERENCE_SCHEMA}`",
            path.display(),
            reference.schema
        );
    }
    Ok(reference)
}

/// One difference between records and the reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift(pub String);

/// Compares records with the reference; an empty list means they agree.
pub fn compare(reference: &Reference, records: &[RunRecord]) -> Vec<Drift> {
    let by_id: BTreeMap<&str, &ReferenceRun> = reference
        .runs
        .iter()
        .map(|r| (r.run_id.as_str(), r))
        .collect();
    let mut drifts = Vec::new();
    let mut seen = Vec::new();
    for record in records {
        let mine = ReferenceRun::of(record);
        match by_id.get(record.run_id.as_str()) {
            Some(theirs) => {
                seen.push(record.run_id.as_str());
                let tolerance = match same_device(&reference.device, &record.device) {
                    true => EXACT,
                    false => CROSS_DEVICE_POINTS,
                };
                drifts.extend(run_drifts(theirs, &mine, tolerance));
            }
            None => drifts.push(unmatched_drift(reference, &mine)),
        }
    }
    for run in &reference.runs {
        if !seen.contains(&run.run_id.as_str()) {
            drifts.push(Drift(format!(
                "{}: no record of this reference run",
                run.describe()
            )));
        }
    }
    drifts
}

/// Whether records from device `b` are held to exact equality with a
/// reference made on device `a` (else to [`CROSS_DEVICE_POINTS`]).
pub fn same_device(a: &DeviceInfo, b: &DeviceInfo) -> bool {
    a == b
}

/// Why a run has no reference run: the same model, hyper-parameters and
/// seed exist with another id (so its spec or an input differs), or not at all.
pub fn unmatched_drift(reference: &Reference, mine: &ReferenceRun) -> Drift {
    Drift(unmatched(reference, mine))
}

fn unmatched(reference: &Reference, mine: &ReferenceRun) -> String {
    let twin = reference.runs.iter().find(|r| {
        r.model == mine.model
            && r.algorithm == mine.algorithm
            && r.optimizer == mine.optimizer
            && r.learning_rate == mine.learning_rate
            && r.weight_decay == mine.weight_decay
            && r.seed == mine.seed
    });
    match twin {
        Some(t) => {
            let inputs: Vec<String> = mine
                .inputs
                .iter()
                .filter(|(k, v)| t.inputs.get(*k) != Some(*v))
                .map(|(k, _)| k.clone())
                .collect();
            let why = match inputs.is_empty() {
                true => "its spec differs (a protocol or pre-training setting)".to_string(),
                false => format!("inputs differ: {}", inputs.join(", ")),
            };
            format!("{}: not in the reference, whose run {} has the same model and hyper-parameters; {why}", mine.describe(), &t.run_id[..12])
        }
        None => format!("{}: not in the reference", mine.describe()),
    }
}

fn run_drifts(theirs: &ReferenceRun, mine: &ReferenceRun, tolerance: f64) -> Vec<Drift> {
    let mut out = Vec::new();
    for (name, digest) in &theirs.inputs {
        if mine.inputs.get(name) != Some(digest) {
            out.push(Drift(format!(
                "{}: input {name} differs from the reference's",
                mine.describe()
            )));
        }
    }
    if theirs.status != mine.status {
        out.push(Drift(format!(
            "{}: status {} (reference: {})",
            mine.describe(),
            mine.status,
            theirs.status
        )));
    }
    for (name, &want) in &theirs.metrics {
        let got = mine.metrics.get(name).copied().unwrap_or(f64::NAN);
        let diff = (got - want).abs();
        if diff.is_nan() || diff > tolerance {
            out.push(Drift(format!(
                "{}: {name} {got:.4} vs reference {want:.4} (differs by {diff:.4}; tolerance {tolerance})",
                mine.describe()
            )));
        }
    }
    out
}
