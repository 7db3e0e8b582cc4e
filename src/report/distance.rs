//! "Distance to the paper": this study's setting beside the paper's protocol
//! (PAPER.md, from the authors' code), the published numbers for the same
//! cell beside this study's, and the limitations that follow, all generated
//! from the manifest, the aggregate and the reference data.

use serde::Serialize;
use std::collections::BTreeSet;

use super::plot::ticks::count;
use super::published::Published;
use crate::aggregate::learned::labels_with;
use crate::aggregate::{Aggregate, Learned};
use crate::study::Study;
use crate::train::Algorithm;

/// The paper's protocol (DomainBed's defaults as the authors' code runs them).
const PAPER_RESOLUTION: u32 = 224;
const PAPER_STEPS: u32 = 5001;
const PAPER_EVAL_EVERY: &str = "300 (1,000 for DomainNet)";
const PAPER_BATCH_PER_DOMAIN: u32 = 32;
const PAPER_WEIGHT_DECAYS: [f64; 4] = [0.0, 1e-4, 1e-3, 1e-2];
const PAPER_MODELS: &str = "91 timm checkpoints (100 models with CLIP)";
const PAPER_DATA: &str = "PACS art_painting, VLCS VOC2007, OfficeHome Art, DomainNet clipart";
const PAPER_TRAINED: &str = "the whole network";
const PAPER_AUGMENTATION: &str =
    "RandomResizedCrop (scale 0.7-1), horizontal flip, ColorJitter 0.3, RandomGrayscale 0.1";
const PAPER_PRETRAINING: &str =
    "ImageNet-1k, -12k, -21k/22k, JFT-300M (NoisyStudent), CLIP's image-text data";

/// The settings of a study that the paper also fixes.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub dataset: String,
    pub test_domain: String,
    pub resolution: u32,
    pub steps: u32,
    pub eval_every: u32,
    pub batch_per_domain: u32,
    pub learning_rates: Vec<f64>,
    pub weight_decays: Vec<f64>,
    pub optimizers: Vec<String>,
    pub momentum: f64,
    pub algorithms: Vec<String>,
    pub seeds: usize,
    pub models: usize,
    pub selection: String,
    pub head: String,
    /// Partial fine-tuning's trained blocks (`None`: the whole network).
    pub trainable_blocks: Option<u32>,
}

impl Setting {
    pub fn of(study: &Study) -> Setting {
        let p = &study.protocol;
        Setting {
            dataset: study.benchmark.dataset.get_ref().clone(),
            test_domain: study.benchmark.test_domain.clone(),
            resolution: study.benchmark.resolution,
            steps: p.steps,
            eval_every: p.eval_every,
            batch_per_domain: p.batch_per_domain,
            learning_rates: p.learning_rates.clone(),
            weight_decays: p.weight_decays.clone(),
            optimizers: p.optimizers.iter().map(|o| o.name().to_string()).collect(),
            momentum: p.momentum,
            algorithms: p
                .algorithms
                .iter()
                .map(|a| a.display().to_string())
                .collect(),
            seeds: p.seeds.len(),
            models: study.models.len(),
            selection: p.selection.name().to_string(),
            head: serde_json::to_value(p.head)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            trainable_blocks: p.trainable_blocks,
        }
    }
}

