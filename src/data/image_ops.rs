//! Image operations used by the augmentations, on [`FloatImage`]s, written
//! after torchvision's functional ops on PIL images (which the paper's
//! pipeline and timm's recipes call). Values stay in `[0, 1]`; where PIL
//! rounds to 8 bits between operations this does not, so results agree with
//! torchvision to within quantisation, not bit for bit.

use super::detmath;
use super::preprocess::FloatImage;
use super::resize::Region;
use super::rng::DetRng;

/// Python's `round` (half to even) on f64.
pub fn round_half_even(x: f64) -> f64 {
    let f = x.floor();
    let d = x - f;
    if d > 0.5 || (d == 0.5 && f % 2.0 != 0.0) {
        f + 1.0
    } else {
        f
    }
}

/// torchvision `RandomResizedCrop.get_params`: up to 10 tries at an area
/// fraction in `scale` and a log-uniform aspect ratio in `ratio`, else a
/// central crop clamped to `ratio`. Returns an integer box.
pub fn random_resized_crop_box(
    w: usize,
    h: usize,
    scale: (f32, f32),
    ratio: (f32, f32),
    rng: &mut DetRng,
) -> Region {
    let area = (w * h) as f64;
    let (lr0, lr1) = (
        detmath::ln(f64::from(ratio.0)),
        detmath::ln(f64::from(ratio.1)),
    );
    for _ in 0..10 {
        let target = area * (f64::from(scale.0) + f64::from(scale.1 - scale.0) * rng.f64());
        let aspect = detmath::exp(lr0 + (lr1 - lr0) * rng.f64());
        let cw = round_half_even((target * aspect).sqrt()) as usize;
        let ch = round_half_even((target / aspect).sqrt()) as usize;
        if cw > 0 && cw <= w && ch > 0 && ch <= h {
            let i = rng.below((h - ch + 1) as u64) as usize;
            let j = rng.below((w - cw + 1) as u64) as usize;
            return Region {
                x0: j as f32,
                y0: i as f32,
                w: cw as f32,
                h: ch as f32,
            };
        }
    }
    let in_ratio = w as f64 / h as f64;
    let (cw, ch) = if in_ratio < f64::from(ratio.0) {
        (w, round_half_even(w as f64 / f64::from(ratio.0)) as usize)
    } else if in_ratio > f64::from(ratio.1) {
        (round_half_even(h as f64 * f64::from(ratio.1)) as usize, h)
    } else {
        (w, h)
    };
    Region {
        x0: ((w - cw) / 2) as f32,
        y0: ((h - ch) / 2) as f32,
        w: cw as f32,
        h: ch as f32,
    }
}

pub fn hflip(img: &mut FloatImage) {
    let w = img.w;
    for row in img.data.chunks_exact_mut(w * 3) {
        for x in 0..w / 2 {
            for c in 0..3 {
                row.swap(x * 3 + c, (w - 1 - x) * 3 + c);
            }
        }
    }
}

/// PIL's `convert("L")` weights.
pub fn gray(p: &[f32]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

/// `out = base + f * (img - base)` per value, clamped; `base` per pixel.
fn blend_towards(img: &mut FloatImage, f: f32, base: impl Fn(&[f32]) -> f32) {
    for p in img.data.chunks_exact_mut(3) {
        let b = base(p);
        for v in p.iter_mut() {
            *v = (b + f * (*v - b)).clamp(0.0, 1.0);
        }
    }
}

/// `ImageEnhance.Brightness`: blend with black.
pub fn adjust_brightness(img: &mut FloatImage, f: f32) {
    blend_towards(img, f, |_| 0.0);
}

/// `ImageEnhance.Contrast`: blend with the (8-bit rounded) mean grey level.
pub fn adjust_contrast(img: &mut FloatImage, f: f32) {
    let n = (img.w * img.h).max(1) as f64;
    let mean: f64 = img
        .data
        .chunks_exact(3)
        .map(|p| f64::from(gray(p)))
        .sum::<f64>()
        / n;
    let m = ((mean * 255.0 + 0.5).floor() / 255.0) as f32;
    blend_towards(img, f, |_| m);
}

/// `ImageEnhance.Color`: blend with the pixel's grey level.
pub fn adjust_saturation(img: &mut FloatImage, f: f32) {
    blend_towards(img, f, gray);
}

/// Rotates hue by `shift` turns (`F.adjust_hue`), via HSV.
pub fn adjust_hue(img: &mut FloatImage, shift: f32) {
    for p in img.data.chunks_exact_mut(3) {
        let (h, s, v) = rgb_to_hsv(p[0], p[1], p[2]);
        let h = h + shift;
        let rgb = super::glyph::paint::hsv(h - h.floor(), s, v);
        p.copy_from_slice(&rgb);
    }
}

fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    if d <= 0.0 {
        return (0.0, 0.0, max);
    }
    let s = d / max;
    let h = if max == r {
        ((g - b) / d) / 6.0
    } else if max == g {
        ((b - r) / d + 2.0) / 6.0
    } else {
        ((r - g) / d + 4.0) / 6.0
    };
    (h - h.floor(), s, max)
}

