//! Drawing one image: place a class's shape at random, then paint it in a
//! style. The four benchmark styles mirror PACS's domains; two more (neon,
//! mosaic) exist only to make pre-training corpora more diverse.
//!
//! | style   | mirrors      | look |
//! |---------|--------------|------|
//! | photo   | photo        | textured natural background, shaded figure, soft drop shadow |
//! | art     | art_painting | colour blobs and brush grain, wobbly blotchy figure, stray strokes |
//! | cartoon | cartoon      | flat pastel background, flat saturated figure, thick dark outline |
//! | sketch  | sketch       | off-white paper, thin graphite outline drawn twice, some hatching |
//! | neon    | (corpus)     | dark background, glowing bright outline |
//! | mosaic  | (corpus)     | flat colours cut into tiles with dark grout |
//!
//! Everything random is drawn in the same order at every resolution (noise
//! lattices have fixed sizes; widths are in units of 1/32 of the side), so
//! one key gives the same picture at 32 or 64 pixels, only sharper.
//!
//! Every image must be recognisable: after painting, the mean luma of the
//! figure's ink (its fill, outline or lines) must differ from the mean luma
//! of the background by at least [`MIN_CONTRAST`]. Colours are redrawn (the
//! geometry is kept) up to [`COLOUR_ATTEMPTS`] times; if all fail, the ink is
//! pushed to black or white, whichever is farther from the background.

use serde::{Deserialize, Serialize};

use super::paint::{blurred_alpha, hsv, lerp, luma, scale, Canvas, Noise, Rgb};
use super::raster::{SampleMask, SS, SS2};
use super::shapes::{Affine, Shape};
use crate::data::detmath;
use crate::data::rng::DetRng;

/// Minimum |mean luma(figure ink) − mean luma(background)|, luma in `[0, 1]`.
pub const MIN_CONTRAST: f32 = 0.2;
/// Colour redraws before the black/white fallback.
pub const COLOUR_ATTEMPTS: u64 = 6;

/// A rendering style (a domain of the benchmark or a corpus style).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    Art,
    Cartoon,
    Photo,
    Sketch,
    Neon,
    Mosaic,
}

impl Style {
    /// The benchmark's domains in DomainBed order (alphabetical), mirroring
    /// PACS's art_painting, cartoon, photo, sketch.
    pub const BENCHMARK: [Style; 4] = [Style::Art, Style::Cartoon, Style::Photo, Style::Sketch];
    /// Every style.
    pub const ALL: [Style; 6] = [
        Style::Art,
        Style::Cartoon,
        Style::Photo,
        Style::Sketch,
        Style::Neon,
        Style::Mosaic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Style::Art => "art",
            Style::Cartoon => "cartoon",
            Style::Photo => "photo",
            Style::Sketch => "sketch",
            Style::Neon => "neon",
            Style::Mosaic => "mosaic",
        }
    }

    pub fn from_name(name: &str) -> Option<Style> {
        Style::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Stable key part for random streams (never reorder).
    pub fn key(self) -> u64 {
        match self {
            Style::Photo => 1,
            Style::Art => 2,
            Style::Cartoon => 3,
            Style::Sketch => 4,
            Style::Neon => 5,
            Style::Mosaic => 6,
        }
    }
}

/// A rendered RGB image (row-major, `size × size × 3`) and its measured
/// figure/ground contrast.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub rgb: Vec<u8>,
    pub contrast: f32,
    /// `true` when the colour draws failed and the ink was forced to
    /// black or white.
    pub fallback: bool,
    /// Per-pixel coverage (`0..=16`) of the figure's ink, the pixels the
    /// contrast is measured on (those with coverage ≥ 8).
    pub ink: Vec<u8>,
    /// Pixels counted as background (away from the figure and its halo).
    pub ground: Vec<bool>,
}

impl Rendered {
    fn from_painted(p: Painted, contrast: f32, fallback: bool) -> Self {
        Rendered {
            rgb: p.canvas.to_u8(),
            contrast,
            fallback,
            ground: p.keepout.iter().map(|&k| k == 0).collect(),
            ink: p.ink,
        }
    }
}

/// What a style painted, with the masks that define figure and ground.
struct Painted {
    canvas: Canvas,
    /// Pixels that carry the figure (coverage `0..=SS2`).
    ink: Vec<u8>,
    /// Pixels that are not background (coverage > 0 excludes from ground).
    keepout: Vec<u8>,
}

