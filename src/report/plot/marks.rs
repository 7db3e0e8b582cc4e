//! The data layer of a chart, written as SVG elements of its own (plotters
//! draws the frame beneath) so that every mark carries its model's name and
//! values as an SVG `<title>`, shown on hover, and a class a test can find:
//! markers with their error bars (`g.point`), direct labels (`text.label`)
//! and the legend (`g.legend`), which sits below the plot and so never covers
//! data.

use plotters::style::RGBColor;
use std::fmt::Write;

use super::{Shape, PALETTE};

/// Font size of labels and legend text, in SVG pixels: ≥ 12 px on screen at
/// the narrowest column the page gives a chart.
pub const TEXT_PX: u32 = 14;
const LABEL_PX: f64 = 13.0;
/// Width of one character, as a fraction of the font size (a sans-serif
/// average, rounded up so estimated boxes are never smaller than drawn ones).
const CHAR_EM: f64 = 0.62;
const LEGEND_ROW: u32 = 22;

/// A mark in pixel space: centre, radius, error-bar segments, style, text.
#[derive(Debug, Clone)]
pub struct Mark {
    pub cx: f64,
    pub cy: f64,
    pub r: f64,
    pub bars: Vec<[(f64, f64); 2]>,
    pub colour: usize,
    pub shape: Shape,
    pub series: String,
    pub tooltip: String,
    /// The direct label to try, if any.
    pub label: Option<String>,
}

/// A pixel box: left, top, right, bottom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PxBox(pub f64, pub f64, pub f64, pub f64);

impl PxBox {
    fn overlaps(&self, o: &PxBox) -> bool {
        self.0 < o.2 && o.0 < self.2 && self.1 < o.3 && o.1 < self.3
    }
    fn inside(&self, o: &PxBox) -> bool {
        self.0 >= o.0 && self.2 <= o.2 && self.1 >= o.1 && self.3 <= o.3
    }
}

fn rgb(colour: usize) -> String {
    let RGBColor(r, g, b) = PALETTE[colour % PALETTE.len()];
    format!("rgb({r},{g},{b})")
}

/// Text for SVG: `&`, `<`, `>` and quotes escaped.
pub fn escape(text: &str) -> String {
    minijinja::HtmlEscape(text).to_string()
}

/// Moves markers that would cover an earlier one sideways, by whole marker
/// widths, alternating right and left (error bars move with them). The order
/// is the input order, so the result is deterministic.
pub fn nudge(marks: &mut [Mark]) {
    for i in 0..marks.len() {
        let (cx, cy, r) = (marks[i].cx, marks[i].cy, marks[i].r);
        let clear = |x: f64| {
            marks[..i]
                .iter()
                .all(|m| ((m.cx - x).powi(2) + (m.cy - cy).powi(2)).sqrt() >= m.r + r + 1.0)
        };
        let step = r + 1.5;
        let shift = [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0]
            .into_iter()
            .map(|k| k * step)
            .find(|dx| clear(cx + dx))
            .unwrap_or(0.0);
        let m = &mut marks[i];
        m.cx += shift;
        for bar in &mut m.bars {
            bar[0].0 += shift;
            bar[1].0 += shift;
        }
    }
}

/// The box of `text` at font `px` drawn at `(x, baseline)` with `anchor`.
fn text_box(text: &str, px: f64, x: f64, baseline: f64, anchor: &str) -> PxBox {
    let w = text.chars().count() as f64 * px * CHAR_EM;
    let left = match anchor {
        "end" => x - w,
        "middle" => x - w / 2.0,
        _ => x,
    };
    PxBox(left, baseline - px * 0.8, left + w, baseline + px * 0.25)
}

