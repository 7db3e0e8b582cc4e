//! Training throughput: images per second through forward, backward and an
//! optimizer step, as `benches/train_peer.py` measures the same models in PyTorch.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::backend::AutodiffBackend;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::{ModelSpec, Noise};
use crate::train::backend::{BackendJob, DeviceInfo};
use crate::train::batch::StepInput;
use crate::train::optim::{Optim, OptimizerSpec};
use crate::train::step::train_step;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub model: String,
    pub params: usize,
    pub device: DeviceInfo,
    pub batch: usize,
    pub image_size: usize,
    /// Timed steps (after the untimed warm-up steps).
    pub steps: usize,
    pub seconds: f64,
    pub images_per_sec: f64,
}

/// Benchmarks each spec on the backend [`super::backend::dispatch`] picks.
#[derive(Clone, Debug)]
pub struct BenchJob {
    pub specs: Vec<ModelSpec>,
    pub batch: usize,
    pub classes: usize,
    pub warmup: usize,
    pub steps: usize,
}

impl BackendJob for BenchJob {
    type Output = Vec<Throughput>;

    fn run<B: AutodiffBackend>(self, device: &B::Device, info: &DeviceInfo) -> Vec<Throughput> {
        self.specs
            .iter()
            .map(|spec| throughput::<B>(spec, &self, device, info))
            .collect()
    }
}

/// A fixed random batch: throughput does not depend on the pixel values.
pub fn synthetic_input(batch: usize, size: usize, classes: usize) -> StepInput {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let images = (0..batch * 3 * size * size)
        .map(|_| rng.random::<f32>() - 0.5)
        .collect();
    let mut targets = vec![0.0; batch * classes];
    for row in 0..batch {
        targets[row * classes + rng.random_range(0..classes)] = 1.0;
    }
    StepInput {
        images,
        shape: [batch, 3, size, size],
        targets,
    }
}

/// Times `job.steps` SGD (momentum 0.9) steps of `spec` after `job.warmup` untimed ones.
pub fn throughput<B: AutodiffBackend>(
    spec: &ModelSpec,
    job: &BenchJob,
    device: &B::Device,
    info: &DeviceInfo,
) -> Throughput {
    let mut model = spec
        .build::<B>(job.classes, 0, device)
        .expect("valid zoo spec");
    let params = model.num_params();
    let mut optim = Optim::new(&OptimizerSpec::sgd(0.01, 1e-4));
    let input = synthetic_input(job.batch, spec.image_size, job.classes);
    let mut start = Instant::now();
    for i in 0..job.warmup + job.steps {
        if i == job.warmup {
            start = Instant::now();
        }
        let noise = Noise::of_step(0, i);
        let step = train_step(model, &mut optim, input.clone(), 0.01, noise, device);
        model = step.expect("finite loss on synthetic data").0;
    }
    // The step reads its loss back, but the update after it may still be queued on a GPU.
    let _ = model.head.weight.val().into_data();
    let seconds = start.elapsed().as_secs_f64();
    Throughput {
        model: spec.name(),
        params,
        device: info.clone(),
        batch: job.batch,
        image_size: spec.image_size,
        steps: job.steps,
        seconds,
        images_per_sec: (job.batch * job.steps) as f64 / seconds,
    }
}
