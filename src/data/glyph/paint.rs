//! Colour and texture helpers for the procedural styles: HSV colours, luma,
//! value noise and an f32 canvas. Basic f32 arithmetic only (see
//! `data/detmath.rs` for why).

use crate::data::rng::DetRng;

/// Linear RGB triple in `[0, 1]` (no gamma handling: these are synthetic
/// colours, not photographs).
pub type Rgb = [f32; 3];

/// HSV to RGB; `h` in turns `[0, 1)`, `s`, `v` in `[0, 1]`.
pub fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h6 = (h - h.floor()) * 6.0;
    let i = h6.floor();
    let f = h6 - i;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match i as i32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// ITU-R 601 luma, the weights PIL's `convert("L")` uses.
pub fn luma(c: Rgb) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

pub fn lerp(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

pub fn scale(c: Rgb, k: f32) -> Rgb {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// Smooth value noise on the unit square: a random lattice of
/// `cells + 1` × `cells + 1` values, interpolated with a smoothstep.
pub struct Noise {
    cells: usize,
    grid: Vec<f32>,
}

impl Noise {
    pub fn new(rng: &mut DetRng, cells: usize) -> Self {
        let cells = cells.max(1);
        let grid = (0..(cells + 1) * (cells + 1)).map(|_| rng.f32()).collect();
        Noise { cells, grid }
    }

    /// Noise in `[0, 1]` at `(u, v)`; coordinates outside the unit square
    /// are clamped.
    pub fn at(&self, u: f32, v: f32) -> f32 {
        let n = self.cells as f32;
        let x = (u * n).clamp(0.0, n - 1e-3);
        let y = (v * n).clamp(0.0, n - 1e-3);
        let (ix, iy) = (x.floor() as usize, y.floor() as usize);
        let (fx, fy) = (smooth(x - ix as f32), smooth(y - iy as f32));
        let w = self.cells + 1;
        let g = |i: usize, j: usize| self.grid[j * w + i];
        let top = g(ix, iy) + (g(ix + 1, iy) - g(ix, iy)) * fx;
        let bot = g(ix, iy + 1) + (g(ix + 1, iy + 1) - g(ix, iy + 1)) * fx;
        top + (bot - top) * fy
    }
}

/// Coverage (`0..=full`) to alpha, box-blurred over `radius` pixels, for
/// soft shadows and glows.
pub fn blurred_alpha(cov: &[u8], full: u8, size: usize, radius: usize) -> Vec<f32> {
    let a: Vec<f32> = cov
        .iter()
        .map(|&c| f32::from(c) / f32::from(full))
        .collect();
    let r = radius as isize;
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; src.len()];
        for y in 0..size {
            for x in 0..size {
                let mut s = 0.0;
                for d in -r..=r {
                    let (xx, yy) = if horizontal {
                        (x as isize + d, y as isize)
                    } else {
                        (x as isize, y as isize + d)
                    };
                    if xx >= 0 && yy >= 0 && (xx as usize) < size && (yy as usize) < size {
                        s += src[yy as usize * size + xx as usize];
                    }
                }
                out[y * size + x] = s / (2 * r + 1) as f32;
            }
        }
        out
    };
    let h = pass(&a, true);
    pass(&h, false)
}

fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// An RGB f32 image being painted, row-major.
pub struct Canvas {
    pub size: usize,
    pub px: Vec<Rgb>,
}

impl Canvas {
    pub fn new(size: usize, fill: Rgb) -> Self {
        Canvas {
            size,
            px: vec![fill; size * size],
        }
    }

    /// Paints every pixel from `f(u, v)`, with `(u, v)` the pixel centre in
    /// `[0, 1]²`.
    pub fn paint(&mut self, mut f: impl FnMut(f32, f32, Rgb) -> Rgb) {
        let n = self.size as f32;
        for (i, p) in self.px.iter_mut().enumerate() {
            let u = ((i % self.size) as f32 + 0.5) / n;
            let v = ((i / self.size) as f32 + 0.5) / n;
            *p = f(u, v, *p);
        }
    }

    /// Blends `colour` over the canvas with per-pixel coverage `cov`
    /// (`0..=full`) times `alpha`.
    pub fn composite(&mut self, cov: &[u8], full: u8, colour: Rgb, alpha: f32) {
        for (p, &c) in self.px.iter_mut().zip(cov) {
            if c > 0 {
                *p = lerp(*p, colour, alpha * f32::from(c) / f32::from(full));
            }
        }
    }

    /// Like [`Canvas::composite`] with a per-pixel colour.
    pub fn composite_with(
        &mut self,
        cov: &[u8],
        full: u8,
        mut colour: impl FnMut(f32, f32) -> Rgb,
    ) {
        let n = self.size as f32;
        for (i, (p, &c)) in self.px.iter_mut().zip(cov).enumerate() {
            if c > 0 {
                let u = ((i % self.size) as f32 + 0.5) / n;
                let v = ((i / self.size) as f32 + 0.5) / n;
                *p = lerp(*p, colour(u, v), f32::from(c) / f32::from(full));
            }
        }
    }

    /// Blends `colour` over the canvas with a per-pixel alpha in `[0, 1]`.
    pub fn composite_alpha(&mut self, alpha: &[f32], colour: Rgb) {
        for (p, &a) in self.px.iter_mut().zip(alpha) {
            if a > 0.0 {
                *p = lerp(*p, colour, a.min(1.0));
            }
        }
    }

    /// Mean luma of the pixels selected by `keep`, or `None` if none is.
    pub fn mean_luma(&self, mut keep: impl FnMut(usize) -> bool) -> Option<f32> {
        let mut sum = 0.0f64;
        let mut n = 0u32;
        for (i, p) in self.px.iter().enumerate() {
            if keep(i) {
                sum += f64::from(luma(*p));
                n += 1;
            }
        }
        (n > 0).then(|| (sum / f64::from(n)) as f32)
    }

    /// Quantises to 8-bit RGB (round half up, clamped).
    pub fn to_u8(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.px.len() * 3);
        for p in &self.px {
            for &v in p {
                out.push((v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_primaries_and_luma() {
        assert_eq!(hsv(0.0, 1.0, 1.0), [1.0, 0.0, 0.0]);
        let g = hsv(1.0 / 3.0, 1.0, 1.0);
        assert!((g[1] - 1.0).abs() < 1e-6 && g[0].abs() < 1e-5);
        assert!((luma([1.0, 1.0, 1.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn noise_is_bounded_and_varies() {
        let mut r = DetRng::from_key(&[1]);
        let n = Noise::new(&mut r, 4);
        let vals: Vec<f32> = (0..100).map(|i| n.at(i as f32 / 100.0, 0.3)).collect();
        assert!(vals.iter().all(|v| (0.0..=1.0).contains(v)));
        let spread = vals.iter().cloned().fold(0.0f32, f32::max)
            - vals.iter().cloned().fold(1.0f32, f32::min);
        assert!(spread > 0.1);
    }
}
