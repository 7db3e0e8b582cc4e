//! `oodcal verify`: inputs against data-manifest.toml.

use anyhow::Result;
use clap::Args;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{Context, Global};
use crate::inputs::{verify_input, InputStatus, InputVerdict};
use crate::study::Study;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Only these inputs (by name); default: all of them.
    pub names: Vec<String>,
    /// A study manifest whose inputs must be present: missing ones then fail.
    #[arg(long)]
    pub study: Option<PathBuf>,
    /// Hash everything afresh, ignoring and not updating the digest cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Check the run records in this folder (each record's digest, spec and
    /// predictions); with --reference, compare them with the reference results.
    #[arg(long)]
    pub records: Option<PathBuf>,
    /// Reference results (e.g. reports/quick/reference.json) to compare the
    /// records of --records, or the planned runs of --study, against.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Write the reference results of --records to this file instead of comparing.
    #[arg(long, requires = "records")]
    pub write_reference: Option<PathBuf>,
}

pub fn run(g: &Global, a: &VerifyArgs) -> Result<ExitCode> {
    if a.records.is_some() || a.reference.is_some() {
        return super::verify_records::run(g, a);
    }
    let ctx = Context::open(g, !a.no_cache)?;
    let needed = needed_inputs(&ctx, a)?;
    let selected: Vec<_> = ctx
        .catalogue
        .inputs
        .iter()
        .filter(|i| a.names.is_empty() || a.names.contains(&i.name))
        .collect();
    for name in &a.names {
        if ctx.catalogue.get(name).is_none() {
            anyhow::bail!(
                "no input named `{name}` in {}",
                ctx.catalogue.file.display()
            );
        }
    }
    let start = Instant::now();
    // Inputs are checked one after another; each folder is hashed in parallel inside.
    let statuses: Vec<InputStatus> = selected
        .iter()
        .map(|i| verify_input(i, &ctx.roots, &ctx.cache))
        .collect::<std::io::Result<_>>()?;
    ctx.cache.save_or_warn();
    let failed = report(&statuses, &needed);
    eprintln!(
        "verified {} inputs in {:.2}s{}",
        statuses.len(),
        start.elapsed().as_secs_f64(),
        if a.no_cache { " (no cache)" } else { "" }
    );
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints one line per input (details indented below); true if anything fails.
fn report(statuses: &[InputStatus], needed: &BTreeSet<String>) -> bool {
    let mut failed = false;
    for s in statuses {
        println!("{s}");
        let needed_but_absent = needed.contains(&s.name) && s.verdict == InputVerdict::Missing;
        if needed_but_absent {
            println!("    needed by the study: run `oodcal fetch {}`", s.name);
        }
        failed |= s.verdict.is_failure() || needed_but_absent;
    }
    failed
}

fn needed_inputs(ctx: &Context, a: &VerifyArgs) -> Result<BTreeSet<String>> {
    let Some(file) = &a.study else {
        return Ok(BTreeSet::new());
    };
    let study = Study::load(file, &ctx.catalogue)?;
    Ok(crate::study::expand(&study, &ctx.catalogue)
        .par_iter()
        .flat_map_iter(|r| r.spec.inputs.keys().cloned().collect::<Vec<_>>())
        .collect())
}
