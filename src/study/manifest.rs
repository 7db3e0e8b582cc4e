//! Parsing and checking a study manifest. Every mistake a person can make
//! in it is reported once, with file:line:column, before anything runs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::Spanned;

use crate::aggregate::Rule;
use crate::data::recipes::RecipeName;
use crate::inputs::{relative_path, Catalogue};
use crate::model::registry::timm_model;
use crate::model::{vit_shape_problem, Architecture, HeadMode, ModelSpec, Pool};
use crate::source_error::SourceError;
use crate::train::{Algorithm, OptimizerKind, Plateau};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyHeader {
    /// Names the report folder (`reports/<name>/`), so it is checked as a path
    /// component: one plain folder name.
    pub name: Spanned<String>,
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// One minibatch of this size from each training domain per step.
    pub batch_per_domain: u32,
    pub steps: u32,
    pub eval_every: u32,
    pub optimizers: Vec<OptimizerKind>,
    pub momentum: f64,
    pub learning_rates: Vec<f64>,
    pub weight_decays: Vec<f64>,
    pub head: HeadMode,
    /// How the report picks one run per model and seed from the grid.
    pub selection: Rule,
    /// DomainBed quirk: ID-validation splits evaluated with training augmentation.
    pub augment_id_validation: bool,
    /// Seeds of the trials (DomainBed's trial_seed: split and initialisation).
    pub seeds: Vec<u64>,
    /// DomainBed algorithms every model is fine-tuned with, ERM among them
    /// (the claims other than 1 are ERM's, as in the paper). Default: ERM only.
    #[serde(default = "erm_only")]
    pub algorithms: Vec<Algorithm>,
    /// Partial fine-tuning (EfficientNet-Lite only): the last this many blocks,
    /// the head conv and the classifier are trained; the layers below are
    /// frozen and run once per image without augmentation
    /// ([`crate::model::partial`]). Absent: the whole network, as in the paper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trainable_blocks: Option<u32>,
}

fn erm_only() -> Vec<Algorithm> {
    vec![Algorithm::Erm]
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
    pub recipe: RecipeName,
    pub steps: u32,
    pub batch: u32,
    pub learning_rate: f64,
    pub seed: u64,
    /// Train until held-out accuracy plateaus; `steps` then caps the stable
    /// phase. Absent: a cosine schedule over exactly `steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<Plateau>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Display label, unique within the study.
    #[serde(serialize_with = "ser_spanned")]
    pub name: Spanned<String>,
    /// The architecture by the zoo's names (`resnet` / `tiny`,
    /// `efficientnet-lite` / `lite0`); empty for a `timm` entry.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub size: String,
    /// A `[[pretrain]]` entry of this study.
    #[serde(default, serialize_with = "ser_opt_spanned")]
    pub pretrain: Option<Spanned<String>>,
    /// A weights input of `data-manifest.toml` (downloaded checkpoints).
    #[serde(default, serialize_with = "ser_opt_spanned")]
    pub weights: Option<Spanned<String>>,
    /// One of the paper's timm tags ([`crate::model::registry`]), instead of
    /// `family` and `size`. Left out of the spec when absent, so that the
    /// ids of runs planned before it existed stay as they were.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_spanned"
    )]
    pub timm: Option<Spanned<String>>,
    /// ViT only: side of the square patches in pixels (default: an 8×8
    /// patch grid). Left out of the spec when absent (old ids unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<u32>,
    /// ViT only: `cls` (default) or `mean` pooling of the final tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
}

impl ModelEntry {
    pub fn is_from_scratch(&self) -> bool {
        self.pretrain.is_none() && self.weights.is_none() && self.timm.is_none()
    }

    /// What the model trains as at `resolution`: a zoo network by the zoo's
    /// own `family-size` parser (so the manifest and the zoo never disagree on
    /// what exists), or a timm tag through the registry.
    pub fn architecture(&self, resolution: u32) -> anyhow::Result<Architecture> {
        use anyhow::Context as _;
        let side = resolution as usize;
        match &self.timm {
            Some(tag) => timm_architecture(tag.get_ref(), side),
            None => ModelSpec::from_parts(&self.family, &self.size)
                .map(|spec| {
                    let patch = self.patch.map(|p| p as usize);
                    let spec = spec.with_image_size(side).with_vit_shape(patch, self.pool);
                    Architecture::Zoo(spec)
                })
                .map_err(anyhow::Error::from),
        }
        .with_context(|| format!("model `{}`", self.name.get_ref()))
    }

