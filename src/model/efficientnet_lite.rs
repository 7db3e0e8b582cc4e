//! EfficientNet-Lite0/1/2 (Tan & Le's EfficientNet without squeeze-excite,
//! with ReLU6 and fixed stem/head), matching `efficientnet-lite-pytorch` 0.1.0
//! so that its ImageNet-1k weights load unchanged (see the research notes
//! and fixtures in `tests/fixtures/effnet/`).
//!
//! Every convolution uses TensorFlow "SAME" padding (`PaddingConfig2d::Same`),
//! asymmetric for stride 2, computed from the actual input size; at each
//! model's native resolution this is exactly the reference's static padding.

use std::path::Path;

use burn::module::RunningState;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::batch_norm::batch_norm_2d;
use super::init::param_id_for;
use super::noise::Noise;
use super::timm::layers::{conv_padded, make_divisible};
use super::{Backbone, Network};
use crate::weights::{
    is_step_counter, load_state_dict, read_state_dict, KeyConvention, LoadError, StateDict,
    WeightsError,
};

/// Where the feature extractor sits inside a [`Network`] (the `Backbone`
/// variant's name is part of the path), for parameter ids and state-dict keys.
const PATH: &str = "backbone.EfficientNetLite";
/// The data the published weights learnt, as run records name a pre-training.
pub const PRETRAINING: &str = "imagenet-1k";
/// Images in ImageNet-1k's training set.
pub const IMAGENET_1K_IMAGES: usize = 1_281_167;

/// Channels of the stem and of the head (not scaled: `fix_head_stem`).
const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;
/// BatchNorm as TensorFlow trained it: epsilon 1e-3, momentum 0.99 in TF's
/// convention, i.e. 0.01 in PyTorch's and burn's.
const BN_EPSILON: f64 = 1e-3;
const BN_MOMENTUM: f64 = 0.01;
/// `round_filters` rounds channel counts to multiples of this.
const DEPTH_DIVISOR: usize = 8;
/// Largest drop-connect rate (reached by the last block).
const DROP_CONNECT_RATE: f64 = 0.2;

/// One stage of the base network (EfficientNet-B0 without squeeze-excite):
/// the reference's block strings `r?_k?_s??_e?_i?_o?`.
#[derive(Clone, Copy, Debug)]
struct StageArgs {
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    input: usize,
    output: usize,
}

const BASE_STAGES: [StageArgs; 7] = [
    stage(1, 3, 1, 1, 32, 16),
    stage(2, 3, 2, 6, 16, 24),
    stage(2, 5, 2, 6, 24, 40),
    stage(3, 3, 2, 6, 40, 80),
    stage(3, 5, 1, 6, 80, 112),
    stage(4, 5, 2, 6, 112, 192),
    stage(1, 3, 1, 6, 192, 320),
];

const fn stage(
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    input: usize,
    output: usize,
) -> StageArgs {
    StageArgs {
        repeats,
        kernel,
        stride,
        expand,
        input,
        output,
    }
}

/// The three published sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiteVariant {
    Lite0,
    Lite1,
    Lite2,
}

impl LiteVariant {
    pub const ALL: [LiteVariant; 3] = [LiteVariant::Lite0, LiteVariant::Lite1, LiteVariant::Lite2];

    /// The name of the model and of its weights input (`data-manifest.toml`).
    pub fn name(self) -> &'static str {
        match self {
            LiteVariant::Lite0 => "efficientnet-lite0",
            LiteVariant::Lite1 => "efficientnet-lite1",
            LiteVariant::Lite2 => "efficientnet-lite2",
        }
    }

    pub fn from_name(name: &str) -> Option<LiteVariant> {
        LiteVariant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The reference's `efficientnet_lite_params`: (width, depth, resolution, dropout).
    pub fn config(self) -> EfficientNetLiteConfig {
        let (width, depth, image_size, dropout) = match self {
            LiteVariant::Lite0 => (1.0, 1.0, 224, 0.2),
            LiteVariant::Lite1 => (1.0, 1.1, 240, 0.2),
            LiteVariant::Lite2 => (1.1, 1.2, 260, 0.3),
        };
        EfficientNetLiteConfig {
            width,
            depth,
            image_size,
            dropout,
            drop_connect: DROP_CONNECT_RATE,
            num_classes: 1000,
        }
    }
}

