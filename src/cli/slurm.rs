//! `oodcal slurm submit` and `oodcal slurm status`: a study's grid as a
//! Slurm job array (see [`crate::slurm`]).

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Context, Global};
use crate::slurm::queue;
use crate::slurm::script::{array_script, report_script, Invocation, Resources};
use crate::slurm::status::{run_states, RunLine, RunState};
use crate::slurm::submission::{Jobs, Submission, ARRAY_SCRIPT, JOBS_FILE, REPORT_SCRIPT};
use crate::study::{expand, PlannedRun, Study};
use crate::train::BackendKind;

#[derive(Args, Debug)]
pub struct SlurmArgs {
    #[command(subcommand)]
    pub command: SlurmCommand,
}

#[derive(Subcommand, Debug)]
pub enum SlurmCommand {
    /// Write and submit a job array of the study's runs that are neither recorded, queued nor running (one task per run), and a report job after it.
    Submit(SubmitArgs),
    /// Each run's state: recorded, failed, running, pending, interrupted (checkpoint kept) or missing.
    Status(StatusArgs),
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The study manifest.
    pub study: PathBuf,
    /// Only these runs: a run-id prefix or a model label (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    #[arg(long)]
    pub partition: Option<String>,
    /// Generic resources per task, e.g. `gpu:1`.
    #[arg(long)]
    pub gres: Option<String>,
    /// Time limit per task (`sbatch --time`), e.g. `04:00:00`.
    #[arg(long)]
    pub time: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: u32,
    /// Memory per task (`sbatch --mem`), e.g. `8G`.
    #[arg(long)]
    pub mem: Option<String>,
    /// At most this many tasks at once (`--array=...%N`).
    #[arg(long)]
    pub array_parallelism: Option<u32>,
    /// Backend each task trains on.
    #[arg(long, default_value = "cpu")]
    pub backend: BackendKind,
    /// SIGUSR1 this many seconds before the time limit, to checkpoint.
    #[arg(long, default_value_t = 120)]
    pub signal_seconds: u32,
    /// Another `#SBATCH` option, verbatim (repeatable), e.g. `--account=ml`.
    #[arg(long = "sbatch", value_name = "OPTION")]
    pub extra: Vec<String>,
    /// The oodcal binary the tasks run (default: this one).
    #[arg(long)]
    pub oodcal: Option<PathBuf>,
    /// Write the scripts only; submit nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The study manifest.
    pub study: PathBuf,
    /// Only these runs: a run-id prefix or a model label (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// One JSON object per run instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: &SlurmArgs) -> Result<ExitCode> {
    match &a.command {
        SlurmCommand::Submit(s) => submit(g, s),
        SlurmCommand::Status(s) => status(g, s),
    }
}

/// The study, its runs folder and the runs `--only` selects.
fn planned(g: &Global, study: &Path, only: &[String]) -> Result<(Context, Study, Vec<PlannedRun>)> {
    let ctx = Context::open(g, true)?;
    let study = Study::load(study, &ctx.catalogue)?;
    let runs = expand(&study, &ctx.catalogue);
    let chosen: Vec<PlannedRun> = crate::run::executor::selected(&runs, only)
        .into_iter()
        .cloned()
        .collect();
    if chosen.is_empty() {
        bail!("--only {only:?} matches no run of study {}", study.name());
    }
    Ok((ctx, study, chosen))
}

