//! `oodcal bench report`: aggregation and the HTML report over synthetic records.

use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

use super::synthetic_records::write_synthetic_study;
use crate::aggregate::{aggregate, load_records};
use crate::report::{write_report, StudyMeta};

/// `oodcal bench report`: writes `models × seeds × grid` synthetic records
/// under `dir` (default: a temporary folder) and times load + verify,
/// aggregation and the report, printing the figures and peak memory.
pub fn print_report_timings(models: usize, seeds: u64, dir: Option<PathBuf>) -> Result<()> {
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
    println!("peak RSS {:.0} MiB", super::peak_rss_mib());
    Ok(())
}
