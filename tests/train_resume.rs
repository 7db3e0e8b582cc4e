//! Checkpoints: an interrupted and resumed run equals an uninterrupted one on
//! CPU, for the zoo and for the paper's timm networks.

mod train_support;

use oodcal::model::{Family, ModelSpec, Size};
use oodcal::train::{train, OptimizerSpec, TrainConfig};
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

/// How a checkpoint found at the start of a run is damaged or misplaced.
enum Fault {
    OtherConfiguration,
    OtherOwner,
    FlippedByte,
    Truncated,
}

/// A checkpoint that does not verify, or belongs to another run, is set
/// aside (renamed, with a note) and the run starts from step 0: it then ends
/// exactly as an uninterrupted run, instead of resuming from damaged weights
/// or failing at every attempt.
#[test]
fn a_damaged_or_misplaced_checkpoint_is_set_aside_and_the_run_starts_afresh() {
    let spec = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(SIZE);
    let build = || spec.build::<B>(4, 5, &device()).unwrap();
    let sgd = || config(OptimizerSpec::sgd(0.05, 0.0));
    let mut source = toy_source(4, SIZE, 4);
    let straight = train(build(), &sgd(), &mut source, |_, _| Ok(()), &device()).unwrap();
    for fault in [
        Fault::OtherConfiguration,
        Fault::OtherOwner,
        Fault::FlippedByte,
        Fault::Truncated,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        let mut first = sgd()
            .with_checkpoint(&path, 2)
            .with_checkpoint_owner("run-a")
            .with_stop_after(2);
        if let Fault::OtherConfiguration = fault {
            first.optimizer = OptimizerSpec::sgd(0.1, 0.0);
        }
        train(build(), &first, &mut source, |_, _| Ok(()), &device()).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        match fault {
            Fault::FlippedByte => {
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x10;
            }
            Fault::Truncated => bytes.truncate(bytes.len() / 2),
            _ => {}
        }
        std::fs::write(&path, &bytes).unwrap();
        let owner = match fault {
            Fault::OtherOwner => "run-b",
            _ => "run-a",
        };
        let resumed_config = sgd()
            .with_checkpoint(&path, 100)
            .with_checkpoint_owner(owner);
        let out = train(
            build(),
            &resumed_config,
            &mut source,
            |_, _| Ok(()),
            &device(),
        )
        .unwrap();
        let note = out.set_aside.clone().expect("the checkpoint is set aside");
        let words = match fault {
            Fault::OtherConfiguration => "saved",
            Fault::OtherOwner => "belongs to run `run-a`, not `run-b`",
            Fault::FlippedByte | Fault::Truncated => "SHA-256 does not match",
        };
        assert!(
            note.contains(words) && note.contains("run.ckpt.rejected"),
            "{note}"
        );
        assert!(dir.path().join("run.ckpt.rejected").exists());
        assert_eq!(out.resumed_from, 0, "{note}");
        assert_eq!(out.losses, straight.losses, "{note}");
    }
}

#[path = "common/timm_file.rs"]
mod timm_file;

