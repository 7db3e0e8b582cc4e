//! `oodcal report`: build a study's HTML report from its run records, or
//! check an existing report against its `report.lock`.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, Global};
use crate::report::compare::{self, ReferenceReport};
use crate::report::{build_report_as, build_report_for, check_report, StudyMeta};
use crate::study::Study;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The study manifest (names the study and its default records folder).
    #[arg(long, default_value = "experiments/quick.toml")]
    pub study: PathBuf,
    /// Folder of run records (default: the study's `runs_dir`).
    #[arg(long)]
    pub records: Option<PathBuf>,
    /// Output folder (default: reports/<study name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Report every verified record of the folder, not only the runs the
    /// study's manifest plans (records whose manifest you do not have).
    #[arg(long)]
    pub all_records: bool,
    /// Instead of building: re-hash a report's files and records against its
    /// report.lock and name every one that drifted.
    #[arg(long, value_name = "REPORT_DIR")]
    pub check: Option<PathBuf>,
    /// Set each claim beside a reference report's (a committed report, or
    /// one built from a colleague's records): a section of the page, and a
    /// table here, saying which findings reproduced.
    #[arg(long, value_name = "REF_DIR")]
    pub compare: Option<PathBuf>,
}

pub fn run(g: &Global, a: &ReportArgs) -> Result<ExitCode> {
    if let Some(dir) = &a.check {
        return check(dir, a.records.as_deref());
    }
    let ctx = Context::open(g, false)?;
    let study = Study::load(&a.study, &ctx.catalogue)?;
    let records = a
        .records
        .clone()
        .unwrap_or_else(|| ctx.roots.repo.join(&study.runs_dir));
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| ctx.roots.repo.join("reports").join(study.name()));
    if !records.is_dir() {
        bail!(
            "{}: no records folder (run the study first, or pass --records)",
            records.display()
        );
    }
    let mut meta = StudyMeta::from_study(&study)?;
    if let Some(dir) = &a.compare {
        meta.compare = Some(ReferenceReport::read(dir)?);
    }
    let summary = match a.all_records {
        true => build_report_for(&meta, &records, &out)?,
        false => build_report_as(&meta, &study, &ctx.catalogue, &records, &out)?,
    };
    if let Some(reference) = &meta.compare {
        println!(
            "{}",
            compare::table(&compare::compare(&summary.claims, reference))
        );
    }
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    let verdicts: Vec<String> = summary
        .claims
        .iter()
        .map(|c| format!("{}: {}", c.id, c.verdict.text()))
        .collect();
    eprintln!(
        "{} models from {} completed runs; claims: {}",
        summary.models,
        summary.runs,
        verdicts.join(", ")
    );
    println!("{}", summary.index_html.display());
    Ok(ExitCode::SUCCESS)
}

fn check(dir: &std::path::Path, records: Option<&std::path::Path>) -> Result<ExitCode> {
    let result = check_report(dir, records)?;
    for p in &result.problems {
        println!("DRIFTED {p}");
    }
    for l in &result.leftovers {
        eprintln!(
            "warning: {}: leftover of an interrupted write, not part of the report (the next `oodcal report` removes it)",
            l.display()
        );
    }
    if result.ok() {
        println!(
            "{}: all {} files match report.lock",
            dir.display(),
            result.checked
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{}: {} of {} files drifted",
            dir.display(),
            result.problems.len(),
            result.checked
        );
        Ok(ExitCode::FAILURE)
    }
}
