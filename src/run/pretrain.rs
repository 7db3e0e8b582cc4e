//! The pre-training stage: trains every zoo checkpoint a study needs on its
//! generated corpus with its recipe, and writes it under `experiments/zoo/`
//! with a content-addressed name (see `study::zoo_checkpoint`).
//!
//! Checkpoints are shipped pinned in `data-manifest.toml`, so the default path
//! only fine-tunes. `oodcal pretrain` re-creates them: already-pinned files are
//! skipped, `--check` re-trains into a scratch folder and compares bit for bit
//! with the pinned files (CPU arithmetic here is deterministic), `--pin` records
//! new files in the manifest.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::backend::AutodiffBackend;

use super::parallel::{for_each_parallel, threads_per_job};
use super::sources::PoolSource;
use crate::checksum::sha256_bytes;
use crate::data::batch::{make_batch, Transform};
use crate::data::preprocess::Normalize;
use crate::data::recipes::{PretrainAug, Recipe};
use crate::data::ImageSet;
use crate::inputs::{Catalogue, Generator, Roots};
use crate::metrics::Predictions;
use crate::model::{ModelSpec, Network};
use crate::study::{
    read_stats, stats_path, targets, PretrainEntry, PretrainStats, PretrainTarget, Study,
};
use crate::train::{
    dispatch, logits_of_trained, mean_loss, save_weights, train, train_to_plateau, BackendJob,
    BackendKind, DeviceInfo, LrSchedule, OptimizerSpec, PlateauState, TrainConfig,
};

/// Weight decay of the pre-training optimizer (AdamW).
const PRETRAIN_WEIGHT_DECAY: f64 = 0.05;
/// Checkpoint interval of an interrupted pre-training run.
const PRETRAIN_CHECKPOINT_EVERY: usize = 100;
/// Fresh corpus images (never trained on) the held-out accuracy is measured on.
const HELD_OUT_IMAGES: usize = 1000;
/// Fresh corpus images, after the held-out ones, that decide when a plateau
/// run has stopped improving (so the reported accuracy is not the one its
/// budget was chosen on).
const MONITOR_IMAGES: usize = 1000;

#[derive(Clone, Debug, Default)]
pub struct PretrainOptions {
    pub backend: BackendKind,
    /// Record new checkpoints' digests in the data manifest.
    pub pin: bool,
    /// Re-create every checkpoint into `check_dir` and compare with the pinned files.
    pub check: bool,
    /// Only checkpoints whose input name contains one of these strings.
    pub only: Vec<String>,
    /// Checkpoints trained side by side (CPU: each on `cores / jobs` threads).
    pub jobs: usize,
}

/// What happened to one checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum PretrainOutcome {
    /// Present and matching its pin.
    UpToDate,
    Trained {
        sha256: String,
        stats: PretrainStats,
    },
    /// `--check`: re-created, and identical (or not) to the pinned file.
    Checked {
        identical: bool,
        sha256: String,
        stats: PretrainStats,
        /// The pinned checkpoint's own figures (its `.json` sidecar), if present.
        pinned: Option<PretrainStats>,
    },
}

/// Pre-trains (or checks) every checkpoint of `study`; reports each as it goes.
pub fn pretrain_study(
    study: &Study,
    catalogue: &Catalogue,
    roots: &Roots,
    options: &PretrainOptions,
) -> Result<Vec<(PretrainTarget, PretrainOutcome)>> {
    let selected: Vec<PretrainTarget> = targets(study, catalogue)
        .into_iter()
        .filter(|t| {
            options.only.is_empty()
                || options
                    .only
                    .iter()
                    .any(|o| t.zoo.input_name.contains(o.as_str()))
        })
        .collect();
    let total = selected.len();
    // One compute thread per checkpoint on the CPU, whatever the machine and
    // `--jobs`: the pinned bits are then re-created exactly by `--check`.
    let threads = threads_per_job(options.backend, usize::MAX);
    let results = for_each_parallel(selected, options.jobs, threads, |i, target| {
        let label = format!("[{}/{total}] {}", i + 1, target.zoo.input_name);
        let outcome = pretrain_one(study, catalogue, roots, options, &target, &label)?;
        crate::progress::println(&format!("{label}: {}", describe(&outcome)));
        Ok((target, outcome))
    })?;
    Ok(results)
}

