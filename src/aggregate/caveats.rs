//! Caveats of the selected runs that a reader must see beside the results:
//! a temperature fit that stopped at its search bound (the scaled ECE then
//! says little), and selections at the edge of the hyper-parameter grid (the
//! best value may lie outside the grid, so the model is under-tuned).

use serde::Serialize;

use super::rows::RunRow;
use crate::metrics::temperature::{T_MAX, T_MIN};

/// A selected run whose fitted temperature is one of the search bounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemperatureAtBound {
    pub label: String,
    pub seed: u64,
    pub temperature: f64,
}

/// Selected runs whose temperature fit stopped at `T_MIN` or `T_MAX`.
pub fn temperatures_at_bound(selected: &[RunRow]) -> Vec<TemperatureAtBound> {
    let at_bound = |t: f64| (t / T_MAX - 1.0).abs() < 1e-9 || (t / T_MIN - 1.0).abs() < 1e-9;
    selected
        .iter()
        .filter(|r| at_bound(r.temperature))
        .map(|r| TemperatureAtBound {
            label: r.label.clone(),
            seed: r.seed,
            temperature: r.temperature,
        })
        .collect()
}

/// How many selected runs sit at one end of one grid axis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridEdge {
    /// `learning rate` or `weight decay`.
    pub axis: &'static str,
    /// `lowest` or `highest`.
    pub end: &'static str,
    pub value: f64,
    /// The axis's values over all runs, ascending.
    pub grid: Vec<f64>,
    pub selected_at_edge: usize,
    pub selected: usize,
}

/// One hyper-parameter of a run.
type Axis = fn(&RunRow) -> f64;

/// For each grid axis with at least two values, the selected runs at its
/// lowest and at its highest value (ends no selected run sits at are left out).
pub fn grid_edges(runs: &[RunRow], selected: &[RunRow]) -> Vec<GridEdge> {
    let axes: [(&'static str, Axis); 2] = [
        ("learning rate", |r| r.learning_rate),
        ("weight decay", |r| r.weight_decay),
    ];
    let mut edges = Vec::new();
    for (axis, value) in axes {
        let mut grid: Vec<f64> = runs.iter().map(value).collect();
        grid.sort_by(f64::total_cmp);
        grid.dedup();
        if grid.len() < 2 {
            continue;
        }
        let ends = [("lowest", grid[0]), ("highest", grid[grid.len() - 1])];
        for (end, at) in ends {
            let count = selected.iter().filter(|r| value(r) == at).count();
            if count > 0 {
                edges.push(GridEdge {
                    axis,
                    end,
                    value: at,
                    grid: grid.clone(),
                    selected_at_edge: count,
                    selected: selected.len(),
                });
            }
        }
    }
    edges
}
