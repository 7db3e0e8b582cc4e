//! Numeric parity with timm: each architecture class at a reduced size.
//!
//! `scripts/timm_parity_fixture.py` instantiated timm's own model classes
//! with fewer blocks and narrower widths (the same code paths as the
//! published models), drew every tensor of their state dicts at random, and
//! saved them with timm's logits for fixed inputs, in evaluation mode
//! (BatchNorm's running statistics) and training mode (batch statistics).
//! The burn ports load those files through the loader real timm weights
//! take and must give the same logits within 1e-4.

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use oodcal::model::timm::convnext::ConvNeXtConfig;
use oodcal::model::timm::efficientnet::EfficientNetConfig;
use oodcal::model::timm::mixer::MixerConfig;
use oodcal::model::timm::regnet::RegNetConfig;
use oodcal::model::timm::resnet::ResNetConfig;
use oodcal::model::timm::vgg::VggConfig;
use oodcal::model::timm::vit::VitConfig;
use oodcal::model::timm::TimmArch;
use oodcal::weights::{read_safetensors, HostTensor, StateDict};

type Train = oodcal::train::CpuBackend;
type Eval = <Train as AutodiffBackend>::InnerBackend;

const CLASSES: usize = 10;
const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/timm_parity/{name}"))
}

/// The reduced configurations the fixture script built, by fixture name.
fn reduced(name: &str) -> TimmArch {
    match name {
        "resnet" => TimmArch::ResNet(ResNetConfig {
            layers: [1, 2, 1, 1],
            channels: [8, 16, 24, 32],
        }),
        "vit" => TimmArch::Vit(VitConfig {
            patch: 8,
            dim: 32,
            depth: 2,
            heads: 4,
            image_size: 32,
        }),
        "convnext" => TimmArch::ConvNeXt(ConvNeXtConfig {
            depths: [1, 1, 2, 1],
            dims: [8, 16, 24, 32],
        }),
        "mixer" => TimmArch::Mixer(MixerConfig {
            patch: 8,
            dim: 32,
            depth: 2,
            image_size: 32,
        }),
        "vgg" => TimmArch::Vgg(VggConfig {
            convs: [1, 1, 2, 0, 0],
            widths: [8, 16, 16, 0, 0],
            hidden: 24,
        }),
        "regnety" => TimmArch::RegNet(RegNetConfig {
            depth: 6,
            w0: 8,
            wa: 12.0,
            wm: 2.0,
            group_size: 8,
            se_ratio: 0.25,
            stem_width: 8,
        }),
        "tf_efficientnet" => TimmArch::EfficientNet(EfficientNetConfig {
            width: 0.25,
            depth: 0.5,
            lite: false,
        }),
        "tf_efficientnet_lite" => TimmArch::EfficientNet(EfficientNetConfig {
            width: 0.25,
            depth: 0.5,
            lite: true,
        }),
        other => panic!("no reduced configuration for {other}"),
    }
}

fn tensor<B: Backend, const D: usize>(dict: &StateDict, key: &str) -> Tensor<B, D> {
    let t = dict.get(key).unwrap_or_else(|| panic!("no {key}"));
    Tensor::from_data(
        TensorData::new(t.data.clone(), t.shape.clone()),
        &Default::default(),
    )
}

fn max_abs_diff<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> f32 {
    a.sub(b).abs().max().into_scalar().elem()
}

