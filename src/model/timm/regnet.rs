//! RegNetY as timm builds it (`RegNet` with pycls's configurations): block
//! widths generated from (w0, wa, wm, depth) and quantised, grouped 3×3
//! convolutions, squeeze-excite on the bottleneck (reduced from the block's
//! input width), a 1×1 convolution shortcut where the shape changes and an
//! identity one elsewhere, four stages each striding by 2.

use burn::nn::conv::Conv2d;
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::layers::{apply_conv, batch_norm, conv_same_size, global_avg_pool, squeeze_excite};
use crate::model::batch_norm::batch_norm_2d;

const BN_EPS: f64 = 1e-5;
/// Widths are multiples of this.
const QUANT: f32 = 8.0;

/// pycls's design-space parameters of one RegNetY (timm's `RegNetCfg`, with
/// a bottleneck ratio of 1, squeeze-excite and a 1×1 shortcut).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegNetConfig {
    pub depth: usize,
    pub w0: usize,
    pub wa: f32,
    pub wm: f32,
    pub group_size: usize,
    pub se_ratio: f32,
    pub stem_width: usize,
}

/// One stage as [`RegNetConfig::stages`] derives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageSpec {
    pub width: usize,
    pub depth: usize,
    pub groups_of: usize,
}

impl RegNetConfig {
    const fn y(depth: usize, w0: usize, wa: f32, wm: f32, group_size: usize) -> Self {
        Self {
            depth,
            w0,
            wa,
            wm,
            group_size,
            se_ratio: 0.25,
            stem_width: 32,
        }
    }

    /// timm's `regnety_<name>` (e.g. `002`, `320`), if it is one of the twelve.
    pub fn regnety(name: &str) -> Option<Self> {
        Some(match name {
            "002" => Self::y(13, 24, 36.44, 2.49, 8),
            "004" => Self::y(16, 48, 27.89, 2.09, 8),
            "006" => Self::y(15, 48, 32.54, 2.32, 16),
            "008" => Self::y(14, 56, 38.84, 2.4, 16),
            "016" => Self::y(27, 48, 20.71, 2.65, 24),
            "032" => Self::y(21, 80, 42.63, 2.66, 24),
            "040" => Self::y(22, 96, 31.41, 2.24, 64),
            "064" => Self::y(25, 112, 33.22, 2.27, 72),
            "080" => Self::y(17, 192, 76.82, 2.19, 56),
            "120" => Self::y(19, 168, 73.36, 2.37, 112),
            "160" => Self::y(18, 200, 106.23, 2.48, 112),
            "320" => Self::y(20, 232, 115.89, 2.53, 232),
            _ => return None,
        })
    }

    /// timm's `generate_regnet` then `adjust_widths_groups_comp`, in f32 as
    /// timm computes it (round half to even, as `torch.round`).
    pub fn stages(&self) -> Vec<StageSpec> {
        let ln_wm = (self.wm as f64).ln() as f32;
        let w0 = self.w0 as f32;
        let widths: Vec<usize> = (0..self.depth)
            .map(|i| {
                let continuous = i as f32 * self.wa + w0;
                let exponent = ((continuous / w0).ln() / ln_wm).round_ties_even();
                ((w0 * self.wm.powf(exponent)) / QUANT).round_ties_even() as usize * QUANT as usize
            })
            .collect();
        let mut stages: Vec<StageSpec> = Vec::new();
        let mut sorted = widths.clone();
        sorted.sort_unstable();
        for w in sorted {
            match stages.last_mut() {
                Some(s) if s.width == w => s.depth += 1,
                _ => stages.push(StageSpec {
                    width: w,
                    depth: 1,
                    groups_of: self.group_size,
                }),
            }
        }
        for s in &mut stages {
            // Groups no wider than the stage; the width a multiple of them.
            s.groups_of = s.groups_of.min(s.width);
            s.width =
                ((s.width as f32 / s.groups_of as f32).round_ties_even() as usize) * s.groups_of;
        }
        stages
    }

