//! MLP-Mixer as timm builds it (`MlpMixer`): patch embedding by a strided
//! convolution, blocks that mix tokens (an MLP across patches, hidden width
//! half the embedding) then channels (hidden width four times it), each
//! pre-normed (LayerNorm eps 1e-6), a final LayerNorm, and the mean token as
//! the feature.

use burn::nn::LayerNorm;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::layers::{conv, layer_norm, Mlp};
use super::vit::PatchEmbed;

const LN_EPS: f64 = 1e-6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixerConfig {
    pub patch: usize,
    pub dim: usize,
    pub depth: usize,
    /// The input side the token MLPs are laid out for.
    pub image_size: usize,
}

impl MixerConfig {
    pub fn b16() -> Self {
        Self {
            patch: 16,
            dim: 768,
            depth: 12,
            image_size: 224,
        }
    }

    pub fn l16() -> Self {
        Self {
            patch: 16,
            dim: 1024,
            depth: 24,
            image_size: 224,
        }
    }

    pub fn feature_dim(&self) -> usize {
        self.dim
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Mixer<B> {
        let tokens = (self.image_size / self.patch).pow(2);
        let block = || MixerBlock {
            norm1: layer_norm(self.dim, LN_EPS, device),
            mlp_tokens: Mlp::new(tokens, self.dim / 2, device),
            norm2: layer_norm(self.dim, LN_EPS, device),
            mlp_channels: Mlp::new(self.dim, 4 * self.dim, device),
        };
        Mixer {
            stem: PatchEmbed {
                proj: conv([3, self.dim], self.patch, self.patch, 0, 1, true, device),
            },
            blocks: (0..self.depth).map(|_| block()).collect(),
            norm: layer_norm(self.dim, LN_EPS, device),
        }
    }
}

#[derive(Module, Debug)]
pub struct MixerBlock<B: Backend> {
    pub norm1: LayerNorm<B>,
    pub mlp_tokens: Mlp<B>,
    pub norm2: LayerNorm<B>,
    pub mlp_channels: Mlp<B>,
}

impl<B: Backend> MixerBlock<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mixed = self
            .mlp_tokens
            .forward(self.norm1.forward(x.clone()).swap_dims(1, 2));
        let x = x + mixed.swap_dims(1, 2);
        x.clone() + self.mlp_channels.forward(self.norm2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct Mixer<B: Backend> {
    pub stem: PatchEmbed<B>,
    pub blocks: Vec<MixerBlock<B>>,
    pub norm: LayerNorm<B>,
}

impl<B: Backend> Mixer<B> {
    /// Images `[b, 3, h, w]` (the side it was built for) to features `[b, dim]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = self.stem.forward(images);
        let [b, n, d] = x.dims();
        let expected = self
            .blocks
            .first()
            .map_or(n, |blk| blk.mlp_tokens.fc1.weight.dims()[0]);
        assert_eq!(
            n, expected,
            "Mixer built for {expected} patches got {n}: build it for this image size"
        );
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.norm.forward(x).mean_dim(1).reshape([b, d])
    }
}
