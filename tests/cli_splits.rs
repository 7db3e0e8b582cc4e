//! `oodcal splits`: PACS's split lists equal those DomainBed's own recipe
//! gives (`tests/fixtures/pacs_split_lists.json`, written by
//! `scripts/domainbed_split_lists.py` from the same folder), for trials 0 and 1.

mod common;

use serde_json::Value;
use sha2::{Digest, Sha256};

fn digest(paths: &[Value]) -> String {
    let text: String = paths
        .iter()
        .map(|p| format!("{}\n", p.as_str().unwrap()))
        .collect();
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn pacs_split_lists_equal_domainbeds_for_two_trials() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("tests/fixtures/pacs_split_lists.json"))
            .unwrap(),
    )
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for expected in fixture["trials"].as_array().unwrap() {
        let trial = expected["trial_seed"].as_u64().unwrap();
        let out = scratch.path().join("splits");
        let run = common::run(
            common::oodcal(scratch.path())
                .env("OODCAL_DATA_ROOT", common::shared_data_root())
                .args(["splits", "experiments/pacs-lite.toml", "--trial"])
                .arg(trial.to_string())
                .arg("--out")
                .arg(&out),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let lists: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("trial-{trial}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(lists["test_domain"], "art_painting");
        let domains = lists["domains"].as_array().unwrap();
        let want = expected["domains"].as_array().unwrap();
        assert_eq!(domains.len(), want.len());
        for (got, want) in domains.iter().zip(want) {
            let name = want["domain"].as_str().unwrap();
            assert_eq!(got["domain"], want["domain"]);
            assert_eq!(got["seed"], want["seed"], "{name}: numpy seed");
            for split in ["in", "out"] {
                let files = got[split].as_array().unwrap();
                assert_eq!(
                    files.len() as u64,
                    want[format!("n_{split}")],
                    "{name} {split}"
                );
                assert_eq!(
                    &files[..3],
                    want[format!("{split}_head")].as_array().unwrap()
                );
                assert_eq!(
                    digest(files),
                    want[format!("{split}_sha256")],
                    "trial {trial}, {name} {split}: lists differ from DomainBed's"
                );
            }
        }
        // The digest a run record of this trial pins (pacs-lite's committed
        // reference runs seeds 0 and 1).
        let pinned =
            std::fs::read_to_string(common::repo().join("reports/pacs-lite/reference.json"))
                .unwrap();
        assert!(
            pinned.contains(lists["splits_sha256"].as_str().unwrap()),
            "trial {trial}: {} is not a split digest of the pacs-lite reference",
            lists["splits_sha256"]
        );
        // The text form holds the same images, one line each.
        let text = std::fs::read_to_string(out.join(format!("trial-{trial}.txt"))).unwrap();
        assert_eq!(text.lines().count(), 9991);
        assert!(text.starts_with("art_painting\tin\t"), "{}", &text[..80]);
    }
}

#[test]
fn a_generated_benchmark_has_no_file_lists_and_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    let run =
        common::run(common::oodcal(scratch.path()).args(["splits", "experiments/quick.toml"]));
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("`glyph-dg` is generated"),
        "{}",
        run.stderr
    );
}
