//! ConvNeXt as timm builds it: a 4×4 patchify stem with LayerNorm, four
//! stages (LayerNorm then a 2×2 strided convolution between them), blocks of
//! a 7×7 depthwise convolution, a channels-last LayerNorm and MLP, and a
//! learnt per-channel layer scale (`gamma`); pooled features pass a final
//! LayerNorm before the classifier. Every LayerNorm has epsilon 1e-6.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::LayerNorm;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::layers::{apply_conv, conv, global_avg_pool, layer_norm, layer_norm_2d, Mlp};

const LN_EPS: f64 = 1e-6;
const MLP_RATIO: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvNeXtConfig {
    pub depths: [usize; 4],
    pub dims: [usize; 4],
}

impl ConvNeXtConfig {
    pub fn tiny() -> Self {
        Self {
            depths: [3, 3, 9, 3],
            dims: [96, 192, 384, 768],
        }
    }

    pub fn small() -> Self {
        Self {
            depths: [3, 3, 27, 3],
            dims: [96, 192, 384, 768],
        }
    }

    pub fn base() -> Self {
        Self {
            depths: [3, 3, 27, 3],
            dims: [128, 256, 512, 1024],
        }
    }

    pub fn large() -> Self {
        Self {
            depths: [3, 3, 27, 3],
            dims: [192, 384, 768, 1536],
        }
    }

    pub fn feature_dim(&self) -> usize {
        self.dims[3]
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> ConvNeXt<B> {
        let stages = (0..4)
            .map(|s| {
                let dim = self.dims[s];
                let downsample = (s > 0).then(|| Downsample {
                    norm: layer_norm(self.dims[s - 1], LN_EPS, device),
                    conv: conv([self.dims[s - 1], dim], 2, 2, 0, 1, true, device),
                });
                Stage {
                    downsample,
                    blocks: (0..self.depths[s])
                        .map(|_| Block::new(dim, device))
                        .collect(),
                }
            })
            .collect();
        ConvNeXt {
            stem_conv: conv([3, self.dims[0]], 4, 4, 0, 1, true, device),
            stem_norm: layer_norm(self.dims[0], LN_EPS, device),
            stages,
            head_norm: layer_norm(self.feature_dim(), LN_EPS, device),
        }
    }

    /// timm's key for a path inside the network: the stem and each
    /// downsampling are `Sequential`s, and the final norm sits in the head.
    pub fn timm_key(&self, path: &str) -> String {
        path.replace("stem_conv.", "stem.0.")
            .replace("stem_norm.", "stem.1.")
            .replace("downsample.norm.", "downsample.0.")
            .replace("downsample.conv.", "downsample.1.")
            .replace("head_norm.", "head.norm.")
    }
}

#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    pub norm: LayerNorm<B>,
    pub conv: Conv2d<B>,
}

#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// Layer scale, one factor per channel.
    pub gamma: Param<Tensor<B, 1>>,
    pub conv_dw: Conv2d<B>,
    pub norm: LayerNorm<B>,
    pub mlp: Mlp<B>,
}

impl<B: Backend> Block<B> {
    fn new(dim: usize, device: &B::Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([dim], device)),
            conv_dw: conv([dim, dim], 7, 1, 3, dim, true, device),
            norm: layer_norm(dim, LN_EPS, device),
            mlp: Mlp::new(dim, MLP_RATIO * dim, device),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, c, _, _] = x.dims();
        let y = apply_conv(&self.conv_dw, x.clone()).permute([0, 2, 3, 1]);
        let y = self.mlp.forward(self.norm.forward(y));
        let y = y.mul(self.gamma.val().reshape([1, 1, 1, c]));
        x + y.permute([0, 3, 1, 2])
    }
}

#[derive(Module, Debug)]
pub struct Stage<B: Backend> {
    pub downsample: Option<Downsample<B>>,
    pub blocks: Vec<Block<B>>,
}

#[derive(Module, Debug)]
pub struct ConvNeXt<B: Backend> {
    pub stem_conv: Conv2d<B>,
    pub stem_norm: LayerNorm<B>,
    pub stages: Vec<Stage<B>>,
    pub head_norm: LayerNorm<B>,
}

impl<B: Backend> ConvNeXt<B> {
    /// Images `[b, 3, h, w]` to normalised pooled features `[b, last dim]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = layer_norm_2d(&self.stem_norm, apply_conv(&self.stem_conv, images));
        for stage in &self.stages {
            if let Some(down) = &stage.downsample {
                x = apply_conv(&down.conv, layer_norm_2d(&down.norm, x));
            }
            for block in &stage.blocks {
                x = block.forward(x);
            }
        }
        self.head_norm.forward(global_avg_pool(x))
    }
}
