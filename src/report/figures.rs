//! The report's figures, built from per-model summaries: the paper's four
//! panels (A-D), pre-training data size, recipes, and accuracy on the line.
//!
//! Every marker is one model: mean over seeds with ± one standard error bars;
//! colour = family, shape = pre-trained (circle) or from scratch (triangle),
//! a hollow ring for a model that did not learn (left out of the claims),
//! size grows with the parameter count. Models that learned are labelled
//! where the labels fit; every marker names its model in a tooltip.

use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeSet;

use super::plot::{scatter_svg, Axis, Line, Marker, Scatter, Shape};
use super::published::imagenet_top1;
use crate::aggregate::learned::labels_with;
use crate::aggregate::stats::{least_squares, probit, spearman};
use crate::aggregate::{Learned, Learning, MeanSe, ModelSummary};

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub caption: String,
    /// One SVG per panel; a figure of several panels spans the page width.
    pub panels: Vec<String>,
}

/// How models map to colours, shapes and sizes (fixed for the whole report).
struct Style {
    families: Vec<String>,
    log_params: (f64, f64),
    /// Labels of the models that did not learn.
    not_learned: BTreeSet<String>,
}

impl Style {
    fn new(models: &[ModelSummary], not_learned: BTreeSet<String>) -> Style {
        let families: BTreeSet<String> = models.iter().map(|m| m.family.clone()).collect();
        let logs: Vec<f64> = models
            .iter()
            .map(|m| (m.params.max(1) as f64).log10())
            .collect();
        let lo = logs.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        Style {
            families: families.into_iter().collect(),
            log_params: (lo, hi),
            not_learned,
        }
    }

    fn learned(&self, m: &ModelSummary) -> bool {
        !self.not_learned.contains(&m.label)
    }

    fn marker(&self, m: &ModelSummary, x: MeanSe, y: MeanSe) -> Marker {
        let (lo, hi) = self.log_params;
        let t = if hi > lo {
            ((m.params.max(1) as f64).log10() - lo) / (hi - lo)
        } else {
            0.5
        };
        let (learned, pretrained) = (self.learned(m), m.is_pretrained());
        let kind = match (learned, pretrained) {
            (false, _) => "did not learn",
            (true, true) => "pre-trained",
            (true, false) => "from scratch",
        };
        Marker {
            x: x.mean,
            y: y.mean,
            x_err: x.se_or_zero(),
            y_err: y.se_or_zero(),
            series: format!("{} · {kind}", m.family),
            colour: self
                .families
                .iter()
                .position(|f| *f == m.family)
                .unwrap_or(0),
            shape: match (learned, pretrained) {
                (false, _) => Shape::Ring,
                (true, true) => Shape::Circle,
                (true, false) => Shape::Triangle,
            },
            radius: 4 + (t * 5.0).round() as u32,
            name: m.label.clone(),
            note: None,
            label: learned,
        }
    }
}

fn exact(v: f64) -> MeanSe {
    MeanSe {
        mean: v,
        se: None,
        n: 1,
    }
}

const STYLE_NOTE: &str = "One marker per model: mean over seeds of the run chosen by training-domain validation, bars ± 1 standard error. Colour: family; circle: pre-trained, triangle: from scratch, hollow ring: a model that did not learn (left out of the claims); marker size grows with the parameter count. Models that learned are labelled where a label fits; hover a marker for its model and values. Markers that would cover each other are moved sideways by a few pixels.";

/// Every figure that has data to show.
pub fn figures(models: &[ModelSummary], learning: &[Learning]) -> Result<Vec<Figure>> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let not_learned = labels_with(learning, Learned::No)
        .into_iter()
        .map(str::to_string)
        .collect();
    let style = Style::new(models, not_learned);
    let params = |m: &ModelSummary| Some(exact(m.params as f64));
    let size = || Axis::log("parameters (log scale)");
    let ece = || Axis::linear("OOD ECE, equal-width (%)");
    let ood = || Axis::linear("OOD accuracy (%)");
    let mut out = vec![
        scatter_figure(
            &style,
            models,
            "A",
            "Model size vs OOD calibration (paper figure A)",
            size(),
            ece(),
            params,
            |m| m.ood_ece,
        )?,
        scatter_figure(
            &style,
            models,
            "B",
            "OOD accuracy vs OOD calibration (paper figure B)",
            ood(),
            ece(),
            |m| Some(m.ood_accuracy),
            |m| m.ood_ece,
        )?,
        figure_c(&style, models)?,
        scatter_figure(
            &style,
            models,
            "D",
            "Model size vs OOD accuracy (paper figure D)",
            size(),
            ood(),
            params,
            |m| m.ood_accuracy,
        )?,
        scatter_figure(
            &style,
            models,
            "A-mass",
            "Model size vs OOD calibration, equal-mass bins",
            size(),
            Axis::linear("OOD ECE, equal-mass (%)"),
            params,
            |m| m.ood_ece_mass,
        )?,
    ];
    out.extend(data_size_figure(&style, models)?);
    out.extend(recipe_figure(&style, models)?);
    out.extend(on_the_line_figure(&style, models)?);
    Ok(out)
}

