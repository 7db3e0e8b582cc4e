//! The notices at the top of a report: what was set aside, failed or left
//! unfinished, and why.

use crate::aggregate::Aggregate;

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
    if agg.unfinished > 0 {
        w.push(format!(
            "{} record folder(s) have no record.sha256 (unfinished runs) and are not used.",
            agg.unfinished
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
