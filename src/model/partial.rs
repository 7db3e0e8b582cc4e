//! Partial fine-tuning: a network trained from one of its later blocks on,
//! the layers below frozen.
//!
//! The frozen layers run once per image, without augmentation and with their
//! BatchNorm running statistics (as in evaluation); their output is then the
//! input of every training step and evaluation, so a step costs only the
//! trained blocks. EfficientNet-Lite only: its blocks are one sequence whose
//! every cut leaves a feature map.

use burn::module::{ModuleVisitor, Param};
use burn::nn::BatchNorm;
use burn::prelude::*;
use sha2::{Digest, Sha256};

use super::{Backbone, EfficientNetLite, ModelError, Network};

impl<B: Backend> Network<B> {
    /// Number of blocks the network can be cut between, where it has any.
    pub fn blocks(&self) -> Option<usize> {
        match &self.backbone {
            Backbone::EfficientNetLite(net) => Some(net.blocks.len()),
            _ => None,
        }
    }

    /// The block a training step starts at: the last `trainable` blocks are
    /// trained with the head conv and the classifier, the layers below frozen.
    pub fn first_trained_block(&self, trainable: usize) -> Result<usize, ModelError> {
        let blocks = self.blocks().ok_or(ModelError::NotBlockwise)?;
        match trainable {
            1.. if trainable <= blocks => Ok(blocks - trainable),
            _ => Err(ModelError::TrainableBlocks { trainable, blocks }),
        }
    }

    /// The frozen layers' output for `images`: the input of block `first`.
    pub fn frozen_prefix(
        &self,
        images: Tensor<B, 4>,
        first: usize,
    ) -> Result<Tensor<B, 4>, ModelError> {
        Ok(self.cut_at(first)?.prefix(images, first))
    }

    /// The network's blocks, where it can be cut before block `first`.
    fn cut_at(&self, first: usize) -> Result<&EfficientNetLite<B>, ModelError> {
        let Backbone::EfficientNetLite(net) = &self.backbone else {
            return Err(ModelError::NotBlockwise);
        };
        match first <= net.blocks.len() {
            true => Ok(net),
            false => Err(ModelError::NoSuchBlock {
                first,
                blocks: net.blocks.len(),
            }),
        }
    }

    /// SHA-256 of the frozen layers below block `first`: their weights and
    /// BatchNorm running statistics, so features computed by one network
    /// serve any other whose frozen layers are the same (every seed's run
    /// of one pre-trained model), and never one whose layers differ.
    pub fn frozen_digest(&self, first: usize) -> Result<String, ModelError> {
        let net = self.cut_at(first)?;
        let mut hash = Hasher(Sha256::new());
        hash.0.update(first.to_le_bytes());
        net.conv_stem.visit(&mut hash);
        net.bn0.visit(&mut hash);
        hash.running_statistics(&net.bn0);
        for block in net.blocks.iter().take(first) {
            block.visit(&mut hash);
            let norms = [block.bn0.as_ref(), Some(&block.bn1), Some(&block.bn2)];
            for bn in norms.into_iter().flatten() {
                hash.running_statistics(bn);
            }
        }
        Ok(hex::encode(hash.0.finalize()))
    }

    /// The network whose `forward` takes the input of block `first`
    /// ([`Self::frozen_prefix`]'s output) instead of images. The layers below
    /// stay in the module (so the run's weights stay whole) but take no part
    /// in a step, so they get no gradient and the optimiser leaves them as
    /// they are.
    pub fn start_at_block(self, first: usize) -> Result<Self, ModelError> {
        self.cut_at(first)?;
        let Backbone::EfficientNetLite(mut net) = self.backbone else {
            unreachable!("cut_at accepts EfficientNet-Lite only")
        };
        net.first_block = first;
        Ok(Self {
            backbone: Backbone::EfficientNetLite(net),
            ..self
        })
    }
}

/// Hashes every float tensor it visits (shape, then values as little-endian f32).
struct Hasher(Sha256);

impl Hasher {
    fn tensor<B: Backend, const D: usize>(&mut self, tensor: &Tensor<B, D>) {
        for dim in tensor.dims() {
            self.0.update((dim as u64).to_le_bytes());
        }
        let data = tensor.to_data().convert::<f32>();
        for v in data.as_slice::<f32>().expect("converted to f32") {
            self.0.update(v.to_le_bytes());
        }
    }

