//! Class geometry: what each glyph-dg class and each pre-training corpus class
//! looks like, in a canonical frame (centre at the origin, radius about 1,
//! y pointing down), before any per-image transform or style.
//!
//! A shape is a list of parts whose filled regions are united: polygon parts
//! (even–odd rings, so rings inside rings are holes) and stroke parts
//! (polylines drawn with round caps at a given width). Styles draw fills,
//! halos (dilated fills) and sketch lines from the same geometry; see
//! `render.rs`.

use super::raster::{Pt, SampleMask};
use crate::data::detmath;

/// One filled component of a shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Closed rings, filled with the even–odd rule.
    Polygon(Vec<Vec<Pt>>),
    /// Open polylines of the given width (canonical units), round caps.
    Stroke { lines: Vec<Vec<Pt>>, width: f32 },
}

/// A class's canonical geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub parts: Vec<Part>,
}

/// A 2-D affine map `p -> (a x + b y + tx, c x + d y + ty)`.
#[derive(Clone, Copy, Debug)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Affine {
    /// Rotation by `angle` radians, scales `sx`, `sy` (applied before the
    /// rotation), then translation to `(tx, ty)`.
    pub fn new(angle: f64, sx: f32, sy: f32, tx: f32, ty: f32) -> Self {
        let (s, c) = detmath::sin_cos(angle);
        let (s, c) = (s as f32, c as f32);
        Affine {
            a: c * sx,
            b: -s * sy,
            c: s * sx,
            d: c * sy,
            tx,
            ty,
        }
    }

    pub fn apply(&self, p: Pt) -> Pt {
        [
            self.a * p[0] + self.b * p[1] + self.tx,
            self.c * p[0] + self.d * p[1] + self.ty,
        ]
    }

    /// Geometric-mean scale factor, used for stroke widths.
    pub fn scale(&self) -> f32 {
        (self.a * self.d - self.b * self.c).abs().sqrt()
    }
}

impl Shape {
    /// The shape mapped by `t` (stroke widths scale with `t.scale()`).
    pub fn transformed(&self, t: &Affine) -> Shape {
        let map = |pts: &Vec<Pt>| pts.iter().map(|&p| t.apply(p)).collect::<Vec<Pt>>();
        let parts = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Polygon(rings) => Part::Polygon(rings.iter().map(map).collect()),
                Part::Stroke { lines, width } => Part::Stroke {
                    lines: lines.iter().map(map).collect(),
                    width: width * t.scale(),
                },
            })
            .collect();
        Shape { parts }
    }

    /// Applies `f` to every point (used for painterly wobble).
    pub fn map_points(&self, mut f: impl FnMut(Pt) -> Pt) -> Shape {
        let mut out = self.clone();
        for part in &mut out.parts {
            let lists = match part {
                Part::Polygon(rings) => rings,
                Part::Stroke { lines, .. } => lines,
            };
            for p in lists.iter_mut().flatten() {
                *p = f(*p);
            }
        }
        out
    }

    /// Splits every edge into pieces no longer than `max_len`, so that a
    /// per-vertex wobble bends edges instead of only moving corners.
    pub fn subdivided(&self, max_len: f32) -> Shape {
        let split = |pts: &Vec<Pt>, closed: bool| {
            let mut out = Vec::new();
            let n = pts.len();
            let edges = if closed { n } else { n.saturating_sub(1) };
            for i in 0..edges {
                let a = pts[i];
                let b = pts[(i + 1) % n];
                let len = ((b[0] - a[0]) * (b[0] - a[0]) + (b[1] - a[1]) * (b[1] - a[1])).sqrt();
                let k = ((len / max_len).ceil() as usize).max(1);
                for j in 0..k {
                    let t = j as f32 / k as f32;
                    out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
                }
            }
            if !closed {
                if let Some(&last) = pts.last() {
                    out.push(last);
                }
            }
            out
        };
        let parts = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Polygon(rings) => {
                    Part::Polygon(rings.iter().map(|r| split(r, true)).collect())
                }
                Part::Stroke { lines, width } => Part::Stroke {
                    lines: lines.iter().map(|l| split(l, false)).collect(),
                    width: *width,
                },
            })
            .collect();
        Shape { parts }
    }

    /// Rasterises the filled region (union of parts). Coordinates must be
    /// in sample units (see `raster.rs`).
    pub fn fill(&self, mask: &mut SampleMask) {
        for part in &self.parts {
            match part {
                // Each call only sets samples inside its own even-odd
                // region, so filling parts one after another is a union.
                Part::Polygon(rings) => mask.fill_polygons(rings),
                Part::Stroke { lines, width } => {
                    for l in lines {
                        mask.stroke_polyline(l, width / 2.0, false);
                    }
                }
            }
        }
    }

    /// Rasterises the filled region grown by `grow` sample units (a halo).
    pub fn fill_grown(&self, mask: &mut SampleMask, grow: f32) {
        self.fill(mask);
        for part in &self.parts {
            match part {
                Part::Polygon(rings) => {
                    for r in rings {
                        mask.stroke_polyline(r, grow, true);
                    }
                }
                Part::Stroke { lines, width } => {
                    for l in lines {
                        mask.stroke_polyline(l, width / 2.0 + grow, false);
                    }
                }
            }
        }
    }

    /// Rasterises line art: polygon boundaries and stroke centrelines, both
    /// with half-width `radius` sample units.
    pub fn lines(&self, mask: &mut SampleMask, radius: f32) {
        for part in &self.parts {
            match part {
                Part::Polygon(rings) => {
                    for r in rings {
                        mask.stroke_polyline(r, radius, true);
                    }
                }
                Part::Stroke { lines, .. } => {
                    for l in lines {
                        mask.stroke_polyline(l, radius, false);
                    }
                }
            }
        }
    }

    /// Axis-aligned bounds `(min, max)` of all points, widened by stroke
    /// half-widths.
    pub fn bounds(&self) -> (Pt, Pt) {
        let mut lo = [f32::INFINITY; 2];
        let mut hi = [f32::NEG_INFINITY; 2];
        for part in &self.parts {
            let (lists, pad) = match part {
                Part::Polygon(r) => (r, 0.0),
                Part::Stroke { lines, width } => (lines, width / 2.0),
            };
            for p in lists.iter().flatten() {
                for k in 0..2 {
                    lo[k] = lo[k].min(p[k] - pad);
                    hi[k] = hi[k].max(p[k] + pad);
                }
            }
        }
        (lo, hi)
    }
}

