//! The model zoo: the quick study's two families, each at three sizes, and
//! EfficientNet-Lite at its three published sizes (pacs-lite).
//!
//! Sizes are architecture knobs only; parameter counts are always measured on
//! the built module ([`ModelSpec::num_params`]), never written down.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::efficientnet_lite::{EfficientNetLiteConfig, LiteVariant};
use super::init::init_module_at;
use super::resnet::ResNetConfig;
use super::vit::{Pool, VitConfig};
use super::{Backbone, ModelError, Network};

/// Smallest input side the zoo accepts (a ViT grid of 8×8 patches of 2 px).
pub const MIN_IMAGE_SIZE: usize = 16;
/// Patches per side of every ViT: the patch size scales with the input.
const VIT_GRID: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    ResNet,
    Vit,
    EfficientNetLite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Tiny,
    Small,
    Base,
    Lite0,
    Lite1,
    Lite2,
}

impl Family {
    /// The quick study's own families (pre-trained by oodcal).
    pub const ALL: [Family; 2] = [Family::ResNet, Family::Vit];

    pub fn name(self) -> &'static str {
        match self {
            Family::ResNet => "resnet",
            Family::Vit => "vit",
            Family::EfficientNetLite => "efficientnet-lite",
        }
    }

    /// The sizes this family comes in.
    pub fn sizes(self) -> &'static [Size] {
        match self {
            Family::ResNet | Family::Vit => &Size::ALL,
            Family::EfficientNetLite => &[Size::Lite0, Size::Lite1, Size::Lite2],
        }
    }
}

impl Size {
    /// The sizes of the quick study's families.
    pub const ALL: [Size; 3] = [Size::Tiny, Size::Small, Size::Base];

    pub fn name(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Small => "small",
            Size::Base => "base",
            Size::Lite0 => "lite0",
            Size::Lite1 => "lite1",
            Size::Lite2 => "lite2",
        }
    }

    /// The EfficientNet-Lite scaling this size names, if it is one.
    fn lite(self) -> Option<LiteVariant> {
        match self {
            Size::Lite0 => Some(LiteVariant::Lite0),
            Size::Lite1 => Some(LiteVariant::Lite1),
            Size::Lite2 => Some(LiteVariant::Lite2),
            Size::Tiny | Size::Small | Size::Base => None,
        }
    }
}

/// Architecture of a backbone, resolved from a [`ModelSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "kebab-case")]
pub enum BackboneConfig {
    ResNet(ResNetConfig),
    Vit(VitConfig),
    EfficientNetLite(EfficientNetLiteConfig),
}

impl BackboneConfig {
    pub fn feature_dim(&self) -> usize {
        match self {
            BackboneConfig::ResNet(c) => c.feature_dim(),
            BackboneConfig::Vit(c) => c.feature_dim(),
            BackboneConfig::EfficientNetLite(c) => c.feature_dim(),
        }
    }