    /// The zoo network of a model oodcal pre-trains or builds from a seed;
    /// a timm tag other than the Lite port has none.
    pub fn model_spec(&self, resolution: u32) -> anyhow::Result<ModelSpec> {
        match self.architecture(resolution)? {
            Architecture::Zoo(spec) => Ok(spec),
            Architecture::Timm { model, .. } => anyhow::bail!(
                "model `{}`: timm tag `{}` is fine-tuned from timm's weights, not a zoo network",
                self.name.get_ref(),
                model.tag
            ),
        }
    }
}

/// What a timm tag trains as: the EfficientNet-Lite port for the three tags
/// whose `.pth` weights the studies pin, timm's architecture for the others.
fn timm_architecture(tag: &str, side: usize) -> anyhow::Result<Architecture> {
    let Some(model) = timm_model(tag) else {
        anyhow::bail!(
            "`{tag}` is not one of the paper's 91 timm tags (`oodcal models` lists them)"
        );
    };
    match model.lite_port() {
        Some(variant) => Ok(Architecture::Zoo(
            ModelSpec::lite(variant).with_image_size(side),
        )),
        None => Architecture::timm(model, side).map_err(anyhow::Error::msg),
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
        check_name(&raw.study.name, &err)?;
        let fields = FieldSpans::parse(text);
        check_benchmark(&raw.benchmark, catalogue, &err, &fields)?;
        check_protocol(&raw.protocol, &err, &fields)?;
        check_pretrain(&raw.pretrain, catalogue, &err, &fields)?;
        check_models(&raw, catalogue, &err, file, &fields)?;
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

    /// The study's name, also its report folder's name.
    pub fn name(&self) -> &str {
        self.header.name.get_ref()
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

/// The study name becomes `reports/<name>/`: it passes the check every
/// manifest path passes, and is one folder name (no `/`).
fn check_name(name: &Spanned<String>, err: ErrAt) -> Result<(), SourceError> {
    relative_path(name, &err)?;
    if name.get_ref().contains(['/', '\\']) {
        return Err(err(
            name.span().start,
            format!(
                "study name `{}` names the report folder: one folder name, without `/`",
                name.get_ref()
            ),
        ));
    }
    Ok(())
}

fn check_benchmark(
    b: &Benchmark,
    catalogue: &Catalogue,
    err: ErrAt,
    fields: &FieldSpans,
) -> Result<(), SourceError> {
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
    let at = |key: &str| fields.offset("benchmark", None, key);
    Range::open(0.0, 1.0).check(
        b.holdout_fraction,
        "benchmark.holdout_fraction",
        at("holdout_fraction"),
        err,
    )?;
    Range::closed(MIN_RESOLUTION, MAX_RESOLUTION).check(
        f64::from(b.resolution),
        "benchmark.resolution",
        at("resolution"),
        err,
    )
}

fn check_protocol(p: &Protocol, err: ErrAt, fields: &FieldSpans) -> Result<(), SourceError> {
    let at = |key: &str| fields.offset("protocol", None, key);
    for (key, empty) in [
        ("optimizers", p.optimizers.is_empty()),
        ("learning_rates", p.learning_rates.is_empty()),
        ("weight_decays", p.weight_decays.is_empty()),
        ("seeds", p.seeds.is_empty()),
    ] {
        if empty {
            return Err(err(at(key), format!("protocol.{key} must not be empty")));
        }
    }
    let counts = [
        ("batch_per_domain", p.batch_per_domain),
        ("steps", p.steps),
        ("eval_every", p.eval_every),
    ];
    for (key, v) in counts {
        Range::at_least(1.0).check(f64::from(v), &format!("protocol.{key}"), at(key), err)?;
    }
    Range::closed_open(0.0, 1.0).check(p.momentum, "protocol.momentum", at("momentum"), err)?;
    for &lr in &p.learning_rates {
        Range::positive().check(lr, "protocol.learning_rates", at("learning_rates"), err)?;
    }
    for &wd in &p.weight_decays {
        Range::at_least(0.0).check(wd, "protocol.weight_decays", at("weight_decays"), err)?;
    }
    check_algorithms(&p.algorithms, at("algorithms"), err)?;
    if p.trainable_blocks.is_some() && p.augment_id_validation {
        return Err(err(
            at("trainable_blocks"),
            "protocol.trainable_blocks: the frozen layers see each image once, without \
             augmentation, so protocol.augment_id_validation must be false"
                .to_string(),
        ));
    }
    Ok(())
}

/// ERM must be among them (every claim but 1 is on ERM), each at most once.
fn check_algorithms(algorithms: &[Algorithm], at: usize, err: ErrAt) -> Result<(), SourceError> {
    if !algorithms.contains(&Algorithm::Erm) {
        return Err(err(
            at,
            "protocol.algorithms must include \"erm\": the paper's claims are on ERM".to_string(),
        ));
    }
    let distinct: BTreeSet<&Algorithm> = algorithms.iter().collect();
    if distinct.len() != algorithms.len() {
        return Err(err(
            at,
            "protocol.algorithms lists an algorithm twice".to_string(),
        ));
    }
    Ok(())
}

fn check_pretrain(
    entries: &[PretrainEntry],
    catalogue: &Catalogue,
    err: ErrAt,
    fields: &FieldSpans,
) -> Result<(), SourceError> {
    let mut seen = BTreeSet::new();
    for (i, p) in entries.iter().enumerate() {
        let at = |key: &str| fields.offset("pretrain", Some(i), key);
        let what = |key: &str| format!("pretrain `{}`: {key}", p.name.get_ref());
        Range::at_least(1.0).check(f64::from(p.steps), &what("steps"), at("steps"), err)?;
        Range::at_least(1.0).check(f64::from(p.batch), &what("batch"), at("batch"), err)?;
        Range::positive().check(
            p.learning_rate,
            &what("learning_rate"),
            at("learning_rate"),
            err,
        )?;
        if let Some((field, problem)) = p.plateau.as_ref().and_then(Plateau::problem) {
            return Err(err(
                at("plateau"),
                format!("{}: {field} {problem}", what("plateau")),
            ));
        }
        if !seen.insert(p.name.get_ref().clone()) {
            return Err(err(
                p.name.span().start,
                format!("pretrain `{}` is declared twice", p.name.get_ref()),
            ));
        }
        check_reference(&p.corpus, catalogue, "corpus", err)?;
    }
    Ok(())
}

fn check_models(
    raw: &RawStudy,
    catalogue: &Catalogue,
    err: ErrAt,
    file: &Path,
    fields: &FieldSpans,
) -> Result<(), SourceError> {
    let (models, pretrain) = (&raw.models, &raw.pretrain);
    if models.is_empty() {
        return Err(SourceError::whole_file(
            file,
            "a study needs at least one [[model]]",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, m) in models.iter().enumerate() {
        let at = m.name.span().start;
        if !seen.insert(m.name.get_ref().clone()) {
            return Err(err(
                at,
                format!("model `{}` is declared twice", m.name.get_ref()),
            ));
        }
        check_vit_shape(
            m,
            raw.benchmark.resolution,
            |key| fields.offset("model", Some(i), key),
            err,
        )?;
        // The resolution is the study's, but whether a network takes it is the model's.
        let resolution = raw.benchmark.resolution as usize;
        let resolution_at = fields.offset("benchmark", None, "resolution");
        let trainable = raw.protocol.trainable_blocks;
        let trainable_at = fields.offset("protocol", None, "trainable_blocks");
        let spec = match &m.timm {
            Some(tag) => match check_timm(m, tag, (resolution, resolution_at), err)? {
                Some(spec) => spec,
                None if trainable.is_some() => {
                    return Err(err(trainable_at, partial_only_lite(m)));
                }
                None => continue,
            },
            None => zoo_spec(m, err)?,
        };
        if let Some(trainable) = trainable {
            check_trainable_blocks(m, &spec, trainable, trainable_at, err)?;
        }
        if let Err(e) = spec.with_image_size(resolution).validate() {
            let at = resolution_at;
            return Err(err(
                at,
                format!("benchmark.resolution: model `{}`: {e}", m.name.get_ref()),
            ));
        }
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

/// `patch` and `pool` shape a zoo ViT; the patch must tile the image.
fn check_vit_shape(
    m: &ModelEntry,
    resolution: u32,
    at: impl Fn(&str) -> usize,
    err: ErrAt,
) -> Result<(), SourceError> {
    let vit = m.timm.is_none() && m.family == "vit";
    let patch = m.patch.map(|p| p as usize);
    let side = resolution as usize;
    match vit_shape_problem(vit, patch, m.pool, side, "benchmark.resolution") {
        Some((field, problem)) => Err(err(
            at(field),
            format!("model `{}`: {problem}", m.name.get_ref()),
        )),
        None => Ok(()),
    }
}

fn partial_only_lite(m: &ModelEntry) -> String {
    format!(
        "protocol.trainable_blocks: model `{}` is not an EfficientNet-Lite, the only \
         network fine-tuned from a later block",
        m.name.get_ref()
    )
}

/// Partial fine-tuning needs a network of blocks, and at least one of them trained.
fn check_trainable_blocks(
    m: &ModelEntry,
    spec: &ModelSpec,
    trainable: u32,
    at: usize,
    err: ErrAt,
) -> Result<(), SourceError> {
    let Some(variant) = spec.lite_variant() else {
        return Err(err(at, partial_only_lite(m)));
    };
    let blocks = variant.config().blocks().len();
    if trainable == 0 || trainable as usize > blocks {
        return Err(err(
            at,
            format!(
                "protocol.trainable_blocks = {trainable}: model `{}` has {blocks} blocks \
                 (1 to {blocks} can be trained)",
                m.name.get_ref()
            ),
        ));
    }
    Ok(())
}

/// A model named by the zoo's `family` and `size`.
fn zoo_spec(m: &ModelEntry, err: ErrAt) -> Result<ModelSpec, SourceError> {
    let at = m.name.span().start;
    if m.family.is_empty() || m.size.is_empty() {
        return Err(err(
            at,
            format!(
                "model `{}`: give `family` and `size`, or a `timm` tag",
                m.name.get_ref()
            ),
        ));
    }
    ModelSpec::from_parts(&m.family, &m.size)
        .map(|spec| spec.with_vit_shape(m.patch.map(|p| p as usize), m.pool))
        .map_err(|e| err(at, format!("model `{}`: {e}", m.name.get_ref())))
}

/// A model named by a timm tag: one of the registry's, alone (no `family`,
/// `size` or `[[pretrain]]`). The three Lite port tags name the `.pth`
/// weights input they train from and return that port, checked further as a
/// zoo network; every other tag trains from its own `timm:<tag>` input (no
/// `weights`) at a side its architecture takes, and is checked here (`None`).
fn check_timm(
    m: &ModelEntry,
    tag: &Spanned<String>,
    (side, side_at): (usize, usize),
    err: ErrAt,
) -> Result<Option<ModelSpec>, SourceError> {
    let name = m.name.get_ref();
    let Some(model) = timm_model(tag.get_ref()) else {
        return Err(err(
            tag.span().start,
            format!(
                "model `{name}`: `{}` is not one of the paper's 91 timm tags \
                 (`oodcal models` lists them)",
                tag.get_ref()
            ),
        ));
    };
    if !m.family.is_empty() || !m.size.is_empty() || m.pretrain.is_some() {
        return Err(err(
            m.name.span().start,
            format!(
                "model `{name}`: a `timm` tag names the architecture and its weights; \
                 leave out `family`, `size` and `pretrain`"
            ),
        ));
    }
    let at = m
        .weights
        .as_ref()
        .map_or(tag.span().start, |w| w.span().start);
    let given = m.weights.as_ref().map(|w| w.get_ref().as_str());
    match model.lite_port() {
        Some(variant) if given == Some(variant.name()) => Ok(Some(ModelSpec::lite(variant))),
        Some(variant) => Err(err(
            at,
            format!(
                "model `{name}`: timm tag `{}` trains from the weights input `{}`: \
                 set `weights = \"{}\"`",
                model.tag,
                variant.name(),
                variant.name()
            ),
        )),
        None if given.is_some() => Err(err(
            at,
            format!(
                "model `{name}`: timm tag `{}` trains from its own weights input \
                 `timm:{}` (`oodcal fetch timm:{} --pin`); leave out `weights`",
                model.tag, model.tag, model.tag
            ),
        )),
        None => match Architecture::timm(model, side) {
            Ok(_) => Ok(None),
            Err(e) => Err(err(
                side_at,
                format!("benchmark.resolution: model `{name}`: {e}"),
            )),
        },
    }
}

/// Smallest and largest input side a study may ask for (the zoo's smallest
/// network takes 16 px; the paper's largest models 518 px).
const MIN_RESOLUTION: f64 = 8.0;
const MAX_RESOLUTION: f64 = 1024.0;

/// The valid values of one numeric manifest field.
struct Range {
    min: f64,
    max: f64,
    min_open: bool,
    max_open: bool,
}

impl Range {
    fn open(min: f64, max: f64) -> Range {
        Range {
            min,
            max,
            min_open: true,
            max_open: true,
        }
    }
    fn closed(min: f64, max: f64) -> Range {
        Range {
            min,
            max,
            min_open: false,
            max_open: false,
        }
    }
    fn closed_open(min: f64, max: f64) -> Range {
        Range {
            min,
            max,
            min_open: false,
            max_open: true,
        }
    }
    fn at_least(min: f64) -> Range {
        Range::closed(min, f64::INFINITY)
    }
    fn positive() -> Range {
        Range {
            min_open: true,
            ..Range::at_least(0.0)
        }
    }

    fn contains(&self, v: f64) -> bool {
        let above = if self.min_open {
            v > self.min
        } else {
            v >= self.min
        };
        let below = if self.max_open {
            v < self.max
        } else {
            v <= self.max
        };
        v.is_finite() && above && below
    }

    /// `what` (a field's name) must hold a value in the range; the error points at `offset`.
    fn check(&self, v: f64, what: &str, offset: usize, err: ErrAt) -> Result<(), SourceError> {
        match self.contains(v) {
            true => Ok(()),
            false => Err(err(offset, format!("{what} is {v}, must be {self}"))),
        }
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lo = if self.min_open { "(" } else { "[" };
        match self.max.is_infinite() {
            true if self.min_open => write!(f, "a finite number > {}", self.min),
            true => write!(f, "a finite number >= {}", self.min),
            false => {
                let hi = if self.max_open { ")" } else { "]" };
                write!(f, "in {lo}{}, {}{hi}", self.min, self.max)
            }
        }
    }
}

/// Where each field's value sits in the manifest's text, for errors that the
/// typed structs (which keep no spans for numbers) are checked to find.
struct FieldSpans(Option<toml_edit::Document<String>>);

impl FieldSpans {
    fn parse(text: &str) -> FieldSpans {
        FieldSpans(toml_edit::Document::parse(text.to_string()).ok())
    }

    /// Byte offset of `table.key` (`[[table]]` number `index`), or of the
    /// table when the key is absent, or 0.
    fn offset(&self, table: &str, index: Option<usize>, key: &str) -> usize {
        let Some(doc) = &self.0 else { return 0 };
        let item = doc.as_table().get(table);
        let table = match (item, index) {
            (Some(toml_edit::Item::ArrayOfTables(a)), Some(i)) => a.get(i),
            (Some(item), None) => item.as_table(),
            _ => None,
        };
        let Some(table) = table else { return 0 };
        table
            .get(key)
            .and_then(toml_edit::Item::span)
            .or_else(|| table.span())
            .map_or(0, |s| s.start)
    }
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
