//! Study manifests (`experiments/<study>.toml`) and their expansion into runs.
//!
//! A study fixes the benchmark, the protocol, the models and the seeds; its
//! sweeps (optimizer × learning rate × weight decay × seed) expand into runs,
//! each with a content-addressed id.

pub mod compute;
mod expand;
mod manifest;
mod run_id;
mod zoo_checkpoint;

pub use expand::{expand, PlannedRun};
pub use manifest::{Benchmark, ModelEntry, PretrainEntry, Protocol, Study, StudyHeader};
pub use run_id::{run_id, RunSpec, RUN_SPEC_SCHEMA};
pub use zoo_checkpoint::{
    read_stats, stats_path, targets, zoo_checkpoint, PretrainStats, PretrainTarget, ZooCheckpoint,
    ZOO_DIR,
};
