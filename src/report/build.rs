//! Building a report: verified records → aggregate → page, tables and
//! `report.lock`, written atomically into the report folder.

use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::html::{self, StudyMeta};
use super::notices::warnings;
use super::{domains, figures, lock, provenance, published, reliability, INDEX_FILE, LOCK_FILE};
use crate::aggregate::{aggregate_by, frames, load_records, Aggregate, ClaimResult};
use crate::checksum::{sha256_bytes, sha256_file};
use crate::inputs::Catalogue;
use crate::study::{expand, Study};

/// What a build produced, for the caller to print.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    pub index_html: PathBuf,
    pub lock: PathBuf,
    pub tables: Vec<PathBuf>,
    pub models: usize,
    /// Completed runs of the reported group.
    pub runs: usize,
    pub failed: usize,
    pub unfinished: usize,
    /// Records set aside because they differ from the reported group.
    pub set_aside: usize,
    pub warnings: Vec<String>,
    pub claims: Vec<ClaimResult>,
}

/// Builds `out_dir/index.html`, its tables and `report.lock` from the
/// verified records in `records_dir`. Refuses (naming every bad file) if any
/// record there fails verification. This is what `oodcal report` and
/// `oodcal reproduce` call.
///
/// Only the study's own planned runs are reported: a record of another study,
/// or of another version of the manifest, is set aside with a warning.
pub fn build_report(
    study: &Study,
    catalogue: &Catalogue,
    records_dir: &Path,
    out_dir: &Path,
) -> Result<ReportSummary> {
    build_report_as(
        &StudyMeta::from_study(study)?,
        study,
        catalogue,
        records_dir,
        out_dir,
    )
}

/// [`build_report`] with the page's `meta` given (e.g. with a reference
/// report to compare with).
pub fn build_report_as(
    meta: &StudyMeta,
    study: &Study,
    catalogue: &Catalogue,
    records_dir: &Path,
    out_dir: &Path,
) -> Result<ReportSummary> {
    let planned: BTreeSet<String> = expand(study, catalogue).into_iter().map(|r| r.id).collect();
    let mut meta = meta.clone();
    meta.input_sources = catalogue
        .inputs
        .iter()
        .map(|i| (i.name.clone(), i.source.clone()))
        .collect();
    if let Some(repo) = catalogue.file.parent() {
        meta.checkpoints = super::checkpoints::checkpoint_rows(study, catalogue, repo);
    }
    if let Some(data) = catalogue.get(study.benchmark.dataset.get_ref()) {
        meta.id_domains = super::domains::id_cuts(
            &data.expected.domains,
            &study.benchmark.test_domain,
            study.benchmark.holdout_fraction,
        );
    }
    build(&meta, records_dir, out_dir, Some((study.name(), &planned)))
}

/// [`build_report`] without a manifest (the study named by `meta`): every
/// verified record of the folder is reported.
pub fn build_report_for(
    meta: &StudyMeta,
    records_dir: &Path,
    out_dir: &Path,
) -> Result<ReportSummary> {
    build(meta, records_dir, out_dir, None)
}

