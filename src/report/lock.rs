//! `report.lock`: the digests a report was built from, and checking them.
//!
//! Format (`oodcal-report-lock-v1`), UTF-8 text, one entry per line:
//!
//! ```text
//! # comment lines start with '#'
//! format oodcal-report-lock-v1
//! records <records folder, as given to `oodcal report`>
//! code <crate version> <engine> <git commit> <Cargo.lock sha256>
//! <sha256>  file  <path relative to the report folder>
//! <sha256>  record  <path relative to the records folder>
//! <sha256>  input  <input name>
//! ```
//!
//! `file` lines cover `index.html` and every table; `record` lines every
//! `record.json` the report used; `input` lines the digests the runs recorded
//! for their inputs (checked through the records, which carry them). Lines
//! are sorted within each kind, so the same report gives the same lock.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use crate::checksum::sha256_file;

pub const LOCK_FILE: &str = "report.lock";
pub const LOCK_FORMAT: &str = "oodcal-report-lock-v1";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lock {
    pub records_dir: PathBuf,
    /// `version engine git cargo_lock_sha256`, one per distinct code version.
    pub code: Vec<String>,
    /// (sha256, path relative to the report folder).
    pub files: Vec<(String, String)>,
    /// (sha256, path relative to the records folder).
    pub records: Vec<(String, String)>,
    /// (sha256, input name).
    pub inputs: Vec<(String, String)>,
}

impl Lock {
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# oodcal report lock: digests of the report's files, the run records it used and their inputs.\n");
        out.push_str("# Lines: `<sha256>  file|record|input  <path or name>`; check with `oodcal report --check <report folder>`.\n");
        out.push_str(&format!("format {LOCK_FORMAT}\n"));
        out.push_str(&format!("records {}\n", self.records_dir.display()));
        let mut code = self.code.clone();
        code.sort();
        for c in code {
            out.push_str(&format!("code {c}\n"));
        }
        for (kind, entries) in [
            ("file", &self.files),
            ("record", &self.records),
            ("input", &self.inputs),
        ] {
            let mut sorted = entries.clone();
            sorted.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            for (sha, name) in sorted {
                out.push_str(&format!("{sha}  {kind}  {name}\n"));
            }
        }
        out
    }

    pub fn parse(path: &Path, text: &str) -> Result<Lock> {
        let mut lock = Lock::default();
        let mut format_seen = false;
        for (i, line) in text.lines().enumerate() {
            let at = || format!("{}: line {}", path.display(), i + 1);
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some(f) = line.strip_prefix("format ") {
                if f != LOCK_FORMAT {
                    bail!("{}: format `{f}`, expected `{LOCK_FORMAT}`", at());
                }
                format_seen = true;
            } else if let Some(r) = line.strip_prefix("records ") {
                lock.records_dir = PathBuf::from(r);
            } else if let Some(c) = line.strip_prefix("code ") {
                lock.code.push(c.to_string());
            } else {
                let mut parts = line.splitn(3, "  ");
                let (Some(sha), Some(kind), Some(name)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    bail!("{}: expected `<sha256>  <kind>  <name>`", at());
                };
                // Inputs may carry `unpinned:<name>` instead of a digest.
                let hex = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
                if kind != "input" && !hex {
                    bail!("{}: `{sha}` is not a SHA-256", at());
                }
                let entry = (sha.to_string(), name.to_string());
                match kind {
                    "file" => lock.files.push(entry),
                    "record" => lock.records.push(entry),
                    "input" => lock.inputs.push(entry),
                    other => bail!("{}: unknown kind `{other}` (file, record or input)", at()),
                }
            }
        }
        if !format_seen {
            bail!("{}: no `format {LOCK_FORMAT}` line", path.display());
        }
        Ok(lock)
    }
}

/// What `--check` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LockCheck {
    pub checked: usize,
    /// One line per file that drifted or is missing, naming it.
    pub problems: Vec<String>,
    /// Temporary files of interrupted writes in the report folder (not part
    /// of the report; the next `report` removes them).
    pub leftovers: Vec<PathBuf>,
}

impl LockCheck {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Re-hashes every file of the report and every record it lists.
/// Records are looked up under `records_dir` if given, else the lock's folder.
pub fn check_report(report_dir: &Path, records_dir: Option<&Path>) -> Result<LockCheck> {
    let lock_path = report_dir.join(LOCK_FILE);
    let text = std::fs::read_to_string(&lock_path)
        .with_context(|| format!("{}: cannot read the report lock", lock_path.display()))?;
    let lock = Lock::parse(&lock_path, &text)?;
    let records_dir = records_dir
        .map(Path::to_path_buf)
        .unwrap_or(lock.records_dir.clone());
    let mut check = LockCheck {
        leftovers: crate::atomic::leftovers(report_dir)
            .with_context(|| format!("{}: cannot list", report_dir.display()))?,
        ..LockCheck::default()
    };
    let entries = lock
        .files
        .iter()
        .map(|(sha, name)| (sha, report_dir.join(name)))
        .chain(
            lock.records
                .iter()
                .map(|(sha, name)| (sha, records_dir.join(name))),
        );
    for (expected, path) in entries {
        check.checked += 1;
        match sha256_file(&path) {
            Ok(found) if &found == expected => {}
            Ok(found) => check.problems.push(format!(
                "{}: drifted (lock has {expected}, file has {found})",
                path.display()
            )),
            Err(e) => check.problems.push(format!("{}: {e}", path.display())),
        }
    }
    Ok(check)
}
