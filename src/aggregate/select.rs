//! Model selection over the hyper-parameter grid.
//!
//! The paper's rule is training-domain validation: for each model and seed,
//! of the runs over learning rate × weight decay × optimizer, keep the one
//! with the highest ID-validation accuracy at the final step. The test-domain
//! oracle (highest OOD accuracy) peeks at the test domain; it is reported only
//! as a check of how much the honest rule leaves on the table.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::rows::RunRow;
use crate::train::Algorithm;

/// A model-selection rule, as a study manifest names it (`protocol.selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    TrainingDomainValidation,
    TestDomainOracle,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::TrainingDomainValidation => "training-domain validation",
            Rule::TestDomainOracle => "test-domain oracle",
        }
    }

    /// The rule reported beside this one as a check.
    pub fn check(self) -> Rule {
        match self {
            Rule::TrainingDomainValidation => Rule::TestDomainOracle,
            Rule::TestDomainOracle => Rule::TrainingDomainValidation,
        }
    }

    /// Name of the table of the runs this rule selects, when it is the check.
    pub fn check_table(self) -> &'static str {
        match self {
            Rule::TrainingDomainValidation => "training-domain-validation",
            Rule::TestDomainOracle => "oracle",
        }
    }

    fn score(self, row: &RunRow) -> f64 {
        match self {
            Rule::TrainingDomainValidation => row.id_accuracy,
            Rule::TestDomainOracle => row.ood_accuracy,
        }
    }
}

/// One run per (model label, algorithm, seed), sorted so. Ties on the
/// score go to the smaller learning rate, then the smaller weight decay, then
/// the optimizer name, then the run id, so the choice is deterministic and
/// does not depend on the order the records were read in. A NaN score never wins.
pub fn select(rows: &[RunRow], rule: Rule) -> Vec<RunRow> {
    let mut best: BTreeMap<(&str, Algorithm, u64), &RunRow> = BTreeMap::new();
    for row in rows {
        best.entry((row.label.as_str(), row.algorithm, row.seed))
            .and_modify(|kept| {
                if better(rule, row, kept) {
                    *kept = row;
                }
            })
            .or_insert(row);
    }
    best.into_values().cloned().collect()
}

/// Whether `a` beats `b` under `rule`.
fn better(rule: Rule, a: &RunRow, b: &RunRow) -> bool {
    let (sa, sb) = (rule.score(a), rule.score(b));
    let by_score = match (sa.is_nan(), sb.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => sa.total_cmp(&sb),
    };
    by_score
        .then_with(|| b.learning_rate.total_cmp(&a.learning_rate))
        .then_with(|| b.weight_decay.total_cmp(&a.weight_decay))
        .then_with(|| b.optimizer.cmp(&a.optimizer))
        .then_with(|| b.run_id.cmp(&a.run_id))
        == Ordering::Greater
}
