//! The folders inputs are resolved against.
//!
//! Datasets live under a data root the user chooses (`--data-root`,
//! `OODCAL_DATA_ROOT`); weights under a weights folder (`--weights-dir`,
//! `OODCAL_WEIGHTS_DIR`, default `<cache>/weights` so every clone shares one
//! download); reference tables inside the repository, beside the manifest.

use std::path::{Path, PathBuf};

use super::catalogue::Location;

#[derive(Debug, Clone)]
pub struct Roots {
    /// Folder holding `data-manifest.toml` (the repository root).
    pub repo: PathBuf,
    pub data: PathBuf,
    pub weights: PathBuf,
    /// Digest cache and other derived, disposable state.
    pub cache: PathBuf,
}

impl Roots {
    /// Resolves each root from explicit values, falling back to defaults.
    pub fn new(
        repo: &Path,
        data: Option<PathBuf>,
        weights: Option<PathBuf>,
        cache: Option<PathBuf>,
    ) -> Roots {
        let cache = cache.unwrap_or_else(default_cache_dir);
        Roots {
            repo: repo.to_path_buf(),
            data: data.unwrap_or_else(|| repo.join("data")),
            weights: weights.unwrap_or_else(|| cache.join("weights")),
            cache,
        }
    }

    pub fn base(&self, location: Location) -> &Path {
        match location {
            Location::Data => &self.data,
            Location::Weights => &self.weights,
            Location::Repo => &self.repo,
        }
    }

    pub fn digest_cache_file(&self) -> PathBuf {
        self.cache.join("digests.json")
    }
}

/// `$XDG_CACHE_HOME/oodcal`, else `$HOME/.cache/oodcal`, else `.oodcal-cache`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("oodcal");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/oodcal"),
        None => PathBuf::from(".oodcal-cache"),
    }
}
