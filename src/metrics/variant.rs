//! Names of metric variants.
//!
//! Calibration error is not one number: papers differ in the scope (top-label
//! or class-wise), the binning (equal width or equal mass), the bin count, the
//! norm and whether the estimate is debiased, and values computed under
//! different choices are not comparable. So every value this module reports
//! carries its full variant in its name, and the name parses back into the
//! variant, which lets a CLI accept exactly what it prints.
//!
//! Grammar (whitespace around items is ignored):
//!
//! ```text
//! accuracy | nll | brier[multiclass]            optional flag: [x100] / [multiclass,x100]
//! ece[SCOPE,BINNING,BINS,L1(,x100)]             L1 calibration error
//! ce[SCOPE,BINNING,BINS,NORM(,debiased)(,x100)] any norm; NORM = L1 | L2 | max
//! SCOPE   = top-label | classwise   (aliases: top, marginal)
//! BINNING = equal-width | equal-mass (aliases: width, uniform, mass, adaptive)
//! ```
//!
//! The canonical prefix is `ece` for the L1 norm (the *expected* calibration
//! error) and `ce` otherwise; either prefix parses. The bare form without a
//! prefix and brackets (`top-label,equal-mass,15,L2`) parses as an [`EceSpec`],
//! which is what a `--ece` option takes.

use super::error::{MetricsError, Result};
use std::fmt;
use std::str::FromStr;

/// Which scores are calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The confidence of the predicted (arg-max) class against whether the
    /// prediction was right (Guo et al. 2017). What the paper reports.
    TopLabel,
    /// Every class's probability against whether that class is the label, one
    /// calibration error per class, aggregated over classes as
    /// `(mean_c CE_c^p)^(1/p)` (Kumar et al. 2019's marginal calibration error;
    /// for the max norm, the maximum over classes).
    Classwise,
}

/// How the score axis is cut into bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binning {
    /// Bins of width `1/B` on `[0, 1]`; see [`crate::metrics::binning::EqualWidth`].
    EqualWidth,
    /// Bins holding equally many rows; see [`crate::metrics::binning::EqualMass`].
    EqualMass,
}

/// How the per-bin gaps `|accuracy - confidence|` are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Norm {
    /// Mass-weighted mean gap: the ECE.
    L1,
    /// Square root of the mass-weighted mean squared gap (RMS calibration error).
    L2,
    /// Largest gap over non-empty bins: the MCE.
    Max,
}

/// A fully specified binned calibration-error estimator.
///
/// Fields are private so that every value is valid: at least one bin, and
/// debiasing only with the L2 norm (the Kumar et al. correction is defined for
/// the squared error only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EceSpec {
    scope: Scope,
    binning: Binning,
    n_bins: usize,
    norm: Norm,
    debiased: bool,
}

impl EceSpec {
    /// A plug-in (not debiased) estimator. Errors if `n_bins` is 0.
    pub fn new(scope: Scope, binning: Binning, n_bins: usize, norm: Norm) -> Result<Self> {
        if n_bins == 0 {
            return Err(MetricsError::Invalid {
                what: "bin count",
                reason: "at least one bin is needed".into(),
            });
        }
        Ok(Self {
            scope,
            binning,
            n_bins,
            norm,
            debiased: false,
        })
    }

    /// The same estimator with Kumar et al.'s debiasing; errors unless the norm is L2.
    pub fn debiased(self) -> Result<Self> {
        if self.norm != Norm::L2 {
            return Err(MetricsError::Invalid {
                what: "debiasing",
                reason: "the debiased estimator is defined for the L2 norm only".into(),
            });
        }
        Ok(Self {
            debiased: true,
            ..self
        })
    }

    /// The paper's ECE: top-label, 10 bins, L1, with the given binning
    /// (the paper's code used equal width on its main branch, equal mass later).
    pub fn paper(binning: Binning) -> Self {
        Self {
            scope: Scope::TopLabel,
            binning,
            n_bins: 10,
            norm: Norm::L1,
            debiased: false,
        }
    }

