//! The `sbatch` scripts of a submission: a job array whose task `i` trains
//! the run on line `i + 1` of `runs.txt`, and the report job.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What each task asks of the cluster (`#SBATCH` lines).
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub partition: Option<String>,
    pub gres: Option<String>,
    /// Time limit per task, in any form `sbatch --time` takes.
    pub time: Option<String>,
    pub cpus_per_task: u32,
    pub mem: Option<String>,
    /// At most this many tasks at once (`--array=...%N`).
    pub array_parallelism: Option<u32>,
    /// SIGUSR1 this many seconds before the time limit: time to checkpoint.
    pub signal_seconds: u32,
    /// More `#SBATCH` options, verbatim (e.g. `--account=ml`).
    pub extra: Vec<String>,
}

/// How a task calls oodcal: the binary, the global options of the submitting
/// command (data manifest, data, weights, cache), the repository to run in.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub binary: PathBuf,
    pub global: Vec<String>,
    pub repo: PathBuf,
    pub study: PathBuf,
    pub backend: String,
}

/// The job array: `runs` tasks, one run each.
pub fn array_script(
    study: &str,
    runs: usize,
    dir: &Path,
    res: &Resources,
    inv: &Invocation,
) -> String {
    let mut s = header(&format!(
        "study `{study}`: {runs} run(s), one per array task. Task i trains the run on\n\
         # line i+1 of runs.txt into the study's runs folder, as `oodcal run` does on\n\
         # one machine. Told to stop (scancel, preemption, SIGUSR1 before the time\n\
         # limit) it checkpoints and exits with 75; `oodcal slurm submit` again resumes it."
    ));
    let limit = res
        .array_parallelism
        .map(|n| format!("%{n}"))
        .unwrap_or_default();
    sbatch(&mut s, &format!("--job-name=oodcal-{study}"));
    sbatch(
        &mut s,
        &format!("--array=0-{}{limit}", runs.saturating_sub(1)),
    );
    sbatch(
        &mut s,
        &format!("--output={}", dir.join("logs/%A_%a.out").display()),
    );
    sbatch(&mut s, &format!("--signal=B:USR1@{}", res.signal_seconds));
    resources(&mut s, res);
    s.push_str("set -euo pipefail\n");
    let _ = writeln!(s, "cd {}", quote(&inv.repo.display().to_string()));
    let _ = writeln!(
        s,
        "run=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})",
        quote(&dir.join("runs.txt").display().to_string())
    );
    // exec: oodcal itself receives the scheduler's signals, not a shell.
    let _ = writeln!(
        s,
        "exec {} run {} --only \"$run\" --backend {} --jobs 1",
        command(inv),
        quote(&inv.study.display().to_string()),
        inv.backend
    );
    s
}

/// The report job, run after the array whatever became of its tasks.
pub fn report_script(study: &str, dir: &Path, res: &Resources, inv: &Invocation) -> String {
    let mut s = header(&format!(
        "study `{study}`: the report, after the job array (afterany). It reports the\n\
         # runs recorded so far; runs still missing are named on the page."
    ));
    sbatch(&mut s, &format!("--job-name=oodcal-{study}-report"));
    sbatch(
        &mut s,
        &format!("--output={}", dir.join("logs/report-%j.out").display()),
    );
    let plain = Resources {
        partition: res.partition.clone(),
        time: res.time.clone(),
        cpus_per_task: 1,
        extra: res.extra.clone(),
        ..Resources::default()
    };
    resources(&mut s, &plain);
    s.push_str("set -euo pipefail\n");
    let _ = writeln!(s, "cd {}", quote(&inv.repo.display().to_string()));
    let _ = writeln!(
        s,
        "exec {} report --study {}",
        command(inv),
        quote(&inv.study.display().to_string())
    );
    s
}

fn header(what: &str) -> String {
    format!("#!/bin/bash\n# Written by `oodcal slurm submit` for {what}\n")
}

fn sbatch(s: &mut String, option: &str) {
    let _ = writeln!(s, "#SBATCH {option}");
}

fn resources(s: &mut String, res: &Resources) {
    sbatch(s, &format!("--cpus-per-task={}", res.cpus_per_task.max(1)));
    let optional = [
        ("partition", &res.partition),
        ("gres", &res.gres),
        ("time", &res.time),
        ("mem", &res.mem),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            sbatch(s, &format!("--{name}={v}"));
        }
    }
    for line in &res.extra {
        sbatch(s, line.trim());
    }
}

fn command(inv: &Invocation) -> String {
    std::iter::once(inv.binary.display().to_string())
        .chain(inv.global.iter().cloned())
        .map(|w| quote(&w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word for the shell: as is when it is plainly safe, else single-quoted.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=+:,@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation() -> Invocation {
        Invocation {
            binary: "/opt/oodcal/bin/oodcal".into(),
            global: vec![
                "--manifest".into(),
                "/data/my repo/data-manifest.toml".into(),
            ],
            repo: "/data/my repo".into(),
            study: "/data/my repo/experiments/quick.toml".into(),
            backend: "cuda".into(),
        }
    }

    #[test]
    fn the_array_script_asks_for_what_was_given_and_runs_one_run_per_task() {
        let res = Resources {
            partition: Some("gpu".into()),
            gres: Some("gpu:1".into()),
            time: Some("02:00:00".into()),
            cpus_per_task: 4,
            mem: Some("16G".into()),
            array_parallelism: Some(2),
            signal_seconds: 120,
            extra: vec!["--account=ml".into()],
        };
        let s = array_script(
            "quick",
            6,
            Path::new("/runs/slurm/submit-001"),
            &res,
            &invocation(),
        );
        for line in [
            "#SBATCH --array=0-5%2",
            "#SBATCH --partition=gpu",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --time=02:00:00",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --mem=16G",
            "#SBATCH --signal=B:USR1@120",
            "#SBATCH --account=ml",
            "#SBATCH --output=/runs/slurm/submit-001/logs/%A_%a.out",
            "cd '/data/my repo'",
            "exec /opt/oodcal/bin/oodcal --manifest '/data/my repo/data-manifest.toml' run \
             '/data/my repo/experiments/quick.toml' --only \"$run\" --backend cuda --jobs 1",
        ] {
            assert!(s.lines().any(|l| l == line), "missing `{line}` in\n{s}");
        }
        assert!(s.starts_with("#!/bin/bash\n"));
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(quote("plain/path-1.toml"), "plain/path-1.toml");
        assert_eq!(quote("it's here"), r"'it'\''s here'");
        assert_eq!(quote(""), "''");
    }
}
