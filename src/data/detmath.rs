//! Transcendental functions built only from IEEE-754 basic operations.
//!
//! Why: `f32::sin`, `exp`, `ln` and `powf` call the platform's libm, whose
//! last-bit results differ between glibc, musl, macOS and Windows. The
//! generated benchmark is pinned by SHA-256 and the augmentations are meant to
//! be identical on every machine, so rotations, Beta samples and colour
//! conversions use these instead. Addition, multiplication, division and
//! `sqrt` are correctly rounded by IEEE-754 on every platform Rust supports,
//! and Rust never contracts `a * b + c` into a fused multiply-add on its own,
//! so functions composed of them are bit-reproducible. (32-bit x86 without
//! SSE2, whose x87 unit rounds differently, is not supported.)
//!
//! Accuracy is close to f64 rounding (relative error ~1e-15 over the ranges
//! used), far beyond what image synthesis needs.

use std::f64::consts::{LN_2, PI};

/// `(sin x, cos x)` for any finite `x` (radians).
pub fn sin_cos(x: f64) -> (f64, f64) {
    // Reduce to r in [-pi/4, pi/4] and a quadrant.
    let q = round_half_even(x / (PI / 2.0));
    let r = (x - q * (PI / 2.0)) - q * 6.123_233_995_736_766e-17;
    let (s, c) = sin_cos_small(r);
    match (q as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// Taylor series for |r| <= pi/4 (terms to r^17 / r^18).
fn sin_cos_small(r: f64) -> (f64, f64) {
    let r2 = r * r;
    let mut s = 0.0;
    let mut c = 0.0;
    // Horner on sin = r * sum (-1)^k r^2k / (2k+1)!, cos = sum (-1)^k r^2k / (2k)!.
    for k in (0..9).rev() {
        let k = k as f64;
        s = 1.0 - s * r2 / ((2.0 * k + 2.0) * (2.0 * k + 3.0));
        c = 1.0 - c * r2 / ((2.0 * k + 1.0) * (2.0 * k + 2.0));
    }
    (r * s, c)
}

/// Round to nearest, ties to even, with basic operations only.
fn round_half_even(x: f64) -> f64 {
    let f = x.floor();
    let d = x - f;
    if d > 0.5 || (d == 0.5 && (f / 2.0).floor() * 2.0 != f) {
        f + 1.0
    } else {
        f
    }
}

/// `2^k` for integer `k` in the normal range, built from the bit pattern.
fn pow2i(k: i64) -> f64 {
    let k = k.clamp(-1022, 1023);
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `e^x`. Saturates to 0 below -700 and to `f64::MAX`-ish above 700.
pub fn exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    let x = x.min(700.0);
    let k = round_half_even(x / LN_2);
    let r = x - k * LN_2;
    // Taylor to r^14 for |r| <= ln2/2.
    let mut p = 1.0;
    for n in (1..15).rev() {
        p = 1.0 + p * r / n as f64;
    }
    p * pow2i(k as i64)
}

/// Natural logarithm for `x > 0` (returns -inf for 0, NaN for negatives).
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); subnormals scaled first.
    let (x, bias) = if x < f64::MIN_POSITIVE {
        (x * pow2i(60), -60i64)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln m = 2 atanh(t), t = (m-1)/(m+1), |t| <= 0.172.
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut s = 0.0;
    for k in (0..12).rev() {
        s = 1.0 / (2 * k + 1) as f64 + t2 * s;
    }
    2.0 * t * s + (e + bias) as f64 * LN_2
}

/// `x^y` for `x > 0`.
pub fn powf(x: f64, y: f64) -> f64 {
    exp(y * ln(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libm_closely() {
        let mut x = -20.0;
        while x < 20.0 {
            let (s, c) = sin_cos(x);
            assert!((s - x.sin()).abs() < 1e-13, "sin {x}");
            assert!((c - x.cos()).abs() < 1e-13, "cos {x}");
            assert!((exp(x) / x.exp() - 1.0).abs() < 1e-13, "exp {x}");
            x += 0.137;
        }
        for &v in &[1e-300, 1e-10, 0.3, 1.0, 2.0, 10.0, 1e10, 1e300, 4e-320] {
            assert!(
                (ln(v) - f64::ln(v)).abs() < 1e-12 * f64::ln(v).abs().max(1.0),
                "ln {v}"
            );
        }
        assert_eq!(ln(1.0), 0.0);
        assert!((powf(2.0, 0.5) - std::f64::consts::SQRT_2).abs() < 1e-14);
    }
}
