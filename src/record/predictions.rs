//! The predictions table, one codec for every file of predictions: the
//! `predictions.csv` each run record carries (written here, read here by the
//! report's reliability diagrams) and the tables a user brings to
//! `oodcal metrics` (read by the same reader, CSV or Parquet).
//!
//! Layout: one row per example; an integer label column (`label` unless told
//! otherwise); optionally a `split` column naming the example's split and an
//! `index` column numbering it within the split; every other column is a class,
//! in class order, holding a logit or a probability. A record's file has all
//! three: `split,index,label,logit_0,…`, splits `id`, `ood_in`, `ood_out`.
//!
//! Every problem names the file, the data row (1-based; in a CSV file that is
//! line row + 1, after the header) and the column.

use anyhow::{bail, Context, Result};
use polars::chunked_array::cast::CastOptions;
use polars::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::metrics::{Logits, MetricsError, Predictions};

/// Column naming the split of a row (metadata, not a class).
pub const SPLIT_COLUMN: &str = "split";
/// Column numbering a row within its split (metadata, not a class).
pub const INDEX_COLUMN: &str = "index";
/// A record's splits: ID validation, then the test domain's two halves.
pub const ID_SPLIT: &str = "id";
pub const OOD_SPLITS: [&str; 2] = ["ood_in", "ood_out"];

/// Logits (`[n, classes]` row-major) and labels of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitLogits {
    pub logits: Vec<f32>,
    pub labels: Vec<u32>,
}

/// Logits on the three evaluation splits at one step: what a record's
/// `predictions.csv` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalLogits {
    pub classes: usize,
    pub id: SplitLogits,
    pub ood_in: SplitLogits,
    pub ood_out: SplitLogits,
}

impl SplitLogits {
    /// The two splits' rows, `a`'s first (the test domain pooled).
    pub fn pooled(a: &SplitLogits, b: &SplitLogits) -> SplitLogits {
        SplitLogits {
            logits: [&a.logits[..], &b.logits[..]].concat(),
            labels: [&a.labels[..], &b.labels[..]].concat(),
        }
    }

    /// Validated logits, widened to f64 exactly (for temperature scaling).
    pub fn logits(&self, classes: usize) -> Result<Logits> {
        Logits::new(self.widened(), classes, self.labels.clone()).context("logits")
    }

    /// Validated softmax predictions.
    pub fn predictions(&self, classes: usize) -> Result<Predictions> {
        Predictions::from_logits(self.widened(), classes, self.labels.clone())
            .context("predictions")
    }

    fn widened(&self) -> Vec<f64> {
        self.logits.iter().map(|&v| f64::from(v)).collect()
    }
}

impl EvalLogits {
    /// The splits in file order, by name.
    pub fn splits(&self) -> [(&'static str, &SplitLogits); 3] {
        [
            (ID_SPLIT, &self.id),
            (OOD_SPLITS[0], &self.ood_in),
            (OOD_SPLITS[1], &self.ood_out),
        ]
    }
}

/// A record's `predictions.csv`: `split,index,label,logit_0,…`, one row per
/// example of every split, each logit in its shortest round-trip form.
pub fn to_csv(logits: &EvalLogits) -> Vec<u8> {
    let k = logits.classes;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        SPLIT_COLUMN.to_string(),
        INDEX_COLUMN.to_string(),
        "label".to_string(),
    ];
    header.extend((0..k).map(|c| format!("logit_{c}")));
    let mut row = Vec::with_capacity(3 + k);
    // Writing into a Vec cannot fail; an error here is a bug.
    writer.write_record(&header).expect("in-memory CSV");
    for (name, split) in logits.splits() {
        for (i, (values, label)) in split.logits.chunks_exact(k).zip(&split.labels).enumerate() {
            row.clear();
            row.extend([name.to_string(), i.to_string(), label.to_string()]);
            row.extend(values.iter().map(f32::to_string));
            writer.write_record(&row).expect("in-memory CSV");
        }
    }
    writer.into_inner().expect("in-memory CSV")
}

/// Reads a record's `predictions.csv` back into the logits it was written
/// from, bit for bit: each value is the shortest decimal of an f32, so
/// narrowing what the reader parsed gives that f32 again.
pub fn read_record(path: &Path) -> Result<EvalLogits> {
    let table = read(path, "label")?;
    let split = |name: &str| -> Result<SplitLogits> {
        let rows = table.rows_of(&[name])?;
        rows.logits()?; // validates, naming the file's row and column
        Ok(SplitLogits {
            logits: rows.scores.iter().map(|&v| v as f32).collect(),
            labels: rows.labels,
        })
    };
    Ok(EvalLogits {
        classes: table.classes.len(),
        id: split(ID_SPLIT)?,
        ood_in: split(OOD_SPLITS[0])?,
        ood_out: split(OOD_SPLITS[1])?,
    })
}

/// What the class columns hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scores {
    Probabilities,
    Logits,
}

/// A predictions table read from a file: labels and class scores, with the
/// split of each row when the file has a `split` column. Rows keep their
/// number in the file, so a subset's errors still name the file's row.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    label_column: String,
    classes: Vec<String>,
    /// Row-major, `classes.len()` per row.
    scores: Vec<f64>,
    labels: Vec<u32>,
    splits: Option<Vec<String>>,
    /// 0-based data row in the file of each row here.
    file_rows: Vec<usize>,
}

/// Reads `path` (by extension: `.parquet`/`.pq`, else CSV).
pub fn read(path: &Path, label_column: &str) -> Result<Table> {
    let frame = read_frame(path)?;
    extract(path, &frame, label_column)
}

