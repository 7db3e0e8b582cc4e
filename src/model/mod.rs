//! The burn model zoo: a ResNet-style CNN and a small ViT at several sizes
//! (the quick study), EfficientNet-Lite0/1/2 with the ImageNet weights of the
//! reference PyTorch port (pacs-lite), a classifier head with the paper's
//! fine-tuning switch, and seeded initialisation that is identical on every backend.

pub mod architecture;
pub mod batch_norm;
pub mod conv;
pub mod efficientnet_lite;
pub mod head;
pub mod init;
pub mod module_path;
pub mod noise;
pub mod partial;
pub mod registry;
pub mod resnet;
pub mod timm;
pub mod vit;
pub mod zoo;

use burn::nn::Linear;
use burn::prelude::*;

pub use architecture::Architecture;
pub use efficientnet_lite::{EfficientNetLite, EfficientNetLiteConfig, LiteVariant};
pub use head::HeadMode;
pub use noise::Noise;
pub use resnet::{ResNet, ResNetConfig};
pub use vit::{Pool, Vit, VitConfig};
pub use zoo::{vit_shape_problem, BackboneConfig, Family, ModelSpec, Size};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error(
        "unknown model `{0}` (expected resnet or vit with size tiny, small or base, \
         or efficientnet-lite with size lite0, lite1 or lite2)"
    )]
    UnknownModel(String),
    #[error(
        "model {spec}: image size {size} is not supported (at least 16, and a multiple of 8 for a ViT)"
    )]
    ImageSize { spec: String, size: usize },
    #[error("{0}")]
    VitShape(String),
    #[error("a classifier needs at least one class")]
    NoClasses,
    #[error("the network already has an added linear head; use HeadMode::Replace to re-head it")]
    HeadAlreadyAdapted,
    #[error("no initialisation rule for parameter(s) {0}")]
    NoInitRule(String),
    #[error("only EfficientNet-Lite can be fine-tuned from a later block (trainable_blocks)")]
    NotBlockwise,
    #[error("trainable_blocks = {trainable}: the network has {blocks} blocks (1 to {blocks} can be trained)")]
    TrainableBlocks { trainable: usize, blocks: usize },
    #[error("no cut before block {first}: the network has {blocks} blocks")]
    NoSuchBlock { first: usize, blocks: usize },
}

/// Feature extractor of a zoo network.
// A network holds one backbone, so the largest variant's size (tensor
// handles, about 1.3 kB) is paid once per model: boxing it would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Backbone<B: Backend> {
    ResNet(ResNet<B>),
    Vit(Vit<B>),
    EfficientNetLite(EfficientNetLite<B>),
    /// One of the paper's timm architectures.
    Timm(timm::TimmBackbone<B>),
}

impl<B: Backend> Backbone<B> {
    /// Features; `noise` keys the stochastic layers of a training pass
    /// (`None`: none are applied, as in evaluation).
    pub fn forward(&self, images: Tensor<B, 4>, noise: Option<Noise>) -> Tensor<B, 2> {
        match self {
            Backbone::ResNet(net) => net.forward(images),
            Backbone::Vit(net) => net.forward(images),
            Backbone::EfficientNetLite(net) => net.forward(images, noise),
            Backbone::Timm(net) => net.forward(images),
        }
    }
}

/// Backbone → head → optional added linear layer (see [`HeadMode`]).
#[derive(Module, Debug)]
pub struct Network<B: Backend> {
    pub backbone: Backbone<B>,
    /// The classifier trained with the backbone (pre-training classes, or the task's
    /// classes after [`HeadMode::Replace`] or for from-scratch training).
    pub head: Linear<B>,
    /// Linear(head classes → task classes) added by [`HeadMode::AddLinear`].
    pub adapter: Option<Linear<B>>,
}

impl<B: Backend> Network<B> {
    /// Images `[b, 3, h, w]` (normalised) to logits `[b, classes]`, without
    /// dropout or drop-connect (evaluation).
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_noised(images, None)
    }

    /// Logits of a training pass whose stochastic layers are keyed by `noise`.
    pub fn forward_noised(&self, images: Tensor<B, 4>, noise: Option<Noise>) -> Tensor<B, 2> {
        self.classify(self.featurize(images, noise))
    }

    /// DomainBed's featurizer: everything below the last linear layer. With an
    /// added linear layer (the paper's head rule) that is the pre-trained
    /// network with its head, as in the authors' code.
    pub fn featurize(&self, images: Tensor<B, 4>, noise: Option<Noise>) -> Tensor<B, 2> {
        let features = self.backbone.forward(images, noise);
        match &self.adapter {
            Some(_) => self.head.forward(features),
            None => features,
        }
    }

    /// DomainBed's classifier: the last linear layer, on [`Self::featurize`]'s output.
    pub fn classify(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.adapter {
            Some(adapter) => adapter.forward(features),
            None => self.head.forward(features),
        }
    }

    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        head::linear_out(self.adapter.as_ref().unwrap_or(&self.head))
    }
}
