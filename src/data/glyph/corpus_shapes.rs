//! The class catalogue of the pre-training corpora: shapes and glyphs from
//! the same generator family as glyph-dg's classes, but a disjoint set.
//!
//! Families: regular polygons, stars with other point counts, hollow rings,
//! harmonic blobs, assorted silhouettes (heart, semicircle, …), multi-part
//! figures (bars, dots) and stroke glyphs (3–4 strokes joining points of a
//! 3×3 grid, like letters of an invented alphabet). The catalogue lists the
//! families round-robin, so any prefix (a corpus with fewer classes) mixes
//! all of them.
//!
//! Disjointness is enforced, not assumed: a candidate is dropped when its
//! canonical silhouette (scaled to a common box, compared also mirrored)
//! overlaps a glyph-dg class or an earlier catalogue entry with IoU ≥
//! [`MAX_IOU`]. The catalogue is a fixed function of this code (no seed).

use std::sync::OnceLock;

use super::raster::{Pt, SampleMask, SS2};
use super::shapes::{benchmark_shape, regular, Affine, Part, Shape, GLYPH_DG_CLASSES};
use crate::data::detmath;
use crate::data::rng::DetRng;

/// Silhouette IoU at or above which two classes count as the same.
pub const MAX_IOU: f32 = 0.8;
/// Side of the canonical silhouettes compared for disjointness.
const CANON: usize = 32;

/// A corpus class: a name and its canonical shape.
#[derive(Clone, Debug)]
pub struct CorpusClass {
    pub name: String,
    pub shape: Shape,
}

/// The full catalogue (at least 200 classes), built once.
pub fn corpus_catalogue() -> &'static [CorpusClass] {
    static CAT: OnceLock<Vec<CorpusClass>> = OnceLock::new();
    CAT.get_or_init(build)
}

fn build() -> Vec<CorpusClass> {
    let families = [
        polygons(),
        stars(),
        rings(),
        blobs(),
        silhouettes(),
        multipart(),
        glyphs(),
    ];
    let mut refs: Vec<Vec<bool>> = (0..GLYPH_DG_CLASSES.len())
        .map(|k| silhouette(&benchmark_shape(k)))
        .collect();
    let mut out = Vec::new();
    let longest = families.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for fam in &families {
            if let Some(c) = fam.get(i) {
                let s = silhouette(&c.shape);
                if refs.iter().all(|r| iou_any_mirror(r, &s) < MAX_IOU) {
                    refs.push(s);
                    out.push(c.clone());
                }
            }
        }
    }
    out
}

/// Filled silhouette at `CANON` px, scaled so the larger side of the
/// bounding box spans 80 % of the image and centred.
pub fn silhouette(shape: &Shape) -> Vec<bool> {
    let (lo, hi) = shape.bounds();
    let ext = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-6);
    let side = (CANON * 4) as f32;
    let k = 0.8 * side / ext;
    let t = Affine {
        a: k,
        b: 0.0,
        c: 0.0,
        d: k,
        tx: side / 2.0 - k * (lo[0] + hi[0]) / 2.0,
        ty: side / 2.0 - k * (lo[1] + hi[1]) / 2.0,
    };
    let mut m = SampleMask::new(CANON, CANON);
    shape.transformed(&t).fill(&mut m);
    m.coverage().into_iter().map(|c| c >= SS2 / 2).collect()
}

/// Intersection over union of two silhouettes.
pub fn iou(a: &[bool], b: &[bool]) -> f32 {
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    if union == 0 {
        0.0
    } else {
        inter as f32 / union as f32
    }
}

/// Largest IoU of `a` with `b` and with `b` mirrored left–right (training
/// flips images, so mirror images are the same class).
pub fn iou_any_mirror(a: &[bool], b: &[bool]) -> f32 {
    let mirrored: Vec<bool> = (0..b.len())
        .map(|i| b[(i / CANON) * CANON + CANON - 1 - i % CANON])
        .collect();
    iou(a, b).max(iou(a, &mirrored))
}

fn class(name: impl Into<String>, parts: Vec<Part>) -> CorpusClass {
    CorpusClass {
        name: name.into(),
        shape: Shape { parts },
    }
}

