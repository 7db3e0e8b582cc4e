//! Each planned run's state on a cluster, from what the runs folder holds
//! (records, run locks, checkpoints) and what Slurm still lists.

use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use super::queue;
use super::submission::{self, Submission};
use crate::record::store::read_verified;
use crate::run::finetune::CHECKPOINT_FILE;
use crate::run::lock::live_holder;
use crate::study::PlannedRun;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// A verified record of a completed run.
    Recorded,
    /// A verified record of a run that failed (e.g. a NaN loss): a result, not resubmitted.
    Failed,
    /// A process holds the run's lock, or its task is running.
    Running,
    /// Its task is queued.
    Pending,
    /// No record, nobody on it, a checkpoint left: resumes when submitted again.
    Interrupted,
    /// No record, nobody on it, nothing left.
    Missing,
}

impl RunState {
    pub fn name(self) -> &'static str {
        match self {
            RunState::Recorded => "recorded",
            RunState::Failed => "failed",
            RunState::Running => "running",
            RunState::Pending => "pending",
            RunState::Interrupted => "interrupted",
            RunState::Missing => "missing",
        }
    }

    /// Whether `oodcal slurm submit` sends it (again).
    pub fn needs_submitting(self) -> bool {
        matches!(self, RunState::Interrupted | RunState::Missing)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RunLine {
    pub run_id: String,
    pub label: String,
    pub state: RunState,
    /// The last task that had the run (`job_task`), when one did.
    pub task: Option<String>,
    /// What the lock, the queue or accounting says.
    pub detail: String,
}

/// Where the run was last sent: its array task, and that task's state in
/// the queue (or in accounting once finished).
#[derive(Clone, Debug, Default)]
struct LastTask {
    id: String,
    queued: Option<(String, String)>,
    finished: Option<String>,
}

/// The state of every run in `runs`, whose folders are under `runs_dir`.
pub fn run_states(runs: &[&PlannedRun], runs_dir: &Path) -> Result<Vec<RunLine>> {
    let tasks = last_tasks(runs_dir)?;
    Ok(runs
        .iter()
        .map(|run| line(run, runs_dir, tasks.get(&run.id)))
        .collect())
}

fn line(run: &PlannedRun, runs_dir: &Path, task: Option<&LastTask>) -> RunLine {
    let dir = runs_dir.join(&run.id);
    let (state, detail) = state_of(run, &dir, task);
    RunLine {
        run_id: run.id.clone(),
        label: run.spec.model.name.get_ref().clone(),
        state,
        task: task.map(|t| t.id.clone()),
        detail,
    }
}

fn state_of(run: &PlannedRun, dir: &Path, task: Option<&LastTask>) -> (RunState, String) {
    if let Ok(record) = read_verified(dir) {
        if record.run_id == run.id {
            return if record.is_completed() {
                (RunState::Recorded, String::new())
            } else {
                (RunState::Failed, format!("{:?}", record.status))
            };
        }
    }
    if let Some(holder) = live_holder(dir) {
        return (RunState::Running, format!("lock held by {holder}"));
    }
    let queued = task.and_then(|t| t.queued.clone());
    match queued.as_ref().map(|(s, r)| (s.as_str(), r.as_str())) {
        Some(("PENDING", reason)) => return (RunState::Pending, format!("queued ({reason})")),
        Some((state, _)) => return (RunState::Running, format!("task {}", state.to_lowercase())),
        None => {}
    }
    let ended = task.map(|t| match &t.finished {
        Some(state) => format!("its task ended {state}"),
        None => "its task is no longer queued".to_string(),
    });
    if dir.join(CHECKPOINT_FILE).exists() {
        let why = ended.unwrap_or_else(|| "never submitted".to_string());
        (RunState::Interrupted, format!("checkpoint kept; {why}"))
    } else {
        (
            RunState::Missing,
            ended.unwrap_or_else(|| "never submitted".to_string()),
        )
    }
}

/// For every run any submission sent, its latest task and what Slurm says of it.
fn last_tasks(runs_dir: &Path) -> Result<BTreeMap<String, LastTask>> {
    let mut last = BTreeMap::new();
    for sub in submission::all(runs_dir)? {
        let Some(jobs) = sub.jobs()? else { continue };
        let queued = queue::queued_tasks(&jobs.array_job)?;
        let finished = queue::finished_tasks(&jobs.array_job).unwrap_or_default();
        for (i, run) in Submission::runs(&sub)?.into_iter().enumerate() {
            let task = LastTask {
                id: format!("{}_{i}", jobs.array_job),
                queued: queued.get(&i).cloned(),
                finished: finished.get(&i).cloned(),
            };
            last.insert(run, task);
        }
    }
    Ok(last)
}