/// One row of the setting table.
#[derive(Debug, Clone, Serialize)]
pub struct SettingRow {
    pub name: &'static str,
    pub ours: String,
    pub paper: String,
    pub same: bool,
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// This study's setting beside the paper's, row by row; `pretraining`: the
/// pre-training corpora of the study's models.
pub fn setting_rows(s: &Setting, pretraining: &[String]) -> Vec<SettingRow> {
    let row = |name, ours: String, paper: String, same: bool| SettingRow {
        name,
        ours,
        paper,
        same,
    };
    let paper_wd = list(&PAPER_WEIGHT_DECAYS);
    let data = format!("{} {}", s.dataset, s.test_domain);
    vec![
        row(
            "dataset, test domain",
            data.clone(),
            PAPER_DATA.to_string(),
            PAPER_DATA.contains(&data),
        ),
        row(
            "input resolution (px)",
            s.resolution.to_string(),
            PAPER_RESOLUTION.to_string(),
            s.resolution == PAPER_RESOLUTION,
        ),
        row(
            "training steps",
            count(u64::from(s.steps)),
            count(u64::from(PAPER_STEPS)),
            s.steps == PAPER_STEPS,
        ),
        row(
            "evaluation every (steps)",
            s.eval_every.to_string(),
            PAPER_EVAL_EVERY.to_string(),
            s.eval_every == 300 || s.eval_every == 1000,
        ),
        row(
            "images per training domain per step",
            s.batch_per_domain.to_string(),
            PAPER_BATCH_PER_DOMAIN.to_string(),
            s.batch_per_domain == PAPER_BATCH_PER_DOMAIN,
        ),
        row(
            "optimizer",
            format!("{} (momentum {})", s.optimizers.join(", "), s.momentum),
            "SGD (momentum 0.9); Adam in some runs".to_string(),
            s.optimizers == ["sgd"] && s.momentum == 0.9,
        ),
        row(
            "learning rates",
            list(&s.learning_rates),
            "tuned per model".to_string(),
            s.learning_rates.len() > 2,
        ),
        row(
            "weight decays",
            list(&s.weight_decays),
            paper_wd.clone(),
            list(&s.weight_decays) == paper_wd,
        ),
        row(
            "algorithms",
            s.algorithms.join(", "),
            "ERM; DomainBed's algorithms in the intro table".to_string(),
            s.algorithms.iter().any(|a| a == Algorithm::Erm.display()),
        ),
        row(
            "models",
            s.models.to_string(),
            PAPER_MODELS.to_string(),
            false,
        ),
        row(
            "pre-training data",
            pretraining.join(", "),
            PAPER_PRETRAINING.to_string(),
            false,
        ),
        row(
            "seeds per run",
            s.seeds.to_string(),
            "one run per model in the figures".to_string(),
            s.seeds >= 1,
        ),
        row(
            "model selection",
            s.selection.clone(),
            "training-domain validation".to_string(),
            s.selection == "training-domain validation",
        ),
        row(
            "head",
            s.head.clone(),
            "add-linear (keep the 1000-way head, add a linear layer)".to_string(),
            s.head == "add-linear",
        ),
        row(
            "fine-tuned layers",
            trained_layers(s),
            PAPER_TRAINED.to_string(),
            s.trainable_blocks.is_none(),
        ),
        row(
            "training augmentation",
            match s.trainable_blocks {
                Some(_) => "none (the frozen layers see each image once)".to_string(),
                None => PAPER_AUGMENTATION.to_string(),
            },
            PAPER_AUGMENTATION.to_string(),
            s.trainable_blocks.is_none(),
        ),
    ]
}

/// What a step trains, and under partial fine-tuning what Mixup then mixes.
fn trained_layers(s: &Setting) -> String {
    let Some(n) = s.trainable_blocks else {
        return PAPER_TRAINED.to_string();
    };
    let mixup = match s.algorithms.iter().any(|a| a == Algorithm::Mixup.display()) {
        true => "; Mixup mixes their output rather than images",
        false => "",
    };
    format!(
        "the last {n} block(s), the head conv and the classifier; the layers below frozen \
         (running statistics), their output computed once per image{mixup}"
    )
}

/// A published number beside this study's number for the same cell.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedCell {
    pub source: String,
    pub cell: String,
    pub published: String,
    pub ours: String,
}

/// The highest value of `candidates` with its name (the first on a tie).
fn highest(candidates: impl Iterator<Item = (String, f64)>) -> Option<(String, f64)> {
    candidates.fold(None, |best, c| match best {
        Some(b) if b.1 >= c.1 => Some(b),
        _ => Some(c),
    })
}

/// The best OOD accuracy (mean over seeds) among the models that learned,
/// under `algorithm`, with the model's name.
fn best_under(agg: &Aggregate, algorithm: Algorithm) -> Option<(String, f64)> {
    let failed = labels_with(&agg.learning, Learned::No);
    let learned = |label: &str| !failed.contains(&label);
    if algorithm == Algorithm::Erm {
        return highest(
            agg.models
                .iter()
                .filter(|m| learned(&m.label))
                .map(|m| (m.label.clone(), m.ood_accuracy.mean)),
        );
    }
    highest(
        agg.algorithm_cells
            .iter()
            .filter(|c| c.algorithm == algorithm && learned(&c.label) && c.learned != Learned::No)
            .map(|c| (c.label.clone(), c.ood_accuracy.mean)),
    )
}

/// Published numbers for this study's dataset and test domain, each beside ours.
pub fn published_cells(s: &Setting, agg: &Aggregate, published: &Published) -> Vec<PublishedCell> {
    let mut out = Vec::new();
    let shown = |b: Option<(String, f64)>| {
        b.map_or_else(|| "–".to_string(), |(m, v)| format!("{v:.2} ({m})"))
    };
    let same_domain = |t: &str| t.split(' ').next() == Some(s.test_domain.as_str());
    // Every published cell here is ERM's or the best algorithm's: each computed once.
    let erm = shown(best_under(agg, Algorithm::Erm));
    let others: BTreeSet<Algorithm> = agg
        .algorithm_cells
        .iter()
        .map(|c| c.algorithm)
        .filter(|a| *a != Algorithm::Erm)
        .collect();
    let best_other = shown(highest(others.into_iter().filter_map(|a| {
        best_under(agg, a).map(|(m, v)| (format!("{m}, {}", a.display()), v))
    })));
    for row in published
        .intro
        .iter()
        .filter(|r| r.dataset == s.dataset && same_domain(&r.test_domain))
    {
        out.push(PublishedCell {
            source: "the paper's intro table".to_string(),
            cell: format!("{} {}: ERM (ResNet-50)", row.dataset, s.test_domain),
            published: row.erm.clone(),
            ours: erm.clone(),
        });
        out.push(PublishedCell {
            source: "the paper's intro table".to_string(),
            cell: format!(
                "{} {}: best algorithm (ResNet-50)",
                row.dataset, s.test_domain
            ),
            published: row.best_algorithm.clone(),
            ours: best_other.clone(),
        });
        out.push(PublishedCell {
            source: "the paper's intro table".to_string(),
            cell: format!(
                "{} {}: best pre-trained model (ERM)",
                row.dataset, s.test_domain
            ),
            published: row.best_model.clone(),
            ours: erm.clone(),
        });
    }
    let letter = s
        .test_domain
        .chars()
        .next()
        .map(|c| c.to_ascii_uppercase().to_string());
    for row in published.domainbed.iter().filter(|r| {
        r.dataset == s.dataset
            && letter
                .as_ref()
                .is_some_and(|l| r.column == format!("test domain {l}"))
    }) {
        out.push(PublishedCell {
            source: "DomainBed (ResNet-50, ImageNet)".to_string(),
            cell: format!(
                "{} {}: ERM, training-domain validation",
                row.dataset, s.test_domain
            ),
            published: format!("{} ± {}", row.accuracy, row.se),
            ours: erm.clone(),
        });
    }
    out
}

