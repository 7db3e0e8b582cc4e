//! The CPU backend's conv2d, forward and both gradients (oodcal's kernels in
//! `patches/burn-flex`, issue 17), against a direct f64 evaluation of the
//! definition, on random shapes: plain, strided, padded, dilated, grouped and
//! depthwise, square and not, with a bias. And their bits do not depend on the
//! number of threads.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B = Autodiff<Flex>;

/// One convolution: input `[n, c, h, w]`, `o` output channels, kernel,
/// stride, padding, dilation, groups.
#[derive(Clone, Copy, Debug)]
struct Case {
    input: [usize; 4],
    out_channels: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Case {
    fn out_side(&self, axis: usize) -> usize {
        let span = self.dilation[axis] * (self.kernel[axis] - 1) + 1;
        (self.input[2 + axis] + 2 * self.padding[axis] - span) / self.stride[axis] + 1
    }

    fn weight_shape(&self) -> [usize; 4] {
        let [kh, kw] = self.kernel;
        [self.out_channels, self.input[1] / self.groups, kh, kw]
    }
}

const fn case(
    input: [usize; 4],
    out_channels: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Case {
    Case {
        input,
        out_channels,
        kernel,
        stride,
        padding,
        dilation,
        groups,
    }
}

/// The layer kinds the zoo, EfficientNet-Lite and the timm families use, and
/// odd corners (uneven sides, padding wider than the reach, dilation).
const CASES: &[Case] = &[
    case([3, 4, 9, 9], 6, [3, 3], [1, 1], [1, 1], [1, 1], 1),
    case([2, 3, 16, 16], 8, [3, 3], [2, 2], [1, 1], [1, 1], 1),
    case([2, 6, 7, 8], 5, [1, 1], [2, 2], [0, 0], [1, 1], 1),
    case([2, 6, 7, 7], 4, [1, 1], [1, 1], [0, 0], [1, 1], 1),
    case([2, 5, 10, 9], 5, [3, 3], [1, 1], [1, 1], [1, 1], 5),
    case([2, 5, 11, 11], 5, [5, 5], [2, 2], [2, 2], [1, 1], 5),
    case([1, 3, 13, 12], 3, [7, 7], [1, 1], [3, 3], [1, 1], 3),
    case([2, 4, 9, 9], 6, [3, 3], [1, 1], [1, 1], [1, 1], 2),
    case([2, 4, 12, 10], 4, [3, 2], [2, 1], [2, 0], [2, 1], 1),
    case([2, 2, 5, 5], 6, [3, 3], [3, 2], [3, 1], [1, 2], 2),
    case([1, 3, 8, 8], 3, [3, 3], [2, 2], [0, 0], [1, 1], 3),
];

fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

struct Gradients {
    output: Vec<f32>,
    x: Vec<f32>,
    weight: Vec<f32>,
}

/// `conv2d(x, w) + bias` and the gradients of `Σ (conv2d(x, w) + bias) · r`
/// on burn's CPU backend.
fn burn_gradients(case: &Case, x: &[f32], w: &[f32], bias: &[f32], r: &[f32]) -> Gradients {
    let device = Default::default();
    let xt =
        Tensor::<B, 4>::from_data(TensorData::new(x.to_vec(), case.input), &device).require_grad();
    let wt = Tensor::<B, 4>::from_data(TensorData::new(w.to_vec(), case.weight_shape()), &device)
        .require_grad();
    let options = ConvOptions::new(case.stride, case.padding, case.dilation, case.groups);
    let bias = Tensor::<B, 1>::from_data(TensorData::new(bias.to_vec(), [bias.len()]), &device);
    let y = conv2d(xt.clone(), wt.clone(), Some(bias), options);
    let [n, o, oh, ow] = y.dims();
    let rt = Tensor::<B, 4>::from_data(TensorData::new(r.to_vec(), [n, o, oh, ow]), &device);
    let grads = (y.clone() * rt).sum().backward();
    let values = |t: Tensor<Flex, 4>| t.into_data().to_vec::<f32>().unwrap();
    Gradients {
        output: values(y.inner()),
        x: values(xt.grad(&grads).unwrap()),
        weight: values(wt.grad(&grads).unwrap()),
    }
}

/// The same three from the definition, summed in f64.
fn direct_gradients(case: &Case, x: &[f32], w: &[f32], bias: &[f32], r: &[f32]) -> [Vec<f64>; 3] {
    let [n, c, h, wd] = case.input;
    let [o, cg, kh, kw] = case.weight_shape();
    let (oh, ow, og) = (case.out_side(0), case.out_side(1), o / case.groups);
    let mut y = vec![0.0; n * o * oh * ow];
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    for (b, oc, oy, ox) in positions(n, o, oh, ow) {
        let out = ((b * o + oc) * oh + oy) * ow + ox;
        let g = oc / og;
        y[out] += bias[oc] as f64;
        for ci in 0..cg {
            let ch = g * cg + ci;
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = (oy * case.stride[0] + ky * case.dilation[0]) as isize
                        - case.padding[0] as isize;
                    let ix = (ox * case.stride[1] + kx * case.dilation[1]) as isize
                        - case.padding[1] as isize;
                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                        continue;
                    }
                    let xi = ((b * c + ch) * h + iy as usize) * wd + ix as usize;
                    let wi = ((oc * cg + ci) * kh + ky) * kw + kx;
                    y[out] += x[xi] as f64 * w[wi] as f64;
                    dx[xi] += r[out] as f64 * w[wi] as f64;
                    dw[wi] += r[out] as f64 * x[xi] as f64;
                }
            }
        }
    }
    [y, dx, dw]
}

