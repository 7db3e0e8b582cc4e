//! Calibration and accuracy metrics (pure Rust, f64 accumulation).
//!
//! The paper (Naganuma et al., arXiv 2307.08187) reports OOD accuracy and the
//! top-label, 10-bin, L1 expected calibration error ×100, on raw softmax, and
//! its code base used equal-width bins on one branch and equal-mass bins on
//! another; both are computed here ([`Variant::paper`]). Around that preset:
//!
//! * [`Predictions`]: validated `n × k` probabilities (or softmaxed logits)
//!   plus labels; errors name the row and column ([`MetricsError`]).
//! * [`EceSpec`] / [`Variant`]: every number carries its variant in its name
//!   (`ece[top-label,equal-width,10,L1]`, `ce[top-label,equal-mass,10,L2,debiased]`,
//!   `nll`, `brier[multiclass]`, `accuracy`) and names parse back.
//! * [`binning`]: the exact edge and tie rules (rustdoc there).
//! * [`ece`]: L1 / L2 / max / debiased-L2, top-label and class-wise, plus
//!   reliability-diagram tables.
//! * [`scores`]: accuracy, NLL, multiclass Brier.
//! * [`paper`]: the paper's numbers (×100, test domain = mean of its two splits).
//! * [`temperature`]: temperature scaling fitted on one set, applied to another.
//! * [`mod@bootstrap`]: seeded, thread-count-independent percentile intervals.
//!
//! Cross-checks against torchmetrics, netcal and uncertainty-calibration live
//! in `tests/metrics_fixtures.rs`; the deliberate differences are listed there.

pub mod binning;
pub mod bootstrap;
pub mod ece;
pub mod error;
pub mod paper;
pub(crate) mod par;
pub mod predictions;
pub mod report;
pub mod scores;
pub mod temperature;
pub mod variant;

pub use binning::{BinAcc, Bins, EqualMass, EqualWidth};
pub use bootstrap::{bootstrap, BootstrapInterval, BootstrapOptions};
pub use ece::{calibration_error, BinRow};
pub use error::{MetricsError, Result};
pub use paper::{paper_accuracy, paper_ece, test_domain_ece, PaperScores};
pub use predictions::{Predictions, TopLabel, ROW_SUM_TOLERANCE};
pub use report::evaluate;
pub use temperature::{
    fit_temperature, temperature_scaling, Logits, TemperatureFit, TemperatureReport,
};
pub use variant::{Binning, EceSpec, MetricKind, Norm, Scope, Variant};
