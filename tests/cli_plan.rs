//! `oodcal plan`: stable, content-addressed run ids.

mod common;

use common::{oodcal, repo, run};
use serde_json::Value;
use std::path::Path;

fn plan_json(scratch: &Path, study: &Path, manifest: &Path) -> Value {
    let out = run(oodcal(scratch)
        .arg("plan")
        .arg(study)
        .arg("--json")
        .arg("--manifest")
        .arg(manifest));
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("plan --json prints JSON")
}

fn ids(plan: &Value) -> Vec<String> {
    plan["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn quick_plan_lists_every_run_with_a_unique_stable_id() {
    let scratch = tempfile::tempdir().unwrap();
    let study = repo().join("experiments/quick.toml");
    let manifest = repo().join("data-manifest.toml");
    let a = plan_json(scratch.path(), &study, &manifest);
    let b = plan_json(scratch.path(), &study, &manifest);
    let ids_a = ids(&a);
    assert_eq!(ids_a, ids(&b));
    // 28 models x 3 algorithms x 1 optimizer x 3 learning rates x 1 weight decay x 2 seeds.
    assert_eq!(ids_a.len(), 28 * 3 * 3 * 2);
    let unique: std::collections::BTreeSet<_> = ids_a.iter().collect();
    assert_eq!(unique.len(), ids_a.len());
    assert!(ids_a.iter().all(|id| id.len() == 64));
}

#[test]
fn any_change_of_a_field_or_an_input_digest_changes_ids() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let quick = std::fs::read_to_string(repo().join("experiments/quick.toml")).unwrap();
    let manifest_text = std::fs::read_to_string(repo().join("data-manifest.toml")).unwrap();
    let manifest = dir.join("data-manifest.toml");
    std::fs::write(&manifest, &manifest_text).unwrap();
    let write_study = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let base = ids(&plan_json(
        dir,
        &write_study("base.toml", &quick),
        &manifest,
    ));

    // A protocol field: every run changes.
    // (Prefixing a digit changes the value whatever it is: 60 -> 160.)
    let steps = quick.replacen("\nsteps = ", "\nsteps = 1", 1);
    assert_ne!(steps, quick);
    let changed = ids(&plan_json(
        dir,
        &write_study("steps.toml", &steps),
        &manifest,
    ));
    assert!(base.iter().zip(&changed).all(|(a, b)| a != b));

    // One pre-training field: only runs of models using that recipe change.
    let recipe = quick.replacen(
        "recipe = \"cutmix\"\nsteps = ",
        "recipe = \"cutmix\"\nsteps = 1",
        1,
    );
    assert_ne!(recipe, quick);
    let changed = ids(&plan_json(
        dir,
        &write_study("recipe.toml", &recipe),
        &manifest,
    ));
    let differing = base.iter().zip(&changed).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 18, "only resnet-tiny-cutmix's 18 runs");

    // An input digest: re-pinning glyph-corpus-2k changes only its models' runs
    // (three pre-training seeds).
    let at = manifest_text.find("name = \"glyph-corpus-2k\"").unwrap();
    let digest_at = at + manifest_text[at..].find("sha256 = \"").unwrap() + "sha256 = \"".len();
    let mut pinned = manifest_text.clone();
    pinned.replace_range(digest_at..digest_at + 64, &"0".repeat(64));
    let manifest2 = dir.join("pinned/data-manifest.toml");
    std::fs::create_dir_all(manifest2.parent().unwrap()).unwrap();
    std::fs::write(&manifest2, pinned).unwrap();
    let changed = ids(&plan_json(
        dir,
        &write_study("base2.toml", &quick),
        &manifest2,
    ));
    let differing = base.iter().zip(&changed).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing, 54,
        "only the 18 runs of each resnet-tiny-2k seed"
    );

    // ERM alone: its runs keep the ids they had before algorithms were a
    // setting (ERM is left out of the spec), the others are new.
    let algorithms_line = quick
        .lines()
        .find(|l| l.starts_with("algorithms = "))
        .unwrap();
    let erm_only = quick.replacen(algorithms_line, "", 1);
    let erm = ids(&plan_json(
        dir,
        &write_study("erm.toml", &erm_only),
        &manifest,
    ));
    assert_eq!(erm.len(), base.len() / 3);
    assert!(erm.iter().all(|id| base.contains(id)));
    let reference = std::fs::read_to_string(repo().join("reports/quick/reference.json")).unwrap();
    assert!(
        erm.iter().all(|id| reference.contains(id.as_str())),
        "ERM ids as in the reference"
    );
}

/// Training images per run as the manifest defines them: steps × one
/// minibatch from each of PACS's three training domains.
fn pacs_images_per_run(manifest: &str) -> i64 {
    let text = std::fs::read_to_string(repo().join(manifest)).unwrap();
    let study: toml::Table = text.parse().unwrap();
    let protocol = study["protocol"].as_table().unwrap();
    protocol["steps"].as_integer().unwrap() * protocol["batch_per_domain"].as_integer().unwrap() * 3
}

#[test]
fn table_output_names_runs_inputs_and_compute() {
    let scratch = tempfile::tempdir().unwrap();
    for manifest in [
        "experiments/pacs-lite.toml",
        "experiments/paper/pacs-lite.toml",
    ] {
        let out = run(oodcal(scratch.path()).args(["plan", manifest]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("study pacs-lite"));
        assert!(out.stdout.contains("efficientnet-lite0-scratch"));
        assert!(out.stdout.contains("none (from scratch)"));
        let compute = format!(
            "compute: {} training images per run",
            pacs_images_per_run(manifest)
        );
        assert!(out.stdout.contains(&compute), "{compute}\n{}", out.stdout);
        assert!(out
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("efficientnet-lite1") && l.contains("missing")));
    }
}

