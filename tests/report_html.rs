//! `oodcal report` as a user runs it: a self-contained, escaped page that
//! rebuilds byte-identically, a lock that catches drift, and refusal of
//! corrupt records.

mod common;
mod report_support;

use std::path::{Path, PathBuf};

use common::{oodcal, run, Run};
use report_support::{claims_study, Synth};

fn build(scratch: &Path, records: &Path, out: &Path) -> Run {
    run(oodcal(scratch)
        .arg("report")
        .arg("--study")
        .arg("experiments/quick.toml")
        .arg("--all-records")
        .arg("--records")
        .arg(records)
        .arg("--out")
        .arg(out))
}

/// A claims study plus a model whose label is markup.
fn study(dir: &Path) -> PathBuf {
    let records = dir.join("runs");
    claims_study(&records, false);
    for seed in 0..2 {
        Synth::new("<script>alert('x')</script>", 2000, seed)
            .metrics(75.0, 55.0, 9.0)
            .write(&records);
    }
    records
}

fn external_references(html: &str) -> Vec<String> {
    let lower = html.to_lowercase();
    [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "url(http",
        "url(\"http",
        "@import",
    ]
    .iter()
    .filter(|p| lower.contains(*p))
    .map(|p| p.to_string())
    .collect()
}

#[test]
fn the_report_is_self_contained_escaped_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let records = study(dir.path());
    let out = dir.path().join("report");
    let r = build(dir.path(), &records, &out);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.trim(),
        out.join("index.html").display().to_string()
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        !html.to_lowercase().contains("<script"),
        "a script element leaked"
    );
    assert!(
        html.contains("&lt;script&gt;alert("),
        "the markup label is shown escaped"
    );
    assert_eq!(external_references(&html), Vec::<String>::new());
    assert!(html.matches("<svg").count() >= 8, "figures are inline SVG");
    for section in [
        "id=\"claims\"",
        "id=\"results\"",
        "id=\"reference\"",
        "id=\"provenance\"",
        "Reliability diagrams",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    // Reference data is labelled with its source beside the study's numbers.
    assert!(html.contains("intro_table1.csv") && html.contains("96.7"));
    assert!(html.contains("DomainBed") && html.contains("84.7"));
    for table in ["runs", "selected", "oracle", "summary", "claims"] {
        assert!(out.join(format!("{table}.csv")).is_file(), "{table}.csv");
        assert!(
            out.join(format!("{table}.parquet")).is_file(),
            "{table}.parquet"
        );
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.starts_with("model,family,size,params"), "{summary}");
    let claims = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    assert!(claims.contains(",holds,"), "{claims}");
    let check = run(oodcal(dir.path()).arg("report").arg("--check").arg(&out));
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
}

#[test]
fn rebuilding_from_the_same_records_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let records = study(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert_eq!(build(dir.path(), &records, &a).code, 0);
    assert_eq!(build(dir.path(), &records, &b).code, 0);
    let first = std::fs::read(a.join("index.html")).unwrap();
    assert_eq!(first, std::fs::read(b.join("index.html")).unwrap());
    assert_eq!(build(dir.path(), &records, &a).code, 0);
    assert_eq!(first, std::fs::read(a.join("index.html")).unwrap());
    assert_eq!(
        std::fs::read(a.join("summary.csv")).unwrap(),
        std::fs::read(b.join("summary.csv")).unwrap()
    );
}

#[test]
fn the_lock_check_names_a_modified_page_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let records = study(dir.path());
    let out = dir.path().join("report");
    assert_eq!(build(dir.path(), &records, &out).code, 0);
    let lock = std::fs::read_to_string(out.join("report.lock")).unwrap();
    assert!(lock.contains("format oodcal-report-lock-v1"));
    assert!(lock.contains("  file  index.html") && lock.contains("  record  "));
    let index = out.join("index.html");
    let mut html = std::fs::read_to_string(&index).unwrap();
    html.push_str("<!-- edited -->");
    std::fs::write(&index, html).unwrap();
    let r = run(oodcal(dir.path()).arg("report").arg("--check").arg(&out));
    assert_ne!(r.code, 0);
    assert!(
        r.stdout.contains(&format!("DRIFTED {}", index.display())),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 of"), "{}", r.stdout);
}

