//! The five pre-training augmentation recipes of the quick study, standing
//! in for the paper's recipe axis (AutoAugment/RandAugment, AugMix,
//! Mixup/CutMix, …):
//!
//! | recipe      | per sample                          | per batch |
//! |-------------|-------------------------------------|-----------|
//! | baseline    | random resized crop + flip          | –         |
//! | randaugment | + `num_ops` ops at `magnitude`/30    | –         |
//! | augmix      | + AugMix mixture of op chains       | –         |
//! | mixup       | crop + flip                         | pixel blend with a partner, soft labels |
//! | cutmix      | crop + flip                         | pasted box from a partner, soft labels |
//!
//! RandAugment and AugMix follow torchvision's `RandAugment` and `AugMix`
//! (operation sets, magnitude tables, Beta/Dirichlet mixing; AugMix's
//! Jensen–Shannon loss is not part of the augmentation and is not used).
//! Mixup and CutMix follow timm's per-element mode: sample `i` is mixed with
//! sample `B-1-i` of the un-mixed batch with its own `λ ~ Beta(α, α)`; the
//! target is `λ·onehot(label_a) + (1-λ)·onehot(label_b)` ([`MixTarget`]).

use serde::{Deserialize, Serialize};

use super::augment::crop_flip;
use super::image_ops as ops;
use super::preprocess::FloatImage;
use super::rng::DetRng;

/// A recipe's name, as study manifests and records write it: the one list
/// of the recipes there are (an unknown name is refused with this list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipeName {
    Baseline,
    RandAugment,
    AugMix,
    Mixup,
    CutMix,
}

impl RecipeName {
    pub const fn as_str(self) -> &'static str {
        match self {
            RecipeName::Baseline => "baseline",
            RecipeName::RandAugment => "randaugment",
            RecipeName::AugMix => "augmix",
            RecipeName::Mixup => "mixup",
            RecipeName::CutMix => "cutmix",
        }
    }

    /// The recipe of this name with its default parameters.
    pub const fn recipe(self) -> Recipe {
        match self {
            RecipeName::Baseline => Recipe::Baseline,
            RecipeName::RandAugment => Recipe::RandAugment {
                num_ops: 2,
                magnitude: 9,
            },
            RecipeName::AugMix => Recipe::AugMix {
                severity: 3,
                width: 3,
                depth: -1,
                alpha: 1.0,
            },
            RecipeName::Mixup => Recipe::Mixup { alpha: 0.2 },
            RecipeName::CutMix => Recipe::CutMix { alpha: 1.0 },
        }
    }
}

impl std::fmt::Display for RecipeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pre-training recipe.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Recipe {
    Baseline,
    /// torchvision defaults: `num_ops` 2, `magnitude` 9 (of 0..=30).
    RandAugment {
        num_ops: u32,
        magnitude: u32,
    },
    /// torchvision defaults: severity 3, width 3, depth -1 (random 1–3), α 1.
    AugMix {
        severity: u32,
        width: u32,
        depth: i32,
        alpha: f32,
    },
    /// timm's usual α 0.2 (0.8 in DeiT-style recipes).
    Mixup {
        alpha: f32,
    },
    /// timm's usual α 1.0.
    CutMix {
        alpha: f32,
    },
}

impl Recipe {
    /// The five recipes with their default parameters.
    pub const DEFAULTS: [Recipe; 5] = [
        RecipeName::Baseline.recipe(),
        RecipeName::RandAugment.recipe(),
        RecipeName::AugMix.recipe(),
        RecipeName::Mixup.recipe(),
        RecipeName::CutMix.recipe(),
    ];

    pub fn name(&self) -> RecipeName {
        match self {
            Recipe::Baseline => RecipeName::Baseline,
            Recipe::RandAugment { .. } => RecipeName::RandAugment,
            Recipe::AugMix { .. } => RecipeName::AugMix,
            Recipe::Mixup { .. } => RecipeName::Mixup,
            Recipe::CutMix { .. } => RecipeName::CutMix,
        }
    }
}

/// A recipe plus the crop scale range shared by all recipes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainAug {
    pub recipe: Recipe,
    /// Area fraction range of the random crop. ImageNet uses (0.08, 1);
    /// the default (0.35, 1) keeps small glyph images recognisable.
    pub crop_scale: (f32, f32),
}

impl PretrainAug {
    pub fn new(recipe: Recipe) -> Self {
        PretrainAug {
            recipe,
            crop_scale: (0.35, 1.0),
        }
    }

