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

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Provenance {
    pub inputs: Vec<InputDigest>,
    /// `version engine git cargo_lock_sha256`.
    pub code: Vec<String>,
    pub devices: Vec<DeviceCount>,
    pub total_wall_seconds: f64,
}

pub fn provenance(records: &[LoadedRun]) -> Provenance {
    let mut inputs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut code = BTreeSet::new();
    let mut devices: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut wall = 0.0;
    for r in records.iter().map(|l| &l.record) {
        for (name, digest) in &r.inputs {
            inputs.entry(name).or_default().insert(digest);
        }
        let c = &r.code;
        code.insert(format!(
            "{} {} {} {}",
            c.version, c.engine, c.git, c.cargo_lock_sha256
        ));
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
        code: code.into_iter().collect(),
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