fn polygon(name: impl Into<String>, pts: Vec<Pt>) -> CorpusClass {
    class(name, vec![Part::Polygon(vec![pts])])
}

fn polygons() -> Vec<CorpusClass> {
    vec![
        polygon("pentagon", regular(5, None, 1.0)),
        polygon("hexagon", regular(6, None, 1.0)),
        polygon("heptagon", regular(7, None, 1.0)),
    ]
}

fn stars() -> Vec<CorpusClass> {
    let mut v = Vec::new();
    for &ratio in &[0.3f32, 0.6] {
        for &n in &[4usize, 6, 7, 8, 3, 10] {
            v.push(polygon(
                format!("star{n}-{:02}", (ratio * 100.0) as u32),
                regular(n, Some(ratio), 1.0),
            ));
        }
    }
    v
}

fn rings() -> Vec<CorpusClass> {
    let mut v = Vec::new();
    for &(name, n) in &[
        ("circle", 40usize),
        ("triangle", 3),
        ("diamond", 4),
        ("pentagon", 5),
        ("hexagon", 6),
    ] {
        for &(tag, inner) in &[("thin", 0.72f32), ("thick", 0.45)] {
            let outer = regular(n, None, 1.0);
            let hole = regular(n, None, inner);
            v.push(class(
                format!("ring-{name}-{tag}"),
                vec![Part::Polygon(vec![outer, hole])],
            ));
        }
    }
    v
}

/// r(θ) = 1 + a cos(kθ), k lobes.
fn blobs() -> Vec<CorpusClass> {
    let mut v = Vec::new();
    for &a in &[0.22f32, 0.45] {
        for k in 2..=7usize {
            let pts = (0..72)
                .map(|i| {
                    let t = std::f64::consts::TAU * i as f64 / 72.0;
                    let (s, c) = detmath::sin_cos(t);
                    let (sk, _) = detmath::sin_cos(k as f64 * t + std::f64::consts::FRAC_PI_2);
                    let r = (1.0 + a * sk as f32) / (1.0 + a);
                    [r * c as f32, r * s as f32]
                })
                .collect();
            v.push(polygon(format!("blob{k}-{:02}", (a * 100.0) as u32), pts));
        }
    }
    v
}

