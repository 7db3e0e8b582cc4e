//! The aggregation's tables as polars DataFrames, and writing them as CSV and
//! Parquet next to the report.

use polars::prelude::*;
use std::path::{Path, PathBuf};

use super::algorithms::AlgorithmCell;
use super::claims::ClaimResult;
use super::rows::RunRow;
use super::summary::{MeanSe, ModelSummary};

/// Column builder: one call per column, names kept in insertion order.
struct Frame<'a, T> {
    rows: &'a [T],
    columns: Vec<Column>,
}

impl<'a, T> Frame<'a, T> {
    fn new(rows: &'a [T]) -> Self {
        Frame {
            rows,
            columns: Vec::new(),
        }
    }
    fn str(mut self, name: &str, f: impl Fn(&T) -> String) -> Self {
        let v: Vec<String> = self.rows.iter().map(f).collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn opt_str(mut self, name: &str, f: impl Fn(&T) -> Option<String>) -> Self {
        let v: Vec<Option<String>> = self.rows.iter().map(f).collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn u64(mut self, name: &str, f: impl Fn(&T) -> u64) -> Self {
        let v: Vec<u64> = self.rows.iter().map(f).collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn opt_u64(mut self, name: &str, f: impl Fn(&T) -> Option<u64>) -> Self {
        let v: Vec<Option<u64>> = self.rows.iter().map(f).collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn f64(mut self, name: &str, f: impl Fn(&T) -> f64) -> Self {
        let v: Vec<f64> = self.rows.iter().map(f).collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    fn opt_f64(mut self, name: &str, f: impl Fn(&T) -> Option<f64>) -> Self {
        let v: Vec<Option<f64>> = self.rows.iter().map(f).collect();
        self.columns.push(Column::new(name.into(), v));
        self
    }
    /// `<name>_mean`, `<name>_se`, for a mean ± SE statistic.
    fn mean_se(self, name: &str, f: impl Fn(&T) -> MeanSe + Copy) -> Self {
        self.f64(&format!("{name}_mean"), move |r| f(r).mean)
            .opt_f64(&format!("{name}_se"), move |r| f(r).se)
    }
    fn finish(self) -> PolarsResult<DataFrame> {
        DataFrame::new(self.rows.len(), self.columns)
    }
}

/// One row per run (identity, model, hyper-parameters, final metrics, provenance).
pub fn runs_frame(rows: &[RunRow]) -> PolarsResult<DataFrame> {
    Frame::new(rows)
        .str("run_id", |r| r.run_id.clone())
        .str("model", |r| r.label.clone())
        .str("family", |r| r.family.clone())
        .str("size", |r| r.size.clone())
        .u64("params", |r| r.params)
        .opt_str("pretraining", |r| r.pretraining.clone())
        .opt_u64("pretrain_images", |r| r.pretrain_images)
        .opt_str("recipe", |r| r.recipe.clone())
        .str("algorithm", |r| r.algorithm.name().to_string())
        .str("optimizer", |r| r.optimizer.clone())
        .f64("learning_rate", |r| r.learning_rate)
        .f64("weight_decay", |r| r.weight_decay)
        .u64("seed", |r| r.seed)
        .f64("id_accuracy", |r| r.id_accuracy)
        .f64("id_ece_equal_width", |r| r.id_ece)
        .f64("id_ece_equal_mass", |r| r.id_ece_mass)
        .f64("ood_accuracy", |r| r.ood_accuracy)
        .f64("ood_in_accuracy", |r| r.ood_in_accuracy)
        .f64("ood_out_accuracy", |r| r.ood_out_accuracy)
        .f64("ood_ece_equal_width", |r| r.ood_ece)
        .f64("ood_ece_equal_mass", |r| r.ood_ece_mass)
        .f64("ood_nll", |r| r.ood_nll)
        .f64("ood_brier", |r| r.ood_brier)
        .f64("temperature", |r| r.temperature)
        .f64("id_ece_ts", |r| r.id_ece_ts)
        .f64("ood_ece_ts", |r| r.ood_ece_ts)
        .str("backend", |r| r.backend.clone())
        .str("device", |r| r.device.clone())
        .f64("wall_seconds", |r| r.wall_seconds)
        .str("record_sha256", |r| r.record_sha256.clone())
        .finish()
}

/// One row per model: mean and standard error over seeds of the selected runs.
pub fn summary_frame(models: &[ModelSummary]) -> PolarsResult<DataFrame> {
    Frame::new(models)
        .str("model", |m| m.label.clone())
        .str("family", |m| m.family.clone())
        .str("size", |m| m.size.clone())
        .u64("params", |m| m.params)
        .opt_str("pretraining", |m| m.pretraining.clone())
        .opt_u64("pretrain_images", |m| m.pretrain_images)
        .opt_str("recipe", |m| m.recipe.clone())
        .u64("seeds", |m| m.seeds.len() as u64)
        .mean_se("ood_accuracy", |m| m.ood_accuracy)
        .mean_se("ood_ece_equal_width", |m| m.ood_ece)
        .mean_se("ood_ece_equal_mass", |m| m.ood_ece_mass)
        .mean_se("id_accuracy", |m| m.id_accuracy)
        .mean_se("id_ece_equal_width", |m| m.id_ece)
        .mean_se("id_ece_equal_mass", |m| m.id_ece_mass)
        .mean_se("ood_ece_ts", |m| m.ood_ece_ts)
        .mean_se("id_ece_ts", |m| m.id_ece_ts)
        .mean_se("ood_nll", |m| m.ood_nll)
        .mean_se("ood_brier", |m| m.ood_brier)
        .finish()
}

/// One row per model and algorithm (models that ran several): mean ± SE over seeds.
pub fn algorithms_frame(cells: &[AlgorithmCell]) -> PolarsResult<DataFrame> {
    Frame::new(cells)
        .str("model", |c| c.label.clone())
        .str("algorithm", |c| c.algorithm.name().to_string())
        .u64("seeds", |c| c.ood_accuracy.n as u64)
        .mean_se("ood_accuracy", |c| c.ood_accuracy)
        .mean_se("id_accuracy", |c| c.id_accuracy)
        .str("learned", |c| c.learned.text().to_string())
        .finish()
}

/// One row per claim with its statistic, interval and computed verdict.
pub fn claims_frame(claims: &[ClaimResult]) -> PolarsResult<DataFrame> {
    Frame::new(claims)
        .str("claim_id", |c| c.id.clone())
        .str("claim", |c| c.claim.clone())
        .str("test", |c| c.test.clone())
        .str("statistic", |c| c.statistic.clone())
        .u64("models_n", |c| c.models.len() as u64)
        .u64("runs", |c| c.runs as u64)
        .str("models", |c| c.models.join(" "))
        .opt_f64("estimate", |c| c.estimate)
        .opt_f64("ci95_lower", |c| c.lower)
        .opt_f64("ci95_upper", |c| c.upper)
        .str("verdict", |c| c.verdict.text().to_string())
        .str("note", |c| c.note.clone())
        .finish()
}

/// Writes `<stem>.csv` and `<stem>.parquet` in `dir` (atomically); returns their paths.
pub fn write_table(dir: &Path, stem: &str, frame: &mut DataFrame) -> anyhow::Result<Vec<PathBuf>> {
    let csv_path = dir.join(format!("{stem}.csv"));
    let mut csv = Vec::new();
    CsvWriter::new(&mut csv)
        .include_header(true)
        .finish(frame)
        .map_err(|e| anyhow::anyhow!("{}: cannot write CSV: {e}", csv_path.display()))?;
    crate::atomic::write(&csv_path, &csv)
        .map_err(|e| anyhow::anyhow!("{}: {e}", csv_path.display()))?;
    let pq_path = dir.join(format!("{stem}.parquet"));
    let mut pq = Vec::new();
    ParquetWriter::new(&mut pq)
        .finish(frame)
        .map_err(|e| anyhow::anyhow!("{}: cannot write Parquet: {e}", pq_path.display()))?;
    crate::atomic::write(&pq_path, &pq)
        .map_err(|e| anyhow::anyhow!("{}: {e}", pq_path.display()))?;
    Ok(vec![csv_path, pq_path])
}
