//! `oodcal splits`: a study's DomainBed splits for one trial, written as file
//! lists (JSON and plain text) that a user can compare with DomainBed's.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::checksum::sha256_bytes;
use crate::data::domainbed::dataset_info;
use crate::data::image_folder::scan_image_folder;
use crate::data::split_lists::split_lists;
use crate::run::benchmark::input_folder;
use crate::study::Study;

#[derive(Args, Debug)]
pub struct SplitsArgs {
    /// The study manifest (its benchmark names the dataset, test domain and holdout fraction).
    #[arg(default_value = "experiments/quick.toml")]
    pub study: PathBuf,
    /// DomainBed's trial seed (a run's seed: its record pins the splits as `splits:trial-<seed>`).
    #[arg(long, default_value_t = 0)]
    pub trial: u64,
    /// Folder for `trial-<N>.json` and `trial-<N>.txt`. Default: runs/<study>/splits.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(g: &Global, a: &SplitsArgs) -> Result<ExitCode> {
    let ctx = Context::open(g, true)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let name = study.benchmark.dataset.get_ref();
    let input = ctx.catalogue.get(name).with_context(|| {
        format!(
            "dataset `{name}` is not in {}",
            ctx.catalogue.file.display()
        )
    })?;
    if input.generator.is_some() {
        bail!(
            "`{name}` is generated, not an image folder: its images have no files to list \
             (its splits are by image index; `oodcal generate` writes the images)"
        );
    }
    let root = input_folder(input, &ctx.roots)?;
    let index = scan_image_folder(&root, dataset_info(name).as_ref())?;
    let Some(test_domain) = index
        .domain_names
        .iter()
        .position(|d| *d == study.benchmark.test_domain)
    else {
        bail!(
            "{}: test domain `{}` is not a domain of `{name}` ({:?})",
            a.study.display(),
            study.benchmark.test_domain,
            index.domain_names
        );
    };
    let lists = split_lists(
        &index,
        test_domain,
        study.benchmark.holdout_fraction,
        a.trial,
    )?;
    let out = a.out.clone().unwrap_or_else(|| {
        ctx.roots
            .repo
            .join("runs")
            .join(study.name())
            .join("splits")
    });
    std::fs::create_dir_all(&out).with_context(|| format!("{}: cannot create", out.display()))?;
    for (ext, text) in [("json", lists.to_json()), ("txt", lists.to_text())] {
        let path = out.join(format!("trial-{}.{ext}", a.trial));
        crate::atomic::write(&path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
        println!("{}  {}", sha256_bytes(text.as_bytes()), path.display());
    }
    println!(
        "records of trial {} pin these splits as input `splits:trial-{}` = {}",
        a.trial, a.trial, lists.splits_sha256
    );
    for d in &lists.domains {
        let role = match d.domain == lists.test_domain {
            true => "test domain",
            false => "training domain",
        };
        println!(
            "{} ({role}, numpy seed {}): in {}, out {}",
            d.domain,
            d.seed,
            d.in_files.len(),
            d.out_files.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
