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

use super::sources::PoolSource;
use crate::checksum::sha256_bytes;
use crate::data::batch::Transform;
use crate::data::recipes::{PretrainAug, Recipe};
use crate::data::ImageSet;
use crate::inputs::{Catalogue, Generator, Roots};
use crate::model::ModelSpec;
use crate::study::{zoo_checkpoint, ModelEntry, PretrainEntry, Study, ZooCheckpoint};
use crate::train::{
    dispatch, save_weights, train, BackendJob, BackendKind, DeviceInfo, LrSchedule, OptimizerSpec,
    TrainConfig,
};

/// Weight decay of the pre-training optimizer (AdamW).
const PRETRAIN_WEIGHT_DECAY: f64 = 0.05;
/// Checkpoint interval of an interrupted pre-training run.
const PRETRAIN_CHECKPOINT_EVERY: usize = 100;

#[derive(Clone, Debug, Default)]
pub struct PretrainOptions {
    pub backend: BackendKind,
    /// Record new checkpoints' digests in the data manifest.
    pub pin: bool,
    /// Re-create every checkpoint into `check_dir` and compare with the pinned files.
    pub check: bool,
    /// Only checkpoints whose input name contains one of these strings.
    pub only: Vec<String>,
}

/// One zoo checkpoint the study needs.
#[derive(Clone, Debug)]
pub struct PretrainTarget {
    pub model: ModelEntry,
    pub pretrain: PretrainEntry,
    pub zoo: ZooCheckpoint,
}

/// What happened to one checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum PretrainOutcome {
    /// Present and matching its pin.
    UpToDate,
    Trained {
        sha256: String,
        seconds: f64,
    },
    /// `--check`: re-created, and identical (or not) to the pinned file.
    Checked {
        identical: bool,
        sha256: String,
    },
}

/// The distinct (model architecture, pre-training) pairs of a study.
pub fn targets(study: &Study, catalogue: &Catalogue) -> Vec<PretrainTarget> {
    let mut out: Vec<PretrainTarget> = Vec::new();
    for model in &study.models {
        let Some(entry) = model
            .pretrain
            .as_ref()
            .and_then(|p| study.pretrain_entry(p.get_ref()))
        else {
            continue;
        };
        let zoo = zoo_checkpoint(model, entry, study.benchmark.resolution, catalogue);
        if out.iter().all(|t| t.zoo.input_name != zoo.input_name) {
            out.push(PretrainTarget {
                model: model.clone(),
                pretrain: entry.clone(),
                zoo,
            });
        }
    }
    out
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
    let mut results = Vec::new();
    for (i, target) in selected.iter().enumerate() {
        let path = roots.repo.join(&target.zoo.path);
        let pinned = target.zoo.pinned_digest(catalogue);
        let present = file_digest(&path);
        let label = format!("[{}/{}] {}", i + 1, selected.len(), target.zoo.input_name);
        let outcome = if options.check {
            let scratch = roots
                .cache
                .join("pretrain-check")
                .join(path.file_name().unwrap_or_default());
            let sha256 = train_checkpoint(
                study,
                catalogue,
                roots,
                target,
                &scratch,
                options.backend,
                &label,
            )?;
            let identical = pinned == Some(sha256.as_str());
            PretrainOutcome::Checked { identical, sha256 }
        } else if present.is_some() && present.as_deref() == pinned {
            PretrainOutcome::UpToDate
        } else {
            let started = std::time::Instant::now();
            let sha256 = train_checkpoint(
                study,
                catalogue,
                roots,
                target,
                &path,
                options.backend,
                &label,
            )?;
            if options.pin {
                pin_checkpoint(catalogue, target, &sha256, &path)?;
            }
            PretrainOutcome::Trained {
                sha256,
                seconds: started.elapsed().as_secs_f64(),
            }
        };
        println!("{label}: {}", describe(&outcome));
        results.push((target.clone(), outcome));
    }
    Ok(results)
}

