//! oodcal's element-wise CPU kernels in `patches/burn-flex` (issue 17): GELU
//! and its gradient (a vectorised erf and exp instead of a libm call per
//! element) against the exact formulas in f64, and the row-wise paths for
//! operands of rank above 2 that are permuted or broadcast (a ViT's attention
//! heads and position embedding) against plain index arithmetic, clamp
//! (ReLU6) against the standard library's, and element-wise maps shared out
//! among threads against the same maps on one.

use std::f64::consts::{PI, SQRT_2};

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use statrs::function::erf::erf;

type B = Autodiff<Flex>;

fn values<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

/// Each value's bit pattern: what "the same bits" compares.
fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn gelu_and_its_gradient_match_the_exact_formulas() {
    // Every 1/64 on [-12.5, 12.5], and values where exp would leave f32's range.
    let xs: Vec<f32> = (-800..=800)
        .map(|i| i as f32 / 64.0)
        .chain([-90.0, -30.0, 30.0, 90.0, 1e-6, -1e-6, 0.0])
        .collect();
    let device = Default::default();
    let x = Tensor::<B, 1>::from_floats(xs.as_slice(), &device).require_grad();
    let y = gelu(x.clone());
    let grads = y.clone().sum().backward();
    let dy = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
    let y = values(y);
    for (i, &x) in xs.iter().enumerate() {
        let x64 = x as f64;
        let cdf = 0.5 * (1.0 + erf(x64 / SQRT_2));
        let pdf = (-0.5 * x64 * x64).exp() / (2.0 * PI).sqrt();
        let (want, want_grad) = (x64 * cdf, cdf + x64 * pdf);
        // erf's absolute error in f32 (A&S 7.1.26's 1.5e-7, plus the rounding
        // of 1 - poly * exp near 1: 4e-7 in all) scaled by |x| / 2 for the
        // value, by 1/2 for the gradient; plus f32 rounding of the result.
        let bound = |want: f64| 2e-7 * (1.0 + x64.abs()) + 2.5e-7 * want.abs();
        assert!(
            (y[i] as f64 - want).abs() <= bound(want),
            "gelu({x}) = {}, want {want}",
            y[i]
        );
        assert!(
            (dy[i] as f64 - want_grad).abs() <= bound(want_grad),
            "gelu'({x}) = {}, want {want_grad}",
            dy[i]
        );
    }
}

/// `[2, 3, 4, 5]` holding 0, 1, 2, ... in row-major order.
fn counting() -> Tensor<B, 4> {
    Tensor::<B, 1, Int>::arange(0..120, &Default::default())
        .float()
        .reshape([2, 3, 4, 5])
}

/// For each index of `counting().permute(axes)` in row-major order: the index
/// and the value `counting()` holds there.
fn permuted_counting(axes: [usize; 4]) -> Vec<([usize; 4], f32)> {
    let (dims, strides) = ([2, 3, 4, 5], [60, 20, 5, 1]);
    let out = axes.map(|a| dims[a]);
    let mut cells = Vec::new();
    for i in 0..out.iter().product::<usize>() {
        let index = [
            i / (out[1] * out[2] * out[3]),
            i / (out[2] * out[3]) % out[1],
            i / out[3] % out[2],
            i % out[3],
        ];
        let value: usize = (0..4).map(|k| index[k] * strides[axes[k]]).sum();
        cells.push((index, value as f32));
    }
    cells
}

#[test]
fn permuted_tensors_are_copied_in_row_major_order() {
    // swap_dims(1, 2) then reshape: the copy a ViT makes of its attention
    // heads; then a permutation that moves the last dim (no contiguous rows).
    for axes in [[0, 2, 1, 3], [3, 1, 0, 2]] {
        let got = values(counting().permute(axes).reshape([120]));
        let want: Vec<f32> = permuted_counting(axes)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(got, want, "{axes:?}");
    }
}

