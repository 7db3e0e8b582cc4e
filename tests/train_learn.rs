//! Training actually learns: pre-training and ERM fine-tuning on a tiny
//! separable problem, for each family.

mod train_support;

use oodcal::model::{Family, HeadMode, ModelSpec, Size};
use oodcal::train::{logits_of_trained, train, OptimizerSpec, TrainConfig, TrainRng};
use rand::SeedableRng;
use train_support::{accuracy, device, mean, toy_batch, toy_source, B};

const SIZE: usize = 16;
const CLASSES: usize = 6;

/// Pre-trains `spec` from scratch and returns (first losses, last losses, held-out accuracy).
fn pretrain(spec: ModelSpec, optimizer: OptimizerSpec, steps: usize) -> (f32, f32, f64) {
    let spec = spec.with_image_size(SIZE);
    let model = spec.build::<B>(CLASSES, 1, &device()).unwrap();
    let config = TrainConfig::pretrain(steps, optimizer, 7);
    let mut source = toy_source(32, SIZE, CLASSES);
    let out = train(model, &config, &mut source, |_, _| Ok(()), &device()).unwrap();
    assert_eq!(out.losses.len(), steps);
    let test = toy_batch(&mut TrainRng::seed_from_u64(99), 0, 120, SIZE, CLASSES);
    let logits = logits_of_trained(&out.model, &test.images, test.shape, 64, &device());
    let acc = accuracy(&logits, &test.labels, CLASSES);
    let (first, last) = (mean(&out.losses[..5]), mean(&out.losses[steps - 5..]));
    eprintln!("{spec}: loss {first} -> {last}, held-out accuracy {acc}");
    (first, last, acc)
}

#[test]
fn resnet_learns_a_separable_problem() {
    let spec = ModelSpec::new(Family::ResNet, Size::Tiny);
    let (first, last, acc) = pretrain(spec, OptimizerSpec::sgd(0.05, 0.0), 30);
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    assert!(acc > 0.9, "held-out accuracy {acc}");
}

#[test]
fn vit_learns_a_separable_problem() {
    let spec = ModelSpec::new(Family::Vit, Size::Tiny);
    let (first, last, acc) = pretrain(spec, OptimizerSpec::adamw(1e-2, 0.05), 40);
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    assert!(acc > 0.9, "held-out accuracy {acc}");
}

#[test]
fn erm_fine_tunes_a_pretrained_network_on_several_domains() {
    // Pre-train a 6-way network briefly, then fine-tune it with the paper's head
    // (a linear layer on the 6 pre-training logits) on a 3-class task from three domains.
    let spec = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(SIZE);
    let scratch = spec.build::<B>(CLASSES, 1, &device()).unwrap();
    let pretraining = TrainConfig::pretrain(20, OptimizerSpec::sgd(0.05, 0.0), 1);
    let mut corpus = toy_source(32, SIZE, CLASSES);
    let pretrained = train(scratch, &pretraining, &mut corpus, |_, _| Ok(()), &device()).unwrap();
    let model = pretrained
        .model
        .adapt_head(HeadMode::AddLinear, 3, 2)
        .unwrap();
    let mut calls = Vec::new();
    let mut source = |domain: usize, rng: &mut TrainRng| {
        calls.push(domain);
        Ok::<_, anyhow::Error>(toy_batch(rng, domain, 8, SIZE, 3))
    };
    let mut evals = Vec::new();
    let config = TrainConfig::erm(25, 3, 0.05, 1e-4, 3).with_eval_every(10);
    let out = train(
        model,
        &config,
        &mut source,
        |step, _| {
            evals.push(step);
            Ok(())
        },
        &device(),
    )
    .unwrap();
    // One minibatch per domain per step, in domain order.
    assert_eq!(calls.len(), 25 * 3);
    assert!(calls.chunks(3).all(|c| c == [0, 1, 2]));
    assert_eq!(evals, vec![10, 20, 25]);
    let (first, last) = (mean(&out.losses[..5]), mean(&out.losses[20..]));
    assert!(last < 0.6 * first, "loss {first} -> {last}");
}

#[test]
fn soft_targets_train_with_the_same_loss() {
    // Mixup-style targets: 0.8 on the label, 0.2 on the next class.
    let spec = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(SIZE);
    let model = spec.build::<B>(CLASSES, 1, &device()).unwrap();
    let mut source = |domain: usize, rng: &mut TrainRng| {
        let mut batch = toy_batch(rng, domain, 16, SIZE, CLASSES);
        let mut soft = vec![0.0; 16 * CLASSES];
        for (row, &label) in batch.labels.iter().enumerate() {
            soft[row * CLASSES + label as usize] = 0.8;
            soft[row * CLASSES + (label as usize + 1) % CLASSES] = 0.2;
        }
        batch.soft = Some(soft);
        Ok::<_, anyhow::Error>(batch)
    };
    let config = TrainConfig::pretrain(20, OptimizerSpec::sgd(0.05, 0.0), 1);
    let out = train(model, &config, &mut source, |_, _| Ok(()), &device()).unwrap();
    // The soft targets' entropy (≈0.50) bounds the loss from below.
    let last = mean(&out.losses[15..]);
    assert!(
        last < 0.7 * mean(&out.losses[..5]) && last > 0.45,
        "losses {:?}",
        out.losses
    );
}
