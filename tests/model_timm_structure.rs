//! The structure of the paper's 91 timm models, and the ports that match it.
//!
//! `tests/fixtures/timm/` holds what `scripts/timm_structure.py` wrote with
//! timm 1.0.31 on PyTorch's `meta` device: every state-dict tensor's key and
//! shape for each tag of the authors' list (`structure.tsv.gz`), and each
//! tag's parameter count, head classes, input size and FLOPs (`src/model/timm_models.tsv`,
//! which the registry embeds).
//! A burn port of an architecture must produce that listing key for key.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use oodcal::model::efficientnet_lite::LiteVariant;
use oodcal::model::timm::TimmArch;
use oodcal::weights::load::torch_layout;

type B = <oodcal::train::CpuBackend as AutodiffBackend>::InnerBackend;

/// (key, shape) in state-dict order.
type Listing = Vec<(String, Vec<usize>)>;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn structure() -> BTreeMap<String, Listing> {
    let file = repo().join("tests/fixtures/timm/structure.tsv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut by_tag: BTreeMap<String, Listing> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let [tag, key, shape] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("{}: line {}: not tag, key, shape", file.display(), n + 1);
        };
        let shape = shape
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| d.parse().unwrap())
            .collect();
        by_tag
            .entry(tag.to_string())
            .or_default()
            .push((key.to_string(), shape));
    }
    by_tag
}

/// `timm_models.tsv` rows by tag: column name → value.
fn models() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .comment(Some(b'#'))
        .from_path(repo().join("src/model/timm_models.tsv"))
        .unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            (row["tag"].clone(), row)
        })
        .collect()
}

fn is_buffer(key: &str) -> bool {
    ["running_mean", "running_var", "num_batches_tracked"]
        .iter()
        .any(|b| key.ends_with(b))
}

fn param_count(listing: &Listing) -> u64 {
    listing
        .iter()
        .filter(|(k, _)| !is_buffer(k))
        .map(|(_, s)| s.iter().product::<usize>() as u64)
        .sum()
}

/// The listing is of the paper's 91 models: every tag of the authors' list
/// and no other, and where timm publishes a parameter count, ours is it.
#[test]
fn the_listing_is_of_the_papers_91_models() {
    let authors = repo().join("reports/reference/authors_timm_model_list.csv");
    let mut reader = csv::Reader::from_path(&authors).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (tag_col, m_col, source_col) = (
        column("timm_name"),
        column("param_count_M"),
        column("param_source"),
    );
    let structure = structure();
    let models = models();
    let mut tags = Vec::new();
    for row in reader.records() {
        let row = row.unwrap();
        let tag = row[tag_col].to_string();
        let listing = &structure[&tag];
        let count = param_count(listing);
        assert_eq!(count.to_string(), models[&tag]["params"], "{tag}");
        assert_eq!(listing.len().to_string(), models[&tag]["tensors"], "{tag}");
        if row[source_col].starts_with("timm results") {
            let published: f64 = row[m_col].parse().unwrap();
            let ours = count as f64 / 1e6;
            assert!(
                (ours - published).abs() < 0.006,
                "{tag}: {ours} M, timm publishes {published} M"
            );
        }
        tags.push(tag);
    }
    assert_eq!(tags.len(), 91);
    let listed: Vec<&String> = structure.keys().collect();
    tags.sort();
    assert_eq!(listed, tags.iter().collect::<Vec<_>>());
    // The heads the tags carry: none for MAE and DINO, 21,843 classes for
    // the IN-21k Mixers, ImageNet's 1000 otherwise.
    assert_eq!(models["vit_base_patch16_224.mae"]["num_classes"], "0");
    assert_eq!(models["mixer_b16_224.goog_in21k"]["num_classes"], "21843");
    assert_eq!(models["resnet50.tv_in1k"]["num_classes"], "1000");
}

/// The EfficientNet-Lite port produces timm's listing for its three tags,
/// key for key and shape for shape, in timm's order (BatchNorm's
/// `num_batches_tracked`, a counter burn does not keep, aside).
#[test]
fn efficientnet_lite_has_timms_keys_and_shapes() {
    let structure = structure();
    let device = Default::default();
    for (variant, tag) in [
        ("efficientnet-lite0", "tf_efficientnet_lite0.in1k"),
        ("efficientnet-lite1", "tf_efficientnet_lite1.in1k"),
        ("efficientnet-lite2", "tf_efficientnet_lite2.in1k"),
    ] {
        let config = LiteVariant::from_name(variant).unwrap().config();
        let network = config.init_network::<B>(&device);
        let ours: Listing = torch_layout(&network)
            .into_iter()
            .map(|(path, shape)| {
                let key = config.timm_key(&path);
                (key.unwrap_or_else(|| panic!("{path}: no timm key")), shape)
            })
            .collect();
        let timm: Listing = structure[tag]
            .iter()
            .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
            .cloned()
            .collect();
        let first_difference = ours.iter().zip(&timm).position(|(a, b)| a != b);
        assert_eq!(
            first_difference,
            None,
            "{tag}: first difference at {first_difference:?}: ours {:?}, timm {:?}",
            first_difference.map(|i| &ours[i]),
            first_difference.map(|i| &timm[i])
        );
        assert_eq!(ours.len(), timm.len(), "{tag}");
    }
}

/// Every tag of a ported timm family produces timm's listing, key for key
/// and shape for shape (BatchNorm's step counter aside). The networks are
/// built lazily, so even ViT-H/14 allocates no weights here. A headless tag
/// (MAE, DINO) has no classifier in timm's listing, so ours is left out.
#[test]
fn ported_families_have_timms_keys_and_shapes_for_every_tag() {
    let structure = structure();
    let models = models();
    let device = Default::default();
    let mut checked = Vec::new();
    for (tag, listing) in &structure {
        let Some(arch) = TimmArch::from_tag(tag) else {
            continue;
        };
        let classes: usize = models[tag]["num_classes"].parse().unwrap();
        let network = arch.init_network::<B>(classes.max(1), &device);
        let mut ours: Listing = torch_layout(&network)
            .into_iter()
            .filter(|(path, _)| classes > 0 || !path.starts_with("head."))
            .map(|(path, shape)| (arch.timm_key(&path), shape))
            .collect();
        let mut timm: Listing = listing
            .iter()
            .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
            .cloned()
            .collect();
        ours.sort();
        timm.sort();
        let only_ours: Vec<_> = ours.iter().filter(|t| !timm.contains(t)).take(3).collect();
        let only_timm: Vec<_> = timm.iter().filter(|t| !ours.contains(t)).take(3).collect();
        assert!(
            only_ours.is_empty() && only_timm.is_empty(),
            "{tag}: only ours {only_ours:?}, only timm's {only_timm:?}"
        );
        assert_eq!(
            param_count(&ours).to_string(),
            models[tag]["params"],
            "{tag}"
        );
        checked.push(tag.split('.').next().unwrap().to_string());
    }
    assert_eq!(checked.len(), 91, "every tag of the paper builds");
    checked.dedup();
    let families = [
        "resnet",
        "vit_",
        "convnext",
        "mixer",
        "vgg",
        "regnety",
        "tf_efficientnet_b",
        "tf_efficientnet_lite",
    ];
    for family in families {
        assert!(
            checked.iter().any(|name| name.starts_with(family)),
            "no {family} tag was checked"
        );
    }
    println!("{} architectures checked: {checked:?}", checked.len());
}