/// Draws `shape` in `style` at `size × size` pixels. Everything random comes
/// from `rng`, so the image is a pure function of its key.
pub fn render(shape: &Shape, style: Style, size: usize, rng: &mut DetRng) -> Rendered {
    let placed = place(shape, size, rng);
    let mut last = None;
    for attempt in 0..COLOUR_ATTEMPTS {
        let mut r = rng.fork(attempt);
        let painted = paint(style, &placed, size, &mut r);
        let c = contrast(&painted);
        if c >= MIN_CONTRAST {
            return Rendered::from_painted(painted, c, false);
        }
        last = Some(painted);
    }
    let mut painted = last.unwrap_or_else(|| paint(style, &placed, size, &mut rng.fork(99)));
    force_ink(&mut painted);
    let c = contrast(&painted);
    Rendered::from_painted(painted, c, true)
}

/// Random placement: scale (26–40 % of the side as radius, with up to ±12 %
/// anisotropy), rotation within ±25°, and a translation that keeps the whole
/// figure inside a 4 % margin. Returns the shape in sample units.
fn place(shape: &Shape, size: usize, rng: &mut DetRng) -> Shape {
    let side = (size * SS) as f32;
    let s = rng.range(0.26, 0.40) * side;
    let sx = s * rng.range(0.88, 1.12);
    let sy = s * rng.range(0.88, 1.12);
    let angle = f64::from(rng.range(-25.0, 25.0)).to_radians();
    let centred = shape.transformed(&Affine::new(angle, sx, sy, 0.0, 0.0));
    let (lo, hi) = centred.bounds();
    let m = 0.04 * side;
    let mut t = [0.0f32; 2];
    for k in 0..2 {
        let (a, b) = (m - lo[k], side - m - hi[k]);
        t[k] = if b > a { rng.range(a, b) } else { side / 2.0 };
    }
    centred.transformed(&Affine::new(0.0, 1.0, 1.0, t[0], t[1]))
}

fn paint(style: Style, shape: &Shape, size: usize, r: &mut DetRng) -> Painted {
    match style {
        Style::Photo => photo(shape, size, r),
        Style::Art => art(shape, size, r),
        Style::Cartoon => cartoon(shape, size, r),
        Style::Sketch => sketch(shape, size, r),
        Style::Neon => neon(shape, size, r),
        Style::Mosaic => mosaic(shape, size, r),
    }
}

/// |mean luma of ink pixels (coverage ≥ half) − mean luma of ground|.
fn contrast(p: &Painted) -> f32 {
    let half = SS2 / 2;
    let ink = p
        .canvas
        .mean_luma(|i| p.ink[i] >= half)
        .or_else(|| p.canvas.mean_luma(|i| p.ink[i] > 0));
    let ground = p.canvas.mean_luma(|i| p.keepout[i] == 0);
    match (ink, ground) {
        (Some(a), Some(b)) => (a - b).abs(),
        _ => 0.0,
    }
}

fn force_ink(p: &mut Painted) {
    let ground = p.canvas.mean_luma(|i| p.keepout[i] == 0).unwrap_or(1.0);
    let target = if ground > 0.5 { [0.0; 3] } else { [1.0; 3] };
    p.canvas.composite(&p.ink, SS2, target, 1.0);
}

/// Pixels-per-reference-pixel: widths below are tuned at 32 px.
fn unit(size: usize) -> f32 {
    size as f32 / 32.0 * SS as f32
}

fn fill_cov(shape: &Shape, size: usize) -> Vec<u8> {
    let mut m = SampleMask::new(size, size);
    shape.fill(&mut m);
    m.coverage()
}

fn grown_cov(shape: &Shape, size: usize, grow: f32) -> Vec<u8> {
    let mut m = SampleMask::new(size, size);
    shape.fill_grown(&mut m, grow);
    m.coverage()
}

fn lines_cov(shape: &Shape, size: usize, radius: f32) -> Vec<u8> {
    let mut m = SampleMask::new(size, size);
    shape.lines(&mut m, radius);
    m.coverage()
}

/// Bounding-box centre and half-diagonal, in sample units.
fn centre(shape: &Shape) -> ([f32; 2], f32) {
    let (lo, hi) = shape.bounds();
    let c = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let e = ((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1])).sqrt() / 2.0;
    (c, e.max(1.0))
}

/// Draws colours with `draw` until one's luma is at least 0.3 away from
/// `ground` (at most 8 draws; otherwise the farthest one drawn).
fn contrasting(r: &mut DetRng, ground: f32, mut draw: impl FnMut(&mut DetRng) -> Rgb) -> Rgb {
    let mut best = draw(r);
    for _ in 0..7 {
        if (luma(best) - ground).abs() >= 0.3 {
            break;
        }
        let c = draw(r);
        if (luma(c) - ground).abs() > (luma(best) - ground).abs() {
            best = c;
        }
    }
    best
}