/// Scaling of the base network and the classifier.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EfficientNetLiteConfig {
    /// Channel multiplier.
    pub width: f64,
    /// Repeat multiplier.
    pub depth: f64,
    /// Native input side in pixels (the weights were trained at it).
    pub image_size: usize,
    /// Dropout before the classifier (training only).
    pub dropout: f64,
    /// Drop-connect rate of the last block; block i gets `rate * i / blocks` (training only).
    pub drop_connect: f64,
    pub num_classes: usize,
}

/// One MBConv block as derived from the config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockSpec {
    /// The stage (timm's `blocks.{stage}`) and the block's place in it.
    pub stage: usize,
    pub repeat: usize,
    pub input: usize,
    pub output: usize,
    pub expand: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Identity shortcut: stride 1 and input == output.
    pub skip: bool,
    pub drop_connect: f64,
}

impl BlockSpec {
    /// Channels of the depthwise convolution.
    pub fn hidden(&self) -> usize {
        self.input * self.expand
    }
}

impl EfficientNetLiteConfig {
    /// The reference's `round_filters`: scale by `width`, round to a multiple
    /// of 8 (at least 8), and never round down by more than 10%.
    pub fn round_filters(&self, filters: usize) -> usize {
        make_divisible(filters as f64 * self.width, DEPTH_DIVISOR)
    }

    /// The reference's `round_repeats`: `ceil(depth * repeats)`.
    pub fn round_repeats(&self, repeats: usize) -> usize {
        (self.depth * repeats as f64).ceil() as usize
    }

    /// Every block in order, as the reference builds them (`fix_head_stem`:
    /// the first and last stages keep their repeats, the first block's input
    /// is the unscaled stem).
    pub fn blocks(&self) -> Vec<BlockSpec> {
        let last = BASE_STAGES.len() - 1;
        let mut specs = Vec::new();
        for (i, args) in BASE_STAGES.iter().enumerate() {
            let input = match i {
                0 => STEM_CHANNELS,
                _ => self.round_filters(args.input),
            };
            let output = self.round_filters(args.output);
            let repeats = match i == 0 || i == last {
                true => args.repeats,
                false => self.round_repeats(args.repeats),
            };
            for r in 0..repeats {
                let (input, stride) = match r {
                    0 => (input, args.stride),
                    _ => (output, 1),
                };
                specs.push(BlockSpec {
                    stage: i,
                    repeat: r,
                    input,
                    output,
                    expand: args.expand,
                    kernel: args.kernel,
                    stride,
                    skip: stride == 1 && input == output,
                    drop_connect: 0.0,
                });
            }
        }
        let count = specs.len() as f64;
        for (i, spec) in specs.iter_mut().enumerate() {
            spec.drop_connect = self.drop_connect * i as f64 / count;
        }
        specs
    }

    /// Channels of the pooled feature vector.
    pub fn feature_dim(&self) -> usize {
        HEAD_CHANNELS
    }

    /// The feature extractor with burn's default initialisation (load weights
    /// next, or re-initialise with `model::init`).
    pub fn init<B: Backend>(&self, device: &B::Device) -> EfficientNetLite<B> {
        let blocks: Vec<BlockSpec> = self.blocks();
        let last_out = blocks.last().map_or(STEM_CHANNELS, |b| b.output);
        EfficientNetLite {
            conv_stem: conv(3, STEM_CHANNELS, 3, 2, 1, device),
            bn0: batch_norm(STEM_CHANNELS, "bn0", device),
            blocks: blocks
                .iter()
                .enumerate()
                .map(|(i, spec)| MbConv::new(spec, &format!("blocks.{i}"), device))
                .collect(),
            conv_head: conv(last_out, HEAD_CHANNELS, 1, 1, 1, device),
            bn1: batch_norm(HEAD_CHANNELS, "bn1", device),
            dropout: DropoutConfig::new(self.dropout).init(),
            first_block: 0,
        }
    }

