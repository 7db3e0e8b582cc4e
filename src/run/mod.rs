//! The run stage: pre-training the zoo and fine-tuning the planned runs of a
//! study, each run leaving a verifiable record (see [`crate::record`]).
//!
//! Data flow of one fine-tuning run: [`start`] resolves, once per `run`
//! call, where each model's weights come from (zoo checkpoint, downloaded
//! weights, scratch), verified against their pins →
//! [`benchmark`] loads the benchmark images and the run's DomainBed splits →
//! [`sources`] feeds ERM minibatches (one per training domain) to
//! `train::train` → every K steps [`evaluate`] turns logits on the ID-validation
//! and test splits into the paper's metrics → [`finetune`] assembles and writes
//! the record. [`executor`] walks a study's runs: skips verified records,
//! resumes interrupted runs from their checkpoints, records failures.

pub mod benchmark;
pub mod code_version;
pub mod evaluate;
pub mod executor;
pub mod finetune;
pub mod frozen;
pub mod lock;
pub mod parallel;
pub mod pretrain;
pub mod sources;
pub mod start;

pub use executor::{run_study, RunOptions, StudySummary};
pub use parallel::cores;
pub use pretrain::{pretrain_study, PretrainOptions};