    /// Scope of the estimator.
    pub fn scope(&self) -> Scope {
        self.scope
    }
    /// Binning of the estimator.
    pub fn binning(&self) -> Binning {
        self.binning
    }
    /// Number of bins (at least 1).
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }
    /// Norm of the estimator.
    pub fn norm(&self) -> Norm {
        self.norm
    }
    /// Whether the L2 debiasing is applied.
    pub fn is_debiased(&self) -> bool {
        self.debiased
    }

    /// Canonical name, e.g. `ece[top-label,equal-width,10,L1]` or
    /// `ce[top-label,equal-mass,10,L2,debiased]`.
    pub fn name(&self) -> String {
        self.name_with_flags(false)
    }

    fn name_with_flags(&self, percent: bool) -> String {
        let prefix = if self.norm == Norm::L1 { "ece" } else { "ce" };
        let mut items = vec![
            scope_name(self.scope).to_string(),
            binning_name(self.binning).to_string(),
            self.n_bins.to_string(),
            norm_name(self.norm).to_string(),
        ];
        if self.debiased {
            items.push("debiased".into());
        }
        if percent {
            items.push("x100".into());
        }
        format!("{prefix}[{}]", items.join(","))
    }
}

impl fmt::Display for EceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for EceSpec {
    type Err = MetricsError;

    /// Parses a canonical name (`ce[top-label,equal-mass,15,L2]`) or the bare
    /// item list (`top-label,equal-mass,15,L2`). The `x100` flag belongs to a
    /// [`Variant`] and is rejected here.
    fn from_str(s: &str) -> Result<Self> {
        let parsed = parse_variant(s)?;
        match parsed.kind {
            MetricKind::Calibration(spec) if !parsed.percent => Ok(spec),
            MetricKind::Calibration(_) => Err(parse_error(
                s,
                "x100 is a report flag, not part of an ECE specification",
            )),
            _ => Err(parse_error(s, "not a calibration-error specification")),
        }
    }
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Top-1 accuracy (first arg-max on ties).
    Accuracy,
    /// Mean negative log-likelihood of the label, natural log.
    Nll,
    /// Multiclass Brier score: mean over rows of the *sum over classes* of
    /// squared errors against the one-hot label (range `[0, 2]`).
    Brier,
    /// A binned calibration error.
    Calibration(EceSpec),
}

/// A metric plus how it is reported: `percent` multiplies the value by 100,
/// as the paper reports accuracy and ECE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    /// What is measured.
    pub kind: MetricKind,
    /// Report ×100 (name flag `x100`).
    pub percent: bool,
}

impl Variant {
    /// A variant reported as a fraction.
    pub fn plain(kind: MetricKind) -> Self {
        Self {
            kind,
            percent: false,
        }
    }

    /// A variant reported ×100.
    pub fn percent(kind: MetricKind) -> Self {
        Self {
            kind,
            percent: true,
        }
    }

    /// The paper's reported numbers: OOD accuracy (%) and top-label 10-bin L1
    /// ECE (%) under both binnings, since which one the final paper used is
    /// ambiguous (see PAPER.md).
    pub fn paper() -> Vec<Variant> {
        vec![
            Self::percent(MetricKind::Accuracy),
            Self::percent(MetricKind::Calibration(EceSpec::paper(Binning::EqualWidth))),
            Self::percent(MetricKind::Calibration(EceSpec::paper(Binning::EqualMass))),
        ]
    }

    /// The paper's numbers plus the usual companions (NLL, Brier, class-wise
    /// ECE, MCE and the debiased L2 error), every one a plain fraction.
    pub fn standard() -> Vec<Variant> {
        let top = |b, n, norm| EceSpec {
            scope: Scope::TopLabel,
            binning: b,
            n_bins: n,
            norm,
            debiased: false,
        };
        let cal = |s| Self::plain(MetricKind::Calibration(s));
        vec![
            Self::plain(MetricKind::Accuracy),
            Self::plain(MetricKind::Nll),
            Self::plain(MetricKind::Brier),
            cal(EceSpec::paper(Binning::EqualWidth)),
            cal(EceSpec::paper(Binning::EqualMass)),
            cal(top(Binning::EqualWidth, 10, Norm::Max)),
            cal(EceSpec {
                debiased: true,
                ..top(Binning::EqualMass, 10, Norm::L2)
            }),
            cal(EceSpec {
                scope: Scope::Classwise,
                ..top(Binning::EqualWidth, 15, Norm::L1)
            }),
        ]
    }