/// A direct label's position: (x, baseline, anchor).
pub type LabelAt = (f64, f64, &'static str);

/// Places each mark's label beside it where it fits inside `plot` without
/// covering any marker, error bar or earlier label (right, left, above, below, then
/// the diagonals); a label that fits nowhere is left to the tooltip.
pub fn place_labels(marks: &[Mark], plot: PxBox) -> Vec<Option<LabelAt>> {
    // Obstacles: every marker and every error bar (as a 4 px wide box).
    let markers: Vec<PxBox> = marks
        .iter()
        .flat_map(|m| {
            let bars = m.bars.iter().map(|[(x1, y1), (x2, y2)]| {
                PxBox(
                    x1.min(*x2) - 2.0,
                    y1.min(*y2) - 2.0,
                    x1.max(*x2) + 2.0,
                    y1.max(*y2) + 2.0,
                )
            });
            std::iter::once(PxBox(m.cx - m.r, m.cy - m.r, m.cx + m.r, m.cy + m.r)).chain(bars)
        })
        .collect();
    let mut taken: Vec<PxBox> = Vec::new();
    marks
        .iter()
        .map(|m| {
            let text = m.label.as_deref()?;
            let (x, y, g) = (m.cx, m.cy, m.r + 3.0);
            // Beside, above, below, the diagonals, then one line further out.
            let candidates: [LabelAt; 12] = [
                (x + g, y + 4.5, "start"),
                (x - g, y + 4.5, "end"),
                (x, y - g - 2.0, "middle"),
                (x, y + g + 11.0, "middle"),
                (x + g, y - g, "start"),
                (x + g, y + g + 9.0, "start"),
                (x - g, y - g, "end"),
                (x - g, y + g + 9.0, "end"),
                (x - g, y - g - 13.0, "end"),
                (x + g, y - g - 13.0, "start"),
                (x - g, y + g + 22.0, "end"),
                (x + g, y + g + 22.0, "start"),
            ];
            let chosen = candidates.into_iter().find(|&(lx, ly, anchor)| {
                let b = text_box(text, LABEL_PX, lx, ly, anchor);
                b.inside(&plot)
                    && !markers.iter().any(|o| o.overlaps(&b))
                    && !taken.iter().any(|o| o.overlaps(&b))
            })?;
            taken.push(text_box(text, LABEL_PX, chosen.0, chosen.1, chosen.2));
            Some(chosen)
        })
        .collect()
}

fn glyph(out: &mut String, shape: Shape, colour: usize, cx: f64, cy: f64, r: f64) {
    let c = rgb(colour);
    let _ = match shape {
        Shape::Circle => write!(
            out,
            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" fill="{c}" fill-opacity="0.8" stroke="{c}" stroke-width="1"/>"#
        ),
        Shape::Ring => write!(
            out,
            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" fill="white" fill-opacity="0.6" stroke="{c}" stroke-width="2"/>"#
        ),
        Shape::Triangle => {
            let (t, b, h) = (cy - r - 1.0, cy + r, r + 1.0);
            write!(
                out,
                r#"<polygon points="{cx:.1},{t:.1} {:.1},{b:.1} {:.1},{b:.1}" fill="white" fill-opacity="0.6" stroke="{c}" stroke-width="2"/>"#,
                cx - h,
                cx + h
            )
        }
    };
}

/// Each mark as a `g.point` with its `<title>`, its bars and its glyph;
/// larger markers first so smaller ones stay visible on top.
pub fn points_svg(marks: &[Mark]) -> String {
    let mut order: Vec<usize> = (0..marks.len()).collect();
    order.sort_by(|&a, &b| marks[b].r.total_cmp(&marks[a].r).then(a.cmp(&b)));
    let mut out = String::new();
    for i in order {
        let m = &marks[i];
        let _ = write!(
            out,
            r#"<g class="point"><title>{}</title>"#,
            escape(&m.tooltip)
        );
        for [(x1, y1), (x2, y2)] in &m.bars {
            let _ = write!(
                out,
                r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="1.5"/>"#,
                rgb(m.colour)
            );
        }
        glyph(&mut out, m.shape, m.colour, m.cx, m.cy, m.r);
        out.push_str("</g>");
    }
    out
}

/// The placed labels as `text.label` elements.
pub fn labels_svg(marks: &[Mark], at: &[Option<LabelAt>]) -> String {
    let mut out = String::new();
    for (m, at) in marks.iter().zip(at) {
        if let (Some(text), Some((x, y, anchor))) = (&m.label, at) {
            let _ = write!(
                out,
                r##"<text class="label" x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-family="sans-serif" font-size="{LABEL_PX}" fill="#333">{}</text>"##,
                escape(text)
            );
        }
    }
    out
}

/// One polyline per series through its marks in x order (reliability curves).
pub fn curves_svg(marks: &[Mark]) -> String {
    let mut series: Vec<&str> = marks.iter().map(|m| m.series.as_str()).collect();
    series.sort_unstable();
    series.dedup();
    let mut out = String::new();
    for name in series {
        let mut pts: Vec<&Mark> = marks.iter().filter(|m| m.series == name).collect();
        pts.sort_by(|a, b| a.cx.total_cmp(&b.cx));
        let line: Vec<String> = pts
            .iter()
            .map(|m| format!("{:.1},{:.1}", m.cx, m.cy))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="curve" points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            line.join(" "),
            rgb(pts[0].colour)
        );
    }
    out
}

/// What a legend entry shows before its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Glyph(Shape, usize),
    /// A line in a grey level (0-255).
    Line(u8),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub text: String,
}

/// Legend rows below the plot: two columns, an entry too long for one
/// column takes the whole row.
pub struct Legend {
    /// (entry, x, row) in layout order.
    placed: Vec<(Entry, f64, u32)>,
    rows: u32,
}

