//! Reading prediction tables (CSV or Parquet) into validated [`Predictions`].
//!
//! Layout: one row per example, an integer label column (default `label`)
//! and one numeric column per class, in class order (all other columns).
//! Values are probabilities (each row summing to 1) or, with `logits`,
//! unnormalised scores. Every problem names the file, the data row (1-based;
//! in a CSV file that is line row + 1, after the header) and the column name.

use anyhow::{bail, Context, Result};
use polars::chunked_array::cast::CastOptions;
use polars::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::metrics::{MetricsError, Predictions};

/// What the class columns hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scores {
    Probabilities,
    Logits,
}

/// Reads `path` (by extension: `.parquet`/`.pq`, else CSV).
pub fn read_predictions(path: &Path, label_column: &str, scores: Scores) -> Result<Predictions> {
    let frame = read_frame(path)?;
    let (values, n_classes, labels, class_names) = extract(path, &frame, label_column)?;
    let built = match scores {
        Scores::Probabilities => Predictions::from_probabilities(values, n_classes, labels),
        Scores::Logits => Predictions::from_logits(values, n_classes, labels),
    };
    built.map_err(|e| locate(path, e, &class_names, label_column))
}

fn read_frame(path: &Path) -> Result<DataFrame> {
    let is_parquet = path
        .extension()
        .is_some_and(|e| e == "parquet" || e == "pq");
    let frame = if is_parquet {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        ParquetReader::new(file).finish()
    } else {
        if !path.is_file() {
            bail!("{}: no such file", path.display());
        }
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .try_into_reader_with_file_path(Some(PathBuf::from(path)))
            .and_then(|r| r.finish())
    };
    let kind = if is_parquet { "Parquet" } else { "CSV" };
    let frame = frame.map_err(|e| match is_parquet {
        true => anyhow::anyhow!("{}: cannot read as {kind}: {e}", path.display()),
        false => csv_shape_error(path)
            .unwrap_or_else(|| anyhow::anyhow!("{}: cannot read as {kind}: {e}", path.display())),
    })?;
    if !is_parquet {
        check_header(path)?;
    }
    Ok(frame)
}

/// The header's column names, which must be distinct: a reader renames a
/// repeated name (`label` → `label_duplicated_0`), which would silently make
/// a second label column a class.
fn check_header(path: &Path) -> Result<()> {
    let mut reader = csv_reader(path)?;
    let header = reader
        .headers()
        .with_context(|| format!("{}: line 1: cannot read the header", path.display()))?;
    let mut seen = std::collections::BTreeSet::new();
    for name in header {
        if !seen.insert(name) {
            bail!(
                "{}: line 1: column `{name}` appears twice in the header",
                path.display()
            );
        }
    }
    Ok(())
}

/// The first data row whose field count differs from the header's, as an
/// error naming it (the CSV reader's own message has no row number).
fn csv_shape_error(path: &Path) -> Option<anyhow::Error> {
    let mut reader = csv_reader(path).ok()?;
    let e = reader.records().find_map(Result::err)?;
    let csv::ErrorKind::UnequalLengths {
        pos: Some(pos),
        expected_len,
        len,
    } = e.kind()
    else {
        return None;
    };
    Some(anyhow::anyhow!(
        "{}: row {} (line {}): {len} fields, the header has {expected_len}",
        path.display(),
        pos.line() - 1,
        pos.line()
    ))
}

fn csv_reader(path: &Path) -> Result<csv::Reader<File>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .with_context(|| format!("{}: cannot open", path.display()))
}

type Extracted = (Vec<f64>, usize, Vec<u32>, Vec<String>);

/// Pulls the label column and the class columns (row-major) out of the frame.
fn extract(path: &Path, frame: &DataFrame, label_column: &str) -> Result<Extracted> {
    if frame.height() == 0 {
        bail!("{}: no data rows", path.display());
    }
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !names.iter().any(|n| n == label_column) {
        bail!(
            "{}: no column named `{label_column}` (columns: {})",
            path.display(),
            names.join(", ")
        );
    }
    let class_names: Vec<String> = names.into_iter().filter(|n| n != label_column).collect();
    if class_names.is_empty() {
        bail!(
            "{}: no class columns besides `{label_column}`",
            path.display()
        );
    }
    let labels = label_values(path, frame, label_column)?;
    let n = frame.height();
    let k = class_names.len();
    let mut values = vec![0.0; n * k];
    for (c, name) in class_names.iter().enumerate() {
        for (row, v) in numeric_column(path, frame, name)?.into_iter().enumerate() {
            values[row * k + c] = v;
        }
    }
    Ok((values, k, labels, class_names))
}

/// A column as f64, refusing empty cells and text that is not a number.
fn numeric_column(path: &Path, frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = frame.column(name)?.as_materialized_series();
    let cast = column.cast_with_options(&DataType::Float64, CastOptions::NonStrict)?;
    let floats = cast.f64()?;
    let mut out = Vec::with_capacity(floats.len());
    for (row, v) in floats.iter().enumerate() {
        match v {
            Some(v) => out.push(v),
            None => bail!(
                "{}: row {}, column `{name}`: {}",
                path.display(),
                row + 1,
                describe_cell(column, row)
            ),
        }
    }
    Ok(out)
}

fn label_values(path: &Path, frame: &DataFrame, name: &str) -> Result<Vec<u32>> {
    numeric_column(path, frame, name)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| {
            if v.fract() == 0.0 && v >= 0.0 && v <= u32::MAX as f64 {
                Ok(v as u32)
            } else {
                bail!(
                    "{}: row {}, column `{name}`: label {v} is not a class index (0, 1, ...)",
                    path.display(),
                    row + 1
                )
            }
        })
        .collect()
}

fn describe_cell(column: &Series, row: usize) -> String {
    match column.get(row) {
        Ok(AnyValue::Null) | Err(_) => "empty cell (missing value or ragged row)".to_string(),
        Ok(v) => format!("`{}` is not a number", v.to_string().trim_matches('"')),
    }
}

/// Turns a metrics validation error into one naming file, row and column.
fn locate(path: &Path, e: MetricsError, classes: &[String], label_column: &str) -> anyhow::Error {
    let col = |c: usize| classes.get(c).map(String::as_str).unwrap_or("?");
    let p = path.display();
    match e {
        MetricsError::NonFinite { row, column, value } => {
            anyhow::anyhow!("{p}: row {}, column `{}`: value {value} is not finite", row + 1, col(column))
        }
        MetricsError::OutOfRange { row, column, value } => anyhow::anyhow!(
            "{p}: row {}, column `{}`: probability {value} is outside [0, 1]",
            row + 1,
            col(column)
        ),
        MetricsError::RowSum { row, sum, tolerance } => anyhow::anyhow!(
            "{p}: row {}: probabilities sum to {sum}, not 1 (tolerance {tolerance}); pass --logits if these are scores",
            row + 1
        ),
        MetricsError::Label { row, label, n_classes } => anyhow::anyhow!(
            "{p}: row {}, column `{label_column}`: label {label} is out of range for {n_classes} classes",
            row + 1
        ),
        other => anyhow::anyhow!("{p}: {other}"),
    }
}
