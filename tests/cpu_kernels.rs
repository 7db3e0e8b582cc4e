//! oodcal's element-wise CPU kernels in `patches/burn-flex` (issue 17): GELU
//! and its gradient (a vectorised erf and exp instead of a libm call per
//! element) against the exact formulas in f64, and the row-wise paths for
//! operands of rank above 2 that are permuted or broadcast (a ViT's attention
//! heads and position embedding) against plain index arithmetic.

use std::f64::consts::{PI, SQRT_2};

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use statrs::function::erf::erf;

type B = Autodiff<Flex>;

fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
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

#[test]
fn permuted_tensors_are_copied_in_row_major_order() {
    // swap_dims(1, 2) then reshape: the copy a ViT makes of its attention heads.
    let got = values(counting().swap_dims(1, 2).reshape([8, 15]));
    let mut want = Vec::new();
    for a in 0..2 {
        for c in 0..4 {
            for b in 0..3 {
                for d in 0..5 {
                    want.push((((a * 3 + b) * 4 + c) * 5 + d) as f32);
                }
            }
        }
    }
    assert_eq!(got, want);
    // A permutation that moves the last dim (no contiguous rows at all).
    let got = values(counting().permute([3, 1, 0, 2]).reshape([120]));
    let mut want = Vec::new();
    for d in 0..5 {
        for b in 0..3 {
            for a in 0..2 {
                for c in 0..4 {
                    want.push((((a * 3 + b) * 4 + c) * 5 + d) as f32);
                }
            }
        }
    }
    assert_eq!(got, want);
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
    let (mut want_sum, mut want_product) = (Vec::new(), Vec::new());
    for a in 0..2 {
        for c in 0..4 {
            for b in 0..3 {
                for d in 0..5 {
                    let l = (((a * 3 + b) * 4 + c) * 5 + d) as f32;
                    let r = ((c * 5 + d) * 1000) as f32;
                    want_sum.push(l + r);
                    want_product.push(r * l);
                }
            }
        }
    }
    assert_eq!(sum, want_sum);
    assert_eq!(product, want_product);
}
