//! Shared helpers for the train_* tests: a tiny separable multi-domain problem
//! on the CPU backend.
#![allow(dead_code)] // each test binary uses a different subset

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use oodcal::model::Network;
use oodcal::train::{CpuBackend, TrainBatch, TrainRng};
use rand::RngExt;

pub type B = CpuBackend;

pub fn device() -> Device<B> {
    Default::default()
}

/// One toy image: class `label` lights channel `label % 3` in the top half
/// (labels < 3) or the bottom half (labels ≥ 3); domain `domain` shifts every
/// pixel by a style offset; Gaussian-ish noise on top.
fn toy_image(rng: &mut TrainRng, label: usize, domain: usize, size: usize) -> Vec<f32> {
    let mut pixels = Vec::with_capacity(3 * size * size);
    for channel in 0..3 {
        for row in 0..size {
            for _ in 0..size {
                let top = row < size / 2;
                let lit = channel == label % 3 && top == (label < 3);
                let noise: f32 = rng.random::<f32>() + rng.random::<f32>() - 1.0;
                let style = 0.3 * domain as f32 - 0.3;
                pixels.push(if lit { 1.5 } else { -0.5 } + style + 0.5 * noise);
            }
        }
    }
    pixels
}

/// A batch of `batch` toy images with labels in `0..classes` (at most 6).
pub fn toy_batch(
    rng: &mut TrainRng,
    domain: usize,
    batch: usize,
    size: usize,
    classes: usize,
) -> TrainBatch {
    let mut images = Vec::with_capacity(batch * 3 * size * size);
    let mut labels = Vec::with_capacity(batch);
    for _ in 0..batch {
        let label = rng.random_range(0..classes);
        images.extend(toy_image(rng, label, domain, size));
        labels.push(label as u32);
    }
    TrainBatch {
        images,
        shape: [batch, 3, size, size],
        labels,
        soft: None,
    }
}

/// A batch source drawing toy batches (its only randomness is the trainer's RNG).
pub fn toy_source(
    batch: usize,
    size: usize,
    classes: usize,
) -> impl FnMut(usize, &mut TrainRng) -> anyhow::Result<TrainBatch> {
    move |domain, rng| Ok(toy_batch(rng, domain, batch, size, classes))
}

/// Fraction of rows of `logits` (`n × classes`) whose arg-max is the label.
pub fn accuracy(logits: &[f32], labels: &[u32], classes: usize) -> f64 {
    let hits = logits
        .chunks(classes)
        .zip(labels)
        .filter(|(row, &label)| {
            let best = (0..classes)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            best == label as usize
        })
        .count();
    hits as f64 / labels.len() as f64
}

/// Every float tensor of the model (parameters and BatchNorm statistics), flattened.
pub fn flat_params<Bk: Backend>(model: &Network<Bk>) -> Vec<f32> {
    struct Flat(Vec<f32>);
    impl<Bk: Backend> ModuleVisitor<Bk> for Flat {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Bk, D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.extend(data.to_vec::<f32>().unwrap());
        }
    }
    // BatchNorm running statistics lag one update behind until synchronised;
    // recording the module synchronises them (its clones share the state).
    let _ = model.clone().into_record();
    let mut flat = Flat(Vec::new());
    model.visit(&mut flat);
    flat.0
}

pub fn mean(values: &[f32]) -> f32 {
    values.iter().sum::<f32>() / values.len() as f32
}

/// Losses of `steps` SGD steps (lr 0.05, weight decay 1e-4) of `spec` built
/// with `seed` for `classes` classes, all on one synthetic batch of `batch`
/// images; step `i`'s dropout masks are keyed by `(seed, i)`.
pub fn synthetic_losses<Bk: burn::tensor::backend::AutodiffBackend>(
    spec: &oodcal::model::ModelSpec,
    classes: usize,
    batch: usize,
    seed: u64,
    steps: usize,
) -> Vec<f32> {
    let job = oodcal::bench::agree::StepsJob {
        specs: vec![*spec],
        classes,
        batch,
        seed,
        steps,
        lr: 0.05,
    };
    oodcal::bench::agree::trace::<Bk>(spec, &job, &Default::default()).0
}