fn describe(outcome: &PretrainOutcome) -> String {
    match outcome {
        PretrainOutcome::UpToDate => "up to date (matches its pin)".to_string(),
        PretrainOutcome::Trained { sha256, seconds } => {
            format!("trained in {seconds:.0} s, sha256 {sha256}")
        }
        PretrainOutcome::Checked {
            identical: true,
            sha256,
        } => {
            format!("re-created bit for bit ({sha256})")
        }
        PretrainOutcome::Checked {
            identical: false,
            sha256,
        } => {
            format!("DIFFERS from the pinned checkpoint (re-created {sha256})")
        }
    }
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

pub fn recipe(entry: &PretrainEntry) -> Result<Recipe> {
    Recipe::DEFAULTS
        .into_iter()
        .find(|r| r.name() == entry.recipe)
        .with_context(|| {
            format!(
                "pretrain `{}`: unknown recipe `{}`",
                entry.name.get_ref(),
                entry.recipe
            )
        })
}

/// The zoo architecture of a manifest model at `resolution` (the zoo's own
/// `family-size` parser, so the two never disagree on what exists).
pub fn model_spec(model: &ModelEntry, resolution: u32) -> Result<ModelSpec> {
    let spec: ModelSpec = format!("{}-{}", model.family, model.size)
        .parse()
        .with_context(|| format!("model `{}`", model.name.get_ref()))?;
    Ok(spec.with_image_size(resolution as usize))
}

/// Trains one checkpoint into `out` (atomically) and returns its SHA-256.
fn train_checkpoint(
    study: &Study,
    catalogue: &Catalogue,
    roots: &Roots,
    target: &PretrainTarget,
    out: &Path,
    backend: BackendKind,
    label: &str,
) -> Result<String> {
    let corpus = load_corpus(&target.pretrain, catalogue)?;
    let job = PretrainJob {
        spec: model_spec(&target.model, study.benchmark.resolution)?,
        entry: &target.pretrain,
        recipe: recipe(&target.pretrain)?,
        corpus: &corpus,
        resolution: study.benchmark.resolution as usize,
        out: out.to_path_buf(),
        resume: roots
            .cache
            .join("pretrain")
            .join(format!("{}.ckpt", target.zoo.key)),
        bar: crate::progress::bar(u64::from(target.pretrain.steps), label),
    };
    dispatch(backend, job)??;
    let bytes = std::fs::read(out).with_context(|| format!("{}: cannot read", out.display()))?;
    Ok(sha256_bytes(&bytes))
}

fn pin_checkpoint(
    catalogue: &Catalogue,
    target: &PretrainTarget,
    sha256: &str,
    path: &Path,
) -> Result<()> {
    let t = target;
    let source = format!(
        "Pre-trained by `oodcal pretrain` ({}): {}-{} on `{}`, recipe {}, {} steps × {} images, lr {}, seed {}; key {}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        t.model.family,
        t.model.size,
        t.pretrain.corpus.get_ref(),
        t.pretrain.recipe,
        t.pretrain.steps,
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
    resolution: usize,
    out: PathBuf,
    /// Resume checkpoint (in the cache: disposable).
    resume: PathBuf,
    bar: indicatif::ProgressBar,
}

impl BackendJob for PretrainJob<'_> {
    type Output = Result<()>;

    fn run<B: AutodiffBackend>(self, device: &B::Device, _info: &DeviceInfo) -> Result<()> {
        let e = self.entry;
        let classes = self.corpus.class_names.len();
        let model = self.spec.build::<B>(classes, e.seed, device)?;
        let steps = e.steps as usize;
        // AdamW with warm-up and cosine decay: the usual supervised recipe of timm's models.
        let optimizer = OptimizerSpec::adamw(e.learning_rate, PRETRAIN_WEIGHT_DECAY).with_schedule(
            LrSchedule::Cosine {
                warmup_steps: steps / 20,
            },
        );
        let config = TrainConfig::pretrain(steps, optimizer, e.seed)
            .with_checkpoint(&self.resume, PRETRAIN_CHECKPOINT_EVERY);
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
        let outcome = train(
            model,
            &config,
            &mut |d: usize, rng: &mut crate::train::TrainRng| {
                bar.inc(1);
                crate::train::BatchSource::next_batch(&mut source, d, rng)
            },
            |_, _| Ok(()),
            device,
        )
        .with_context(|| format!("pre-training {} on {}", self.spec, e.corpus.get_ref()))?;
        self.bar.finish_and_clear();
        save_weights(&self.out, &outcome.model)?;
        let _ = std::fs::remove_file(&self.resume);
        Ok(())
    }
}