#[test]
fn a_corrupt_record_stops_the_report_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    Synth::new("a", 1000, 0).write(&records);
    let bad = Synth::new("b", 1000, 0).write(&records);
    let preds = bad.join("predictions.csv");
    let mut text = std::fs::read_to_string(&preds).unwrap();
    text.push_str("id,999,0,1,0,0\n");
    std::fs::write(&preds, text).unwrap();
    let out = dir.path().join("report");
    let r = build(dir.path(), &records, &out);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(&preds.display().to_string()),
        "{}",
        r.stderr
    );
    assert!(
        !out.join("index.html").exists(),
        "no report from corrupt records"
    );
}

#[test]
fn records_from_another_engine_are_set_aside_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    for seed in 0..3 {
        Synth::new("m", 1000, seed).write(&records);
    }
    let mut old = Synth::new("m", 1000, 7).metrics(99.0, 99.0, 1.0);
    old.engine = "oodcal-engine-0".to_string();
    old.write(&records);
    let out = dir.path().join("report");
    let r = build(dir.path(), &records, &out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: 1 record(s) set aside"),
        "{}",
        r.stderr
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("class=\"warning\">1 record(s) set aside"));
    assert!(html.contains("oodcal-engine-0"));
}

/// `--check` re-hashes the records too: a record changed after the report
/// was built (even one re-signed so that it still verifies) is named.
#[test]
fn the_lock_check_names_a_changed_record() {
    let dir = tempfile::tempdir().unwrap();
    let records = study(dir.path());
    let out = dir.path().join("report");
    assert_eq!(build(dir.path(), &records, &out).code, 0);
    let folder = oodcal::record::store::record_dirs(&records)
        .unwrap()
        .remove(0);
    let record = folder.join("record.json");
    let text = std::fs::read_to_string(&record).unwrap();
    let edited = text.replacen("\"wall_seconds\": 2.5", "\"wall_seconds\": 2.6", 1);
    assert_ne!(edited, text);
    std::fs::write(&record, &edited).unwrap();
    let digest = oodcal::checksum::sha256_bytes(edited.as_bytes());
    std::fs::write(
        folder.join("record.sha256"),
        format!("{digest}  record.json\n"),
    )
    .unwrap();
    let r = run(oodcal(dir.path())
        .arg("report")
        .arg("--check")
        .arg(&out)
        .arg("--records")
        .arg(&records));
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("DRIFTED {}", record.display())),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 of"), "{}", r.stdout);
}

/// `protocol.selection` is what the report selects by: a manifest that asks
/// for the test-domain oracle gets the oracle's runs as its selection, and
/// training-domain validation beside them as the check.
#[test]
fn the_manifests_selection_rule_picks_the_selected_runs() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    // Per seed, ID accuracy peaks at lr 0.01, OOD accuracy at lr 0.1.
    for seed in 0..2 {
        for (lr, id, ood) in [(0.01, 80.0, 50.0), (0.1, 70.0, 60.0)] {
            Synth::new("m", 1000, seed)
                .grid(lr, 1e-4)
                .metrics(id, ood, 5.0)
                .write(&records);
        }
    }
    let quick = std::fs::read_to_string(common::repo().join("experiments/quick.toml")).unwrap();
    let by_oracle = quick.replace(
        "selection = \"training-domain-validation\"",
        "selection = \"test-domain-oracle\"",
    );
    assert_ne!(by_oracle, quick);
    let manifest = dir.path().join("oracle.toml");
    std::fs::write(&manifest, by_oracle).unwrap();
    let (tdv, oracle) = (dir.path().join("tdv"), dir.path().join("oracle"));
    assert_eq!(build(dir.path(), &records, &tdv).code, 0);
    let r = run(oodcal(dir.path())
        .args(["report", "--all-records", "--study"])
        .arg(&manifest)
        .arg("--records")
        .arg(&records)
        .arg("--out")
        .arg(&oracle));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let lr_of_selected = |dir: &Path| read(dir, "selected.csv").matches(",sgd,0.1,").count();
    assert_eq!(
        lr_of_selected(&tdv),
        0,
        "training-domain validation picks lr 0.01"
    );
    assert_eq!(lr_of_selected(&oracle), 2, "the oracle picks lr 0.1");
    // The check beside each selection is the other rule's, named after it.
    assert_eq!(read(&oracle, "selected.csv"), read(&tdv, "oracle.csv"));
    assert_eq!(
        read(&oracle, "training-domain-validation.csv"),
        read(&tdv, "selected.csv")
    );
    assert!(!oracle.join("oracle.csv").exists());
    let html = read(&oracle, "index.html");
    assert!(html.contains("<h3>Selected runs (test-domain oracle)</h3>"));
    assert!(html.contains("<h3>Check: training-domain validation</h3>"));
}

