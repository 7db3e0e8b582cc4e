//! Charts as SVG strings, deterministic (no ids, no timestamps, fixed
//! rounding), so the same input gives the same bytes.
//!
//! Two layers: plotters draws the frame (axes, grid at round ticks, axis
//! names, a fitted line or the diagonal), and [`marks`] writes the data on top
//! as SVG elements of its own, each marker with a `<title>` naming its model,
//! direct labels where they fit, and the legend below the plot.
//!
//! A log axis is drawn by plotting log10 of the values on a linear axis and
//! labelling ticks with the original values.

pub mod marks;
pub mod ticks;

use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use marks::{Entry, Key, Legend, Mark, PxBox};

/// Width of every chart, in SVG pixels; the page shows it at about this size.
pub const WIDTH: u32 = 560;
/// Height of the plot and its axes (the legend is added below).
pub const PLOT_HEIGHT: u32 = 380;
/// More markers than this and only the tooltips name them.
pub const MAX_LABELS: usize = 12;

/// Colours for families, legends and lines (colour-blind-safe Okabe–Ito order).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// Pre-trained model.
    Circle,
    /// Trained from scratch.
    Triangle,
    /// A model that did not learn (drawn hollow).
    Ring,
}

/// One marker: position, ± half-widths, legend series, colour, shape, radius,
/// the name its tooltip starts with, and whether to label it directly.
#[derive(Debug, Clone)]
pub struct Marker {
    pub x: f64,
    pub y: f64,
    pub x_err: f64,
    pub y_err: f64,
    pub series: String,
    pub colour: usize,
    pub shape: Shape,
    pub radius: u32,
    pub name: String,
    /// An extra tooltip line (e.g. a bin's example count).
    pub note: Option<String>,
    pub label: bool,
}

#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    /// Values are plotted as log10 (must then be positive).
    pub log: bool,
    /// Category names at 0, 1, 2, ... (a categorical axis) when not empty.
    pub categories: Vec<String>,
}