    /// The per-sample part of the recipe.
    pub fn per_sample(&self, src: &FloatImage, out: usize, rng: &mut DetRng) -> FloatImage {
        let img = crop_flip(src, out, self.crop_scale, rng);
        match self.recipe {
            Recipe::RandAugment { num_ops, magnitude } => {
                rand_augment(img, num_ops, magnitude, rng)
            }
            Recipe::AugMix {
                severity,
                width,
                depth,
                alpha,
            } => aug_mix(&img, severity, width, depth, alpha, rng),
            _ => img,
        }
    }
}

/// Soft target of a mixed sample: `λ·onehot(label_a) + (1-λ)·onehot(label_b)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixTarget {
    pub label_a: u32,
    pub label_b: u32,
    pub lambda: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Identity,
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    Rotate,
    Brightness,
    Color,
    Contrast,
    Sharpness,
    Posterize,
    Solarize,
    AutoContrast,
    Equalize,
}

const RAND_AUGMENT_OPS: [Op; 14] = [
    Op::Identity,
    Op::ShearX,
    Op::ShearY,
    Op::TranslateX,
    Op::TranslateY,
    Op::Rotate,
    Op::Brightness,
    Op::Color,
    Op::Contrast,
    Op::Sharpness,
    Op::Posterize,
    Op::Solarize,
    Op::AutoContrast,
    Op::Equalize,
];

const AUGMIX_OPS: [Op; 13] = [
    Op::AutoContrast,
    Op::Equalize,
    Op::Posterize,
    Op::Rotate,
    Op::Solarize,
    Op::ShearX,
    Op::ShearY,
    Op::TranslateX,
    Op::TranslateY,
    Op::Brightness,
    Op::Color,
    Op::Contrast,
    Op::Sharpness,
];

/// `torch.linspace(0, max, bins)[k]`.
fn lin(max: f32, k: u32, bins: u32) -> f32 {
    max * k as f32 / (bins - 1) as f32
}

/// Applies `op` at magnitude bin `k` of `bins` (torchvision's tables; for
/// AugMix translation is `size / 3` at most and posterize keeps 4..=0 bits
/// less, `post_base` 4; RandAugment uses 150/331 and 8).
fn apply_op(
    img: FloatImage,
    op: Op,
    k: u32,
    bins: u32,
    augmix: bool,
    rng: &mut DetRng,
) -> FloatImage {
    let sign = if rng.chance(0.5) { -1.0 } else { 1.0 };
    let (w, h) = (img.w as f32, img.h as f32);
    let tmax = if augmix { 1.0 / 3.0 } else { 150.0 / 331.0 };
    let mut img = img;
    match op {
        Op::Identity => {}
        Op::ShearX => img = ops::shear_x(&img, sign * lin(0.3, k, bins)),
        Op::ShearY => img = ops::shear_y(&img, sign * lin(0.3, k, bins)),
        Op::TranslateX => img = ops::translate(&img, sign * lin(tmax * w, k, bins), 0.0),
        Op::TranslateY => img = ops::translate(&img, 0.0, sign * lin(tmax * h, k, bins)),
        Op::Rotate => img = ops::rotate(&img, sign * lin(30.0, k, bins)),
        Op::Brightness => ops::adjust_brightness(&mut img, 1.0 + sign * lin(0.9, k, bins)),
        Op::Color => ops::adjust_saturation(&mut img, 1.0 + sign * lin(0.9, k, bins)),
        Op::Contrast => ops::adjust_contrast(&mut img, 1.0 + sign * lin(0.9, k, bins)),
        Op::Sharpness => ops::adjust_sharpness(&mut img, 1.0 + sign * lin(0.9, k, bins)),
        Op::Posterize => {
            let base = if augmix { 4.0 } else { 8.0 };
            let drop = ops::round_half_even(f64::from(k) / (f64::from(bins - 1) / 4.0)) as f32;
            ops::posterize(&mut img, (base - drop).max(1.0) as u32);
        }
        Op::Solarize => ops::solarize(&mut img, 1.0 - lin(1.0, k, bins)),
        Op::AutoContrast => ops::autocontrast(&mut img),
        Op::Equalize => ops::equalize(&mut img),
    }
    img
}

/// torchvision `RandAugment(num_ops, magnitude, num_magnitude_bins=31)`.
fn rand_augment(mut img: FloatImage, num_ops: u32, magnitude: u32, rng: &mut DetRng) -> FloatImage {
    for _ in 0..num_ops {
        let op = RAND_AUGMENT_OPS[rng.index(RAND_AUGMENT_OPS.len())];
        img = apply_op(img, op, magnitude.min(30), 31, false, rng);
    }
    img
}

