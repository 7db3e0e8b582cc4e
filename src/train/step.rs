//! One optimisation step: forward, cross-entropy, backward, optimizer update.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::AutodiffBackend;

use super::algorithm::{self, Algorithm};
use super::batch::StepInput;
use super::optim::Optim;
use crate::model::{Network, Noise};

/// Mean over the batch of −Σ_k target_k · log softmax(logits)_k.
///
/// With one-hot targets this is the usual cross-entropy; with Mixup/CutMix
/// targets it is the soft-target cross-entropy timm trains with.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 2>) -> Tensor<B, 1> {
    (log_softmax(logits, 1) * targets).sum_dim(1).mean().neg()
}

/// Moves a step's host input onto `device`.
pub fn to_tensors<B: Backend>(
    input: StepInput,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 2>) {
    let batch = input.shape[0];
    let classes = input.targets.len() / batch;
    let images = Tensor::from_data(TensorData::new(input.images, input.shape), device);
    let targets = Tensor::from_data(TensorData::new(input.targets, [batch, classes]), device);
    (images, targets)
}

/// Runs one step of `algorithm` at learning rate `lr`, its dropout and drop-connect masks
/// keyed by `noise`; returns the updated model and the loss before the update
/// (read back to the host, which also synchronises the device).
///
/// A non-finite loss is returned as `Err(loss)` without updating: the weights
/// would be poisoned, and the caller stops the run anyway.
pub fn train_step<B: AutodiffBackend>(
    model: Network<B>,
    optim: &mut Optim<B>,
    input: StepInput,
    algorithm: Algorithm,
    lr: f64,
    noise: Noise,
    device: &B::Device,
) -> Result<(Network<B>, f32), f32> {
    let rows = input.domain_rows.clone();
    let (images, targets) = to_tensors::<B>(input, device);
    let loss = algorithm::loss(&model, algorithm, images, targets, &rows, noise);
    let value = scalar(&loss);
    if !value.is_finite() {
        return Err(value);
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    Ok((optim.step(lr, model, grads), value))
}

/// The single value of a one-element tensor.
pub fn scalar<B: Backend>(tensor: &Tensor<B, 1>) -> f32 {
    tensor
        .to_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 data")[0]
}