#[test]
fn binary_ops_on_permuted_and_broadcast_operands_pair_the_right_elements() {
    // lhs [2, 4, 3, 5] permuted; rhs [1, 4, 1, 5] broadcast over dims 0 and 2.
    let lhs = counting().swap_dims(1, 2);
    let rhs = Tensor::<B, 1, Int>::arange(0..20, &Default::default())
        .float()
        .mul_scalar(1000.0)
        .reshape([1, 4, 1, 5]);
    let sum = values(lhs.clone() + rhs.clone());
    let product = values(rhs * lhs);
    let cells = permuted_counting([0, 2, 1, 3]);
    let rhs_at = |[_, c, _, d]: [usize; 4]| ((c * 5 + d) * 1000) as f32;
    let want_sum: Vec<f32> = cells.iter().map(|&(i, l)| l + rhs_at(i)).collect();
    let want_product: Vec<f32> = cells.iter().map(|&(i, l)| rhs_at(i) * l).collect();
    assert_eq!(sum, want_sum);
    assert_eq!(product, want_product);
}

/// burn-flex's clamp checks `min <= max` once and compares each element
/// itself (oodcal's patch: `f32::clamp`'s per-element check kept the loop
/// scalar). It must give `f32::clamp`'s bits, NaN and signed zeros included,
/// on a tensor clamped in place and on one that is shared (a new buffer).
#[test]
fn clamp_gives_the_standard_librarys_bits() {
    let xs: Vec<f32> = (-600..600)
        .map(|i| i as f32 * 0.0173)
        .chain([f32::NAN, -0.0, 0.0, f32::INFINITY, f32::NEG_INFINITY])
        .chain([6.0, 6.000001, -1e-30, 1e30])
        .collect();
    let device = Default::default();
    let fresh = || Tensor::<Flex, 1>::from_floats(xs.as_slice(), &device);
    for (min, max) in [(0.0, 6.0), (-1.0, 1.0), (-0.0, 0.0), (2.5, 2.5)] {
        let clamped: Vec<f32> = xs.iter().map(|x| x.clamp(min, max)).collect();
        let want = bits(&clamped);
        let in_place = fresh().clamp(min, max);
        let shared = fresh();
        let copied = shared.clone().clamp(min, max);
        for (how, got) in [("in place", in_place), ("copied", copied)] {
            assert_eq!(bits(&values(got)), want, "clamp to [{min}, {max}], {how}");
        }
        drop(shared);
    }
}

/// burn-flex's generic element-wise loops are shared out among the pool's
/// threads above 32 Ki elements (oodcal's `par_map`): in place and into a new
/// buffer, unary and binary. Each piece must land where it belongs, so four
/// threads give one thread's bits, on a length that splits unevenly.
#[test]
fn element_wise_maps_give_the_same_bits_on_one_thread_and_on_four() {
    let n = 100_003;
    let xs: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 2001) as f32 / 250.0 - 4.0)
        .collect();
    let ys: Vec<f32> = (0..n)
        .map(|i| ((i * 104_729) % 997) as f32 / 300.0 + 0.1)
        .collect();
    let run = || {
        let device = Default::default();
        let x = || Tensor::<Flex, 1>::from_floats(xs.as_slice(), &device);
        let y = || Tensor::<Flex, 1>::from_floats(ys.as_slice(), &device);
        let shared = x();
        let outputs = [
            gelu(x()),                 // unary, in place
            shared.clone().exp(),      // unary, new buffer
            x().powf(y()),             // binary, in place
            shared.clone().atan2(y()), // binary, new buffer
        ];
        drop(shared);
        let tracked = Tensor::<B, 1>::from_floats(xs.as_slice(), &device).require_grad();
        let grads = gelu(tracked.clone()).sum().backward();
        let gradient = tracked.grad(&grads).unwrap();
        outputs
            .into_iter()
            .chain([gradient])
            .map(|t| bits(&values(t)))
            .collect::<Vec<_>>()
    };
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(run)
    };
    let (one, four) = (on(1), on(4));
    let names = ["gelu", "exp", "powf", "atan2", "gelu's gradient"];
    for ((name, a), b) in names.iter().zip(&one).zip(&four) {
        assert_eq!(a.len(), n, "{name}");
        assert!(a == b, "{name}: four threads differ from one");
    }
}
