//! Loading the verified records of a results folder.
//!
//! Every record folder is verified with [`read_verified`]; a record that fails
//! (digest mismatch, bad JSON, wrong schema, run id not matching its spec,
//! predictions file drifted) is collected, so the caller can refuse with the
//! full list of bad files instead of the first one. A folder with a
//! `record.json` but no `record.sha256` is an unfinished run: it is listed,
//! never used.

use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::learned::IdEvidence;
use crate::record::predictions;
use crate::record::store::{read_verified, record_dirs, RecordError, RECORD_DIGEST_FILE};
use crate::record::RunRecord;

/// One verified record and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    /// The record's folder name (its run id), relative to the records folder.
    pub folder: String,
    pub record: RunRecord,
    /// SHA-256 of `record.json` (what `record.sha256` pins).
    pub record_sha256: String,
    /// What the ID-validation predictions show; `None` without a predictions file.
    pub id_evidence: Option<IdEvidence>,
}

/// Everything found in a records folder.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Verified records, in folder-name order.
    pub runs: Vec<LoadedRun>,
    /// Folders without a commit marker (runs still going or interrupted).
    pub unfinished: Vec<PathBuf>,
    /// Records that failed verification, each naming its file.
    pub corrupt: Vec<String>,
    /// Verified records that are not runs of the reported study (another
    /// study's, or planned from another version of the manifest): (folder, why).
    pub not_planned: Vec<(String, String)>,
}

impl Loaded {
    /// Keeps only the records of study `name` whose run id its plan has;
    /// the others move to [`Loaded::not_planned`], so they are reported as set
    /// aside instead of pooled.
    pub fn keep_planned(&mut self, name: &str, planned: &BTreeSet<String>) {
        let (keep, other): (Vec<_>, Vec<_>) = std::mem::take(&mut self.runs)
            .into_iter()
            .partition(|r| r.record.study == name && planned.contains(&r.record.run_id));
        self.runs = keep;
        for r in other {
            let why = match r.record.study == name {
                true => "with run ids this study's manifest does not plan".to_string(),
                false => format!("from study `{}`", r.record.study),
            };
            self.not_planned.push((r.folder, why));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{dir}: cannot list record folders: {source}")]
    List {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {} record(s) failed verification, refusing to use the folder:\n  {}", dir.display(), problems.len(), problems.join("\n  "))]
    Corrupt { dir: PathBuf, problems: Vec<String> },
}

/// Reads and verifies every record under `dir` (in parallel; order is by folder name).
pub fn scan_records(dir: &Path) -> Result<Loaded, LoadError> {
    let dirs = record_dirs(dir).map_err(|source| LoadError::List {
        dir: dir.to_path_buf(),
        source,
    })?;
    let results: Vec<(PathBuf, Result<LoadedRun, RecordError>)> = dirs
        .into_par_iter()
        .map(|d| {
            let r = load_one(&d);
            (d, r)
        })
        .collect();
    let mut loaded = Loaded::default();
    for (d, r) in results {
        match r {
            Ok(run) => loaded.runs.push(run),
            Err(RecordError::Absent(_)) => loaded.unfinished.push(d),
            Err(e) => loaded.corrupt.push(e.to_string()),
        }
    }
    Ok(loaded)
}

/// Like [`scan_records`], but any record failing verification is an error
/// naming every bad file: a report is never built from a folder with corrupt records.
pub fn load_records(dir: &Path) -> Result<Loaded, LoadError> {
    let loaded = scan_records(dir)?;
    if loaded.corrupt.is_empty() {
        Ok(loaded)
    } else {
        Err(LoadError::Corrupt {
            dir: dir.to_path_buf(),
            problems: loaded.corrupt,
        })
    }
}

fn load_one(dir: &Path) -> Result<LoadedRun, RecordError> {
    let record = read_verified(dir)?;
    // read_verified has just checked record.json against this line's digest,
    // so the line's first field is the record's SHA-256.
    let path = dir.join(RECORD_DIGEST_FILE);
    let line = std::fs::read_to_string(&path).map_err(|source| RecordError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(LoadedRun {
        folder: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        record_sha256: line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        id_evidence: id_evidence(dir, &record)?,
        record,
    })
}

/// The ID-validation counts of a record's predictions file (its digest was
/// checked by `read_verified`); a file that does not parse is named.
fn id_evidence(dir: &Path, record: &RunRecord) -> Result<Option<IdEvidence>, RecordError> {
    let Some(file) = &record.predictions else {
        return Ok(None);
    };
    let path = dir.join(&file.file);
    let logits = predictions::read_record(&path).map_err(|e| RecordError::Invalid {
        path: path.clone(),
        reason: format!("{e:#}"),
    })?;
    let evidence =
        IdEvidence::of(&logits.id, logits.classes).map_err(|e| RecordError::Invalid {
            path,
            reason: format!("ID split: {e:#}"),
        })?;
    Ok(Some(evidence))
}
