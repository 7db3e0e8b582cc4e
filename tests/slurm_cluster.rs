//! `oodcal slurm` on a real single-node Slurm, started and stopped by
//! `scripts/slurm-cluster.sh`: a 6-run slice of the quick study as a job
//! array of at most 2 tasks at once; one task's oodcal killed with SIGKILL
//! mid-run, another task cancelled with `scancel` and a third requeued with
//! `scontrol requeue` (it resumes in the same submission); `slurm status`
//! names the first two; a second `submit` completes them; every record verifies, no run is
//! recorded twice, and the report job's page equals one built from the same
//! records on one machine.
//!
//! munged must run as its own user, so the test needs root (as CI has); it
//! says SKIPPED otherwise.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{oodcal, repo, run};

/// A one-node cluster whose daemons are stopped, by PID, when dropped.
struct Cluster {
    state: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(state: &Path) -> Cluster {
        let out = Command::new(repo().join("scripts/slurm-cluster.sh"))
            .arg("start")
            .arg(state)
            .output()
            .expect("scripts/slurm-cluster.sh runs");
        assert!(
            out.status.success(),
            "cluster did not start:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster {
            state: state.to_path_buf(),
            conf: state.join("slurm.conf"),
        }
    }

    fn cmd(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SLURM_CONF", &self.conf);
        cmd
    }

