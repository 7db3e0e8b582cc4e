//! The model zoo: sizes, shapes, head modes and seeded initialisation.

mod train_support;

use burn::module::Module;
use burn::prelude::*;
use oodcal::model::init::init_module;
use oodcal::model::{
    BackboneConfig, Family, HeadMode, ModelError, ModelSpec, Pool, Size, VitConfig,
};
use oodcal::train::{load_weights, save_weights};
use train_support::{device, flat_params, B};

#[test]
fn each_family_spans_at_least_ten_times_in_parameters() {
    for family in Family::ALL {
        let counts: Vec<usize> = Size::ALL
            .iter()
            .map(|&size| ModelSpec::new(family, size).num_params(100).unwrap())
            .collect();
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "{family:?}: {counts:?} not increasing"
        );
        let span = counts[2] as f64 / counts[0] as f64;
        assert!(
            span >= 10.0,
            "{family:?}: base/tiny = {span:.1} ({counts:?})"
        );
    }
}

#[test]
fn parameter_count_comes_from_the_module() {
    // ResNet-tiny by hand: convs (no bias) + 4 floats per BatchNorm channel
    // (gamma, beta, running mean and variance) + the 32→10 head.
    let conv = |i: usize, o: usize, k: usize| i * o * k * k + 4 * o;
    let expected = conv(3, 8, 3)
        + 2 * conv(8, 8, 3)
        + conv(8, 16, 3)
        + conv(16, 16, 3)
        + conv(8, 16, 1)
        + conv(16, 32, 3)
        + conv(32, 32, 3)
        + conv(16, 32, 1)
        + 32 * 10
        + 10;
    let spec: ModelSpec = "resnet-tiny".parse().unwrap();
    assert_eq!(spec.num_params(10).unwrap(), expected);
}

#[test]
fn every_model_maps_images_to_class_logits() {
    for spec in ModelSpec::all() {
        let model = spec.build::<B>(7, 1, &device()).unwrap();
        let images = Tensor::<B, 4>::zeros([2, 3, 32, 32], &device());
        assert_eq!(model.forward(images).dims(), [2, 7], "{spec}");
    }
}

#[test]
fn models_accept_other_input_sizes() {
    for (spec, px) in [
        ("resnet-tiny", 24),
        ("resnet-tiny", 16),
        ("vit-tiny", 16),
        ("vit-tiny", 64),
    ] {
        let spec = spec.parse::<ModelSpec>().unwrap().with_image_size(px);
        let model = spec.build::<B>(3, 1, &device()).unwrap();
        let images = Tensor::<B, 4>::zeros([1, 3, px, px], &device());
        assert_eq!(model.forward(images).dims(), [1, 3], "{spec} at {px}px");
    }
    let bad = ModelSpec::new(Family::Vit, Size::Tiny).with_image_size(20);
    assert!(matches!(
        bad.build::<B>(3, 1, &device()),
        Err(ModelError::ImageSize { .. })
    ));
    let small = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(8);
    assert!(small.build::<B>(3, 1, &device()).is_err());
}

#[test]
fn vit_pools_with_a_cls_token_or_the_mean_patch_token() {
    let BackboneConfig::Vit(cls) = ModelSpec::new(Family::Vit, Size::Tiny).backbone().unwrap()
    else {
        panic!("a ViT spec resolves to a ViT config")
    };
    let mean = VitConfig {
        pool: Pool::Mean,
        ..cls
    };
    let with_cls = init_module(cls.init::<B>(&device()), 1).unwrap();
    let with_mean = init_module(mean.init::<B>(&device()), 1).unwrap();
    // The CLS token and its position embedding are the only extra parameters.
    assert_eq!(with_cls.num_params() - with_mean.num_params(), 2 * cls.dim);
    let images = Tensor::<B, 4>::ones([2, 3, 32, 32], &device());
    assert_eq!(with_mean.forward(images.clone()).dims(), [2, cls.dim]);
    assert_eq!(with_cls.forward(images).dims(), [2, cls.dim]);
}

