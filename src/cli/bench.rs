//! `oodcal bench`: the command line of the benchmarks in [`crate::bench`].

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::bench::{self, agree::StepsJob, train::BenchJob, verify::VerifyCommand};
use crate::model::Pool;
use crate::run::parallel::on_pool;
use crate::train::{dispatch, BackendKind};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// The paper's metric preset over synthetic predictions (peer: benches/metrics_peer.py).
    Metrics {
        #[arg(long, default_value_t = 10_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 10)]
        classes: usize,
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
    /// Checking a folder disk-cold (pages evicted), cold (empty digest cache) and warm, e.g. PACS (peer: sha256sum).
    Verify {
        /// The folder to hash (default: <data-root>/PACS).
        folder: Option<PathBuf>,
        /// Runs of each measurement; medians are printed.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Decode + augment throughput of an image folder, cold and cached (default: PACS).
    Pipeline {
        folder: Option<PathBuf>,
        #[arg(long, default_value_t = 64)]
        cache_size: usize,
        #[arg(long, default_value_t = 64)]
        out_size: usize,
        #[arg(long, default_value_t = 64)]
        batch: usize,
    },
    /// Training (forward, backward, SGD step) and evaluation (forward) images/s of models on one backend, one JSON line each (peer: benches/train_peer.py).
    Train {
        /// Models by name (default: the quick zoo and EfficientNet-Lite0/1/2).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        #[arg(long, default_value_t = 32)]
        image_size: usize,
        #[arg(long, default_value_t = 96)]
        batch: usize,
        /// The zoo ViTs' patch side in pixels (default: an 8x8 grid; the quick study uses 4).
        #[arg(long)]
        vit_patch: Option<usize>,
        /// The zoo ViTs' pooling (default: cls; the quick study uses mean).
        #[arg(long)]
        vit_pool: Option<Pool>,
        #[arg(long, default_value_t = 100)]
        classes: usize,
        /// Untimed steps first (GPU kernels compile and autotune in them).
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        #[arg(long, default_value_t = 5)]
        steps: usize,
        /// Training figures only.
        #[arg(long)]
        no_eval: bool,
        /// cpu, wgpu, cuda (a `--features cuda` build) or auto.
        #[arg(long, default_value = "cpu")]
        backend: BackendKind,
    },
    /// The same SGD steps of each model from the same weights and batch on `cpu` and on `--backend`: every step's loss and the final logits compared, one JSON line per model.
    Agree {
        /// Models by name (default: the quick zoo and EfficientNet-Lite0/1/2).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        #[arg(long, default_value_t = 16)]
        image_size: usize,
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[arg(long, default_value_t = 0.05)]
        lr: f64,
        /// Relative loss difference above which a step counts as parted.
        #[arg(long, default_value_t = 1e-3)]
        tolerance: f64,
        /// The backend compared with `cpu`.
        #[arg(long, default_value = "wgpu")]
        backend: BackendKind,
    },
    /// Aggregation + HTML report over synthetic run records (default 10,000: 100 models x 5 seeds x 20 grid points).
    Report {
        #[arg(long, default_value_t = 100)]
        models: usize,
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Where to write the records (default: a temporary folder, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub fn run(g: &Global, a: &BenchArgs) -> Result<ExitCode> {
    match &a.what {
        BenchWhat::Metrics {
            rows,
            classes,
            repeats,
        } => {
            bench::metrics::print_preset_timings(*rows, *classes, *repeats);
            Ok(())
        }
        BenchWhat::Verify { folder, repeats } => bench_verify(g, folder.clone(), *repeats),
        BenchWhat::Pipeline {
            folder,
            cache_size,
            out_size,
            batch,
        } => bench_pipeline(g, folder.clone(), *cache_size, *out_size, *batch),
        BenchWhat::Train {
            models,
            image_size,
            batch,
            vit_patch,
            vit_pool,
            classes,
            warmup,
            steps,
            no_eval,
            backend,
        } => {
            let models = bench::train::bench_models_named(models, *image_size)
                .map_err(anyhow::Error::msg)?
                .into_iter()
                .map(|m| m.with_vit_shape(*vit_patch, *vit_pool))
                .collect::<Result<_, _>>()?;
            let job = BenchJob {
                models,
                batch: *batch,
                classes: *classes,
                warmup: *warmup,
                steps: *steps,
                eval: !no_eval,
            };
            // On a pool of the global pool's size (RAYON_NUM_THREADS), as a
            // study's job computes (`run::parallel`).
            let threads = Some(rayon::current_num_threads());
            for figure in on_pool(threads, || Ok(dispatch(*backend, job)?))? {
                println!("{}", serde_json::to_string(&figure)?);
            }
            Ok(())
        }
        BenchWhat::Agree {
            models,
            image_size,
            batch,
            steps,
            lr,
            tolerance,
            backend,
        } => {
            let job = StepsJob {
                specs: bench::train::specs_named(models, *image_size)
                    .map_err(anyhow::Error::msg)?,
                classes: 7,
                batch: *batch,
                seed: 0,
                steps: *steps,
                lr: *lr,
            };
            let cpu = dispatch(BackendKind::Cpu, job.clone())?;
            let other = dispatch(*backend, job)?;
            for (a, b) in cpu.iter().zip(&other) {
                let agreement = bench::agree::compare(a, b, *tolerance);
                println!("{}", serde_json::to_string(&agreement)?);
            }
            Ok(())
        }
        BenchWhat::Report { models, seeds, dir } => {
            bench::report::print_report_timings(*models, *seeds, dir.clone())
        }
    }?;
    Ok(ExitCode::SUCCESS)
}

fn default_folder(g: &Global, folder: Option<PathBuf>) -> Result<PathBuf> {
    let ctx = Context::open(g, false)?;
    Ok(folder.unwrap_or_else(|| ctx.roots.data.join("PACS")))
}

/// Times the folder, and `oodcal verify NAME` too when it is a pinned input.
fn bench_verify(g: &Global, folder: Option<PathBuf>, repeats: usize) -> Result<()> {
    let ctx = Context::open(g, false)?;
    let folder = folder.unwrap_or_else(|| ctx.roots.data.join("PACS"));
    let command = ctx
        .catalogue
        .inputs
        .iter()
        .find(|i| i.listing.is_some() && ctx.roots.base(i.location).join(&i.path) == folder)
        .map(|input| VerifyCommand {
            input: input.name.clone(),
            manifest: g.manifest.clone(),
            data_root: ctx.roots.data.clone(),
        });
    bench::verify::print_verify_timings(&folder, command.as_ref(), repeats)
}

fn bench_pipeline(
    g: &Global,
    folder: Option<PathBuf>,
    cache_size: usize,
    out_size: usize,
    batch: usize,
) -> Result<()> {
    let folder = default_folder(g, folder)?;
    let scratch = tempfile::tempdir()?;
    let r = bench::pipeline::bench_pipeline(
        &folder,
        crate::data::domainbed::dataset_info("PACS").as_ref(),
        cache_size,
        out_size,
        batch,
        scratch.path(),
        "bench",
    )
    .with_context(|| format!("benchmarking {}", folder.display()))?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    Ok(())
}
