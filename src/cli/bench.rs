//! `oodcal bench`: the command line of the benchmarks in [`crate::bench`].

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::bench::{self, verify::VerifyCommand};

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