fn silhouettes() -> Vec<CorpusClass> {
    let heart: Vec<Pt> = (0..64)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / 64.0;
            let (s, c) = detmath::sin_cos(t);
            let (_, c2) = detmath::sin_cos(2.0 * t);
            let (_, c3) = detmath::sin_cos(3.0 * t);
            let (_, c4) = detmath::sin_cos(4.0 * t);
            let x = 16.0 * s * s * s;
            let y = 13.0 * c - 5.0 * c2 - 2.0 * c3 - c4;
            [(x / 17.0) as f32, (-y / 17.0) as f32]
        })
        .collect();
    let half: Vec<Pt> = (0..=32)
        .map(|i| {
            let (s, c) = detmath::sin_cos(std::f64::consts::PI * i as f64 / 32.0);
            [c as f32, 0.5 - s as f32]
        })
        .collect();
    let pac: Vec<Pt> = std::iter::once([0.0, 0.0])
        .chain((0..=40).map(|i| {
            let (s, c) = detmath::sin_cos(0.7 + (std::f64::consts::TAU - 1.4) * i as f64 / 40.0);
            [c as f32, s as f32]
        }))
        .collect();
    let drop: Vec<Pt> = std::iter::once([0.0, -1.0])
        .chain((0..=32).map(|i| {
            let (s, c) = detmath::sin_cos(-0.5 + (std::f64::consts::PI + 1.0) * i as f64 / 32.0);
            [0.6 * c as f32, 0.35 + 0.6 * s as f32]
        }))
        .collect();
    vec![
        polygon("heart", heart),
        polygon("semicircle", half),
        polygon("pie", pac),
        polygon("drop", drop),
        polygon(
            "ellipse-thin",
            regular(40, None, 1.0)
                .into_iter()
                .map(|p| [p[0], 0.42 * p[1]])
                .collect(),
        ),
        polygon(
            "trapezoid",
            vec![[-0.5, -0.6], [0.5, -0.6], [1.0, 0.6], [-1.0, 0.6]],
        ),
        polygon(
            "parallelogram",
            vec![[-0.4, -0.6], [1.0, -0.6], [0.4, 0.6], [-1.0, 0.6]],
        ),
        polygon(
            "house",
            vec![
                [0.0, -1.0],
                [0.8, -0.25],
                [0.8, 0.9],
                [-0.8, 0.9],
                [-0.8, -0.25],
            ],
        ),
        polygon(
            "hourglass",
            vec![
                [-0.8, -1.0],
                [0.8, -1.0],
                [0.08, 0.0],
                [0.8, 1.0],
                [-0.8, 1.0],
                [-0.08, 0.0],
            ],
        ),
        polygon(
            "bolt",
            vec![
                [0.2, -1.0],
                [-0.6, 0.15],
                [-0.05, 0.15],
                [-0.3, 1.0],
                [0.6, -0.2],
                [0.05, -0.2],
                [0.35, -1.0],
            ],
        ),
        polygon(
            "chevron",
            vec![
                [-0.9, -0.9],
                [-0.3, -0.9],
                [0.6, 0.0],
                [-0.3, 0.9],
                [-0.9, 0.9],
                [0.0, 0.0],
            ],
        ),
        polygon(
            "t-block",
            vec![
                [-1.0, -0.9],
                [1.0, -0.9],
                [1.0, -0.3],
                [0.3, -0.3],
                [0.3, 0.9],
                [-0.3, 0.9],
                [-0.3, -0.3],
                [-1.0, -0.3],
            ],
        ),
        polygon(
            "l-block",
            vec![
                [-0.7, -1.0],
                [-0.1, -1.0],
                [-0.1, 0.4],
                [0.8, 0.4],
                [0.8, 1.0],
                [-0.7, 1.0],
            ],
        ),
        polygon(
            "u-block",
            vec![
                [-0.9, -0.9],
                [-0.35, -0.9],
                [-0.35, 0.35],
                [0.35, 0.35],
                [0.35, -0.9],
                [0.9, -0.9],
                [0.9, 0.9],
                [-0.9, 0.9],
            ],
        ),
        polygon(
            "right-triangle",
            vec![[-0.9, -0.9], [0.9, 0.9], [-0.9, 0.9]],
        ),
    ]
}

fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Part {
    Part::Polygon(vec![vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]])
}

fn disk(cx: f32, cy: f32, r: f32) -> Part {
    Part::Polygon(vec![regular(24, None, r)
        .into_iter()
        .map(|p| [p[0] + cx, p[1] + cy])
        .collect()])
}

fn multipart() -> Vec<CorpusClass> {
    vec![
        class(
            "bars-2",
            vec![rect(-0.9, -0.9, -0.25, 0.9), rect(0.25, -0.9, 0.9, 0.9)],
        ),
        class(
            "bars-3",
            vec![
                rect(-1.0, -0.9, -0.5, 0.9),
                rect(-0.25, -0.9, 0.25, 0.9),
                rect(0.5, -0.9, 1.0, 0.9),
            ],
        ),
        class(
            "dots-2",
            vec![disk(-0.55, 0.0, 0.42), disk(0.55, 0.0, 0.42)],
        ),
        class(
            "dots-3",
            vec![
                disk(0.0, -0.55, 0.4),
                disk(-0.6, 0.5, 0.4),
                disk(0.6, 0.5, 0.4),
            ],
        ),
        class(
            "dots-4",
            vec![
                disk(-0.5, -0.5, 0.38),
                disk(0.5, -0.5, 0.38),
                disk(-0.5, 0.5, 0.38),
                disk(0.5, 0.5, 0.38),
            ],
        ),
        class(
            "dot-in-ring",
            vec![
                Part::Polygon(vec![regular(40, None, 1.0), regular(40, None, 0.75)]),
                disk(0.0, 0.0, 0.35),
            ],
        ),
        class(
            "square-in-square",
            vec![
                Part::Polygon(vec![regular(4, None, 1.0), regular(4, None, 0.75)]),
                Part::Polygon(vec![regular(4, None, 0.4)]),
            ],
        ),
        class(
            "disk-and-bar",
            vec![disk(0.0, -0.45, 0.5), rect(-0.9, 0.35, 0.9, 0.75)],
        ),
        class(
            "twin-triangles",
            vec![
                Part::Polygon(vec![vec![[-1.0, 0.8], [-0.1, 0.8], [-0.55, -0.6]]]),
                Part::Polygon(vec![vec![[0.1, 0.8], [1.0, 0.8], [0.55, -0.6]]]),
            ],
        ),
    ]
}

