//! The fine-tuning augmentation of DomainBed and the paper (training
//! domains only):
//!
//! ```text
//! RandomResizedCrop(size, scale=(0.7, 1.0))   # ratio (3/4, 4/3)
//! RandomHorizontalFlip()                      # p = 0.5
//! ColorJitter(0.3, 0.3, 0.3, 0.3)             # random order of the four
//! RandomGrayscale()                           # p = 0.1
//! ToTensor(); Normalize(ImageNet mean, std)
//! ```
//!
//! and the evaluation transform (`Resize((size, size))` + normalise).
//! Every random choice comes from the `DetRng` passed in, which the batch
//! builder keys by (seed, step, position, image), so results do not depend
//! on threads. One deviation: the crop is taken from the cached image
//! (already resized to the cache resolution) rather than from the original
//! file; with the cache at the native resolution the two coincide.

use serde::{Deserialize, Serialize};

use super::image_ops::{
    adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, hflip,
    random_resized_crop_box, to_grayscale,
};
use super::preprocess::FloatImage;
use super::rng::DetRng;

/// `ColorJitter(brightness, contrast, saturation, hue)` strengths.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColorJitter {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
}

impl ColorJitter {
    /// Applies the four adjustments in a random order, each with a factor
    /// uniform in `[1 - s, 1 + s]` (hue: shift uniform in `[-h, h]` turns).
    pub fn apply(&self, img: &mut FloatImage, rng: &mut DetRng) {
        let mut order = [0usize, 1, 2, 3];
        rng.shuffle(&mut order);
        let factor = |s: f32, rng: &mut DetRng| rng.range((1.0 - s).max(0.0), 1.0 + s);
        let b = factor(self.brightness, rng);
        let c = factor(self.contrast, rng);
        let s = factor(self.saturation, rng);
        let h = rng.range(-self.hue, self.hue);
        for op in order {
            match op {
                0 if self.brightness > 0.0 => adjust_brightness(img, b),
                1 if self.contrast > 0.0 => adjust_contrast(img, c),
                2 if self.saturation > 0.0 => adjust_saturation(img, s),
                3 if self.hue > 0.0 => adjust_hue(img, h),
                _ => {}
            }
        }
    }
}

/// DomainBed's training transform, parameterised (defaults = DomainBed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuneAug {
    pub scale: (f32, f32),
    pub ratio: (f32, f32),
    pub flip_p: f32,
    pub jitter: ColorJitter,
    pub grayscale_p: f32,
}

impl Default for FineTuneAug {
    fn default() -> Self {
        FineTuneAug {
            scale: (0.7, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            flip_p: 0.5,
            jitter: ColorJitter {
                brightness: 0.3,
                contrast: 0.3,
                saturation: 0.3,
                hue: 0.3,
            },
            grayscale_p: 0.1,
        }
    }
}

impl FineTuneAug {
    /// Augments `src` into an `out × out` image in `[0, 1]`.
    pub fn apply(&self, src: &FloatImage, out: usize, rng: &mut DetRng) -> FloatImage {
        let region = random_resized_crop_box(src.w, src.h, self.scale, self.ratio, rng);
        let mut img = src.resized_region(region, out, out);
        if rng.chance(self.flip_p) {
            hflip(&mut img);
        }
        self.jitter.apply(&mut img, rng);
        if rng.chance(self.grayscale_p) {
            to_grayscale(&mut img);
        }
        img
    }
}

/// Random crop (`scale`, ratio 3/4–4/3) resized to `out`, then a flip with
/// probability 1/2: the part every pre-training recipe starts with.
pub fn crop_flip(src: &FloatImage, out: usize, scale: (f32, f32), rng: &mut DetRng) -> FloatImage {
    let region = random_resized_crop_box(src.w, src.h, scale, (3.0 / 4.0, 4.0 / 3.0), rng);
    let mut img = src.resized_region(region, out, out);
    if rng.chance(0.5) {
        hflip(&mut img);
    }
    img
}
