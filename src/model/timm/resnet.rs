//! ResNet-50/101/152 as timm builds them (torchvision's layout: a 7×7 stem,
//! max pooling, bottleneck blocks striding in their 3×3 convolution, a 1×1
//! convolution and BatchNorm on the shortcut where the shape changes).
//! timm's `a1`…`ram` tags are training recipes on this one architecture.

use burn::nn::conv::Conv2d;
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use serde::{Deserialize, Serialize};

use super::layers::{apply_conv, batch_norm, conv, global_avg_pool};
use crate::model::batch_norm::batch_norm_2d;

const STEM: usize = 64;
const EXPANSION: usize = 4;
const BN_EPS: f64 = 1e-5;

/// Blocks and bottleneck widths of the four stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResNetConfig {
    pub layers: [usize; 4],
    pub channels: [usize; 4],
}

impl ResNetConfig {
    const WIDTHS: [usize; 4] = [64, 128, 256, 512];

    pub fn resnet50() -> Self {
        Self {
            layers: [3, 4, 6, 3],
            channels: Self::WIDTHS,
        }
    }

    pub fn resnet101() -> Self {
        Self {
            layers: [3, 4, 23, 3],
            channels: Self::WIDTHS,
        }
    }

    pub fn resnet152() -> Self {
        Self {
            layers: [3, 8, 36, 3],
            channels: Self::WIDTHS,
        }
    }

    pub fn feature_dim(&self) -> usize {
        self.channels[3] * EXPANSION
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet<B> {
        let mut c_in = STEM;
        let mut stages = Vec::new();
        for (stage, (&blocks, &width)) in self.layers.iter().zip(&self.channels).enumerate() {
            let stride = if stage == 0 { 1 } else { 2 };
            let blocks: Vec<Bottleneck<B>> = (0..blocks)
                .map(|i| {
                    let block =
                        Bottleneck::new(c_in, width, if i == 0 { stride } else { 1 }, device);
                    c_in = width * EXPANSION;
                    block
                })
                .collect();
            stages.push(blocks);
        }
        let [layer1, layer2, layer3, layer4] =
            <[Vec<Bottleneck<B>>; 4]>::try_from(stages).expect("four stages");
        ResNet {
            conv1: conv([3, STEM], 7, 2, 3, 1, false, device),
            bn1: batch_norm(STEM, BN_EPS, device),
            layer1,
            layer2,
            layer3,
            layer4,
        }
    }

    /// timm's key for a path inside the network: the shortcut is a
    /// `Sequential` (`downsample.0` convolution, `downsample.1` BatchNorm).
    pub fn timm_key(&self, path: &str) -> String {
        path.replace("downsample.conv.", "downsample.0.")
            .replace("downsample.bn.", "downsample.1.")
    }
}

#[derive(Module, Debug)]
pub struct Shortcut<B: Backend> {
    pub conv: Conv2d<B>,
    pub bn: BatchNorm<B>,
}

#[derive(Module, Debug)]
pub struct Bottleneck<B: Backend> {
    pub conv1: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub conv2: Conv2d<B>,
    pub bn2: BatchNorm<B>,
    pub conv3: Conv2d<B>,
    pub bn3: BatchNorm<B>,
    pub downsample: Option<Shortcut<B>>,
}

impl<B: Backend> Bottleneck<B> {
    fn new(c_in: usize, width: usize, stride: usize, device: &B::Device) -> Self {
        let c_out = width * EXPANSION;
        let downsample = (stride != 1 || c_in != c_out).then(|| Shortcut {
            conv: conv([c_in, c_out], 1, stride, 0, 1, false, device),
            bn: batch_norm(c_out, BN_EPS, device),
        });
        Self {
            conv1: conv([c_in, width], 1, 1, 0, 1, false, device),
            bn1: batch_norm(width, BN_EPS, device),
            conv2: conv([width, width], 3, stride, 1, 1, false, device),
            bn2: batch_norm(width, BN_EPS, device),
            conv3: conv([width, c_out], 1, 1, 0, 1, false, device),
            bn3: batch_norm(c_out, BN_EPS, device),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = relu(batch_norm_2d(&self.bn1, apply_conv(&self.conv1, x.clone())));
        let y = relu(batch_norm_2d(&self.bn2, apply_conv(&self.conv2, y)));
        let y = batch_norm_2d(&self.bn3, apply_conv(&self.conv3, y));
        let shortcut = match &self.downsample {
            Some(s) => batch_norm_2d(&s.bn, apply_conv(&s.conv, x)),
            None => x,
        };
        relu(y + shortcut)
    }
}

#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    pub conv1: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub layer1: Vec<Bottleneck<B>>,
    pub layer2: Vec<Bottleneck<B>>,
    pub layer3: Vec<Bottleneck<B>>,
    pub layer4: Vec<Bottleneck<B>>,
}

impl<B: Backend> ResNet<B> {
    /// Images `[b, 3, h, w]` to pooled features `[b, 4 × last width]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(batch_norm_2d(&self.bn1, apply_conv(&self.conv1, images)));
        let mut x = max_pool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], false);
        for block in [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .flatten()
        {
            x = block.forward(x);
        }
        global_avg_pool(x)
    }
}
