//! `cpu` (burn-flex) against `wgpu` (Mesa's lavapipe in CI), operation by
//! operation and step by step: the same code, weights and inputs must give
//! the same numbers up to float reordering on every backend. The GPU check
//! (`scripts/gpu-check.sh`) runs the same step comparison for `cuda`.
//!
//! This is how burn-cubecl's zero input gradient of strided 1×1 convolutions
//! was found (`src/model/conv.rs`): every ResNet parted from step 2.

use burn::backend::{Autodiff, Flex, Wgpu};
use burn::module::Param;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use oodcal::bench::agree::{compare, StepsJob};
use oodcal::bench::train::specs_named;
use oodcal::model::batch_norm::batch_norm_2d;
use oodcal::model::conv::conv2d_forward;
use oodcal::train::{dispatch, BackendKind};
use rand::{RngExt, SeedableRng};

type Cpu = Autodiff<Flex>;
type Gpu = Autodiff<Wgpu>;

/// Sets the wgpu device up the way `--backend wgpu` does (once per process,
/// whichever test comes first: a second setup panics).
fn wgpu_ready() {
    oodcal::train::backend::wgpu_info().expect("a Vulkan driver (lavapipe in CI)");
}

/// Largest |a - b| relative to the largest |a|.
fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(1e-12f64, |m, &x| m.max(x.abs() as f64));
    let diff = a
        .iter()
        .zip(b)
        .fold(0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
    diff / scale
}

fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()
}

/// An operation under test: input in, output and its parameters out.
type Op<B> = Box<dyn Fn(Tensor<B, 4>) -> (Tensor<B, 4>, Vec<Tensor<B, 4>>)>;

/// Output, input gradient and parameter gradients of `op(x)` for a fixed
/// random `x` of `shape` and a fixed random upstream gradient.
fn forward_backward<B: AutodiffBackend>(shape: [usize; 4], op: Op<B>) -> Vec<Vec<f32>> {
    let device = Default::default();
    let n = shape.iter().product();
    let x =
        Tensor::<B, 4>::from_data(TensorData::new(uniform(n, 1), shape), &device).require_grad();
    let (y, params) = op(x.clone());
    let upstream = uniform(y.shape().num_elements(), 2);
    let upstream = Tensor::<B, 4>::from_data(TensorData::new(upstream, y.dims()), &device);
    let grads = y.clone().mul(upstream).sum().backward();
    let flat = |t: Tensor<B::InnerBackend, 4>| t.into_data().to_vec::<f32>().unwrap();
    let mut out = vec![flat(y.inner()), flat(x.grad(&grads).unwrap())];
    out.extend(params.iter().map(|p| flat(p.grad(&grads).unwrap())));
    out
}

