//! oodcal: a reproducibility package for Naganuma et al., "An Empirical Study
//! of Pre-trained Model Selection for Out-of-Distribution Generalization and
//! Calibration" (arXiv 2307.08187).
//!
//! Modules follow the data flow: `inputs` (pinned inputs) and `study`
//! (manifests, planned runs) feed training; `checksum` underlies all checks.

pub mod aggregate;
pub mod atomic;
pub mod checksum;
pub mod cli;
pub mod data;
pub mod inputs;
pub mod metrics;
pub mod model;
pub mod predictions_file;
pub mod progress;
pub mod record;
pub mod report;
pub mod run;
pub mod source_error;
pub mod study;
pub mod train;
pub mod weights;
