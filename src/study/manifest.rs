//! Parsing and checking a study manifest. Every mistake a person can make
//! in it is reported once, with file:line:column, before anything runs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::Spanned;

use crate::inputs::{relative_path, Catalogue};
use crate::model::ModelSpec;
use crate::source_error::SourceError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyHeader {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Where run records go, relative to the repository root.
    pub runs_dir: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Benchmark {
    /// An input of `data-manifest.toml`.
    #[serde(serialize_with = "ser_spanned")]
    pub dataset: Spanned<String>,
    pub test_domain: String,
    /// Square input side in pixels (the paper: 224).
    pub resolution: u32,
    /// Fraction of each domain held out as its `out` split (the paper: 0.2).
    pub holdout_fraction: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    Sgd,
    Adam,
}

impl Optimizer {
    /// The manifest's spelling, which records and reference results use too.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Adam => "adam",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadMode {
    /// The paper: keep the pre-trained head, add a new linear layer on top.
    AddLinear,
    /// Replace the head by a new linear layer on the features.
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    TrainingDomainValidation,
    TestDomainOracle,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// One minibatch of this size from each training domain per step.
    pub batch_per_domain: u32,
    pub steps: u32,
    pub eval_every: u32,
    pub optimizers: Vec<Optimizer>,
    pub momentum: f64,
    pub learning_rates: Vec<f64>,
    pub weight_decays: Vec<f64>,
    pub head: HeadMode,
    pub selection: Selection,
    /// DomainBed quirk: ID-validation splits evaluated with training augmentation.
    pub augment_id_validation: bool,
    /// Seeds of the trials (DomainBed's trial_seed: split and initialisation).
    pub seeds: Vec<u64>,
}

/// How a model's starting weights are made by oodcal's own pre-training stage.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PretrainEntry {
    #[serde(serialize_with = "ser_spanned")]
    pub name: Spanned<String>,
    /// An input of `data-manifest.toml` (a generated corpus).
    #[serde(serialize_with = "ser_spanned")]
    pub corpus: Spanned<String>,
    /// baseline | randaugment | augmix | mixup | cutmix
    pub recipe: String,
    pub steps: u32,
    pub batch: u32,
    pub learning_rate: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Display label, unique within the study.
    #[serde(serialize_with = "ser_spanned")]
    pub name: Spanned<String>,
    pub family: String,
    pub size: String,
    /// A `[[pretrain]]` entry of this study.
    #[serde(default, serialize_with = "ser_opt_spanned")]
    pub pretrain: Option<Spanned<String>>,
    /// A weights input of `data-manifest.toml` (downloaded checkpoints).
    #[serde(default, serialize_with = "ser_opt_spanned")]
    pub weights: Option<Spanned<String>>,
}

impl ModelEntry {
    pub fn is_from_scratch(&self) -> bool {
        self.pretrain.is_none() && self.weights.is_none()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    study: StudyHeader,
    benchmark: Benchmark,
    protocol: Protocol,
    #[serde(default)]
    pretrain: Vec<PretrainEntry>,
    #[serde(rename = "model")]
    models: Vec<ModelEntry>,
}

/// A parsed, checked study manifest.
#[derive(Debug, Clone)]
pub struct Study {
    pub file: PathBuf,
    pub header: StudyHeader,
    pub runs_dir: PathBuf,
    pub benchmark: Benchmark,
    pub protocol: Protocol,
    pub pretrain: Vec<PretrainEntry>,
    pub models: Vec<ModelEntry>,
}

const RECIPES: [&str; 5] = ["baseline", "randaugment", "augmix", "mixup", "cutmix"];

impl Study {
    pub fn load(file: &Path, catalogue: &Catalogue) -> Result<Study, SourceError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| SourceError::whole_file(file, format!("cannot read: {e}")))?;
        Study::parse(file, &text, catalogue)
    }

    pub fn parse(file: &Path, text: &str, catalogue: &Catalogue) -> Result<Study, SourceError> {
        let raw: RawStudy =
            toml::from_str(text).map_err(|e| SourceError::from_toml(file, text, &e))?;
        let err = |offset: usize, msg: String| SourceError::at(file, text, offset, msg);
        let runs_dir = relative_path(&raw.study.runs_dir, &err)?;
        check_benchmark(&raw.benchmark, catalogue, &err)?;
        check_protocol(&raw.protocol, file)?;
        check_pretrain(&raw.pretrain, catalogue, &err)?;
        check_models(&raw.models, &raw.pretrain, catalogue, &err, file)?;
        Ok(Study {
            file: file.to_path_buf(),
            header: raw.study,
            runs_dir,
            benchmark: raw.benchmark,
            protocol: raw.protocol,
            pretrain: raw.pretrain,
            models: raw.models,
        })
    }

    pub fn pretrain_entry(&self, name: &str) -> Option<&PretrainEntry> {
        self.pretrain.iter().find(|p| p.name.get_ref() == name)
    }
}

type ErrAt<'a> = &'a dyn Fn(usize, String) -> SourceError;

