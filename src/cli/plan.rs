//! `oodcal plan`: a study's runs, their inputs and the compute they need.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::inputs::{verify_input, InputVerdict, TIMM_PREFIX};
use crate::model::registry::timm_model;
use crate::study::compute::{model_costs, run_images, ModelCost, DEFAULT_TFLOPS};
use crate::study::{expand, PlannedRun, Study};

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// A study manifest, e.g. experiments/quick.toml.
    pub study: PathBuf,
    /// Print the plan as JSON (full ids and resolved specs).
    #[arg(long)]
    pub json: bool,
    /// Sustained TFLOP/s per GPU for the GPU-hour estimate.
    #[arg(long, default_value_t = DEFAULT_TFLOPS)]
    pub tflops: f64,
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
    evaluation_images_per_run: u64,
    evaluations_per_run: u64,
    gpu: GpuEstimate,
}

/// GPU hours per model and in all, under the stated throughput model
/// ([`crate::study::compute`]).
#[derive(Serialize)]
struct GpuEstimate {
    tflops: f64,
    per_model: Vec<ModelCost>,
    /// Over the models whose FLOPs are known.
    total_gpu_hours: f64,
    models_without_flops: Vec<String>,
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
    anyhow::ensure!(
        a.tflops.is_finite() && a.tflops > 0.0,
        "--tflops: a GPU's sustained rate must be a positive number of TFLOP/s, not {}",
        a.tflops
    );
    let ctx = Context::open(g, true)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let runs = expand(&study, &ctx.catalogue);
    let inputs = input_lines(&ctx, &runs)?;
    ctx.cache.save_or_warn();
    let estimate = estimate(&study, &ctx, &runs, a.tflops);
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
                // Only zoo checkpoints and timm weights can be named before they exist.
                return Ok(InputLine {
                    name: name.clone(),
                    digest: None,
                    status: match name.starts_with(TIMM_PREFIX) {
                        true => "not fetched yet: run `oodcal fetch` on it with `--pin`",
                        false => "not pinned yet: run `oodcal pretrain --pin`",
                    },
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

/// Images per run and, where every FLOP is known, GPU hours.
fn estimate(study: &Study, ctx: &Context, runs: &[PlannedRun], tflops: f64) -> Estimate {
    let images = run_images(study, &ctx.catalogue);
    let runs_per_model: Vec<usize> = study
        .models
        .iter()
        .map(|m| runs.iter().filter(|r| r.spec.model.name == m.name).count())
        .collect();
    let per_model = model_costs(study, images, tflops, &runs_per_model);
    Estimate {
        runs: runs.len(),
        training_images_per_run: images.training,
        training_images_total: images.training * runs.len() as u64,
        evaluation_images_per_run: images.evaluation,
        evaluations_per_run: images.evaluations,
        gpu: GpuEstimate {
            tflops,
            total_gpu_hours: per_model.iter().filter_map(|c| c.gpu_hours).sum(),
            models_without_flops: per_model
                .iter()
                .filter(|c| c.gpu_hours.is_none())
                .map(|c| c.model.clone())
                .collect(),
            per_model,
        },
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
        let timm = s.model.timm.as_ref().and_then(|t| timm_model(t.get_ref()));
        let pre = match (s.model.pretrain.as_ref().or(s.model.weights.as_ref()), timm) {
            (Some(name), _) => name.get_ref().clone(),
            (None, Some(model)) => format!("timm {}", model.recipe),
            (None, None) => "none (from scratch)".to_string(),
        };
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
        "\ncompute: {} training images per run, {} in all (forward + backward); \
         {} evaluation images per run over {} evaluations",
        e.training_images_per_run,
        e.training_images_total,
        e.evaluation_images_per_run,
        e.evaluations_per_run
    );
    if let Some(n) = study.protocol.trainable_blocks {
        println!(
            "partial fine-tuning (the last {n} block(s)): the layers below run once per \
             image and model, so the figures here, which count whole-network passes, \
             are an upper bound"
        );
    }
    print_gpu_hours(&e.gpu);
}

/// The per-model GPU-hour table, where any model's FLOPs are known.
fn print_gpu_hours(g: &GpuEstimate) {
    if g.per_model.iter().all(|c| c.gpu_hours.is_none()) {
        return;
    }
    println!(
        "\nGPU hours at {} TFLOP/s sustained per GPU (training 3x forward FLOPs; \
         change with --tflops):",
        g.tflops
    );
    println!(
        "  {:<44} {:>6} {:>12} {:>12}",
        "model", "runs", "GFLOPs/img", "GPU hours"
    );
    for c in &g.per_model {
        let (Some(gflops), Some(hours)) = (c.gflops_per_image, c.gpu_hours) else {
            continue;
        };
        println!(
            "  {:<44} {:>6} {:>12.2} {:>12.2}",
            c.model, c.runs, gflops, hours
        );
    }
    println!(
        "  {:<44} {:>6} {:>12} {:>12.2}",
        "total", "", "", g.total_gpu_hours
    );
    if !g.models_without_flops.is_empty() {
        println!(
            "  not counted (no FLOP count): {}",
            g.models_without_flops.join(", ")
        );
    }
}