    /// A BatchNorm's running statistics, which the parameter visit skips.
    fn running_statistics<B: Backend>(&mut self, bn: &BatchNorm<B>) {
        self.tensor(&bn.running_mean.value());
        self.tensor(&bn.running_var.value());
    }
}

impl<B: Backend> ModuleVisitor<B> for Hasher {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.tensor(&param.val());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelSpec, Noise};
    use crate::train::CpuBackend;
    use burn::module::AutodiffModule;
    use burn::tensor::Distribution;

    fn lite0() -> Network<CpuBackend> {
        let spec: ModelSpec = "efficientnet-lite0".parse().unwrap();
        spec.with_image_size(32)
            .build::<CpuBackend>(7, 3, &Default::default())
            .unwrap()
    }

    #[test]
    fn the_cut_network_on_the_prefix_gives_the_whole_networks_logits() {
        let net = lite0();
        let blocks = net.blocks().unwrap();
        let first = net.first_trained_block(2).unwrap();
        assert_eq!(first, blocks - 2);
        let device = Default::default();
        let images = Tensor::random([3, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let inner = net.valid();
        let whole = inner.forward(images.clone());
        let prefix = inner.frozen_prefix(images, first).unwrap();
        let cut = net.start_at_block(first).unwrap().valid().forward(prefix);
        whole.into_data().assert_eq(&cut.into_data(), true);
    }

    #[test]
    fn a_training_step_from_a_later_block_leaves_the_frozen_layers_without_gradient() {
        let net = lite0();
        let first = net.first_trained_block(1).unwrap();
        let device = Default::default();
        let images = Tensor::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let prefix = net.valid().frozen_prefix(images, first).unwrap();
        let cut = net.start_at_block(first).unwrap();
        let Backbone::EfficientNetLite(lite) = &cut.backbone else {
            unreachable!()
        };
        let (stem, last) = (
            lite.conv_stem.weight.clone(),
            lite.blocks[first].project_conv.weight.clone(),
        );
        let input = Tensor::from_inner(prefix);
        let grads = cut
            .forward_noised(input, Some(Noise::of_step(0, 0)))
            .sum()
            .backward();
        assert!(stem.grad(&grads).is_none(), "the stem is frozen");
        assert!(last.grad(&grads).is_some(), "the last block is trained");
    }

    #[test]
    fn the_frozen_digest_follows_the_frozen_layers_only() {
        let (a, b) = (lite0(), lite0());
        let first = a.first_trained_block(1).unwrap();
        assert_eq!(
            a.frozen_digest(first).unwrap(),
            b.frozen_digest(first).unwrap()
        );
        assert_ne!(
            a.frozen_digest(first).unwrap(),
            a.frozen_digest(first - 1).unwrap()
        );
        let spec: ModelSpec = "efficientnet-lite0".parse().unwrap();
        let other_seed = spec
            .with_image_size(32)
            .build::<CpuBackend>(7, 4, &Default::default())
            .unwrap();
        assert_ne!(
            a.frozen_digest(first).unwrap(),
            other_seed.frozen_digest(first).unwrap()
        );
        // A new head (a run's own draw) leaves the frozen layers as they were.
        let reheaded = b.adapt_head(crate::model::HeadMode::Replace, 5, 9).unwrap();
        assert_eq!(
            a.frozen_digest(first).unwrap(),
            reheaded.frozen_digest(first).unwrap()
        );
    }

    #[test]
    fn networks_without_blocks_and_out_of_range_counts_are_refused() {
        let spec: ModelSpec = "resnet-tiny".parse().unwrap();
        let resnet = spec
            .with_image_size(16)
            .build::<CpuBackend>(7, 0, &Default::default())
            .unwrap();
        assert_eq!(resnet.first_trained_block(1), Err(ModelError::NotBlockwise));
        let net = lite0();
        let blocks = net.blocks().unwrap();
        let cut = Err(ModelError::NoSuchBlock {
            first: blocks + 1,
            blocks,
        });
        assert_eq!(net.cut_at(blocks + 1).map(|_| ()), cut);
        assert_eq!(resnet.cut_at(0).map(|_| ()), Err(ModelError::NotBlockwise));
        for trainable in [0, blocks + 1] {
            assert_eq!(
                net.first_trained_block(trainable),
                Err(ModelError::TrainableBlocks { trainable, blocks })
            );
        }
    }
}
