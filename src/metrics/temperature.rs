//! Temperature scaling (Guo et al. 2017): one `T > 0` that divides every
//! logit, fitted by minimising the NLL on one set (the ID validation split)
//! and applied unchanged to another (the OOD test domain).
//!
//! # Method
//! With `beta = 1/T`, the NLL `f(beta) = mean_i [logsumexp(beta z_i) - beta z_iy]`
//! is convex in `beta`: its second derivative is the mean variance of the
//! logits under the scaled softmax, `f'' = mean_i Var_p(z_i) >= 0`, and
//! `f' = mean_i (E_p[z_i] - z_iy)`. So the minimiser is the root of the
//! monotone `f'`, found by a safeguarded Newton iteration (Newton steps while
//! they stay inside the bracket, geometric bisection otherwise) on
//! `beta in [1/T_MAX, 1/T_MIN]`. Each evaluation is one pass giving `f`, `f'`
//! and `f''`. If the data are separable, `f'` keeps its sign over the whole
//! range and the fit stops at the bound (`at_bound`).

use super::error::{MetricsError, Result};
use super::par::map_chunks;
use super::predictions::{
    check_finite_rows, check_labels, check_shape, first_error, softmax_rows_in_place, Predictions,
};
use super::variant::EceSpec;
use serde::Serialize;

/// Smallest temperature searched.
pub const T_MIN: f64 = 1e-3;
/// Largest temperature searched.
pub const T_MAX: f64 = 1e3;

/// Validated logits: `n` rows × `k` classes (row-major) plus labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Logits {
    values: Vec<f64>,
    labels: Vec<u32>,
    n_classes: usize,
}

