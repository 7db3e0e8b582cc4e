//! ResNet-style CNN for small images: CIFAR-style stem (one 3×3 conv, no
//! max-pool), three stages of BasicBlocks at widths w, 2w, 4w, global average pool.

use burn::module::RunningState;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::batch_norm::batch_norm_2d;
use super::conv::conv2d_forward;
use super::init::param_id_for;

/// Where the ResNet sits inside a zoo network, for parameter ids.
const PATH: &str = "backbone.ResNet";

/// Width of the first stage and number of BasicBlocks in each of the three stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResNetConfig {
    pub width: usize,
    pub blocks: [usize; 3],
}

impl ResNetConfig {
    /// Channels of the pooled feature vector (the last stage's width).
    pub fn feature_dim(&self) -> usize {
        self.width * 4
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet<B> {
        let stem = ConvBn::new(3, self.width, 1, 3, "stem", device);
        let mut blocks = Vec::new();
        let mut channels = self.width;
        for (stage, &count) in self.blocks.iter().enumerate() {
            let out = self.width << stage;
            for i in 0..count {
                // Downsample at the first block of every stage but the first.
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                let name = format!("blocks.{}", blocks.len());
                blocks.push(BasicBlock::new(channels, out, stride, &name, device));
                channels = out;
            }
        }
        ResNet { stem, blocks }
    }
}

/// Convolution without bias followed by BatchNorm (the bias would be absorbed by BN's shift).
#[derive(Module, Debug)]
pub struct ConvBn<B: Backend> {
    pub conv: Conv2d<B>,
    pub bn: BatchNorm<B>,
}

impl<B: Backend> ConvBn<B> {
    /// `name` is the layer's path inside the ResNet (e.g. `blocks.0.conv1`).
    fn new(
        c_in: usize,
        c_out: usize,
        stride: usize,
        kernel: usize,
        name: &str,
        device: &B::Device,
    ) -> Self {
        let pad = kernel / 2;
        let conv = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .init(device);
        let mut bn = BatchNormConfig::new(c_out).init(device);
        // Running statistics keep the id they are created with (module mappers
        // cannot change it), so give them path-derived ids here: with random ids
        // the same weights would not serialise to the same bytes.
        let id = |stat: &str| param_id_for(&format!("{PATH}.{name}.bn.{stat}"));
        bn.running_mean = RunningState::with_id(id("running_mean"), Tensor::zeros([c_out], device));
        bn.running_var = RunningState::with_id(id("running_var"), Tensor::ones([c_out], device));
        Self { conv, bn }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        batch_norm_2d(&self.bn, conv2d_forward(&self.conv, x))
    }
}

/// Two 3×3 ConvBn layers with an identity (or 1×1 ConvBn projection) shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    pub conv1: ConvBn<B>,
    pub conv2: ConvBn<B>,
    pub shortcut: Option<ConvBn<B>>,
}

impl<B: Backend> BasicBlock<B> {
    fn new(c_in: usize, c_out: usize, stride: usize, name: &str, device: &B::Device) -> Self {
        let layer = |part: &str| format!("{name}.{part}");
        let shortcut = (stride != 1 || c_in != c_out)
            .then(|| ConvBn::new(c_in, c_out, stride, 1, &layer("shortcut"), device));
        Self {
            conv1: ConvBn::new(c_in, c_out, stride, 3, &layer("conv1"), device),
            conv2: ConvBn::new(c_out, c_out, 1, 3, &layer("conv2"), device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let residual = match &self.shortcut {
            Some(projection) => projection.forward(x.clone()),
            None => x.clone(),
        };
        let y = relu(self.conv1.forward(x));
        relu(self.conv2.forward(y) + residual)
    }
}

#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    pub stem: ConvBn<B>,
    pub blocks: Vec<BasicBlock<B>>,
}

impl<B: Backend> ResNet<B> {
    /// Images `[b, 3, h, w]` to pooled features `[b, 4·width]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = relu(self.stem.forward(images));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let [b, c, h, w] = x.dims();
        x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
    }
}