fn build(
    meta: &StudyMeta,
    records_dir: &Path,
    out_dir: &Path,
    plan: Option<(&str, &BTreeSet<String>)>,
) -> Result<ReportSummary> {
    let mut loaded = load_records(records_dir)?;
    if let Some((name, planned)) = plan {
        loaded.keep_planned(name, planned);
    }
    write_report(
        meta,
        &aggregate_by(loaded, meta.selection),
        records_dir,
        out_dir,
    )
}
/// Writes every output of an aggregate: tables, page, lock.
pub fn write_report(
    meta: &StudyMeta,
    agg: &Aggregate,
    records_dir: &Path,
    out_dir: &Path,
) -> Result<ReportSummary> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("{}: cannot create", out_dir.display()))?;
    crate::atomic::clean_leftovers(out_dir)
        .with_context(|| format!("{}: cannot remove leftovers", out_dir.display()))?;
    let tables = write_tables(agg, out_dir)?;
    let table_names: Vec<String> = tables
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let figures = figures::figures(&agg.models, &agg.learning)?;
    let chosen = reliability::diagram_models(&agg.models, &agg.learning);
    let reliability = reliability::reliability_figures(records_dir, &chosen, &agg.selected)?;
    let reference = published::published();
    let provenance = provenance::provenance(&agg.records);
    let id_by_domain = domains::id_by_domain(records_dir, &agg.selected, &meta.id_domains)?;
    let mut warnings = warnings(agg);
    warnings.extend(super::checkpoints::notice(&meta.checkpoints));
    let page = html::render(&html::Page {
        study: meta,
        aggregate: agg,
        figures: &figures,
        reliability: &reliability,
        reference: &reference,
        provenance: &provenance,
        warnings: &warnings,
        tables: &table_names,
        id_by_domain,
    })?;
    let index = out_dir.join(INDEX_FILE);
    crate::atomic::write(&index, page.as_bytes())
        .with_context(|| format!("{}: cannot write", index.display()))?;
    let lock = build_lock(
        meta,
        agg,
        records_dir,
        &page,
        &table_names,
        out_dir,
        &provenance,
    )?;
    let lock_path = out_dir.join(LOCK_FILE);
    crate::atomic::write(&lock_path, lock.render().as_bytes())
        .with_context(|| format!("{}: cannot write", lock_path.display()))?;
    Ok(ReportSummary {
        index_html: index,
        lock: lock_path,
        tables,
        models: agg.models.len(),
        runs: agg.runs.len(),
        failed: agg.failed.len(),
        unfinished: agg.unfinished,
        set_aside: agg.other_groups.iter().map(|g| g.runs).sum(),
        warnings,
        claims: agg.claims.clone(),
    })
}

/// The tables: every run, the ERM runs the study's rule selects, those the
/// check rule selects (named after it: `oracle` in the paper's setting), the
/// per-model summary, the claims and, when the study ran several algorithms,
/// each model's results under each (`algorithms`).
fn write_tables(agg: &Aggregate, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let check = agg.rule.check().check_table();
    let mut names = vec!["runs", "selected", check, "summary", "claims"];
    if !agg.algorithm_cells.is_empty() {
        names.push("algorithms");
    }
    let mut written = Vec::new();
    for name in names {
        let mut frame = match name {
            "runs" => frames::runs_frame(&agg.runs),
            "selected" => frames::runs_frame(&agg.selected),
            "summary" => frames::summary_frame(&agg.models),
            "claims" => frames::claims_frame(&agg.claims),
            "algorithms" => frames::algorithms_frame(&agg.algorithm_cells),
            _ => frames::runs_frame(&agg.check),
        }
        .with_context(|| format!("building the {name} table"))?;
        written.extend(frames::write_table(out_dir, name, &mut frame)?);
    }
    Ok(written)
}

#[allow(clippy::too_many_arguments)]
fn build_lock(
    meta: &StudyMeta,
    agg: &Aggregate,
    records_dir: &Path,
    page: &str,
    tables: &[String],
    out_dir: &Path,
    provenance: &provenance::Provenance,
) -> Result<lock::Lock> {
    let mut files = vec![(sha256_bytes(page.as_bytes()), INDEX_FILE.to_string())];
    for t in tables {
        let path = out_dir.join(t);
        let sha = sha256_file(&path).with_context(|| format!("{}: cannot hash", path.display()))?;
        files.push((sha, t.clone()));
    }
    let records = agg
        .records
        .iter()
        .map(|r| {
            (
                r.record_sha256.clone(),
                format!("{}/{}", r.folder, crate::record::store::RECORD_FILE),
            )
        })
        .collect();
    let mut inputs: Vec<(String, String)> = provenance
        .inputs
        .iter()
        .flat_map(|i| i.digests.iter().map(|d| (d.clone(), i.name.clone())))
        .collect();
    if let Some((path, sha)) = &meta.manifest {
        inputs.push((sha.clone(), format!("study-manifest:{path}")));
    }
    if let Some(r) = &meta.compare {
        inputs.push((
            r.sha256.clone(),
            format!("compared-with:{}/{}", r.shown, super::compare::CLAIMS_FILE),
        ));
    }
    for f in published::published().files {
        inputs.push((f.sha256, f.name.to_string()));
    }
    Ok(lock::Lock {
        records_dir: records_dir.to_path_buf(),
        code: provenance.code.iter().map(|c| c.lock_line()).collect(),
        files,
        records,
        inputs,
    })
}
