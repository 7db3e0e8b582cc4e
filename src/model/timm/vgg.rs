//! VGG-11/13/16/19 as timm builds them: stages of 3×3 convolutions with
//! ReLU, each closed by 2×2 max pooling (no BatchNorm), then timm's
//! convolutional MLP (`pre_logits`: a 7×7 and a 1×1 convolution with ReLU,
//! inputs below 7×7 first pooled up to 7×7 as timm does) and average pooling.

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{adaptive_avg_pool2d, max_pool2d};
use serde::{Deserialize, Serialize};

use super::layers::{apply_conv, conv, global_avg_pool};

/// The side `pre_logits`' first convolution is built for.
const HEAD_KERNEL: usize = 7;
const STAGES: usize = 5;

/// Convolutions and widths of each stage; a stage with no convolution is
/// absent (no pooling either), which reduced test models use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VggConfig {
    pub convs: [usize; STAGES],
    pub widths: [usize; STAGES],
    /// Width of `pre_logits` (timm: 4096).
    pub hidden: usize,
}

impl VggConfig {
    const WIDTHS: [usize; STAGES] = [64, 128, 256, 512, 512];

    fn new(convs: [usize; STAGES]) -> Self {
        Self {
            convs,
            widths: Self::WIDTHS,
            hidden: 4096,
        }
    }

    pub fn vgg11() -> Self {
        Self::new([1, 1, 2, 2, 2])
    }

    pub fn vgg13() -> Self {
        Self::new([2, 2, 2, 2, 2])
    }

    pub fn vgg16() -> Self {
        Self::new([2, 2, 3, 3, 3])
    }

    pub fn vgg19() -> Self {
        Self::new([2, 2, 4, 4, 4])
    }

    pub fn feature_dim(&self) -> usize {
        self.hidden
    }

    /// Output channels of each convolution, in order, and whether it closes a stage.
    fn layers(&self) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        for (&n, &width) in self.convs.iter().zip(&self.widths) {
            out.extend((0..n).map(|i| (width, i + 1 == n)));
        }
        out
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Vgg<B> {
        let mut c_in = 3;
        let features = self
            .layers()
            .into_iter()
            .map(|(width, _)| {
                let layer = conv([c_in, width], 3, 1, 1, 1, true, device);
                c_in = width;
                layer
            })
            .collect();
        Vgg {
            features,
            pre_logits: ConvMlp {
                fc1: conv([c_in, self.hidden], HEAD_KERNEL, 1, 0, 1, true, device),
                fc2: conv([self.hidden, self.hidden], 1, 1, 0, 1, true, device),
            },
            stage_ends: self
                .layers()
                .iter()
                .enumerate()
                .filter(|(_, (_, last))| *last)
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// timm's key for a path inside the network: `features` is one
    /// `Sequential` where each convolution is followed by its ReLU and each
    /// stage by its pooling, so the i-th convolution has a larger index.
    pub fn timm_key(&self, path: &str) -> String {
        let layers = self.layers();
        let mut index = Vec::with_capacity(layers.len());
        let mut at = 0;
        for (_, closes_stage) in &layers {
            index.push(at);
            at += 2 + usize::from(*closes_stage);
        }
        super::layers::rename_segments(path, |field, i| match field {
            "features" => i
                .parse::<usize>()
                .ok()
                .and_then(|i| index.get(i))
                .map(|t| format!("features.{t}")),
            _ => None,
        })
    }
}

#[derive(Module, Debug)]
pub struct ConvMlp<B: Backend> {
    pub fc1: Conv2d<B>,
    pub fc2: Conv2d<B>,
}

#[derive(Module, Debug)]
pub struct Vgg<B: Backend> {
    pub features: Vec<Conv2d<B>>,
    pub pre_logits: ConvMlp<B>,
    /// Indices of the convolutions after which a stage's max pooling comes.
    pub stage_ends: Vec<usize>,
}

impl<B: Backend> Vgg<B> {
    /// Images `[b, 3, h, w]` to pooled features `[b, hidden]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = images;
        for (i, layer) in self.features.iter().enumerate() {
            x = relu(apply_conv(layer, x));
            if self.stage_ends.contains(&i) {
                x = max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        let [_, _, h, w] = x.dims();
        if h < HEAD_KERNEL || w < HEAD_KERNEL {
            x = adaptive_avg_pool2d(x, [h.max(HEAD_KERNEL), w.max(HEAD_KERNEL)]);
        }
        let x = relu(apply_conv(&self.pre_logits.fc1, x));
        let x = relu(apply_conv(&self.pre_logits.fc2, x));
        global_avg_pool(x)
    }
}
