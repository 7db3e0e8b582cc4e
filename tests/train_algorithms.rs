//! DomainBed's CORAL and Mixup as oodcal computes them, against DomainBed's
//! own loss code run by PyTorch on the same fixed batch and weights
//! (`scripts/domainbed_algorithms_fixture.py` wrote the fixture): the loss,
//! CORAL's penalty, and the gradients of every weight.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use oodcal::train::algorithm::{coral_objective, mix_pairs, Algorithm, MixupDraw};
use oodcal::train::step::cross_entropy;
use oodcal::train::{StepInput, TrainBatch};
use serde::Deserialize;

type B = Autodiff<Flex>;

#[derive(Deserialize)]
struct Fixture {
    domains: usize,
    per_domain: usize,
    classes: usize,
    image_shape: [usize; 3],
    features: usize,
    images: Vec<Vec<f32>>,
    labels: Vec<Vec<u32>>,
    featurizer_weight: Vec<f32>,
    featurizer_bias: Vec<f32>,
    classifier_weight: Vec<f32>,
    classifier_bias: Vec<f32>,
    coral: Coral,
    mixup: Mixup,
}

#[derive(Deserialize)]
struct Coral {
    objective: f32,
    penalty: f32,
    loss: f32,
    grads: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Mixup {
    order: Vec<usize>,
    lambdas: Vec<f32>,
    loss: f32,
    grads: Vec<Vec<f32>>,
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/domainbed_algorithms.json");
    serde_json::from_str(text).expect("fixture parses")
}

/// The fixture's linear featurizer and classifier, as tracked tensors in
/// torch's `[out, in]` layout.
struct Linear2 {
    wf: Tensor<B, 2>,
    bf: Tensor<B, 1>,
    wc: Tensor<B, 2>,
    bc: Tensor<B, 1>,
}

impl Linear2 {
    fn new(f: &Fixture) -> Self {
        let d = Default::default();
        let pixels = f.image_shape.iter().product::<usize>();
        let tracked = |v: &[f32], shape: [usize; 2]| {
            Tensor::<B, 2>::from_data(TensorData::new(v.to_vec(), shape), &d).require_grad()
        };
        let bias = |v: &[f32]| Tensor::<B, 1>::from_floats(v, &d).require_grad();
        Linear2 {
            wf: tracked(&f.featurizer_weight, [f.features, pixels]),
            bf: bias(&f.featurizer_bias),
            wc: tracked(&f.classifier_weight, [f.classes, f.features]),
            bc: bias(&f.classifier_bias),
        }
    }

    fn featurize(&self, images: Tensor<B, 2>) -> Tensor<B, 2> {
        images.matmul(self.wf.clone().transpose()) + self.bf.clone().unsqueeze()
    }

    fn classify(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        features.matmul(self.wc.clone().transpose()) + self.bc.clone().unsqueeze()
    }

    /// Gradients of `loss` in the fixture's order (weights flattened row-major).
    fn grads(&self, loss: Tensor<B, 1>) -> Vec<Vec<f32>> {
        let g = loss.backward();
        let flat2 = |t: &Tensor<B, 2>| t.grad(&g).expect("tracked").into_data().to_vec().unwrap();
        let flat1 = |t: &Tensor<B, 1>| t.grad(&g).expect("tracked").into_data().to_vec().unwrap();
        vec![
            flat2(&self.wf),
            flat1(&self.bf),
            flat2(&self.wc),
            flat1(&self.bc),
        ]
    }
}

/// The domains' minibatches stacked as the trainer stacks them.
fn step_input(f: &Fixture) -> StepInput {
    let [c, h, w] = f.image_shape;
    let batches: Vec<TrainBatch> = f
        .images
        .iter()
        .zip(&f.labels)
        .map(|(images, labels)| TrainBatch {
            images: images.clone(),
            shape: [f.per_domain, c, h, w],
            labels: labels.clone(),
            soft: None,
        })
        .collect();
    StepInput::stack(&batches, f.classes).expect("valid batches")
}

fn rows_of(input: &StepInput, domain: usize, width: usize, v: &[f32]) -> Tensor<B, 2> {
    let n = input.domain_rows[domain];
    let start = input.domain_rows[..domain].iter().sum::<usize>();
    let block = v[start * width..(start + n) * width].to_vec();
    Tensor::from_data(TensorData::new(block, [n, width]), &Default::default())
}

fn assert_close(what: &str, ours: f32, theirs: f32, tol: f32) {
    let rel = (ours - theirs).abs() / theirs.abs().max(1e-6);
    assert!(
        rel <= tol,
        "{what}: ours {ours}, DomainBed {theirs} (relative {rel:e})"
    );
}

fn assert_grads(what: &str, ours: &[Vec<f32>], theirs: &[Vec<f32>]) {
    let names = [
        "featurizer weight",
        "featurizer bias",
        "classifier weight",
        "classifier bias",
    ];
    for ((name, a), b) in names.iter().zip(ours).zip(theirs) {
        assert_eq!(a.len(), b.len(), "{what} {name}: length");
        let scale = b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            diff / scale <= 1e-5,
            "{what} {name}: max |diff| {diff} at scale {scale}"
        );
    }
}