/// torchvision `AugMix`: `m·x + (1-m)·Σ w_i chain_i(x)` with
/// `m ~ Beta(α, α)`, `w ~ Dirichlet(α)`, chains of 1–3 random ops at
/// magnitude bins 1..=severity of 10.
fn aug_mix(
    img: &FloatImage,
    severity: u32,
    width: u32,
    depth: i32,
    alpha: f32,
    rng: &mut DetRng,
) -> FloatImage {
    let a = f64::from(alpha.max(1e-3));
    let m = rng.beta(a, a) as f32;
    let ws = rng.dirichlet(a, width.max(1) as usize);
    let mut mix: Vec<f32> = img.data.iter().map(|v| m * v).collect();
    for w in ws {
        let d = if depth > 0 {
            depth as u32
        } else {
            1 + rng.below(3) as u32
        };
        let mut aug = img.clone();
        for _ in 0..d {
            let op = AUGMIX_OPS[rng.index(AUGMIX_OPS.len())];
            let k = 1 + rng.below(u64::from(severity.clamp(1, 10))) as u32;
            aug = apply_op(aug, op, k, 10, true, rng);
        }
        let cw = (1.0 - m) * w as f32;
        for (o, v) in mix.iter_mut().zip(&aug.data) {
            *o += cw * v;
        }
    }
    FloatImage {
        w: img.w,
        h: img.h,
        data: mix.into_iter().map(|v| v.clamp(0.0, 1.0)).collect(),
    }
}

/// The batch-level part of Mixup/CutMix: mixes `images` in place and
/// returns per-sample targets; `None` for recipes without batch mixing.
pub fn mix_batch(
    recipe: &Recipe,
    images: &mut [FloatImage],
    labels: &[u32],
    rng: &mut DetRng,
) -> Option<Vec<MixTarget>> {
    let alpha = match recipe {
        Recipe::Mixup { alpha } | Recipe::CutMix { alpha } => f64::from(alpha.max(1e-3)),
        _ => return None,
    };
    let orig: Vec<FloatImage> = images.to_vec();
    let n = images.len();
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let j = n - 1 - i;
        let lam = rng.beta(alpha, alpha) as f32;
        let lambda = match recipe {
            Recipe::Mixup { .. } => {
                for (a, b) in images[i].data.iter_mut().zip(&orig[j].data) {
                    *a = lam * *a + (1.0 - lam) * b;
                }
                lam
            }
            _ => paste_box(&mut images[i], &orig[j], lam, rng),
        };
        targets.push(MixTarget {
            label_a: labels[i],
            label_b: labels[j],
            lambda,
        });
    }
    Some(targets)
}

/// CutMix box (timm `rand_bbox`): side `sqrt(1-λ)` of the image's, centre
/// uniform, clipped; returns the λ corrected for the clipped area.
fn paste_box(dst: &mut FloatImage, src: &FloatImage, lam: f32, rng: &mut DetRng) -> f32 {
    let (w, h) = (dst.w, dst.h);
    let cut = (1.0 - lam).max(0.0).sqrt();
    let (cw, ch) = ((w as f32 * cut) as usize, (h as f32 * cut) as usize);
    let (cx, cy) = (rng.index(w), rng.index(h));
    let x0 = cx.saturating_sub(cw / 2);
    let x1 = (cx + cw / 2).min(w);
    let y0 = cy.saturating_sub(ch / 2);
    let y1 = (cy + ch / 2).min(h);
    for y in y0..y1 {
        let (a, b) = ((y * w + x0) * 3, (y * w + x1) * 3);
        dst.data[a..b].copy_from_slice(&src.data[a..b]);
    }
    1.0 - ((x1 - x0) * (y1 - y0)) as f32 / (w * h) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(v: f32) -> FloatImage {
        FloatImage {
            w: 8,
            h: 8,
            data: vec![v; 8 * 8 * 3],
        }
    }

    #[test]
    fn mixup_blends_with_the_reversed_partner() {
        let mut imgs = vec![img(0.0), img(1.0)];
        let mut r = DetRng::from_key(&[1]);
        let t = mix_batch(&Recipe::Mixup { alpha: 0.2 }, &mut imgs, &[3, 5], &mut r).unwrap();
        assert_eq!((t[0].label_a, t[0].label_b), (3, 5));
        let expect = 1.0 - t[0].lambda;
        assert!((imgs[0].data[0] - expect).abs() < 1e-6);
    }

    #[test]
    fn cutmix_lambda_equals_kept_area() {
        let mut imgs = vec![img(0.0), img(1.0)];
        let mut r = DetRng::from_key(&[2]);
        let t = mix_batch(&Recipe::CutMix { alpha: 1.0 }, &mut imgs, &[0, 1], &mut r).unwrap();
        let pasted =
            imgs[0].data.iter().filter(|&&v| v == 1.0).count() as f32 / imgs[0].data.len() as f32;
        assert!((t[0].lambda - (1.0 - pasted)).abs() < 1e-6);
        assert!(mix_batch(&Recipe::Baseline, &mut imgs, &[0, 1], &mut r).is_none());
    }
}
