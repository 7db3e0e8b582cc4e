//! The Vision Transformer as timm builds it (`VisionTransformer`): patch
//! embedding by a strided convolution, a class token, learnt absolute
//! position embeddings, pre-norm blocks (LayerNorm eps 1e-6, exact GELU), a
//! final LayerNorm, and the class token as the feature. The MAE and DINO tags
//! are the same network without a head.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use super::layers::{apply_conv, conv, layer_norm, Mlp};

const LN_EPS: f64 = 1e-6;
const MLP_RATIO: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VitConfig {
    pub patch: usize,
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    /// The input side the position embeddings are laid out for.
    pub image_size: usize,
}

impl VitConfig {
    const fn new(patch: usize, dim: usize, depth: usize, heads: usize) -> Self {
        Self {
            patch,
            dim,
            depth,
            heads,
            image_size: 224,
        }
    }

    pub fn tiny_patch16() -> Self {
        Self::new(16, 192, 12, 3)
    }

    pub fn small_patch16() -> Self {
        Self::new(16, 384, 12, 6)
    }

    pub fn base_patch16() -> Self {
        Self::new(16, 768, 12, 12)
    }

    pub fn large_patch16() -> Self {
        Self::new(16, 1024, 24, 16)
    }

    pub fn huge_patch14() -> Self {
        Self::new(14, 1280, 32, 16)
    }

    pub fn feature_dim(&self) -> usize {
        self.dim
    }

    fn grid(&self) -> usize {
        self.image_size / self.patch
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Vit<B> {
        let tokens = self.grid() * self.grid() + 1;
        Vit {
            cls_token: Param::from_tensor(Tensor::zeros([1, 1, self.dim], device)),
            pos_embed: Param::from_tensor(Tensor::zeros([1, tokens, self.dim], device)),
            patch_embed: PatchEmbed {
                proj: conv([3, self.dim], self.patch, self.patch, 0, 1, true, device),
            },
            blocks: (0..self.depth)
                .map(|_| Block::new(self.dim, device))
                .collect(),
            norm: layer_norm(self.dim, LN_EPS, device),
            heads: self.heads,
        }
    }
}

/// The strided convolution that cuts an image into patch embeddings.
#[derive(Module, Debug)]
pub struct PatchEmbed<B: Backend> {
    pub proj: Conv2d<B>,
}

impl<B: Backend> PatchEmbed<B> {
    /// `[b, 3, h, w]` to tokens `[b, patches, dim]`, row by row.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        let x = apply_conv(&self.proj, images);
        let [b, d, gh, gw] = x.dims();
        x.reshape([b, d, gh * gw]).swap_dims(1, 2)
    }
}

/// Multi-head self-attention with one fused query-key-value projection.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    pub qkv: Linear<B>,
    pub proj: Linear<B>,
}

impl<B: Backend> Attention<B> {
    fn forward(&self, x: Tensor<B, 3>, heads: usize) -> Tensor<B, 3> {
        let [b, n, d] = x.dims();
        let head_dim = d / heads;
        // [b, n, 3, heads, head_dim] to [3, b, heads, n, head_dim].
        let qkv = self
            .qkv
            .forward(x)
            .reshape([b, n, 3, heads, head_dim])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| qkv.clone().narrow(0, i, 1).reshape([b, heads, n, head_dim]);
        let (q, k, v) = (part(0), part(1), part(2));
        let scale = (head_dim as f64).powf(-0.5);
        let weights = softmax(q.mul_scalar(scale).matmul(k.swap_dims(2, 3)), 3);
        let context = weights.matmul(v).swap_dims(1, 2).reshape([b, n, d]);
        self.proj.forward(context)
    }
}

#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    pub norm1: LayerNorm<B>,
    pub attn: Attention<B>,
    pub norm2: LayerNorm<B>,
    pub mlp: Mlp<B>,
}

impl<B: Backend> Block<B> {
    fn new(dim: usize, device: &B::Device) -> Self {
        Self {
            norm1: layer_norm(dim, LN_EPS, device),
            attn: Attention {
                qkv: LinearConfig::new(dim, 3 * dim).init(device),
                proj: LinearConfig::new(dim, dim).init(device),
            },
            norm2: layer_norm(dim, LN_EPS, device),
            mlp: Mlp::new(dim, MLP_RATIO * dim, device),
        }
    }

    fn forward(&self, x: Tensor<B, 3>, heads: usize) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward(self.norm1.forward(x), heads);
        x.clone() + self.mlp.forward(self.norm2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct Vit<B: Backend> {
    pub cls_token: Param<Tensor<B, 3>>,
    pub pos_embed: Param<Tensor<B, 3>>,
    pub patch_embed: PatchEmbed<B>,
    pub blocks: Vec<Block<B>>,
    pub norm: LayerNorm<B>,
    pub heads: usize,
}

impl<B: Backend> Vit<B> {
    /// Images `[b, 3, h, w]` to the class token's features `[b, dim]`.
    /// The images must have the side the position embeddings were built for.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let patches = self.patch_embed.forward(images);
        let [b, n, d] = patches.dims();
        let expected = self.pos_embed.val().dims()[1] - 1;
        assert_eq!(
            n, expected,
            "ViT built for {expected} patches got {n}: build it for this image size"
        );
        let cls = self.cls_token.val().repeat_dim(0, b);
        let mut x = Tensor::cat(vec![cls, patches], 1) + self.pos_embed.val();
        for block in &self.blocks {
            x = block.forward(x, self.heads);
        }
        self.norm.forward(x).narrow(1, 0, 1).reshape([b, d])
    }
}
