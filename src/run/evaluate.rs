//! From logits on the evaluation splits to the paper's metrics and the
//! predictions file. Accuracies and ECEs are in percent, as the paper reports them.

use std::fmt::Write;

use anyhow::{Context, Result};

use crate::metrics::{calibration_error, fit_temperature, Binning, EceSpec, Logits, Predictions};
use crate::record::{Evaluation, FinalMetrics};

/// Logits (`[n, classes]` row-major) and labels of one split.
pub struct SplitLogits {
    pub logits: Vec<f32>,
    pub labels: Vec<u32>,
}

/// Logits on the three evaluation splits at one step.
pub struct EvalLogits {
    pub classes: usize,
    pub id: SplitLogits,
    pub ood_in: SplitLogits,
    pub ood_out: SplitLogits,
}

impl SplitLogits {
    fn logits(&self, classes: usize) -> Result<Logits> {
        let values = self.logits.iter().map(|&v| f64::from(v)).collect();
        Logits::new(values, classes, self.labels.clone()).context("logits")
    }

    fn predictions(&self, classes: usize) -> Result<Predictions> {
        let values = self.logits.iter().map(|&v| f64::from(v)).collect();
        Predictions::from_logits(values, classes, self.labels.clone()).context("predictions")
    }
}

/// Accuracy, equal-width ECE and equal-mass ECE of `p`, in percent.
fn scores(p: &Predictions) -> (f64, f64, f64) {
    (
        100.0 * p.accuracy(),
        100.0 * calibration_error(p, &EceSpec::paper(Binning::EqualWidth)),
        100.0 * calibration_error(p, &EceSpec::paper(Binning::EqualMass)),
    )
}

/// The metrics of one evaluation. OOD numbers average the test domain's two
/// splits, as the paper does; ID numbers pool the training domains' `out` splits.
pub fn evaluation(step: usize, train_loss: f64, logits: &EvalLogits) -> Result<Evaluation> {
    let k = logits.classes;
    let (id_accuracy, id_ece, id_ece_mass) = scores(&logits.id.predictions(k)?);
    let (in_acc, in_ece, in_mass) = scores(&logits.ood_in.predictions(k)?);
    let (out_acc, out_ece, out_mass) = scores(&logits.ood_out.predictions(k)?);
    Ok(Evaluation {
        step,
        train_loss,
        id_accuracy,
        id_ece,
        id_ece_mass,
        ood_accuracy: (in_acc + out_acc) / 2.0,
        ood_ece: (in_ece + out_ece) / 2.0,
        ood_ece_mass: (in_mass + out_mass) / 2.0,
    })
}

/// The final evaluation plus split accuracies, NLL, Brier and temperature scaling
/// (temperature fitted on ID validation by NLL, applied to every split).
pub fn final_metrics(at: Evaluation, logits: &EvalLogits) -> Result<FinalMetrics> {
    let k = logits.classes;
    let fit = fit_temperature(&logits.id.logits(k)?);
    let t = fit.temperature;
    let ece_at = |split: &SplitLogits| -> Result<f64> {
        let p = split.logits(k)?.to_predictions(t);
        Ok(100.0 * calibration_error(&p, &EceSpec::paper(Binning::EqualWidth)))
    };
    let whole = SplitLogits {
        logits: [&logits.ood_in.logits[..], &logits.ood_out.logits[..]].concat(),
        labels: [&logits.ood_in.labels[..], &logits.ood_out.labels[..]].concat(),
    };
    let test = whole.logits(k)?;
    let test_probs = test.to_predictions(1.0);
    Ok(FinalMetrics {
        ood_in_accuracy: 100.0 * logits.ood_in.predictions(k)?.accuracy(),
        ood_out_accuracy: 100.0 * logits.ood_out.predictions(k)?.accuracy(),
        ood_nll: test.nll(1.0),
        ood_brier: test_probs.brier(),
        temperature: t,
        id_ece_ts: ece_at(&logits.id)?,
        ood_ece_ts: (ece_at(&logits.ood_in)? + ece_at(&logits.ood_out)?) / 2.0,
        at,
    })
}

/// `split,index,label,logit_0,…` rows for every evaluation split.
pub fn predictions_csv(logits: &EvalLogits) -> Vec<u8> {
    let k = logits.classes;
    let mut out = String::from("split,index,label");
    for c in 0..k {
        let _ = write!(out, ",logit_{c}");
    }
    out.push('\n');
    let splits = [
        ("id", &logits.id),
        ("ood_in", &logits.ood_in),
        ("ood_out", &logits.ood_out),
    ];
    for (name, split) in splits {
        for (i, (row, label)) in split.logits.chunks_exact(k).zip(&split.labels).enumerate() {
            let _ = write!(out, "{name},{i},{label}");
            for v in row {
                let _ = write!(out, ",{v}");
            }
            out.push('\n');
        }
    }
    out.into_bytes()
}