#[test]
fn coral_matches_domainbed_loss_penalty_and_gradients() {
    let f = fixture();
    let net = Linear2::new(&f);
    let input = step_input(&f);
    let pixels = f.image_shape.iter().product::<usize>();
    let features: Vec<Tensor<B, 2>> = (0..f.domains)
        .map(|d| net.featurize(rows_of(&input, d, pixels, &input.images)))
        .collect();
    let logits = features.iter().map(|x| net.classify(x.clone())).collect();
    let targets = (0..f.domains)
        .map(|d| rows_of(&input, d, f.classes, &input.targets))
        .collect();
    let (objective, penalty) = coral_objective(&features, logits, targets);
    let scalar = |t: &Tensor<B, 1>| t.clone().into_scalar();
    assert_close(
        "CORAL objective",
        scalar(&objective),
        f.coral.objective,
        1e-5,
    );
    assert_close("CORAL penalty", scalar(&penalty), f.coral.penalty, 1e-5);
    let loss = objective + penalty.mul_scalar(oodcal::train::algorithm::CORAL_MMD_GAMMA);
    assert_close("CORAL loss", scalar(&loss), f.coral.loss, 1e-5);
    assert_grads("CORAL", &net.grads(loss), &f.coral.grads);
}

#[test]
fn mixup_matches_domainbed_loss_and_gradients() {
    let f = fixture();
    let net = Linear2::new(&f);
    let draw = MixupDraw {
        order: f.mixup.order.clone(),
        lambdas: f.mixup.lambdas.clone(),
    };
    let mixed = mix_pairs(&step_input(&f), &draw).expect("equal minibatches");
    let pixels = f.image_shape.iter().product::<usize>();
    // One forward pass per mixed pair, as DomainBed predicts each pair apart.
    let losses: Vec<Tensor<B, 1>> = (0..f.domains)
        .map(|d| {
            let x = rows_of(&mixed, d, pixels, &mixed.images);
            let t = rows_of(&mixed, d, f.classes, &mixed.targets);
            cross_entropy(net.classify(net.featurize(x)), t)
        })
        .collect();
    let loss = Tensor::cat(losses, 0).mean();
    assert_close("Mixup loss", loss.clone().into_scalar(), f.mixup.loss, 1e-5);
    assert_grads("Mixup", &net.grads(loss), &f.mixup.grads);
}

#[test]
fn mixup_draws_follow_the_key_and_mix_each_domain_with_the_next() {
    let a = MixupDraw::new(7, 3);
    assert_eq!(a, MixupDraw::new(7, 3), "same key, same draw");
    assert_ne!(a, MixupDraw::new(8, 3), "another key, another draw");
    let mut order = a.order.clone();
    order.sort_unstable();
    assert_eq!(order, vec![0, 1, 2], "a permutation of the domains");
    assert!(a.lambdas.iter().all(|l| (0.0..=1.0).contains(l)));
    // Beta(0.2, 0.2) puts most of its mass near 0 and 1.
    let near_edges = (0..400)
        .flat_map(|k| MixupDraw::new(k, 3).lambdas)
        .filter(|l| !(0.1..=0.9).contains(l))
        .count();
    assert!(
        near_edges > 600,
        "{near_edges} of 1200 draws within 0.1 of an edge"
    );
}

#[test]
fn mixup_refuses_minibatches_of_different_sizes() {
    let f = fixture();
    let mut input = step_input(&f);
    input.domain_rows = vec![3, 5, 4];
    let draw = MixupDraw::new(0, 3);
    let err = mix_pairs(&input, &draw).unwrap_err();
    assert!(err.contains("one size"), "{err}");
}

#[test]
fn algorithm_names_round_trip_and_unknown_names_are_refused() {
    for a in Algorithm::ALL {
        assert_eq!(a.name().parse::<Algorithm>(), Ok(a));
    }
    let err = "irm".parse::<Algorithm>().unwrap_err();
    assert!(err.contains("irm") && err.contains("coral"), "{err}");
}
