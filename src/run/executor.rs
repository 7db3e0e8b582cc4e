//! Walks a study's planned runs: skips those whose record verifies, resumes
//! interrupted ones from their checkpoints, runs a subset (`--only`, `--limit`)
//! so a study can be spread over processes or machines.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::benchmark::{load_benchmark, BenchmarkSet, Trial};
use super::code_version::code_version;
use super::finetune::{FineTuneJob, Stopped};
use super::lock::{claim, Claim};
use super::parallel::{for_each_parallel, threads_per_job};
use super::start::{resolve_starts, Start};
use crate::data::augment::FineTuneAug;
use crate::data::batch::Transform;
use crate::inputs::{Catalogue, Roots};
use crate::record::store::{read_verified, RecordError};
use crate::record::{RunRecord, RunStatus};
use crate::study::{PlannedRun, Study};
use crate::train::{dispatch, BackendKind};

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub backend: BackendKind,
    /// Only runs whose id starts with, or whose model label equals, one of these.
    pub only: Vec<String>,
    /// At most this many runs that still need work.
    pub limit: Option<usize>,
    /// Runs trained side by side (CPU: each on `cores / jobs` threads).
    pub jobs: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StudySummary {
    pub planned: usize,
    pub selected: usize,
    /// Runs whose record already verified.
    pub skipped: usize,
    pub completed: usize,
    pub failed: usize,
    /// Selected runs left for later by `--limit`.
    pub deferred: usize,
    /// Runs another live process was training (each left to it).
    pub busy: usize,
    /// Runs stopped on request (checkpointed) or not started after one.
    pub stopped: usize,
    pub runs_dir: PathBuf,
}

/// What one worker did with a pending run.
enum Done {
    Trained(Box<RunRecord>),
    /// Another process holds the run's lock.
    Busy,
    /// Another process recorded it after this one planned it.
    Recorded,
    /// A stop was requested: checkpointed mid-run, or never started.
    Stopped,
}

/// The runs `--only` selects (all of them when it is empty).
pub fn selected<'a>(runs: &'a [PlannedRun], only: &[String]) -> Vec<&'a PlannedRun> {
    runs.iter()
        .filter(|r| {
            only.is_empty()
                || only
                    .iter()
                    .any(|o| r.id.starts_with(o.as_str()) || r.spec.model.name.get_ref() == o)
        })
        .collect()
}

/// Runs (or skips) every selected run of `study`.
pub fn run_study(
    study: &Study,
    catalogue: &Catalogue,
    roots: &Roots,
    runs: &[PlannedRun],
    options: &RunOptions,
) -> Result<StudySummary> {
    let runs_dir = roots.repo.join(&study.runs_dir);
    let chosen = selected(runs, &options.only);
    if chosen.is_empty() && !options.only.is_empty() {
        bail!(
            "--only {:?} matches no run of study {}",
            options.only,
            study.name()
        );
    }
    let mut summary = StudySummary {
        planned: runs.len(),
        selected: chosen.len(),
        runs_dir: runs_dir.clone(),
        ..StudySummary::default()
    };
    let mut pending = Vec::new();
    for run in chosen {
        match read_verified(&runs_dir.join(&run.id)) {
            Ok(record) if record.run_id == run.id => summary.skipped += 1,
            Ok(_) | Err(RecordError::Absent(_)) => pending.push(run),
            Err(e) => {
                eprintln!("warning: {e}; running it again");
                pending.push(run);
            }
        }
    }
    let limit = options.limit.unwrap_or(usize::MAX);
    summary.deferred = pending.len().saturating_sub(limit);
    pending.truncate(limit);
    if pending.is_empty() {
        return Ok(summary);
    }
    let bench = load_benchmark(&study.benchmark, catalogue, roots)?;
    let starts = resolve_starts(study, catalogue, roots, &pending)?;
    let trials = trials(&bench, &pending)?;
    let shared = Shared {
        study,
        bench: &bench,
        trials: &trials,
        starts: &starts,
        runs_dir: &runs_dir,
        code: code_version(&roots.repo),
        backend: options.backend,
        total: pending.len(),
    };
    let jobs = options.jobs.clamp(1, pending.len());
    let threads = threads_per_job(options.backend, jobs);
    let done = for_each_parallel(pending, jobs, threads, |i, run| {
        let label = format!(
            "[{}/{}] {}",
            i + 1,
            shared.total,
            run.spec.model.name.get_ref()
        );
        claim_and_run(&shared, run, &label)
    })?;
    for d in done {
        match d {
            Done::Trained(r) if r.is_completed() => summary.completed += 1,
            Done::Trained(_) => summary.failed += 1,
            Done::Busy => summary.busy += 1,
            Done::Recorded => summary.skipped += 1,
            Done::Stopped => summary.stopped += 1,
        }
    }
    Ok(summary)
}