    pub fn feature_dim(&self) -> usize {
        self.stages().last().map_or(self.stem_width, |s| s.width)
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> RegNet<B> {
        let mut c_in = self.stem_width;
        let stages = self
            .stages()
            .iter()
            .map(|spec| {
                let blocks = (0..spec.depth)
                    .map(|i| {
                        let stride = if i == 0 { 2 } else { 1 };
                        let block = RegBlock::new(c_in, spec, stride, self.se_ratio, device);
                        c_in = spec.width;
                        block
                    })
                    .collect();
                RegStage { blocks }
            })
            .collect();
        RegNet {
            stem: ConvBnAct::new(3, self.stem_width, 3, 2, 1, device),
            stages,
        }
    }

    /// timm's key for a path inside the network: stages are `s1`…`s4` and
    /// their blocks `b1`, `b2`, … (both counted from 1).
    pub fn timm_key(&self, path: &str) -> String {
        super::layers::rename_segments(path, |field, i| {
            let i: usize = i.parse().ok()?;
            match field {
                "stages" => Some(format!("s{}", i + 1)),
                "blocks" => Some(format!("b{}", i + 1)),
                _ => None,
            }
        })
    }
}

/// timm's `ConvNormAct`: convolution (no bias), BatchNorm, optional ReLU.
#[derive(Module, Debug)]
pub struct ConvBnAct<B: Backend> {
    pub conv: Conv2d<B>,
    pub bn: BatchNorm<B>,
}

impl<B: Backend> ConvBnAct<B> {
    fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        groups: usize,
        device: &B::Device,
    ) -> Self {
        Self {
            conv: conv_same_size([c_in, c_out], kernel, stride, groups, false, device),
            bn: batch_norm(c_out, BN_EPS, device),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        batch_norm_2d(&self.bn, apply_conv(&self.conv, x))
    }
}

/// Squeeze-excite: channel gates from the pooled features.
#[derive(Module, Debug)]
pub struct SqueezeExcite<B: Backend> {
    pub fc1: Conv2d<B>,
    pub fc2: Conv2d<B>,
}

impl<B: Backend> SqueezeExcite<B> {
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        squeeze_excite(x, &self.fc1, &self.fc2, relu)
    }
}

#[derive(Module, Debug)]
pub struct RegBlock<B: Backend> {
    pub conv1: ConvBnAct<B>,
    pub conv2: ConvBnAct<B>,
    pub se: SqueezeExcite<B>,
    pub conv3: ConvBnAct<B>,
    pub downsample: Option<ConvBnAct<B>>,
}

impl<B: Backend> RegBlock<B> {
    fn new(
        c_in: usize,
        spec: &StageSpec,
        stride: usize,
        se_ratio: f32,
        device: &B::Device,
    ) -> Self {
        let width = spec.width;
        let reduced = ((c_in as f32 * se_ratio).round_ties_even() as usize).max(1);
        Self {
            conv1: ConvBnAct::new(c_in, width, 1, 1, 1, device),
            conv2: ConvBnAct::new(width, width, 3, stride, width / spec.groups_of, device),
            se: SqueezeExcite {
                fc1: conv_same_size([width, reduced], 1, 1, 1, true, device),
                fc2: conv_same_size([reduced, width], 1, 1, 1, true, device),
            },
            conv3: ConvBnAct::new(width, width, 1, 1, 1, device),
            downsample: (c_in != width || stride != 1)
                .then(|| ConvBnAct::new(c_in, width, 1, stride, 1, device)),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = relu(self.conv1.forward(x.clone()));
        let y = relu(self.conv2.forward(y));
        let y = self.conv3.forward(self.se.forward(y));
        let shortcut = match &self.downsample {
            Some(down) => down.forward(x),
            None => x,
        };
        relu(y + shortcut)
    }
}

#[derive(Module, Debug)]
pub struct RegStage<B: Backend> {
    pub blocks: Vec<RegBlock<B>>,
}

#[derive(Module, Debug)]
pub struct RegNet<B: Backend> {
    pub stem: ConvBnAct<B>,
    pub stages: Vec<RegStage<B>>,
}

impl<B: Backend> RegNet<B> {
    /// Images `[b, 3, h, w]` to pooled features `[b, last width]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = relu(self.stem.forward(images));
        for block in self.stages.iter().flat_map(|s| &s.blocks) {
            x = block.forward(x);
        }
        global_avg_pool(x)
    }
}