/// The limitations: each departure from the paper's protocol, then every
/// caveat the data raised (the page's notices).
pub fn limitations(rows: &[SettingRow], warnings: &[String]) -> Vec<String> {
    rows.iter()
        .filter(|r| !r.same)
        .map(|r| format!("{}: {} here, {} in the paper.", r.name, r.ours, r.paper))
        .chain(warnings.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting() -> Setting {
        Setting {
            dataset: "PACS".into(),
            test_domain: "art_painting".into(),
            resolution: 224,
            steps: 5001,
            eval_every: 300,
            batch_per_domain: 32,
            learning_rates: vec![1e-3, 3e-4, 1e-4],
            weight_decays: PAPER_WEIGHT_DECAYS.to_vec(),
            optimizers: vec!["sgd".into()],
            momentum: 0.9,
            algorithms: vec!["ERM".into()],
            seeds: 1,
            models: 3,
            selection: "training-domain validation".into(),
            head: "add-linear".into(),
            trainable_blocks: None,
        }
    }

    #[test]
    fn the_paper_protocol_departs_only_in_its_models() {
        let rows = setting_rows(&setting(), &["imagenet-1k".to_string()]);
        let differs: Vec<&str> = rows.iter().filter(|r| !r.same).map(|r| r.name).collect();
        assert_eq!(differs, ["models", "pre-training data"]);
    }

    #[test]
    fn a_cpu_preset_lists_each_departure_then_the_notices() {
        let s = Setting {
            resolution: 64,
            steps: 40,
            batch_per_domain: 8,
            ..setting()
        };
        let notes = limitations(
            &setting_rows(&s, &[]),
            &["2 models did not learn".to_string()],
        );
        assert_eq!(
            notes[0],
            "input resolution (px): 64 here, 224 in the paper."
        );
        assert_eq!(notes[1], "training steps: 40 here, 5,001 in the paper.");
        assert_eq!(
            notes[2],
            "images per training domain per step: 8 here, 32 in the paper."
        );
        assert_eq!(notes.last().unwrap(), "2 models did not learn");
    }

    #[test]
    fn partial_fine_tuning_departs_in_trained_layers_and_augmentation() {
        let s = Setting {
            trainable_blocks: Some(1),
            algorithms: vec!["ERM".into(), "Mixup".into()],
            ..setting()
        };
        let rows = setting_rows(&s, &["imagenet-1k".to_string()]);
        let differs: Vec<&SettingRow> = rows.iter().filter(|r| !r.same).collect();
        let names: Vec<&str> = differs.iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "models",
                "pre-training data",
                "fine-tuned layers",
                "training augmentation"
            ]
        );
        assert!(
            differs[2].ours.starts_with("the last 1 block(s)"),
            "{}",
            differs[2].ours
        );
        assert!(differs[2].ours.contains("Mixup mixes their output"));
        assert_eq!(differs[2].paper, "the whole network");
        assert!(differs[3].ours.starts_with("none"));
    }

    #[test]
    fn pacs_art_painting_meets_the_intro_table_and_domainbed() {
        let agg = crate::aggregate::aggregate_by(
            Default::default(),
            crate::aggregate::Rule::TrainingDomainValidation,
        );
        let cells = published_cells(&setting(), &agg, &super::super::published::published());
        let published: Vec<&str> = cells.iter().map(|c| c.published.as_str()).collect();
        assert_eq!(published, ["88.1", "89.1", "96.7", "84.7 ± 0.4"]);
        assert!(cells.iter().all(|c| c.ours == "–"));
        let glyph = Setting {
            dataset: "glyph-dg".into(),
            test_domain: "art".into(),
            ..setting()
        };
        assert!(published_cells(&glyph, &agg, &super::super::published::published()).is_empty());
    }
}
