//! The paper's timm architectures in burn: one file per family, each a burn
//! `Module` with named size constructors, laid out so that timm's state-dict
//! keys map onto its parameters (`timm_key`), checked against timm's own
//! listing for every tag (`tests/model_timm_structure.rs`) and against timm's
//! logits at reduced sizes (`tests/model_timm_parity.rs`).
//!
//! This file is the table: a timm architecture name to its constructor
//! ([`TimmArch::from_model_name`]), and the two enums that dispatch on it.
//! Adding a family means a new file and its lines here.

pub mod convnext;
pub mod efficientnet;
pub mod layers;
pub mod mixer;
pub mod regnet;
pub mod resnet;
pub mod vgg;
pub mod vit;

use burn::nn::LinearConfig;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Backbone, Network};
use crate::weights::{is_step_counter, load_state_dict, KeyConvention, LoadError, StateDict};

use convnext::{ConvNeXt, ConvNeXtConfig};
use efficientnet::{EfficientNet, EfficientNetConfig};
use mixer::{Mixer, MixerConfig};
use regnet::{RegNet, RegNetConfig};
use resnet::{ResNet, ResNetConfig};
use vgg::{Vgg, VggConfig};
use vit::{Vit, VitConfig};

/// Where a timm backbone sits inside a [`Network`] (the enum variants' names
/// are part of the path).
const PATH: &str = "backbone.Timm.";

/// The architecture of a timm model, resolved from its name.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "lowercase")]
pub enum TimmArch {
    ResNet(ResNetConfig),
    Vit(VitConfig),
    ConvNeXt(ConvNeXtConfig),
    Mixer(MixerConfig),
    Vgg(VggConfig),
    RegNet(RegNetConfig),
    EfficientNet(EfficientNetConfig),
}

/// A timm feature extractor (everything below the classifier).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum TimmBackbone<B: Backend> {
    ResNet(ResNet<B>),
    Vit(Vit<B>),
    ConvNeXt(ConvNeXt<B>),
    Mixer(Mixer<B>),
    Vgg(Vgg<B>),
    RegNet(RegNet<B>),
    EfficientNet(EfficientNet<B>),
}

impl TimmArch {
    /// The architecture timm builds for `name`, the part of a tag before the
    /// dot (`resnet50` of `resnet50.a1_in1k`); `None` where it is not ported.
    pub fn from_model_name(name: &str) -> Option<TimmArch> {
        use TimmArch as A;
        Some(match name {
            "resnet50" => A::ResNet(ResNetConfig::resnet50()),
            "resnet101" => A::ResNet(ResNetConfig::resnet101()),
            "resnet152" => A::ResNet(ResNetConfig::resnet152()),
            "vit_tiny_patch16_224" => A::Vit(VitConfig::tiny_patch16()),
            "vit_small_patch16_224" => A::Vit(VitConfig::small_patch16()),
            "vit_base_patch16_224" => A::Vit(VitConfig::base_patch16()),
            "vit_large_patch16_224" => A::Vit(VitConfig::large_patch16()),
            "vit_huge_patch14_224" => A::Vit(VitConfig::huge_patch14()),
            "convnext_tiny" => A::ConvNeXt(ConvNeXtConfig::tiny()),
            "convnext_small" => A::ConvNeXt(ConvNeXtConfig::small()),
            "convnext_base" => A::ConvNeXt(ConvNeXtConfig::base()),
            "convnext_large" => A::ConvNeXt(ConvNeXtConfig::large()),
            "mixer_b16_224" => A::Mixer(MixerConfig::b16()),
            "mixer_l16_224" => A::Mixer(MixerConfig::l16()),
            "vgg11" => A::Vgg(VggConfig::vgg11()),
            "vgg13" => A::Vgg(VggConfig::vgg13()),
            "vgg16" => A::Vgg(VggConfig::vgg16()),
            "vgg19" => A::Vgg(VggConfig::vgg19()),
            _ => {
                if let Some(size) = name.strip_prefix("regnety_") {
                    return RegNetConfig::regnety(size).map(A::RegNet);
                }
                if let Some(n) = name.strip_prefix("tf_efficientnet_lite") {
                    return EfficientNetConfig::lite(n.parse().ok()?).map(A::EfficientNet);
                }
                let n = name.strip_prefix("tf_efficientnet_b")?.parse().ok()?;
                A::EfficientNet(EfficientNetConfig::b(n)?)
            }
        })
    }

    /// The architecture of a full tag (`convnext_tiny.fb_in1k`).
    pub fn from_tag(tag: &str) -> Option<TimmArch> {
        Self::from_model_name(tag.split('.').next().unwrap_or(tag))
    }

    /// The architecture for inputs of side `size`: the token models' position
    /// embeddings and token MLPs are laid out for it (the convolutional
    /// families take any side).
    pub fn at_image_size(self, size: usize) -> TimmArch {
        match self {
            TimmArch::Vit(c) => TimmArch::Vit(VitConfig {
                image_size: size,
                ..c
            }),
            TimmArch::Mixer(c) => TimmArch::Mixer(MixerConfig {
                image_size: size,
                ..c
            }),
            other => other,
        }
    }

    /// The only input side a token model (ViT, Mixer) takes; `None` for the
    /// convolutional families, which take any.
    pub fn fixed_image_size(&self) -> Option<usize> {
        match self {
            TimmArch::Vit(c) => Some(c.image_size),
            TimmArch::Mixer(c) => Some(c.image_size),
            _ => None,
        }
    }

