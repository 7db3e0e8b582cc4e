//! Named results for a CLI: `Predictions::report`.

use super::ece::{calibration_error, error_from_bins, top_label_error};
use super::predictions::{Predictions, TopLabelPass};
use super::variant::{Binning, EceSpec, MetricKind, Scope, Variant};

/// Value of one variant (scaled ×100 if the variant says so).
pub fn evaluate(preds: &Predictions, variant: &Variant) -> f64 {
    unscaled(preds, variant.kind) * variant.scale()
}

fn unscaled(preds: &Predictions, kind: MetricKind) -> f64 {
    match kind {
        MetricKind::Accuracy => preds.accuracy(),
        MetricKind::Nll => preds.nll(),
        MetricKind::Brier => preds.brier(),
        MetricKind::Calibration(spec) => calibration_error(preds, &spec),
    }
}

impl Predictions {
    /// `(canonical name, value)` for each variant, in the order given; every
    /// value is bit-identical to [`evaluate`]'s. The matrix is read once for
    /// all top-label quantities: accuracy, the NLL and the equal-width bins
    /// are computed in that pass, equal-mass errors from the confidences it
    /// leaves; class-wise errors and the Brier score read the matrix again.
    pub fn report(&self, variants: &[Variant]) -> Vec<(String, f64)> {
        let widths = fused_width_bins(variants);
        let needs_top = variants.iter().any(|v| uses_top_label(&v.kind));
        let wants_nll = variants.iter().any(|v| v.kind == MetricKind::Nll);
        let pass = needs_top.then(|| self.top_label_pass(wants_nll, &widths));
        variants
            .iter()
            .map(|v| {
                let raw = match &pass {
                    Some(pass) => self.value_from_pass(pass, &widths, v),
                    None => unscaled(self, v.kind),
                };
                (v.name(), raw * v.scale())
            })
            .collect()
    }

    fn value_from_pass(&self, pass: &TopLabelPass, widths: &[usize], v: &Variant) -> f64 {
        match v.kind {
            MetricKind::Accuracy => pass.top.accuracy(),
            MetricKind::Nll => pass.nll_sum / self.n_rows() as f64,
            MetricKind::Calibration(spec) if is_fused(&spec) => {
                let j = widths
                    .iter()
                    .position(|&b| b == spec.n_bins())
                    .unwrap_or_default();
                error_from_bins(&pass.width_bins[j], spec.norm(), spec.is_debiased())
            }
            MetricKind::Calibration(spec) if spec.scope() == Scope::TopLabel => {
                top_label_error(&pass.top, &spec)
            }
            _ => unscaled(self, v.kind),
        }
    }
}

fn is_fused(spec: &EceSpec) -> bool {
    spec.scope() == Scope::TopLabel && spec.binning() == Binning::EqualWidth
}

/// Distinct bin counts of the top-label equal-width variants.
fn fused_width_bins(variants: &[Variant]) -> Vec<usize> {
    let mut widths: Vec<usize> = variants
        .iter()
        .filter_map(|v| match v.kind {
            MetricKind::Calibration(spec) if is_fused(&spec) => Some(spec.n_bins()),
            _ => None,
        })
        .collect();
    widths.sort_unstable();
    widths.dedup();
    widths
}

fn uses_top_label(kind: &MetricKind) -> bool {
    match kind {
        MetricKind::Accuracy | MetricKind::Nll => true,
        MetricKind::Calibration(spec) => spec.scope() == Scope::TopLabel,
        MetricKind::Brier => false,
    }
}