fn submit(g: &Global, a: &SubmitArgs) -> Result<ExitCode> {
    let (ctx, study, chosen) = planned(g, &a.study, &a.only)?;
    let runs_dir = ctx.roots.repo.join(&study.runs_dir);
    let refs: Vec<&PlannedRun> = chosen.iter().collect();
    let states = run_states(&refs, &runs_dir)?;
    let todo: Vec<&PlannedRun> = chosen
        .iter()
        .zip(&states)
        .filter(|(_, s)| s.state.needs_submitting())
        .map(|(r, _)| r)
        .collect();
    if todo.is_empty() {
        println!("nothing to submit: {}", counts(&states));
        return Ok(ExitCode::SUCCESS);
    }
    super::run::require_runnable(&ctx, &todo.iter().map(|r| (*r).clone()).collect::<Vec<_>>())?;
    let ids: Vec<&str> = todo.iter().map(|r| r.id.as_str()).collect();
    let sub = Submission::create(&runs_dir, &ids)?;
    let inv = invocation(g, &ctx, &a.study, a)?;
    let res = resources(a);
    let array = sub.write(
        ARRAY_SCRIPT,
        &array_script(study.name(), ids.len(), &sub.dir, &res, &inv),
    )?;
    let report = sub.write(
        REPORT_SCRIPT,
        &report_script(study.name(), &sub.dir, &res, &inv),
    )?;
    println!(
        "{} run(s) of study {} in {}",
        ids.len(),
        study.name(),
        sub.dir.display()
    );
    if a.dry_run {
        println!(
            "dry run: wrote {} and {}; submitted nothing",
            array.display(),
            report.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let array_job = queue::sbatch(&array, None)?;
    let report_job = queue::sbatch(&report, Some(&format!("afterany:{array_job}")))?;
    let jobs = Jobs {
        array_job: array_job.clone(),
        report_job: Some(report_job.clone()),
    };
    sub.write(JOBS_FILE, &serde_json::to_string_pretty(&jobs)?)?;
    println!(
        "submitted job array {array_job} ({} tasks) and report job {report_job} (after it)",
        ids.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn resources(a: &SubmitArgs) -> Resources {
    Resources {
        partition: a.partition.clone(),
        gres: a.gres.clone(),
        time: a.time.clone(),
        cpus_per_task: a.cpus_per_task,
        mem: a.mem.clone(),
        array_parallelism: a.array_parallelism,
        signal_seconds: a.signal_seconds,
        extra: a.extra.clone(),
    }
}

/// The tasks call the same oodcal with the same global options, as absolute
/// paths (tasks start in the repository, maybe on another machine).
fn invocation(g: &Global, ctx: &Context, study: &Path, a: &SubmitArgs) -> Result<Invocation> {
    let abs = |p: &Path| {
        std::path::absolute(p).with_context(|| format!("{}: no absolute path", p.display()))
    };
    let binary = match &a.oodcal {
        Some(p) => abs(p)?,
        None => std::env::current_exe().context("cannot locate the oodcal binary")?,
    };
    let mut global = vec![
        "--manifest".to_string(),
        abs(&g.manifest)?.display().to_string(),
    ];
    let optional = [
        ("--data-root", &g.data_root),
        ("--weights-dir", &g.weights_dir),
        ("--cache-dir", &g.cache_dir),
    ];
    for (flag, value) in optional {
        if let Some(v) = value {
            global.push(flag.to_string());
            global.push(abs(v)?.display().to_string());
        }
    }
    Ok(Invocation {
        binary,
        global,
        repo: abs(&ctx.roots.repo)?,
        study: abs(study)?,
        backend: a.backend.name().to_string(),
    })
}

fn status(g: &Global, a: &StatusArgs) -> Result<ExitCode> {
    let (ctx, study, chosen) = planned(g, &a.study, &a.only)?;
    let runs_dir = ctx.roots.repo.join(&study.runs_dir);
    let refs: Vec<&PlannedRun> = chosen.iter().collect();
    let states = run_states(&refs, &runs_dir)?;
    if a.json {
        for s in &states {
            println!("{}", serde_json::to_string(s)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!("study {}: {}", study.name(), counts(&states));
    let width = states
        .iter()
        .map(|s| s.label.len())
        .max()
        .unwrap_or(0)
        .max(5);
    println!(
        "{:<12}  {:<width$}  {:<11}  {:<10}  detail",
        "run", "model", "state", "task"
    );
    for s in &states {
        println!(
            "{:<12}  {:<width$}  {:<11}  {:<10}  {}",
            &s.run_id[..12.min(s.run_id.len())],
            s.label,
            s.state.name(),
            s.task.as_deref().unwrap_or("-"),
            s.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// "3 recorded, 1 running, 2 missing".
fn counts(states: &[RunLine]) -> String {
    let mut by: std::collections::BTreeMap<RunState, usize> = Default::default();
    for s in states {
        *by.entry(s.state).or_default() += 1;
    }
    by.iter()
        .map(|(state, n)| format!("{n} {}", state.name()))
        .collect::<Vec<_>>()
        .join(", ")
}
