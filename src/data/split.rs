//! Train/validation/test splits, exactly as DomainBed (and the paper's code)
//! makes them.
//!
//! For environment `env_i` of `n` images, DomainBed does
//! `out, in_ = misc.split_dataset(env, int(n * holdout_fraction),
//! misc.seed_hash(trial_seed, env_i))`: shuffle `range(n)` with
//! `np.random.RandomState(seed)`, the first `int(n * 0.2)` keys are `out`,
//! the rest `in`. This module reimplements that bit for bit (`seed_hash.rs`,
//! `numpy_rng.rs`; checked against numpy-generated fixtures), so the same
//! images land in the same split as in the paper's runs, given the same
//! image order (which `image_folder.rs` reproduces).
//!
//! Training uses the `in` splits of the training domains; their `out` splits
//! are the ID validation set; the test domain is evaluated on both.
//! [`Splits`] serialises to JSON and has a SHA-256 digest so a run record
//! can pin which images it trained and evaluated on.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{DataError, Result};
use super::image_set::ImageSet;
use super::numpy_rng::numpy_shuffled_range;
use super::seed_hash::domainbed_seed_hash;

/// Identifies the algorithm in serialised splits.
pub const SPLIT_METHOD: &str = "domainbed-seed_hash-numpy-mt19937-shuffle/v1";

/// One environment's split; indices are local to the domain (0-based
/// position among that domain's images), in DomainBed's key order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSplit {
    pub domain: String,
    pub size: usize,
    /// The numpy seed, `seed_hash(trial_seed, env_i)`.
    pub seed: u32,
    pub out_idx: Vec<usize>,
    pub in_idx: Vec<usize>,
}

/// The splits of every domain plus the choice of test domain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    pub method: String,
    pub holdout_fraction: f64,
    pub trial_seed: u64,
    pub test_domain: usize,
    /// Global index of each domain's first image (domains are contiguous).
    pub offsets: Vec<usize>,
    pub domains: Vec<DomainSplit>,
}

/// `misc.split_dataset` for one environment: `(out, in)`.
pub fn domainbed_split(n: usize, holdout_fraction: f64, seed: u32) -> (Vec<usize>, Vec<usize>) {
    let keys = numpy_shuffled_range(n, seed);
    // Python: int(len(env) * holdout_fraction), a truncating f64 product.
    let n_out = ((n as f64 * holdout_fraction) as usize).min(n);
    (keys[..n_out].to_vec(), keys[n_out..].to_vec())
}

impl Splits {
    /// DomainBed's splits for domains of the given names and sizes.
    pub fn from_sizes(
        names: &[String],
        sizes: &[usize],
        test_domain: usize,
        holdout_fraction: f64,
        trial_seed: u64,
    ) -> Result<Splits> {
        if test_domain >= names.len() || names.len() != sizes.len() {
            return Err(DataError::Config(format!(
                "test domain {test_domain} out of range for {} domains",
                names.len()
            )));
        }
        if !(0.0..1.0).contains(&holdout_fraction) {
            return Err(DataError::Config(format!(
                "holdout fraction {holdout_fraction} not in [0, 1)"
            )));
        }
        let mut offsets = Vec::with_capacity(sizes.len());
        let mut at = 0;
        let mut domains = Vec::with_capacity(sizes.len());
        for (env_i, (name, &n)) in names.iter().zip(sizes).enumerate() {
            offsets.push(at);
            at += n;
            let seed = domainbed_seed_hash(trial_seed, env_i as u64);
            let (out_idx, in_idx) = domainbed_split(n, holdout_fraction, seed);
            domains.push(DomainSplit {
                domain: name.clone(),
                size: n,
                seed,
                out_idx,
                in_idx,
            });
        }
        Ok(Splits {
            method: SPLIT_METHOD.to_string(),
            holdout_fraction,
            trial_seed,
            test_domain,
            offsets,
            domains,
        })
    }

    /// DomainBed's splits of `set`, whose domains must be contiguous and in
    /// order (as loaders and the glyph-dg generator produce them).
    pub fn domainbed(
        set: &ImageSet,
        test_domain: usize,
        holdout_fraction: f64,
        trial_seed: u64,
    ) -> Result<Splits> {
        if set.domains.windows(2).any(|w| w[1] < w[0]) {
            return Err(DataError::Config(
                "splits need each domain's images contiguous and in domain order".into(),
            ));
        }
        let sizes: Vec<usize> = (0..set.domain_names.len())
            .map(|d| set.domains.iter().filter(|&&x| usize::from(x) == d).count())
            .collect();
        Splits::from_sizes(
            &set.domain_names,
            &sizes,
            test_domain,
            holdout_fraction,
            trial_seed,
        )
    }

    fn global(&self, d: usize, local: &[usize]) -> Vec<usize> {
        local.iter().map(|&i| self.offsets[d] + i).collect()
    }

    /// Training domains, in order.
    pub fn train_domains(&self) -> Vec<usize> {
        (0..self.domains.len())
            .filter(|&d| d != self.test_domain)
            .collect()
    }

    /// Global indices of each training domain's `in` split (what ERM draws
    /// one minibatch from per domain and step).
    pub fn train_in(&self) -> Vec<Vec<usize>> {
        self.train_domains()
            .into_iter()
            .map(|d| self.global(d, &self.domains[d].in_idx))
            .collect()
    }

    /// Global indices of each training domain's `out` split (ID validation).
    pub fn id_val(&self) -> Vec<Vec<usize>> {
        self.train_domains()
            .into_iter()
            .map(|d| self.global(d, &self.domains[d].out_idx))
            .collect()
    }

    /// Global indices of the test domain's `in` and `out` splits.
    pub fn test_in_out(&self) -> (Vec<usize>, Vec<usize>) {
        let d = self.test_domain;
        (
            self.global(d, &self.domains[d].in_idx),
            self.global(d, &self.domains[d].out_idx),
        )
    }

    /// Canonical JSON (compact, fields in declaration order).
    pub fn to_json(&self) -> String {
        // Serialising plain integers, strings and an f64 cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Splits> {
        serde_json::from_str(text).map_err(|e| DataError::Config(format!("bad splits JSON: {e}")))
    }

    /// SHA-256 (hex) of [`Splits::to_json`].
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.to_json().as_bytes()))
    }
}
