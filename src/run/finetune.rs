//! One fine-tuning run of the paper's protocol, on any backend: build the
//! network (pre-trained weights + the task head, or from scratch), train with
//! ERM, evaluate every K steps, write the record.
//!
//! A run folder holds, while the run is in progress, `checkpoint.bin` (model,
//! optimizer, step, RNG) and `progress.json` (evaluations so far, wall time);
//! an interrupted run resumes from them. Both are removed once the record is
//! written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::benchmark::{EvalSets, EvalSplit, Trial};
use super::evaluate::{evaluation, final_metrics};
use super::frozen::{self, FeatureSource, FrozenFeatures};
use super::sources::PoolSource;
use super::start::Start;
use crate::data::augment::FineTuneAug;
use crate::data::batch::Transform;
use crate::data::ImageSet;
use crate::model::registry::{timm_model, TimmModel};
use crate::model::timm::TimmArch;
use crate::model::{Backbone, HeadMode, Network};
use crate::record::predictions::{self, EvalLogits, SplitLogits};
use crate::record::store::write_record;
use crate::record::{CodeVersion, Evaluation, ModelInfo, RunRecord, RunStatus, RECORD_SCHEMA};
use crate::study::PlannedRun;
use crate::train::{
    load_weights, logits_of_trained, mean_loss, train, BackendJob, BatchSource, DeviceInfo,
    OptimizerSpec, TrainConfig, TrainError, TrainRng,
};
use crate::weights::read_safetensors;

pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
const PROGRESS_FILE: &str = "progress.json";
/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 256;

/// Everything one run needs; `run::<B>` executes it on the chosen backend.
pub struct FineTuneJob<'a> {
    pub run: &'a PlannedRun,
    pub study: &'a str,
    pub set: &'a ImageSet,
    pub resolution: usize,
    pub trial: &'a Trial,
    pub start: Start,
    /// `runs/<study>/<run-id>/`.
    pub dir: PathBuf,
    pub code: CodeVersion,
    /// Digests of every input (the spec's plus the split lists).
    pub inputs: std::collections::BTreeMap<String, String>,
    /// Advanced once per training step.
    pub bar: ProgressBar,
}

/// What survives an interruption besides the checkpoint.
#[derive(Default, Serialize, Deserialize)]
struct Progress {
    evaluations: Vec<Evaluation>,
    wall_seconds: f64,
}

/// A run that stopped on request (see [`crate::train::stop`]) after `step`
/// steps, its checkpoint and progress kept for the next attempt.
#[derive(Debug, thiserror::Error)]
#[error("stopped on request after step {step}; checkpoint kept")]
pub struct Stopped {
    pub step: usize,
}