/// Trains, checks or skips one checkpoint.
fn pretrain_one(
    study: &Study,
    catalogue: &Catalogue,
    roots: &Roots,
    options: &PretrainOptions,
    target: &PretrainTarget,
    label: &str,
) -> Result<PretrainOutcome> {
    let path = roots.repo.join(&target.zoo.path);
    let pinned = target.zoo.pinned_digest(catalogue);
    let train_into =
        |out: &Path| train_checkpoint(study, catalogue, roots, target, out, options.backend, label);
    if options.check {
        let scratch = roots
            .cache
            .join("pretrain-check")
            .join(path.file_name().unwrap_or_default());
        let (sha256, stats) = train_into(&scratch)?;
        let identical = pinned == Some(sha256.as_str());
        return Ok(PretrainOutcome::Checked {
            identical,
            sha256,
            stats,
            pinned: read_stats(&stats_path(&path)),
        });
    }
    if file_digest(&path).is_some_and(|d| Some(d.as_str()) == pinned) {
        return Ok(PretrainOutcome::UpToDate);
    }
    let (sha256, stats) = train_into(&path)?;
    if options.pin {
        // One writer at a time: jobs finishing together must not interleave
        // their read-modify-write of the manifest.
        static MANIFEST: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = MANIFEST.lock().expect("lock");
        pin_checkpoint(catalogue, target, &sha256, &path)?;
    }
    Ok(PretrainOutcome::Trained { sha256, stats })
}

fn describe(outcome: &PretrainOutcome) -> String {
    match outcome {
        PretrainOutcome::UpToDate => "up to date (matches its pin)".to_string(),
        PretrainOutcome::Trained { sha256, stats } => {
            format!(
                "trained in {:.0} s, {}, sha256 {sha256}",
                stats.seconds,
                learnt(stats)
            )
        }
        PretrainOutcome::Checked {
            identical: true,
            sha256,
            stats,
            ..
        } => {
            format!("re-created bit for bit ({sha256}), {}", learnt(stats))
        }
        PretrainOutcome::Checked {
            identical: false,
            sha256,
            stats,
            pinned,
        } => {
            let pinned = pinned.as_ref().map_or_else(
                || "no figures recorded beside the pinned file".to_string(),
                |p| format!("pinned: {}", learnt(p)),
            );
            format!(
                "DIFFERS from the pinned checkpoint (re-created {sha256}), {}; {pinned}. \
                 The bits depend on the CPU (burn-flex's kernels pick their SIMD \
                 instructions and blocking at run time), so on another CPU compare \
                 the figures, not the bits",
                learnt(stats)
            )
        }
    }
}

fn learnt(stats: &PretrainStats) -> String {
    format!(
        "final loss {:.3}, held-out accuracy {:.1}% on {} fresh images",
        stats.final_loss, stats.held_out_accuracy, stats.held_out_images
    )
}

fn file_digest(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| sha256_bytes(&b))
}

/// The corpus images, regenerated and checked against the pin.
pub fn load_corpus(entry: &PretrainEntry, catalogue: &Catalogue) -> Result<ImageSet> {
    let name = entry.corpus.get_ref();
    let input = catalogue
        .get(name)
        .with_context(|| format!("corpus `{name}` is not in {}", catalogue.file.display()))?;
    let Some(generator @ Generator::GlyphCorpus { .. }) = &input.generator else {
        bail!("corpus `{name}` is not a generated corpus");
    };
    let set = generator.generate()?;
    if let Some(pin) = input.digest() {
        if set.digest() != pin {
            bail!(
                "corpus `{name}`: generated {} but the manifest pins {pin}",
                set.digest()
            );
        }
    }
    Ok(set)
}

