//! DomainBed's training algorithms: what one step optimises, given one
//! minibatch per training domain.
//!
//! Each follows `domainbed/algorithms.py` (Gulrajani & Lopez-Paz 2021) with
//! DomainBed's default hyper-parameters (`domainbed/hparams_registry.py`):
//! * ERM: cross-entropy on the concatenated minibatches, one forward pass.
//! * CORAL: the mean cross-entropy of the domains plus `mmd_gamma` (1.0)
//!   times the mean over domain pairs of the squared differences of the
//!   feature means and covariances. Each domain is featurised in its own
//!   forward pass, as DomainBed does (BatchNorm sees one domain at a time).
//! * Mixup (inter-domain): the domains in a random order, each mixed with the
//!   next (the last with the first) as `λ·x_i + (1−λ)·x_j`, `λ ~ Beta(α, α)`
//!   with α = 0.2 drawn per pair; the loss `λ·CE(y_i) + (1−λ)·CE(y_j)` is the
//!   cross-entropy against the mixed one-hot targets, averaged over the pairs,
//!   each pair predicted in its own forward pass.
//!
//! "Features" are what DomainBed's featurizer returns: everything below the
//! last linear layer. With the paper's head rule (keep the pre-trained head,
//! add a linear layer) that is the pre-trained network's logits, as in the
//! authors' code, whose featurizer is the whole timm model.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::batch::StepInput;
use super::step::cross_entropy;
use crate::data::rng::DetRng;
use crate::model::{Network, Noise};

/// A training algorithm, as a study manifest names it (`protocol.algorithms`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    #[default]
    Erm,
    Coral,
    Mixup,
}

/// DomainBed's default weight of CORAL's penalty (`mmd_gamma`).
pub const CORAL_MMD_GAMMA: f64 = 1.0;
/// DomainBed's default Mixup concentration (`mixup_alpha`).
pub const MIXUP_ALPHA: f64 = 0.2;

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Erm, Algorithm::Coral, Algorithm::Mixup];

    /// The manifest's and the records' name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Erm => "erm",
            Algorithm::Coral => "coral",
            Algorithm::Mixup => "mixup",
        }
    }

    /// DomainBed's class name, for tables.
    pub fn display(self) -> &'static str {
        match self {
            Algorithm::Erm => "ERM",
            Algorithm::Coral => "CORAL",
            Algorithm::Mixup => "Mixup",
        }
    }

    /// ERM is the default: run specs and records leave it out, so the ids of
    /// studies written before algorithms existed are unchanged.
    pub fn is_erm(&self) -> bool {
        *self == Algorithm::Erm
    }

    /// Its hyper-parameters with DomainBed's defaults, for records and reports.
    pub fn hparams(self) -> &'static [(&'static str, f64)] {
        match self {
            Algorithm::Erm => &[],
            Algorithm::Coral => &[("mmd_gamma", CORAL_MMD_GAMMA)],
            Algorithm::Mixup => &[("mixup_alpha", MIXUP_ALPHA)],
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown algorithm `{s}` (expected erm, coral or mixup)"))
    }
}

/// The step's loss under `algorithm`; `rows` are the images per training
/// domain, in domain order (Mixup's input is already mixed: [`mix_pairs`]).
pub fn loss<B: Backend>(
    model: &Network<B>,
    algorithm: Algorithm,
    images: Tensor<B, 4>,
    targets: Tensor<B, 2>,
    rows: &[usize],
    noise: Noise,
) -> Tensor<B, 1> {
    match algorithm {
        Algorithm::Erm => cross_entropy(model.forward_noised(images, Some(noise)), targets),
        Algorithm::Mixup => {
            let losses = split(images, rows)
                .into_iter()
                .zip(split(targets, rows))
                .map(|(x, t)| cross_entropy(model.forward_noised(x, Some(noise)), t))
                .collect();
            mean_of(losses)
        }
        Algorithm::Coral => {
            let features: Vec<Tensor<B, 2>> = split(images, rows)
                .into_iter()
                .map(|x| model.featurize(x, Some(noise)))
                .collect();
            let logits = features.iter().map(|f| model.classify(f.clone())).collect();
            let (objective, penalty) = coral_objective(&features, logits, split(targets, rows));
            objective + penalty.mul_scalar(CORAL_MMD_GAMMA)
        }
    }
}

