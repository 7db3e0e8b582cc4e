//! `oodcal bench`: throughput figures to set beside a peer's (PyTorch,
//! torchmetrics, sha256sum) measured on the same machine. Benchmarks print
//! figures; they never pass or fail on speed.

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::{Context, Global};
use crate::checksum::{hash_tree_files, list_files, page_cache, DigestCache};

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

/// Checks of a folder from three starting points: disk-cold (empty digest
/// cache, the folder's pages evicted from the page cache, as on the first
/// `verify` after the data arrives), cold (empty digest cache, files in the
/// page cache) and warm (digest cache filled by the cold check). Timed in
/// process (walk, stat, hash through the digest cache, canonical listing,
/// cache save) and, when the folder is a manifest input, as whole `oodcal
/// verify NAME` commands (process start, manifest, listing check included);
/// `sha256sum` over the same files, in the same run, is the peer. Each
/// figure is the median of `repeats` runs.
fn bench_verify(g: &Global, folder: Option<PathBuf>, repeats: usize) -> Result<()> {
    let ctx = Context::open(g, false)?;
    let folder = folder.unwrap_or_else(|| ctx.roots.data.join("PACS"));
    let repeats = repeats.max(1);
    let files = list_files(&folder)?;
    let bytes: u64 = files
        .iter()
        .map(|rel| std::fs::metadata(folder.join(rel)).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;
    let (mut disk, mut cold, mut warm, mut walk, mut resident) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut text = String::new();
    for _ in 0..repeats {
        let scratch = tempfile::tempdir()?;
        let check = |cache_file: &Path| -> Result<(f64, String)> {
            let t = Instant::now();
            let cache = DigestCache::load(cache_file);
            let text = hash_tree_files(&folder, &cache, "check")?.to_text()?;
            cache.save()?;
            Ok((t.elapsed().as_secs_f64(), text))
        };
        page_cache::evict(&folder, &files)?;
        resident.push(page_cache::resident_fraction(&folder, &files)?);
        let (d, disk_text) = check(&scratch.path().join("disk-cold"))?;
        let cache_file = scratch.path().join("cold");
        let (c, cold_text) = check(&cache_file)?;
        let written = std::fs::read(&cache_file)?;
        let (w, warm_text) = check(&cache_file)?;
        anyhow::ensure!(
            disk_text == cold_text && cold_text == warm_text,
            "disk-cold, cold and warm listings differ"
        );
        anyhow::ensure!(
            std::fs::read(&cache_file)? == written,
            "an unchanged warm check rewrote the cache"
        );
        let t = Instant::now();
        list_files(&folder)?;
        walk.push(t.elapsed().as_secs_f64());
        disk.push(d);
        cold.push(c);
        warm.push(w);
        text = cold_text;
    }
    let (disk, cold, warm) = (median(&mut disk), median(&mut cold), median(&mut warm));
    println!(
        "{} files, {:.1} MiB, tree digest {}",
        files.len(),
        bytes as f64 / (1024.0 * 1024.0),
        crate::checksum::sha256_bytes(text.as_bytes())
    );
    println!(
        "disk-cold: pages evicted with posix_fadvise(DONTNEED) first, {:.1}% still resident (median)",
        100.0 * median(&mut resident)
    );
    println!("in process:         {}", three_starts(disk, cold, warm));
    println!(
        "walk + stat alone:  {:.1} ms (the floor of a warm check: one stat per file)",
        median(&mut walk) * 1e3
    );
    if let Some(input) = ctx
        .catalogue
        .inputs
        .iter()
        .find(|i| i.listing.is_some() && ctx.roots.base(i.location).join(&i.path) == folder)
    {
        let [disk, cold, warm] =
            time_verify_command(g, &ctx, &input.name, (&folder, &files), repeats)?;
        println!(
            "oodcal verify {}: {}",
            input.name,
            three_starts(disk, cold, warm)
        );
    }
    match time_sha256sum(&folder, &files, &text, repeats)? {
        Some([s_disk, s_cached]) => println!(
            "sha256sum (1 thread, same files, same output): disk-cold {:.1} ms, cached {:.1} ms \
             (oodcal is {:.1}x / {:.1}x faster)",
            s_disk * 1e3,
            s_cached * 1e3,
            s_disk / disk,
            s_cached / cold
        ),
        None => println!("sha256sum: not available"),
    }
    Ok(())
}

fn three_starts(disk: f64, cold: f64, warm: f64) -> String {
    format!(
        "disk-cold {:.1} ms, cold {:.1} ms, warm {:.1} ms (warm is {:.1}x faster than disk-cold, {:.1}x than cold)",
        disk * 1e3,
        cold * 1e3,
        warm * 1e3,
        disk / warm,
        cold / warm
    )
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median wall times of `oodcal verify NAME` disk-cold, cold and warm (see
/// `bench_verify`); the files of `folder` are evicted before each disk-cold run.
fn time_verify_command(
    g: &Global,
    ctx: &Context,
    name: &str,
    (folder, files): (&Path, &[String]),
    repeats: usize,
) -> Result<[f64; 3]> {
    let exe = std::env::current_exe()?;
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..repeats {
        let (disk_cache, cache) = (tempfile::tempdir()?, tempfile::tempdir()?);
        page_cache::evict(folder, files)?;
        for (i, cache_dir) in [&disk_cache, &cache, &cache].into_iter().enumerate() {
            let t = Instant::now();
            let out = std::process::Command::new(&exe)
                .arg("verify")
                .arg(name)
                .arg("--manifest")
                .arg(&g.manifest)
                .arg("--data-root")
                .arg(&ctx.roots.data)
                .arg("--cache-dir")
                .arg(cache_dir.path())
                .output()?;
            times[i].push(t.elapsed().as_secs_f64());
            anyhow::ensure!(
                out.status.success(),
                "oodcal verify {name} failed:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    Ok(times.map(|mut t| median(&mut t)))
}

/// Median wall times of `sha256sum` over `files` (run inside `folder`, sorted
/// paths as arguments, so its output must equal `expected`), disk-cold
/// (pages evicted first) and cached.
fn time_sha256sum(
    folder: &Path,
    files: &[String],
    expected: &str,
    repeats: usize,
) -> Result<Option<[f64; 2]>> {
    let mut times: [Vec<f64>; 2] = Default::default();
    for _ in 0..repeats {
        page_cache::evict(folder, files)?;
        for run in &mut times {
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
            run.push(t.elapsed().as_secs_f64());
            anyhow::ensure!(
                output == expected.as_bytes(),
                "sha256sum's listing differs from oodcal's"
            );
        }
    }
    Ok(Some(times.map(|mut t| median(&mut t))))
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
    let meta = StudyMeta::without_manifest(
        "synthetic",
        &format!("{n} synthetic records for `oodcal bench report`"),
    );
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