impl BackendJob for FineTuneJob<'_> {
    type Output = Result<RunRecord>;

    fn run<B: AutodiffBackend>(self, device: &B::Device, info: &DeviceInfo) -> Result<RunRecord> {
        let started = Instant::now();
        let spec = &self.run.spec;
        let checkpoint = self.dir.join(CHECKPOINT_FILE);
        let progress_file = self.dir.join(PROGRESS_FILE);
        let progress = read_progress(&progress_file, &checkpoint)?;
        let model = self.build::<B>(device)?;
        let params = model.num_params();
        let (model, frozen) = self.partial(model, device)?;
        let config = self.config(&checkpoint);
        let batch = spec.batch_per_domain as usize;
        let pools = self.trial.train.clone();
        let (inner, frozen_eval) = match frozen {
            Some(features) => (
                Source::Features(FeatureSource::new(
                    features.clone(),
                    pools,
                    batch,
                    spec.seed,
                )),
                Some(features.eval_sets(&self.trial.splits)),
            ),
            None => {
                let aug = Transform::FineTune(FineTuneAug::default());
                let images =
                    PoolSource::new(self.set, pools, batch, aug, self.resolution, spec.seed);
                (Source::Images(images), None)
            }
        };
        let eval_sets = match (&frozen_eval, &self.trial.eval) {
            (Some(sets), _) | (None, Some(sets)) => sets,
            (None, None) => anyhow::bail!("trial {} has no evaluation images", spec.seed),
        };
        let mut source = Ticking {
            inner,
            bar: &self.bar,
        };
        let mut evaluations = progress.evaluations;
        let mut last: Option<EvalLogits> = None;
        let wall_before = progress.wall_seconds;
        let on_eval = |step: usize, model: &Network<B>| -> Result<()> {
            let logits = eval_logits(model, eval_sets, device);
            evaluations.retain(|e| e.step < step);
            // The mean loss is filled in from the loss history once training ends.
            evaluations.push(evaluation(step, 0.0, &logits)?);
            let so_far = Progress {
                evaluations: evaluations.clone(),
                wall_seconds: wall_before + started.elapsed().as_secs_f64(),
            };
            crate::atomic::write(&progress_file, &serde_json::to_vec(&so_far)?)
                .with_context(|| format!("{}: cannot write", progress_file.display()))?;
            last = Some(logits);
            Ok(())
        };
        let outcome = train(model, &config, &mut source, on_eval, device);
        if let Ok(Some(note)) = outcome.as_ref().map(|o| &o.set_aside) {
            crate::progress::println(&format!("warning: {note}"));
        }
        let mut record = self.record(params, info, wall_before + started.elapsed().as_secs_f64());
        match outcome {
            Ok(outcome) if !outcome.finished => {
                return Err(anyhow::Error::new(Stopped { step: outcome.step }));
            }
            Ok(outcome) => {
                let logits = match last {
                    Some(l) => l,
                    None => eval_logits(&outcome.model, eval_sets, device),
                };
                fill_losses(&mut evaluations, &outcome.losses);
                let final_eval = match evaluations.last() {
                    Some(e) if e.step == outcome.step => e.clone(),
                    _ => evaluation(
                        outcome.step,
                        mean_loss(&outcome.losses, 0, outcome.step),
                        &logits,
                    )?,
                };
                record.resumed_from = outcome.resumed_from;
                record.final_metrics = Some(final_metrics(final_eval, &logits)?);
                record.evaluations = evaluations;
                write_record(&self.dir, &mut record, Some(&predictions::to_csv(&logits)))?;
            }
            Err(TrainError::NonFinite { step, loss }) => {
                evaluations.retain(|e| e.step < step);
                record.evaluations = evaluations;
                record.status = RunStatus::Failed {
                    step,
                    reason: format!("loss is {loss} at step {step}"),
                };
                write_record(&self.dir, &mut record, None)?;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("run {} failed", self.run.short_id()));
            }
        }
        // The record is committed; the resume state is no longer needed.
        let _ = std::fs::remove_file(&checkpoint);
        let _ = std::fs::remove_file(&progress_file);
        Ok(record)
    }
}

