//! `oodcal bench`: throughput figures to set beside a peer's (PyTorch,
//! torchmetrics, sha256sum) measured on the same machine. Benchmarks print
//! figures; they never pass or fail on speed.

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{Context, Global};
use crate::checksum::{hash_tree_files, list_files, DigestCache};

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
    /// Checking a folder cold (empty digest cache) and warm (cache), e.g. PACS (peer: sha256sum).
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
        } => bench_metrics(*rows, *classes, *repeats),
        BenchWhat::Verify { folder, repeats } => bench_verify(g, folder.clone(), *repeats),
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

/// Cold and warm checks of a folder, in process (walk, stat, hash through
/// the digest cache, canonical listing, cache save) and, when the folder is a
/// manifest input, as whole `oodcal verify NAME` commands (process start,
/// manifest, listing check included); `sha256sum` over the same files, in the
/// same run, is the peer. Each figure is the median of `repeats` runs.
fn bench_verify(g: &Global, folder: Option<PathBuf>, repeats: usize) -> Result<()> {
    let ctx = Context::open(g, false)?;
    let folder = folder.unwrap_or_else(|| ctx.roots.data.join("PACS"));
    let repeats = repeats.max(1);
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut text = String::new();
    for _ in 0..repeats {
        let scratch = tempfile::tempdir()?;
        let cache_file = scratch.path().join("digests");
        let check = |label: &str| -> Result<(f64, String)> {
            let t = Instant::now();
            let cache = DigestCache::load(&cache_file);
            let text = hash_tree_files(&folder, &cache, label)?.to_text()?;
            cache.save()?;
            Ok((t.elapsed().as_secs_f64(), text))
        };
        let (c, cold_text) = check("cold")?;
        let written = std::fs::read(&cache_file)?;
        let (w, warm_text) = check("warm")?;
        anyhow::ensure!(cold_text == warm_text, "warm and cold listings differ");
        anyhow::ensure!(
            std::fs::read(&cache_file)? == written,
            "an unchanged warm check rewrote the cache"
        );
        cold.push(c);
        warm.push(w);
        text = cold_text;
    }
    let (cold, warm) = (median(&mut cold), median(&mut warm));
    println!(
        "{} files, tree digest {}",
        text.lines().count(),
        crate::checksum::sha256_bytes(text.as_bytes())
    );
    println!(
        "in process:    cold {:.1} ms, warm {:.1} ms ({:.1}x)",
        cold * 1e3,
        warm * 1e3,
        cold / warm
    );
    if let Some(input) = ctx
        .catalogue
        .inputs
        .iter()
        .find(|i| i.listing.is_some() && ctx.roots.base(i.location).join(&i.path) == folder)
    {
        let (cold, warm) = time_verify_command(g, &ctx, &input.name, repeats)?;
        println!(
            "oodcal verify {}: cold {:.1} ms, warm {:.1} ms ({:.1}x)",
            input.name,
            cold * 1e3,
            warm * 1e3,
            cold / warm
        );
    }
    match time_sha256sum(&folder, &text, repeats)? {
        Some(s) => println!(
            "sha256sum (1 thread, same files, same output): {:.1} ms ({:.1}x cold, {:.0}x warm in process)",
            s * 1e3,
            s / cold,
            s / warm
        ),
        None => println!("sha256sum: not available"),
    }
    Ok(())
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median wall times of `oodcal verify NAME` with an empty, then a warm, cache.
fn time_verify_command(
    g: &Global,
    ctx: &Context,
    name: &str,
    repeats: usize,
) -> Result<(f64, f64)> {
    let exe = std::env::current_exe()?;
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let scratch = tempfile::tempdir()?;
        for times in [&mut cold, &mut warm] {
            let t = Instant::now();
            let out = std::process::Command::new(&exe)
                .arg("verify")
                .arg(name)
                .arg("--manifest")
                .arg(&g.manifest)
                .arg("--data-root")
                .arg(&ctx.roots.data)
                .arg("--cache-dir")
                .arg(scratch.path())
                .output()?;
            times.push(t.elapsed().as_secs_f64());
            anyhow::ensure!(
                out.status.success(),
                "oodcal verify {name} failed:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    Ok((median(&mut cold), median(&mut warm)))
}

/// Median wall time of `sha256sum` over the files of `expected` (run inside
/// `folder`, sorted paths as arguments, so its output must equal `expected`).
fn time_sha256sum(folder: &std::path::Path, expected: &str, repeats: usize) -> Result<Option<f64>> {
    let files = list_files(folder)?;
    let mut times = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let mut output = Vec::new();
        for chunk in files.chunks(2000) {
            let out = match std::process::Command::new("sha256sum")
                .arg("--")
                .args(chunk)
                .current_dir(folder)
                .output()
            {
                Ok(out) => out,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            anyhow::ensure!(out.status.success(), "sha256sum failed");
            output.extend(out.stdout);
        }
        times.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            output == expected.as_bytes(),
            "sha256sum's listing differs from oodcal's"
        );
    }
    Ok(Some(median(&mut times)))
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
