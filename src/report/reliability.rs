//! Reliability diagrams from the final logits (`predictions.csv`) of selected
//! runs: ID validation and OOD test domain, before and after temperature
//! scaling (temperature fitted on ID validation, as the paper's appendix does).

use anyhow::Result;
use std::path::Path;

use super::figures::Figure;
use super::plot::{scatter_svg, Axis, Marker, Scatter, Shape};
use crate::aggregate::learned::labels_with;
use crate::aggregate::{Learned, Learning, ModelSummary, RunRow};
use crate::metrics::{fit_temperature, paper_ece, test_domain_ece, Binning, Predictions};
use crate::record::predictions::{self, SplitLogits};
use crate::record::store::PREDICTIONS_FILE;

/// Which models get a diagram: among the models that learned (the ones the
/// claims rest on), the highest and the lowest mean OOD accuracy, the two
/// ends of claim 5's accuracy-calibration range. Every model when none learned.
pub fn diagram_models<'a>(
    models: &'a [ModelSummary],
    learning: &[Learning],
) -> Vec<&'a ModelSummary> {
    let failed = labels_with(learning, Learned::No);
    let mut sorted: Vec<&ModelSummary> = models
        .iter()
        .filter(|m| !failed.contains(&m.label.as_str()))
        .collect();
    if sorted.is_empty() {
        sorted = models.iter().collect();
    }
    sorted.sort_by(|a, b| {
        b.ood_accuracy
            .mean
            .total_cmp(&a.ood_accuracy.mean)
            .then_with(|| a.label.cmp(&b.label))
    });
    let mut chosen: Vec<&ModelSummary> = sorted.iter().take(1).copied().collect();
    if sorted.len() > 1 {
        chosen.push(sorted[sorted.len() - 1]);
    }
    chosen
}

/// One figure per model in `models`, from its selected run with the lowest seed.
pub fn reliability_figures(
    records_dir: &Path,
    models: &[&ModelSummary],
    selected: &[RunRow],
) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    for (i, m) in models.iter().enumerate() {
        // `diagram_models` puts the highest mean OOD accuracy first.
        let why = match (i, models.len()) {
            (_, 1) => "the study's only model",
            (0, _) => "the highest mean OOD accuracy of the models that learned",
            _ => "the lowest mean OOD accuracy of the models that learned",
        };
        let Some(run) = selected
            .iter()
            .filter(|r| r.label == m.label)
            .min_by_key(|r| r.seed)
        else {
            continue;
        };
        let path = records_dir.join(&run.folder).join(PREDICTIONS_FILE);
        if !path.exists() {
            continue;
        }
        out.push(diagram(&path, m, run, why)?);
    }
    Ok(out)
}

/// The figure of `m`'s run `run`; `why` says why this model is shown.
fn diagram(path: &Path, m: &ModelSummary, run: &RunRow, why: &str) -> Result<Figure> {
    let logits = predictions::read_record(path)?;
    let k = logits.classes;
    let t = fit_temperature(&logits.id.logits(k)?).temperature;
    let raw = |rows: &SplitLogits| rows.predictions(k);
    let scaled =
        |rows: &SplitLogits| -> Result<Predictions> { Ok(rows.logits(k)?.to_predictions(t)) };
    // Each panel draws its rows pooled but labels them with the ECE the tables
    // report: the test domain's is the mean over its two splits.
    let panel = |name: &str, before: &Predictions, after: &Predictions, ece: [f64; 2]| {
        let mut markers = curve(before, format!("raw softmax, ECE {:.2}%", ece[0]), 0);
        markers.extend(curve(
            after,
            format!("temperature {t:.2}, ECE {:.2}%", ece[1]),
            1,
        ));
        Scatter {
            title: format!("{name} ({} examples)", before.n_rows()),
            x: Axis::linear("mean confidence in bin"),
            y: Axis::linear("accuracy in bin"),
            markers,
            line: None,
            diagonal: true,
            join: true,
        }
    };
    let (ood_in, ood_out) = (&logits.ood_in, &logits.ood_out);
    let (id_raw, id_scaled) = (raw(&logits.id)?, scaled(&logits.id)?);
    let id_ece = [paper_ece(&id_raw), paper_ece(&id_scaled)];
    let ood_ece = [
        test_domain_ece(&raw(ood_in)?, &raw(ood_out)?),
        test_domain_ece(&scaled(ood_in)?, &scaled(ood_out)?),
    ];
    let pooled = SplitLogits::pooled(ood_in, ood_out);
    let (pooled_raw, pooled_scaled) = (raw(&pooled)?, scaled(&pooled)?);
    let pooled_ece = paper_ece(&pooled_raw);
    let panels = [
        panel("ID validation", &id_raw, &id_scaled, id_ece),
        panel("OOD test domain", &pooled_raw, &pooled_scaled, ood_ece),
    ]
    .iter()
    .map(scatter_svg)
    .collect::<Result<Vec<String>>>()?;
    let counts = |p: &Predictions| {
        p.reliability_table(Binning::EqualWidth, 10)
            .iter()
            .map(|b| b.count.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(Figure {
        id: format!("R-{}", m.label),
        title: format!("Reliability diagrams: {} (seed {}, lr {}, wd {})", m.label, run.seed, run.learning_rate, run.weight_decay),
        caption: format!("Shown because this model has {why}. Top-label, 10 equal-width bins, one point per non-empty bin, its area growing with the bin's examples (hover for the count). Examples per bin from confidence 0-0.1 up to 0.9-1, raw softmax: ID validation {}; OOD test domain {}. The OOD panel pools the test domain's in and out splits; its legend gives the ECE the tables use, the mean over the two splits (raw {:.2}%), where the pooled rows give {:.2}%: the splits differ in size and calibration, so the two need not agree. Temperature fitted by NLL on ID validation and applied to both.", counts(&id_raw), counts(&pooled_raw), ood_ece[0], pooled_ece),
        panels,
    })
}

fn curve(p: &Predictions, series: String, colour: usize) -> Vec<Marker> {
    let table = p.reliability_table(Binning::EqualWidth, 10);
    let most = table.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    table
        .into_iter()
        .filter_map(|b| {
            Some(Marker {
                x: b.mean_confidence?,
                y: b.accuracy?,
                x_err: 0.0,
                y_err: 0.0,
                series: series.clone(),
                colour,
                shape: Shape::Circle,
                radius: 2 + (5.0 * (b.count as f64 / most).sqrt()).round() as u32,
                name: format!("{series}: bin {:.1}-{:.1}", b.lo, b.hi),
                note: Some(format!("{} examples", b.count)),
                label: false,
            })
        })
        .collect()
}
