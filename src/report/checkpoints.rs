//! The pre-trained checkpoints a study's models start from: how well each
//! learned its corpus (held-out accuracy, written beside the checkpoint by
//! `oodcal pretrain`), for the page to set beside what it did fine-tuned. A
//! checkpoint that never learned its corpus confounds any axis it sits on.

use serde::Serialize;
use std::path::Path;

use super::plot::ticks::count;
use crate::aggregate::learned::{clears_chance, wilson_lower, MARGIN_POINTS};
use crate::inputs::Catalogue;
use crate::study::{read_stats, stats_path, zoo_checkpoint, PretrainStats, Study};

/// One model's checkpoint and its pre-training figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointRow {
    /// The model's label in the study.
    pub label: String,
    pub corpus: String,
    pub recipe: String,
    /// The pre-training's seed (weights and batches).
    pub seed: u64,
    /// Steps trained: the figures file's, else the manifest's budget.
    pub steps: u32,
    /// How the budget ended: a fixed count, a plateau or the cap.
    pub budget: String,
    /// Chance on the corpus: 100 / its classes (when the data manifest says).
    pub chance: Option<f64>,
    /// `None` when the checkpoint's figures file is missing or unreadable.
    pub held_out_accuracy: Option<f64>,
    pub held_out_images: Option<usize>,
    pub final_loss: Option<f64>,
    /// Whether the checkpoint learned its corpus, by the rule models are held
    /// to ([`crate::aggregate::learned`]: the Wilson 95% lower bound of its
    /// held-out accuracy more than 5 points above chance); `None`: unknown.
    pub learned: Option<bool>,
}

/// Every pre-trained model of `study` with its checkpoint's figures, read
/// from beside the checkpoint under `repo` (the data manifest's folder).
pub fn checkpoint_rows(study: &Study, catalogue: &Catalogue, repo: &Path) -> Vec<CheckpointRow> {
    study
        .models
        .iter()
        .filter_map(|model| {
            let entry = study.pretrain_entry(model.pretrain.as_ref()?.get_ref())?;
            let zoo = zoo_checkpoint(model, entry, study.benchmark.resolution, catalogue);
            let stats = read_stats(&stats_path(&repo.join(&zoo.path)));
            let corpus = entry.corpus.get_ref();
            let classes = catalogue.get(corpus).and_then(|i| i.expected.classes);
            let chance = classes.filter(|&k| k > 0).map(|k| 100.0 / k as f64);
            let learned = match (&stats, chance) {
                (Some(s), Some(chance)) => {
                    let correct = (s.held_out_accuracy * s.held_out_images as f64 / 100.0).round();
                    let lower = 100.0 * wilson_lower(correct as usize, s.held_out_images);
                    Some(clears_chance(lower, chance))
                }
                _ => None,
            };
            Some(CheckpointRow {
                label: model.name.get_ref().clone(),
                corpus: corpus.clone(),
                recipe: entry.recipe.as_str().to_string(),
                seed: entry.seed,
                steps: stats.as_ref().map_or(entry.steps, |s| s.steps),
                budget: budget(entry.plateau.is_some(), stats.as_ref()),
                chance,
                held_out_accuracy: stats.as_ref().map(|s| s.held_out_accuracy),
                held_out_images: stats.as_ref().map(|s| s.held_out_images),
                final_loss: stats.as_ref().map(|s| s.final_loss),
                learned,
            })
        })
        .collect()
}

/// How a checkpoint's training ended, in words.
fn budget(plateau_rule: bool, stats: Option<&PretrainStats>) -> String {
    let state = stats.and_then(|s| s.plateau.as_ref());
    match (
        plateau_rule,
        state.and_then(|p| p.cooldown_from.map(|f| (f, p.plateaued))),
    ) {
        (false, _) => "fixed".to_string(),
        (true, Some((from, true))) => format!("plateau after {}", count(from as u64)),
        (true, Some((from, false))) => format!("cap of {} reached, no plateau", count(from as u64)),
        (true, None) => "until plateau".to_string(),
    }
}

/// The notice for checkpoints that did not learn their corpus, if any.
pub fn notice(rows: &[CheckpointRow]) -> Option<String> {
    let failed: Vec<&str> = rows
        .iter()
        .filter(|c| c.learned == Some(false))
        .map(|c| c.label.as_str())
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "{} of {} pre-training checkpoints did not learn their corpus (held-out \
             accuracy's Wilson 95% lower bound within {MARGIN_POINTS} points of chance), so the \
             size, data and recipe comparisons they enter are confounded by it: the \
             checkpoints of {}.",
            failed.len(),
            rows.len(),
            failed.join(", ")
        )
    })
}
