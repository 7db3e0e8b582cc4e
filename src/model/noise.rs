//! The randomness of a training forward pass (dropout, drop-connect), keyed.
//!
//! burn's random tensors draw from one process-wide generator, which
//! `Backend::seed` resets. Two runs trained side by side (`--jobs 2`) then
//! interleave their draws in whatever order the threads reach them, and a
//! resumed run cannot replay draws made before its checkpoint, so the masks,
//! and with them the results, depend on scheduling. A [`Noise`] key instead
//! derives every mask from the run's seed, the step and the layer: the same
//! run gives the same masks wherever and however it is trained.

use burn::prelude::*;

use crate::data::rng::{hash_key, DetRng};

/// Salt of training-noise keys, apart from every other keyed stream.
const NOISE_SALT: u64 = 0x6E6F_6973_6500_0001;

/// The key of one training step's stochastic layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noise(u64);

impl Noise {
    /// The noise of `step` (0-based) of a run seeded `seed`.
    pub fn of_step(seed: u64, step: usize) -> Self {
        Noise(hash_key(&[NOISE_SALT, seed, step as u64]))
    }

    /// The key of layer `layer` within this step.
    pub fn layer(self, layer: u64) -> Self {
        Noise(hash_key(&[self.0, layer]))
    }

    /// `[n]` samples of Bernoulli(`keep`), as 0.0 or 1.0, on `device`.
    pub fn bernoulli<B: Backend>(self, n: usize, keep: f64, device: &B::Device) -> Tensor<B, 1> {
        let mut rng = DetRng::from_key(&[self.0]);
        let mask: Vec<f32> = (0..n)
            .map(|_| if rng.f64() < keep { 1.0 } else { 0.0 })
            .collect();
        Tensor::from_data(TensorData::new(mask, [n]), device)
    }
}