    fn stdout(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .cmd(program)
            .args(args)
            .output()
            .expect("slurm client runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until Slurm lists none of `jobs` (finished, cancelled or failed).
    fn wait_gone(&self, jobs: &[&str], within: Duration) {
        let list = jobs.join(",");
        wait_for(within, &format!("jobs {list} to finish"), || {
            self.stdout("squeue", &["-h", "-j", &list])
                .trim()
                .is_empty()
        });
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/slurm-cluster.sh"))
            .arg("stop")
            .arg(&self.state)
            .status();
    }
}

fn wait_for(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scratch repository: the data manifest, the quick study and its zoo.
fn scratch_repo(dir: &Path) -> PathBuf {
    let root = dir.join("repo");
    std::fs::create_dir_all(root.join("experiments")).unwrap();
    std::fs::copy(
        repo().join("data-manifest.toml"),
        root.join("data-manifest.toml"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("experiments/quick.toml"),
        root.join("experiments/quick.toml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(repo().join("experiments/zoo"), root.join("experiments/zoo"))
        .unwrap();
    root
}

struct Study {
    root: PathBuf,
    scratch: PathBuf,
    slurm_conf: PathBuf,
    /// The slice's run ids.
    runs: Vec<String>,
}

impl Study {
    fn oodcal(&self, args: &[&str]) -> common::Run {
        let mut cmd = oodcal(&self.scratch);
        cmd.env("SLURM_CONF", &self.slurm_conf)
            .arg("--manifest")
            .arg(self.root.join("data-manifest.toml"))
            .args(args);
        run(&mut cmd)
    }

    fn study_file(&self) -> String {
        self.root
            .join("experiments/quick.toml")
            .display()
            .to_string()
    }

    /// `args` with the study and `--only` for each run of the slice.
    fn with_slice(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push(self.study_file());
        for id in &self.runs {
            all.push("--only".into());
            all.push(id.clone());
        }
        all
    }

    fn submit(&self) -> (String, String) {
        let args = self.with_slice(&["slurm", "submit", "--array-parallelism", "2"]);
        let out = self.oodcal(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.code, 0, "submit:\n{}{}", out.stdout, out.stderr);
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with("submitted job array"))
            .unwrap_or_else(|| panic!("no job ids in:\n{}", out.stdout));
        let words: Vec<&str> = line.split_whitespace().collect();
        (words[3].to_string(), words[9].to_string())
    }

    fn states(&self) -> BTreeMap<String, String> {
        let args = self.with_slice(&["slurm", "status", "--json"]);
        let out = self.oodcal(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.code, 0, "status:\n{}{}", out.stdout, out.stderr);
        out.stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["run_id"].as_str().unwrap().to_string(),
                    v["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs/quick").join(id)
    }

    /// A run of the slice other than `except` whose lock a live oodcal holds, and its pid.
    fn training(&self, except: &[&str]) -> Option<(String, u32)> {
        self.runs
            .iter()
            .filter(|id| !except.contains(&id.as_str()))
            .find_map(|id| {
                let text = std::fs::read_to_string(self.run_dir(id).join("lock")).ok()?;
                let pid: u32 = text.split_whitespace().nth(3)?.parse().ok()?;
                Path::new("/proc")
                    .join(pid.to_string())
                    .exists()
                    .then(|| (id.clone(), pid))
            })
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The slice: resnet-base's six first runs (the slowest ResNet, so a task is
/// still training when the test reaches for it).
fn slice(study: &Study) -> Vec<String> {
    let out = study.oodcal(&["plan", &study.study_file(), "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<String> = plan["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spec"]["model"]["name"] == "resnet-base")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .take(6)
        .collect();
    assert_eq!(ids.len(), 6);
    ids
}

#[test]
fn a_job_array_survives_a_killed_a_cancelled_and_a_requeued_task() {
    if !is_root() {
        eprintln!("SKIPPED: munged must run as its own user, which needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = scratch_repo(dir.path());
    let cluster = Cluster::start(&dir.path().join("slurm"));
    let mut study = Study {
        root: root.clone(),
        scratch: dir.path().join("scratch"),
        slurm_conf: cluster.conf.clone(),
        runs: Vec::new(),
    };
    study.runs = slice(&study);

    let (array, report) = study.submit();
    // SIGKILL one task's oodcal mid-run; cancel another task while it trains.
    let mut killed = None;
    wait_for(Duration::from_secs(120), "a task to start training", || {
        killed = study.training(&[]);
        killed.is_some()
    });
    let (killed, pid) = killed.unwrap();
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let runs_txt =
        std::fs::read_to_string(root.join("runs/quick/slurm/submit-001/runs.txt")).unwrap();
    let mut cancelled = None;
    wait_for(Duration::from_secs(120), "a second task to train", || {
        cancelled = study.training(&[&killed]);
        cancelled.is_some()
    });
    let (cancelled, _) = cancelled.unwrap();
    let task = runs_txt.lines().position(|l| l == cancelled).unwrap();
    let scancel = cluster
        .cmd("scancel")
        .arg(format!("{array}_{task}"))
        .status()
        .unwrap();
    assert!(scancel.success());
    // Requeue a third while it trains: Slurm stops it as it stops a cancelled
    // task (SIGTERM), then starts it again, and it resumes from its checkpoint.
    let mut requeued = None;
    wait_for(Duration::from_secs(120), "a third task to train", || {
        requeued = study.training(&[&killed, &cancelled]);
        requeued.is_some()
    });
    let (requeued, _) = requeued.unwrap();
    let task = runs_txt.lines().position(|l| l == requeued).unwrap();
    let requeue = cluster
        .cmd("scontrol")
        .args(["requeue", &format!("{array}_{task}")])
        .status()
        .unwrap();
    assert!(requeue.success());
    cluster.wait_gone(&[&array, &report], Duration::from_secs(300));

    let states = study.states();
    assert!(
        ["interrupted", "missing"].contains(&states[&killed].as_str()),
        "killed run: {states:?}"
    );
    // SIGTERM from scancel: the run checkpointed before its task ended.
    assert_eq!(
        states[&cancelled], "interrupted",
        "cancelled run: {states:?}"
    );
    let recorded = states.values().filter(|s| *s == "recorded").count();
    assert_eq!(recorded, 4, "the other four ran to the end: {states:?}");
    assert_eq!(states[&requeued], "recorded", "requeued run: {states:?}");
    let record = oodcal::record::store::read_verified(&study.run_dir(&requeued)).unwrap();
    assert!(
        record.resumed_from > 0,
        "the requeued run resumed from step {}",
        record.resumed_from
    );

    let (array2, report2) = study.submit();
    let second =
        std::fs::read_to_string(root.join("runs/quick/slurm/submit-002/runs.txt")).unwrap();
    let mut resent: Vec<&str> = second.lines().collect();
    resent.sort_unstable();
    let mut expected = vec![killed.as_str(), cancelled.as_str()];
    expected.sort_unstable();
    assert_eq!(
        resent, expected,
        "only the two unfinished runs are sent again"
    );
    cluster.wait_gone(&[&array2, &report2], Duration::from_secs(300));
    assert!(
        study.states().values().all(|s| s == "recorded"),
        "{:?}",
        study.states()
    );

    // Every record verifies; the cancelled run resumed from its checkpoint.
    let verify = study.oodcal(&[
        "verify",
        "--records",
        &root.join("runs/quick").display().to_string(),
    ]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    let record = oodcal::record::store::read_verified(&study.run_dir(&cancelled)).unwrap();
    assert!(
        record.resumed_from > 0,
        "cancelled run resumed from step {}",
        record.resumed_from
    );
    // No run recorded twice: across every task's log, one completion line per run.
    let mut completions: BTreeMap<String, usize> = BTreeMap::new();
    for sub in ["submit-001", "submit-002"] {
        for log in std::fs::read_dir(root.join("runs/quick/slurm").join(sub).join("logs")).unwrap()
        {
            let text = std::fs::read_to_string(log.unwrap().path()).unwrap();
            for id in &study.runs {
                let done = text
                    .lines()
                    .filter(|l| l.contains(&id[..12]) && l.contains("OOD acc"))
                    .count();
                *completions.entry(id.clone()).or_default() += done;
            }
        }
    }
    assert!(
        completions.values().all(|&n| n == 1),
        "completions per run: {completions:?}"
    );

    // The report job's page equals one built here from the same records.
    let local = dir.path().join("local-report");
    let built = study.oodcal(&[
        "report",
        "--study",
        &study.study_file(),
        "--out",
        &local.display().to_string(),
    ]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    for file in ["index.html", "runs.csv", "claims.csv"] {
        let from_job = std::fs::read(root.join("reports/quick").join(file)).unwrap();
        let here = std::fs::read(local.join(file)).unwrap();
        assert!(
            from_job == here,
            "{file} of the report job differs from one built here"
        );
    }
}

/// Without a cluster: `--dry-run` writes a readable array script and run
/// list and submits nothing, and `status` names every run missing.
#[test]
fn a_dry_run_writes_the_scripts_and_status_needs_no_cluster() {
    let tiny = common::tiny::TinyRepo::new(2, 2, "0.01");
    // As for `run`, every input must verify before anything is submitted.
    let refused = run(&mut tiny.cmd(&["slurm", "submit", "--dry-run"]));
    assert!(
        refused.code != 0 && refused.stderr.contains("oodcal pretrain"),
        "{}",
        refused.stderr
    );
    tiny.oodcal(&["pretrain", "--pin"]);
    let out = tiny.oodcal(&[
        "slurm",
        "submit",
        "--dry-run",
        "--time",
        "01:00:00",
        "--cpus-per-task",
        "2",
    ]);
    assert!(out.stdout.contains("submitted nothing"), "{}", out.stdout);
    let dir = tiny.runs_dir().join("slurm/submit-001");
    let runs = std::fs::read_to_string(dir.join("runs.txt")).unwrap();
    assert_eq!(runs.lines().count(), 2, "both planned runs: {runs}");
    let script = std::fs::read_to_string(dir.join("array.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --time=01:00:00",
        "#SBATCH --cpus-per-task=2",
    ] {
        assert!(
            script.lines().any(|l| l == line),
            "missing `{line}` in\n{script}"
        );
    }
    assert!(
        script.contains(" run ") && script.contains("--only \"$run\""),
        "{script}"
    );
    assert!(!dir.join("jobs.json").exists(), "a dry run submits nothing");

    let status = tiny.oodcal(&["slurm", "status", "--json"]);
    let states: Vec<serde_json::Value> = status
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(states.len(), 2);
    assert!(
        states.iter().all(|s| s["state"] == "missing"),
        "{}",
        status.stdout
    );
}