impl Axis {
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.to_string(),
            log: false,
            categories: Vec::new(),
        }
    }
    pub fn log(label: &str) -> Axis {
        Axis {
            log: true,
            ..Axis::linear(label)
        }
    }
    pub fn categorical(label: &str, categories: Vec<String>) -> Axis {
        Axis {
            categories,
            ..Axis::linear(label)
        }
    }

    pub fn to_plot(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    fn ticks(&self, (lo, hi): (f64, f64)) -> Vec<f64> {
        if !self.categories.is_empty() {
            (0..self.categories.len()).map(|i| i as f64).collect()
        } else if self.log {
            ticks::log_ticks(lo, hi)
        } else {
            ticks::linear_ticks(lo, hi)
        }
    }

    /// The name of category `v` (its index).
    fn category(&self, v: f64) -> String {
        self.categories
            .get(v.round() as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// The label of tick `v` (plot units) on an axis whose ticks are `all`.
    fn tick_label(&self, v: f64, all: &[f64]) -> String {
        if !self.categories.is_empty() {
            return self.category(v);
        }
        if self.log {
            return ticks::si_label(10f64.powf(v).round());
        }
        let step = match all {
            [a, b, ..] => b - a,
            _ => 1.0,
        };
        format!("{v:.*}", ticks::decimals(step))
    }

    /// A value (data units) as a tooltip shows it.
    fn value_text(&self, v: f64, err: f64) -> String {
        if !self.categories.is_empty() {
            return self.category(v);
        }
        if self.log {
            return ticks::count(v.round().max(0.0) as u64);
        }
        match err > 0.0 {
            true => format!("{v:.2} ± {err:.2}"),
            false => format!("{v:.3}"),
        }
    }
}

/// A straight line `y = intercept + slope x` in plot coordinates, with its legend.
#[derive(Debug, Clone)]
pub struct Line {
    pub intercept: f64,
    pub slope: f64,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Scatter {
    /// Drawn above the plot when not empty (panels of a multi-panel figure).
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub markers: Vec<Marker>,
    pub line: Option<Line>,
    /// Draw the y = x diagonal over [0, 1] (reliability diagrams).
    pub diagonal: bool,
    /// Join each series' markers in x order (reliability curves).
    pub join: bool,
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a figure: {e}")
}

/// Range of `values ± err`, padded by 6% (±1 when all values are equal).
fn range(points: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (v, e) in points.filter(|(v, _)| v.is_finite()) {
        lo = lo.min(v - e);
        hi = hi.max(v + e);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = 0.06 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Markers in plot units: (x, y, x half-width, y half-width).
fn plotted(s: &Scatter) -> Vec<(f64, f64, f64, f64)> {
    s.markers
        .iter()
        .map(|m| {
            let (x, y) = (s.x.to_plot(m.x), s.y.to_plot(m.y));
            // A log axis gets no error bar in log space (it would be asymmetric).
            let xe = if s.x.log { 0.0 } else { m.x_err };
            let ye = if s.y.log { 0.0 } else { m.y_err };
            (x, y, xe, ye)
        })
        .collect()
}

/// The legend: one entry per series (name order), then the line, the diagonal.
fn legend(s: &Scatter) -> Legend {
    let mut series: Vec<(&str, Shape, usize)> = s
        .markers
        .iter()
        .map(|m| (m.series.as_str(), m.shape, m.colour))
        .collect();
    series.sort_unstable();
    series.dedup_by(|a, b| a.0 == b.0);
    let mut entries: Vec<Entry> = series
        .into_iter()
        .map(|(name, shape, colour)| Entry {
            key: Key::Glyph(shape, colour),
            text: name.to_string(),
        })
        .collect();
    if let Some(line) = &s.line {
        entries.push(Entry {
            key: Key::Line(60),
            text: line.label.clone(),
        });
    }
    if s.diagonal {
        entries.push(Entry {
            key: Key::Line(150),
            text: "perfect calibration".to_string(),
        });
    }
    Legend::new(entries, WIDTH)
}

/// Renders one chart to an SVG string.
pub fn scatter_svg(s: &Scatter) -> Result<String> {
    let legend = legend(s);
    let height = PLOT_HEIGHT + legend.height();
    let mut svg = String::new();
    let (mut marks, plot) = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (area, _) = root.split_vertically(PLOT_HEIGHT);
        let frame = draw_frame(&area, s)?;
        root.present().map_err(err)?;
        frame
    };
    if !s.join {
        marks::nudge(&mut marks);
    }
    let labelled = marks.iter().filter(|m| m.label.is_some()).count();
    let at = match labelled <= MAX_LABELS {
        true => marks::place_labels(&marks, plot),
        false => vec![None; marks.len()],
    };
    let mut layer = String::new();
    if s.join {
        layer.push_str(&marks::curves_svg(&marks));
    }
    layer.push_str(&marks::points_svg(&marks));
    layer.push_str(&marks::labels_svg(&marks, &at));
    layer.push_str(&legend.svg(PLOT_HEIGHT));
    let end = svg
        .rfind("</svg>")
        .ok_or_else(|| err("plotters wrote no </svg>"))?;
    svg.insert_str(end, &layer);
    Ok(svg)
}

/// A linear coordinate whose ticks are given (plotters' own key points split
/// the range evenly, at values like 25.1k).
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Ticked {
        Ticked {
            inner: (lo..hi).into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight().allow_light_points() {
            true => Vec::new(),
            false => self.ticks.clone(),
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// The part of `y = a + b x` over `x` that lies inside `y`.
fn clip_line(a: f64, b: f64, x: (f64, f64), y: (f64, f64)) -> Option<[(f64, f64); 2]> {
    let (mut lo, mut hi) = x;
    if b.abs() > 1e-12 {
        let (t0, t1) = ((y.0 - a) / b, (y.1 - a) / b);
        lo = lo.max(t0.min(t1));
        hi = hi.min(t0.max(t1));
    } else if a < y.0 || a > y.1 {
        return None;
    }
    (lo < hi).then_some([(lo, a + b * lo), (hi, a + b * hi)])
}

/// Draws axes, round ticks, axis names, the line and the diagonal; returns
/// the markers in pixel space and the plotting box.
fn draw_frame(area: &DrawingArea<SVGBackend, Shift>, s: &Scatter) -> Result<(Vec<Mark>, PxBox)> {
    let pts = plotted(s);
    let (mut x0, mut x1) = range(pts.iter().map(|p| (p.0, p.2)));
    let (mut y0, mut y1) = range(pts.iter().map(|p| (p.1, p.3)));
    if !s.x.categories.is_empty() {
        (x0, x1) = (-0.5, s.x.categories.len() as f64 - 0.5);
    }
    if s.diagonal {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let (xt, yt) = (s.x.ticks((x0, x1)), s.y.ticks((y0, y1)));
    // plotters' SVG writes a font's size divided by 1.24 (points to pixels).
    let text = f64::from(marks::TEXT_PX) * 1.24;
    let mut builder = ChartBuilder::on(area);
    if !s.title.is_empty() {
        builder.caption(&s.title, ("sans-serif", text + 1.24));
    }
    let mut chart = builder
        .margin(14)
        .x_label_area_size(52)
        .y_label_area_size(64)
        .build_cartesian_2d(
            Ticked::new(x0, x1, xt.clone()),
            Ticked::new(y0, y1, yt.clone()),
        )
        .map_err(err)?;
    let x_fmt = |v: &f64| s.x.tick_label(*v, &xt);
    let y_fmt = |v: &f64| s.y.tick_label(*v, &yt);
    chart
        .configure_mesh()
        .x_desc(s.x.label.as_str())
        .y_desc(s.y.label.as_str())
        .x_labels(xt.len())
        .y_labels(yt.len())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(RGBColor(225, 225, 225))
        .label_style(("sans-serif", text))
        .axis_desc_style(("sans-serif", text))
        .draw()
        .map_err(err)?;
    if s.diagonal {
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                grey.stroke_width(2),
            ))
            .map_err(err)?;
    }
    if let Some(line) = &s.line {
        if let Some(ends) = clip_line(line.intercept, line.slope, (x0, x1), (y0, y1)) {
            let grey = RGBColor(60, 60, 60);
            chart
                .draw_series(LineSeries::new(ends, grey.stroke_width(2)))
                .map_err(err)?;
        }
    }
    let px = |x: f64, y: f64| {
        let (a, b) = chart.backend_coord(&(x, y));
        (a as f64, b as f64)
    };
    let marks = s
        .markers
        .iter()
        .zip(&pts)
        .map(|(m, &(x, y, xe, ye))| {
            let (cx, cy) = px(x, y);
            let mut bars = Vec::new();
            if ye > 0.0 {
                bars.push([px(x, y - ye), px(x, y + ye)]);
            }
            if xe > 0.0 {
                bars.push([px(x - xe, y), px(x + xe, y)]);
            }
            let mut tooltip = format!(
                "{}\n{}: {}\n{}: {}",
                m.name,
                s.x.label,
                s.x.value_text(m.x, m.x_err),
                s.y.label,
                s.y.value_text(m.y, m.y_err)
            );
            if let Some(note) = &m.note {
                tooltip.push('\n');
                tooltip.push_str(note);
            }
            Mark {
                cx,
                cy,
                r: m.radius as f64,
                bars,
                colour: m.colour,
                shape: m.shape,
                series: m.series.clone(),
                tooltip,
                label: m.label.then(|| m.name.clone()),
            }
        })
        .collect();
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let plot = PxBox(
        xs.start as f64,
        ys.start as f64,
        xs.end as f64,
        ys.end as f64,
    );
    Ok((marks, plot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(name: &str, x: f64, y: f64) -> Marker {
        Marker {
            x,
            y,
            x_err: 0.0,
            y_err: 1.0,
            series: "resnet · pre-trained".into(),
            colour: 0,
            shape: Shape::Circle,
            radius: 5,
            name: name.into(),
            note: None,
            label: true,
        }
    }

    fn chart(markers: Vec<Marker>) -> Scatter {
        Scatter {
            title: String::new(),
            x: Axis::log("parameters"),
            y: Axis::linear("OOD accuracy (%)"),
            markers,
            line: Some(Line {
                intercept: 10.0,
                slope: 2.0,
                label: "least squares".into(),
            }),
            diagonal: false,
            join: false,
        }
    }

    #[test]
    fn every_marker_has_a_title_and_ticks_are_round() {
        let svg = scatter_svg(&chart(vec![
            marker("resnet-tiny", 24_000.0, 25.0),
            marker("resnet-small", 85_000.0, 27.0),
            marker("resnet-base", 322_000.0, 29.0),
        ]))
        .unwrap();
        assert_eq!(svg.matches(r#"<g class="point"><title>"#).count(), 3);
        assert!(
            svg.contains(
                "<title>resnet-base\nparameters: 322,000\nOOD accuracy (%): 29.00 ± 1.00</title>"
            ),
            "{svg}"
        );
        // plotters writes a text's content on a line of its own.
        for tick in ["\n50k\n", "\n100k\n", "\n200k\n"] {
            assert!(svg.contains(tick), "no tick {tick}");
        }
        assert_eq!(svg.matches(r#"class="label""#).count(), 3);
        assert_eq!(svg.matches(r#"<g class="legend">"#).count(), 1);
        // Same input, same bytes.
        assert_eq!(
            svg,
            scatter_svg(&chart(vec![
                marker("resnet-tiny", 24_000.0, 25.0),
                marker("resnet-small", 85_000.0, 27.0),
                marker("resnet-base", 322_000.0, 29.0),
            ]))
            .unwrap()
        );
    }

    #[test]
    fn more_markers_than_labels_fit_get_tooltips_only() {
        let many = (0..13)
            .map(|i| marker(&format!("m{i}"), 1000.0 * (i + 1) as f64, i as f64))
            .collect();
        let svg = scatter_svg(&chart(many)).unwrap();
        assert_eq!(svg.matches(r#"<g class="point">"#).count(), 13);
        assert!(!svg.contains(r#"class="label""#));
    }

    #[test]
    fn a_line_is_clipped_to_the_plot() {
        assert_eq!(
            clip_line(0.0, 1.0, (0.0, 10.0), (2.0, 5.0)),
            Some([(2.0, 2.0), (5.0, 5.0)])
        );
        assert_eq!(clip_line(7.0, 0.0, (0.0, 10.0), (2.0, 5.0)), None);
        assert_eq!(
            clip_line(3.0, 0.0, (0.0, 10.0), (2.0, 5.0)),
            Some([(0.0, 3.0), (10.0, 3.0)])
        );
    }
}
