//! Where the quick study's pre-trained checkpoints live and how they are named.
//!
//! A checkpoint is content-addressed: its key is the SHA-256 of everything that
//! determines it (engine version, model family and size, input resolution, the
//! `[[pretrain]]` entry and the corpus digest). The key is part of the file
//! name, so a changed recipe can never pick up a stale file; the file's own
//! SHA-256 is pinned in `data-manifest.toml` under the input name, and run ids
//! include it, so every fine-tuning run names the exact weights it started from.

use serde_json::json;

use super::manifest::{ModelEntry, PretrainEntry};
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
    let identity = json!({
        "schema": "oodcal-zoo-v1",
        "engine": ENGINE_VERSION,
        "family": model.family,
        "size": model.size,
        "resolution": resolution,
        "pretrain": pretrain,
        "corpus_digest": corpus_digest,
    });
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
