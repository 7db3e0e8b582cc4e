//! The fine-tuning benchmark of a study: its images, and per trial seed the
//! DomainBed splits and the evaluation tensors.

use anyhow::{bail, Context, Result};

use crate::data::batch::{make_batch, Transform};
use crate::data::cache::load_image_folder_cached;
use crate::data::domainbed::dataset_info;
use crate::data::preprocess::Normalize;
use crate::data::split::Splits;
use crate::data::ImageSet;
use crate::inputs::{Catalogue, Input, Roots};
use crate::study::Benchmark;

/// The benchmark's images, loaded once per study.
pub struct BenchmarkSet {
    pub name: String,
    pub set: ImageSet,
    /// The input's pinned digest (generated: canonical output; folder: tree digest).
    pub digest: String,
    pub test_domain: usize,
    /// Side of the model input in pixels.
    pub resolution: usize,
    pub holdout_fraction: f64,
}

/// Images (normalised, `[n, 3, r, r]`) and labels of one evaluation split.
pub struct EvalSplit {
    pub images: Vec<f32>,
    pub shape: [usize; 4],
    pub labels: Vec<u32>,
}

/// The three evaluation splits of one trial.
pub struct EvalSets {
    /// `out` splits of the training domains, pooled (ID validation).
    pub id: EvalSplit,
    /// The test domain's `in` and `out` splits.
    pub ood_in: EvalSplit,
    pub ood_out: EvalSplit,
}

/// What one trial seed fixes: the splits, the training pools and the evaluation tensors.
pub struct Trial {
    pub splits: Splits,
    /// Global indices of each training domain's `in` split, in domain order.
    pub train: Vec<Vec<usize>>,
    /// Image tensors; `None` under partial fine-tuning, which evaluates on
    /// the frozen layers' features ([`super::frozen`]).
    pub eval: Option<EvalSets>,
}

/// Step key of the ID-validation augmentation: fixed, so every evaluation of a
/// run (and every run of a trial) sees the same augmented validation images.
const ID_VAL_AUG_KEY: u64 = u64::MAX;

/// Loads the benchmark named by the study (a generated input or a DomainBed folder).
pub fn load_benchmark(
    benchmark: &Benchmark,
    catalogue: &Catalogue,
    roots: &Roots,
) -> Result<BenchmarkSet> {
    let name = benchmark.dataset.get_ref();
    let input = catalogue
        .get(name)
        .with_context(|| format!("dataset `{name}` is not in {}", catalogue.file.display()))?;
    let digest = input
        .digest()
        .with_context(|| {
            format!("input `{name}` has no pinned digest: pin it first (`oodcal fetch --pin`)")
        })?
        .to_string();
    let resolution = benchmark.resolution as usize;
    let set = match &input.generator {
        Some(generator) => {
            let set = generator.generate()?;
            if set.digest() != digest {
                bail!(
                    "input `{name}`: the generator's output {} does not match the pinned {digest}",
                    set.digest()
                );
            }
            set
        }
        None => load_folder(input, roots, &digest, resolution)?,
    };
    let Some(test_domain) = set.domain_index(&benchmark.test_domain) else {
        bail!(
            "test domain `{}` is not a domain of `{name}` ({:?})",
            benchmark.test_domain,
            set.domain_names
        );
    };
    Ok(BenchmarkSet {
        name: name.clone(),
        set,
        digest,
        test_domain,
        resolution,
        holdout_fraction: benchmark.holdout_fraction,
    })
}

/// The folder of an image-folder input, which must exist.
pub fn input_folder(input: &Input, roots: &Roots) -> Result<std::path::PathBuf> {
    let root = roots.base(input.location).join(&input.path);
    if !root.is_dir() {
        bail!(
            "input `{}`: folder {} is missing (data root {}; see `oodcal fetch`)",
            input.name,
            root.display(),
            roots.data.display()
        );
    }
    Ok(root)
}

/// A DomainBed image folder, decoded at `resolution` once and then read from the cache.
fn load_folder(input: &Input, roots: &Roots, digest: &str, resolution: usize) -> Result<ImageSet> {
    let root = input_folder(input, roots)?;
    let info = dataset_info(&input.name);
    let cache = roots.cache.join("images");
    let (set, _) =
        load_image_folder_cached(&root, info.as_ref(), resolution, resolution, &cache, digest)?;
    Ok(set)
}

impl BenchmarkSet {
    /// The splits of trial `seed`, without evaluation tensors.
    pub fn trial_splits(&self, seed: u64) -> Result<Trial> {
        let splits = Splits::domainbed(&self.set, self.test_domain, self.holdout_fraction, seed)?;
        Ok(Trial {
            train: splits.train_in(),
            splits,
            eval: None,
        })
    }

    /// The splits and evaluation tensors of trial `seed`.
    pub fn trial(&self, seed: u64, augment_id_validation: bool, aug: Transform) -> Result<Trial> {
        let splits = Splits::domainbed(&self.set, self.test_domain, self.holdout_fraction, seed)?;
        let id_indices: Vec<usize> = splits.id_val().concat();
        let (ood_in, ood_out) = splits.test_in_out();
        let id_transform = match augment_id_validation {
            true => aug,
            false => Transform::Eval,
        };
        let eval = EvalSets {
            id: self.eval_split(&id_indices, &id_transform, seed),
            ood_in: self.eval_split(&ood_in, &Transform::Eval, seed),
            ood_out: self.eval_split(&ood_out, &Transform::Eval, seed),
        };
        Ok(Trial {
            train: splits.train_in(),
            splits,
            eval: Some(eval),
        })
    }

    fn eval_split(&self, indices: &[usize], transform: &Transform, seed: u64) -> EvalSplit {
        let batch = make_batch(
            &self.set,
            indices,
            transform,
            self.resolution,
            Normalize::IMAGENET,
            seed,
            ID_VAL_AUG_KEY,
        );
        EvalSplit {
            images: batch.data,
            shape: batch.shape,
            labels: batch.labels,
        }
    }
}
