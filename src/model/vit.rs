//! Small Vision Transformer: patch embedding, learned position embeddings,
//! pre-norm transformer blocks with multi-head self-attention, and either a CLS
//! token or mean pooling over the patch tokens.

use burn::module::Param;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use serde::{Deserialize, Serialize};

/// How the token sequence is reduced to one feature vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// A learned CLS token prepended to the patches; its final state is the feature.
    Cls,
    /// The mean of the patch tokens' final states.
    Mean,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VitConfig {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    /// Hidden width of each block's MLP as a multiple of `dim`.
    pub mlp_ratio: usize,
    /// Side of a square patch in pixels; `image_size` must be a multiple of it.
    pub patch: usize,
    /// Side of the square input the position embeddings are learned for.
    pub image_size: usize,
    pub pool: Pool,
}

impl VitConfig {
    pub fn feature_dim(&self) -> usize {
        self.dim
    }

    /// Patches per image side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Vit<B> {
        let patch_embed = Conv2dConfig::new([3, self.dim], [self.patch, self.patch])
            .with_stride([self.patch, self.patch])
            .init(device);
        let use_cls = self.pool == Pool::Cls;
        let tokens = self.grid() * self.grid() + usize::from(use_cls);
        // Zeros here; model::init draws the real values from the model seed.
        let cls_token =
            use_cls.then(|| Param::from_tensor(Tensor::zeros([1, 1, self.dim], device)));
        let pos_embed = Param::from_tensor(Tensor::zeros([1, tokens, self.dim], device));
        let blocks = (0..self.depth).map(|_| Block::new(self, device)).collect();
        let norm = LayerNormConfig::new(self.dim).init(device);
        Vit {
            patch_embed,
            cls_token,
            pos_embed,
            blocks,
            norm,
            grid: self.grid(),
        }
    }
}

/// Pre-norm transformer block: x + MHA(LN(x)), then x + MLP(LN(x)).
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    pub norm1: LayerNorm<B>,
    pub attn: MultiHeadAttention<B>,
    pub norm2: LayerNorm<B>,
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
}

impl<B: Backend> Block<B> {
    fn new(config: &VitConfig, device: &B::Device) -> Self {
        let hidden = config.dim * config.mlp_ratio;
        Self {
            norm1: LayerNormConfig::new(config.dim).init(device),
            // burn's default attention dropout is 0.1; the zoo trains without dropout
            // so that no random numbers are drawn from the backend while training.
            attn: MultiHeadAttentionConfig::new(config.dim, config.heads)
                .with_dropout(0.0)
                .init(device),
            norm2: LayerNormConfig::new(config.dim).init(device),
            fc1: LinearConfig::new(config.dim, hidden).init(device),
            fc2: LinearConfig::new(hidden, config.dim).init(device),
        }
    }

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let attended = self
            .attn
            .forward(MhaInput::self_attn(self.norm1.forward(x.clone())));
        let x = x + attended.context;
        let hidden = gelu(self.fc1.forward(self.norm2.forward(x.clone())));
        x + self.fc2.forward(hidden)
    }
}

#[derive(Module, Debug)]
pub struct Vit<B: Backend> {
    pub patch_embed: Conv2d<B>,
    pub cls_token: Option<Param<Tensor<B, 3>>>,
    pub pos_embed: Param<Tensor<B, 3>>,
    pub blocks: Vec<Block<B>>,
    pub norm: LayerNorm<B>,
    pub grid: usize,
}

impl<B: Backend> Vit<B> {
    /// Images `[b, 3, h, w]` to features `[b, dim]`.
    ///
    /// # Panics
    /// If the patch grid differs from the one the position embeddings were built
    /// for: the model is specific to its `image_size`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self.patch_embed.forward(images);
        let [b, d, gh, gw] = x.dims();
        assert!(
            gh == self.grid && gw == self.grid,
            "ViT built for a {0}×{0} patch grid got {gh}×{gw}: build it for this image size",
            self.grid
        );
        let patches = x.reshape([b, d, gh * gw]).swap_dims(1, 2);
        let tokens = match &self.cls_token {
            Some(cls) => Tensor::cat(vec![cls.val().repeat_dim(0, b), patches], 1),
            None => patches,
        };
        let mut x = tokens + self.pos_embed.val();
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = self.norm.forward(x);
        match self.cls_token {
            Some(_) => x.narrow(1, 0, 1).reshape([b, d]),
            None => x.mean_dim(1).reshape([b, d]),
        }
    }
}