/// Paper figure C: ImageNet top-1 (timm's results table) vs OOD accuracy
/// when every pre-trained model has one, else ID validation accuracy.
fn figure_c(style: &Style, models: &[ModelSummary]) -> Result<Figure> {
    let pretrained: Vec<&ModelSummary> = models.iter().filter(|m| m.is_pretrained()).collect();
    let all_known = !pretrained.is_empty() && pretrained.iter().all(|m| imagenet_top1(m).is_some());
    if all_known {
        let mut f = scatter_figure(
            style,
            models,
            "C",
            "ImageNet top-1 vs OOD accuracy (paper figure C)",
            Axis::linear("ImageNet-1k top-1 (%), timm"),
            Axis::linear("OOD accuracy (%)"),
            |m| imagenet_top1(m).map(|(_, t)| exact(t)),
            |m| m.ood_accuracy,
        )?;
        let tags: Vec<String> = pretrained
            .iter()
            .filter_map(|m| {
                imagenet_top1(m).map(|(tag, top1)| format!("{}: {tag}, {top1:.2}", m.label))
            })
            .collect();
        f.caption.push_str(&format!(" ImageNet-1k top-1 from timm's results table for the same weights ({}); models without ImageNet pre-training have none and are not drawn.", tags.join("; ")));
        return Ok(f);
    }
    scatter_figure(style, models, "C", "ID vs OOD accuracy (paper figure C uses ImageNet top-1; these models have none in timm's table, so ID validation accuracy stands in)", Axis::linear("ID validation accuracy (%)"), Axis::linear("OOD accuracy (%)"), |m| Some(m.id_accuracy), |m| m.ood_accuracy)
}

/// The least-squares line (plot units) and Spearman's ρ over the learned
/// models' markers, and the caption sentence that states them.
fn fit(
    style: &Style,
    drawn: &[(&ModelSummary, Marker)],
    x: &Axis,
    y: &Axis,
) -> (Option<Line>, String) {
    let learned: Vec<&Marker> = drawn
        .iter()
        .filter(|(m, _)| style.learned(m))
        .map(|(_, k)| k)
        .collect();
    let xs: Vec<f64> = learned.iter().map(|k| x.to_plot(k.x)).collect();
    let ys: Vec<f64> = learned.iter().map(|k| y.to_plot(k.y)).collect();
    let rho = spearman(&xs, &ys);
    let line = match (learned.len() >= 3, least_squares(&xs, &ys)) {
        (true, Some((a, b))) => Some((a, b)),
        _ => None,
    };
    let Some(((a, b), rho)) = line.zip(rho) else {
        return (
            None,
            format!(
                " No fitted line: {} model(s) that learned, 3 needed.",
                learned.len()
            ),
        );
    };
    let in_log = if x.log { " (x in log10)" } else { "" };
    let sentence = format!(" Line: least squares over the {} models that learned{in_log}; their Spearman rank correlation ρ = {rho:.2} (the claims table tests the controlled comparisons).", learned.len());
    let label = format!("least squares over learned models, ρ = {rho:.2}");
    (
        Some(Line {
            intercept: a,
            slope: b,
            label,
        }),
        sentence,
    )
}

#[allow(clippy::too_many_arguments)]
fn scatter_figure(
    style: &Style,
    models: &[ModelSummary],
    id: &str,
    title: &str,
    x: Axis,
    y: Axis,
    fx: impl Fn(&ModelSummary) -> Option<MeanSe>,
    fy: impl Fn(&ModelSummary) -> MeanSe,
) -> Result<Figure> {
    let (svg, fitted) = fitted_chart(style, models, x, y, fx, fy)?;
    Ok(Figure {
        id: id.to_string(),
        title: title.to_string(),
        caption: format!("{STYLE_NOTE}{fitted}"),
        panels: vec![svg],
    })
}

