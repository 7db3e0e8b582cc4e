//! `oodcal reproduce`: every stage of a study in one resumable command.
//!
//! Plan the runs and check their inputs, run what is not recorded yet
//! (resuming interrupted runs), then aggregate the records and write the
//! HTML report to `reports/<study>/`.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::run::{run_study, RunOptions};
use crate::study::{expand, Study};
use crate::train::BackendKind;

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The study manifest (default: the quick study).
    #[arg(default_value = "experiments/quick.toml")]
    pub study: PathBuf,
    #[arg(long, default_value = "cpu", env = "OODCAL_BACKEND")]
    pub backend: BackendKind,
    #[command(flatten)]
    pub jobs: super::run::JobsArg,
}

pub fn run(g: &Global, a: &ReproduceArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let ctx = Context::open(g, true)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let runs = expand(&study, &ctx.catalogue);
    println!("[1/3] plan: {} runs of study {}", runs.len(), study.name());
    super::run::require_runnable(&ctx, &runs)?;
    let plan_file = ctx.roots.repo.join(&study.runs_dir).join("plan.json");
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    crate::atomic::write(&plan_file, serde_json::to_string_pretty(&ids)?.as_bytes())?;
    println!(
        "      inputs verified; plan written to {}",
        plan_file.display()
    );
    println!("[2/3] run");
    let options = RunOptions {
        backend: a.backend,
        jobs: a.jobs.resolve(a.backend),
        ..RunOptions::default()
    };
    let summary = run_study(&study, &ctx.catalogue, &ctx.roots, &runs, &options)?;
    super::run::print_summary(&summary);
    if summary.stopped > 0 {
        return Ok(super::run::exit_code(&summary));
    }
    println!("[3/3] aggregate and report");
    let out = ctx.roots.repo.join("reports").join(study.name());
    let report = crate::report::build_report(&study, &ctx.catalogue, &summary.runs_dir, &out)?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for c in &report.claims {
        println!("      {}: {}", c.id, c.verdict.text());
    }
    println!(
        "done in {:.0} s; report: {}",
        started.elapsed().as_secs_f64(),
        report.index_html.display()
    );
    Ok(ExitCode::SUCCESS)
}
