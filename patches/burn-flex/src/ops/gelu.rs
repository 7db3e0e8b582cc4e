//! oodcal: GELU and its gradient in f32 without a call per element.
//!
//! burn-flex evaluated `0.5 x (1 + erf(x / sqrt 2))` with the `libm` crate's
//! scalar `erff` (and `expf` for the gradient): a call with branches per
//! element, about 10% of a ViT training step on the CPU studies' shapes. Here
//! erf is Abramowitz & Stegun's formula 7.1.26 (absolute error below 1.5e-7),
//! the approximation PyTorch's vectorised CPU GELU uses too, and exp is a
//! branch-free range reduction with a degree-6 polynomial. Both are plain
//! `f32` arithmetic without fused multiply-adds, so the compiler vectorises
//! the loops at the baseline instruction set and the bits are the same on
//! every x86-64 machine. f64 keeps the exact `erf`. oodcal's
//! `tests/cpu_kernels.rs` checks both against the exact formulas.

/// A&S 7.1.26: `erf(x) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-x²)`,
/// `t = 1 / (1 + p x)` for `x >= 0`.
const P: f32 = 0.327_591_1;
const A: [f32; 5] = [
    0.254_829_6,
    -0.284_496_74,
    1.421_413_8,
    -1.453_152_1,
    1.061_405_4,
];
const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 pi).
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// `exp(x)` to about one unit in the last place for `x` in [-87, 88]
/// (clamped there: the result stays a normal number).
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Adding 1.5 * 2^23 rounds x / ln 2 to the nearest integer k and leaves
    // k in the low mantissa bits, from where it becomes 2^k's exponent field.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * core::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    // Taylor series of e^r to r^6 on |r| <= ln 2 / 2: error below 2e-8.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits((shifted.to_bits() << 23).wrapping_add(127 << 23));
    p * scale
}

/// `erf(x)` by A&S 7.1.26, odd by construction.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    (1.0 - poly * exp(-a * a)).copysign(x)
}

/// `gelu(x) = x Φ(x)`, Φ the standard normal distribution function.
#[inline(always)]
pub fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))
}

/// `g gelu'(x) = g (Φ(x) + x φ(x))`, φ the standard normal density.
#[inline(always)]
pub fn gelu_backward_f32(x: f32, g: f32) -> f32 {
    let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
    let pdf = INV_SQRT_2PI * exp(-0.5 * x * x);
    g * (cdf + x * pdf)
}
