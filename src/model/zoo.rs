//! The model zoo of the quick study: two families, each at three sizes.
//!
//! Sizes are architecture knobs only; parameter counts are always measured on
//! the built module ([`ModelSpec::num_params`]), never written down.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::head::new_linear;
use super::init::init_module_at;
use super::resnet::ResNetConfig;
use super::vit::{Pool, VitConfig};
use super::{Backbone, ModelError, Network};

/// Smallest input side the zoo accepts (a ViT grid of 8×8 patches of 2 px).
pub const MIN_IMAGE_SIZE: usize = 16;
/// Patches per side of every ViT: the patch size scales with the input.
const VIT_GRID: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    ResNet,
    Vit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Tiny,
    Small,
    Base,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::ResNet, Family::Vit];

    pub fn name(self) -> &'static str {
        match self {
            Family::ResNet => "resnet",
            Family::Vit => "vit",
        }
    }
}

impl Size {
    pub const ALL: [Size; 3] = [Size::Tiny, Size::Small, Size::Base];

    pub fn name(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Small => "small",
            Size::Base => "base",
        }
    }
}

/// Architecture of a backbone, resolved from a [`ModelSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum BackboneConfig {
    ResNet(ResNetConfig),
    Vit(VitConfig),
}

impl BackboneConfig {
    pub fn feature_dim(&self) -> usize {
        match self {
            BackboneConfig::ResNet(c) => c.feature_dim(),
            BackboneConfig::Vit(c) => c.feature_dim(),
        }
    }

    fn init<B: Backend>(&self, device: &B::Device) -> Backbone<B> {
        match self {
            BackboneConfig::ResNet(c) => Backbone::ResNet(c.init(device)),
            BackboneConfig::Vit(c) => Backbone::Vit(c.init(device)),
        }
    }
}

/// One zoo model: family, size and the input side it is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelSpec {
    pub family: Family,
    pub size: Size,
    /// Side of the square input images (the ViT's position embeddings depend on it).
    #[serde(default = "default_image_size")]
    pub image_size: usize,
}

fn default_image_size() -> usize {
    32
}

impl ModelSpec {
    pub fn new(family: Family, size: Size) -> Self {
        Self {
            family,
            size,
            image_size: default_image_size(),
        }
    }

    pub fn with_image_size(self, image_size: usize) -> Self {
        Self { image_size, ..self }
    }

    /// Every family at every size, at the default input side.
    pub fn all() -> Vec<ModelSpec> {
        Family::ALL
            .iter()
            .flat_map(|&f| Size::ALL.iter().map(move |&s| ModelSpec::new(f, s)))
            .collect()
    }

    /// `family-size`, e.g. `resnet-tiny` (the input side is not part of the name).
    pub fn name(&self) -> String {
        format!("{}-{}", self.family.name(), self.size.name())
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let s = self.image_size;
        if s < MIN_IMAGE_SIZE || (self.family == Family::Vit && s % VIT_GRID != 0) {
            return Err(ModelError::ImageSize {
                spec: self.name(),
                size: s,
            });
        }
        Ok(())
    }

    /// The architecture behind the name. Each family spans more than 10× in
    /// parameters from tiny to base, at sizes two CPU cores fine-tune in seconds.
    pub fn backbone(&self) -> BackboneConfig {
        match self.family {
            Family::ResNet => {
                let (width, blocks) = match self.size {
                    Size::Tiny => (8, [1, 1, 1]),
                    Size::Small => (16, [1, 1, 1]),
                    Size::Base => (32, [1, 1, 1]),
                };
                BackboneConfig::ResNet(ResNetConfig { width, blocks })
            }
            Family::Vit => {
                let (dim, depth, heads) = match self.size {
                    Size::Tiny => (32, 2, 2),
                    Size::Small => (64, 4, 4),
                    Size::Base => (96, 4, 4),
                };
                BackboneConfig::Vit(VitConfig {
                    dim,
                    depth,
                    heads,
                    mlp_ratio: 4,
                    patch: self.image_size / VIT_GRID,
                    image_size: self.image_size,
                    pool: Pool::Cls,
                })
            }
        }
    }

    /// Builds the network with a `classes`-way head, every weight drawn from `seed`
    /// (from-scratch initialisation; identical on every backend).
    pub fn build<B: Backend>(
        &self,
        classes: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<Network<B>, ModelError> {
        self.validate()?;
        if classes == 0 {
            return Err(ModelError::NoClasses);
        }
        let config = self.backbone();
        let backbone = init_module_at(config.init(device), seed, "backbone")?;
        let head = new_linear(config.feature_dim(), classes, seed, "head", device)?;
        Ok(Network {
            backbone,
            head,
            adapter: None,
        })
    }

    /// Parameter count of the network with a `classes`-way head, measured with
    /// burn's `num_params` on a freshly built module (BatchNorm running
    /// statistics included, as burn counts them).
    pub fn num_params(&self, classes: usize) -> Result<usize, ModelError> {
        let network = self.build::<burn::backend::Flex>(classes, 0, &Default::default())?;
        Ok(network.num_params())
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for ModelSpec {
    type Err = ModelError;

    /// Parses `family-size` (e.g. `vit-small`) at the default input side.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ModelSpec::all()
            .into_iter()
            .find(|spec| spec.name() == name)
            .ok_or_else(|| ModelError::UnknownModel(name.to_string()))
    }
}
