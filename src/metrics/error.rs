//! The one error type of the metrics module.
//!
//! Every error that comes from a value in the input names where that value is:
//! `row` is the 0-based index of the data row (header lines of a file are not
//! counted) and `column` the 0-based class column, so a user can find the cell.

use thiserror::Error;

/// Errors raised while validating predictions, parsing metric names or running
/// a metric procedure with invalid options.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricsError {
    /// No rows: every metric here is an average over rows, so it is undefined.
    #[error("no predictions: the metrics need at least one row")]
    Empty,
    /// Zero classes: a row of probabilities needs at least one column.
    #[error("no classes: a prediction row needs at least one column")]
    NoClasses,
    /// The flat value buffer is not a whole number of rows.
    #[error("{values} values do not form whole rows of {n_classes} classes")]
    RaggedValues {
        /// Length of the flat buffer.
        values: usize,
        /// Columns per row that were asked for.
        n_classes: usize,
    },
    /// Labels and prediction rows disagree in number.
    #[error("{rows} prediction rows but {labels} labels")]
    LabelCount {
        /// Number of prediction rows.
        rows: usize,
        /// Number of labels.
        labels: usize,
    },
    /// NaN or an infinity in a probability or logit.
    #[error("row {row}, column {column}: value {value} is not finite")]
    NonFinite {
        /// 0-based data row.
        row: usize,
        /// 0-based class column.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A probability below 0 or above 1.
    #[error("row {row}, column {column}: probability {value} is outside [0, 1]")]
    OutOfRange {
        /// 0-based data row.
        row: usize,
        /// 0-based class column.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A row of probabilities that does not sum to 1.
    #[error("row {row}: probabilities sum to {sum}, not to 1 within {tolerance}")]
    RowSum {
        /// 0-based data row.
        row: usize,
        /// The row's sum.
        sum: f64,
        /// The tolerance that was applied.
        tolerance: f64,
    },
    /// A label that is not a class index.
    #[error("row {row}: label {label} is not below the number of classes ({n_classes})")]
    Label {
        /// 0-based data row.
        row: usize,
        /// The offending label.
        label: u32,
        /// Number of classes (columns).
        n_classes: usize,
    },
    /// Two sets that must share their classes (ID validation and OOD logits) do not.
    #[error("class count mismatch: {expected} classes expected, {found} found")]
    ClassMismatch {
        /// Classes of the first set.
        expected: usize,
        /// Classes of the second set.
        found: usize,
    },
    /// A metric name or ECE specification that does not parse.
    #[error("cannot parse metric variant {input:?}: {reason}")]
    Parse {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A specification that parses but asks for something undefined
    /// (zero bins, debiasing with a norm other than L2, ...).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which option.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A metric evaluated on a bootstrap resample returned NaN, so no
    /// percentile of the resampled values is meaningful.
    #[error("bootstrap resample {resample}: the metric returned NaN")]
    NanInBootstrap {
        /// 0-based index of the resample.
        resample: usize,
    },
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, MetricsError>;
