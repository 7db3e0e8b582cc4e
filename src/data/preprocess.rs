//! Float images and the final step of every input pipeline: normalisation
//! to a model's input layout (f32, CHW, `(x - mean) / std`).
//!
//! The paper feeds every model ImageNet mean/std normalised inputs,
//! whatever the model's own config says; [`Normalize::IMAGENET`] is that.

use super::resize::{resample_f32, Region};

/// An RGB image as f32 HWC in `[0, 1]`, the working form of augmentations.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatImage {
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

impl FloatImage {
    /// From 8-bit RGB HWC (`v / 255`, as torchvision's `ToTensor`).
    pub fn from_u8(rgb: &[u8], w: usize, h: usize) -> Self {
        FloatImage {
            w,
            h,
            data: rgb.iter().map(|&v| f32::from(v) / 255.0).collect(),
        }
    }

    /// `region` resampled (PIL-style bilinear) to `w × h`.
    pub fn resized_region(&self, region: Region, w: usize, h: usize) -> FloatImage {
        FloatImage {
            w,
            h,
            data: resample_f32(&self.data, (self.w, self.h, 3), region, w, h),
        }
    }

    /// The whole image resized to `w × h` (no-op copy if equal).
    pub fn resized(&self, w: usize, h: usize) -> FloatImage {
        if w == self.w && h == self.h {
            return self.clone();
        }
        self.resized_region(Region::full(self.w, self.h), w, h)
    }

    /// Pixel `(x, y)` as RGB.
    pub fn px(&self, x: usize, y: usize) -> [f32; 3] {
        let i = (y * self.w + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Clamps every value to `[0, 1]` (after colour operations, as PIL's
    /// 8-bit images clip).
    pub fn clamp01(&mut self) {
        for v in &mut self.data {
            *v = v.clamp(0.0, 1.0);
        }
    }
}

/// Per-channel normalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalize {
    /// ImageNet statistics, as torchvision and the paper use them.
    pub const IMAGENET: Normalize = Normalize {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// Writes `img` as normalised CHW into `out` (`3 * h * w` floats).
    pub fn write_chw(&self, img: &FloatImage, out: &mut [f32]) {
        let plane = img.w * img.h;
        for (p, px) in img.data.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + p] = (px[c] - self.mean[c]) / self.std[c];
            }
        }
    }
}

/// Converts images `indices` of an 8-bit HWC buffer to one normalised CHW
/// f32 buffer `[B, 3, h, w]` without augmentation (resizing if needed).
pub fn to_chw_batch(
    images: &[&[u8]],
    (w, h): (usize, usize),
    out_size: (usize, usize),
    norm: Normalize,
) -> Vec<f32> {
    let (ow, oh) = out_size;
    let mut out = vec![0.0f32; images.len() * 3 * ow * oh];
    for (img, dst) in images.iter().zip(out.chunks_exact_mut(3 * ow * oh)) {
        let f = FloatImage::from_u8(img, w, h).resized(ow, oh);
        norm.write_chw(&f, dst);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_layout_is_chw() {
        let img = FloatImage {
            w: 2,
            h: 1,
            data: vec![0.485, 0.456, 0.406, 1.0, 1.0, 1.0],
        };
        let mut out = vec![0.0; 6];
        Normalize::IMAGENET.write_chw(&img, &mut out);
        assert!(out[0].abs() < 1e-6 && out[2].abs() < 1e-6 && out[4].abs() < 1e-6);
        assert!((out[1] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((out[5] - (1.0 - 0.406) / 0.225).abs() < 1e-5);
    }
}