    /// Whether the network takes inputs of side `size`, or why not.
    pub fn check_image_size(&self, size: usize) -> Result<(), String> {
        match self.fixed_image_size() {
            Some(side) if side != size => Err(format!(
                "takes {side} px inputs only: its position embeddings (a Mixer's token \
                 MLPs) are laid out for {side} px inputs, not {size}"
            )),
            _ => Ok(()),
        }
    }

    /// Width of the features the classifier reads.
    pub fn feature_dim(&self) -> usize {
        match self {
            TimmArch::ResNet(c) => c.feature_dim(),
            TimmArch::Vit(c) => c.feature_dim(),
            TimmArch::ConvNeXt(c) => c.feature_dim(),
            TimmArch::Mixer(c) => c.feature_dim(),
            TimmArch::Vgg(c) => c.feature_dim(),
            TimmArch::RegNet(c) => c.feature_dim(),
            TimmArch::EfficientNet(c) => c.feature_dim(),
        }
    }

    /// The feature extractor with burn's (lazy) default initialisation: load
    /// weights next. Nothing is allocated until a tensor is first used.
    pub fn init<B: Backend>(&self, device: &B::Device) -> TimmBackbone<B> {
        match self {
            TimmArch::ResNet(c) => TimmBackbone::ResNet(c.init(device)),
            TimmArch::Vit(c) => TimmBackbone::Vit(c.init(device)),
            TimmArch::ConvNeXt(c) => TimmBackbone::ConvNeXt(c.init(device)),
            TimmArch::Mixer(c) => TimmBackbone::Mixer(c.init(device)),
            TimmArch::Vgg(c) => TimmBackbone::Vgg(c.init(device)),
            TimmArch::RegNet(c) => TimmBackbone::RegNet(c.init(device)),
            TimmArch::EfficientNet(c) => TimmBackbone::EfficientNet(c.init(device)),
        }
    }

    /// The whole classifier with a `classes`-way head, as timm's model is
    /// (for a headless tag, MAE or DINO, the head is the task's new layer).
    pub fn init_network<B: Backend>(&self, classes: usize, device: &B::Device) -> Network<B> {
        Network {
            backbone: Backbone::Timm(self.init(device)),
            head: LinearConfig::new(self.feature_dim(), classes).init(device),
            adapter: None,
        }
    }

    /// timm's name for the classifier layer.
    fn head_key(&self) -> &'static str {
        match self {
            TimmArch::ResNet(_) => "fc",
            TimmArch::Vit(_) | TimmArch::Mixer(_) => "head",
            TimmArch::ConvNeXt(_) | TimmArch::Vgg(_) | TimmArch::RegNet(_) => "head.fc",
            TimmArch::EfficientNet(_) => "classifier",
        }
    }

    /// timm's state-dict key of a [`Network`] tensor, from its PyTorch-named
    /// path ([`crate::weights::load::torch_layout`]); an added adapter keeps
    /// its own path, which no timm file has.
    pub fn timm_key(&self, path: &str) -> String {
        if let Some(field) = path.strip_prefix("head.") {
            return format!("{}.{field}", self.head_key());
        }
        let Some(inner) = path
            .strip_prefix(PATH)
            .and_then(|p| p.split_once('.'))
            .map(|(_variant, rest)| rest)
        else {
            return path.to_string();
        };
        match self {
            TimmArch::ResNet(c) => c.timm_key(inner),
            TimmArch::ConvNeXt(c) => c.timm_key(inner),
            TimmArch::Vgg(c) => c.timm_key(inner),
            TimmArch::RegNet(c) => c.timm_key(inner),
            TimmArch::EfficientNet(c) => c.timm_key(inner),
            TimmArch::Vit(_) | TimmArch::Mixer(_) => inner.to_string(),
        }
    }

    /// Puts a timm state dict into `network` (built by [`Self::init_network`]),
    /// or names every key that does not fit.
    pub fn load<B: Backend>(
        &self,
        network: Network<B>,
        dict: &StateDict,
        origin: &str,
    ) -> Result<Network<B>, LoadError> {
        self.load_at(network, "", dict, origin)
    }

    /// Puts a headless timm state dict (MAE, DINO) into a feature extractor
    /// built by [`Self::init`]; a classifier in the file is an unused key.
    pub fn load_backbone<B: Backend>(
        &self,
        backbone: TimmBackbone<B>,
        dict: &StateDict,
        origin: &str,
    ) -> Result<TimmBackbone<B>, LoadError> {
        // Its paths start at the variant: put them where a network has them.
        self.load_at(backbone, PATH, dict, origin)
    }

    /// `module`'s tensors from `dict`, its paths read below `prefix` of a network.
    fn load_at<B: Backend, M: Module<B>>(
        &self,
        module: M,
        prefix: &str,
        dict: &StateDict,
        origin: &str,
    ) -> Result<M, LoadError> {
        let file_key = |path: &str| self.timm_key(&format!("{prefix}{path}"));
        let convention = KeyConvention {
            file_key: &file_key,
            ignored: &is_step_counter,
        };
        load_state_dict(module, dict, convention, origin)
    }
}

impl<B: Backend> TimmBackbone<B> {
    /// Images `[b, 3, h, w]` (normalised with ImageNet's statistics) to the
    /// features the classifier reads, `[b, feature_dim]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            TimmBackbone::ResNet(net) => net.forward(images),
            TimmBackbone::Vit(net) => net.forward(images),
            TimmBackbone::ConvNeXt(net) => net.forward(images),
            TimmBackbone::Mixer(net) => net.forward(images),
            TimmBackbone::Vgg(net) => net.forward(images),
            TimmBackbone::RegNet(net) => net.forward(images),
            TimmBackbone::EfficientNet(net) => net.forward(images),
        }
    }
}