/// Trains one checkpoint into `out` (atomically), measures it on held-out
/// corpus images, writes `<out>.json`, and returns the checkpoint's SHA-256.
fn train_checkpoint(
    study: &Study,
    catalogue: &Catalogue,
    roots: &Roots,
    target: &PretrainTarget,
    out: &Path,
    backend: BackendKind,
    label: &str,
) -> Result<(String, PretrainStats)> {
    let started = std::time::Instant::now();
    let corpus = load_corpus(&target.pretrain, catalogue)?;
    let held_out = fresh_images(&target.pretrain, catalogue, 0, HELD_OUT_IMAGES)?;
    let monitor = match target.pretrain.plateau {
        Some(_) => Some(fresh_images(
            &target.pretrain,
            catalogue,
            HELD_OUT_IMAGES,
            MONITOR_IMAGES,
        )?),
        None => None,
    };
    let job = PretrainJob {
        spec: target.model.model_spec(study.benchmark.resolution)?,
        entry: &target.pretrain,
        recipe: target.pretrain.recipe.recipe(),
        corpus: &corpus,
        held_out: &held_out,
        monitor: monitor.as_ref(),
        resolution: study.benchmark.resolution as usize,
        out: out.to_path_buf(),
        resume: roots
            .cache
            .join("pretrain")
            .join(format!("{}.ckpt", target.zoo.key)),
        bar: crate::progress::bar(u64::from(target.pretrain.steps), label),
    };
    let trained = dispatch(backend, job)??;
    let bytes = std::fs::read(out).with_context(|| format!("{}: cannot read", out.display()))?;
    let stats = PretrainStats {
        checkpoint: target.zoo.input_name.clone(),
        key: target.zoo.key.clone(),
        corpus: target.pretrain.corpus.get_ref().clone(),
        recipe: target.pretrain.recipe.to_string(),
        steps: trained.steps,
        final_loss: trained.final_loss,
        held_out_images: held_out.len(),
        held_out_accuracy: trained.held_out_accuracy,
        seconds: started.elapsed().as_secs_f64(),
        plateau: trained.plateau,
    };
    let sidecar = stats_path(out);
    let json = serde_json::to_string_pretty(&stats)? + "\n";
    crate::atomic::write(&sidecar, json.as_bytes())
        .with_context(|| format!("{}: cannot write", sidecar.display()))?;
    Ok((sha256_bytes(&bytes), stats))
}

/// `n` fresh images of a generated corpus's classes, never trained on, after
/// skipping `skip` of them.
fn fresh_images(
    entry: &PretrainEntry,
    catalogue: &Catalogue,
    skip: usize,
    n: usize,
) -> Result<ImageSet> {
    let name = entry.corpus.get_ref();
    let generator = catalogue
        .get(name)
        .and_then(|input| input.generator.as_ref())
        .with_context(|| format!("corpus `{name}` is not a generated input"))?;
    let set = generator
        .held_out(skip, n)
        .with_context(|| format!("corpus `{name}` has no held-out images"))??;
    Ok(set)
}

fn pin_checkpoint(
    catalogue: &Catalogue,
    target: &PretrainTarget,
    sha256: &str,
    path: &Path,
) -> Result<()> {
    let t = target;
    let budget = match t.pretrain.plateau {
        Some(_) => format!(
            "until held-out plateau (stable phase ≤ {} steps)",
            t.pretrain.steps
        ),
        None => format!("{} steps", t.pretrain.steps),
    };
    let source = format!(
        "Pre-trained by `oodcal pretrain` ({}): {}-{} on `{}`, recipe {}, {budget} × {} images, lr {}, seed {}; key {}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        t.model.family,
        t.model.size,
        t.pretrain.corpus.get_ref(),
        t.pretrain.recipe,
        t.pretrain.batch,
        t.pretrain.learning_rate,
        t.pretrain.seed,
        t.zoo.key
    );
    crate::inputs::upsert_input(
        &catalogue.file,
        &t.zoo.input_name,
        &[
            ("kind", "weights".to_string()),
            ("location", "repo".to_string()),
            ("path", t.zoo.path.clone()),
            ("source", source),
            (
                "licence",
                "Apache-2.0 (trained by this package)".to_string(),
            ),
            ("sha256", sha256.to_string()),
        ],
    )?;
    eprintln!(
        "pinned {} in {}",
        t.zoo.input_name,
        catalogue.file.display()
    );
    Ok(())
}

/// Supervised pre-training of one model on one corpus.
struct PretrainJob<'a> {
    spec: ModelSpec,
    entry: &'a PretrainEntry,
    recipe: Recipe,
    corpus: &'a ImageSet,
    held_out: &'a ImageSet,
    /// The images a plateau run's stopping is decided on.
    monitor: Option<&'a ImageSet>,
    resolution: usize,
    out: PathBuf,
    /// Resume checkpoint (in the cache: disposable).
    resume: PathBuf,
    bar: indicatif::ProgressBar,
}