/// CORAL's two terms: the mean over domains of the cross-entropy of
/// `logits[i]` against `targets[i]`, and the mean over pairs `i < j` of
/// [`coral_distance`] between `features[i]` and `features[j]` (0 for one domain).
pub fn coral_objective<B: Backend>(
    features: &[Tensor<B, 2>],
    logits: Vec<Tensor<B, 2>>,
    targets: Vec<Tensor<B, 2>>,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let objective = mean_of(
        logits
            .into_iter()
            .zip(targets)
            .map(|(l, t)| cross_entropy(l, t))
            .collect(),
    );
    let mut pairs = Vec::new();
    for i in 0..features.len() {
        for j in i + 1..features.len() {
            pairs.push(coral_distance(features[i].clone(), features[j].clone()));
        }
    }
    let penalty = if pairs.is_empty() {
        objective.zeros_like()
    } else {
        mean_of(pairs)
    };
    (objective, penalty)
}

/// DomainBed's `mean_cov` discrepancy: the mean squared difference of the
/// feature means plus that of the (n−1)-normalised covariance matrices.
pub fn coral_distance<B: Backend>(x: Tensor<B, 2>, y: Tensor<B, 2>) -> Tensor<B, 1> {
    let (mean_x, cov_x) = mean_and_covariance(x);
    let (mean_y, cov_y) = mean_and_covariance(y);
    let mean_diff = (mean_x - mean_y).powi_scalar(2).mean();
    let cov_diff = (cov_x - cov_y).powi_scalar(2).mean();
    mean_diff + cov_diff
}

fn mean_and_covariance<B: Backend>(x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let n = x.dims()[0];
    let mean = x.clone().mean_dim(0);
    let centred = x - mean.clone();
    let cov = centred
        .clone()
        .transpose()
        .matmul(centred)
        .div_scalar((n.max(2) - 1) as f64);
    (mean, cov)
}

/// Splits the batch axis into consecutive blocks of `rows[i]` rows.
fn split<B: Backend, const D: usize>(t: Tensor<B, D>, rows: &[usize]) -> Vec<Tensor<B, D>> {
    let mut start = 0;
    rows.iter()
        .map(|&n| {
            let block = t.clone().narrow(0, start, n);
            start += n;
            block
        })
        .collect()
}

fn mean_of<B: Backend>(terms: Vec<Tensor<B, 1>>) -> Tensor<B, 1> {
    let n = terms.len();
    Tensor::cat(terms, 0).sum().div_scalar(n as f64)
}

/// Mixup's random draws for one step: the order of the domains and one λ per pair.
#[derive(Clone, Debug, PartialEq)]
pub struct MixupDraw {
    pub order: Vec<usize>,
    pub lambdas: Vec<f32>,
}

impl MixupDraw {
    /// From one value of the training stream (so a resumed run draws the
    /// same), as DomainBed draws them: a random permutation, then λ per pair.
    pub fn new(key: u64, domains: usize) -> Self {
        // The tag is "mixup" in ASCII: a stream of its own.
        let mut rng = DetRng::from_key(&[key, 0x006d_6978_7570]);
        let mut order: Vec<usize> = (0..domains).collect();
        rng.shuffle(&mut order);
        let lambdas = (0..domains)
            .map(|_| rng.beta(MIXUP_ALPHA, MIXUP_ALPHA) as f32)
            .collect();
        Self { order, lambdas }
    }
}

/// DomainBed's inter-domain Mixup on the host: block `i` of the result mixes
/// domain `order[i]` (weight λ_i) with domain `order[i+1]` (the last with the
/// first), images and targets alike. The domains' minibatches must be of one size.
pub fn mix_pairs(input: &StepInput, draw: &MixupDraw) -> Result<StepInput, String> {
    let rows = &input.domain_rows;
    let n = rows.first().copied().unwrap_or(0);
    if rows.iter().any(|&r| r != n) || draw.order.len() != rows.len() {
        return Err(format!(
            "Mixup needs one minibatch of one size per domain, got {rows:?}"
        ));
    }
    let pixels = input.images.len() / input.shape[0].max(1);
    let classes = input.targets.len() / input.shape[0].max(1);
    let block = |v: &[f32], width: usize, d: usize| v[d * n * width..(d + 1) * n * width].to_vec();
    let mix = |a: Vec<f32>, b: Vec<f32>, lam: f32| -> Vec<f32> {
        a.iter()
            .zip(&b)
            .map(|(x, y)| lam * x + (1.0 - lam) * y)
            .collect()
    };
    let mut out = StepInput {
        images: Vec::with_capacity(input.images.len()),
        shape: input.shape,
        targets: Vec::with_capacity(input.targets.len()),
        domain_rows: rows.clone(),
    };
    for (i, &lam) in draw.lambdas.iter().enumerate() {
        let (a, b) = (draw.order[i], draw.order[(i + 1) % rows.len()]);
        out.images.extend(mix(
            block(&input.images, pixels, a),
            block(&input.images, pixels, b),
            lam,
        ));
        out.targets.extend(mix(
            block(&input.targets, classes, a),
            block(&input.targets, classes, b),
            lam,
        ));
    }
    Ok(out)
}
