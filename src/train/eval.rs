//! Inference: logits for a set of images, for the metrics module.

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::model::Network;

/// Logits `[n, classes]` row-major for `images` (`[n, 3, h, w]` row-major,
/// normalised), computed `batch_size` images at a time.
///
/// Takes a model on a plain backend: BatchNorm then uses its running statistics
/// and no autodiff graph is recorded. For a model being trained, pass
/// `model.valid()` or use [`logits_of_trained`].
pub fn logits<B: Backend>(
    model: &Network<B>,
    images: &[f32],
    shape: [usize; 4],
    batch_size: usize,
    device: &B::Device,
) -> Vec<f32> {
    let [n, c, h, w] = shape;
    assert_eq!(
        images.len(),
        n * c * h * w,
        "images do not fill shape {shape:?}"
    );
    let per_image = c * h * w;
    let mut out = Vec::with_capacity(n * model.num_classes());
    for chunk in images.chunks(batch_size.max(1) * per_image) {
        let b = chunk.len() / per_image;
        let x = Tensor::<B, 4>::from_data(TensorData::new(chunk.to_vec(), [b, c, h, w]), device);
        let y = model.forward(x).into_data().convert::<f32>();
        out.extend(y.to_vec::<f32>().expect("f32 logits"));
    }
    out
}

/// [`logits`] for a model on an autodiff backend (evaluated through `valid()`).
pub fn logits_of_trained<B: AutodiffBackend>(
    model: &Network<B>,
    images: &[f32],
    shape: [usize; 4],
    batch_size: usize,
    device: &B::Device,
) -> Vec<f32> {
    logits(&model.valid(), images, shape, batch_size, device)
}