    fn init<B: Backend>(&self, device: &B::Device) -> Backbone<B> {
        match self {
            BackboneConfig::ResNet(c) => Backbone::ResNet(c.init(device)),
            BackboneConfig::Vit(c) => Backbone::Vit(c.init(device)),
            BackboneConfig::EfficientNetLite(c) => Backbone::EfficientNetLite(c.init(device)),
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
    /// ViT only: side of the square patches in pixels (`None`: an 8×8 grid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<usize>,
    /// ViT only: how the tokens become one feature (`None`: a CLS token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
}

fn default_image_size() -> usize {
    32
}

/// `patch` and `pool` shape a zoo ViT only, and a patch must tile the image
/// side (`side_name` says where the side comes from): the field at fault and
/// the problem, if any. The manifest asks before a [`ModelSpec`] exists.
pub fn vit_shape_problem(
    vit: bool,
    patch: Option<usize>,
    pool: Option<Pool>,
    side: usize,
    side_name: &str,
) -> Option<(&'static str, String)> {
    for (field, given) in [("patch", patch.is_some()), ("pool", pool.is_some())] {
        if given && !vit {
            let problem = format!("`{field}` shapes a zoo ViT (family = \"vit\") only");
            return Some((field, problem));
        }
    }
    match patch {
        Some(p) if p == 0 || !side.is_multiple_of(p) => Some((
            "patch",
            format!("patch {p} does not tile {side_name} {side}"),
        )),
        _ => None,
    }
}

impl ModelSpec {
    pub fn new(family: Family, size: Size) -> Self {
        Self {
            family,
            size,
            image_size: default_image_size(),
            patch: None,
            pool: None,
        }
    }

    pub fn with_image_size(self, image_size: usize) -> Self {
        Self { image_size, ..self }
    }

    /// A ViT's patch side and pooling, where they differ from the defaults.
    pub fn with_vit_shape(self, patch: Option<usize>, pool: Option<Pool>) -> Self {
        Self {
            patch,
            pool,
            ..self
        }
    }

    /// The ViT's patch side in pixels: as set, else an 8×8 patch grid.
    fn vit_patch(&self) -> usize {
        self.patch.unwrap_or(self.image_size / VIT_GRID)
    }

    /// The quick study's zoo: its families at every size, at the default input side.
    pub fn all() -> Vec<ModelSpec> {
        Family::ALL
            .iter()
            .flat_map(|&f| Size::ALL.iter().map(move |&s| ModelSpec::new(f, s)))
            .collect()
    }

    /// EfficientNet-Lite at `variant`'s scaling and native input side.
    pub fn lite(variant: LiteVariant) -> ModelSpec {
        let size = match variant {
            LiteVariant::Lite0 => Size::Lite0,
            LiteVariant::Lite1 => Size::Lite1,
            LiteVariant::Lite2 => Size::Lite2,
        };
        ModelSpec::new(Family::EfficientNetLite, size).with_image_size(variant.config().image_size)
    }

    /// A model from a manifest's `family` and `size` strings.
    pub fn from_parts(family: &str, size: &str) -> Result<ModelSpec, ModelError> {
        let unknown = || ModelError::UnknownModel(format!("{family}-{size}"));
        let family = Family::ALL
            .into_iter()
            .chain([Family::EfficientNetLite])
            .find(|f| f.name() == family)
            .ok_or_else(unknown)?;
        let size = family
            .sizes()
            .iter()
            .copied()
            .find(|s| s.name() == size)
            .ok_or_else(unknown)?;
        Ok(ModelSpec::new(family, size))
    }

    /// `family-size`, e.g. `resnet-tiny`, or the published name for
    /// EfficientNet-Lite (`efficientnet-lite0`); the input side is not part of it.
    pub fn name(&self) -> String {
        match self.size.lite() {
            Some(variant) => variant.name().to_string(),
            None => format!("{}-{}", self.family.name(), self.size.name()),
        }
    }

    /// The EfficientNet-Lite scaling of this model (`None` for the quick zoo).
    pub fn lite_variant(&self) -> Option<LiteVariant> {
        match self.family {
            Family::EfficientNetLite => self.size.lite(),
            Family::ResNet | Family::Vit => None,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        self.backbone()?;
        let s = self.image_size;
        if s < MIN_IMAGE_SIZE || (self.family == Family::Vit && !s.is_multiple_of(VIT_GRID)) {
            return Err(ModelError::ImageSize {
                spec: self.name(),
                size: s,
            });
        }
        // The default patch (an 8×8 grid) tiles any side the check above lets through.
        let vit = self.family == Family::Vit;
        if let Some((_, problem)) =
            vit_shape_problem(vit, self.patch, self.pool, s, "the image side")
        {
            return Err(ModelError::VitShape(format!("{}: {problem}", self.name())));
        }
        Ok(())
    }

    /// The architecture behind the name. Each quick-zoo family spans more than
    /// 10× in parameters from tiny to base, at sizes two CPU cores fine-tune in
    /// seconds; EfficientNet-Lite is the published architecture (its SAME
    /// padding adapts to any input side). Fails for a size the family lacks.
    pub fn backbone(&self) -> Result<BackboneConfig, ModelError> {
        let unknown =
            || ModelError::UnknownModel(format!("{}-{}", self.family.name(), self.size.name()));
        // Position of the size in the quick zoo's tiny, small, base.
        let quick = || {
            Size::ALL
                .iter()
                .position(|&s| s == self.size)
                .ok_or_else(unknown)
        };
        Ok(match self.family {
            Family::ResNet => {
                let width = [8, 16, 32][quick()?];
                BackboneConfig::ResNet(ResNetConfig {
                    width,
                    blocks: [1, 1, 1],
                })
            }
            Family::Vit => {
                let (dim, depth, heads) = [(32, 2, 2), (64, 4, 4), (96, 4, 4)][quick()?];
                BackboneConfig::Vit(VitConfig {
                    dim,
                    depth,
                    heads,
                    mlp_ratio: 4,
                    patch: self.vit_patch(),
                    image_size: self.image_size,
                    pool: self.pool.unwrap_or(Pool::Cls),
                })
            }
            Family::EfficientNetLite => {
                BackboneConfig::EfficientNetLite(self.size.lite().ok_or_else(unknown)?.config())
            }
        })
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
        let config = self.backbone()?;
        let backbone = init_module_at(config.init(device), seed, "backbone")?;
        Network::with_new_head(backbone, config.feature_dim(), classes, seed, device)
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

    /// Parses a [`ModelSpec::name`] (e.g. `vit-small`, `efficientnet-lite1`)
    /// at the default input side.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ModelSpec::all()
            .into_iter()
            .chain(
                LiteVariant::ALL.map(|v| ModelSpec::lite(v).with_image_size(default_image_size())),
            )
            .find(|spec| spec.name() == name)
            .ok_or_else(|| ModelError::UnknownModel(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ViT's patch and pooling are its own: 4 px patches at 16 px make a
    /// 4×4 grid (16 position embeddings, no CLS token with mean pooling), and
    /// the same features come out; another family refuses them.
    #[test]
    fn vit_shape_sets_the_grid_and_pooling() {
        let vit = ModelSpec::new(Family::Vit, Size::Tiny).with_image_size(16);
        let shaped = vit.with_vit_shape(Some(4), Some(Pool::Mean));
        let BackboneConfig::Vit(default) = vit.backbone().unwrap() else {
            panic!("a ViT")
        };
        let BackboneConfig::Vit(config) = shaped.backbone().unwrap() else {
            panic!("a ViT")
        };
        assert_eq!((default.grid(), default.pool), (8, Pool::Cls));
        assert_eq!((config.grid(), config.pool), (4, Pool::Mean));
        assert_eq!(config.feature_dim(), default.feature_dim());
        // Position embeddings: 8×8 + CLS against 4×4, dim 32 each; the CLS
        // token; patch embedding 2×2×3 against 4×4×3 inputs per channel.
        let d = 32;
        let difference = (65 - 16) * d + d - (4 * 4 * 3 - 2 * 2 * 3) * d;
        assert_eq!(
            vit.num_params(7).unwrap() - shaped.num_params(7).unwrap(),
            difference
        );
        assert!(shaped.validate().is_ok());
        assert!(vit.with_vit_shape(Some(3), None).validate().is_err());
        let resnet = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(16);
        assert!(resnet
            .with_vit_shape(None, Some(Pool::Mean))
            .validate()
            .is_err());
    }
}