/// A regular polygon (or star when `inner` is `Some(ratio)`) with `n` outer
/// vertices on the unit circle, the first pointing up.
pub fn regular(n: usize, inner: Option<f32>, radius: f32) -> Vec<Pt> {
    let k = if inner.is_some() { 2 * n } else { n };
    (0..k)
        .map(|i| {
            let ang = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / k as f64;
            let (s, c) = detmath::sin_cos(ang);
            let r = match inner {
                Some(ratio) if i % 2 == 1 => radius * ratio,
                _ => radius,
            };
            [r * c as f32, r * s as f32]
        })
        .collect()
}

/// Points on a circle arc from angle `a0` to `a1` (radians), inclusive.
fn arc(cx: f32, cy: f32, r: f32, a0: f64, a1: f64, n: usize) -> Vec<Pt> {
    (0..=n)
        .map(|i| {
            let (s, c) = detmath::sin_cos(a0 + (a1 - a0) * i as f64 / n as f64);
            [cx + r * c as f32, cy + r * s as f32]
        })
        .collect()
}

fn poly(points: &[Pt]) -> Shape {
    Shape {
        parts: vec![Part::Polygon(vec![points.to_vec()])],
    }
}

/// glyph-dg's seven classes, in label order (sorted by name, as a DomainBed
/// image folder would order them).
pub const GLYPH_DG_CLASSES: [&str; 7] = [
    "arrow", "circle", "crescent", "cross", "square", "star", "triangle",
];

/// Canonical geometry of glyph-dg class `label` (index into
/// [`GLYPH_DG_CLASSES`]).
pub fn benchmark_shape(label: usize) -> Shape {
    match label {
        0 => poly(&[
            [-1.0, -0.24],
            [0.15, -0.24],
            [0.15, -0.66],
            [1.0, 0.0],
            [0.15, 0.66],
            [0.15, 0.24],
            [-1.0, 0.24],
        ]),
        1 => poly(&regular(40, None, 0.92)),
        2 => crescent(),
        3 => {
            let (a, w) = (0.95, 0.3);
            poly(&[
                [-w, -a],
                [w, -a],
                [w, -w],
                [a, -w],
                [a, w],
                [w, w],
                [w, a],
                [-w, a],
                [-w, w],
                [-a, w],
                [-a, -w],
                [-w, -w],
            ])
        }
        4 => poly(&[[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]]),
        5 => poly(&regular(5, Some(0.42), 1.05)),
        _ => {
            let mut t = regular(3, None, 1.1);
            for p in &mut t {
                p[1] += 0.18;
            }
            poly(&t)
        }
    }
}

/// A crescent: the unit disk minus a disk of radius 0.78 centred at
/// (0.42, 0), shifted to centre it. The intersection angles are
/// constants (outer circle ±0.828217 rad, inner circle ±1.236135 rad), so no
/// inverse trigonometry is needed at run time.
fn crescent() -> Shape {
    let (ao, ai) = (0.828_217_f64, 1.236_135_f64);
    let mut pts = arc(0.0, 0.0, 1.0, ao, std::f64::consts::TAU - ao, 28);
    let inner = arc(0.42, 0.0, 0.78, std::f64::consts::TAU - ai, ai, 22);
    pts.extend(inner.into_iter().skip(1).take(21));
    for p in &mut pts {
        p[0] += 0.16;
    }
    poly(&pts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_rotation_by_quarter_turn() {
        let t = Affine::new(std::f64::consts::FRAC_PI_2, 1.0, 1.0, 0.0, 0.0);
        let p = t.apply([1.0, 0.0]);
        assert!(p[0].abs() < 1e-6 && (p[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn benchmark_shapes_fit_the_unit_box() {
        for k in 0..GLYPH_DG_CLASSES.len() {
            let (lo, hi) = benchmark_shape(k).bounds();
            for i in 0..2 {
                assert!(lo[i] >= -1.2 && hi[i] <= 1.2, "{k}: {lo:?} {hi:?}");
            }
        }
    }

    #[test]
    fn subdivision_keeps_the_ring_closed_and_bounded() {
        let s = benchmark_shape(4).subdivided(0.1);
        match &s.parts[0] {
            Part::Polygon(r) => assert!(r[0].len() >= 64),
            _ => panic!("square is a polygon"),
        }
        assert_eq!(s.bounds(), benchmark_shape(4).bounds());
    }
}
