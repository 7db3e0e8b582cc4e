//! `oodcal metrics`: calibration-check predictions made by any tool.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::metrics::{Binning, BootstrapInterval, BootstrapOptions, Predictions, Variant};
use crate::record::predictions::{self, Scores, SPLIT_COLUMN};

#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// Predictions: CSV or Parquet with a label column and one column per class
    /// (columns named `split` and `index` are row metadata, as in a run
    /// record's `predictions.csv`).
    pub file: PathBuf,
    /// Rows of these splits only (comma-separated), pooled; required when the
    /// file has a `split` column (e.g. `--split id`, `--split ood_in,ood_out`).
    #[arg(long, value_delimiter = ',')]
    pub split: Vec<String>,
    /// The class columns hold logits (softmax is applied), not probabilities.
    #[arg(long)]
    pub logits: bool,
    /// Name of the integer label column.
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// Metrics to compute, by name (e.g. 'ece[top-label,equal-mass,15,L2]');
    /// default: the paper's preset plus NLL, Brier, MCE, debiased L2 and class-wise ECE.
    #[arg(long = "metric")]
    pub metrics: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the reliability-diagram table (both binnings) to this CSV file.
    #[arg(long)]
    pub reliability: Option<PathBuf>,
    /// Bins of the reliability table.
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// Bootstrap resamples for 95% confidence intervals (0: none).
    #[arg(long, default_value_t = 0)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Serialize)]
struct Line {
    metric: String,
    value: f64,
    ci95: Option<BootstrapInterval>,
}

pub fn run(a: &MetricsArgs) -> Result<ExitCode> {
    let scores = if a.logits {
        Scores::Logits
    } else {
        Scores::Probabilities
    };
    let preds = chosen_rows(a)?.predictions(scores)?;
    let variants = chosen_variants(a)?;
    let lines = compute(&preds, &variants, a)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
    } else {
        print_table(&preds, &lines);
    }
    if let Some(out) = &a.reliability {
        crate::atomic::write(out, reliability_csv(&preds, a.bins).as_bytes())?;
        eprintln!("reliability table written to {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The table, or the rows of the splits `--split` names.
fn chosen_rows(a: &MetricsArgs) -> Result<predictions::Table> {
    let table = predictions::read(&a.file, &a.label_column)?;
    match (table.split_names(), a.split.is_empty()) {
        (None, true) => Ok(table),
        (Some(names), true) => anyhow::bail!(
            "{}: has a `{SPLIT_COLUMN}` column (splits: {}); choose rows with --split",
            a.file.display(),
            names.join(", ")
        ),
        (_, false) => {
            let names: Vec<&str> = a.split.iter().map(String::as_str).collect();
            table.rows_of(&names)
        }
    }
}

fn chosen_variants(a: &MetricsArgs) -> Result<Vec<Variant>> {
    if a.metrics.is_empty() {
        let mut v = Variant::paper();
        v.extend(Variant::standard());
        return Ok(v);
    }
    a.metrics
        .iter()
        .map(|m| {
            m.parse::<Variant>()
                .map_err(|e| anyhow::anyhow!("--metric {m}: {e}"))
        })
        .collect()
}

fn compute(preds: &Predictions, variants: &[Variant], a: &MetricsArgs) -> Result<Vec<Line>> {
    let options = BootstrapOptions {
        resamples: a.bootstrap,
        seed: a.seed,
        ..BootstrapOptions::default()
    };
    let bar = crate::progress::bar(variants.len() as u64, "metrics");
    let lines = variants
        .iter()
        .map(|v| {
            let ci95 = (a.bootstrap > 0)
                .then(|| preds.bootstrap(v, &options))
                .transpose()?;
            bar.inc(1);
            Ok(Line {
                metric: v.name(),
                value: crate::metrics::evaluate(preds, v),
                ci95,
            })
        })
        .collect::<Result<Vec<_>>>();
    bar.finish_and_clear();
    lines
}

fn print_table(preds: &Predictions, lines: &[Line]) {
    println!(
        "{} predictions, {} classes",
        preds.n_rows(),
        preds.n_classes()
    );
    for l in lines {
        match &l.ci95 {
            Some(ci) => println!(
                "{:<44} {:>12.6}   95% CI [{:.6}, {:.6}]",
                l.metric, l.value, ci.lower, ci.upper
            ),
            None => println!("{:<44} {:>12.6}", l.metric, l.value),
        }
    }
}

/// `binning,bin,lo,hi,count,mean_confidence,accuracy` for both binnings.
fn reliability_csv(preds: &Predictions, bins: usize) -> String {
    let mut out = String::from("binning,bin,lo,hi,count,mean_confidence,accuracy\n");
    for (name, binning) in [
        ("equal-width", Binning::EqualWidth),
        ("equal-mass", Binning::EqualMass),
    ] {
        for (i, row) in preds.reliability_table(binning, bins).iter().enumerate() {
            let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{name},{i},{},{},{},{},{}",
                row.lo,
                row.hi,
                row.count,
                opt(row.mean_confidence),
                opt(row.accuracy)
            );
        }
    }
    out
}