/// Trains `run` if this process can claim it (see [`super::lock`]) and it
/// is still unrecorded once claimed; tidies what an interrupted write left.
fn claim_and_run(shared: &Shared, run: &PlannedRun, label: &str) -> Result<Done> {
    if crate::train::stop::requested() {
        return Ok(Done::Stopped);
    }
    let dir = shared.runs_dir.join(&run.id);
    let lock = match claim(&dir).with_context(|| format!("{}: cannot lock", dir.display()))? {
        Claim::Held(lock) => lock,
        Claim::Busy(holder) => {
            crate::progress::println(&format!(
                "{label} {}: being trained by another process ({holder}); left to it",
                run.short_id()
            ));
            return Ok(Done::Busy);
        }
    };
    if matches!(read_verified(&dir), Ok(r) if r.run_id == run.id) {
        return Ok(Done::Recorded);
    }
    crate::atomic::clean_leftovers(&dir)
        .with_context(|| format!("{}: cannot remove leftovers", dir.display()))?;
    let record = match run_one(shared, run, label) {
        Ok(record) => record,
        Err(e) => match e.downcast_ref::<Stopped>() {
            Some(stopped) => {
                crate::progress::println(&format!("{label} {}: {stopped}", run.short_id()));
                return Ok(Done::Stopped);
            }
            None => return Err(e),
        },
    };
    crate::progress::println(&one_line(label, run, &record));
    lock.release_committed();
    Ok(Done::Trained(Box::new(record)))
}

/// The trial (splits and evaluation tensors) of every seed among `pending`;
/// partial fine-tuning evaluates on features, so its trials hold no images.
fn trials(bench: &BenchmarkSet, pending: &[&PlannedRun]) -> Result<BTreeMap<u64, Trial>> {
    let mut trials = BTreeMap::new();
    for run in pending {
        if let Entry::Vacant(slot) = trials.entry(run.spec.seed) {
            let seed = run.spec.seed;
            let aug = Transform::FineTune(FineTuneAug::default());
            slot.insert(match run.spec.trainable_blocks {
                Some(_) => bench.trial_splits(seed)?,
                None => bench.trial(seed, run.spec.augment_id_validation, aug)?,
            });
        }
    }
    Ok(trials)
}

/// What every run of one `run_study` call reads.
struct Shared<'a> {
    study: &'a Study,
    bench: &'a BenchmarkSet,
    trials: &'a BTreeMap<u64, Trial>,
    starts: &'a BTreeMap<String, Start>,
    runs_dir: &'a std::path::Path,
    code: crate::record::CodeVersion,
    backend: BackendKind,
    total: usize,
}

fn run_one(shared: &Shared, run: &PlannedRun, label: &str) -> Result<RunRecord> {
    let start = shared
        .starts
        .get(run.spec.model.name.get_ref())
        .cloned()
        .unwrap_or(Start::Scratch);
    let trial = shared
        .trials
        .get(&run.spec.seed)
        .context("no trial for the run's seed")?;
    let mut inputs = run.spec.inputs.clone();
    inputs.insert(
        format!("splits:trial-{}", run.spec.seed),
        trial.splits.digest(),
    );
    let bar = crate::progress::bar(u64::from(run.spec.steps), label);
    let job = FineTuneJob {
        run,
        study: shared.study.name(),
        set: &shared.bench.set,
        resolution: shared.bench.resolution,
        trial,
        start,
        dir: shared.runs_dir.join(&run.id),
        code: shared.code.clone(),
        inputs,
        bar: bar.clone(),
    };
    let record = dispatch(shared.backend, job)??;
    bar.finish_and_clear();
    Ok(record)
}

fn one_line(label: &str, run: &PlannedRun, record: &RunRecord) -> String {
    let s = &run.spec;
    let head = format!(
        "{label} {} {} lr={} wd={} seed={}",
        run.short_id(),
        s.algorithm.name(),
        s.learning_rate,
        s.weight_decay,
        s.seed
    );
    match (&record.status, &record.final_metrics) {
        (RunStatus::Completed, Some(m)) => format!(
            "{head}: ID acc {:.1}%, OOD acc {:.1}%, OOD ECE {:.1}% ({:.0} s)",
            m.at.id_accuracy, m.at.ood_accuracy, m.at.ood_ece, record.wall_seconds
        ),
        (RunStatus::Failed { step, reason }, _) => {
            format!("{head}: FAILED at step {step}: {reason}")
        }
        _ => format!("{head}: completed"),
    }
}
