//! A tiny deterministic rasteriser: polygon fills (even–odd scanline) and
//! round-capped strokes, on a supersampled bit grid, reduced to per-pixel
//! coverage.
//!
//! Why not tiny-skia (or a font rasteriser such as ab_glyph): tiny-skia
//! compiles different pipeline code per target (SSE2/AVX on x86-64, NEON on
//! ARM, scalar elsewhere; its `simd` feature switches between them) and its
//! transforms use libm trigonometry, and we could not establish that those
//! paths give bit-identical pixels. The glyph benchmark is pinned by
//! SHA-256, so it is drawn here with plain scalar f32 arithmetic (IEEE-754
//! basic operations only, identical on every platform), integer coverage
//! counts and no SIMD; glyphs are vector strokes defined in `shapes.rs` and
//! `corpus_shapes.rs`, so no font file is needed. It also adds no
//! dependency and is fast at 32×32.
//!
//! Coordinates are in *sample* units: pixel `(px, py)` covers samples
//! `[px*SS, px*SS+SS) × [py*SS, py*SS+SS)` and sample `(sx, sy)` has its
//! centre at `(sx + 0.5, sy + 0.5)`.

/// Samples per pixel along each axis.
pub const SS: usize = 4;
/// Samples per pixel.
pub const SS2: u8 = (SS * SS) as u8;

/// A 2-D point in sample units.
pub type Pt = [f32; 2];

/// Supersampled binary mask of a `w × h`-pixel image.
#[derive(Clone, Debug)]
pub struct SampleMask {
    pub w: usize,
    pub h: usize,
    bits: Vec<u8>,
}

impl SampleMask {
    /// An empty mask for a `w × h`-pixel image.
    pub fn new(w: usize, h: usize) -> Self {
        SampleMask {
            w,
            h,
            bits: vec![0; w * SS * h * SS],
        }
    }

    fn sw(&self) -> usize {
        self.w * SS
    }

    fn sh(&self) -> usize {
        self.h * SS
    }

    /// Sets every sample inside the union-free even–odd region of `rings`
    /// (so a ring inside another makes a hole).
    pub fn fill_polygons(&mut self, rings: &[Vec<Pt>]) {
        let (sw, sh) = (self.sw(), self.sh());
        let mut xs: Vec<f32> = Vec::with_capacity(64);
        let (ymin, ymax) = y_extent(rings);
        let row_lo = (ymin - 0.5).ceil().max(0.0) as usize;
        let row_hi = ((ymax - 0.5).floor() + 1.0).clamp(0.0, sh as f32) as usize;
        for row in row_lo..row_hi {
            let yc = row as f32 + 0.5;
            xs.clear();
            for ring in rings {
                crossings(ring, yc, &mut xs);
            }
            xs.sort_by(f32::total_cmp);
            let line = &mut self.bits[row * sw..(row + 1) * sw];
            for pair in xs.chunks_exact(2) {
                let c0 = (pair[0] - 0.5).ceil().clamp(0.0, sw as f32) as usize;
                let c1 = (pair[1] - 0.5).ceil().clamp(0.0, sw as f32) as usize;
                if c1 > c0 {
                    line[c0..c1].fill(1);
                }
            }
        }
    }

    /// Sets every sample within `radius` of the segment `a–b` (a capsule).
    ///
    /// The capsule is convex, so each sample row meets it in one interval:
    /// the union of the rows' intersections with the two end discs and with
    /// the rectangle around the segment. This is O(rows) per segment.
    pub fn stroke_segment(&mut self, a: Pt, b: Pt, radius: f32) {
        let sh = self.sh() as f32;
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = (dx * dx + dy * dy).sqrt();
        let body = if len > 0.0 {
            let n = [-dy / len * radius, dx / len * radius];
            Some([
                [a[0] + n[0], a[1] + n[1]],
                [b[0] + n[0], b[1] + n[1]],
                [b[0] - n[0], b[1] - n[1]],
                [a[0] - n[0], a[1] - n[1]],
            ])
        } else {
            None
        };
        let y0 = (a[1].min(b[1]) - radius - 0.5).ceil().clamp(0.0, sh) as usize;
        let y1 = ((a[1].max(b[1]) + radius - 0.5).floor() + 1.0).clamp(0.0, sh) as usize;
        let r2 = radius * radius;
        for row in y0..y1 {
            let yc = row as f32 + 0.5;
            let mut lo = f32::INFINITY;
            let mut hi = f32::NEG_INFINITY;
            for c in [a, b] {
                let h = r2 - (yc - c[1]) * (yc - c[1]);
                if h >= 0.0 {
                    let s = h.sqrt();
                    lo = lo.min(c[0] - s);
                    hi = hi.max(c[0] + s);
                }
            }
            if let Some(q) = &body {
                for i in 0..4 {
                    let (p, r) = (q[i], q[(i + 1) % 4]);
                    if (p[1] <= yc && yc <= r[1]) || (r[1] <= yc && yc <= p[1]) {
                        let x = if r[1] == p[1] {
                            lo = lo.min(p[0].min(r[0]));
                            p[0].max(r[0])
                        } else {
                            p[0] + (yc - p[1]) * (r[0] - p[0]) / (r[1] - p[1])
                        };
                        lo = lo.min(x);
                        hi = hi.max(x);
                    }
                }
            }
            self.fill_span(row, lo, hi);
        }
    }