/// Replaces every pixel by its grey level in all three channels.
pub fn to_grayscale(img: &mut FloatImage) {
    for p in img.data.chunks_exact_mut(3) {
        let g = gray(p);
        p.fill(g);
    }
}

/// Inverts values at or above `threshold`.
pub fn solarize(img: &mut FloatImage, threshold: f32) {
    for v in &mut img.data {
        if *v >= threshold {
            *v = 1.0 - *v;
        }
    }
}

/// Keeps the top `bits` bits of each 8-bit value.
pub fn posterize(img: &mut FloatImage, bits: u32) {
    let mask = !((1u32 << (8 - bits.clamp(1, 8))) - 1) & 0xFF;
    for v in &mut img.data {
        let q = (*v * 255.0 + 0.5) as u32 & mask;
        *v = q as f32 / 255.0;
    }
}

/// Stretches each channel to the full range (`ImageOps.autocontrast`).
pub fn autocontrast(img: &mut FloatImage) {
    for c in 0..3 {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for p in img.data.chunks_exact(3) {
            lo = lo.min(p[c]);
            hi = hi.max(p[c]);
        }
        if hi > lo {
            for p in img.data.chunks_exact_mut(3) {
                p[c] = (p[c] - lo) / (hi - lo);
            }
        }
    }
}

/// Per-channel histogram equalisation on 8-bit levels (`ImageOps.equalize`).
pub fn equalize(img: &mut FloatImage) {
    for c in 0..3 {
        let mut hist = [0usize; 256];
        let q: Vec<usize> = img
            .data
            .chunks_exact(3)
            .map(|p| (p[c] * 255.0 + 0.5) as usize)
            .collect();
        for &v in &q {
            hist[v.min(255)] += 1;
        }
        let last = hist.iter().rposition(|&n| n > 0).map_or(0, |i| hist[i]);
        let step = (q.len() - last) / 255;
        if step == 0 {
            continue;
        }
        let mut lut = [0f32; 256];
        let mut n = step / 2;
        for (i, l) in lut.iter_mut().enumerate() {
            *l = ((n / step).min(255)) as f32 / 255.0;
            n += hist[i];
        }
        for (p, &v) in img.data.chunks_exact_mut(3).zip(&q) {
            p[c] = lut[v.min(255)];
        }
    }
}

/// `ImageEnhance.Sharpness`: blend with PIL's SMOOTH-filtered image
/// (3×3 kernel, centre 5, others 1, /13); border pixels stay unchanged.
pub fn adjust_sharpness(img: &mut FloatImage, f: f32) {
    let (w, h) = (img.w, img.h);
    if w < 3 || h < 3 {
        return;
    }
    let src = img.data.clone();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            for c in 0..3 {
                let mut s = 0.0;
                for dy in 0..3 {
                    for dx in 0..3 {
                        let k = if dx == 1 && dy == 1 { 5.0 } else { 1.0 };
                        s += k * src[((y + dy - 1) * w + x + dx - 1) * 3 + c];
                    }
                }
                let blur = s / 13.0;
                let i = (y * w + x) * 3 + c;
                img.data[i] = (blur + f * (src[i] - blur)).clamp(0.0, 1.0);
            }
        }
    }
}

