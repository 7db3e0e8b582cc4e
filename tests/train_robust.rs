//! Divergence is reported with its step; runs are deterministic on CPU; bad
//! batches and failing hooks stop the run with a clear error.

mod train_support;

use oodcal::model::{Family, ModelSpec, Size};
use oodcal::train::{train, OptimizerSpec, TrainConfig, TrainError, TrainRng};
use train_support::{device, flat_params, toy_batch, toy_source, B};

const SIZE: usize = 16;

fn tiny(family: Family) -> ModelSpec {
    ModelSpec::new(family, Size::Tiny).with_image_size(SIZE)
}

#[test]
fn an_overflowing_learning_rate_stops_at_the_step_that_diverged() {
    let model = tiny(Family::ResNet).build::<B>(4, 1, &device()).unwrap();
    let config = TrainConfig::pretrain(50, OptimizerSpec::sgd(1e39, 0.0), 1);
    let mut source = toy_source(8, SIZE, 4);
    let err = train(model, &config, &mut source, |_, _| Ok(()), &device())
        .expect_err("training should diverge");
    let TrainError::NonFinite { step, loss } = err else {
        panic!("expected divergence, got {err}")
    };
    assert!(!loss.is_finite());
    // 1e39 overflows f32: step 1 starts from sane weights and its update sends
    // them to infinity, so step 2 is the first with a non-finite loss. (A merely
    // huge rate such as 1e30 gives losses of ~1e30 that stay finite, since
    // BatchNorm rescales the activations.)
    assert_eq!(step, 2);
}

#[test]
fn nan_inputs_stop_at_the_first_step() {
    let model = tiny(Family::Vit).build::<B>(4, 1, &device()).unwrap();
    let config = TrainConfig::pretrain(5, OptimizerSpec::sgd(0.01, 0.0), 1);
    let mut source = |domain: usize, rng: &mut TrainRng| {
        let mut batch = toy_batch(rng, domain, 4, SIZE, 4);
        batch.images[7] = f32::NAN;
        Ok::<_, anyhow::Error>(batch)
    };
    let err = train(model, &config, &mut source, |_, _| Ok(()), &device())
        .err()
        .unwrap();
    assert!(
        matches!(err, TrainError::NonFinite { step: 1, .. }),
        "{err}"
    );
    assert_eq!(err.step(), Some(1));
}

#[test]
fn two_runs_with_one_seed_are_identical_and_another_seed_differs() {
    let run = |seed: u64| {
        let model = tiny(Family::ResNet).build::<B>(4, seed, &device()).unwrap();
        let config = TrainConfig {
            domains: 2,
            ..TrainConfig::pretrain(5, OptimizerSpec::adam(1e-3, 1e-4), seed)
        };
        let mut source = toy_source(8, SIZE, 4);
        train(model, &config, &mut source, |_, _| Ok(()), &device()).unwrap()
    };
    let (a, b, c) = (run(3), run(3), run(4));
    assert_eq!(a.losses, b.losses);
    assert_eq!(flat_params(&a.model), flat_params(&b.model));
    assert_ne!(a.losses, c.losses);
}

#[test]
fn malformed_batches_and_failing_sources_and_hooks_name_the_step() {
    let config = TrainConfig::pretrain(3, OptimizerSpec::sgd(0.01, 0.0), 1);
    let build = || tiny(Family::ResNet).build::<B>(4, 1, &device()).unwrap();

    let mut out_of_range = |domain: usize, rng: &mut TrainRng| {
        let mut batch = toy_batch(rng, domain, 4, SIZE, 4);
        batch.labels[0] = 9;
        Ok::<_, anyhow::Error>(batch)
    };
    let err = train(
        build(),
        &config,
        &mut out_of_range,
        |_, _| Ok(()),
        &device(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&err, TrainError::Batch { step: 1, reason } if reason.contains("label 9")),
        "{err}"
    );

    let mut failing = |_: usize, _: &mut TrainRng| Err(anyhow::anyhow!("disk on fire"));
    let err = train(build(), &config, &mut failing, |_, _| Ok(()), &device())
        .err()
        .unwrap();
    assert!(
        matches!(err, TrainError::Source { step: 1, .. })
            && err.to_string().contains("disk on fire")
    );

    let mut source = toy_source(4, SIZE, 4);
    let eval_every_step = TrainConfig {
        eval_every: 1,
        ..config
    };
    let err = train(
        build(),
        &eval_every_step,
        &mut source,
        |step, _| {
            anyhow::ensure!(step < 2, "metrics broke");
            Ok(())
        },
        &device(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, TrainError::Eval { step: 2, .. }), "{err}");
}
