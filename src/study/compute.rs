//! What a study costs: images per run, and GPU hours where every FLOP is known.
//!
//! The throughput model is stated, not measured: a run trains on
//! `steps × batch_per_domain × training domains` images at 3 forward passes'
//! FLOPs each (the backward pass costs about twice the forward), and
//! evaluates, on DomainBed's schedule (every `eval_every` steps and at the
//! last step), the ID-validation split of every training domain and both
//! splits of the test domain, at one forward pass each. Image counts are the
//! data manifest's published ones; forward FLOPs per image are timm's, measured
//! at 224 px by `scripts/timm_structure.py` ([`crate::model::registry`]) and
//! scaled by the pixel count at other resolutions. A GPU sustains `tflops`.

use serde::Serialize;

use super::manifest::{ModelEntry, Study};
use crate::inputs::Catalogue;
use crate::model::registry::{lite_tag, timm_model};

/// Sustained FLOP rate per GPU (TFLOP/s) assumed when none is given: an
/// assumption for mixed-precision training on a data-centre GPU, printed with
/// every estimate; `plan --tflops` replaces it with the user's own figure.
pub const DEFAULT_TFLOPS: f64 = 50.0;

/// Images one run reads.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct RunImages {
    /// Forward + backward.
    pub training: u64,
    /// Forward only, over every evaluation.
    pub evaluation: u64,
    pub evaluations: u64,
}

/// One model's share of the study.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelCost {
    pub model: String,
    pub runs: usize,
    /// Forward GFLOPs per image at the study's resolution; `None`: not known.
    pub gflops_per_image: Option<f64>,
    pub gpu_hours: Option<f64>,
}

/// The runs' images, from the dataset's published per-domain counts.
pub fn run_images(study: &Study, catalogue: &Catalogue) -> RunImages {
    let p = &study.protocol;
    let b = &study.benchmark;
    let domains = catalogue
        .get(b.dataset.get_ref())
        .map(|i| i.expected.domains.clone())
        .unwrap_or_default();
    let training_domains = domains.len().saturating_sub(1).max(1) as u64;
    let id_validation: u64 = domains
        .iter()
        .filter(|(d, _)| **d != b.test_domain)
        .map(|(_, &n)| (n as f64 * b.holdout_fraction) as u64)
        .sum();
    let test = domains.get(&b.test_domain).copied().unwrap_or(0);
    let evaluations = evaluations(p.steps, p.eval_every);
    RunImages {
        training: p.steps as u64 * p.batch_per_domain as u64 * training_domains,
        evaluation: evaluations * (id_validation + test),
        evaluations,
    }
}

/// DomainBed evaluates at every multiple of `every` below `steps` and at the last step.
fn evaluations(steps: u32, every: u32) -> u64 {
    if steps == 0 {
        return 0;
    }
    let last = steps as u64 - 1;
    let every = every.max(1) as u64;
    last / every + 1 + u64::from(!last.is_multiple_of(every))
}

/// Forward GFLOPs per image of a model at `resolution`, where known: a timm
/// tag, or EfficientNet-Lite by the zoo's names (the same network).
pub fn gflops_per_image(model: &ModelEntry, resolution: u32) -> Option<f64> {
    let tag = match &model.timm {
        Some(tag) => tag.get_ref().clone(),
        None => lite_tag(model.model_spec(resolution).ok()?.lite_variant()?),
    };
    let flops = timm_model(&tag)?.flops_224 as f64;
    Some(flops * (resolution as f64 / 224.0).powi(2) / 1e9)
}

/// Each model's GPU hours at `tflops` sustained.
pub fn model_costs(
    study: &Study,
    images: RunImages,
    tflops: f64,
    runs_per_model: &[usize],
) -> Vec<ModelCost> {
    study
        .models
        .iter()
        .zip(runs_per_model)
        .map(|(m, &runs)| {
            let gflops = gflops_per_image(m, study.benchmark.resolution);
            let per_run = gflops.map(|g| {
                let flops = g * 1e9 * (3.0 * images.training as f64 + images.evaluation as f64);
                flops / (tflops * 1e12) / 3600.0
            });
            ModelCost {
                model: m.name.get_ref().clone(),
                runs,
                gflops_per_image: gflops,
                gpu_hours: per_run.map(|h| h * runs as f64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domainbed_evaluates_every_interval_and_at_the_last_step() {
        // 5,001 steps every 300: 0, 300, ..., 4800, then 5000.
        assert_eq!(evaluations(5001, 300), 18);
        // DomainNet: every 1,000: 0, ..., 5000 (the last step is a multiple).
        assert_eq!(evaluations(5001, 1000), 6);
        assert_eq!(evaluations(60, 20), 4);
        assert_eq!(evaluations(0, 20), 0);
    }
}