    /// Canonical name; [`Variant::from_str`] parses it back to `self`.
    pub fn name(&self) -> String {
        let flag = if self.percent { "x100" } else { "" };
        let bracket = |base: &str, items: &[&str]| {
            let items: Vec<&str> = items.iter().copied().filter(|s| !s.is_empty()).collect();
            if items.is_empty() {
                base.to_string()
            } else {
                format!("{base}[{}]", items.join(","))
            }
        };
        match self.kind {
            MetricKind::Accuracy => bracket("accuracy", &[flag]),
            MetricKind::Nll => bracket("nll", &[flag]),
            MetricKind::Brier => bracket("brier", &["multiclass", flag]),
            MetricKind::Calibration(spec) => spec.name_with_flags(self.percent),
        }
    }

    /// Multiplier applied to the raw value (1 or 100).
    pub fn scale(&self) -> f64 {
        if self.percent {
            100.0
        } else {
            1.0
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Variant {
    type Err = MetricsError;
    fn from_str(s: &str) -> Result<Self> {
        parse_variant(s)
    }
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::TopLabel => "top-label",
        Scope::Classwise => "classwise",
    }
}

fn binning_name(b: Binning) -> &'static str {
    match b {
        Binning::EqualWidth => "equal-width",
        Binning::EqualMass => "equal-mass",
    }
}

fn norm_name(n: Norm) -> &'static str {
    match n {
        Norm::L1 => "L1",
        Norm::L2 => "L2",
        Norm::Max => "max",
    }
}