fn positions(
    n: usize,
    o: usize,
    oh: usize,
    ow: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..n).flat_map(move |b| {
        (0..o).flat_map(move |c| (0..oh).flat_map(move |y| (0..ow).map(move |x| (b, c, y, x))))
    })
}

/// Every element within 1e-5 of the largest magnitude (f32 sums of up to a
/// few hundred terms land about 1e-7 from the f64 sum).
fn assert_close(what: &str, case: &Case, ours: &[f32], exact: &[f64]) {
    assert_eq!(ours.len(), exact.len(), "{what} of {case:?}: length");
    let scale = exact.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    for (i, (&a, &e)) in ours.iter().zip(exact).enumerate() {
        let err = (a as f64 - e).abs() / scale;
        assert!(
            err <= 1e-5,
            "{what} of {case:?}, element {i}: {a} against {e} (error {err:e} of the scale {scale})"
        );
    }
}

#[test]
fn conv2d_matches_the_definition_on_every_kind_of_layer() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for case in CASES {
        let x = random(&mut rng, case.input.iter().product());
        let w = random(&mut rng, case.weight_shape().iter().product());
        let [n, o] = [case.input[0], case.out_channels];
        let bias = random(&mut rng, o);
        let r = random(&mut rng, n * o * case.out_side(0) * case.out_side(1));
        let ours = burn_gradients(case, &x, &w, &bias, &r);
        let [y, dx, dw] = direct_gradients(case, &x, &w, &bias, &r);
        assert_close("output", case, &ours.output, &y);
        assert_close("input gradient", case, &ours.x, &dx);
        assert_close("weight gradient", case, &ours.weight, &dw);
    }
}

/// Shapes large enough that gemm splits its work across threads, and enough
/// planes that the depthwise loops do too.
#[test]
fn conv2d_keeps_its_bits_on_one_thread_and_on_four() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let cases = [
        case([32, 64, 16, 16], 64, [3, 3], [1, 1], [1, 1], [1, 1], 1),
        case([16, 96, 16, 16], 96, [3, 3], [2, 2], [1, 1], [1, 1], 96),
    ];
    for case in &cases {
        let x = random(&mut rng, case.input.iter().product());
        let w = random(&mut rng, case.weight_shape().iter().product());
        let [n, o] = [case.input[0], case.out_channels];
        let bias = random(&mut rng, o);
        let r = random(&mut rng, n * o * case.out_side(0) * case.out_side(1));
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| burn_gradients(case, &x, &w, &bias, &r))
        };
        let (one, four) = (on(1), on(4));
        assert_eq!(bits(&one.output), bits(&four.output), "output of {case:?}");
        assert_eq!(bits(&one.x), bits(&four.x), "input gradient of {case:?}");
        assert_eq!(
            bits(&one.weight),
            bits(&four.weight),
            "weight gradient of {case:?}"
        );
    }
}

/// The forward pass and the input gradient cut a batch into chunks that fit
/// the cache, so an image's bits must not depend on the batch it came in or
/// the chunk it fell into. The first case reduces over 576 (64 channels, 3×3)
/// on a 4×4 plane, where gemm rounds a product of 64 positions or fewer
/// otherwise than a larger one: batch 29 makes chunks of 7, 7, 7, 7 and a
/// short last one that must join the chunk before. The second puts one image
/// in a chunk (16 px planes), which writes straight into the output.
#[test]
fn conv2d_gives_an_image_the_same_bits_in_any_batch() {
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let cases = [
        (
            case([40, 64, 4, 4], 64, [3, 3], [1, 1], [1, 1], [1, 1], 1),
            [29, 5],
        ),
        (
            case([6, 16, 16, 16], 16, [3, 3], [1, 1], [1, 1], [1, 1], 1),
            [3, 1],
        ),
    ];
    for (whole, batches) in &cases {
        let [batch, o] = [whole.input[0], whole.out_channels];
        let per_x = whole.input[1..].iter().product::<usize>();
        let per_y = o * whole.out_side(0) * whole.out_side(1);
        let x = random(&mut rng, batch * per_x);
        let w = random(&mut rng, whole.weight_shape().iter().product());
        let bias = random(&mut rng, o);
        let r = random(&mut rng, batch * per_y);
        let all = burn_gradients(whole, &x, &w, &bias, &r);
        for &n in batches {
            let mut part = *whole;
            part.input[0] = n;
            let some = burn_gradients(&part, &x[..n * per_x], &w, &bias, &r[..n * per_y]);
            let what = format!("the first {n} images of {whole:?}");
            assert_eq!(
                bits(&some.output),
                bits(&all.output[..n * per_y]),
                "output, {what}"
            );
            assert_eq!(
                bits(&some.x),
                bits(&all.x[..n * per_x]),
                "input gradient, {what}"
            );
        }
    }
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|f| f.to_bits()).collect()
}
