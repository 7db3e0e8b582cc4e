//! `oodcal reproduce`: every stage of a study in one resumable command.
//!
//! Today it runs the stages that exist (check the study's inputs, plan its
//! runs and write the plan beside the runs) and names the stages still to come.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::study::{expand, Study};

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The study manifest (default: the quick study).
    #[arg(default_value = "experiments/quick.toml")]
    pub study: PathBuf,
}

pub fn run(g: &Global, a: &ReproduceArgs) -> Result<ExitCode> {
    let ctx = Context::open(g, true)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let runs = expand(&study, &ctx.catalogue);
    println!(
        "[1/4] plan: {} runs of study {}",
        runs.len(),
        study.header.name
    );
    let inputs = super::plan::input_lines(&ctx, &runs)?;
    for line in &inputs {
        println!("      input {:<22} {}", line.name, line.status);
    }
    let problems = inputs.iter().filter(|l| l.failed).count();
    ctx.cache.save()?;
    let plan_file = ctx.roots.repo.join(&study.runs_dir).join("plan.json");
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    crate::atomic::write(&plan_file, serde_json::to_string_pretty(&ids)?.as_bytes())?;
    println!("      plan written to {}", plan_file.display());
    println!("[2/4] run: not available yet (issue: training engine)");
    println!("[3/4] aggregate: not available yet (issue: aggregation and report)");
    println!("[4/4] report: not available yet (issue: aggregation and report)");
    Ok(if problems > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