fn unit_dir(r: &mut DetRng) -> [f32; 2] {
    let (s, c) = detmath::sin_cos(r.f64() * std::f64::consts::TAU);
    [c as f32, s as f32]
}

fn photo(shape: &Shape, size: usize, r: &mut DetRng) -> Painted {
    let side = (size * SS) as f32;
    let h = r.f32();
    let c1 = hsv(h, r.range(0.1, 0.45), r.range(0.3, 0.9));
    let c2 = hsv(
        h + r.range(-0.15, 0.15),
        r.range(0.1, 0.45),
        r.range(0.3, 0.9),
    );
    let g = unit_dir(r);
    let coarse = Noise::new(r, 3);
    let fine = Noise::new(r, 10);
    let amp = r.range(0.06, 0.16);
    let mut canvas = Canvas::new(size, [0.0; 3]);
    canvas.paint(|u, v, _| {
        let t = ((u - 0.5) * g[0] + (v - 0.5) * g[1] + 0.5).clamp(0.0, 1.0);
        let n = 1.0 + 2.0 * amp * (coarse.at(u, v) - 0.5) + amp * (fine.at(u, v) - 0.5);
        scale(lerp(c1, c2, t), n)
    });
    // Soft drop shadow: the figure offset and blurred, darkening the ground.
    let k = unit(size);
    let off = [r.range(0.4, 1.6) * k, r.range(0.4, 1.6) * k];
    let shadow = shape.map_points(|p| [p[0] + off[0], p[1] + off[1]]);
    let sh = blurred_alpha(&fill_cov(&shadow, size), SS2, size, (size / 32).max(1));
    let strength = r.range(0.25, 0.5);
    canvas.composite_alpha(
        &sh.iter().map(|a| a * strength).collect::<Vec<_>>(),
        [0.0; 3],
    );
    // Shaded figure, in a colour whose lightness differs from the ground's.
    let bg_luma = canvas.mean_luma(|_| true).unwrap_or(0.5);
    let fc = contrasting(r, bg_luma, |r| {
        hsv(r.f32(), r.range(0.25, 0.85), r.range(0.15, 0.95))
    });
    let light = unit_dir(r);
    let (c, ext) = centre(shape);
    let grain = Noise::new(r, 16);
    let ink = fill_cov(shape, size);
    canvas.composite_with(&ink, SS2, |u, v| {
        let d = ((u * side - c[0]) * light[0] + (v * side - c[1]) * light[1]) / ext;
        let f = 1.0 + 0.3 * d + 0.1 * (grain.at(u, v) - 0.5);
        scale(fc, f.max(0.0))
    });
    Painted {
        canvas,
        keepout: grown_cov(shape, size, k),
        ink,
    }
}

