//! Where the quick study's pre-trained checkpoints live and how they are named.
//!
//! A checkpoint is content-addressed: its key is the SHA-256 of everything that
//! determines it (engine version, model family and size, input resolution, the
//! `[[pretrain]]` entry and the corpus digest). The key is part of the file
//! name, so a changed recipe can never pick up a stale file; the file's own
//! SHA-256 is pinned in `data-manifest.toml` under the input name, and run ids
//! include it, so every fine-tuning run names the exact weights it started from.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};

use super::manifest::{ModelEntry, PretrainEntry, Study};
use crate::checksum::sha256_bytes;
use crate::inputs::Catalogue;
use crate::record::ENGINE_VERSION;

/// Folder (repository-relative) holding the shipped checkpoints.
pub const ZOO_DIR: &str = "experiments/zoo";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZooCheckpoint {
    /// Input name in `data-manifest.toml`, e.g. `zoo-resnet-tiny-corpus-8k-baseline-c40561d31ada`
    /// (the key's first 12 hex digits keep checkpoints of different setups apart).
    pub input_name: String,
    /// Repository-relative path, with the key's first 12 hex digits in the name.
    pub path: String,
    pub key: String,
}

/// The checkpoint `model` starts from when pre-trained by `pretrain` at `resolution`.
pub fn zoo_checkpoint(
    model: &ModelEntry,
    pretrain: &PretrainEntry,
    resolution: u32,
    catalogue: &Catalogue,
) -> ZooCheckpoint {
    let corpus = pretrain.corpus.get_ref();
    let corpus_digest = catalogue
        .get(corpus)
        .and_then(|i| i.digest())
        .map_or_else(|| format!("unpinned:{corpus}"), str::to_string);
    let mut identity = json!({
        "schema": "oodcal-zoo-v1",
        "engine": ENGINE_VERSION,
        "family": model.family,
        "size": model.size,
        "resolution": resolution,
        "pretrain": pretrain,
        "corpus_digest": corpus_digest,
    });
    // A ViT's shape, only where it departs from the default (old keys unchanged).
    if let Some(patch) = model.patch {
        identity["patch"] = json!(patch);
    }
    if let Some(pool) = model.pool {
        identity["pool"] = json!(pool);
    }
    let key = sha256_bytes(&serde_json::to_vec(&identity).expect("JSON value"));
    let stem = format!(
        "{}-{}-{}",
        model.family,
        model.size,
        pretrain.name.get_ref()
    );
    let addressed = format!("{stem}-{}", &key[..12]);
    ZooCheckpoint {
        input_name: format!("zoo-{addressed}"),
        path: format!("{ZOO_DIR}/{addressed}.bin"),
        key,
    }
}

impl ZooCheckpoint {
    /// The pinned digest, when the data manifest pins this very checkpoint
    /// (same input name and same content-addressed path).
    pub fn pinned_digest<'a>(&self, catalogue: &'a Catalogue) -> Option<&'a str> {
        catalogue
            .get(&self.input_name)
            .filter(|i| i.path.to_str() == Some(self.path.as_str()))
            .and_then(|i| i.digest())
    }
}

/// One zoo checkpoint the study needs.
#[derive(Clone, Debug)]
pub struct PretrainTarget {
    pub model: ModelEntry,
    pub pretrain: PretrainEntry,
    pub zoo: ZooCheckpoint,
}

impl PretrainTarget {
    /// Whether `model` fine-tunes from this checkpoint: the same architecture
    /// pre-trained by the same `[[pretrain]]` entry. Within one study nothing
    /// else enters the checkpoint's key (the resolution is the study's).
    pub fn is_start_of(&self, model: &ModelEntry) -> bool {
        model.family == self.model.family
            && model.size == self.model.size
            && (model.patch, model.pool) == (self.model.patch, self.model.pool)
            && model.pretrain.as_ref().map(|p| p.get_ref()) == Some(self.pretrain.name.get_ref())
    }
}

/// The distinct (model architecture, pre-training) pairs of a study.
pub fn targets(study: &Study, catalogue: &Catalogue) -> Vec<PretrainTarget> {
    let mut out: Vec<PretrainTarget> = Vec::new();
    for model in &study.models {
        let Some(entry) = model
            .pretrain
            .as_ref()
            .and_then(|p| study.pretrain_entry(p.get_ref()))
        else {
            continue;
        };
        let zoo = zoo_checkpoint(model, entry, study.benchmark.resolution, catalogue);
        if out.iter().all(|t| t.zoo.input_name != zoo.input_name) {
            out.push(PretrainTarget {
                model: model.clone(),
                pretrain: entry.clone(),
                zoo,
            });
        }
    }
    out
}

/// How well a checkpoint learnt its corpus: written beside it as
/// `<checkpoint>.json` and printed, the quick study's analogue of a timm
/// model's ImageNet accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainStats {
    pub checkpoint: String,
    pub key: String,
    pub corpus: String,
    pub recipe: String,
    pub steps: u32,
    /// Mean training loss over the last tenth of the steps.
    pub final_loss: f64,
    pub held_out_images: usize,
    /// Top-1 accuracy (percent) on `held_out_images` fresh corpus images.
    pub held_out_accuracy: f64,
    pub seconds: f64,
    /// A plateau run's monitor measurements and where its cool-down started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<crate::train::PlateauState>,
}

/// `<checkpoint>.json`: the checkpoint's [`PretrainStats`].
pub fn stats_path(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The figures written beside a checkpoint, if they are there and readable.
pub fn read_stats(sidecar: &Path) -> Option<PretrainStats> {
    let text = std::fs::read_to_string(sidecar).ok()?;
    serde_json::from_str(&text).ok()
}