/// The paper's timm networks (here RegNetY-002: BatchNorm, squeeze-excite,
/// grouped convolutions; ConvNeXt-tiny: LayerNorm, layer scale, depthwise
/// convolutions) checkpoint and resume as exactly as the zoo's, so a cluster
/// task stopped mid-run loses nothing: loaded from a timm-shaped file with the
/// paper's head rule, as `oodcal run` builds them.
#[test]
fn resumed_timm_networks_match_an_uninterrupted_run() {
    use oodcal::model::registry::timm_model;
    use oodcal::model::HeadMode;
    use oodcal::weights::read_safetensors;
    const SIDE: usize = 32;
    for tag in ["regnety_002.pycls_in1k", "convnext_tiny.fb_in1k"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("weights.safetensors");
        let tensors = timm_file::timm_tensors(tag);
        std::fs::write(
            &file,
            timm_file::safetensors_bytes(&tensors, timm_file::he_initialised(3)),
        )
        .unwrap();
        let dict = read_safetensors(&file).unwrap();
        let model = timm_model(tag).unwrap();
        let arch = model.arch().unwrap();
        let build = || {
            let network = arch.init_network::<B>(model.head_classes as usize, &device());
            arch.load(network, &dict, tag)
                .unwrap()
                .adapt_head(HeadMode::AddLinear, 4, 5)
                .unwrap()
        };
        let optimizer = || OptimizerSpec::sgd(0.01, 1e-4);
        let mut source = toy_source(2, SIDE, 4);
        let straight = train(
            build(),
            &config(optimizer()),
            &mut source,
            |_, _| Ok(()),
            &device(),
        )
        .unwrap();
        let path = dir.path().join("run.ckpt");
        let interrupted = config(optimizer())
            .with_checkpoint(&path, 100)
            .with_stop_after(4);
        let first = train(build(), &interrupted, &mut source, |_, _| Ok(()), &device()).unwrap();
        assert!(!first.finished && path.exists(), "{tag}");
        let resumed = config(optimizer()).with_checkpoint(&path, 100);
        let second = train(build(), &resumed, &mut source, |_, _| Ok(()), &device()).unwrap();
        assert_eq!(second.resumed_from, 4, "{tag}");
        assert!(straight.losses.iter().all(|l| l.is_finite()), "{tag}");
        assert_eq!(second.losses, straight.losses, "{tag}");
        let (a, b) = (flat_params(&second.model), flat_params(&straight.model));
        assert!(a == b, "{tag}: final tensors differ");
    }
}

/// A run that ends at a plateau of its monitor accuracy: the cool-down starts
/// at the measurement that makes the plateau and lasts its fraction of the
/// steps; interrupted before the plateau and resumed, it decides at the same
/// step and ends with the same bits, because its checkpoint carries the
/// measurements made so far.
#[test]
fn a_plateau_run_cools_down_where_it_plateaus_and_resumes_exactly() {
    use oodcal::train::{train_to_plateau, LrSchedule, Plateau};
    let spec = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(SIZE);
    let build = || spec.build::<B>(4, 5, &device()).unwrap();
    let rule = Plateau {
        every: 2,
        patience: 2,
        min_gain: 1.0,
        cooldown: 0.5,
        min_steps: 0,
        min_accuracy: 0.0,
    };
    let optimizer =
        OptimizerSpec::adamw(1e-3, 0.05).with_schedule(LrSchedule::Warmup { warmup_steps: 2 });
    // A stable phase of at most 40 steps; the scripted accuracies plateau at
    // the 4th measurement (after step 8): 20.6 does not beat 20 by 1 point.
    let plateau_config = || config(optimizer.clone()).with_plateau(rule).with_steps(40);
    let scripted = [10.0, 20.0, 20.5, 20.6, 99.0, 99.0];
    let monitor_from = |first: usize| {
        let mut calls = first;
        move |_: &oodcal::model::Network<B>| {
            calls += 1;
            Ok(scripted[calls - 1])
        }
    };
    let mut source = toy_source(8, SIZE, 4);
    let mut measure = monitor_from(0);
    let straight = train_to_plateau(
        build(),
        &plateau_config(),
        &mut source,
        &mut measure,
        &device(),
    )
    .unwrap();
    let state = straight.plateau.clone().expect("a plateau state");
    assert_eq!(
        state.curve,
        vec![(2, 10.0), (4, 20.0), (6, 20.5), (8, 20.6)]
    );
    assert_eq!((state.cooldown_from, state.plateaued), (Some(8), true));
    assert_eq!(straight.step, 12, "8 steps and a cool-down of half as many");
    assert!(straight.finished);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt");
    let mut measure = monitor_from(0);
    let first = train_to_plateau(
        build(),
        &plateau_config()
            .with_checkpoint(&path, 100)
            .with_stop_after(5),
        &mut source,
        &mut measure,
        &device(),
    )
    .unwrap();
    assert!(!first.finished);
    // Two measurements (after steps 2 and 4) are in the checkpoint; the
    // resumed run's monitor carries on from the third.
    let mut measure = monitor_from(2);
    let second = train_to_plateau(
        build(),
        &plateau_config().with_checkpoint(&path, 100),
        &mut source,
        &mut measure,
        &device(),
    )
    .unwrap();
    assert_eq!(second.resumed_from, 5);
    assert_eq!(second.plateau, straight.plateau);
    assert_eq!(second.losses, straight.losses);
    assert!(flat_params(&second.model) == flat_params(&straight.model));
}