/// A model that did not learn is drawn apart in the figures (its own legend
/// entry, a hollow ring) and listed in the learning table.
#[test]
fn a_model_that_did_not_learn_is_marked_in_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    claims_study(&records, false);
    for seed in 0..2 {
        Synth::new("at-chance", 5_000_000, seed)
            .metrics(34.0, 34.0, 1.0)
            .write(&records);
    }
    let out = dir.path().join("report");
    let r = build(dir.path(), &records, &out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("resnet · did not learn"), "no legend entry");
    assert!(html.contains("hollow ring: a model that did not learn"));
    assert!(html.contains("<td>at-chance</td>"));
}

/// Each quick-study checkpoint's held-out accuracy on its corpus (from its
/// committed figures file) stands beside its model, judged by the rule the
/// models are held to; the committed page shows the section.
#[test]
fn each_checkpoint_is_shown_with_how_well_it_learned_its_corpus() {
    use oodcal::inputs::Catalogue;
    use oodcal::report::checkpoints::checkpoint_rows;
    use oodcal::study::Study;
    let repo = common::repo();
    let catalogue = Catalogue::load(&repo.join("data-manifest.toml")).unwrap();
    let study = Study::load(&repo.join("experiments/quick.toml"), &catalogue).unwrap();
    let rows = checkpoint_rows(&study, &catalogue, &repo);
    let pretrained = study.models.iter().filter(|m| m.pretrain.is_some()).count();
    assert_eq!(rows.len(), pretrained);
    assert!(
        rows.iter()
            .all(|r| r.held_out_accuracy.is_some() && r.learned.is_some()),
        "{rows:?}"
    );
    // Every checkpoint of the quick zoo learned its corpus, and trained
    // under the plateau rule: every ResNet until it plateaued.
    for r in &rows {
        assert_eq!(r.learned, Some(true), "{r:?}");
        assert!(
            r.budget.starts_with("plateau after") || r.budget.starts_with("cap of"),
            "{r:?}"
        );
        if r.label.starts_with("resnet") {
            assert!(r.budget.starts_with("plateau after"), "{r:?}");
        }
    }
    // Three pre-training seeds at every corpus size.
    for corpus in ["glyph-corpus-2k", "glyph-corpus-8k", "glyph-corpus-32k"] {
        let seeds: std::collections::BTreeSet<u64> = rows
            .iter()
            .filter(|r| r.corpus == corpus && r.label.starts_with("resnet-tiny"))
            .filter(|r| r.recipe == "baseline")
            .map(|r| r.seed)
            .collect();
        assert_eq!(seeds.len(), 3, "{corpus}");
    }
    // At or below chance on 1,000 images cannot pass for having learned.
    for r in rows.iter().filter(|r| r.held_out_accuracy <= r.chance) {
        assert_eq!(r.learned, Some(false), "{r:?}");
    }
    let page = std::fs::read_to_string(repo.join("reports/quick/index.html")).unwrap();
    assert!(page.contains("Did the checkpoints learn their corpora?"));
}
