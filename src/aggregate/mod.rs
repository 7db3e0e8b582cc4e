//! Aggregation: verified run records → comparable group → model selection →
//! mean ± SE over seeds → claims, as tables (polars DataFrames, CSV, Parquet).
//!
//! * [`load`]: read and verify every record of a folder; corrupt ones are named.
//! * [`group`]: never pool runs from different engines, locks, data or protocols.
//! * [`rows`]: one flat row per run (failed runs kept apart).
//! * [`select`]: the study's selection rule (training-domain validation in the
//!   paper), with the other rule beside it as a check.
//! * [`summary`]: per-model mean ± standard error over seeds.
//! * [`learned`]: which models learned (ID accuracy clearly above chance);
//!   claims leave out those that did not.
//! * [`caveats`]: temperatures fitted at their bound, selections at the
//!   edge of the hyper-parameter grid.
//! * [`claims`]: the paper's claims with bootstrap intervals and computed verdicts.
//! * [`algorithms`]: claim 1, the model against the fine-tuning algorithm.
//! * [`stats`]: ranks, Spearman, probit, least squares.
//! * [`frames`]: the tables as DataFrames, written as CSV and Parquet.

pub mod algorithms;
pub mod caveats;
pub mod claims;
pub mod cluster;
pub mod frames;
pub mod group;
pub mod learned;
pub mod load;
pub mod rows;
pub mod select;
pub mod stats;
pub mod summary;

pub use algorithms::{algorithm_cells, AlgorithmCell};
pub use caveats::{grid_edges, temperatures_at_bound, GridEdge, TemperatureAtBound};
pub use claims::{evaluate_claims, ClaimResult, Verdict};
pub use group::{split_groups, Group, GroupKey};
pub use learned::{check_learning, Learned, Learning};
pub use load::{load_records, scan_records, LoadError, Loaded, LoadedRun};
pub use rows::{FailedRun, RunRow};
pub use select::{select, Rule};
pub use summary::{summarise, MeanSe, ModelSummary};

use crate::metrics::BootstrapOptions;

/// The bootstrap every claim uses: fixed seed, so a rebuilt report is identical.
pub const CLAIM_BOOTSTRAP: BootstrapOptions = BootstrapOptions {
    resamples: 2000,
    seed: 20_230_717,
    level: 0.95,
};

/// A group of runs set aside because it differs from the reported one.
#[derive(Debug, Clone)]
pub struct OtherGroup {
    pub key: GroupKey,
    pub runs: usize,
    /// What differs from the reported group, by name.
    pub differs_in: Vec<&'static str>,
}

/// Everything the report shows, computed from one comparable group.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub key: Option<GroupKey>,
    /// The group's records (completed and failed), in folder order.
    pub records: Vec<LoadedRun>,
    /// Completed runs of the group, sorted by label, seed, run id.
    pub runs: Vec<RunRow>,
    pub failed: Vec<FailedRun>,
    /// The study's selection rule, and the ERM runs it selects (what every
    /// table, figure and claim but 1 is about).
    pub rule: Rule,
    pub selected: Vec<RunRow>,
    /// The runs it selects for the other algorithms (claim 1).
    pub selected_other_algorithms: Vec<RunRow>,
    /// Per model that ran several algorithms, each algorithm's results.
    pub algorithm_cells: Vec<AlgorithmCell>,
    /// The runs the other rule selects (`rule.check()`), shown as a check.
    pub check: Vec<RunRow>,
    pub models: Vec<ModelSummary>,
    /// Per model, whether it learned; claims leave out those that did not.
    pub learning: Vec<Learning>,
    pub temperatures_at_bound: Vec<TemperatureAtBound>,
    pub grid_edges: Vec<GridEdge>,
    pub claims: Vec<ClaimResult>,
    pub other_groups: Vec<OtherGroup>,
    pub unfinished: usize,
    /// Verified records set aside as not planned by the study (see [`Loaded::keep_planned`]).
    pub not_planned: Vec<(String, String)>,
}

/// Aggregates loaded records with the paper's selection rule.
pub fn aggregate(loaded: Loaded) -> Aggregate {
    aggregate_by(loaded, Rule::TrainingDomainValidation)
}

/// Aggregates loaded records: picks the reported group, selects one run per
/// model and seed by `rule`, and computes everything from it.
pub fn aggregate_by(loaded: Loaded, rule: Rule) -> Aggregate {
    let unfinished = loaded.unfinished.len();
    let not_planned = loaded.not_planned;
    let mut groups = split_groups(loaded.runs).into_iter();
    let Some(main) = groups.next() else {
        return Aggregate {
            key: None,
            records: Vec::new(),
            runs: Vec::new(),
            failed: Vec::new(),
            rule,
            selected: Vec::new(),
            selected_other_algorithms: Vec::new(),
            algorithm_cells: Vec::new(),
            check: Vec::new(),
            models: Vec::new(),
            learning: Vec::new(),
            temperatures_at_bound: Vec::new(),
            grid_edges: Vec::new(),
            claims: evaluate_claims(&[], &CLAIM_BOOTSTRAP),
            other_groups: Vec::new(),
            unfinished,
            not_planned,
        };
    };
    let other_groups = groups
        .map(|g| OtherGroup {
            differs_in: g.key.differences(&main.key),
            runs: g.runs.len(),
            key: g.key,
        })
        .collect();
    let mut runs: Vec<RunRow> = main.runs.iter().filter_map(rows::run_row).collect();
    runs.sort_by(|a, b| {
        (a.label.as_str(), a.seed, a.run_id.as_str()).cmp(&(
            b.label.as_str(),
            b.seed,
            b.run_id.as_str(),
        ))
    });
    let failed = main.runs.iter().filter_map(rows::failed_run).collect();
    let all_selected = select(&runs, rule);
    let algorithm_cells = algorithm_cells(&all_selected);
    let (selected, selected_other_algorithms): (Vec<RunRow>, Vec<RunRow>) = all_selected
        .iter()
        .cloned()
        .partition(|r| r.algorithm.is_erm());
    let check = select(&runs, rule.check())
        .into_iter()
        .filter(|r| r.algorithm.is_erm())
        .collect();
    let models = summarise(&selected);
    // Whether a model learned is judged on its ERM runs, for every algorithm.
    let learning = check_learning(&selected);
    let claims = evaluate_claims(
        &learned::learned_rows(&all_selected, &learning),
        &CLAIM_BOOTSTRAP,
    );
    let temperatures_at_bound = temperatures_at_bound(&selected);
    let grid_edges = grid_edges(&runs, &selected);
    Aggregate {
        key: Some(main.key),
        records: main.runs,
        runs,
        failed,
        rule,
        selected,
        selected_other_algorithms,
        algorithm_cells,
        check,
        models,
        learning,
        temperatures_at_bound,
        grid_edges,
        claims,
        other_groups,
        unfinished,
        not_planned,
    }
}