/// One marker per model that has an `fx`, with the least-squares line over
/// those that learned: the chart's SVG and the caption sentence on the fit.
fn fitted_chart(
    style: &Style,
    models: &[ModelSummary],
    x: Axis,
    y: Axis,
    fx: impl Fn(&ModelSummary) -> Option<MeanSe>,
    fy: impl Fn(&ModelSummary) -> MeanSe,
) -> Result<(String, String)> {
    let drawn: Vec<(&ModelSummary, Marker)> = models
        .iter()
        .filter_map(|m| Some((m, style.marker(m, fx(m)?, fy(m)))))
        .collect();
    let (line, fitted) = fit(style, &drawn, &x, &y);
    let chart = Scatter {
        title: String::new(),
        x,
        y,
        markers: drawn.into_iter().map(|(_, k)| k).collect(),
        line,
        diagonal: false,
        join: false,
    };
    Ok((scatter_svg(&chart)?, fitted))
}

/// Pre-training corpus size vs OOD accuracy and ECE (pre-trained models with a known size).
fn data_size_figure(style: &Style, models: &[ModelSummary]) -> Result<Option<Figure>> {
    let with_size: Vec<&ModelSummary> = models
        .iter()
        .filter(|m| m.pretrain_images.is_some())
        .collect();
    let sizes: BTreeSet<u64> = with_size.iter().filter_map(|m| m.pretrain_images).collect();
    if sizes.len() < 2 {
        // One corpus size is no axis: nothing to draw.
        return Ok(None);
    }
    let images = |m: &ModelSummary| exact(m.pretrain_images.unwrap_or(1) as f64);
    let x = Axis::log("pre-training images (log scale)");
    Ok(Some(Figure {
        id: "E".to_string(),
        title: "Pre-training data size vs OOD accuracy and calibration".to_string(),
        caption: format!("{STYLE_NOTE} Only models pre-trained on a corpus of known size; claims 3 and 4b compare the same architecture and recipe across corpora."),
        panels: accuracy_and_ece_panels(style, &with_size, x, images)?,
    }))
}

/// OOD accuracy and ECE per pre-training recipe.
fn recipe_figure(style: &Style, models: &[ModelSummary]) -> Result<Option<Figure>> {
    let with_recipe: Vec<&ModelSummary> = models.iter().filter(|m| m.recipe.is_some()).collect();
    let recipes: Vec<String> = with_recipe
        .iter()
        .filter_map(|m| m.recipe.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if recipes.len() < 2 {
        return Ok(None);
    }
    let at = |m: &ModelSummary| {
        let i = recipes
            .iter()
            .position(|r| Some(r) == m.recipe.as_ref())
            .unwrap_or(0);
        exact(i as f64)
    };
    let x = Axis::categorical("pre-training recipe", recipes.clone());
    Ok(Some(Figure {
        id: "F".to_string(),
        title: "Pre-training recipe vs OOD accuracy and calibration".to_string(),
        caption: format!("{STYLE_NOTE} Every model with a recipe; models of other sizes or corpora share a column (claim 6 compares one architecture on one corpus)."),
        panels: accuracy_and_ece_panels(style, &with_recipe, x, at)?,
    }))
}

/// Two panels with `x` across: OOD accuracy and OOD ECE (equal-width) of `models`.
fn accuracy_and_ece_panels(
    style: &Style,
    models: &[&ModelSummary],
    x: Axis,
    at: impl Fn(&ModelSummary) -> MeanSe,
) -> Result<Vec<String>> {
    let panel = |y: Axis, f: fn(&ModelSummary) -> MeanSe| Scatter {
        title: y.label.clone(),
        x: x.clone(),
        y,
        markers: models
            .iter()
            .map(|m| style.marker(m, at(m), f(m)))
            .collect(),
        line: None,
        diagonal: false,
        join: false,
    };
    [
        panel(Axis::linear("OOD accuracy (%)"), |m| m.ood_accuracy),
        panel(Axis::linear("OOD ECE, equal-width (%)"), |m| m.ood_ece),
    ]
    .iter()
    .map(scatter_svg)
    .collect()
}

/// Accuracy on the line: probit(ID accuracy) vs probit(OOD accuracy) with a least-squares fit.
fn on_the_line_figure(style: &Style, models: &[ModelSummary]) -> Result<Option<Figure>> {
    if models.len() < 2 {
        return Ok(None);
    }
    let p = |v: f64| exact(probit(v / 100.0));
    let (svg, fitted) = fitted_chart(
        style,
        models,
        Axis::linear("probit(ID validation accuracy)"),
        Axis::linear("probit(OOD accuracy)"),
        |m| Some(p(m.id_accuracy.mean)),
        |m| p(m.ood_accuracy.mean),
    )?;
    Ok(Some(Figure {
        id: "G".to_string(),
        title: "Accuracy on the line: ID vs OOD accuracy, probit-scaled".to_string(),
        caption: format!("One marker per model (mean over seeds), both axes probit-transformed (inverse normal CDF of the accuracy as a fraction). Accuracy on the line (Miller et al. 2021) predicts a straight line here.{fitted}"),
        panels: vec![svg],
    }))
}