impl Logits {
    /// Validates: finite values (the error names row and column), labels below
    /// `n_classes`, at least one row.
    pub fn new(values: Vec<f64>, n_classes: usize, labels: Vec<u32>) -> Result<Self> {
        check_shape(values.len(), n_classes, labels.len())?;
        first_error(labels.len(), |rows| {
            check_finite_rows(&values, n_classes, rows)
        })?;
        check_labels(&labels, n_classes)?;
        Ok(Self {
            values,
            labels,
            n_classes,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }
    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }
    /// Logits, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// Labels.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Mean NLL of `softmax(z / temperature)`, computed with log-sum-exp so
    /// that it stays finite where the softmax probability would underflow.
    pub fn nll(&self, temperature: f64) -> f64 {
        self.objective(1.0 / temperature).value
    }

    /// Probabilities `softmax(z / temperature)`.
    pub fn to_predictions(&self, temperature: f64) -> Predictions {
        let mut probs = self.values.clone();
        softmax_rows_in_place(&mut probs, self.n_classes, temperature);
        Predictions::from_trusted(probs, self.n_classes, self.labels.clone())
    }

    /// `f`, `f'`, `f''` of the NLL as a function of `beta = 1/T`.
    fn objective(&self, beta: f64) -> Objective {
        let k = self.n_classes;
        let parts = map_chunks(self.n_rows(), |rows| {
            let mut o = Objective::default();
            for i in rows {
                o.add(&row_objective(
                    &self.values[i * k..(i + 1) * k],
                    self.labels[i] as usize,
                    beta,
                ));
            }
            o
        });
        let mut total = Objective::default();
        parts.iter().for_each(|p| total.add(p));
        let n = self.n_rows() as f64;
        Objective {
            value: total.value / n,
            slope: total.slope / n,
            curvature: total.curvature / n,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Objective {
    value: f64,
    slope: f64,
    curvature: f64,
}

impl Objective {
    fn add(&mut self, o: &Objective) {
        self.value += o.value;
        self.slope += o.slope;
        self.curvature += o.curvature;
    }
}

/// One row's NLL and its first two derivatives in `beta`. Logits are centred
/// on the row maximum first, which changes neither the NLL nor the variance
/// and keeps `exp` in range.
fn row_objective(z: &[f64], label: usize, beta: f64) -> Objective {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut sum, mut mean, mut second) = (0.0, 0.0, 0.0);
    for &v in z {
        let c = v - max;
        let w = (beta * c).exp();
        sum += w;
        mean += w * c;
        second += w * c * c;
    }
    mean /= sum;
    second /= sum;
    let zy = z[label] - max;
    Objective {
        value: sum.ln() - beta * zy,
        slope: mean - zy,
        curvature: (second - mean * mean).max(0.0),
    }
}

/// Result of [`fit_temperature`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TemperatureFit {
    /// Fitted temperature.
    pub temperature: f64,
    /// NLL at `T = 1` on the fitting set.
    pub nll_before: f64,
    /// NLL at the fitted `T` on the fitting set (never above `nll_before`).
    pub nll_after: f64,
    /// Objective evaluations used.
    pub iterations: usize,
    /// The optimum lies at `T_MIN` or `T_MAX` (e.g. separable data).
    pub at_bound: bool,
}

/// Fits one temperature to `logits` by minimising the NLL (see module docs).
pub fn fit_temperature(logits: &Logits) -> TemperatureFit {
    let nll_before = logits.nll(1.0);
    let (beta, iterations, at_bound) = minimise_beta(|b| logits.objective(b));
    let mut temperature = 1.0 / beta;
    let mut nll_after = logits.nll(temperature);
    // The optimum is global (convexity), so this only guards against rounding
    // in a flat objective: never report a fit worse than T = 1.
    if nll_after > nll_before {
        temperature = 1.0;
        nll_after = nll_before;
    }
    TemperatureFit {
        temperature,
        nll_before,
        nll_after,
        iterations,
        at_bound,
    }
}

/// Root of the monotone slope on `[1/T_MAX, 1/T_MIN]`, starting from
/// `beta = 1`: (beta, evaluations, at_bound).
fn minimise_beta(objective: impl Fn(f64) -> Objective) -> (f64, usize, bool) {
    let (mut lo, mut hi) = (1.0 / T_MAX, 1.0 / T_MIN);
    let mut beta = 1.0;
    let mut o = objective(beta);
    if o.slope == 0.0 {
        return (beta, 1, false);
    }
    // The optimum lies on the side the slope points to; give up at the bound
    // if the slope does not change sign before it.
    let (bound, bound_slope) = if o.slope < 0.0 {
        (hi, objective(hi).slope)
    } else {
        (lo, objective(lo).slope)
    };
    // A zero slope at the bound counts as "no sign change": there the
    // objective is flat to machine precision (e.g. separable data, whose
    // slope underflows to 0 at large beta), so the bound is the optimum.
    if bound_slope * o.slope >= 0.0 {
        return (bound, 2, true);
    }
    for evaluations in 3..200 {
        if o.slope < 0.0 {
            lo = beta;
        } else {
            hi = beta;
        }
        let newton = beta - o.slope / o.curvature;
        let next = if o.curvature > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            (lo * hi).sqrt()
        };
        if (next - beta).abs() <= 1e-13 * beta || hi - lo <= 1e-13 * lo {
            return (next, evaluations, false);
        }
        beta = next;
        o = objective(beta);
        if o.slope == 0.0 {
            return (beta, evaluations, false);
        }
    }
    (beta, 200, false)
}

/// ECE of one spec before and after temperature scaling.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EceChange {
    /// Canonical name of the spec.
    pub name: String,
    /// At `T = 1`.
    pub before: f64,
    /// At the fitted `T`.
    pub after: f64,
}

/// Temperature fitted on one set and applied to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemperatureReport {
    /// The fit on the fitting (ID validation) set.
    pub fit: TemperatureFit,
    /// Calibration errors on the evaluation (OOD) set.
    pub ece: Vec<EceChange>,
}