/// Stroke glyphs: connected sets of 3–5 strokes between neighbouring points
/// of a 3×3 grid, spanning the grid in at least one direction, each differing
/// from every earlier glyph (and its mirror image) in at least 2 strokes.
fn glyphs() -> Vec<CorpusClass> {
    let edges = grid_edges();
    let mut rng = DetRng::from_key(&[0x676C_7970_6873, 1]);
    let mut accepted: Vec<Vec<usize>> = Vec::new();
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < 260 && tries < 200_000 {
        tries += 1;
        let k = 3 + rng.below(3) as usize;
        let mut set: Vec<usize> = Vec::new();
        while set.len() < k {
            let e = rng.index(edges.len());
            if !set.contains(&e) {
                set.push(e);
            }
        }
        set.sort_unstable();
        let mirror = mirrored(&set, &edges);
        let far = |s: &[usize]| accepted.iter().all(|a| sym_diff(a, s) >= 2);
        if !connected(&set, &edges) || !spans(&set, &edges) || !far(&set) || !far(&mirror) {
            continue;
        }
        let lines = set
            .iter()
            .map(|&e| {
                let (a, b) = edges[e];
                vec![node(a), node(b)]
            })
            .collect();
        out.push(class(
            format!("glyph-{:03}", out.len()),
            vec![Part::Stroke { lines, width: 0.34 }],
        ));
        accepted.push(set);
    }
    out
}

fn node(i: usize) -> Pt {
    [(i % 3) as f32 * 0.8 - 0.8, (i / 3) as f32 * 0.8 - 0.8]
}

/// The 20 strokes between 8-neighbouring grid points, as node pairs `a < b`.
fn grid_edges() -> Vec<(usize, usize)> {
    let mut e = Vec::new();
    for a in 0..9usize {
        for b in a + 1..9 {
            let (ax, ay, bx, by) = (a % 3, a / 3, b % 3, b / 3);
            if ax.abs_diff(bx) <= 1 && ay.abs_diff(by) <= 1 {
                e.push((a, b));
            }
        }
    }
    e
}

fn mirrored(set: &[usize], edges: &[(usize, usize)]) -> Vec<usize> {
    let flip = |n: usize| (n / 3) * 3 + 2 - n % 3;
    let mut m: Vec<usize> = set
        .iter()
        .filter_map(|&e| {
            let (a, b) = edges[e];
            let (fa, fb) = (flip(a).min(flip(b)), flip(a).max(flip(b)));
            edges.iter().position(|&x| x == (fa, fb))
        })
        .collect();
    m.sort_unstable();
    m
}

fn sym_diff(a: &[usize], b: &[usize]) -> usize {
    a.iter().filter(|x| !b.contains(x)).count() + b.iter().filter(|x| !a.contains(x)).count()
}

fn connected(set: &[usize], edges: &[(usize, usize)]) -> bool {
    let mut reached = vec![edges[set[0]].0];
    let mut grew = true;
    while grew {
        grew = false;
        for &e in set {
            let (a, b) = edges[e];
            let (ha, hb) = (reached.contains(&a), reached.contains(&b));
            if ha != hb {
                reached.push(if ha { b } else { a });
                grew = true;
            }
        }
    }
    set.iter().all(|&e| reached.contains(&edges[e].0))
}

fn spans(set: &[usize], edges: &[(usize, usize)]) -> bool {
    let nodes: Vec<usize> = set.iter().flat_map(|&e| [edges[e].0, edges[e].1]).collect();
    let xs = nodes.iter().map(|n| n % 3);
    let ys = nodes.iter().map(|n| n / 3);
    let span = |v: Vec<usize>| v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0);
    span(xs.collect()) == 2 || span(ys.collect()) == 2
}
