//! The report's figures, built from per-model summaries: the paper's four
//! panels (A-D), pre-training data size, recipes, and accuracy on the line.
//!
//! Every marker is one model: mean over seeds with ± one standard error bars;
//! colour = family, shape = pre-trained (circle) or from scratch (triangle),
//! a hollow ring for a model that did not learn (left out of the claims),
//! size grows with the parameter count.

use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeSet;

use super::plot::{panels_svg, scatter_svg, Axis, Line, Marker, Scatter, Shape};
use crate::aggregate::learned::labels_with;
use crate::aggregate::stats::{least_squares, probit};
use crate::aggregate::{Learned, Learning, MeanSe, ModelSummary};

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
    /// Spans the page width (several panels).
    pub wide: bool,
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

    fn marker(&self, m: &ModelSummary, x: MeanSe, y: MeanSe) -> Marker {
        let (lo, hi) = self.log_params;
        let t = if hi > lo {
            ((m.params.max(1) as f64).log10() - lo) / (hi - lo)
        } else {
            0.5
        };
        let pretrained = m.is_pretrained();
        let learned = !self.not_learned.contains(&m.label);
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
            radius: 3 + (t * 6.0).round() as u32,
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

const STYLE_NOTE: &str = "One marker per model: mean over seeds of the run chosen by training-domain validation, bars ± 1 standard error. Colour: family; circle: pre-trained, triangle: from scratch, hollow ring: a model that did not learn (left out of the claims); marker size grows with the parameter count.";

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
    let params = |m: &ModelSummary| exact(m.params as f64);
    let mut out = vec![
        scatter_figure(&style, models, "A", "Model size vs OOD calibration (paper figure A)", Axis::log("parameters (count, log scale)"), Axis::linear("OOD ECE, equal-width (%)"), params, |m| m.ood_ece)?,
        scatter_figure(&style, models, "B", "OOD accuracy vs OOD calibration (paper figure B)", Axis::linear("OOD accuracy (%)"), Axis::linear("OOD ECE, equal-width (%)"), |m| m.ood_accuracy, |m| m.ood_ece)?,
        scatter_figure(&style, models, "C", "ID vs OOD accuracy (paper figure C uses ImageNet top-1; this study has none, so ID validation accuracy stands in)", Axis::linear("ID validation accuracy (%)"), Axis::linear("OOD accuracy (%)"), |m| m.id_accuracy, |m| m.ood_accuracy)?,
        scatter_figure(&style, models, "D", "Model size vs OOD accuracy (paper figure D)", Axis::log("parameters (count, log scale)"), Axis::linear("OOD accuracy (%)"), params, |m| m.ood_accuracy)?,
        scatter_figure(&style, models, "A-mass", "Model size vs OOD calibration, equal-mass bins", Axis::log("parameters (count, log scale)"), Axis::linear("OOD ECE, equal-mass (%)"), params, |m| m.ood_ece_mass)?,
    ];
    out.extend(data_size_figure(&style, models)?);
    out.extend(recipe_figure(&style, models)?);
    out.extend(on_the_line_figure(&style, models)?);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn scatter_figure(
    style: &Style,
    models: &[ModelSummary],
    id: &str,
    title: &str,
    x: Axis,
    y: Axis,
    fx: impl Fn(&ModelSummary) -> MeanSe,
    fy: impl Fn(&ModelSummary) -> MeanSe,
) -> Result<Figure> {
    let markers = models
        .iter()
        .map(|m| style.marker(m, fx(m), fy(m)))
        .collect();
    let chart = Scatter {
        title: format!("{id}: {}", y.label),
        x,
        y,
        markers,
        line: None,
        diagonal: false,
        join: false,
    };
    Ok(Figure {
        id: id.to_string(),
        title: title.to_string(),
        caption: STYLE_NOTE.to_string(),
        svg: scatter_svg(&chart)?,
        wide: false,
    })
}

/// Pre-training corpus size vs OOD accuracy and ECE (pre-trained models with a known size).
fn data_size_figure(style: &Style, models: &[ModelSummary]) -> Result<Option<Figure>> {
    let with_size: Vec<&ModelSummary> = models
        .iter()
        .filter(|m| m.pretrain_images.is_some())
        .collect();
    if with_size.is_empty() {
        return Ok(None);
    }
    let images = |m: &ModelSummary| exact(m.pretrain_images.unwrap_or(1) as f64);
    let x = Axis::log("pre-training images (log scale)");
    let svg = accuracy_and_ece_panels(style, &with_size, "pre-training images", x, images)?;
    Ok(Some(Figure {
        id: "E".to_string(),
        title: "Pre-training data size vs OOD accuracy and calibration".to_string(),
        caption: format!("{STYLE_NOTE} Only models pre-trained on a corpus of known size."),
        svg,
        wide: true,
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
    let svg = accuracy_and_ece_panels(style, &with_recipe, "recipe", x, at)?;
    Ok(Some(Figure {
        id: "F".to_string(),
        title: "Pre-training recipe vs OOD accuracy and calibration".to_string(),
        caption: format!("{STYLE_NOTE} Every model with a recipe; models of other sizes or corpora share a column."),
        svg,
        wide: true,
    }))
}

/// Two panels with `x` across: OOD accuracy and OOD ECE (equal-width) of `models`.
fn accuracy_and_ece_panels(
    style: &Style,
    models: &[&ModelSummary],
    x_name: &str,
    x: Axis,
    at: impl Fn(&ModelSummary) -> MeanSe,
) -> Result<String> {
    let panel = |y: Axis, f: fn(&ModelSummary) -> MeanSe| Scatter {
        title: format!("{x_name} vs {}", y.label),
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
    panels_svg(&[
        panel(Axis::linear("OOD accuracy (%)"), |m| m.ood_accuracy),
        panel(Axis::linear("OOD ECE, equal-width (%)"), |m| m.ood_ece),
    ])
}

/// Accuracy on the line: probit(ID accuracy) vs probit(OOD accuracy) with a least-squares fit.
fn on_the_line_figure(style: &Style, models: &[ModelSummary]) -> Result<Option<Figure>> {
    if models.len() < 2 {
        return Ok(None);
    }
    let p = |v: f64| probit(v / 100.0);
    let markers: Vec<Marker> = models
        .iter()
        .map(|m| {
            style.marker(
                m,
                exact(p(m.id_accuracy.mean)),
                exact(p(m.ood_accuracy.mean)),
            )
        })
        .collect();
    let xs: Vec<f64> = markers.iter().map(|m| m.x).collect();
    let ys: Vec<f64> = markers.iter().map(|m| m.y).collect();
    let line = least_squares(&xs, &ys).map(|(a, b)| Line {
        intercept: a,
        slope: b,
        label: format!("least squares: y = {a:.2} + {b:.2} x"),
    });
    let chart = Scatter {
        title: "accuracy on the line (probit scale)".to_string(),
        x: Axis::linear("probit(ID validation accuracy)"),
        y: Axis::linear("probit(OOD accuracy)"),
        markers,
        line,
        diagonal: false,
        join: false,
    };
    Ok(Some(Figure {
        id: "G".to_string(),
        title: "Accuracy on the line: ID vs OOD accuracy, probit-scaled".to_string(),
        caption: "One marker per model (mean over seeds), both axes probit-transformed (inverse normal CDF of the accuracy as a fraction); the line is an ordinary least-squares fit over models. Accuracy on the line (Miller et al. 2021) predicts a straight line here.".to_string(),
        svg: scatter_svg(&chart)?,
        wide: false,
    }))
}
