//! Splitting records into comparable groups.
//!
//! Results are pooled only when they were produced the same way: the same
//! training engine version, the same dependency lock, the same benchmark data
//! (by digest) and the same fine-tuning protocol. Anything else is a separate
//! group; the report is built from one group and names the others, so runs
//! from different code or data are never silently averaged together.

use serde::Serialize;
use std::collections::BTreeMap;

use super::load::LoadedRun;

/// Protocol settings that change what a number means (read from the run spec).
pub const PROTOCOL_FIELDS: [&str; 5] = [
    "steps",
    "batch_per_domain",
    "eval_every",
    "head",
    "augment_id_validation",
];
/// Protocol settings that only some specs carry: in the key when present,
/// so the groups of records made before they existed stay as they were.
pub const OPTIONAL_PROTOCOL_FIELDS: [&str; 1] = ["trainable_blocks"];
/// Benchmark settings, read from `spec.benchmark`.
pub const BENCHMARK_FIELDS: [&str; 4] =
    ["dataset", "test_domain", "resolution", "holdout_fraction"];

/// What must agree for two runs to be pooled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GroupKey {
    pub engine: String,
    pub cargo_lock_sha256: String,
    /// Digest of the benchmark dataset input (`unknown` if the record lacks it).
    pub data_digest: String,
    /// Sorted-key JSON of the protocol and benchmark settings.
    pub protocol: String,
}

impl GroupKey {
    pub fn of(run: &LoadedRun) -> GroupKey {
        let r = &run.record;
        let dataset = r.spec["benchmark"]["dataset"].as_str().unwrap_or_default();
        let data_digest = r
            .inputs
            .get(dataset)
            .cloned()
            .unwrap_or_else(|| "unknown".to_string());
        GroupKey {
            engine: r.code.engine.clone(),
            cargo_lock_sha256: r.code.cargo_lock_sha256.clone(),
            data_digest,
            protocol: protocol_key(&r.spec),
        }
    }

    /// One line for warnings and the page: engine, short digests, protocol.
    pub fn describe(&self) -> String {
        format!(
            "engine {}, Cargo.lock {}, benchmark data {}; protocol: {}",
            self.engine,
            short(&self.cargo_lock_sha256),
            short(&self.data_digest),
            self.protocol_text()
        )
    }

    /// The protocol as a reader takes it in, `key = value` in key order
    /// (the key keeps the JSON, which is what groups compare).
    fn protocol_text(&self) -> String {
        let Ok(fields) =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&self.protocol)
        else {
            return self.protocol.clone();
        };
        fields
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k} = {s}"),
                v => format!("{k} = {v}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The fields on which `self` differs from `other`, by name.
    pub fn differences(&self, other: &GroupKey) -> Vec<&'static str> {
        let mut d = Vec::new();
        if self.engine != other.engine {
            d.push("engine version");
        }
        if self.cargo_lock_sha256 != other.cargo_lock_sha256 {
            d.push("Cargo.lock");
        }
        if self.data_digest != other.data_digest {
            d.push("benchmark data digest");
        }
        if self.protocol != other.protocol {
            d.push("protocol");
        }
        d
    }
}

/// Sorted-key JSON of a run spec's protocol and benchmark settings.
fn protocol_key(spec: &serde_json::Value) -> String {
    let mut protocol = serde_json::Map::new();
    for f in PROTOCOL_FIELDS {
        protocol.insert(f.to_string(), spec[f].clone());
    }
    for f in OPTIONAL_PROTOCOL_FIELDS {
        if !spec[f].is_null() {
            protocol.insert(f.to_string(), spec[f].clone());
        }
    }
    for f in BENCHMARK_FIELDS {
        protocol.insert(format!("benchmark.{f}"), spec["benchmark"][f].clone());
    }
    serde_json::Value::Object(protocol).to_string()
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

/// Runs sharing one [`GroupKey`].
#[derive(Debug, Clone)]
pub struct Group {
    pub key: GroupKey,
    pub runs: Vec<LoadedRun>,
}

impl Group {
    pub fn completed(&self) -> usize {
        self.runs.iter().filter(|r| r.record.is_completed()).count()
    }
}

/// Groups `runs` by key. The first group is the one to report: the most
/// completed runs; on a tie the highest engine version string (the newest
/// engine), then the key order, so the choice never depends on folder order.
pub fn split_groups(runs: Vec<LoadedRun>) -> Vec<Group> {
    let mut by_key: BTreeMap<GroupKey, Vec<LoadedRun>> = BTreeMap::new();
    for run in runs {
        by_key.entry(GroupKey::of(&run)).or_default().push(run);
    }
    let mut groups: Vec<Group> = by_key
        .into_iter()
        .map(|(key, runs)| Group { key, runs })
        .collect();
    groups.sort_by(|a, b| {
        b.completed()
            .cmp(&a.completed())
            .then_with(|| b.key.engine.cmp(&a.key.engine))
            .then_with(|| a.key.cmp(&b.key))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_fine_tuning_is_its_own_group_and_whole_network_keys_stay() {
        let whole = serde_json::json!({
            "steps": 120, "batch_per_domain": 16, "eval_every": 120,
            "head": "add-linear", "augment_id_validation": false,
            "benchmark": {"dataset": "PACS", "test_domain": "art_painting",
                          "resolution": 160, "holdout_fraction": 0.2},
        });
        let mut partial = whole.clone();
        partial["trainable_blocks"] = serde_json::json!(1);
        let (w, p) = (protocol_key(&whole), protocol_key(&partial));
        assert!(!w.contains("trainable_blocks"), "{w}");
        assert!(p.contains(r#""trainable_blocks":1"#), "{p}");
        assert_ne!(w, p);
    }

    #[test]
    fn the_protocol_reads_as_key_value_pairs() {
        let key = GroupKey {
            engine: "oodcal-engine-2".to_string(),
            cargo_lock_sha256: "a".repeat(64),
            data_digest: "b".repeat(64),
            protocol: r#"{"benchmark.test_domain":"art","steps":60}"#.to_string(),
        };
        assert_eq!(
            key.describe(),
            "engine oodcal-engine-2, Cargo.lock aaaaaaaaaaaa, benchmark data bbbbbbbbbbbb; \
             protocol: benchmark.test_domain = art, steps = 60"
        );
    }
}
