//! Scatter and interval charts as SVG strings (plotters), deterministic:
//! integer pixel coordinates, no ids, no timestamps, so the same input gives
//! the same bytes.
//!
//! A log axis is drawn by plotting log10 of the values on a linear axis and
//! labelling ticks with the original values; that keeps one code path for
//! every chart and lets error bars live in either space.

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

pub const WIDTH: u32 = 560;
pub const HEIGHT: u32 = 400;

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

/// One marker: position, ± half-widths, legend series, colour, shape, radius.
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

    fn to_plot(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    fn tick_label(&self, v: f64) -> String {
        if !self.categories.is_empty() {
            let i = v.round();
            return if (v - i).abs() < 1e-6 && i >= 0.0 {
                self.categories.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            };
        }
        if self.log {
            return si(10f64.powf(v));
        }
        format!("{v:.1}")
    }
}

/// 1234567 → "1.23M": short labels for counts on a log axis.
pub fn si(v: f64) -> String {
    let (scaled, suffix) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if scaled >= 100.0 {
        0
    } else if scaled >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$}{suffix}")
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
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub markers: Vec<Marker>,
    pub line: Option<Line>,
    /// Draw the y = x diagonal (reliability diagrams).
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

/// Renders one chart to an SVG string.
pub fn scatter_svg(s: &Scatter) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_scatter(&root, s)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Several charts side by side in one SVG.
pub fn panels_svg(panels: &[Scatter]) -> Result<String> {
    let mut svg = String::new();
    {
        let width = WIDTH * panels.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (width, HEIGHT)).into_drawing_area();
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, s) in areas.iter().zip(panels) {
            draw_scatter(area, s)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

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

fn draw_scatter(root: &DrawingArea<SVGBackend, Shift>, s: &Scatter) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let pts = plotted(s);
    let (mut x0, mut x1) = range(pts.iter().map(|p| (p.0, p.2)));
    let (mut y0, mut y1) = range(pts.iter().map(|p| (p.1, p.3)));
    if !s.x.categories.is_empty() {
        (x0, x1) = (-0.5, s.x.categories.len() as f64 - 0.5);
    }
    if s.diagonal {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let mut chart = ChartBuilder::on(root)
        .caption(&s.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let x_fmt = |v: &f64| s.x.tick_label(*v);
    let y_fmt = |v: &f64| s.y.tick_label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(s.x.label.as_str())
        .y_desc(s.y.label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 11));
    if !s.x.categories.is_empty() {
        mesh.x_labels(s.x.categories.len() * 2 + 1);
    }
    mesh.draw().map_err(err)?;
    if s.diagonal {
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                grey.stroke_width(1),
            ))
            .map_err(err)?
            .label("perfect calibration")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], grey));
    }
    if let Some(line) = &s.line {
        let colour = RGBColor(60, 60, 60);
        let ends = [
            (x0, line.intercept + line.slope * x0),
            (x1, line.intercept + line.slope * x1),
        ];
        chart
            .draw_series(LineSeries::new(ends, colour.stroke_width(1)))
            .map_err(err)?
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], colour));
    }
    draw_markers(&mut chart, s, &pts)?;
    let corner = emptiest_corner(&pts, (x0, x1), (y0, y1));
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The corner whose 40% × 40% box holds the fewest markers, so the legend
/// hides as little data as possible (ties: upper right, upper left, lower
/// right, lower left).
fn emptiest_corner(
    pts: &[(f64, f64, f64, f64)],
    x: (f64, f64),
    y: (f64, f64),
) -> SeriesLabelPosition {
    let fx = |v: f64| (v - x.0) / (x.1 - x.0);
    let fy = |v: f64| (v - y.0) / (y.1 - y.0);
    let count = |right: bool, upper: bool| {
        pts.iter()
            .filter(|p| {
                let (a, b) = (fx(p.0), fy(p.1));
                (if right { a > 0.6 } else { a < 0.4 }) && (if upper { b > 0.6 } else { b < 0.4 })
            })
            .count()
    };
    let corners = [
        (count(true, true), SeriesLabelPosition::UpperRight),
        (count(false, true), SeriesLabelPosition::UpperLeft),
        (count(true, false), SeriesLabelPosition::LowerRight),
        (count(false, false), SeriesLabelPosition::LowerLeft),
    ];
    let best = corners.iter().map(|c| c.0).min().unwrap_or(0);
    corners
        .into_iter()
        .find(|c| c.0 == best)
        .map(|c| c.1)
        .unwrap_or(SeriesLabelPosition::UpperRight)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Error bars, then markers, one legend entry per series (series in name order).
fn draw_markers(chart: &mut Chart, s: &Scatter, pts: &[(f64, f64, f64, f64)]) -> Result<()> {
    let mut series: Vec<&str> = s.markers.iter().map(|m| m.series.as_str()).collect();
    series.sort_unstable();
    series.dedup();
    for name in series {
        let members: Vec<usize> = (0..s.markers.len())
            .filter(|&i| s.markers[i].series == name)
            .collect();
        let first = &s.markers[members[0]];
        let colour = PALETTE[first.colour % PALETTE.len()];
        let bars = members.iter().flat_map(|&i| {
            let (x, y, xe, ye) = pts[i];
            let mut v = Vec::new();
            if ye > 0.0 {
                v.push(PathElement::new(
                    [(x, y - ye), (x, y + ye)],
                    colour.stroke_width(1),
                ));
            }
            if xe > 0.0 {
                v.push(PathElement::new(
                    [(x - xe, y), (x + xe, y)],
                    colour.stroke_width(1),
                ));
            }
            v
        });
        chart.draw_series(bars).map_err(err)?;
        if s.join {
            let mut line: Vec<(f64, f64)> = members.iter().map(|&i| (pts[i].0, pts[i].1)).collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(line, colour.stroke_width(2)))
                .map_err(err)?;
        }
        let style = colour.mix(0.75).filled();
        let outline = colour.stroke_width(2);
        match first.shape {
            Shape::Circle => {
                let marks = members
                    .iter()
                    .map(|&i| Circle::new((pts[i].0, pts[i].1), s.markers[i].radius, style));
                chart
                    .draw_series(marks)
                    .map_err(err)?
                    .label(name)
                    .legend(move |(x, y)| Circle::new((x + 6, y), 5, style));
            }
            Shape::Triangle => {
                let marks = members.iter().map(|&i| {
                    TriangleMarker::new((pts[i].0, pts[i].1), s.markers[i].radius + 1, outline)
                });
                chart
                    .draw_series(marks)
                    .map_err(err)?
                    .label(name)
                    .legend(move |(x, y)| TriangleMarker::new((x + 6, y), 6, outline));
            }
            Shape::Ring => {
                let marks = members
                    .iter()
                    .map(|&i| Circle::new((pts[i].0, pts[i].1), s.markers[i].radius, outline));
                chart
                    .draw_series(marks)
                    .map_err(err)?
                    .label(name)
                    .legend(move |(x, y)| Circle::new((x + 6, y), 5, outline));
            }
        }
    }
    Ok(())
}
