//! ID validation per training domain, from the selected runs' predictions.
//!
//! A record keeps the ID-validation rows pooled, in the order the benchmark
//! built them: each training domain's DomainBed `out` split (the first
//! `int(n × holdout_fraction)` of its shuffled images), in the dataset's
//! domain order (sorted folder names, as DomainBed's `ImageFolder` lists
//! environments) without the test domain. The data manifest's per-domain
//! image counts give those lengths, so the rows can be cut back into domains
//! without the data. When the lengths do not add up to a run's rows, the
//! page says so instead of guessing.

use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use crate::aggregate::{MeanSe, RunRow};
use crate::record::predictions;
use crate::record::store::PREDICTIONS_FILE;

/// One training domain's share of the ID-validation rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainCut {
    pub name: String,
    pub rows: usize,
}

/// The training domains' `out` split lengths, in row order. `domains`: the
/// data manifest's image count per domain (a sorted map: DomainBed's order).
pub fn id_cuts(
    domains: &BTreeMap<String, u64>,
    test_domain: &str,
    holdout_fraction: f64,
) -> Vec<DomainCut> {
    domains
        .iter()
        .filter(|(name, _)| name.as_str() != test_domain)
        .map(|(name, &n)| DomainCut {
            name: name.clone(),
            // Python's int(n * holdout_fraction), as the split itself computes it.
            rows: (n as f64 * holdout_fraction) as usize,
        })
        .collect()
}

/// Accuracy (%) of each cut of `correct`, or `None` when the cuts do not
/// cover exactly its rows.
pub fn accuracy_by_cut(correct: &[bool], cuts: &[DomainCut]) -> Option<Vec<f64>> {
    if cuts.iter().map(|c| c.rows).sum::<usize>() != correct.len()
        || cuts.iter().any(|c| c.rows == 0)
    {
        return None;
    }
    let mut start = 0;
    Some(
        cuts.iter()
            .map(|c| {
                let part = &correct[start..start + c.rows];
                start += c.rows;
                100.0 * part.iter().filter(|&&ok| ok).count() as f64 / c.rows as f64
            })
            .collect(),
    )
}

/// A model's ID-validation accuracy per training domain (cut order).
pub type ModelDomains = (String, Vec<MeanSe>);

/// Per model (label order), ID-validation accuracy per training domain over
/// its selected runs (one per seed); `Ok(None)` when a run's rows do not
/// match the cuts or a run has no predictions file.
pub fn id_by_domain(
    records_dir: &Path,
    selected: &[RunRow],
    cuts: &[DomainCut],
) -> Result<Option<Vec<ModelDomains>>> {
    if cuts.is_empty() {
        return Ok(None);
    }
    let mut by_model: BTreeMap<&str, Vec<Vec<f64>>> = BTreeMap::new();
    for run in selected {
        let path = records_dir.join(&run.folder).join(PREDICTIONS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let logits = predictions::read_record(&path)?;
        let correct = logits
            .id
            .predictions(logits.classes)?
            .top_label()
            .correct()
            .to_vec();
        let Some(acc) = accuracy_by_cut(&correct, cuts) else {
            return Ok(None);
        };
        by_model.entry(run.label.as_str()).or_default().push(acc);
    }
    Ok(Some(
        by_model
            .into_iter()
            .map(|(label, runs)| {
                let per_domain = (0..cuts.len())
                    .map(|d| MeanSe::of(&runs.iter().map(|r| r[d]).collect::<Vec<_>>()))
                    .collect();
                (label.to_string(), per_domain)
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacs_cuts_follow_domainbed_out_lengths_in_folder_order() {
        let domains = BTreeMap::from([
            ("art_painting".to_string(), 2048),
            ("cartoon".to_string(), 2344),
            ("photo".to_string(), 1670),
            ("sketch".to_string(), 3929),
        ]);
        let cuts = id_cuts(&domains, "art_painting", 0.2);
        let got: Vec<(&str, usize)> = cuts.iter().map(|c| (c.name.as_str(), c.rows)).collect();
        assert_eq!(got, [("cartoon", 468), ("photo", 334), ("sketch", 785)]);
    }

    #[test]
    fn rows_are_cut_in_order_and_a_mismatch_is_refused() {
        let cuts = vec![
            DomainCut {
                name: "a".into(),
                rows: 2,
            },
            DomainCut {
                name: "b".into(),
                rows: 4,
            },
        ];
        let correct = [true, false, true, true, true, false];
        assert_eq!(accuracy_by_cut(&correct, &cuts), Some(vec![50.0, 75.0]));
        assert_eq!(accuracy_by_cut(&correct[..5], &cuts), None);
    }
}
