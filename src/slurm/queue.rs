//! The Slurm commands oodcal calls: `sbatch` to submit, `squeue` for the
//! tasks still queued or running, `sacct` for finished ones where the cluster
//! keeps accounting (without slurmdbd it does not, and finished tasks are
//! then known only by what they left in the runs folder).

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Submits `script` (`sbatch --parsable`), after `dependency` when given;
/// returns the job id.
pub fn sbatch(script: &Path, dependency: Option<&str>) -> Result<String> {
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable");
    if let Some(d) = dependency {
        cmd.arg(format!("--dependency={d}"));
    }
    cmd.arg(script);
    let out = cmd
        .output()
        .context("cannot run `sbatch` (is Slurm installed and SLURM_CONF set?)")?;
    if !out.status.success() {
        bail!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // `--parsable` prints `id` or `id;cluster`.
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch {}: unexpected output `{}`",
            script.display(),
            text.trim()
        );
    }
    Ok(id)
}

/// The array tasks of `job` that Slurm still lists (pending, running,
/// completing), by task index, with their state and reason.
pub fn queued_tasks(job: &str) -> Result<BTreeMap<usize, (String, String)>> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-j", job, "-o", "%i|%T|%r"])
        .output()
        .context("cannot run `squeue` (is Slurm installed and SLURM_CONF set?)")?;
    // A job that left the queue long ago is an "Invalid job id": none queued.
    if !out.status.success() {
        return Ok(BTreeMap::new());
    }
    Ok(parse_squeue(job, &String::from_utf8_lossy(&out.stdout)))
}

/// `squeue -r -o "%i|%T|%r"` lines of `job`'s array tasks (`123_4|RUNNING|None`).
pub fn parse_squeue(job: &str, text: &str) -> BTreeMap<usize, (String, String)> {
    let prefix = format!("{job}_");
    text.lines()
        .filter_map(|line| {
            let mut parts = line.trim().split('|');
            let task = parts.next()?.strip_prefix(&prefix)?.parse().ok()?;
            let state = parts.next()?.to_string();
            let reason = parts.next().unwrap_or_default().to_string();
            Some((task, (state, reason)))
        })
        .collect()
}

/// Final states of `job`'s array tasks from `sacct`, or `None` where the
/// cluster keeps no accounting.
pub fn finished_tasks(job: &str) -> Option<BTreeMap<usize, String>> {
    let out = Command::new("sacct")
        .args(["-n", "-P", "-X", "-j", job, "-o", "JobID,State"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let prefix = format!("{job}_");
    let text = String::from_utf8_lossy(&out.stdout);
    let states = text
        .lines()
        .filter_map(|line| {
            let (id, state) = line.trim().split_once('|')?;
            let task = id.strip_prefix(&prefix)?.parse().ok()?;
            Some((task, state.to_string()))
        })
        .collect();
    Some(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_map_to_tasks() {
        let text = "12_3|RUNNING|None\n12_4|PENDING|JobArrayTaskLimit\n13_0|PENDING|Dependency\n";
        let tasks = parse_squeue("12", text);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[&3], ("RUNNING".to_string(), "None".to_string()));
        assert_eq!(tasks[&4].1, "JobArrayTaskLimit");
    }
}
