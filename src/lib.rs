//! oodcal: a reproducibility package for Naganuma et al., "An Empirical Study
//! of Pre-trained Model Selection for Out-of-Distribution Generalization and
//! Calibration" (arXiv 2307.08187).
//!
//! Modules in data-flow order (`ARCHITECTURE.md` draws the arrows):
//!
//! * [`inputs`]: what studies read (datasets, weights, reference tables), pinned
//!   in `data-manifest.toml`; `verify` and `fetch`.
//! * [`study`]: study manifests and their expansion into runs with
//!   content-addressed ids (`plan`).
//! * [`data`]: images from a seed or a DomainBed folder to batches: generators,
//!   splits, preprocessing, augmentation.
//! * [`model`]: the burn networks (quick zoo, EfficientNet-Lite) and the head rule.
//! * [`weights`]: PyTorch weight files into burn modules.
//! * [`train`]: backends, optimizers, the training loop, checkpoints.
//! * [`run`]: pre-training the zoo and fine-tuning planned runs, one run lock
//!   each, into records.
//! * [`record`]: run records on disk, verified by digest, reference results,
//!   and the one codec of prediction tables (`predictions.csv`, `oodcal metrics`).
//! * [`metrics`]: accuracy, NLL, Brier, every ECE variant, temperature scaling.
//! * [`slurm`]: the same runs as a Slurm job array, and their status.
//! * [`aggregate`]: verified records → comparable group → selection → claims.
//! * [`report`]: the self-contained HTML page, tables and `report.lock`.
//! * [`cli`]: one subcommand per stage.
//!
//! Beside the flow: [`bench`] (throughput figures beside PyTorch's,
//! torchmetrics' and `sha256sum`'s).
//!
//! Beneath every stage: [`checksum`] (SHA-256 of files and folders, digest
//! cache), [`atomic`] (whole-file writes, leftovers of killed ones),
//! [`source_error`] (`file:line:column` errors), [`progress`] (bars).

pub mod aggregate;
pub mod atomic;
pub mod bench;
pub mod checksum;
pub mod cli;
pub mod data;
pub mod inputs;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod record;
pub mod report;
pub mod run;
pub mod slurm;
pub mod source_error;
pub mod study;
pub mod train;
pub mod weights;
