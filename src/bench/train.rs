//! Training and evaluation throughput: images per second through forward,
//! backward and an optimizer step, and through the forward pass alone, as
//! `benches/train_peer.py` measures the same models in PyTorch.

use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::timm::TimmArch;
use crate::model::{Family, LiteVariant, ModelError, ModelSpec, Network, Noise, Pool};
use crate::train::algorithm::Algorithm;
use crate::train::backend::{BackendJob, DeviceInfo};
use crate::train::batch::StepInput;
use crate::train::eval::logits;
use crate::train::optim::{Optim, OptimizerSpec};
use crate::train::step::train_step;

/// A model the throughput benchmark builds: one of the zoo's (and the
/// pacs-lite Lites), or a timm architecture at a given side (burn-initialised:
/// throughput does not depend on the weights).
#[derive(Clone, Debug)]
pub enum BenchModel {
    Zoo(ModelSpec),
    Timm {
        name: String,
        arch: TimmArch,
        image_size: usize,
    },
}

impl BenchModel {
    pub fn name(&self) -> String {
        match self {
            BenchModel::Zoo(spec) => spec.name(),
            BenchModel::Timm { name, .. } => name.clone(),
        }
    }

    pub fn image_size(&self) -> usize {
        match self {
            BenchModel::Zoo(spec) => spec.image_size,
            BenchModel::Timm { image_size, .. } => *image_size,
        }
    }

    /// A zoo ViT with this patch side and pooling (as a manifest's `[[model]]`
    /// sets them); every other model as it is. Fails for a patch that does not
    /// tile the image side.
    pub fn with_vit_shape(
        self,
        patch: Option<usize>,
        pool: Option<Pool>,
    ) -> Result<BenchModel, ModelError> {
        match self {
            BenchModel::Zoo(spec) if spec.family == Family::Vit => {
                let shaped = spec.with_vit_shape(patch, pool);
                shaped.validate()?;
                Ok(BenchModel::Zoo(shaped))
            }
            other => Ok(other),
        }
    }

    fn build<B: AutodiffBackend>(&self, classes: usize, device: &B::Device) -> Network<B> {
        match self {
            BenchModel::Zoo(spec) => spec.build::<B>(classes, 0, device).expect("valid zoo spec"),
            BenchModel::Timm { arch, .. } => arch.init_network::<B>(classes, device),
        }
    }
}

/// The zoo's models named in `names` (all when empty), and any timm tag or
/// architecture name (`resnet50`, `vit_tiny_patch16_224`), at side `image_size`.
pub fn bench_models_named(names: &[String], image_size: usize) -> Result<Vec<BenchModel>, String> {
    if names.is_empty() {
        let all = specs_named(&[], image_size)?;
        return Ok(all.into_iter().map(BenchModel::Zoo).collect());
    }
    names
        .iter()
        .map(|name| match TimmArch::from_tag(name) {
            Some(arch) => Ok(BenchModel::Timm {
                name: name.clone(),
                arch: arch.at_image_size(image_size),
                image_size,
            }),
            None => specs_named(std::slice::from_ref(name), image_size)
                .map(|mut one| BenchModel::Zoo(one.remove(0))),
        })
        .collect()
}

impl Throughput {
    /// The figure for `job.steps` timed steps of `model` that took `seconds`.
    fn of(
        model: &BenchModel,
        phase: Phase,
        params: usize,
        info: &DeviceInfo,
        job: &BenchJob,
        seconds: f64,
    ) -> Throughput {
        Throughput {
            model: model.name(),
            phase,
            params,
            device: info.clone(),
            batch: job.batch,
            image_size: model.image_size(),
            steps: job.steps,
            seconds,
            images_per_sec: (job.batch * job.steps) as f64 / seconds,
            peak_rss_mib: super::peak_rss_mib(),
        }
    }
}

/// What a throughput figure times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Forward, cross-entropy, backward and an SGD (momentum) step.
    Train,
    /// The forward pass alone, BatchNorm on running statistics, no autodiff graph.
    Eval,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub model: String,
    pub phase: Phase,
    pub params: usize,
    pub device: DeviceInfo,
    pub batch: usize,
    pub image_size: usize,
    /// Timed steps (after the untimed warm-up steps).
    pub steps: usize,
    pub seconds: f64,
    pub images_per_sec: f64,
    /// Peak resident memory of the process so far (run one model per process
    /// for a per-model figure).
    pub peak_rss_mib: f64,
}

/// Benchmarks each spec on the backend [`super::backend::dispatch`] picks.
#[derive(Clone, Debug)]
pub struct BenchJob {
    pub models: Vec<BenchModel>,
    pub batch: usize,
    pub classes: usize,
    pub warmup: usize,
    pub steps: usize,
    /// Also time the forward pass alone (one figure per phase and model).
    pub eval: bool,
}

impl BackendJob for BenchJob {
    type Output = Vec<Throughput>;

    fn run<B: AutodiffBackend>(self, device: &B::Device, info: &DeviceInfo) -> Vec<Throughput> {
        let mut out = Vec::new();
        for model in &self.models {
            out.push(throughput::<B>(model, &self, device, info));
            if self.eval {
                out.push(eval_throughput::<B>(model, &self, device, info));
            }
        }
        out
    }
}

