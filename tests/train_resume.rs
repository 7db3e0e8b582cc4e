//! Checkpoints: an interrupted and resumed run equals an uninterrupted one on CPU.

mod train_support;

use oodcal::model::{Family, ModelSpec, Size};
use oodcal::train::{train, CheckpointError, OptimizerSpec, TrainConfig, TrainError};
use train_support::{device, flat_params, toy_source, B};

const SIZE: usize = 16;

fn config(optimizer: OptimizerSpec) -> TrainConfig {
    TrainConfig {
        domains: 2,
        ..TrainConfig::pretrain(8, optimizer, 11)
    }
}

/// Runs 8 steps straight, and 4 + checkpoint + resume 4, for one family and
/// optimizer; asserts bit-identical losses and final tensors.
fn assert_resume_is_exact(family: Family, optimizer: OptimizerSpec) {
    let spec = ModelSpec::new(family, Size::Tiny).with_image_size(SIZE);
    let build = || spec.build::<B>(4, 5, &device()).unwrap();
    let mut source = toy_source(8, SIZE, 4);

    let straight = train(
        build(),
        &config(optimizer.clone()),
        &mut source,
        |_, _| Ok(()),
        &device(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt");
    let interrupted = config(optimizer.clone())
        .with_checkpoint(&path, 100)
        .with_stop_after(4);
    let first = train(build(), &interrupted, &mut source, |_, _| Ok(()), &device()).unwrap();
    assert!(!first.finished);
    assert_eq!(first.step, 4);
    assert!(path.exists());
    assert!(
        !dir.path().join("run.ckpt.tmp").exists(),
        "temporary file left behind"
    );

    // A fresh process would rebuild the model from its spec; the checkpoint wins.
    let resumed_config = config(optimizer).with_checkpoint(&path, 100);
    let second = train(
        build(),
        &resumed_config,
        &mut source,
        |_, _| Ok(()),
        &device(),
    )
    .unwrap();
    assert!(second.finished);
    assert_eq!(second.resumed_from, 4);
    assert_eq!(second.losses, straight.losses, "{family:?}");
    // Bit-identical: every parameter and BatchNorm statistic, not just close.
    let (resumed, uninterrupted) = (flat_params(&second.model), flat_params(&straight.model));
    assert!(resumed == uninterrupted, "{family:?}: final tensors differ");
}

#[test]
fn resumed_resnet_with_sgd_momentum_matches_an_uninterrupted_run() {
    assert_resume_is_exact(Family::ResNet, OptimizerSpec::sgd(0.05, 1e-4));
}

#[test]
fn resumed_vit_with_adamw_matches_an_uninterrupted_run() {
    assert_resume_is_exact(Family::Vit, OptimizerSpec::adamw(1e-3, 0.05));
}

#[test]
fn a_checkpoint_from_another_configuration_is_refused() {
    let spec = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(SIZE);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt");
    let mut source = toy_source(4, SIZE, 4);
    let first = config(OptimizerSpec::sgd(0.05, 0.0))
        .with_checkpoint(&path, 2)
        .with_stop_after(2);
    train(
        spec.build::<B>(4, 5, &device()).unwrap(),
        &first,
        &mut source,
        |_, _| Ok(()),
        &device(),
    )
    .unwrap();

    let other_lr = config(OptimizerSpec::sgd(0.1, 0.0)).with_checkpoint(&path, 2);
    let model = spec.build::<B>(4, 5, &device()).unwrap();
    let err = train(model, &other_lr, &mut source, |_, _| Ok(()), &device())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            TrainError::Checkpoint(CheckpointError::Mismatch { .. })
        ),
        "{err}"
    );

    std::fs::write(&path, b"OODCAL-CKPT 1\n\x05").unwrap();
    let same = config(OptimizerSpec::sgd(0.05, 0.0)).with_checkpoint(&path, 2);
    let model = spec.build::<B>(4, 5, &device()).unwrap();
    let err = train(model, &same, &mut source, |_, _| Ok(()), &device())
        .err()
        .unwrap();
    assert!(
        matches!(err, TrainError::Checkpoint(CheckpointError::Format { .. })),
        "{err}"
    );
}