fn art(shape: &Shape, size: usize, r: &mut DetRng) -> Painted {
    let k = unit(size);
    let side = (size * SS) as f32;
    // Background: a base wash, overlapping soft colour blobs, brush grain.
    let base = hsv(r.f32(), r.range(0.4, 0.9), r.range(0.4, 0.9));
    let blobs: Vec<([f32; 2], f32, Rgb, f32)> = (0..6 + r.below(5))
        .map(|_| {
            let c = [r.f32(), r.f32()];
            let rad = r.range(0.12, 0.35);
            (
                c,
                rad,
                hsv(r.f32(), r.range(0.5, 1.0), r.range(0.35, 1.0)),
                r.range(0.4, 0.85),
            )
        })
        .collect();
    let dir = unit_dir(r);
    let streak = Noise::new(r, 40);
    let streak2 = Noise::new(r, 40);
    let grain = |u: f32, v: f32, n: &Noise| {
        // Anisotropic: fast variation across the brush direction only.
        let a = (u - 0.5) * dir[0] + (v - 0.5) * dir[1];
        let b = -(u - 0.5) * dir[1] + (v - 0.5) * dir[0];
        n.at(0.5 + 0.12 * a, 0.5 + 0.9 * b)
    };
    let mut canvas = Canvas::new(size, base);
    canvas.paint(|u, v, mut col| {
        for (c, rad, bc, alpha) in &blobs {
            let d = ((u - c[0]) * (u - c[0]) + (v - c[1]) * (v - c[1])).sqrt();
            let w = (1.0 - ((d - 0.55 * rad) / (0.45 * rad)).clamp(0.0, 1.0)) * alpha;
            col = lerp(col, *bc, w);
        }
        let g = 1.0 + 0.5 * (grain(u, v, &streak) - 0.5);
        scale(col, g)
    });
    let bg_luma = canvas.mean_luma(|_| true).unwrap_or(0.5);
    // Figure: wobbly outline, blotchy two-colour fill, opposite in lightness.
    let wob_x = Noise::new(r, 6);
    let wob_y = Noise::new(r, 6);
    let amp = 1.3 * k;
    let wobbly = shape.subdivided(1.5 * k).map_points(|p| {
        let (u, v) = (p[0] / side, p[1] / side);
        [
            p[0] + amp * (2.0 * wob_x.at(u, v) - 1.0),
            p[1] + amp * (2.0 * wob_y.at(u, v) - 1.0),
        ]
    });
    let (lo, hi) = if bg_luma > 0.5 {
        (0.1, 0.5)
    } else {
        (0.6, 1.0)
    };
    let h = r.f32();
    let f1 = contrasting(r, bg_luma, |r| {
        hsv(h + r.range(-0.1, 0.1), r.range(0.4, 1.0), r.range(lo, hi))
    });
    let f2 = contrasting(r, bg_luma, |r| {
        hsv(h + r.range(-0.2, 0.2), r.range(0.4, 1.0), r.range(lo, hi))
    });
    let blotch = Noise::new(r, 5);
    let ink = fill_cov(&wobbly, size);
    canvas.composite_with(&ink, SS2, |u, v| {
        let g = 1.0 + 0.4 * (grain(u, v, &streak2) - 0.5);
        scale(lerp(f1, f2, blotch.at(u, v)), g)
    });
    // A few stray brush strokes over everything.
    for _ in 0..2 + r.below(3) {
        let a = [r.f32() * side, r.f32() * side];
        let len = r.range(0.15, 0.4) * side;
        let d = unit_dir(r);
        let mut m = SampleMask::new(size, size);
        m.stroke_segment(
            a,
            [a[0] + len * d[0], a[1] + len * d[1]],
            r.range(0.4, 0.8) * k,
        );
        let col = hsv(r.f32(), r.range(0.5, 1.0), r.range(0.4, 1.0));
        canvas.composite(&m.coverage(), SS2, col, r.range(0.3, 0.55));
    }
    Painted {
        canvas,
        keepout: grown_cov(&wobbly, size, k),
        ink,
    }
}

fn cartoon(shape: &Shape, size: usize, r: &mut DetRng) -> Painted {
    let k = unit(size);
    let bg = hsv(r.f32(), r.range(0.1, 0.35), r.range(0.85, 1.0));
    let mut canvas = Canvas::new(size, bg);
    if r.chance(0.5) {
        let ground = hsv(r.f32(), r.range(0.15, 0.4), r.range(0.75, 0.95));
        let horizon = r.range(0.6, 0.85);
        canvas.paint(|_, v, c| if v > horizon { ground } else { c });
    }
    let dark = hsv(r.f32(), r.range(0.3, 0.8), r.range(0.03, 0.22));
    let halo = grown_cov(shape, size, r.range(1.0, 1.8) * k);
    canvas.composite(&halo, SS2, dark, 1.0);
    let fill = fill_cov(shape, size);
    canvas.composite(
        &fill,
        SS2,
        hsv(r.f32(), r.range(0.55, 1.0), r.range(0.6, 1.0)),
        1.0,
    );
    Painted {
        canvas,
        keepout: grown_cov(shape, size, 3.0 * k),
        ink: halo,
    }
}

fn sketch(shape: &Shape, size: usize, r: &mut DetRng) -> Painted {
    let k = unit(size);
    let paper = hsv(r.range(0.08, 0.15), r.range(0.0, 0.08), r.range(0.9, 1.0));
    let tooth = Noise::new(r, 16);
    let mut canvas = Canvas::new(size, paper);
    canvas.paint(|u, v, c| scale(c, 1.0 + 0.05 * (tooth.at(u, v) - 0.5)));
    let graphite = hsv(0.6, r.range(0.0, 0.1), r.range(0.05, 0.35));
    // A lighter second pass, slightly displaced and rotated, like a redrawn line.
    let (c, _) = centre(shape);
    let ang = f64::from(r.range(-3.0, 3.0)).to_radians();
    let jig = Affine::new(ang, 1.0, 1.0, 0.0, 0.0);
    let off = [r.range(-0.6, 0.6) * k, r.range(-0.6, 0.6) * k];
    let second = shape.map_points(|p| {
        let q = jig.apply([p[0] - c[0], p[1] - c[1]]);
        [q[0] + c[0] + off[0], q[1] + c[1] + off[1]]
    });
    canvas.composite(
        &lines_cov(&second, size, r.range(0.25, 0.4) * k),
        SS2,
        graphite,
        0.45,
    );
    if r.chance(0.35) {
        let mut hatch = SampleMask::new(size, size);
        let d = unit_dir(r);
        let side = (size * SS) as f32;
        let gap = r.range(2.2, 3.2) * k;
        let mut t = -side;
        while t < side {
            let p0 = [
                side / 2.0 + t * -d[1] - side * d[0],
                side / 2.0 + t * d[0] - side * d[1],
            ];
            let p1 = [p0[0] + 2.0 * side * d[0], p0[1] + 2.0 * side * d[1]];
            hatch.stroke_segment(p0, p1, 0.2 * k);
            t += gap;
        }
        let mut inside = SampleMask::new(size, size);
        shape.fill(&mut inside);
        hatch.intersect(&inside);
        canvas.composite(&hatch.coverage(), SS2, graphite, 0.35);
    }
    let ink = lines_cov(shape, size, r.range(0.35, 0.6) * k);
    canvas.composite(&ink, SS2, graphite, r.range(0.85, 1.0));
    Painted {
        canvas,
        keepout: grown_cov(shape, size, 2.0 * k),
        ink,
    }
}