/// Largest |burn − timm| over every case, in (evaluation, training) mode.
fn parity(name: &str) -> (f32, f32) {
    let arch = reduced(name);
    let weights_file = fixture(&format!("{name}.safetensors"));
    let weights = read_safetensors(&weights_file).unwrap();
    let io = read_safetensors(&fixture(&format!("{name}.io.safetensors"))).unwrap();
    let origin = weights_file.display().to_string();
    let device = Default::default();
    let eval_net = arch
        .load(
            arch.init_network::<Eval>(CLASSES, &device),
            &weights,
            &origin,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let train_net = arch
        .load(
            arch.init_network::<Train>(CLASSES, &device),
            &weights,
            &origin,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut eval_worst, mut train_worst) = (0f32, 0f32);
    let cases = io.keys().filter(|k| k.ends_with(".input")).count();
    assert!(cases > 0, "{name}: no cases");
    for case in 0..cases {
        let key = |what: &str| format!("case{case}.{what}");
        let eval = eval_net.forward(tensor::<Eval, 4>(&io, &key("input")));
        eval_worst = eval_worst.max(max_abs_diff(eval, tensor(&io, &key("eval"))));
        let train = train_net.forward(tensor::<Train, 4>(&io, &key("input")));
        train_worst = train_worst.max(max_abs_diff(train, tensor(&io, &key("train"))));
    }
    println!("{name}: max |burn - timm| evaluation {eval_worst:.2e}, training {train_worst:.2e}");
    (eval_worst, train_worst)
}

fn assert_parity(name: &str) {
    let (eval, train) = parity(name);
    assert!(
        eval < TOLERANCE && train < TOLERANCE,
        "{name}: evaluation {eval:e}, training {train:e}"
    );
}

#[test]
fn resnet_matches_timm() {
    assert_parity("resnet");
}

#[test]
fn vit_matches_timm() {
    assert_parity("vit");
}

#[test]
fn convnext_matches_timm() {
    assert_parity("convnext");
}

#[test]
fn mixer_matches_timm() {
    assert_parity("mixer");
}

/// Two input sides: one reaching `pre_logits`' 7×7 convolution exactly, one
/// that timm pools up to 7×7 first.
#[test]
fn vgg_matches_timm() {
    assert_parity("vgg");
}

#[test]
fn regnety_matches_timm() {
    assert_parity("regnety");
}

/// An odd input side, so TensorFlow's SAME padding is asymmetric.
#[test]
fn tf_efficientnet_matches_timm() {
    assert_parity("tf_efficientnet");
}

#[test]
fn tf_efficientnet_lite_matches_timm() {
    assert_parity("tf_efficientnet_lite");
}

/// The logits are not trivially close: the fixture's two samples differ, so
/// a model that ignored its input would fail.
#[test]
fn the_fixtures_logits_depend_on_the_input() {
    let io = read_safetensors(&fixture("resnet.io.safetensors")).unwrap();
    let logits = &io.get("case0.eval").unwrap().data;
    let (first, second) = logits.split_at(CLASSES);
    let spread = first
        .iter()
        .zip(second)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(spread > 100.0 * TOLERANCE, "{spread}");
}

/// A file with one tensor renamed, one missing and one of the wrong shape is
/// refused, and the error names every key involved.
#[test]
fn a_file_that_does_not_fit_is_refused_naming_each_key() {
    let arch = reduced("resnet");
    let mut dict = read_safetensors(&fixture("resnet.safetensors")).unwrap();
    let renamed = dict.remove("layer2.0.conv2.weight").unwrap();
    dict.insert("layer2.0.conv_2.weight", renamed);
    dict.remove("layer3.0.bn1.running_var").unwrap();
    dict.insert(
        "fc.bias",
        HostTensor::new(vec![CLASSES + 1], vec![0.0; CLASSES + 1]),
    );
    let device = Default::default();
    let err = arch
        .load(
            arch.init_network::<Eval>(CLASSES, &device),
            &dict,
            "edited.safetensors",
        )
        .unwrap_err();
    let message = err.to_string();
    for expected in [
        "edited.safetensors",
        "missing key `layer2.0.conv2.weight`",
        "unused key `layer2.0.conv_2.weight`",
        "missing key `layer3.0.bn1.running_var`",
        "shape mismatch for key `fc.bias`: the file has [11], the model's `head.bias` needs [10]",
    ] {
        assert!(message.contains(expected), "{expected} not in:\n{message}");
    }
    assert_eq!(err.mismatches.len(), 4, "{message}");
}

/// `oodcal predict` on a photograph crop, with a reduced model's random
/// weights from safetensors, writes timm's logits for that image (the
/// fixture's `photo.eval`, timm's own preprocessing) within 1e-4.
#[test]
fn predict_gives_timms_logits_on_a_photograph() {
    let out = tempfile::tempdir().unwrap();
    for name in [
        "resnet",
        "vit",
        "convnext",
        "mixer",
        "vgg",
        "regnety",
        "tf_efficientnet",
        "tf_efficientnet_lite",
    ] {
        let csv = out.path().join(format!("{name}.csv"));
        let arch = serde_json::to_string(&reduced(name)).unwrap();
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_oodcal"))
            .args(["predict", &arch])
            .arg("--weights")
            .arg(fixture(&format!("{name}.safetensors")))
            .arg("--logits")
            .arg(&csv)
            .arg(fixture(&format!("{name}.photo.png")))
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let ours: Vec<f32> = std::fs::read_to_string(&csv)
            .unwrap()
            .lines()
            .skip(1)
            .map(|line| line.rsplit(',').next().unwrap().parse().unwrap())
            .collect();
        let io = read_safetensors(&fixture(&format!("{name}.io.safetensors"))).unwrap();
        let timm = &io.get("photo.eval").unwrap().data;
        assert_eq!(ours.len(), timm.len(), "{name}");
        let worst = ours
            .iter()
            .zip(timm)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!("{name}: predict vs timm on the photograph {worst:.2e}");
        assert!(worst < TOLERANCE, "{name}: {worst:e}");
        let printed = String::from_utf8_lossy(&run.stdout);
        assert!(printed.contains(" 1. "), "{name}: no ranking in\n{printed}");
    }
}

/// The paper's head rule on a timm network: the pre-trained head is kept
/// (DomainBed's featurizer ends with it) and a new linear layer maps its
/// classes to the task's; for a headless tag the network's only head maps
/// the features to the task's classes.
#[test]
fn the_papers_head_rule_keeps_timms_head_and_adds_a_layer() {
    use oodcal::model::HeadMode;
    let arch = reduced("convnext");
    let weights = read_safetensors(&fixture("convnext.safetensors")).unwrap();
    let io = read_safetensors(&fixture("convnext.io.safetensors")).unwrap();
    let device = Default::default();
    let pretrained = arch
        .load(
            arch.init_network::<Eval>(CLASSES, &device),
            &weights,
            "convnext",
        )
        .unwrap();
    let task = pretrained.adapt_head(HeadMode::AddLinear, 7, 0).unwrap();
    let images = tensor::<Eval, 4>(&io, "case0.input");
    let features = task.featurize(images.clone(), None);
    assert_eq!(
        features.dims(),
        [2, CLASSES],
        "the features are timm's logits"
    );
    assert!(max_abs_diff(features, tensor(&io, "case0.eval")) < TOLERANCE);
    assert_eq!(task.forward(images.clone()).dims(), [2, 7]);
    // Headless (MAE, DINO): the feature extractor alone, then the task's layer.
    let headless = arch.init_network::<Eval>(7, &device);
    assert_eq!(headless.forward(images).dims(), [2, 7]);
}

/// A token model asked for a side its position embeddings were not laid out
/// for is refused with the reason, not a panic.
#[test]
fn predict_refuses_a_side_a_vit_was_not_built_for() {
    let arch = serde_json::to_string(&reduced("vit")).unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_oodcal"))
        .args(["predict", &arch, "--size", "48", "--weights"])
        .arg(fixture("vit.safetensors"))
        .arg(fixture("vit.photo.png"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("laid out for 32 px inputs"), "{stderr}");
}
