//! Where a fine-tuning run's weights start from: a zoo checkpoint made by
//! `oodcal pretrain`, downloaded weights (the Lite port's, or timm's for one
//! of the paper's tags), or scratch. Resolved once per `run`
//! call, for the models with pending runs, each file verified against its pin
//! before any run starts; the fine-tuning stage only reads the result.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::checksum::DigestCache;
use crate::data::recipes::RecipeName;
use crate::inputs::{timm_input, verify_input, Catalogue, Generator, InputVerdict, Roots};
use crate::model::efficientnet_lite::{IMAGENET_1K_IMAGES, PRETRAINING};
use crate::model::registry::TimmModel;
use crate::model::timm::TimmArch;
use crate::model::Architecture;
use crate::study::{targets, PlannedRun, PretrainEntry, PretrainTarget, Study};

/// Where a run's weights come from.
#[derive(Clone, Debug)]
pub enum Start {
    Scratch,
    /// A zoo checkpoint with a `classes`-way pre-training head.
    Pretrained {
        path: PathBuf,
        classes: usize,
        label: String,
        corpus_images: usize,
        recipe: RecipeName,
    },
    /// Downloaded weights (a `weights` input, verified against its pin); only
    /// EfficientNet-Lite loads them, with its 1000-way ImageNet head.
    Weights {
        path: PathBuf,
        input: String,
    },
    /// timm's weights for one of the paper's tags (its `timm:<tag>` input,
    /// verified against its pin).
    Timm {
        path: PathBuf,
        model: &'static TimmModel,
        arch: TimmArch,
    },
}

/// What a record says of the pre-training behind a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pretraining {
    /// The pre-training data's name (`[[pretrain]]` entry, or ImageNet-1k).
    pub label: Option<String>,
    pub images: Option<usize>,
    pub recipe: Option<String>,
}

impl Start {
    pub fn pretraining(&self) -> Pretraining {
        match self {
            Start::Scratch => Pretraining::default(),
            Start::Pretrained {
                label,
                corpus_images,
                recipe,
                ..
            } => Pretraining {
                label: Some(label.clone()),
                images: Some(*corpus_images),
                recipe: Some(recipe.to_string()),
            },
            // The weights input itself is named, with its digest, among the record's inputs.
            Start::Weights { .. } => Pretraining {
                label: Some(PRETRAINING.to_string()),
                images: Some(IMAGENET_1K_IMAGES),
                recipe: None,
            },
            Start::Timm { model, .. } => Pretraining {
                label: Some(model.pretraining.clone()),
                images: model.pretrain_images(),
                recipe: Some(model.recipe.clone()),
            },
        }
    }
}

/// The starting checkpoint of each pre-trained model among `pending`, checked
/// against its pin (checkpoints of models not being run are not needed).
pub fn resolve_starts(
    study: &Study,
    catalogue: &Catalogue,
    roots: &Roots,
    pending: &[&PlannedRun],
) -> Result<BTreeMap<String, Start>> {
    let mut out = BTreeMap::new();
    let needed = |t: &PretrainTarget| pending.iter().any(|r| t.is_start_of(&r.spec.model));
    for target in targets(study, catalogue).into_iter().filter(needed) {
        if target.zoo.pinned_digest(catalogue).is_none() {
            bail!(
                "{}: checkpoint {} is not pinned in {}; run `oodcal pretrain {} --pin`",
                target.zoo.input_name,
                target.zoo.path,
                catalogue.file.display(),
                study.file.display()
            );
        }
        let remedy = format!("run `oodcal pretrain {}`", study.file.display());
        let path = verified_file(catalogue, roots, &target.zoo.input_name, &remedy)?;
        let (classes, images) = corpus_shape(&target.pretrain, catalogue)?;
        for model in study.models.iter().filter(|m| target.is_start_of(m)) {
            out.insert(
                model.name.get_ref().clone(),
                Start::Pretrained {
                    path: path.clone(),
                    classes,
                    label: target.pretrain.name.get_ref().clone(),
                    corpus_images: images,
                    recipe: target.pretrain.recipe,
                },
            );
        }
    }
    for model in &study.models {
        if !pending.iter().any(|r| r.spec.model.name == model.name) {
            continue;
        }
        let start = match (
            &model.weights,
            model.architecture(study.benchmark.resolution)?,
        ) {
            (Some(weights), _) => {
                let name = weights.get_ref();
                let remedy = format!("run `oodcal fetch {name}`");
                Start::Weights {
                    path: verified_file(catalogue, roots, name, &remedy)?,
                    input: name.clone(),
                }
            }
            (None, Architecture::Timm { model, arch }) => {
                let name = timm_input(&model.tag);
                let remedy = format!("run `oodcal fetch {name} --pin`");
                Start::Timm {
                    path: verified_file(catalogue, roots, &name, &remedy)?,
                    model,
                    arch,
                }
            }
            (None, Architecture::Zoo(_)) => continue,
        };
        out.insert(model.name.get_ref().clone(), start);
    }
    Ok(out)
}

/// The file of input `name` once it verifies against its pin (as `oodcal
/// verify` checks it); otherwise an error with its verdict and `remedy`.
fn verified_file(
    catalogue: &Catalogue,
    roots: &Roots,
    name: &str,
    remedy: &str,
) -> Result<PathBuf> {
    let input = catalogue.get(name).with_context(|| {
        format!(
            "input `{name}` is not in {}\n    {remedy}",
            catalogue.file.display()
        )
    })?;
    let status = verify_input(input, roots, &DigestCache::disabled())
        .with_context(|| format!("input `{name}`: cannot check it"))?;
    match status.verdict {
        InputVerdict::Ok => Ok(status.path),
        _ => bail!("{status}\n    {remedy}"),
    }
}

/// Classes and images of a generated corpus, from its generator settings.
fn corpus_shape(entry: &PretrainEntry, catalogue: &Catalogue) -> Result<(usize, usize)> {
    let name = entry.corpus.get_ref();
    match catalogue.get(name).and_then(|i| i.generator.as_ref()) {
        Some(Generator::GlyphCorpus {
            classes, images, ..
        }) => Ok((*classes, *images)),
        _ => bail!("corpus `{name}` is not a generated corpus"),
    }
}