/// A convolution through oodcal's `conv2d_forward`, weights from a fixed seed.
fn conv<B: AutodiffBackend>(c: [usize; 2], kernel: usize, stride: usize, groups: usize) -> Op<B> {
    let device = Default::default();
    let pad = kernel / 2;
    let mut module = Conv2dConfig::new(c, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_groups(groups)
        .with_bias(false)
        .init::<B>(&device);
    let shape = module.weight.shape();
    let weight = TensorData::new(uniform(shape.num_elements(), 3), shape);
    module.weight = Param::from_tensor(Tensor::from_data(weight, &device).require_grad());
    Box::new(move |x| (conv2d_forward(&module, x), vec![module.weight.val()]))
}

fn assert_agree(name: &str, cpu: Vec<Vec<f32>>, gpu: Vec<Vec<f32>>) {
    let parts = ["output", "input gradient", "weight gradient"];
    for ((a, b), part) in cpu.iter().zip(&gpu).zip(parts) {
        let d = max_rel(a, b);
        assert!(d < 1e-5, "{name}: {part} differs by {d:.2e} (relative)");
    }
}

#[test]
fn convolutions_agree_between_cpu_and_wgpu() {
    wgpu_ready();
    // (name, input shape, [c_in, c_out], kernel, stride, groups): every kind
    // of convolution in the zoo and EfficientNet-Lite, at sides down to 1 px.
    let cases = [
        ("3x3", [4, 8, 16, 16], [8, 8], 3, 1, 1),
        ("3x3 stride 2", [4, 8, 16, 16], [8, 16], 3, 2, 1),
        ("stem 3x3", [4, 3, 16, 16], [3, 8], 3, 1, 1),
        ("1x1", [4, 8, 16, 16], [8, 16], 1, 1, 1),
        (
            "1x1 stride 2 (ResNet shortcut)",
            [4, 8, 16, 16],
            [8, 16],
            1,
            2,
            1,
        ),
        ("1x1 stride 2, odd side", [2, 4, 5, 5], [4, 4], 1, 2, 1),
        ("3x3 stride 2 on 2x2", [4, 8, 2, 2], [8, 8], 3, 2, 1),
        ("depthwise 3x3", [4, 8, 16, 16], [8, 8], 3, 1, 8),
        ("depthwise 3x3 stride 2", [4, 8, 16, 16], [8, 8], 3, 2, 8),
        ("depthwise 5x5 stride 2", [4, 8, 4, 4], [8, 8], 5, 2, 8),
        ("depthwise 5x5 on 1x1", [4, 8, 1, 1], [8, 8], 5, 1, 8),
    ];
    for (name, shape, c, kernel, stride, groups) in cases {
        assert_agree(
            name,
            forward_backward::<Cpu>(shape, conv(c, kernel, stride, groups)),
            forward_backward::<Gpu>(shape, conv(c, kernel, stride, groups)),
        );
    }
}

/// BatchNorm (oodcal's arrangement and burn's module) with batch statistics,
/// and ReLU6, as EfficientNet-Lite and the ResNets train them.
fn normalisation<B: AutodiffBackend>(which: usize) -> Op<B> {
    let bn = BatchNormConfig::new(8).init::<B>(&Default::default());
    Box::new(move |x| {
        let y = match which {
            0 => x.mul_scalar(8.0).clamp(0.0, 6.0),
            1 => batch_norm_2d(&bn, x),
            2 => batch_norm_2d(&bn, x).clamp(0.0, 6.0),
            _ => bn.forward(x),
        };
        (y, vec![])
    })
}

#[test]
fn normalisation_and_activations_agree_between_cpu_and_wgpu() {
    wgpu_ready();
    let cases = [
        ("relu6", [4, 8, 5, 5], 0),
        ("batch_norm_2d", [4, 8, 4, 4], 1),
        ("batch_norm_2d + relu6 on 1x1", [16, 8, 1, 1], 2),
        ("burn BatchNorm on 1x1", [16, 8, 1, 1], 3),
    ];
    for (name, shape, which) in cases {
        assert_agree(
            name,
            forward_backward::<Cpu>(shape, normalisation(which)),
            forward_backward::<Gpu>(shape, normalisation(which)),
        );
    }
}

/// The same SGD steps (from the same weights, batch and dropout masks) on
/// both backends: each step's loss within 1e-3, the final logits too.
///
/// EfficientNet-Lite0 is compared over its first two steps only: on this
/// synthetic problem its training is so sensitive that burn's two CPU
/// backends (flex and ndarray) part from step 2 as well (Lite0, lr 0.001:
/// losses 2.0216 and 2.0177 at step 2, 1.98 and 1.79 at step 3), while one
/// step's gradients of every parameter agree as closely between flex and
/// wgpu as between flex and ndarray. Its logits after the second update are
/// held to 5e-3: with oodcal's conv2d and gemm's AVX-512 kernels on the CPU
/// (issue 17) the first loss agrees to 2e-6, the second to 1.2e-4 and the
/// final logits to 2.4e-3, each update amplifying the rounding about 20-60x,
/// as between flex and ndarray above.
#[test]
fn training_steps_agree_between_cpu_and_wgpu() {
    for (models, steps, logit_tolerance) in [
        ("resnet-tiny,resnet-small,vit-tiny", 10, 1e-3),
        ("efficientnet-lite0", 2, 5e-3),
    ] {
        let names: Vec<String> = models.split(',').map(str::to_string).collect();
        let job = StepsJob {
            specs: specs_named(&names, 16).unwrap(),
            classes: 7,
            batch: 16,
            seed: 0,
            steps,
            lr: 0.05,
        };
        let cpu = dispatch(BackendKind::Cpu, job.clone()).unwrap();
        let gpu = dispatch(BackendKind::Wgpu, job).unwrap();
        for (a, b) in cpu.iter().zip(&gpu) {
            let agreement = compare(a, b, 1e-3);
            assert_eq!(agreement.first_parting_step, None, "{agreement:?}");
            assert!(
                agreement.max_rel_logit_diff < logit_tolerance,
                "{agreement:?}"
            );
            // Steps that change nothing would agree trivially.
            assert_ne!(
                a.losses[steps - 1],
                a.losses[0],
                "{}: {:?}",
                a.model,
                a.losses
            );
        }
    }
}