fn neon(shape: &Shape, size: usize, r: &mut DetRng) -> Painted {
    let k = unit(size);
    let bg = hsv(r.range(0.55, 0.85), r.range(0.5, 0.9), r.range(0.04, 0.15));
    let fine = Noise::new(r, 16);
    let mut canvas = Canvas::new(size, bg);
    canvas.paint(|u, v, c| scale(c, 1.0 + 0.3 * (fine.at(u, v) - 0.5)));
    let glow_col = hsv(r.f32(), r.range(0.7, 1.0), 1.0);
    let glow_r = r.range(1.6, 2.6) * k;
    let glow = blurred_alpha(
        &lines_cov(shape, size, glow_r),
        SS2,
        size,
        (size / 32).max(1),
    );
    canvas.composite_alpha(&glow.iter().map(|a| a * 0.5).collect::<Vec<_>>(), glow_col);
    let ink = lines_cov(shape, size, r.range(0.45, 0.7) * k);
    canvas.composite(&ink, SS2, lerp(glow_col, [1.0; 3], 0.5), 1.0);
    Painted {
        canvas,
        keepout: lines_cov(shape, size, glow_r + k),
        ink,
    }
}

fn mosaic(shape: &Shape, size: usize, r: &mut DetRng) -> Painted {
    let bg = hsv(r.f32(), r.range(0.2, 0.9), r.range(0.3, 1.0));
    let mut canvas = Canvas::new(size, bg);
    let fill = fill_cov(shape, size);
    let fc = contrasting(r, luma(bg), |r| {
        hsv(r.f32(), r.range(0.4, 1.0), r.range(0.2, 1.0))
    });
    canvas.composite(&fill, SS2, fc, 1.0);
    let tile = ((size / 32).max(1) * (2 + r.below(2) as usize)).max(2);
    let jitter = Noise::new(r, 16);
    tiles(&mut canvas, tile, &jitter);
    Painted {
        canvas,
        keepout: grown_cov(shape, size, (tile * SS) as f32),
        ink: fill,
    }
}

/// Replaces each `tile × tile` block by its mean colour (lightly varied
/// per tile) and darkens the block's top and left edge as grout.
fn tiles(canvas: &mut Canvas, tile: usize, jitter: &Noise) {
    let n = canvas.size;
    for ty in (0..n).step_by(tile) {
        for tx in (0..n).step_by(tile) {
            let mut sum = [0.0f32; 3];
            let mut cnt = 0.0;
            for y in ty..(ty + tile).min(n) {
                for x in tx..(tx + tile).min(n) {
                    let p = canvas.px[y * n + x];
                    sum = [sum[0] + p[0], sum[1] + p[1], sum[2] + p[2]];
                    cnt += 1.0;
                }
            }
            let var = 1.0 + 0.15 * (jitter.at(tx as f32 / n as f32, ty as f32 / n as f32) - 0.5);
            let mean = scale([sum[0] / cnt, sum[1] / cnt, sum[2] / cnt], var);
            for y in ty..(ty + tile).min(n) {
                for x in tx..(tx + tile).min(n) {
                    let grout = if y == ty || x == tx { 0.8 } else { 1.0 };
                    canvas.px[y * n + x] = scale(mean, grout);
                }
            }
        }
    }
}

/// Luma helper re-exported for tests of contrast.
pub fn rgb_luma(px: &[u8]) -> f32 {
    luma([
        f32::from(px[0]) / 255.0,
        f32::from(px[1]) / 255.0,
        f32::from(px[2]) / 255.0,
    ])
}