impl TemperatureReport {
    /// Flat `(name, value)` pairs for a CLI: `temperature`,
    /// `id-val/uncalibrated/nll`, `id-val/temperature-scaled/nll`, then for
    /// each spec `ood/uncalibrated/<spec name>` and
    /// `ood/temperature-scaled/<spec name>`.
    pub fn named(&self) -> Vec<(String, f64)> {
        let mut out = vec![
            ("temperature".to_string(), self.fit.temperature),
            ("id-val/uncalibrated/nll".to_string(), self.fit.nll_before),
            (
                "id-val/temperature-scaled/nll".to_string(),
                self.fit.nll_after,
            ),
        ];
        for e in &self.ece {
            out.push((format!("ood/uncalibrated/{}", e.name), e.before));
            out.push((format!("ood/temperature-scaled/{}", e.name), e.after));
        }
        out
    }
}

/// Fits `T` on `fit_on` (ID validation logits), then reports each `spec` on
/// `evaluate_on` (OOD logits) before and after dividing by `T`. Errors if the
/// two sets have different class counts.
pub fn temperature_scaling(
    fit_on: &Logits,
    evaluate_on: &Logits,
    specs: &[EceSpec],
) -> Result<TemperatureReport> {
    if fit_on.n_classes() != evaluate_on.n_classes() {
        return Err(MetricsError::ClassMismatch {
            expected: fit_on.n_classes(),
            found: evaluate_on.n_classes(),
        });
    }
    let fit = fit_temperature(fit_on);
    let before = evaluate_on.to_predictions(1.0);
    let after = evaluate_on.to_predictions(fit.temperature);
    let ece = specs
        .iter()
        .map(|s| EceChange {
            name: s.name(),
            before: before.calibration_error(s),
            after: after.calibration_error(s),
        })
        .collect();
    Ok(TemperatureReport { fit, ece })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_and_curvature_match_finite_differences() {
        let z = [0.3, -1.2, 2.5, 0.0];
        let h = 1e-5;
        for beta in [0.2, 1.0, 3.0] {
            let o = row_objective(&z, 1, beta);
            let (p, m) = (
                row_objective(&z, 1, beta + h),
                row_objective(&z, 1, beta - h),
            );
            assert!(((p.value - m.value) / (2.0 * h) - o.slope).abs() < 1e-7);
            assert!(((p.slope - m.slope) / (2.0 * h) - o.curvature).abs() < 1e-7);
        }
    }

    #[test]
    fn separable_data_stops_at_the_lower_temperature_bound() {
        let l = Logits::new(vec![2.0, 0.0, 0.0, 2.0], 2, vec![0, 1]).unwrap();
        let fit = fit_temperature(&l);
        assert!(fit.at_bound);
        assert_eq!(fit.temperature, T_MIN);
    }

    #[test]
    fn scaling_report_names_every_value_and_rejects_other_class_counts() {
        let val = Logits::new(
            vec![3.0, 0.0, 0.0, 3.0, 3.0, 0.0, 1.0, 0.0],
            2,
            vec![0, 1, 1, 0],
        )
        .unwrap();
        let ood = Logits::new(vec![2.0, 0.0, 0.0, 1.0], 2, vec![1, 1]).unwrap();
        let spec = EceSpec::paper(super::super::variant::Binning::EqualWidth);
        let report = temperature_scaling(&val, &ood, &[spec]).unwrap();
        let names: Vec<String> = report.named().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "temperature",
                "id-val/uncalibrated/nll",
                "id-val/temperature-scaled/nll",
                "ood/uncalibrated/ece[top-label,equal-width,10,L1]",
                "ood/temperature-scaled/ece[top-label,equal-width,10,L1]",
            ]
        );
        assert!(report.fit.temperature > 1.0, "wrong half the time: soften");
        let three = Logits::new(vec![0.0; 3], 3, vec![0]).unwrap();
        assert_eq!(
            temperature_scaling(&val, &three, &[spec]),
            Err(MetricsError::ClassMismatch {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn constant_logits_keep_temperature_one() {
        let l = Logits::new(vec![1.0, 1.0, 1.0, 1.0], 2, vec![0, 1]).unwrap();
        let fit = fit_temperature(&l);
        assert_eq!(fit.temperature, 1.0);
        assert!(!fit.at_bound);
        assert_eq!(fit.nll_after, fit.nll_before);
    }
}
