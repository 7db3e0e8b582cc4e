//! Classification heads and the fine-tuning head switch.
//!
//! The paper keeps each timm model's 1000-way ImageNet head and adds a new
//! linear layer mapping those logits to the task's classes
//! ([`HeadMode::AddLinear`]); the usual alternative replaces the head with a
//! new one on the features ([`HeadMode::Replace`]).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::init::init_module_at;
use super::{Backbone, ModelError, Network};

/// What fine-tuning does to a pre-trained network's classifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadMode {
    /// Keep the pre-trained head; add Linear(pre-training classes → task classes) on top (the paper).
    #[default]
    AddLinear,
    /// Drop the pre-trained head; new Linear(features → task classes).
    Replace,
}

/// A new linear layer, initialised from `seed` under the parameter path `path`.
pub(crate) fn new_linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    seed: u64,
    path: &str,
    device: &B::Device,
) -> Result<Linear<B>, ModelError> {
    init_module_at(LinearConfig::new(d_in, d_out).init(device), seed, path)
}

/// Output width of a linear layer (burn stores its weight as `[d_in, d_out]`).
pub(crate) fn linear_out<B: Backend>(linear: &Linear<B>) -> usize {
    linear.weight.dims()[1]
}

/// Input width of a linear layer.
pub(crate) fn linear_in<B: Backend>(linear: &Linear<B>) -> usize {
    linear.weight.dims()[0]
}

impl<B: Backend> Network<B> {
    /// `backbone` (with `features`-wide outputs) under a new `classes`-way
    /// head drawn from `seed`: a network trained from scratch, or a headless
    /// checkpoint (MAE, DINO), which has no pre-trained head to keep.
    pub fn with_new_head(
        backbone: Backbone<B>,
        features: usize,
        classes: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        if classes == 0 {
            return Err(ModelError::NoClasses);
        }
        Ok(Self {
            backbone,
            head: new_linear(features, classes, seed, "head", device)?,
            adapter: None,
        })
    }

    /// Prepares a (pre-trained) network for a task with `classes` classes.
    ///
    /// Only the new layer is drawn from `seed`; every other weight is kept.
    /// Fails on `AddLinear` when the network already has an added layer, since
    /// stacking a second one is never what a fine-tuning protocol means.
    pub fn adapt_head(self, mode: HeadMode, classes: usize, seed: u64) -> Result<Self, ModelError> {
        if classes == 0 {
            return Err(ModelError::NoClasses);
        }
        let device = self.head.weight.device();
        match mode {
            HeadMode::AddLinear => {
                if self.adapter.is_some() {
                    return Err(ModelError::HeadAlreadyAdapted);
                }
                let adapter =
                    new_linear(linear_out(&self.head), classes, seed, "adapter", &device)?;
                Ok(Self {
                    adapter: Some(adapter),
                    ..self
                })
            }
            HeadMode::Replace => {
                let head = new_linear(linear_in(&self.head), classes, seed, "head", &device)?;
                Ok(Self {
                    head,
                    adapter: None,
                    ..self
                })
            }
        }
    }
}