impl FineTuneJob<'_> {
    /// The network the run starts from (its initialisation is seeded by the trial seed).
    fn build<B: AutodiffBackend>(&self, device: &B::Device) -> Result<Network<B>> {
        let spec = || self.run.spec.model.model_spec(self.resolution as u32);
        let seed = self.run.spec.seed;
        let classes = self.set.class_names.len();
        let head = self.run.spec.head;
        let model = match &self.start {
            Start::Scratch => spec()?.build::<B>(classes, seed, device)?,
            Start::Pretrained {
                path, classes: pre, ..
            } => {
                let template = spec()?.build::<B>(*pre, seed, device)?;
                load_weights(path, template, device)?.adapt_head(head, classes, seed)?
            }
            Start::Weights { path, input } => {
                let variant = spec()?
                    .lite_variant()
                    .with_context(|| format!("weights `{input}` fit EfficientNet-Lite only"))?;
                let network = variant.config().load_pretrained::<B>(path, device)?;
                network.adapt_head(head, classes, seed)?
            }
            Start::Timm { path, model, arch } => {
                timm_network::<B>(path, model, arch, head, classes, seed, device)?
            }
        };
        Ok(model)
    }

    /// Under partial fine-tuning, the network cut at its first trained block
    /// and the frozen layers' features (shared by the runs of this process
    /// with the same frozen layers); otherwise the network as it is.
    fn partial<B: AutodiffBackend>(
        &self,
        model: Network<B>,
        device: &B::Device,
    ) -> Result<(Network<B>, Option<Arc<FrozenFeatures>>)> {
        let Some(trainable) = self.run.spec.trainable_blocks else {
            return Ok((model, None));
        };
        let first = model.first_trained_block(trainable as usize)?;
        let dataset = self.run.spec.benchmark.dataset.get_ref();
        let key = format!(
            "{}:{}px:{}",
            model.frozen_digest(first)?,
            self.resolution,
            self.inputs.get(dataset).map_or("unpinned", String::as_str)
        );
        let announce = || {
            crate::progress::println(&format!(
                "{}: computing the frozen layers' output for {} images (blocks below {first}, \
                 once per process)",
                self.run.short_id(),
                self.set.len()
            ))
        };
        let frozen = model.valid();
        let features = frozen::shared(&key, &self.set.labels, announce, |indices| {
            FrozenFeatures::compute_chunk(
                &frozen,
                first,
                self.set,
                self.resolution,
                device,
                indices,
            )
        })?;
        Ok((model.start_at_block(first)?, Some(features)))
    }

    fn config(&self, checkpoint: &Path) -> TrainConfig {
        let s = &self.run.spec;
        let (lr, wd) = (s.learning_rate, s.weight_decay);
        let optimizer = OptimizerSpec::of_kind(s.optimizer, lr, wd, s.momentum);
        let every = s.eval_every as usize;
        TrainConfig {
            optimizer,
            ..TrainConfig::erm(s.steps as usize, self.trial.train.len(), lr, wd, s.seed)
        }
        .with_algorithm(s.algorithm)
        .with_eval_every(every)
        .with_checkpoint(checkpoint, every)
        .with_checkpoint_owner(&self.run.id)
    }

    /// The record without results (filled in by the caller).
    fn record(&self, params: usize, info: &DeviceInfo, wall_seconds: f64) -> RunRecord {
        let s = &self.run.spec;
        let pre = self.start.pretraining();
        // A timm tag's family is the authors' (`ConvNeXt`), its size timm's
        // architecture name (`convnext_tiny`).
        let (family, size) = match s.model.timm.as_ref().and_then(|t| timm_model(t.get_ref())) {
            Some(m) => (m.family.clone(), m.arch_name().to_string()),
            None => (s.model.family.clone(), s.model.size.clone()),
        };
        RunRecord {
            schema: RECORD_SCHEMA.to_string(),
            run_id: self.run.id.clone(),
            study: self.study.to_string(),
            status: RunStatus::Completed,
            spec: s.to_value(),
            model: ModelInfo {
                label: s.model.name.get_ref().clone(),
                family,
                size,
                params,
                pretraining: pre.label,
                pretrain_images: pre.images,
                recipe: pre.recipe,
                algorithm: s.algorithm,
                optimizer: s.optimizer.name().to_string(),
                learning_rate: s.learning_rate,
                weight_decay: s.weight_decay,
                seed: s.seed,
            },
            inputs: self.inputs.clone(),
            code: self.code.clone(),
            device: info.clone(),
            wall_seconds,
            resumed_from: 0,
            evaluations: Vec::new(),
            final_metrics: None,
            predictions: None,
        }
    }
}

