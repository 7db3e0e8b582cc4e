//! Writing and verifying run records on disk.

use std::path::{Path, PathBuf};

use super::{FileDigest, RunRecord, RECORD_SCHEMA};
use crate::checksum::sha256_bytes;

pub const RECORD_FILE: &str = "record.json";
pub const RECORD_DIGEST_FILE: &str = "record.sha256";
pub const PREDICTIONS_FILE: &str = "predictions.csv";

/// Why a record folder does not hold a verified record. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0}: no record (run not finished)")]
    Absent(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: contents do not match {digest_file} (expected {expected}, found {found})")]
    Corrupt {
        path: PathBuf,
        digest_file: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path}: not a valid record: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the predictions (if any), then the record, then its digest (the commit marker).
pub fn write_record(
    dir: &Path,
    record: &mut RunRecord,
    predictions_csv: Option<&[u8]>,
) -> Result<(), RecordError> {
    if let Some(csv) = predictions_csv {
        let path = dir.join(PREDICTIONS_FILE);
        crate::atomic::write(&path, csv).map_err(io(&path))?;
        record.predictions = Some(FileDigest {
            file: PREDICTIONS_FILE.to_string(),
            sha256: sha256_bytes(csv),
        });
    }
    let path = dir.join(RECORD_FILE);
    let mut json = serde_json::to_vec_pretty(record).expect("a record always serialises");
    json.push(b'\n');
    crate::atomic::write(&path, &json).map_err(io(&path))?;
    let digest_path = dir.join(RECORD_DIGEST_FILE);
    let line = format!("{}  {RECORD_FILE}\n", sha256_bytes(&json));
    crate::atomic::write(&digest_path, line.as_bytes()).map_err(io(&digest_path))
}

/// Reads the record in `dir` and checks it: digest file, JSON layout, schema,
/// run id against the spec, and the predictions file's digest.
pub fn read_verified(dir: &Path) -> Result<RunRecord, RecordError> {
    let path = dir.join(RECORD_FILE);
    let digest_path = dir.join(RECORD_DIGEST_FILE);
    if !digest_path.exists() {
        return Err(RecordError::Absent(dir.to_path_buf()));
    }
    let line = std::fs::read_to_string(&digest_path).map_err(io(&digest_path))?;
    let expected = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let found = sha256_bytes(&bytes);
    if found != expected {
        return Err(RecordError::Corrupt {
            path,
            digest_file: digest_path,
            expected,
            found,
        });
    }
    let invalid = |reason: String| RecordError::Invalid {
        path: path.clone(),
        reason,
    };
    let record: RunRecord =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("line {}: {e}", e.line())))?;
    if record.schema != RECORD_SCHEMA {
        return Err(invalid(format!(
            "schema `{}`, expected `{RECORD_SCHEMA}`",
            record.schema
        )));
    }
    let spec_id = sha256_bytes(&serde_json::to_vec(&record.spec).expect("JSON value"));
    if spec_id != record.run_id {
        return Err(invalid(format!(
            "run_id {} is not the digest of its spec ({spec_id})",
            record.run_id
        )));
    }
    // A record is identified by its content: a copy in another folder would
    // otherwise be counted twice.
    let folder = dir.file_name().map(|n| n.to_string_lossy());
    if folder.as_deref() != Some(record.run_id.as_str()) {
        return Err(invalid(format!(
            "its folder is named `{}`, not by its run id {} (a copied or renamed record?)",
            folder.unwrap_or_default(),
            record.run_id
        )));
    }
    if let Some(p) = &record.predictions {
        verify_file(&dir.join(&p.file), &p.sha256)?;
    }
    Ok(record)
}

fn verify_file(path: &Path, expected: &str) -> Result<(), RecordError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let found = sha256_bytes(&bytes);
    if found != expected {
        return Err(RecordError::Corrupt {
            path: path.to_path_buf(),
            digest_file: path.with_file_name(RECORD_FILE),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(())
}

/// Record folders under `runs_dir` (one per run id), sorted.
pub fn record_dirs(runs_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !runs_dir.exists() {
        return Ok(Vec::new());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(RECORD_FILE).exists() || p.join(RECORD_DIGEST_FILE).exists())
        .collect();
    dirs.sort();
    Ok(dirs)
}
