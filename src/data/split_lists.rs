//! A trial's splits as file lists a user can check by eye or by diff:
//! for every domain, DomainBed's `in` and `out` splits as paths relative to
//! the dataset root, in DomainBed's order (the shuffled key order of
//! `misc.split_dataset` over torchvision's `ImageFolder` order).
//!
//! `scripts/domainbed_split_lists.py` writes the same lists by DomainBed's
//! own recipe; `tests/cli_splits.rs` compares the two for PACS.

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::image_folder::FolderIndex;
use super::split::{Splits, SPLIT_METHOD};

/// One domain's two splits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainLists {
    pub domain: String,
    /// The numpy seed, `seed_hash(trial_seed, env_i)`.
    pub seed: u32,
    #[serde(rename = "in")]
    pub in_files: Vec<String>,
    #[serde(rename = "out")]
    pub out_files: Vec<String>,
}

/// Every domain's lists for one trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitLists {
    pub method: String,
    pub trial_seed: u64,
    pub holdout_fraction: f64,
    pub test_domain: String,
    /// [`Splits::digest`] of the same splits: what a run record of this
    /// trial pins as its input `splits:trial-<seed>`.
    pub splits_sha256: String,
    pub domains: Vec<DomainLists>,
}

/// The lists of trial `trial_seed` of the image folder `index`.
pub fn split_lists(
    index: &FolderIndex,
    test_domain: usize,
    holdout_fraction: f64,
    trial_seed: u64,
) -> Result<SplitLists> {
    let splits = Splits::from_sizes(
        &index.domain_names,
        &index.domain_sizes(),
        test_domain,
        holdout_fraction,
        trial_seed,
    )?;
    let relative: Vec<String> = index
        .files
        .iter()
        .map(|f| {
            let path = f.path.strip_prefix(&index.root).unwrap_or(&f.path);
            // '/' on every platform, as the lists are compared across machines.
            let parts: Vec<String> = path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            parts.join("/")
        })
        .collect();
    let domains = splits
        .domains
        .iter()
        .enumerate()
        .map(|(d, split)| {
            let files = |local: &[usize]| -> Vec<String> {
                local
                    .iter()
                    .map(|&i| relative[splits.offsets[d] + i].clone())
                    .collect()
            };
            DomainLists {
                domain: split.domain.clone(),
                seed: split.seed,
                in_files: files(&split.in_idx),
                out_files: files(&split.out_idx),
            }
        })
        .collect();
    Ok(SplitLists {
        method: SPLIT_METHOD.to_string(),
        trial_seed,
        holdout_fraction,
        test_domain: index.domain_names[test_domain].clone(),
        splits_sha256: splits.digest(),
        domains,
    })
}

impl SplitLists {
    /// Pretty JSON, one path per line.
    pub fn to_json(&self) -> String {
        // Strings, integers and one f64: serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// One line per image: `domain<TAB>in|out<TAB>path`, domains in order,
    /// each split in DomainBed's order.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for d in &self.domains {
            for (split, files) in [("in", &d.in_files), ("out", &d.out_files)] {
                for f in files.iter() {
                    text.push_str(&format!("{}\t{split}\t{f}\n", d.domain));
                }
            }
        }
        text
    }
}