fn parse_error(input: &str, reason: impl Into<String>) -> MetricsError {
    MetricsError::Parse {
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// Splits `name[a,b,c]` into `("name", ["a","b","c"])`; a string without
/// brackets that contains a comma is a bare ECE item list (empty name).
fn split_name(input: &str) -> Result<(String, Vec<String>)> {
    let s = input.trim();
    let items = |body: &str| body.split(',').map(|x| x.trim().to_string()).collect();
    match s.find('[') {
        Some(open) => {
            let body = s[open + 1..]
                .strip_suffix(']')
                .ok_or_else(|| parse_error(input, "missing closing ']'"))?;
            Ok((s[..open].trim().to_ascii_lowercase(), items(body)))
        }
        None if s.contains(',') => Ok((String::new(), items(s))),
        None => Ok((s.to_ascii_lowercase(), Vec::new())),
    }
}

fn parse_variant(input: &str) -> Result<Variant> {
    let (name, mut items) = split_name(input)?;
    let percent = take_flag(&mut items, "x100", input)?;
    let kind = match name.as_str() {
        "accuracy" | "acc" => scalar_kind(MetricKind::Accuracy, &items, &[], input)?,
        "nll" => scalar_kind(MetricKind::Nll, &items, &[], input)?,
        "brier" => scalar_kind(MetricKind::Brier, &items, &["multiclass"], input)?,
        "ece" | "ce" | "" => MetricKind::Calibration(parse_spec_items(&items, input)?),
        other => return Err(parse_error(input, format!("unknown metric {other:?}"))),
    };
    Ok(Variant { kind, percent })
}

/// Removes `flag` from `items` if present; a repeated flag is an error.
fn take_flag(items: &mut Vec<String>, flag: &str, input: &str) -> Result<bool> {
    let before = items.len();
    items.retain(|i| !i.eq_ignore_ascii_case(flag));
    match before - items.len() {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(parse_error(input, format!("flag {flag} given twice"))),
    }
}

fn scalar_kind(
    kind: MetricKind,
    items: &[String],
    allowed: &[&str],
    input: &str,
) -> Result<MetricKind> {
    match items
        .iter()
        .find(|i| !allowed.iter().any(|a| i.eq_ignore_ascii_case(a)))
    {
        Some(bad) => Err(parse_error(input, format!("unexpected item {bad:?}"))),
        None => Ok(kind),
    }
}

fn parse_spec_items(items: &[String], input: &str) -> Result<EceSpec> {
    if items.len() < 4 || items.len() > 5 {
        return Err(parse_error(
            input,
            "expected SCOPE,BINNING,BINS,NORM[,debiased] (e.g. top-label,equal-width,10,L1)",
        ));
    }
    let scope = match items[0].to_ascii_lowercase().as_str() {
        "top-label" | "toplabel" | "top" => Scope::TopLabel,
        "classwise" | "class-wise" | "marginal" => Scope::Classwise,
        other => return Err(parse_error(input, format!("unknown scope {other:?}"))),
    };
    let binning = match items[1].to_ascii_lowercase().as_str() {
        "equal-width" | "width" | "uniform" => Binning::EqualWidth,
        "equal-mass" | "mass" | "adaptive" => Binning::EqualMass,
        other => return Err(parse_error(input, format!("unknown binning {other:?}"))),
    };
    let n_bins: usize = items[2].parse().map_err(|_| {
        parse_error(
            input,
            format!("bin count {:?} is not a positive integer", items[2]),
        )
    })?;
    let norm = match items[3].to_ascii_lowercase().as_str() {
        "l1" => Norm::L1,
        "l2" => Norm::L2,
        "max" | "linf" | "mce" => Norm::Max,
        other => return Err(parse_error(input, format!("unknown norm {other:?}"))),
    };
    let spec = EceSpec::new(scope, binning, n_bins, norm)
        .map_err(|e| parse_error(input, e.to_string()))?;
    match items.get(4).map(|s| s.to_ascii_lowercase()) {
        None => Ok(spec),
        Some(flag) if flag == "debiased" => spec
            .debiased()
            .map_err(|e| parse_error(input, e.to_string())),
        Some(other) => Err(parse_error(input, format!("unknown flag {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_match_the_documented_examples() {
        let ew = EceSpec::paper(Binning::EqualWidth);
        assert_eq!(ew.name(), "ece[top-label,equal-width,10,L1]");
        let cw = EceSpec::new(Scope::Classwise, Binning::EqualWidth, 15, Norm::L1).unwrap();
        assert_eq!(cw.name(), "ece[classwise,equal-width,15,L1]");
        let deb = EceSpec::new(Scope::TopLabel, Binning::EqualMass, 10, Norm::L2)
            .unwrap()
            .debiased()
            .unwrap();
        assert_eq!(deb.name(), "ce[top-label,equal-mass,10,L2,debiased]");
        assert_eq!(
            Variant::plain(MetricKind::Brier).name(),
            "brier[multiclass]"
        );
        assert_eq!(
            Variant::percent(MetricKind::Accuracy).name(),
            "accuracy[x100]"
        );
    }

    #[test]
    fn bare_cli_form_parses() {
        let spec: EceSpec = "top-label,equal-mass,15,L2".parse().unwrap();
        assert_eq!(spec.n_bins(), 15);
        assert_eq!(spec.binning(), Binning::EqualMass);
        assert_eq!(spec.norm(), Norm::L2);
    }

    #[test]
    fn invalid_specs_are_rejected() {
        for bad in [
            "ece[top-label,equal-width,0,L1]",
            "ece[top-label,equal-width,10,L1,debiased]",
            "ece[top-label,equal-width,ten,L1]",
            "ece[top-label,equal-width,10,L3]",
            "ece[top-label,equal-width,10]",
            "ece[top-label,equal-width,10,L1",
            "f1",
            "accuracy[classwise]",
            "ece[top-label,equal-width,10,L1,x100,x100]",
        ] {
            assert!(bad.parse::<Variant>().is_err(), "{bad} parsed");
        }
        assert!("ece[top-label,equal-width,10,L1,x100]"
            .parse::<EceSpec>()
            .is_err());
    }
}