/// The benchmarkable models (the zoo and EfficientNet-Lite0/1/2) at side
/// `image_size`, those named in `names` (all when empty), in `names`' order.
pub fn specs_named(names: &[String], image_size: usize) -> Result<Vec<ModelSpec>, String> {
    let all: Vec<ModelSpec> = ModelSpec::all()
        .into_iter()
        .chain(LiteVariant::ALL.map(ModelSpec::lite))
        .map(|spec| spec.with_image_size(image_size))
        .collect();
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|s| s.name() == *name)
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<String> = all.iter().map(ModelSpec::name).collect();
                    format!("unknown model `{name}` (known: {})", known.join(", "))
                })
        })
        .collect()
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
        domain_rows: vec![batch],
    }
}

/// Times `job.steps` SGD (momentum 0.9) steps of `bench` after `job.warmup` untimed ones.
pub fn throughput<B: AutodiffBackend>(
    bench: &BenchModel,
    job: &BenchJob,
    device: &B::Device,
    info: &DeviceInfo,
) -> Throughput {
    let mut model = bench.build::<B>(job.classes, device);
    let params = model.num_params();
    let mut optim = Optim::new(&OptimizerSpec::sgd(0.01, 1e-4));
    let input = synthetic_input(job.batch, bench.image_size(), job.classes);
    let mut start = Instant::now();
    for i in 0..job.warmup + job.steps {
        if i == job.warmup {
            start = Instant::now();
        }
        let noise = Noise::of_step(0, i);
        let step = train_step(
            model,
            &mut optim,
            input.clone(),
            Algorithm::Erm,
            0.01,
            noise,
            device,
        );
        model = step.expect("finite loss on synthetic data").0;
    }
    // The step reads its loss back, but the update after it may still be queued on a GPU.
    let _ = model.head.weight.val().into_data();
    let seconds = start.elapsed().as_secs_f64();
    Throughput::of(bench, Phase::Train, params, info, job, seconds)
}

/// Times `job.steps` forward passes of a fresh `bench` in evaluation mode
/// (`valid()`: no autodiff graph) after `job.warmup` untimed ones.
pub fn eval_throughput<B: AutodiffBackend>(
    bench: &BenchModel,
    job: &BenchJob,
    device: &B::Device,
    info: &DeviceInfo,
) -> Throughput {
    let model = bench.build::<B>(job.classes, device);
    let params = model.num_params();
    let model = model.valid();
    let input = synthetic_input(job.batch, bench.image_size(), job.classes);
    let mut start = Instant::now();
    for i in 0..job.warmup + job.steps {
        if i == job.warmup {
            start = Instant::now();
        }
        // What evaluation runs: upload, forward, read the logits back (which
        // also waits for a GPU).
        let _ = logits(&model, &input.images, input.shape, job.batch, device);
    }
    let seconds = start.elapsed().as_secs_f64();
    Throughput::of(bench, Phase::Eval, params, info, job, seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_names_mix_the_zoo_and_timm_architectures_in_order() {
        let names = ["vit_tiny_patch16_224", "resnet-tiny", "resnet50"].map(String::from);
        let models = bench_models_named(&names, 64).unwrap();
        let named: Vec<(String, usize)> =
            models.iter().map(|m| (m.name(), m.image_size())).collect();
        assert_eq!(
            named,
            [
                ("vit_tiny_patch16_224".to_string(), 64),
                ("resnet-tiny".to_string(), 64),
                ("resnet50".to_string(), 64)
            ]
        );
        // The ViT's position embeddings are laid out for the benchmark's side.
        let BenchModel::Timm {
            arch: TimmArch::Vit(vit),
            ..
        } = &models[0]
        else {
            panic!("{:?}", models[0]);
        };
        assert_eq!(vit.image_size, 64);
        assert!(bench_models_named(&["resnet-huge".to_string()], 64).is_err());
        assert_eq!(bench_models_named(&[], 32).unwrap().len(), 9);
    }

    #[test]
    fn the_vit_shape_reaches_zoo_vits_only() {
        let names = ["vit-tiny", "resnet-tiny", "vit_tiny_patch16_224"].map(String::from);
        let shaped: Vec<BenchModel> = bench_models_named(&names, 16)
            .unwrap()
            .into_iter()
            .map(|m| m.with_vit_shape(Some(4), Some(Pool::Mean)).unwrap())
            .collect();
        let spec = |m: &BenchModel| match m {
            BenchModel::Zoo(spec) => Some((spec.patch, spec.pool)),
            BenchModel::Timm { .. } => None,
        };
        assert_eq!(spec(&shaped[0]), Some((Some(4), Some(Pool::Mean))));
        assert_eq!(spec(&shaped[1]), Some((None, None)));
        assert_eq!(spec(&shaped[2]), None);
        // A patch that does not tile the side is refused, not built.
        let vit = bench_models_named(&names[..1], 16).unwrap().remove(0);
        assert!(vit.with_vit_shape(Some(3), None).is_err());
    }
}
