//! Backend agreement: the same SGD steps of the same model, from the same
//! weights on the same batch, on two backends. Where two backends train the
//! same run to different results, the first step whose loss parts says where
//! to look.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::model::{ModelSpec, Noise};
use crate::train::algorithm::Algorithm;
use crate::train::backend::{BackendJob, DeviceInfo};
use crate::train::eval::logits;
use crate::train::optim::{Optim, OptimizerSpec};
use crate::train::step::train_step;

use super::train::synthetic_input;

/// What one backend computed: each step's loss, then the trained model's
/// evaluation logits on the same batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepTrace {
    pub model: String,
    pub device: DeviceInfo,
    pub losses: Vec<f32>,
    pub logits: Vec<f32>,
}

/// `steps` SGD steps of each spec built with `seed`, on one synthetic batch.
#[derive(Clone, Debug)]
pub struct StepsJob {
    pub specs: Vec<ModelSpec>,
    pub classes: usize,
    pub batch: usize,
    pub seed: u64,
    pub steps: usize,
    /// SGD learning rate: large enough that the steps move every layer
    /// visibly, small enough that rounding differences are not amplified
    /// into different trajectories (EfficientNet-Lite at 16 px is sensitive).
    pub lr: f64,
}

impl BackendJob for StepsJob {
    type Output = Vec<StepTrace>;

    fn run<B: AutodiffBackend>(self, device: &B::Device, info: &DeviceInfo) -> Vec<StepTrace> {
        self.specs
            .iter()
            .map(|spec| {
                let (losses, logits) = trace::<B>(spec, &self, device);
                StepTrace {
                    model: spec.name(),
                    device: info.clone(),
                    losses,
                    logits,
                }
            })
            .collect()
    }
}

/// Losses of `job.steps` SGD steps (learning rate `job.lr`, weight decay 1e-4) of `spec` for
/// `job.classes` classes, all on one synthetic batch, and the trained model's
/// evaluation logits on that batch. Step `i`'s dropout masks are keyed by
/// `(seed, i)` and the weights are drawn on the host, so every backend starts
/// from the same model and draws the same masks.
pub fn trace<B: AutodiffBackend>(
    spec: &ModelSpec,
    job: &StepsJob,
    device: &B::Device,
) -> (Vec<f32>, Vec<f32>) {
    let mut model = spec
        .build::<B>(job.classes, job.seed, device)
        .expect("valid zoo spec");
    let mut optim = Optim::new(&OptimizerSpec::sgd(job.lr, 1e-4));
    let input = synthetic_input(job.batch, spec.image_size, job.classes);
    let mut losses = Vec::with_capacity(job.steps);
    for step in 0..job.steps {
        let noise = Noise::of_step(job.seed, step);
        let (next, loss) = train_step(
            model,
            &mut optim,
            input.clone(),
            Algorithm::Erm,
            job.lr,
            noise,
            device,
        )
        .expect("finite loss on synthetic data");
        model = next;
        losses.push(loss);
    }
    let logits = logits(
        &model.valid(),
        &input.images,
        input.shape,
        job.batch,
        device,
    );
    (losses, logits)
}

/// How far two traces of one model part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub model: String,
    pub a: String,
    pub b: String,
    /// max over steps of |a - b| / max(|a|, 1e-6).
    pub max_rel_loss_diff: f64,
    /// The first step whose relative loss difference exceeds `tolerance`.
    pub first_parting_step: Option<usize>,
    /// max |a - b| over the final logits, relative to the largest |a|.
    pub max_rel_logit_diff: f64,
    pub losses_a: Vec<f32>,
    pub losses_b: Vec<f32>,
    /// SHA-256 of each side's final logits (little-endian f32): equal digests
    /// mean the same bits, comparable across machines and runs.
    pub logits_a_sha256: String,
    pub logits_b_sha256: String,
}

/// Compares trace `b` with trace `a` (the reference) step by step.
pub fn compare(a: &StepTrace, b: &StepTrace, tolerance: f64) -> Agreement {
    let rel = |x: f32, y: f32| (x as f64 - y as f64).abs() / (x.abs() as f64).max(1e-6);
    let step_diffs: Vec<f64> = a
        .losses
        .iter()
        .zip(&b.losses)
        .map(|(&x, &y)| rel(x, y))
        .collect();
    let scale = a.logits.iter().fold(1e-6f64, |m, &x| m.max(x.abs() as f64));
    let logit_diff = a
        .logits
        .iter()
        .zip(&b.logits)
        .fold(0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
    Agreement {
        model: a.model.clone(),
        a: a.device.backend.to_string(),
        b: b.device.backend.to_string(),
        max_rel_loss_diff: step_diffs.iter().copied().fold(0.0, f64::max),
        first_parting_step: step_diffs.iter().position(|&d| d > tolerance),
        max_rel_logit_diff: logit_diff / scale,
        losses_a: a.losses.clone(),
        losses_b: b.losses.clone(),
        logits_a_sha256: bits_digest(&a.logits),
        logits_b_sha256: bits_digest(&b.logits),
    }
}

fn bits_digest(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    crate::checksum::sha256_bytes(&bytes)
}