    /// The whole classifier: the feature extractor and its `num_classes`-way
    /// head (the reference's `_fc`) as a [`Network`], burn-initialised.
    pub fn init_network<B: Backend>(&self, device: &B::Device) -> Network<B> {
        Network {
            backbone: Backbone::EfficientNetLite(self.init(device)),
            head: LinearConfig::new(HEAD_CHANNELS, self.num_classes).init(device),
            adapter: None,
        }
    }

    /// The classifier with the ImageNet weights of a legacy `.pth` file
    /// (`efficientnet-lite?-*.pth`, see `data-manifest.toml`).
    pub fn load_pretrained<B: Backend>(
        &self,
        path: &Path,
        device: &B::Device,
    ) -> Result<Network<B>, WeightsError> {
        let dict = read_state_dict(path)?;
        let origin = path.display().to_string();
        Ok(load_torch_state_dict(
            self.init_network(device),
            &dict,
            &origin,
        )?)
    }
}

/// The reference's state-dict key of a [`Network`] parameter path: the head
/// is `_fc`; inside the feature extractor every module attribute has a
/// leading underscore and parameters do not, so
/// `backbone.EfficientNetLite.blocks.3.depthwise_conv.weight` is
/// `_blocks.3._depthwise_conv.weight`. Paths outside the network as the
/// reference has it (an added adapter) map to themselves, i.e. to no key.
pub fn torch_key(path: &str) -> String {
    if let Some(field) = path.strip_prefix("head.") {
        return format!("_fc.{field}");
    }
    let Some(inner) = path.strip_prefix(PATH).and_then(|p| p.strip_prefix('.')) else {
        return path.to_string();
    };
    let segments: Vec<&str> = inner.split('.').collect();
    let last = segments.len().saturating_sub(1);
    segments
        .iter()
        .enumerate()
        .map(
            |(i, s)| match i < last && !s.chars().all(|c| c.is_ascii_digit()) {
                true => format!("_{s}"),
                false => s.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join(".")
}

/// The key convention of the reference's state dicts.
pub const TORCH_KEYS: KeyConvention<'static> = KeyConvention {
    file_key: &torch_key,
    ignored: &is_step_counter,
};

impl EfficientNetLiteConfig {
    /// timm's state-dict key (`tf_efficientnet_lite{n}`) of a [`Network`]
    /// tensor, from its PyTorch-named path
    /// ([`crate::weights::load::torch_layout`]); `None` for what timm's model
    /// does not have (an added adapter). timm nests the blocks by stage
    /// (`blocks.{stage}.{repeat}`), numbers BatchNorms from 1 in each module,
    /// names a block's convolutions by role (`conv_pw` expands, `conv_dw`,
    /// `conv_pwl` projects; a block without expansion has `conv_dw` then
    /// `conv_pw`), and calls the head `classifier`.
    pub fn timm_key(&self, path: &str) -> Option<String> {
        if let Some(field) = path.strip_prefix("head.") {
            return Some(format!("classifier.{field}"));
        }
        let inner = path.strip_prefix(PATH)?.strip_prefix('.')?;
        let (module, field) = inner.rsplit_once('.')?;
        let top = match module {
            "conv_stem" | "conv_head" => Some(module),
            "bn0" => Some("bn1"),
            "bn1" => Some("bn2"),
            _ => None,
        };
        if let Some(top) = top {
            return Some(format!("{top}.{field}"));
        }
        let (index, part) = module.strip_prefix("blocks.")?.split_once('.')?;
        let spec = self.blocks().into_iter().nth(index.parse().ok()?)?;
        let part = match (part, spec.expand != 1) {
            ("expand_conv", true) => "conv_pw",
            ("bn0", true) => "bn1",
            ("depthwise_conv", _) => "conv_dw",
            ("bn1", true) => "bn2",
            ("bn1", false) => "bn1",
            ("project_conv", true) => "conv_pwl",
            ("project_conv", false) => "conv_pw",
            ("bn2", true) => "bn3",
            ("bn2", false) => "bn2",
            _ => return None,
        };
        Some(format!(
            "blocks.{}.{}.{part}.{field}",
            spec.stage, spec.repeat
        ))
    }
}

/// Loads a reference state dict (already in memory) into `network`, an
/// EfficientNet-Lite classifier as [`EfficientNetLiteConfig::init_network`] builds it.
pub fn load_torch_state_dict<B: Backend>(
    network: Network<B>,
    dict: &StateDict,
    origin: &str,
) -> Result<Network<B>, LoadError> {
    load_state_dict(network, dict, TORCH_KEYS, origin)
}

fn conv<B: Backend>(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &B::Device,
) -> Conv2d<B> {
    let same = PaddingConfig2d::Same;
    conv_padded([c_in, c_out], kernel, stride, same, groups, false, device)
}

/// BatchNorm with TF's epsilon and momentum. Running statistics get ids from
/// their path (`name` inside the network): a module mapper cannot change them.
fn batch_norm<B: Backend>(channels: usize, name: &str, device: &B::Device) -> BatchNorm<B> {
    let mut bn = BatchNormConfig::new(channels)
        .with_epsilon(BN_EPSILON)
        .with_momentum(BN_MOMENTUM)
        .init(device);
    let id = |stat: &str| param_id_for(&format!("{PATH}.{name}.{stat}"));
    bn.running_mean = RunningState::with_id(id("running_mean"), Tensor::zeros([channels], device));
    bn.running_var = RunningState::with_id(id("running_var"), Tensor::ones([channels], device));
    bn
}

fn relu6<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clamp(0.0, 6.0)
}

