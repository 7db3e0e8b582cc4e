//! Layers the timm families share, built as timm builds them (PyTorch's
//! defaults: BatchNorm momentum 0.1; each family states its epsilons).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::nn::{BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, sigmoid};

use crate::model::conv::conv2d_forward;

/// A square convolution with symmetric zero padding, as `nn.Conv2d` builds it.
pub fn conv<B: Backend>(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    groups: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    let padding = PaddingConfig2d::Explicit(padding, padding, padding, padding);
    conv_padded(channels, kernel, stride, padding, groups, bias, device)
}

/// A square convolution with any of burn's paddings (TensorFlow's SAME included).
pub fn conv_padded<B: Backend>(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: PaddingConfig2d,
    groups: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(padding)
        .with_groups(groups)
        .with_bias(bias)
        .init(device)
}

/// [`conv`] with timm's default padding for a stride-1 or stride-2 kernel:
/// `(k - 1) / 2` on every side (timm's `get_padding`).
pub fn conv_same_size<B: Backend>(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    conv(
        channels,
        kernel,
        stride,
        (kernel - 1) / 2,
        groups,
        bias,
        device,
    )
}

/// `conv` applied to `x`, through the form every backend differentiates alike.
pub fn apply_conv<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    conv2d_forward(conv, x)
}

/// BatchNorm with PyTorch's momentum and the given epsilon.
pub fn batch_norm<B: Backend>(channels: usize, epsilon: f64, device: &B::Device) -> BatchNorm<B> {
    BatchNormConfig::new(channels)
        .with_epsilon(epsilon)
        .with_momentum(0.1)
        .init(device)
}

pub fn layer_norm<B: Backend>(dim: usize, epsilon: f64, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(dim).with_epsilon(epsilon).init(device)
}

/// A LayerNorm over the channels of `[b, c, h, w]` (timm's `LayerNorm2d`).
pub fn layer_norm_2d<B: Backend>(norm: &LayerNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    norm.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
}

/// Mean over the spatial positions: `[b, c, h, w]` to `[b, c]`.
pub fn global_avg_pool<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
}

/// timm's (and TensorFlow's) `make_divisible`: `v` to the nearest multiple of
/// `divisor` (at least `divisor`), one more step up if that lost over 10%.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let rounded = ((v + divisor as f64 / 2.0) as usize / divisor * divisor).max(divisor);
    match (rounded as f64) < 0.9 * v {
        true => rounded + divisor,
        false => rounded,
    }
}

/// Squeeze-excite on `x` `[b, c, h, w]`: the pooled features through
/// `reduce`, `act` and `expand` give a sigmoid gate per channel (timm's
/// `SEModule` and EfficientNet's `SqueezeExcite` compute the same).
pub fn squeeze_excite<B: Backend>(
    x: Tensor<B, 4>,
    reduce: &Conv2d<B>,
    expand: &Conv2d<B>,
    act: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>,
) -> Tensor<B, 4> {
    let [b, c, _, _] = x.dims();
    let pooled = global_avg_pool(x.clone()).reshape([b, c, 1, 1]);
    x * sigmoid(apply_conv(expand, act(apply_conv(reduce, pooled))))
}

/// timm's `Mlp`: Linear, exact GELU, Linear.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    pub fn new(dim: usize, hidden: usize, device: &B::Device) -> Self {
        Self {
            fc1: LinearConfig::new(dim, hidden).init(device),
            fc2: LinearConfig::new(hidden, dim).init(device),
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.fc2.forward(gelu(self.fc1.forward(x)))
    }
}

/// The state-dict path with each `<field>.<i>` that timm numbers differently
/// rewritten by `rename` (a burn `Vec` counts from 0 in its own field; timm's
/// `Sequential`s and named blocks do not always).
pub fn rename_segments(path: &str, rename: impl Fn(&str, &str) -> Option<String>) -> String {
    let segments: Vec<&str> = path.split('.').collect();
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    let mut i = 0;
    while i < segments.len() {
        match segments
            .get(i + 1)
            .and_then(|next| rename(segments[i], next))
        {
            Some(renamed) => {
                out.push(renamed);
                i += 2;
            }
            None => {
                out.push(segments[i].to_string());
                i += 1;
            }
        }
    }
    out.join(".")
}