impl Table {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// Class column names, in class order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The distinct splits, in order of first appearance; `None` without a
    /// `split` column.
    pub fn split_names(&self) -> Option<Vec<&str>> {
        let splits = self.splits.as_ref()?;
        let mut names: Vec<&str> = Vec::new();
        for s in splits {
            if !names.contains(&s.as_str()) {
                names.push(s);
            }
        }
        Some(names)
    }

    /// The rows of the named splits, in file order. Errors when the file has
    /// no `split` column or when a name matches no row.
    pub fn rows_of(&self, names: &[&str]) -> Result<Table> {
        let Some(splits) = &self.splits else {
            bail!(
                "{}: no `{SPLIT_COLUMN}` column to choose rows by",
                self.path.display()
            );
        };
        let present = self.split_names().unwrap_or_default();
        if let Some(missing) = names.iter().find(|n| !present.contains(n)) {
            bail!(
                "{}: no rows of split `{missing}` (splits: {})",
                self.path.display(),
                present.join(", ")
            );
        }
        let keep: Vec<usize> = (0..self.labels.len())
            .filter(|&r| names.contains(&splits[r].as_str()))
            .collect();
        let k = self.classes.len();
        Ok(Table {
            path: self.path.clone(),
            label_column: self.label_column.clone(),
            classes: self.classes.clone(),
            scores: keep
                .iter()
                .flat_map(|&r| self.scores[r * k..(r + 1) * k].iter().copied())
                .collect(),
            labels: keep.iter().map(|&r| self.labels[r]).collect(),
            splits: Some(keep.iter().map(|&r| splits[r].clone()).collect()),
            file_rows: keep.iter().map(|&r| self.file_rows[r]).collect(),
        })
    }

    /// Validated predictions (softmax applied to logits).
    pub fn predictions(&self, scores: Scores) -> Result<Predictions> {
        let (values, k, labels) = (self.scores.clone(), self.classes.len(), self.labels.clone());
        let built = match scores {
            Scores::Probabilities => Predictions::from_probabilities(values, k, labels),
            Scores::Logits => Predictions::from_logits(values, k, labels),
        };
        built.map_err(|e| self.locate(e))
    }

    /// Validated logits (for temperature scaling).
    pub fn logits(&self) -> Result<Logits> {
        Logits::new(self.scores.clone(), self.classes.len(), self.labels.clone())
            .map_err(|e| self.locate(e))
    }

    /// Turns a metrics validation error into one naming file, row and column.
    fn locate(&self, e: MetricsError) -> anyhow::Error {
        let col = |c: usize| self.classes.get(c).map(String::as_str).unwrap_or("?");
        let row = |r: usize| self.file_rows.get(r).map_or(r, |&f| f) + 1;
        let p = self.path.display();
        let label_column = &self.label_column;
        match e {
            MetricsError::NonFinite { row: r, column, value } => anyhow::anyhow!(
                "{p}: row {}, column `{}`: value {value} is not finite",
                row(r),
                col(column)
            ),
            MetricsError::OutOfRange { row: r, column, value } => anyhow::anyhow!(
                "{p}: row {}, column `{}`: probability {value} is outside [0, 1]",
                row(r),
                col(column)
            ),
            MetricsError::RowSum { row: r, sum, tolerance } => anyhow::anyhow!(
                "{p}: row {}: probabilities sum to {sum}, not 1 (tolerance {tolerance}); pass --logits if these are scores",
                row(r)
            ),
            MetricsError::Label { row: r, label, n_classes } => anyhow::anyhow!(
                "{p}: row {}, column `{label_column}`: label {label} is out of range for {n_classes} classes",
                row(r)
            ),
            other => anyhow::anyhow!("{p}: {other}"),
        }
    }
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

/// Pulls the label, split and class columns (row-major) out of the frame.
fn extract(path: &Path, frame: &DataFrame, label_column: &str) -> Result<Table> {
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
    let metadata = [label_column, SPLIT_COLUMN, INDEX_COLUMN];
    let classes: Vec<String> = names
        .iter()
        .filter(|n| !metadata.contains(&n.as_str()))
        .cloned()
        .collect();
    if classes.is_empty() {
        bail!(
            "{}: no class columns besides `{label_column}`",
            path.display()
        );
    }
    let labels = label_values(path, frame, label_column)?;
    let n = frame.height();
    let k = classes.len();
    let mut scores = vec![0.0; n * k];
    for (c, name) in classes.iter().enumerate() {
        for (row, v) in numeric_column(path, frame, name)?.into_iter().enumerate() {
            scores[row * k + c] = v;
        }
    }
    let splits = names
        .iter()
        .any(|n| n == SPLIT_COLUMN)
        .then(|| split_values(path, frame))
        .transpose()?;
    Ok(Table {
        path: path.to_path_buf(),
        label_column: label_column.to_string(),
        classes,
        scores,
        labels,
        splits,
        file_rows: (0..n).collect(),
    })
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

/// The `split` column as text, refusing empty cells.
fn split_values(path: &Path, frame: &DataFrame) -> Result<Vec<String>> {
    let column = frame.column(SPLIT_COLUMN)?.as_materialized_series();
    let text = column.cast(&DataType::String)?;
    text.str()?
        .iter()
        .enumerate()
        .map(|(row, v)| match v {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => bail!(
                "{}: row {}, column `{SPLIT_COLUMN}`: empty cell",
                path.display(),
                row + 1
            ),
        })
        .collect()
}

fn describe_cell(column: &Series, row: usize) -> String {
    match column.get(row) {
        Ok(AnyValue::Null) | Err(_) => "empty cell (missing value or ragged row)".to_string(),
        Ok(v) => format!("`{}` is not a number", v.to_string().trim_matches('"')),
    }
}
