//! The notices at the top of a report: what was set aside, failed or left
//! unfinished, and why.

use crate::aggregate::learned::labels_with;
use crate::aggregate::{Aggregate, Learned};

/// The notices shown at the top of the page.
pub fn warnings(agg: &Aggregate) -> Vec<String> {
    let mut w = Vec::new();
    if agg.key.is_none() {
        w.push(
            "No verified run records of this study were found: there is nothing to report yet."
                .to_string(),
        );
    }
    for g in &agg.other_groups {
        w.push(format!(
            "{} record(s) set aside, not mixed with this report's runs: they differ in {} ({}).",
            g.runs,
            g.differs_in.join(", "),
            g.key.describe()
        ));
    }
    if !agg.failed.is_empty() {
        w.push(format!(
            "{} run(s) failed (listed under “Failed runs”); they are never used as results.",
            agg.failed.len()
        ));
    }
    if !agg.not_planned.is_empty() {
        w.push(format!(
            "{} verified record(s) set aside as not runs of this study: {}.",
            agg.not_planned.len(),
            not_planned_by_reason(&agg.not_planned)
        ));
    }
    w.extend(learning_notices(agg));
    w.extend(caveat_notices(agg));
    let untested: Vec<&str> = agg
        .claims
        .iter()
        .filter(|c| c.too_few_points)
        .map(|c| c.id.as_str())
        .collect();
    if !untested.is_empty() {
        w.push(format!(
            "{} of {} claims are untested here, with too few points (their notes say what is \
             missing): {}.",
            untested.len(),
            agg.claims.len(),
            untested.join(", ")
        ));
    }
    let dirty = agg
        .records
        .iter()
        .filter(|r| r.record.code.is_dirty())
        .count();
    if dirty > 0 {
        w.push(format!(
            "{dirty} record(s) were made from a working tree with uncommitted changes (commit \
             marked -dirty under Provenance): their code cannot be recovered from the commit alone."
        ));
    }
    if agg.unfinished > 0 {
        w.push(format!(
            "{} record folder(s) have no record.sha256 (unfinished runs) and are not used.",
            agg.unfinished
        ));
    }
    w
}

/// Models that did not learn (left out of the claims) or could not be checked.
fn learning_notices(agg: &Aggregate) -> Vec<String> {
    let named = |verdict: Learned| labels_with(&agg.learning, verdict);
    let mut w = Vec::new();
    let failed = named(Learned::No);
    if !failed.is_empty() {
        w.push(format!(
            "{} of {} models did not learn (ID-validation accuracy not clearly above chance; \
             see “Did the models learn?”) and are left out of every claim: {}.",
            failed.len(),
            agg.learning.len(),
            failed.join(", ")
        ));
    }
    let unchecked = named(Learned::Unchecked);
    if !unchecked.is_empty() {
        w.push(format!(
            "{} model(s) could not be checked for learning (a selected run has no predictions \
             file) and are kept in the claims: {}.",
            unchecked.len(),
            unchecked.join(", ")
        ));
    }
    w
}

/// Temperature fits at their bound; selections at an end of the grid.
fn caveat_notices(agg: &Aggregate) -> Vec<String> {
    let mut w = Vec::new();
    if !agg.temperatures_at_bound.is_empty() {
        let runs: Vec<String> = agg
            .temperatures_at_bound
            .iter()
            .map(|t| format!("{} seed {} (T = {})", t.label, t.seed, t.temperature))
            .collect();
        w.push(format!(
            "{} selected run(s) fitted a temperature at the search bound, so their \
             temperature-scaled ECE is that of a degenerate fit: {}.",
            runs.len(),
            runs.join(", ")
        ));
    }
    for e in &agg.grid_edges {
        let grid: Vec<String> = e.grid.iter().map(|v| v.to_string()).collect();
        w.push(format!(
            "{} of {} selected runs sit at the {} {} of the grid ({}): the best value may \
             lie outside it.",
            e.selected_at_edge,
            e.selected,
            e.end,
            e.axis,
            grid.join(", ")
        ));
    }
    w
}

/// `N <reason> (<first folders>, ...)` for each reason, folders shortened
/// to 12 characters as run ids are shown elsewhere.
fn not_planned_by_reason(records: &[(String, String)]) -> String {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (folder, why) in records {
        by_reason.entry(why).or_default().push(folder);
    }
    let shown = 3;
    let groups: Vec<String> = by_reason
        .into_iter()
        .map(|(why, folders)| {
            let mut names: Vec<&str> = folders
                .iter()
                .take(shown)
                .map(|f| &f[..f.len().min(12)])
                .collect();
            let more = folders.len().saturating_sub(shown);
            let more = format!("{more} more");
            if folders.len() > shown {
                names.push(&more);
            }
            format!("{} {why} ({})", folders.len(), names.join(", "))
        })
        .collect();
    groups.join("; ")
}