    /// Sets the samples of `row` whose centres lie in `[lo, hi]`.
    fn fill_span(&mut self, row: usize, lo: f32, hi: f32) {
        if lo > hi {
            return;
        }
        let sw = self.sw();
        let c0 = (lo - 0.5).ceil().clamp(0.0, sw as f32) as usize;
        let c1 = ((hi - 0.5).floor() + 1.0).clamp(0.0, sw as f32) as usize;
        if c1 > c0 {
            self.bits[row * sw + c0..row * sw + c1].fill(1);
        }
    }

    /// Strokes a polyline with round joins and caps; `closed` adds the
    /// segment from the last point back to the first.
    pub fn stroke_polyline(&mut self, pts: &[Pt], radius: f32, closed: bool) {
        for w in pts.windows(2) {
            self.stroke_segment(w[0], w[1], radius);
        }
        if closed && pts.len() > 2 {
            self.stroke_segment(pts[pts.len() - 1], pts[0], radius);
        }
        if pts.len() == 1 {
            self.stroke_segment(pts[0], pts[0], radius);
        }
    }

    /// Sets samples that are set in `other` (union).
    pub fn union(&mut self, other: &SampleMask) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= *b;
        }
    }

    /// Keeps only samples that are also set in `other` (intersection).
    pub fn intersect(&mut self, other: &SampleMask) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a &= *b;
        }
    }

    /// Per-pixel coverage in `0..=SS2` (row-major, `w * h` values).
    pub fn coverage(&self) -> Vec<u8> {
        let sw = self.sw();
        let mut out = vec![0u8; self.w * self.h];
        for sy in 0..self.sh() {
            let row = &self.bits[sy * sw..(sy + 1) * sw];
            let dst = &mut out[(sy / SS) * self.w..(sy / SS + 1) * self.w];
            for (px, chunk) in row.chunks_exact(SS).enumerate() {
                dst[px] += chunk.iter().sum::<u8>();
            }
        }
        out
    }
}

fn y_extent(rings: &[Vec<Pt>]) -> (f32, f32) {
    let mut lo = f32::INFINITY;
    let mut hi = f32::NEG_INFINITY;
    for p in rings.iter().flatten() {
        lo = lo.min(p[1]);
        hi = hi.max(p[1]);
    }
    (lo, hi)
}

/// Pushes the x of every edge of the closed `ring` that crosses height `y`
/// (half-open in y, so shared vertices are counted once).
fn crossings(ring: &[Pt], y: f32, xs: &mut Vec<f32>) {
    let n = ring.len();
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + 1) % n];
        if (a[1] <= y && y < b[1]) || (b[1] <= y && y < a[1]) {
            xs.push(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_fill_has_exact_coverage() {
        let mut m = SampleMask::new(4, 4);
        // Pixels 1..3 fully, in sample units 4..12.
        m.fill_polygons(&[vec![[4.0, 4.0], [12.0, 4.0], [12.0, 12.0], [4.0, 12.0]]]);
        let c = m.coverage();
        let full: usize = c.iter().filter(|&&v| v == SS2).count();
        assert_eq!(full, 4);
        assert_eq!(c.iter().filter(|&&v| v == 0).count(), 12);
    }

    #[test]
    fn hole_is_empty_with_even_odd() {
        let mut m = SampleMask::new(8, 8);
        let outer = vec![[0.0, 0.0], [32.0, 0.0], [32.0, 32.0], [0.0, 32.0]];
        let inner = vec![[8.0, 8.0], [24.0, 8.0], [24.0, 24.0], [8.0, 24.0]];
        m.fill_polygons(&[outer, inner]);
        let c = m.coverage();
        assert_eq!(c[3 * 8 + 3], 0);
        assert_eq!(c[0], SS2);
    }

    #[test]
    fn stroke_covers_line_neighbourhood_only() {
        let mut m = SampleMask::new(8, 8);
        m.stroke_segment([2.0, 16.0], [30.0, 16.0], 2.0);
        let c = m.coverage();
        assert!(c[4 * 8 + 3] > 0 || c[3 * 8 + 3] > 0);
        assert_eq!(c[0], 0);
        assert_eq!(c[7 * 8 + 7], 0);
    }
}