/// timm's pre-trained network from its weights file, readied for a task of
/// `classes` classes by the head rule `head`; a headless checkpoint (MAE,
/// DINO) has no pre-trained head to keep, so the task's layer goes on its
/// features. New layers are drawn from `seed`.
fn timm_network<B: AutodiffBackend>(
    path: &Path,
    model: &TimmModel,
    arch: &TimmArch,
    head: HeadMode,
    classes: usize,
    seed: u64,
    device: &B::Device,
) -> Result<Network<B>> {
    let dict =
        read_safetensors(path).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.kind))?;
    let origin = path.display().to_string();
    let network = match model.head_classes as usize {
        0 => {
            let backbone = arch.load_backbone(arch.init::<B>(device), &dict, &origin)?;
            let features = arch.feature_dim();
            Network::with_new_head(Backbone::Timm(backbone), features, classes, seed, device)?
        }
        n => arch
            .load(arch.init_network::<B>(n, device), &dict, &origin)?
            .adapt_head(head, classes, seed)?,
    };
    Ok(network)
}

/// Resume state, only meaningful beside a checkpoint. Unreadable progress is
/// set aside with the checkpoint it belongs to (resuming without it would
/// drop the evaluations made before the interruption): the run starts afresh.
fn read_progress(file: &Path, checkpoint: &Path) -> Result<Progress> {
    if !checkpoint.exists() || !file.exists() {
        return Ok(Progress::default());
    }
    let bytes = std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
    match serde_json::from_slice(&bytes) {
        Ok(progress) => Ok(progress),
        Err(e) => {
            let moved = crate::train::set_aside(file)
                .and_then(|_| crate::train::set_aside(checkpoint))
                .with_context(|| format!("{}: cannot set aside", file.display()))?;
            crate::progress::println(&format!(
                "warning: {}: not valid progress JSON ({e}); set aside with its checkpoint \
                 (now {}), the run starts again from step 0",
                file.display(),
                moved.display()
            ));
            Ok(Progress::default())
        }
    }
}

fn split_logits<B: AutodiffBackend>(
    model: &Network<B>,
    split: &EvalSplit,
    device: &B::Device,
) -> SplitLogits {
    SplitLogits {
        logits: logits_of_trained(model, &split.images, split.shape, EVAL_BATCH, device),
        labels: split.labels.clone(),
    }
}

fn eval_logits<B: AutodiffBackend>(
    model: &Network<B>,
    eval: &EvalSets,
    device: &B::Device,
) -> EvalLogits {
    EvalLogits {
        classes: model.num_classes(),
        id: split_logits(model, &eval.id, device),
        ood_in: split_logits(model, &eval.ood_in, device),
        ood_out: split_logits(model, &eval.ood_out, device),
    }
}

/// Each evaluation's mean training loss since the previous one.
fn fill_losses(evaluations: &mut [Evaluation], losses: &[f32]) {
    let mut from = 0;
    for e in evaluations {
        e.train_loss = mean_loss(losses, from, e.step);
        from = e.step;
    }
}

/// Where a run's minibatches come from: augmented images, or (partial
/// fine-tuning) the frozen layers' features.
enum Source<'a> {
    Images(PoolSource<'a>),
    Features(FeatureSource),
}

impl BatchSource for Source<'_> {
    fn next_batch(
        &mut self,
        domain: usize,
        rng: &mut TrainRng,
    ) -> anyhow::Result<crate::train::TrainBatch> {
        match self {
            Source::Images(s) => s.next_batch(domain, rng),
            Source::Features(s) => s.next_batch(domain, rng),
        }
    }
}

/// A batch source that advances a progress bar once per step (domain 0's draw).
struct Ticking<'a, S> {
    inner: S,
    bar: &'a ProgressBar,
}

impl<S: BatchSource> BatchSource for Ticking<'_, S> {
    fn next_batch(
        &mut self,
        domain: usize,
        rng: &mut TrainRng,
    ) -> anyhow::Result<crate::train::TrainBatch> {
        if domain == 0 {
            self.bar.inc(1);
        }
        self.inner.next_batch(domain, rng)
    }
}
