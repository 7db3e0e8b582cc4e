//! A study fine-tunes one of the paper's timm tags from its pinned
//! `timm:<tag>` weights: refused by name until they are fetched, then trained
//! with the paper's head rule into a record that names them by digest.

mod common;

use common::run;
use common::timm_file::{he_initialised, safetensors_bytes, timm_tensors};
use common::tiny::TinyRepo;
use oodcal::model::registry::timm_model;

const TAG: &str = "regnety_002.pycls_in1k";

/// glyph-dg at 32 px (RegNetY's stride 32 leaves one position), a few steps.
const STUDY: &str = r#"
[study]
name = "tiny"
runs_dir = "runs/tiny"

[benchmark]
dataset = "glyph-dg"
test_domain = "art"
resolution = 32
holdout_fraction = 0.2

[protocol]
batch_per_domain = 4
steps = 4
eval_every = 2
optimizers = ["sgd"]
momentum = 0.9
learning_rates = [0.01]
weight_decays = [0.0001]
head = "add-linear"
selection = "training-domain-validation"
augment_id_validation = true
seeds = [0]

[[model]]
name = "regnety-002"
timm = "regnety_002.pycls_in1k"
"#;

/// A repository whose study names `TAG`, with a weights file drawn from `seed`
/// written beside it (not yet fetched).
fn repo_with_weights(seed: u64) -> (TinyRepo, std::path::PathBuf, Vec<u8>) {
    let repo = TinyRepo::with_study(STUDY);
    let file = repo.path().join("download.safetensors");
    let bytes = safetensors_bytes(&timm_tensors(TAG), he_initialised(seed));
    std::fs::write(&file, &bytes).unwrap();
    (repo, file, bytes)
}

/// `oodcal fetch <input> --pin --from <from>`, which must succeed.
fn fetch(repo: &TinyRepo, input: &str, from: &std::path::Path) {
    let out = run(repo.bare(&["fetch", input, "--pin", "--from"]).arg(from));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_timm_tag_is_fine_tuned_from_its_pinned_weights() {
    let (repo, file, bytes) = repo_with_weights(1);
    let name = format!("timm:{TAG}");

    // Before the weights are fetched: planned, named as missing, not run.
    let plan = repo.oodcal(&["plan"]);
    assert!(
        plan.stdout.contains(&name) && plan.stdout.contains("not fetched yet"),
        "{}",
        plan.stdout
    );
    let refused = run(&mut repo.cmd(&["run"]));
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains(&name) && refused.stderr.contains("oodcal fetch"),
        "{}",
        refused.stderr
    );
    assert!(!repo.runs_dir().exists() || repo.record_dirs().is_empty());

    fetch(&repo, &name, &file);
    repo.oodcal(&["run"]);
    let records = repo.records();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    let model = timm_model(TAG).unwrap();
    let info = &record.model;
    assert_eq!(
        (info.family.as_str(), info.size.as_str()),
        ("RegNetY", "regnety_002")
    );
    assert_eq!(info.pretraining.as_deref(), Some("IN-1k"));
    assert_eq!(info.pretrain_images, Some(1_281_167));
    assert_eq!(info.recipe.as_deref(), Some("pycls_in1k"));
    assert_eq!(
        record.inputs.get(&name),
        Some(&oodcal::checksum::sha256_bytes(&bytes)),
        "the record names the weights by their digest"
    );
    // The paper's head rule: every tensor of the file (timm's 1000-way head
    // included), plus a new 1000 -> 7 layer.
    let in_file: usize = timm_tensors(TAG)
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    assert_eq!(model.head_classes, 1000);
    assert_eq!(info.params, in_file + 1000 * 7 + 7);
    let metrics = record.final_metrics.as_ref().expect("a completed run");
    assert!(metrics.ood_nll.is_finite() && metrics.at.train_loss.is_finite());

    // Other weights, another run: the weights are what the run starts from.
    let (other, other_file, _) = repo_with_weights(2);
    fetch(&other, &name, &other_file);
    other.oodcal(&["run"]);
    let second = &other.records()[0];
    assert_ne!(
        second.run_id, record.run_id,
        "the weights' digest is part of the id"
    );
    assert_ne!(second.final_metrics, record.final_metrics);
}

/// A DINO checkpoint has no pre-trained head: the run puts the task's layer
/// on its features (nothing to keep, so nothing is added on top), and says
/// so in the record. ViT-S/16 at its own 224 px, on a VLCS-shaped folder of
/// a few real images per class and domain, so the test takes seconds.
#[test]
fn a_headless_tag_gets_the_task_layer_on_its_features() {
    use oodcal::data::domainbed::VLCS;
    const DINO: &str = "vit_small_patch16_224.dino";
    let study = STUDY
        .replace("dataset = \"glyph-dg\"", "dataset = \"VLCS\"")
        .replace("test_domain = \"art\"", "test_domain = \"VOC2007\"")
        .replace("resolution = 32", "resolution = 224")
        .replace("batch_per_domain = 4", "batch_per_domain = 2")
        .replace("steps = 4", "steps = 2")
        .replace(TAG, DINO);
    let repo = TinyRepo::with_study(&study);
    let vlcs = repo.path().join("download/VLCS");
    for (d, domain) in VLCS.domains.iter().enumerate() {
        for (c, class) in VLCS.classes.iter().enumerate() {
            let dir = vlcs.join(domain).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..2u8 {
                let shade = [40 * c as u8, 60 * d as u8, 100 * i];
                image::RgbImage::from_pixel(24, 24, image::Rgb(shade))
                    .save(dir.join(format!("{i}.png")))
                    .unwrap();
            }
        }
    }
    fetch(&repo, "VLCS", &vlcs);
    let file = repo.path().join("dino.safetensors");
    let tensors = timm_tensors(DINO);
    std::fs::write(&file, safetensors_bytes(&tensors, he_initialised(1))).unwrap();
    fetch(&repo, &format!("timm:{DINO}"), &file);

    repo.oodcal(&["run"]);
    let record = &repo.records()[0];
    let info = &record.model;
    assert_eq!(timm_model(DINO).unwrap().head_classes, 0);
    assert_eq!(
        (info.family.as_str(), info.size.as_str()),
        ("ViT", "vit_small_patch16_224")
    );
    assert_eq!(info.recipe.as_deref(), Some("dino"));
    let in_file: usize = tensors
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    // ViT-S's 384 features straight to VLCS's 5 classes.
    assert_eq!(info.params, in_file + 384 * 5 + 5);
    assert!(record.final_metrics.as_ref().unwrap().ood_nll.is_finite());
}
