//! `oodcal pretrain`: re-create (or check) the zoo checkpoints a study starts from.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::run::pretrain::PretrainOutcome;
use crate::run::{pretrain_study, PretrainOptions};
use crate::study::Study;
use crate::train::BackendKind;

#[derive(Args, Debug)]
pub struct PretrainArgs {
    /// The study manifest whose `[[pretrain]]` entries to train.
    #[arg(default_value = "experiments/quick.toml")]
    pub study: PathBuf,
    #[arg(long, default_value = "cpu", env = "OODCAL_BACKEND")]
    pub backend: BackendKind,
    /// Record the new checkpoints' SHA-256 in the data manifest.
    #[arg(long)]
    pub pin: bool,
    /// Re-train every checkpoint into the cache and compare it bit for bit with
    /// the pinned file (exit 1 on any difference).
    #[arg(long, conflicts_with = "pin")]
    pub check: bool,
    /// Only checkpoints whose name contains this (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    #[command(flatten)]
    pub jobs: super::run::JobsArg,
}

pub fn run(g: &Global, a: &PretrainArgs) -> Result<ExitCode> {
    let ctx = Context::open(g, true)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let options = PretrainOptions {
        backend: a.backend,
        pin: a.pin,
        check: a.check,
        only: a.only.clone(),
        jobs: a.jobs.resolve(a.backend),
    };
    let results = pretrain_study(&study, &ctx.catalogue, &ctx.roots, &options)?;
    let differing = results
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                PretrainOutcome::Checked {
                    identical: false,
                    ..
                }
            )
        })
        .count();
    Ok(match differing {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}
