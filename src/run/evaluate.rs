//! From logits on the evaluation splits to the paper's metrics and the
//! record's final numbers. Accuracies and ECEs are in percent, as the paper reports them.

use anyhow::Result;

use crate::metrics::{
    fit_temperature, paper_accuracy, paper_ece, test_domain_ece, PaperScores, Predictions,
};
use crate::record::predictions::{EvalLogits, SplitLogits};
use crate::record::{Evaluation, FinalMetrics};

/// The metrics of one evaluation. OOD numbers average the test domain's two
/// splits, as the paper does; ID numbers pool the training domains' `out` splits.
pub fn evaluation(step: usize, train_loss: f64, logits: &EvalLogits) -> Result<Evaluation> {
    let k = logits.classes;
    let id = PaperScores::of(&logits.id.predictions(k)?);
    let ood = PaperScores::test_domain(
        &logits.ood_in.predictions(k)?,
        &logits.ood_out.predictions(k)?,
    );
    Ok(Evaluation {
        step,
        train_loss,
        id_accuracy: id.accuracy,
        id_ece: id.ece,
        id_ece_mass: id.ece_mass,
        ood_accuracy: ood.accuracy,
        ood_ece: ood.ece,
        ood_ece_mass: ood.ece_mass,
    })
}

/// The final evaluation plus split accuracies, NLL, Brier and temperature scaling
/// (temperature fitted on ID validation by NLL, applied to every split).
pub fn final_metrics(at: Evaluation, logits: &EvalLogits) -> Result<FinalMetrics> {
    let k = logits.classes;
    let fit = fit_temperature(&logits.id.logits(k)?);
    let t = fit.temperature;
    let scaled =
        |split: &SplitLogits| -> Result<Predictions> { Ok(split.logits(k)?.to_predictions(t)) };
    let test = SplitLogits::pooled(&logits.ood_in, &logits.ood_out).logits(k)?;
    let test_probs = test.to_predictions(1.0);
    Ok(FinalMetrics {
        ood_in_accuracy: paper_accuracy(&logits.ood_in.predictions(k)?),
        ood_out_accuracy: paper_accuracy(&logits.ood_out.predictions(k)?),
        ood_nll: test.nll(1.0),
        ood_brier: test_probs.brier(),
        temperature: t,
        id_ece_ts: paper_ece(&scaled(&logits.id)?),
        ood_ece_ts: test_domain_ece(&scaled(&logits.ood_in)?, &scaled(&logits.ood_out)?),
        at,
    })
}
