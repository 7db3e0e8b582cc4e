//! Percentile bootstrap confidence intervals for any metric.
//!
//! A metric is a closure over a resample of row indices, so the same routine
//! serves accuracy, any ECE variant, NLL, or a difference of two models
//! evaluated on the same rows.
//!
//! Determinism: resample `b` draws its indices from its own ChaCha8 stream,
//! `ChaCha8Rng::seed_from_u64(seed)` with `set_stream(b)`, so its rows do not
//! depend on which thread runs it or on how many resamples ran before; results
//! are collected in resample order. The interval is therefore identical for a
//! given seed whatever rayon's pool size is (tested with 1 and 4 threads).

use super::error::{MetricsError, Result};
use super::predictions::Predictions;
use super::report::evaluate;
use super::variant::Variant;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapOptions {
    /// Number of resamples (at least 1; 1000 or more for 95% intervals).
    pub resamples: usize,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Coverage of the interval, in `(0, 1)`.
    pub level: f64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            resamples: 1000,
            seed: 0,
            level: 0.95,
        }
    }
}

/// A percentile bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapInterval {
    /// The metric on all rows (the point estimate).
    pub estimate: f64,
    /// `(1 - level)/2` percentile of the resampled values.
    pub lower: f64,
    /// `(1 + level)/2` percentile of the resampled values.
    pub upper: f64,
    /// Coverage asked for.
    pub level: f64,
    /// Resamples drawn.
    pub resamples: usize,
}

/// The row indices of resample `b`: `n` draws with replacement from `0..n`.
pub fn resample_indices(n: usize, seed: u64, b: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(b as u64);
    (0..n).map(|_| rng.random_range(0..n)).collect()
}

/// Percentile bootstrap of `metric` over `n_rows` rows. `metric` receives the
/// row indices of a resample (the identity for the point estimate) and may
/// return any finite or infinite value; a NaN is an error because it has no
/// rank. Percentiles interpolate linearly between order statistics
/// (numpy's default `linear` method).
pub fn bootstrap<F>(
    n_rows: usize,
    options: &BootstrapOptions,
    metric: F,
) -> Result<BootstrapInterval>
where
    F: Fn(&[usize]) -> f64 + Sync,
{
    validate(n_rows, options)?;
    let all: Vec<usize> = (0..n_rows).collect();
    let estimate = metric(&all);
    let mut values: Vec<f64> = (0..options.resamples)
        .into_par_iter()
        .map(|b| metric(&resample_indices(n_rows, options.seed, b)))
        .collect();
    if let Some(resample) = values.iter().position(|v| v.is_nan()) {
        return Err(MetricsError::NanInBootstrap { resample });
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - options.level) / 2.0;
    Ok(BootstrapInterval {
        estimate,
        lower: percentile(&values, tail),
        upper: percentile(&values, 1.0 - tail),
        level: options.level,
        resamples: options.resamples,
    })
}

fn validate(n_rows: usize, options: &BootstrapOptions) -> Result<()> {
    if n_rows == 0 {
        return Err(MetricsError::Empty);
    }
    if options.resamples == 0 {
        return Err(MetricsError::Invalid {
            what: "bootstrap resamples",
            reason: "at least one resample is needed".into(),
        });
    }
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(MetricsError::Invalid {
            what: "confidence level",
            reason: format!("{} is not in (0, 1)", options.level),
        });
    }
    Ok(())
}

/// Linear-interpolation percentile of sorted values, `q` in `[0, 1]`.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    match sorted.get(i + 1) {
        Some(&next) if frac > 0.0 => sorted[i] + frac * (next - sorted[i]),
        _ => sorted[i],
    }
}

impl Predictions {
    /// Bootstrap interval of one reported variant (value scaled as reported).
    pub fn bootstrap(
        &self,
        variant: &Variant,
        options: &BootstrapOptions,
    ) -> Result<BootstrapInterval> {
        bootstrap(self.n_rows(), options, |rows| {
            evaluate(&self.select(rows), variant)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        let v = [1.0, 2.0, 4.0, 8.0];
        // numpy.percentile([1,2,4,8], [0, 25, 50, 90, 100]) = 1, 1.75, 3, 6.8, 8
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.9, 1.0]
            .iter()
            .map(|&q| percentile(&v, q))
            .collect();
        let want = [1.0, 1.75, 3.0, 6.8, 8.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
    }

    #[test]
    fn resamples_differ_between_streams_and_repeat_within_one() {
        assert_eq!(resample_indices(50, 7, 3), resample_indices(50, 7, 3));
        assert_ne!(resample_indices(50, 7, 3), resample_indices(50, 7, 4));
        assert_ne!(resample_indices(50, 7, 3), resample_indices(50, 8, 3));
        assert!(resample_indices(50, 7, 3).iter().all(|&i| i < 50));
    }

    #[test]
    fn invalid_options_are_errors() {
        let o = BootstrapOptions {
            resamples: 0,
            ..Default::default()
        };
        assert!(bootstrap(5, &o, |_| 0.0).is_err());
        let o = BootstrapOptions {
            level: 1.0,
            ..Default::default()
        };
        assert!(bootstrap(5, &o, |_| 0.0).is_err());
        assert_eq!(
            bootstrap(0, &BootstrapOptions::default(), |_| 0.0),
            Err(MetricsError::Empty)
        );
        let nan = bootstrap(5, &BootstrapOptions::default(), |r| {
            if r[0] == 0 {
                0.0
            } else {
                f64::NAN
            }
        });
        assert!(matches!(nan, Err(MetricsError::NanInBootstrap { .. })));
    }
}