/// Every study manifest shipped under `experiments/`, one level of folders deep.
fn shipped_studies() -> Vec<std::path::PathBuf> {
    let top = repo().join("experiments");
    let mut found = Vec::new();
    for dir in [top.clone(), top.join("paper")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_shipped_study_plans_with_unique_ids() {
    let scratch = tempfile::tempdir().unwrap();
    let manifest = repo().join("data-manifest.toml");
    let studies = shipped_studies();
    assert!(studies.len() >= 4, "{studies:?}");
    for study in studies {
        let plan = plan_json(scratch.path(), &study, &manifest);
        let ids = ids(&plan);
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert!(!ids.is_empty(), "{}: no runs", study.display());
        assert_eq!(unique.len(), ids.len(), "{}", study.display());
    }
}

/// The committed references are keyed by run id: a change that orphans them
/// (the ids of the shipped studies no longer those of their references) fails here.
#[test]
fn shipped_references_have_the_ids_of_todays_plans() {
    let scratch = tempfile::tempdir().unwrap();
    for study in ["quick", "pacs-lite"] {
        let plan = plan_json(
            scratch.path(),
            &repo().join(format!("experiments/{study}.toml")),
            &repo().join("data-manifest.toml"),
        );
        let mut planned = ids(&plan);
        planned.sort();
        let file = repo().join(format!("reports/{study}/reference.json"));
        let reference: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut referenced: Vec<String> = reference["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect();
        referenced.sort();
        assert_eq!(
            planned,
            referenced,
            "{study}: plan and {} differ",
            file.display()
        );
    }
}

/// The paper's grid on its four datasets: each manifest holds the 91 tags of
/// the authors' list, the paper's protocol, and `plan` sizes every model in
/// GPU hours from timm's FLOPs (DomainNet evaluates every 1,000 steps, the
/// others every 300).
#[test]
fn the_papers_grid_plans_91_models_on_four_datasets_with_gpu_hours() {
    let scratch = tempfile::tempdir().unwrap();
    let manifest = repo().join("data-manifest.toml");
    let authors =
        std::fs::read_to_string(repo().join("reports/reference/authors_timm_model_list.csv"))
            .unwrap();
    let tags: Vec<&str> = authors
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(tags.len(), 91);
    let mut total = 0.0;
    for (dataset, evaluations) in [
        ("pacs", 18),
        ("vlcs", 18),
        ("officehome", 18),
        ("domainnet", 6),
    ] {
        let study = repo().join(format!("experiments/paper/{dataset}.toml"));
        let plan = plan_json(scratch.path(), &study, &manifest);
        let e = &plan["estimate"];
        assert_eq!(e["evaluations_per_run"], evaluations, "{dataset}");
        assert_eq!(
            e["training_images_per_run"],
            5001 * 32 * (if dataset == "domainnet" { 5 } else { 3 })
        );
        let gpu = &e["gpu"];
        let per_model = gpu["per_model"].as_array().unwrap();
        let names: Vec<&str> = per_model
            .iter()
            .map(|m| m["model"].as_str().unwrap())
            .collect();
        assert_eq!(
            names, tags,
            "{dataset}: the authors' 91 tags in their order"
        );
        assert_eq!(gpu["models_without_flops"].as_array().unwrap().len(), 0);
        for m in per_model {
            assert_eq!(
                m["runs"], 36,
                "3 learning rates x 4 weight decays x 3 seeds"
            );
            assert!(m["gpu_hours"].as_f64().unwrap() > 0.0, "{m}");
        }
        // ViT-H/14 costs more than ResNet-50 in proportion to its FLOPs.
        let hours = |tag: &str| {
            per_model.iter().find(|m| m["model"] == tag).unwrap()["gpu_hours"]
                .as_f64()
                .unwrap()
        };
        let ratio = hours("vit_huge_patch14_224.mae") / hours("resnet50.tv_in1k");
        assert!((ratio - 334.59 / 8.178).abs() < 0.1, "{ratio}");
        total += gpu["total_gpu_hours"].as_f64().unwrap();
    }
    assert!(total > 1000.0, "{total}");
}

/// A timm tag is planned with its weights input named; `run` refuses it until
/// that input is fetched and pinned, saying how.
#[test]
fn a_timm_tag_without_its_weights_is_planned_but_not_run() {
    let scratch = tempfile::tempdir().unwrap();
    let study = scratch.path().join("study.toml");
    let quick = std::fs::read_to_string(repo().join("experiments/quick.toml")).unwrap();
    let head = quick[..quick.find("[[model]]").unwrap()].replacen("runs/quick", "runs/vgg", 1);
    std::fs::write(
        &study,
        format!("{head}[[model]]\nname = \"vgg\"\ntimm = \"vgg11.tv_in1k\"\n"),
    )
    .unwrap();
    let plan = run(oodcal(scratch.path()).arg("plan").arg(&study));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("timm:vgg11.tv_in1k") && plan.stdout.contains("not fetched yet"),
        "{}",
        plan.stdout
    );
    let out = run(oodcal(scratch.path())
        .arg("run")
        .arg(&study)
        .args(["--limit", "1"]));
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("timm:vgg11.tv_in1k") && out.stderr.contains("oodcal fetch"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_gpu_rate_that_is_not_positive_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let out =
        run(oodcal(scratch.path()).args(["plan", "experiments/pacs-lite.toml", "--tflops", "0"]));
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("--tflops"), "{}", out.stderr);
}
