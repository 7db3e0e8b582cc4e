//! `oodcal plan`: a study's runs, their inputs and the compute they need.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::inputs::{verify_input, InputVerdict};
use crate::study::{expand, PlannedRun, Study};

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// A study manifest, e.g. experiments/quick.toml.
    pub study: PathBuf,
    /// Print the plan as JSON (full ids and resolved specs).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
pub(super) struct InputLine {
    pub name: String,
    pub digest: Option<String>,
    pub status: &'static str,
}

#[derive(Serialize)]
struct Estimate {
    runs: usize,
    training_images_per_run: u64,
    training_images_total: u64,
}

#[derive(Serialize)]
struct PlanJson<'a> {
    study: &'a str,
    runs_dir: String,
    runs: Vec<RunJson<'a>>,
    inputs: Vec<InputLine>,
    estimate: Estimate,
}

#[derive(Serialize)]
struct RunJson<'a> {
    id: &'a str,
    spec: &'a crate::study::RunSpec,
}

pub fn run(g: &Global, a: &PlanArgs) -> Result<ExitCode> {
    let ctx = Context::open(g, true)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let runs = expand(&study, &ctx.catalogue);
    let inputs = input_lines(&ctx, &runs)?;
    ctx.cache.save_or_warn();
    let estimate = estimate(&study, &ctx, runs.len());
    if a.json {
        let out = PlanJson {
            study: study.name(),
            runs_dir: study.runs_dir.display().to_string(),
            runs: runs
                .iter()
                .map(|r| RunJson {
                    id: &r.id,
                    spec: &r.spec,
                })
                .collect(),
            inputs,
            estimate,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_table(&study, &runs, &inputs, &estimate);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every input the runs read, checked against its pin.
pub(super) fn input_lines(ctx: &Context, runs: &[PlannedRun]) -> Result<Vec<InputLine>> {
    let names: BTreeSet<&String> = runs.iter().flat_map(|r| r.spec.inputs.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let Some(input) = ctx.catalogue.get(name) else {
                // Only zoo checkpoints can be named before they exist.
                return Ok(InputLine {
                    name: name.clone(),
                    digest: None,
                    status: "not pinned yet: run `oodcal pretrain --pin`",
                });
            };
            let status = verify_input(input, &ctx.roots, &ctx.cache)?;
            Ok(InputLine {
                name: name.clone(),
                digest: input.digest().map(str::to_string),
                status: match status.verdict {
                    InputVerdict::Ok => "verified",
                    v => v.label(),
                },
            })
        })
        .collect()
}

/// Training images processed (forward + backward): steps × batch × training domains.
fn estimate(study: &Study, ctx: &Context, runs: usize) -> Estimate {
    let domains = ctx
        .catalogue
        .get(study.benchmark.dataset.get_ref())
        .map(|i| i.expected.domains.len())
        .filter(|&n| n > 1)
        .unwrap_or(4);
    let per_run =
        study.protocol.steps as u64 * study.protocol.batch_per_domain as u64 * (domains as u64 - 1);
    Estimate {
        runs,
        training_images_per_run: per_run,
        training_images_total: per_run * runs as u64,
    }
}

fn print_table(study: &Study, runs: &[PlannedRun], inputs: &[InputLine], e: &Estimate) {
    println!(
        "study {} ({}): {} runs into {}",
        study.name(),
        study.file.display(),
        runs.len(),
        study.runs_dir.display()
    );
    // The model column fits the longest label (e.g. efficientnet-lite0-scratch).
    let width = runs
        .iter()
        .map(|r| r.spec.model.name.get_ref().len())
        .max()
        .unwrap_or(0)
        .max(18);
    println!(
        "{:<12}  {:<width$} {:<26} {:<6} {:<5} {:>8} {:>8} {:>5}",
        "run", "model", "pretrain", "algo", "opt", "lr", "wd", "seed"
    );
    for r in runs {
        let s = &r.spec;
        let pre = s
            .model
            .pretrain
            .as_ref()
            .or(s.model.weights.as_ref())
            .map(|p| p.get_ref().as_str())
            .unwrap_or("none (from scratch)");
        println!(
            "{:<12}  {:<width$} {:<26} {:<6} {:<5} {:>8} {:>8} {:>5}",
            r.short_id(),
            s.model.name.get_ref(),
            pre,
            s.algorithm.name(),
            s.optimizer.name(),
            s.learning_rate,
            s.weight_decay,
            s.seed
        );
    }
    println!("\ninputs:");
    for i in inputs {
        println!(
            "  {:<24} {:<10} {}",
            i.name,
            i.status,
            i.digest.as_deref().unwrap_or("(no digest pinned)")
        );
    }
    println!(
        "\ncompute: {} training images per run, {} in all (forward + backward), plus evaluation",
        e.training_images_per_run, e.training_images_total
    );
}
