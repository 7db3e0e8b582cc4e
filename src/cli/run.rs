//! `oodcal run`: execute a study's planned runs, one verifiable record each.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::run::{run_study, RunOptions, StudySummary};
use crate::study::{expand, PlannedRun, Study};
use crate::train::BackendKind;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The study manifest.
    #[arg(default_value = "experiments/quick.toml")]
    pub study: PathBuf,
    /// cpu (burn-flex), wgpu (Vulkan/Metal/DX12, or Mesa's lavapipe), cuda (build
    /// with `--features cuda`), or auto (CUDA when present, else CPU).
    #[arg(long, default_value = "cpu", env = "OODCAL_BACKEND")]
    pub backend: BackendKind,
    /// Only these runs: a run-id prefix or a model label (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// Run at most this many of the runs that still need work.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub jobs: JobsArg,
}

/// How many runs train side by side.
#[derive(Args, Debug, Clone, Copy)]
pub struct JobsArg {
    /// Runs trained side by side. Default on the CPU backend: one per core
    /// (each on one thread: flex's kernels for these small models barely use a
    /// second core); on a GPU: 1.
    #[arg(long, env = "OODCAL_JOBS")]
    pub jobs: Option<usize>,
}

impl JobsArg {
    pub fn resolve(self, backend: BackendKind) -> usize {
        match (self.jobs, crate::train::resolve(backend)) {
            (Some(n), _) => n.max(1),
            (None, Ok(BackendKind::Cpu)) => crate::run::cores(),
            (None, _) => 1,
        }
    }
}

pub fn run(g: &Global, a: &RunArgs) -> Result<ExitCode> {
    let ctx = Context::open(g, true)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let runs = expand(&study, &ctx.catalogue);
    let chosen: Vec<PlannedRun> = crate::run::executor::selected(&runs, &a.only)
        .into_iter()
        .cloned()
        .collect();
    require_runnable(&ctx, &chosen)?;
    let options = RunOptions {
        backend: a.backend,
        only: a.only.clone(),
        limit: a.limit,
        jobs: a.jobs.resolve(a.backend),
    };
    let summary = run_study(&study, &ctx.catalogue, &ctx.roots, &runs, &options)?;
    print_summary(&summary);
    Ok(exit_code(&summary))
}

/// Exit status when a stop was requested (SIGTERM, SIGUSR1): EX_TEMPFAIL,
/// "try again later", which is what resubmitting does.
pub const STOPPED_EXIT: u8 = 75;

/// Success, or [`STOPPED_EXIT`] when runs were left checkpointed on request.
pub(super) fn exit_code(summary: &StudySummary) -> ExitCode {
    if summary.stopped > 0 {
        eprintln!(
            "stopped on request: {} run(s) left to resume (run the same command again)",
            summary.stopped
        );
        return ExitCode::from(STOPPED_EXIT);
    }
    ExitCode::SUCCESS
}

/// Before any training starts, every planned run's model must take the
/// study's resolution, and every input must verify.
pub(super) fn require_runnable(ctx: &Context, runs: &[PlannedRun]) -> Result<()> {
    let mut checked = std::collections::BTreeSet::new();
    for r in runs {
        if checked.insert(r.spec.model.name.get_ref()) {
            r.spec.model.architecture(r.spec.benchmark.resolution)?;
        }
    }
    let lines = super::plan::input_lines(ctx, runs)?;
    ctx.cache.save_or_warn();
    let bad: Vec<String> = lines
        .iter()
        .filter(|l| l.status != "verified")
        .map(|l| format!("{}: {}", l.name, l.status))
        .collect();
    if !bad.is_empty() {
        bail!("inputs do not verify:\n  {}", bad.join("\n  "));
    }
    Ok(())
}

pub(super) fn print_summary(s: &StudySummary) {
    println!(
        "runs: {} planned, {} selected, {} already recorded, {} completed, {} failed, {} left for later, {} being trained by another process, {} stopped on request ({})",
        s.planned,
        s.selected,
        s.skipped,
        s.completed,
        s.failed,
        s.deferred,
        s.busy,
        s.stopped,
        s.runs_dir.display()
    );
}
