//! Bilinear resampling as PIL does it (what torchvision's `Resize` and
//! `RandomResizedCrop` call on PIL images): a separable triangle filter whose
//! support widens with the downscale factor, so downscaling averages
//! (antialiases) instead of skipping pixels.
//!
//! PIL computes in 8-bit fixed point; this computes in f32, so results agree
//! with PIL to within rounding (≤ 1 level of 255 on u8 output), not bit for
//! bit. The arithmetic is scalar and platform-exact.

/// A source rectangle in pixel coordinates (may be fractional).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub x0: f32,
    pub y0: f32,
    pub w: f32,
    pub h: f32,
}

impl Region {
    pub fn full(w: usize, h: usize) -> Self {
        Region {
            x0: 0.0,
            y0: 0.0,
            w: w as f32,
            h: h as f32,
        }
    }
}

/// Filter taps for one output coordinate: first source index and weights.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// PIL's `precompute_coeffs` for the bilinear (triangle) filter: output `i`
/// of `out_len` samples `[start, start + len)` of a source of `in_len`.
fn taps(in_len: usize, start: f32, len: f32, out_len: usize) -> Vec<Taps> {
    let scale = len / out_len as f32;
    let fscale = scale.max(1.0);
    let support = fscale; // triangle support 1.0, widened by the scale
    (0..out_len)
        .map(|i| {
            let centre = start + (i as f32 + 0.5) * scale;
            let lo =
                ((centre - support + 0.5).floor().max(0.0) as usize).min(in_len.saturating_sub(1));
            let hi =
                ((centre + support + 0.5).floor().max(0.0) as usize).clamp(lo + 1, in_len.max(1));
            let mut w: Vec<f32> = (lo..hi)
                .map(|j| (1.0 - ((j as f32 + 0.5 - centre) / fscale).abs()).max(0.0))
                .collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                for v in &mut w {
                    *v /= sum;
                }
            } else {
                w = vec![0.0; hi - lo];
                let nearest =
                    ((centre.floor().max(0.0) as usize).min(in_len - 1)).clamp(lo, hi - 1);
                w[nearest - lo] = 1.0;
            }
            Taps {
                first: lo,
                weights: w,
            }
        })
        .collect()
}

/// Resamples `region` of an HWC f32 image with `c` channels to
/// `out_w × out_h`.
pub fn resample_f32(
    src: &[f32],
    (w, h, c): (usize, usize, usize),
    region: Region,
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    let xt = taps(w, region.x0, region.w, out_w);
    let yt = taps(h, region.y0, region.h, out_h);
    // Horizontal pass over the source rows the vertical taps need.
    let rows_lo = yt.iter().map(|t| t.first).min().unwrap_or(0);
    let rows_hi = yt
        .iter()
        .map(|t| t.first + t.weights.len())
        .max()
        .unwrap_or(0);
    let mut tmp = vec![0.0f32; (rows_hi - rows_lo) * out_w * c];
    for y in rows_lo..rows_hi {
        let row = &src[y * w * c..(y + 1) * w * c];
        let dst = &mut tmp[(y - rows_lo) * out_w * c..(y - rows_lo + 1) * out_w * c];
        for (x, t) in xt.iter().enumerate() {
            for ch in 0..c {
                let mut s = 0.0;
                for (k, wt) in t.weights.iter().enumerate() {
                    s += wt * row[(t.first + k) * c + ch];
                }
                dst[x * c + ch] = s;
            }
        }
    }
    let mut out = vec![0.0f32; out_h * out_w * c];
    for (y, t) in yt.iter().enumerate() {
        let dst = &mut out[y * out_w * c..(y + 1) * out_w * c];
        for (k, wt) in t.weights.iter().enumerate() {
            let r = t.first + k - rows_lo;
            let src_row = &tmp[r * out_w * c..(r + 1) * out_w * c];
            for (d, s) in dst.iter_mut().zip(src_row) {
                *d += wt * s;
            }
        }
    }
    out
}

/// Resizes a whole RGB u8 image (HWC) to `out_w × out_h`, rounding to
/// nearest. Returns the input unchanged when the size already matches.
pub fn resize_rgb_u8(src: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    if w == out_w && h == out_h {
        return src.to_vec();
    }
    let f: Vec<f32> = src.iter().map(|&v| f32::from(v)).collect();
    resample_f32(&f, (w, h, 3), Region::full(w, h), out_w, out_h)
        .into_iter()
        .map(|v| (v + 0.5).clamp(0.0, 255.0) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_image_stays_constant() {
        let src = vec![77u8; 10 * 7 * 3];
        assert!(resize_rgb_u8(&src, 10, 7, 4, 3).iter().all(|&v| v == 77));
        assert!(resize_rgb_u8(&src, 10, 7, 23, 19).iter().all(|&v| v == 77));
    }

    #[test]
    fn downscale_by_two_averages_pairs() {
        // One row: 0, 100, 200, 100 -> PIL gives (0*1+100*3... ) with support 2.
        let src: Vec<f32> = [0.0, 100.0, 200.0, 100.0].to_vec();
        let out = resample_f32(&src, (4, 1, 1), Region::full(4, 1), 2, 1);
        // centre 1.0: taps j=0 (w .75), j=1 (w .75) and j=2 (w .25) normalised,
        // j=-1 is clipped: (0*.75 + 100*.75 + 200*.25) / 1.75.
        assert!((out[0] - 125.0 / 1.75).abs() < 1e-3, "{out:?}");
    }

    #[test]
    fn upscale_interpolates_linearly() {
        let src = vec![0.0f32, 90.0];
        let out = resample_f32(&src, (2, 1, 1), Region::full(2, 1), 4, 1);
        assert_eq!(out.len(), 4);
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
        assert!((out[1] - 22.5).abs() < 1e-3, "{out:?}");
    }
}