/// Mobile inverted bottleneck: expand 1x1 (unless the ratio is 1), depthwise
/// kxk, project 1x1 (linear), identity shortcut when shapes allow.
#[derive(Module, Debug)]
pub struct MbConv<B: Backend> {
    pub expand_conv: Option<Conv2d<B>>,
    pub bn0: Option<BatchNorm<B>>,
    pub depthwise_conv: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub project_conv: Conv2d<B>,
    pub bn2: BatchNorm<B>,
    pub skip: bool,
    /// Probability of dropping the residual branch per sample (training only).
    pub drop_connect: f64,
}

impl<B: Backend> MbConv<B> {
    fn new(spec: &BlockSpec, name: &str, device: &B::Device) -> Self {
        let hidden = spec.hidden();
        let expand = spec.expand != 1;
        let bn = |part: &str, c: usize| batch_norm(c, &format!("{name}.{part}"), device);
        MbConv {
            expand_conv: expand.then(|| conv(spec.input, hidden, 1, 1, 1, device)),
            bn0: expand.then(|| bn("bn0", hidden)),
            depthwise_conv: conv(hidden, hidden, spec.kernel, spec.stride, hidden, device),
            bn1: bn("bn1", hidden),
            project_conv: conv(hidden, spec.output, 1, 1, 1, device),
            bn2: bn("bn2", spec.output),
            skip: spec.skip,
            drop_connect: spec.drop_connect,
        }
    }

    pub fn forward(&self, input: Tensor<B, 4>, noise: Option<Noise>) -> Tensor<B, 4> {
        let mut x = input.clone();
        if let (Some(conv), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = relu6(batch_norm_2d(bn, conv.forward(x)));
        }
        x = relu6(batch_norm_2d(&self.bn1, self.depthwise_conv.forward(x)));
        x = batch_norm_2d(&self.bn2, self.project_conv.forward(x));
        match self.skip {
            true => self.drop_connect(x, noise) + input,
            false => x,
        }
    }

