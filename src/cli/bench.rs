//! `oodcal bench`: throughput figures to set beside a peer's (PyTorch,
//! torchmetrics, sha256sum) measured on the same machine. Benchmarks print
//! figures; they never pass or fail on speed.

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{Context, Global};
use crate::checksum::{hash_tree, DigestCache};

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
    /// Hashing a folder cold (no cache) and warm (cache), e.g. PACS (peer: sha256sum).
    Verify {
        /// The folder to hash (default: <data-root>/PACS).
        folder: Option<PathBuf>,
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
        } => bench_metrics(*rows, *classes, *repeats),
        BenchWhat::Verify { folder } => bench_verify(g, folder.clone()),
        BenchWhat::Pipeline {
            folder,
            cache_size,
            out_size,
            batch,
        } => bench_pipeline(g, folder.clone(), *cache_size, *out_size, *batch),
        BenchWhat::Report { models, seeds, dir } => bench_report(*models, *seeds, dir.clone()),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn bench_metrics(rows: usize, classes: usize, repeats: usize) -> Result<()> {
    use crate::metrics::bench::{synthetic_predictions, time_paper_preset};
    let t = Instant::now();
    let preds = synthetic_predictions(rows, classes, 0);
    println!(
        "generated {rows} x {classes} predictions in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    for r in 0..repeats.max(1) {
        let t = time_paper_preset(&preds);
        println!(
            "repeat {r}: top-label pass {:.3}s, ECE equal-width {:.3}s, ECE equal-mass {:.3}s, full preset {:.3}s",
            t.top_label_pass_s, t.ece_equal_width_s, t.ece_equal_mass_s, t.report_s
        );
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    Ok(())
}

fn default_folder(g: &Global, folder: Option<PathBuf>) -> Result<PathBuf> {
    let ctx = Context::open(g, false)?;
    Ok(folder.unwrap_or_else(|| ctx.roots.data.join("PACS")))
}

fn bench_verify(g: &Global, folder: Option<PathBuf>) -> Result<()> {
    let folder = default_folder(g, folder)?;
    let scratch = tempfile::tempdir()?;
    let cache_file = scratch.path().join("digests.json");
    let t = Instant::now();
    let cold = DigestCache::load(&cache_file);
    let listing = hash_tree(&folder, &cold, "cold")?;
    cold.save()?;
    let cold_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let warm = DigestCache::load(&cache_file);
    let again = hash_tree(&folder, &warm, "warm")?;
    let warm_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(listing == again, "warm and cold listings differ");
    println!(
        "{} files: cold {cold_s:.3}s, warm {warm_s:.3}s ({:.1}x faster), tree digest {}",
        listing.files.len(),
        cold_s / warm_s,
        listing.tree_digest()
    );
    Ok(())
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
    let r = crate::data::bench::bench_pipeline(
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

fn bench_report(models: usize, seeds: u64, dir: Option<PathBuf>) -> Result<()> {
    use crate::aggregate::{aggregate, load_records};
    use crate::report::{synthetic::write_synthetic_study, write_report, StudyMeta};
    let scratch = tempfile::tempdir()?;
    let root = dir.unwrap_or_else(|| scratch.path().to_path_buf());
    let records = root.join("records");
    let t = Instant::now();
    let n = write_synthetic_study(&records, models, seeds)?;
    println!(
        "wrote {n} synthetic records in {:.2}s (setup, not timed below)",
        t.elapsed().as_secs_f64()
    );
    let meta = StudyMeta {
        name: "synthetic".to_string(),
        description: format!("{n} synthetic records for `oodcal bench report`"),
        manifest: None,
    };
    let start = Instant::now();
    let loaded = load_records(&records)?;
    let load_s = start.elapsed().as_secs_f64();
    let t = Instant::now();
    let agg = aggregate(loaded);
    let aggregate_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let summary = write_report(&meta, &agg, &records, &root.join("report"))?;
    let report_s = t.elapsed().as_secs_f64();
    let total = start.elapsed().as_secs_f64();
    let html = std::fs::metadata(&summary.index_html)?.len();
    println!(
        "{n} records: load+verify {load_s:.3}s, aggregate {aggregate_s:.3}s, report {report_s:.3}s, total {total:.3}s ({} models, index.html {:.1} MiB)",
        summary.models,
        html as f64 / (1024.0 * 1024.0)
    );
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    Ok(())
}

/// Peak resident set size of this process (Linux: VmHWM).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}
