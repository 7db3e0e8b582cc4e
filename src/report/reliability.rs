//! Reliability diagrams from the final logits (`predictions.csv`) of selected
//! runs: ID validation and OOD test domain, before and after temperature
//! scaling (temperature fitted on ID validation, as the paper's appendix does).

use anyhow::{bail, Context, Result};
use std::path::Path;

use super::figures::Figure;
use super::plot::{panels_svg, Axis, Marker, Scatter, Shape};
use crate::aggregate::{ModelSummary, RunRow};
use crate::metrics::{fit_temperature, Binning, EceSpec, Logits, Predictions};
use crate::record::store::PREDICTIONS_FILE;

/// Logits and labels of one split.
#[derive(Debug, Default)]
struct Split {
    logits: Vec<f64>,
    labels: Vec<u32>,
}

/// Reads `predictions.csv`: `split,index,label,logit_0..logit_{k-1}`. Returns
/// (ID validation, OOD = `ood_in` and `ood_out` pooled, class count).
fn read_splits(path: &Path) -> Result<(Split, Split, usize)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let k = header
        .split(',')
        .filter(|c| c.starts_with("logit_"))
        .count();
    if k == 0 || !header.starts_with("split,index,label,") {
        bail!(
            "{}: line 1: expected header `split,index,label,logit_0,...`",
            path.display()
        );
    }
    let (mut id, mut ood) = (Split::default(), Split::default());
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let at = || format!("{}: line {}", path.display(), i + 2);
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 3 + k {
            bail!("{}: {} fields, expected {}", at(), fields.len(), 3 + k);
        }
        let target = match fields[0] {
            "id" => &mut id,
            "ood_in" | "ood_out" => &mut ood,
            other => bail!("{}: unknown split `{other}`", at()),
        };
        target.labels.push(
            fields[2]
                .parse()
                .with_context(|| format!("{}: label `{}`", at(), fields[2]))?,
        );
        for f in &fields[3..] {
            target.logits.push(
                f.parse()
                    .with_context(|| format!("{}: logit `{f}`", at()))?,
            );
        }
    }
    if id.labels.is_empty() || ood.labels.is_empty() {
        bail!(
            "{}: needs rows of split `id` and of `ood_in`/`ood_out`",
            path.display()
        );
    }
    Ok((id, ood, k))
}

/// Which models get a diagram: the highest and the lowest mean OOD accuracy.
pub fn diagram_models(models: &[ModelSummary]) -> Vec<&ModelSummary> {
    let mut sorted: Vec<&ModelSummary> = models.iter().collect();
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
    for m in models {
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
        out.push(diagram(&path, m, run)?);
    }
    Ok(out)
}

fn diagram(path: &Path, m: &ModelSummary, run: &RunRow) -> Result<Figure> {
    let (id, ood, k) = read_splits(path)?;
    let located = |e: crate::metrics::MetricsError| anyhow::anyhow!("{}: {e}", path.display());
    let id_logits = Logits::new(id.logits.clone(), k, id.labels.clone()).map_err(located)?;
    let ood_logits = Logits::new(ood.logits.clone(), k, ood.labels.clone()).map_err(located)?;
    let t = fit_temperature(&id_logits).temperature;
    let panel = |name: &str, logits: &Logits| -> Result<Scatter> {
        let before =
            Predictions::from_logits(logits.values().to_vec(), k, logits.labels().to_vec())
                .map_err(located)?;
        let after = logits.to_predictions(t);
        let mut markers = curve(&before, format!("raw softmax, ECE {:.2}%", ece(&before)), 0);
        markers.extend(curve(
            &after,
            format!("temperature {t:.2}, ECE {:.2}%", ece(&after)),
            1,
        ));
        Ok(Scatter {
            title: format!("{name} ({} examples)", logits.n_rows()),
            x: Axis::linear("mean confidence in bin"),
            y: Axis::linear("accuracy in bin"),
            markers,
            line: None,
            diagonal: true,
            join: true,
        })
    };
    let svg = panels_svg(&[
        panel("ID validation", &id_logits)?,
        panel("OOD test domain", &ood_logits)?,
    ])?;
    Ok(Figure {
        id: format!("R-{}", m.label),
        title: format!("Reliability diagrams: {} (seed {}, lr {}, wd {})", m.label, run.seed, run.learning_rate, run.weight_decay),
        caption: "Top-label, 10 equal-width bins, one point per non-empty bin; the OOD panel pools the test domain's in and out splits. Temperature fitted by NLL on ID validation and applied to both.".to_string(),
        svg,
        wide: true,
    })
}

/// The paper's ECE (top-label, 10 equal-width bins, L1) in percent.
fn ece(p: &Predictions) -> f64 {
    100.0 * p.calibration_error(&EceSpec::paper(Binning::EqualWidth))
}

fn curve(p: &Predictions, series: String, colour: usize) -> Vec<Marker> {
    p.reliability_table(Binning::EqualWidth, 10)
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
                radius: 3,
            })
        })
        .collect()
}