/// A geometric transform about the image centre: output pixel `p` samples
/// the input at `m · (p - centre) + centre + t` (nearest neighbour, as
/// torchvision's RandAugment uses), black outside.
fn warp(img: &FloatImage, m: [f32; 4], t: [f32; 2]) -> FloatImage {
    let (w, h) = (img.w, img.h);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut out = vec![0.0f32; img.data.len()];
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let sx = m[0] * dx + m[1] * dy + cx + t[0];
            let sy = m[2] * dx + m[3] * dy + cy + t[1];
            if sx >= 0.0 && sy >= 0.0 && sx < w as f32 && sy < h as f32 {
                let s = ((sy as usize) * w + sx as usize) * 3;
                out[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&img.data[s..s + 3]);
            }
        }
    }
    FloatImage { w, h, data: out }
}

/// Counter-clockwise rotation by `degrees` about the centre.
pub fn rotate(img: &FloatImage, degrees: f32) -> FloatImage {
    let (s, c) = detmath::sin_cos(f64::from(degrees).to_radians());
    let (s, c) = (s as f32, c as f32);
    // Inverse map of a counter-clockwise rotation in y-down coordinates.
    warp(img, [c, -s, s, c], [0.0, 0.0])
}

/// Horizontal shear by factor `s`.
pub fn shear_x(img: &FloatImage, s: f32) -> FloatImage {
    warp(img, [1.0, s, 0.0, 1.0], [0.0, 0.0])
}

/// Vertical shear by factor `s`.
pub fn shear_y(img: &FloatImage, s: f32) -> FloatImage {
    warp(img, [1.0, 0.0, s, 1.0], [0.0, 0.0])
}

/// Translation by `(dx, dy)` pixels.
pub fn translate(img: &FloatImage, dx: f32, dy: f32) -> FloatImage {
    warp(img, [1.0, 0.0, 0.0, 1.0], [-dx, -dy])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> FloatImage {
        let (w, h) = (8, 6);
        let data = (0..w * h * 3).map(|i| (i % 97) as f32 / 97.0).collect();
        FloatImage { w, h, data }
    }

    #[test]
    fn python_round() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(2.6), 3.0);
    }

    #[test]
    fn crop_box_is_inside_and_area_in_range() {
        let mut r = DetRng::from_key(&[3]);
        for _ in 0..500 {
            let b = random_resized_crop_box(227, 227, (0.7, 1.0), (0.75, 4.0 / 3.0), &mut r);
            assert!(b.x0 + b.w <= 227.0 && b.y0 + b.h <= 227.0);
            let frac = b.w * b.h / (227.0 * 227.0);
            assert!((0.68..=1.0).contains(&frac), "{b:?}");
        }
    }

    #[test]
    fn flip_twice_and_identity_ops() {
        let mut a = ramp();
        hflip(&mut a);
        assert_ne!(a, ramp());
        hflip(&mut a);
        assert_eq!(a, ramp());
        let mut b = ramp();
        adjust_brightness(&mut b, 1.0);
        adjust_saturation(&mut b, 1.0);
        // `g + 1 * (v - g)` is `v` only up to one rounding.
        assert!(b
            .data
            .iter()
            .zip(&ramp().data)
            .all(|(x, y)| (x - y).abs() < 1e-6));
        let mut c = ramp();
        adjust_saturation(&mut c, 0.0);
        assert!(c.data.chunks_exact(3).all(|p| (p[0] - p[1]).abs() < 1e-6));
        assert_eq!(rotate(&ramp(), 0.0), ramp());
        assert_eq!(translate(&ramp(), 0.0, 0.0), ramp());
    }

    #[test]
    fn hue_full_turn_is_identity_and_gray_is_gray() {
        let mut a = ramp();
        adjust_hue(&mut a, 1.0);
        for (x, y) in a.data.iter().zip(&ramp().data) {
            assert!((x - y).abs() < 1e-5);
        }
        let mut g = ramp();
        to_grayscale(&mut g);
        assert!(g.data.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]));
    }
}