fn check_reference(
    name: &Spanned<String>,
    catalogue: &Catalogue,
    what: &str,
    err: ErrAt,
) -> Result<(), SourceError> {
    if catalogue.get(name.get_ref()).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = catalogue.names().collect();
    Err(err(
        name.span().start,
        format!(
            "{what} `{}` is not in {} (known: {})",
            name.get_ref(),
            catalogue.file.display(),
            known.join(", ")
        ),
    ))
}

fn check_benchmark(b: &Benchmark, catalogue: &Catalogue, err: ErrAt) -> Result<(), SourceError> {
    check_reference(&b.dataset, catalogue, "dataset", err)?;
    let input = catalogue.get(b.dataset.get_ref()).expect("checked above");
    let domains = &input.expected.domains;
    if !domains.is_empty() && !domains.contains_key(&b.test_domain) {
        let names: Vec<&String> = domains.keys().collect();
        return Err(err(
            b.dataset.span().start,
            format!(
                "test_domain `{}` is not a domain of {} ({names:?})",
                b.test_domain, input.name
            ),
        ));
    }
    if !(b.holdout_fraction > 0.0 && b.holdout_fraction < 1.0) {
        return Err(err(
            b.dataset.span().start,
            "holdout_fraction must be in (0, 1)".into(),
        ));
    }
    Ok(())
}

fn check_protocol(p: &Protocol, file: &Path) -> Result<(), SourceError> {
    let problem =
        if p.optimizers.is_empty() || p.learning_rates.is_empty() || p.weight_decays.is_empty() {
            Some("protocol: optimizers, learning_rates and weight_decays must not be empty")
        } else if p.seeds.is_empty() {
            Some("protocol: seeds must not be empty")
        } else if p.steps == 0 || p.eval_every == 0 || p.batch_per_domain == 0 {
            Some("protocol: steps, eval_every and batch_per_domain must be positive")
        } else if p
            .learning_rates
            .iter()
            .chain(&p.weight_decays)
            .any(|v| !v.is_finite() || *v < 0.0)
        {
            Some("protocol: learning rates and weight decays must be finite and non-negative")
        } else {
            None
        };
    match problem {
        Some(m) => Err(SourceError::whole_file(file, m)),
        None => Ok(()),
    }
}

fn check_pretrain(
    entries: &[PretrainEntry],
    catalogue: &Catalogue,
    err: ErrAt,
) -> Result<(), SourceError> {
    let mut seen = BTreeSet::new();
    for p in entries {
        if !seen.insert(p.name.get_ref().clone()) {
            return Err(err(
                p.name.span().start,
                format!("pretrain `{}` is declared twice", p.name.get_ref()),
            ));
        }
        check_reference(&p.corpus, catalogue, "corpus", err)?;
        if !RECIPES.contains(&p.recipe.as_str()) {
            return Err(err(
                p.name.span().start,
                format!(
                    "pretrain `{}`: recipe `{}` is not one of {RECIPES:?}",
                    p.name.get_ref(),
                    p.recipe
                ),
            ));
        }
    }
    Ok(())
}

fn check_models(
    models: &[ModelEntry],
    pretrain: &[PretrainEntry],
    catalogue: &Catalogue,
    err: ErrAt,
    file: &Path,
) -> Result<(), SourceError> {
    if models.is_empty() {
        return Err(SourceError::whole_file(
            file,
            "a study needs at least one [[model]]",
        ));
    }
    let mut seen = BTreeSet::new();
    for m in models {
        let at = m.name.span().start;
        if !seen.insert(m.name.get_ref().clone()) {
            return Err(err(
                at,
                format!("model `{}` is declared twice", m.name.get_ref()),
            ));
        }
        let spec = ModelSpec::from_parts(&m.family, &m.size)
            .map_err(|e| err(at, format!("model `{}`: {e}", m.name.get_ref())))?;
        if let (Some(w), None) = (&m.weights, spec.lite_variant()) {
            return Err(err(
                w.span().start,
                format!(
                    "model `{}`: downloaded weights load into efficientnet-lite only; \
                     a {} is pre-trained with `pretrain`",
                    m.name.get_ref(),
                    m.family
                ),
            ));
        }
        if m.pretrain.is_some() && m.weights.is_some() {
            return Err(err(
                at,
                format!(
                    "model `{}`: give `pretrain` or `weights`, not both",
                    m.name.get_ref()
                ),
            ));
        }
        if let Some(p) = &m.pretrain {
            if !pretrain.iter().any(|e| e.name.get_ref() == p.get_ref()) {
                return Err(err(
                    p.span().start,
                    format!(
                        "pretrain `{}` is not a [[pretrain]] of this study",
                        p.get_ref()
                    ),
                ));
            }
        }
        if let Some(w) = &m.weights {
            check_reference(w, catalogue, "weights", err)?;
        }
    }
    Ok(())
}

fn ser_spanned<S: serde::Serializer>(v: &Spanned<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.get_ref())
}

fn ser_opt_spanned<S: serde::Serializer>(
    v: &Option<Spanned<String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(v.get_ref()),
        None => s.serialize_none(),
    }
}
