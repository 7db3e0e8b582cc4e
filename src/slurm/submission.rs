//! A submission's folder, `<runs>/slurm/submit-NNN/`: `runs.txt` (one run id
//! per line; array task `i` is line `i + 1`), `array.sbatch`,
//! `report.sbatch`, `jobs.json` (the job ids, written once submitted) and
//! `logs/`. Numbered, never overwritten: each submission's record stays.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SLURM_DIR: &str = "slurm";
pub const RUNS_FILE: &str = "runs.txt";
pub const JOBS_FILE: &str = "jobs.json";
pub const ARRAY_SCRIPT: &str = "array.sbatch";
pub const REPORT_SCRIPT: &str = "report.sbatch";

/// The job ids of a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jobs {
    pub array_job: String,
    pub report_job: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub dir: PathBuf,
}

impl Submission {
    /// Creates the next numbered submission folder (and its `logs/`) with its run list.
    pub fn create(runs_dir: &Path, run_ids: &[&str]) -> Result<Submission> {
        let root = runs_dir.join(SLURM_DIR);
        std::fs::create_dir_all(&root)
            .with_context(|| format!("{}: cannot create", root.display()))?;
        let next = all(runs_dir)?.len() + 1;
        // create_dir (not _all) fails if another submit took the number first.
        let mut n = next;
        let dir = loop {
            let dir = root.join(format!("submit-{n:03}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => {
                    return Err(e).with_context(|| format!("{}: cannot create", dir.display()))
                }
            }
        };
        std::fs::create_dir_all(dir.join("logs"))?;
        let mut list = run_ids.join("\n");
        list.push('\n');
        let submission = Submission { dir };
        submission.write(RUNS_FILE, &list)?;
        Ok(submission)
    }

    /// Writes one of the submission's files atomically.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.dir.join(name);
        crate::atomic::write(&path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
        Ok(path)
    }

    /// The run ids, in task order.
    pub fn runs(&self) -> Result<Vec<String>> {
        let path = self.dir.join(RUNS_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// The job ids, once submitted (`None` for a `--dry-run`).
    pub fn jobs(&self) -> Result<Option<Jobs>> {
        let path = self.dir.join(JOBS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let jobs = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        Ok(Some(jobs))
    }
}

/// Every submission of the runs folder, oldest first.
pub fn all(runs_dir: &Path) -> Result<Vec<Submission>> {
    let root = runs_dir.join(SLURM_DIR);
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("submit-"))
        })
        .collect();
    dirs.sort();
    Ok(dirs.into_iter().map(|dir| Submission { dir }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions_are_numbered_and_keep_their_run_lists() {
        let dir = tempfile::tempdir().unwrap();
        let a = Submission::create(dir.path(), &["aaa", "bbb"]).unwrap();
        let b = Submission::create(dir.path(), &["ccc"]).unwrap();
        assert!(a.dir.ends_with("slurm/submit-001") && b.dir.ends_with("slurm/submit-002"));
        assert_eq!(a.runs().unwrap(), vec!["aaa", "bbb"]);
        assert_eq!(all(dir.path()).unwrap(), vec![a.clone(), b]);
        assert_eq!(a.jobs().unwrap(), None);
        let jobs = Jobs {
            array_job: "12".into(),
            report_job: Some("13".into()),
        };
        a.write(JOBS_FILE, &serde_json::to_string(&jobs).unwrap())
            .unwrap();
        assert_eq!(a.jobs().unwrap(), Some(jobs));
    }
}