    /// Drops the whole residual branch of random samples with probability
    /// `drop_connect`, rescaling the kept ones; identity without `noise`
    /// (evaluation) or on a backend without autodiff.
    fn drop_connect(&self, x: Tensor<B, 4>, noise: Option<Noise>) -> Tensor<B, 4> {
        let device = x.device();
        let Some(noise) = noise.filter(|_| self.drop_connect > 0.0 && B::ad_enabled(&device))
        else {
            return x;
        };
        let keep = 1.0 - self.drop_connect;
        let batch = x.dims()[0];
        let mask = noise
            .bernoulli::<B>(batch, keep, &device)
            .reshape([batch, 1, 1, 1]);
        x * mask / keep
    }
}

/// EfficientNet-Lite's feature extractor: stem, MBConv blocks, head conv,
/// average pool, and the dropout the reference applies before its classifier
/// (which is the [`Network`]'s head).
#[derive(Module, Debug)]
pub struct EfficientNetLite<B: Backend> {
    pub conv_stem: Conv2d<B>,
    pub bn0: BatchNorm<B>,
    pub blocks: Vec<MbConv<B>>,
    pub conv_head: Conv2d<B>,
    pub bn1: BatchNorm<B>,
    pub dropout: Dropout,
    /// The block `forward` starts at: 0 takes images; `k > 0` takes block
    /// `k - 1`'s output, computed apart by [`Self::prefix`] (a frozen prefix
    /// whose features are computed once per image, see `run::frozen`).
    pub first_block: usize,
}

impl<B: Backend> EfficientNetLite<B> {
    /// Images `[b, 3, h, w]` (ImageNet-normalised) to pooled features `[b, 1280]`.
    pub fn features(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.features_noised(images, None)
    }

    /// The stem and blocks `0..end` without stochastic layers: the input of
    /// block `end`. Starting a network at `end` on its output gives the whole
    /// network's result (see [`Self::first_block`]).
    pub fn prefix(&self, images: Tensor<B, 4>, end: usize) -> Tensor<B, 4> {
        let x = self.stem(images);
        self.blocks[..end].iter().fold(x, |x, b| b.forward(x, None))
    }

    fn stem(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        relu6(batch_norm_2d(&self.bn0, self.conv_stem.forward(images)))
    }

    /// [`Self::features`] with block `i`'s drop-connect keyed by `noise.layer(i)`
    /// (`i` counts from the first block of the whole network, so a network
    /// started at a later block draws the same noise as the whole one).
    fn features_noised(&self, input: Tensor<B, 4>, noise: Option<Noise>) -> Tensor<B, 2> {
        let mut x = match self.first_block {
            0 => self.stem(input),
            _ => input,
        };
        for (i, block) in self.blocks.iter().enumerate().skip(self.first_block) {
            x = block.forward(x, noise.map(|n| n.layer(i as u64)));
        }
        x = relu6(batch_norm_2d(&self.bn1, self.conv_head.forward(x)));
        let [b, c, h, w] = x.dims();
        x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
    }

    /// Pooled features, with dropout when `noise` keys a training pass, ready
    /// for the head.
    pub fn forward(&self, images: Tensor<B, 4>, noise: Option<Noise>) -> Tensor<B, 2> {
        let features = self.features_noised(images, noise);
        let device = features.device();
        let Some(noise) = noise.filter(|_| self.dropout.prob > 0.0 && B::ad_enabled(&device))
        else {
            return features;
        };
        let keep = 1.0 - self.dropout.prob;
        let [b, c] = features.dims();
        let mask = noise
            .layer(u64::MAX)
            .bernoulli::<B>(b * c, keep, &device)
            .reshape([b, c]);
        features * mask / keep
    }
}