impl Legend {
    pub fn new(entries: Vec<Entry>, width: u32) -> Legend {
        let column = (width as f64 - 32.0) / 2.0;
        let (mut placed, mut row, mut col) = (Vec::new(), 0u32, 0usize);
        for e in entries {
            let w = 24.0 + e.text.chars().count() as f64 * TEXT_PX as f64 * CHAR_EM;
            let wide = w > column;
            if col == 1 && wide {
                (row, col) = (row + 1, 0);
            }
            placed.push((e, 16.0 + col as f64 * column, row));
            if wide || col == 1 {
                (row, col) = (row + 1, 0);
            } else {
                col = 1;
            }
        }
        let rows = row + u32::from(col == 1);
        Legend { placed, rows }
    }

    pub fn height(&self) -> u32 {
        if self.rows == 0 {
            0
        } else {
            self.rows * LEGEND_ROW + 12
        }
    }

    /// The legend as `g.legend`, its first row `top` pixels down.
    pub fn svg(&self, top: u32) -> String {
        let mut out = String::from(r#"<g class="legend">"#);
        for (e, x, row) in &self.placed {
            let cy = (top + 6 + row * LEGEND_ROW + LEGEND_ROW / 2) as f64;
            match e.key {
                Key::Glyph(shape, colour) => glyph(&mut out, shape, colour, x + 8.0, cy, 5.0),
                Key::Line(grey) => {
                    let _ = write!(
                        out,
                        r#"<line x1="{x:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="rgb({grey},{grey},{grey})" stroke-width="2"/>"#,
                        x + 16.0
                    );
                }
            }
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="{TEXT_PX}" fill="#222">{}</text>"##,
                x + 24.0,
                cy + 5.0,
                escape(&e.text)
            );
        }
        out.push_str("</g>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(cx: f64, cy: f64, label: &str) -> Mark {
        Mark {
            cx,
            cy,
            r: 5.0,
            bars: vec![[(cx, cy - 10.0), (cx, cy + 10.0)]],
            colour: 0,
            shape: Shape::Circle,
            series: "s".into(),
            tooltip: format!("{label} <x>"),
            label: Some(label.to_string()),
        }
    }

    #[test]
    fn coinciding_markers_are_moved_apart_with_their_bars() {
        let mut marks = vec![
            mark(100.0, 100.0, "a"),
            mark(100.0, 100.0, "b"),
            mark(100.0, 100.0, "c"),
        ];
        nudge(&mut marks);
        let xs: Vec<f64> = marks.iter().map(|m| m.cx).collect();
        assert_eq!(xs, vec![100.0, 113.0, 87.0]);
        assert_eq!(marks[1].bars[0][0].0, 113.0);
        for i in 0..3 {
            for j in 0..i {
                assert!((marks[i].cx - marks[j].cx).abs() >= 11.0);
            }
        }
    }

    #[test]
    fn labels_avoid_markers_other_labels_and_the_frame() {
        let plot = PxBox(0.0, 0.0, 300.0, 200.0);
        // Near the right edge: the label must go left.
        let marks = vec![
            mark(290.0, 100.0, "resnet-base"),
            mark(150.0, 100.0, "a"),
            mark(150.0, 112.0, "b"),
        ];
        let at = place_labels(&marks, plot);
        assert_eq!(at[0].unwrap().2, "end");
        let boxes: Vec<PxBox> = marks
            .iter()
            .zip(&at)
            .map(|(m, a)| {
                let (x, y, anchor) = a.unwrap();
                text_box(m.label.as_deref().unwrap(), LABEL_PX, x, y, anchor)
            })
            .collect();
        for (i, b) in boxes.iter().enumerate() {
            assert!(b.inside(&plot));
            for m in &marks {
                assert!(!b.overlaps(&PxBox(m.cx - m.r, m.cy - m.r, m.cx + m.r, m.cy + m.r)));
            }
            for o in &boxes[..i] {
                assert!(!b.overlaps(o));
            }
        }
        // A label that cannot fit anywhere is left out.
        let tiny = PxBox(95.0, 95.0, 105.0, 105.0);
        assert_eq!(
            place_labels(&[mark(100.0, 100.0, "long label")], tiny),
            vec![None]
        );
    }

    #[test]
    fn points_carry_escaped_titles() {
        let svg = points_svg(&[mark(10.0, 10.0, "a&b")]);
        assert!(
            svg.starts_with(r#"<g class="point"><title>a&amp;b &lt;x&gt;</title><line"#),
            "{svg}"
        );
    }

    #[test]
    fn long_legend_entries_take_a_whole_row() {
        let e = |t: &str| Entry {
            key: Key::Line(60),
            text: t.to_string(),
        };
        let legend = Legend::new(vec![e("a"), e("b"), e(&"x".repeat(40)), e("c")], 560);
        let rows: Vec<u32> = legend.placed.iter().map(|p| p.2).collect();
        assert_eq!(rows, vec![0, 0, 1, 2]);
        assert_eq!(legend.rows, 3);
        assert_eq!(Legend::new(Vec::new(), 560).height(), 0);
    }
}
