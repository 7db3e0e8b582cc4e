//! Reference data shown beside the study's numbers: the paper's introduction
//! table and DomainBed's ERM baselines. The CSV files are pinned inputs of
//! `data-manifest.toml`; they are compiled in so a report needs no data
//! folder, and their digests are printed in the provenance section.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::aggregate::ModelSummary;
use crate::checksum::sha256_bytes;

const INTRO_TABLE: &str = include_str!("../../reports/reference/intro_table1.csv");
const DOMAINBED: &str = include_str!("../../reports/reference/domainbed_2020_10_06_results.csv");
const TIMM_RESULTS: &str = include_str!("../../reports/reference/timm_results_subset.csv");

/// The test domain the paper uses per dataset, as DomainBed's results table names it.
const PAPER_TEST_DOMAINS: [(&str, &str); 4] = [
    ("PACS", "A"),
    ("OfficeHome", "A"),
    ("DomainNet", "clip"),
    ("VLCS", "V"),
];

/// A reference CSV file: its repository path, digest and source.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedFile {
    pub name: &'static str,
    pub path: &'static str,
    pub sha256: String,
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct IntroRow {
    pub dataset: String,
    pub test_domain: String,
    pub erm: String,
    pub best_algorithm: String,
    pub best_model: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DomainBedRow {
    pub dataset: String,
    pub column: String,
    pub accuracy: String,
    pub se: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub files: Vec<PublishedFile>,
    pub intro: Vec<IntroRow>,
    pub domainbed: Vec<DomainBedRow>,
}

/// Parses the embedded tables (fields are plain: no quoted commas in these files).
pub fn published() -> Published {
    Published {
        files: vec![
            PublishedFile {
                name: "intro-table1",
                path: "reports/reference/intro_table1.csv",
                sha256: sha256_bytes(INTRO_TABLE.as_bytes()),
                source: "Naganuma et al., arXiv 2307.08187v4, introduction table (test domains inferred from the authors' code)",
            },
            PublishedFile {
                name: "timm-results-subset",
                path: "reports/reference/timm_results_subset.csv",
                sha256: sha256_bytes(TIMM_RESULTS.as_bytes()),
                source: "timm's published ImageNet top-1 (pytorch-image-models results/*.csv, commit aa4b585)",
            },
            PublishedFile {
                name: "domainbed-2020-10-06-results",
                path: "reports/reference/domainbed_2020_10_06_results.csv",
                sha256: sha256_bytes(DOMAINBED.as_bytes()),
                source: "DomainBed results.tex (github.com/facebookresearch/DomainBed, domainbed/results/2020_10_06_7df6f06, commit 8b6787b): ResNet-50 ImageNet, ERM",
            },
        ],
        intro: intro_rows(),
        domainbed: domainbed_rows(),
    }
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').collect())
}

fn intro_rows() -> Vec<IntroRow> {
    rows(INTRO_TABLE)
        .filter(|f| f.len() >= 5)
        .map(|f| IntroRow {
            dataset: f[0].to_string(),
            test_domain: f[1].to_string(),
            erm: f[2].to_string(),
            best_algorithm: f[3].to_string(),
            best_model: f[4].to_string(),
        })
        .collect()
}

/// ERM under training-domain validation: the paper's test domains and each dataset's average.
fn domainbed_rows() -> Vec<DomainBedRow> {
    rows(DOMAINBED)
        .filter(|f| f.len() >= 6 && f[0] == "training-domain validation" && f[2] == "ERM")
        .filter(|f| {
            f[3] == "Avg" && f[1] != "Averages" || PAPER_TEST_DOMAINS.contains(&(f[1], f[3]))
        })
        .map(|f| DomainBedRow {
            dataset: f[1].to_string(),
            column: if f[3] == "Avg" {
                "average over test domains".to_string()
            } else {
                format!("test domain {}", f[3])
            },
            accuracy: f[4].to_string(),
            se: f[5].to_string(),
        })
        .collect()
}

/// The timm tag of a model's pre-trained weights, where oodcal builds that
/// checkpoint: EfficientNet-Lite on ImageNet-1k is timm's
/// `tf_efficientnet_lite*.in1k` (the same TensorFlow weights).
pub fn timm_tag(m: &ModelSummary) -> Option<String> {
    match m.pretraining.as_deref() {
        Some("imagenet-1k") => {
            let spec = crate::model::ModelSpec::from_parts(&m.family, &m.size).ok()?;
            Some(crate::model::registry::lite_tag(spec.lite_variant()?))
        }
        _ => None,
    }
}

/// The model's timm tag and its ImageNet-1k top-1 (%) in timm's results table.
pub fn imagenet_top1(m: &ModelSummary) -> Option<(String, f64)> {
    let tag = timm_tag(m)?;
    let top1 = (*imagenet_results().get(tag.as_str())?)?;
    Some((tag, top1))
}

/// timm's ImageNet-1k top-1 (%) by tag, parsed once (a page asks per model):
/// the first row of a tag the table lists more than once.
fn imagenet_results() -> &'static BTreeMap<&'static str, Option<f64>> {
    static TOP1: OnceLock<BTreeMap<&'static str, Option<f64>>> = OnceLock::new();
    TOP1.get_or_init(|| {
        let mut top1 = BTreeMap::new();
        for f in rows(TIMM_RESULTS).filter(|f| f.len() >= 6 && f[0] == "imagenet") {
            top1.entry(f[1]).or_insert_with(|| f[5].parse().ok());
        }
        top1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::MeanSe;

    fn model(family: &str, size: &str, pretraining: Option<&str>) -> ModelSummary {
        let zero = MeanSe {
            mean: 0.0,
            se: None,
            n: 1,
        };
        ModelSummary {
            label: format!("{family}-{size}"),
            family: family.into(),
            size: size.into(),
            params: 1,
            pretraining: pretraining.map(str::to_string),
            pretrain_images: None,
            recipe: None,
            seeds: vec![0],
            ood_accuracy: zero,
            ood_ece: zero,
            ood_ece_mass: zero,
            id_accuracy: zero,
            id_ece: zero,
            id_ece_mass: zero,
            ood_ece_ts: zero,
            id_ece_ts: zero,
            ood_nll: zero,
            ood_brier: zero,
        }
    }

    #[test]
    fn lite_weights_meet_timms_top1_and_other_models_have_none() {
        let top1 = |size| imagenet_top1(&model("efficientnet-lite", size, Some("imagenet-1k")));
        assert_eq!(
            top1("lite0"),
            Some(("tf_efficientnet_lite0.in1k".to_string(), 74.846))
        );
        assert_eq!(top1("lite1").map(|t| t.1), Some(76.674));
        assert_eq!(top1("lite2").map(|t| t.1), Some(77.47));
        assert_eq!(
            imagenet_top1(&model("efficientnet-lite", "lite0", None)),
            None
        );
        assert_eq!(
            imagenet_top1(&model("resnet", "tiny", Some("corpus-8k-baseline"))),
            None
        );
    }
}