#[test]
fn names_round_trip_and_unknown_names_fail() {
    for spec in ModelSpec::all() {
        assert_eq!(spec.name().parse::<ModelSpec>().unwrap(), spec);
    }
    assert!(matches!(
        "resnet-huge".parse::<ModelSpec>(),
        Err(ModelError::UnknownModel(_))
    ));
}

#[test]
fn add_linear_keeps_the_pretrained_head_and_adds_a_layer() {
    let pretrained = ModelSpec::new(Family::Vit, Size::Tiny)
        .build::<B>(100, 3, &device())
        .unwrap();
    let head_before = flat_params(&pretrained);
    let params_before = pretrained.num_params();
    let tuned = pretrained.adapt_head(HeadMode::AddLinear, 7, 9).unwrap();
    assert_eq!(tuned.num_classes(), 7);
    assert_eq!(tuned.num_params(), params_before + 100 * 7 + 7);
    // Everything that was there is unchanged; the new layer's values come last.
    assert_eq!(&flat_params(&tuned)[..head_before.len()], &head_before[..]);
    let images = Tensor::<B, 4>::zeros([3, 3, 32, 32], &device());
    assert_eq!(tuned.forward(images).dims(), [3, 7]);
    let again = tuned.adapt_head(HeadMode::AddLinear, 5, 9);
    assert!(matches!(again, Err(ModelError::HeadAlreadyAdapted)));
}

#[test]
fn replace_swaps_the_head_for_one_on_the_features() {
    let pretrained = ModelSpec::new(Family::ResNet, Size::Tiny)
        .build::<B>(100, 3, &device())
        .unwrap();
    let params_before = pretrained.num_params();
    let tuned = pretrained.adapt_head(HeadMode::Replace, 7, 9).unwrap();
    assert!(tuned.adapter.is_none());
    assert_eq!(tuned.head.weight.dims(), [32, 7]);
    assert_eq!(
        tuned.num_params(),
        params_before - (32 * 100 + 100) + (32 * 7 + 7)
    );
    let images = Tensor::<B, 4>::zeros([2, 3, 32, 32], &device());
    assert_eq!(tuned.forward(images).dims(), [2, 7]);
}

#[test]
fn initialisation_is_a_function_of_the_seed() {
    let spec = ModelSpec::new(Family::Vit, Size::Tiny);
    let a = flat_params(&spec.build::<B>(10, 42, &device()).unwrap());
    let b = flat_params(&spec.build::<B>(10, 42, &device()).unwrap());
    let c = flat_params(&spec.build::<B>(10, 43, &device()).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn weight_files_are_byte_identical_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ModelSpec::new(Family::ResNet, Size::Tiny);
    let (p1, p2) = (dir.path().join("a.weights"), dir.path().join("b.weights"));
    save_weights(&p1, &spec.build::<B>(10, 5, &device()).unwrap()).unwrap();
    save_weights(&p2, &spec.build::<B>(10, 5, &device()).unwrap()).unwrap();
    assert!(
        std::fs::read(&p1).unwrap() == std::fs::read(&p2).unwrap(),
        "same weights, different bytes"
    );

    let original = flat_params(&spec.build::<B>(10, 5, &device()).unwrap());
    let template = spec.build::<B>(10, 6, &device()).unwrap();
    let loaded = load_weights(&p1, template, &device()).unwrap();
    assert_eq!(flat_params(&loaded), original);

    // A file from another architecture is refused, not loaded into the wrong shapes.
    let other = ModelSpec::new(Family::ResNet, Size::Small)
        .build::<B>(10, 5, &device())
        .unwrap();
    assert!(load_weights(&p1, other, &device()).is_err());
    std::fs::write(&p2, b"not a weight file").unwrap();
    let template = spec.build::<B>(10, 6, &device()).unwrap();
    assert!(load_weights(&p2, template, &device()).is_err());
}
