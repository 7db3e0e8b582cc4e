//! The HTML report: one self-contained page (inline CSS and SVG, no scripts,
//! no external resources) plus CSV/Parquet tables and `report.lock`.
//!
//! * [`plot`]: deterministic SVG charts (plotters).
//! * [`figures`]: the paper's figures A-D and the study's extra figures.
//! * [`reliability`]: reliability diagrams from selected runs' logits.
//! * [`published`]: the paper's and DomainBed's published numbers.
//! * [`compare`]: a reproduction's claims beside a reference report's.
//! * [`domains`]: ID validation cut back into its training domains.
//! * [`distance`]: this study's setting and numbers beside the paper's, and
//!   the limitations that follow.
//! * [`provenance`]: inputs, code versions, devices, wall time.
//! * [`build`]: records → aggregate → page, tables and lock, written atomically.
//! * [`notices`]: the warnings at the top of the page.
//! * [`html`]: the minijinja page (auto-escaped).
//! * [`lock`]: `report.lock`, and checking a report against it.
//!
//! Rebuilding from the same records gives a byte-identical `index.html`:
//! nothing in it depends on time, paths outside the records folder, or order
//! of reading.

pub mod build;
pub mod checkpoints;
pub mod compare;
pub mod distance;
pub mod domains;
pub mod figures;
pub mod html;
pub mod lock;
pub mod notices;
pub mod plot;
pub mod provenance;
pub mod published;
pub mod reliability;

pub use build::{build_report, build_report_as, build_report_for, write_report, ReportSummary};
pub use html::StudyMeta;
pub use lock::{check_report, LockCheck, LOCK_FILE};
pub use notices::warnings;

pub const INDEX_FILE: &str = "index.html";