/// What one pre-training run produced, besides the checkpoint file.
struct Trained {
    steps: u32,
    /// Mean loss of the last tenth of the steps.
    final_loss: f64,
    held_out_accuracy: f64,
    plateau: Option<PlateauState>,
}

impl BackendJob for PretrainJob<'_> {
    type Output = Result<Trained>;

    fn run<B: AutodiffBackend>(self, device: &B::Device, _info: &DeviceInfo) -> Result<Trained> {
        let e = self.entry;
        let classes = self.corpus.class_names.len();
        let model = self.spec.build::<B>(classes, e.seed, device)?;
        let steps = e.steps as usize;
        let config = TrainConfig::pretrain(steps, self.optimizer(), e.seed)
            .with_checkpoint(&self.resume, PRETRAIN_CHECKPOINT_EVERY);
        let config = match e.plateau {
            Some(rule) => config.with_plateau(rule),
            None => config,
        };
        let all: Vec<usize> = (0..self.corpus.len()).collect();
        let mut source = PoolSource::new(
            self.corpus,
            vec![all],
            e.batch as usize,
            Transform::Pretrain(PretrainAug::new(self.recipe)),
            self.resolution,
            e.seed,
        );
        let bar = self.bar.clone();
        let mut next = |d: usize, rng: &mut crate::train::TrainRng| {
            bar.inc(1);
            crate::train::BatchSource::next_batch(&mut source, d, rng)
        };
        let outcome = match self.monitor {
            Some(monitor) => {
                let mut measure =
                    |model: &Network<B>| accuracy(model, monitor, self.resolution, device);
                train_to_plateau(model, &config, &mut next, &mut measure, device)
            }
            None => train(model, &config, &mut next, |_, _| Ok(()), device),
        }
        .with_context(|| format!("pre-training {} on {}", self.spec, e.corpus.get_ref()))?;
        self.bar.finish_and_clear();
        // A stop request (SIGTERM, SIGUSR1) leaves a resume checkpoint, never
        // a half-trained zoo checkpoint.
        if !outcome.finished {
            anyhow::bail!(
                "pre-training {} stopped on request after step {}; {} kept, run again to resume",
                self.spec,
                outcome.step,
                self.resume.display()
            );
        }
        save_weights(&self.out, &outcome.model)?;
        let _ = std::fs::remove_file(&self.resume);
        let steps = outcome.losses.len();
        let window = (steps / 10).max(1);
        Ok(Trained {
            steps: outcome.step as u32,
            final_loss: mean_loss(&outcome.losses, steps.saturating_sub(window), steps),
            held_out_accuracy: accuracy(&outcome.model, self.held_out, self.resolution, device)?,
            plateau: outcome.plateau,
        })
    }
}

impl PretrainJob<'_> {
    /// AdamW with warm-up, the usual supervised recipe of timm's models:
    /// cosine decay over a fixed budget, or for a plateau run a constant rate
    /// (warm-up: one measurement interval) until the cool-down.
    fn optimizer(&self) -> OptimizerSpec {
        let e = self.entry;
        let schedule = match e.plateau {
            Some(rule) => LrSchedule::Warmup {
                warmup_steps: rule.every,
            },
            None => LrSchedule::Cosine {
                warmup_steps: e.steps as usize / 20,
            },
        };
        OptimizerSpec::adamw(e.learning_rate, PRETRAIN_WEIGHT_DECAY).with_schedule(schedule)
    }
}

/// Top-1 accuracy (percent) of `model` on `images`.
fn accuracy<B: AutodiffBackend>(
    model: &Network<B>,
    images: &ImageSet,
    resolution: usize,
    device: &B::Device,
) -> Result<f64> {
    let all: Vec<usize> = (0..images.len()).collect();
    let batch = make_batch(
        images,
        &all,
        &Transform::Eval,
        resolution,
        Normalize::IMAGENET,
        0,
        0,
    );
    let logits = logits_of_trained(model, &batch.data, batch.shape, 256, device);
    let values = logits.into_iter().map(f64::from).collect();
    let predictions = Predictions::from_logits(values, model.num_classes(), batch.labels)
        .context("held-out logits")?;
    Ok(100.0 * predictions.accuracy())
}
