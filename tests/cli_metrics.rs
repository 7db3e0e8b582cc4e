//! `oodcal metrics` on prediction files a user brings.

mod common;

use common::{oodcal, run};
use std::path::Path;

fn metrics(dir: &Path, name: &str, body: &str, extra: &[&str]) -> common::Run {
    let file = dir.join(name);
    std::fs::write(&file, body).unwrap();
    run(oodcal(dir).arg("metrics").arg(&file).args(extra))
}

#[test]
fn csv_probabilities_give_named_variants_matching_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let body = "label,p_cat,p_dog\n0,0.9,0.1\n1,0.2,0.8\n1,0.6,0.4\n0,0.3,0.7\n";
    let out = metrics(dir.path(), "p.csv", body, &["--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let get = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|l| l["metric"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {v}"))["value"]
            .as_f64()
            .unwrap()
    };
    // Two of four right.
    assert!((get("accuracy[x100]") - 50.0).abs() < 1e-12);
    // Equal-width 10 bins: confidences 0.9 (right), 0.8 (right), 0.6 (wrong),
    // 0.7 (wrong) fall in 4 different bins: ECE = mean |acc - conf|
    // = (0.1 + 0.2 + 0.6 + 0.7) / 4 = 0.4.
    assert!((get("ece[top-label,equal-width,10,L1,x100]") - 40.0).abs() < 1e-9);
    let reference = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.3f64.ln()) / 4.0;
    assert!((get("nll") - reference).abs() < 1e-12);
}

#[test]
fn parquet_and_logits_are_read_too() {
    // A Parquet file written by polars itself, holding logits.
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let mut df =
        df!("label" => [0i64, 1, 1], "a" => [2.0f64, 0.0, -1.0], "b" => [0.0f64, 1.0, 3.0])
            .unwrap();
    let file = dir.path().join("logits.parquet");
    ParquetWriter::new(std::fs::File::create(&file).unwrap())
        .finish(&mut df)
        .unwrap();
    let out = run(oodcal(dir.path())
        .arg("metrics")
        .arg(&file)
        .args(["--logits", "--metric", "accuracy"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("accuracy") && l.trim_end().ends_with("1.000000")),
        "{}",
        out.stdout
    );
}

#[test]
fn reliability_table_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let body = "label,a,b\n0,0.95,0.05\n1,0.45,0.55\n";
    let table = dir.path().join("rel.csv");
    let out = metrics(
        dir.path(),
        "p.csv",
        body,
        &["--reliability", table.to_str().unwrap(), "--bins", "5"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&table).unwrap();
    assert_eq!(text.lines().count(), 1 + 2 * 5);
    assert!(text.contains("equal-width,4,0.8,1,1,0.95,1"), "{text}");
}

fn assert_error(out: &common::Run, words: &[&str]) {
    assert_ne!(out.code, 0, "should fail: {}", out.stdout);
    let msg = out.stderr.trim();
    assert_eq!(msg.lines().count(), 1, "one line: {msg}");
    for w in words {
        assert!(msg.contains(w), "expected `{w}` in: {msg}");
    }
}

#[test]
fn malformed_files_name_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_error(
        &metrics(d, "sum.csv", "label,a,b\n0,0.5,0.5\n1,0.7,0.7\n", &[]),
        &["sum.csv", "row 2", "sum to 1.4"],
    );
    assert_error(
        &metrics(
            d,
            "nan.csv",
            "label,a,b\n0,0.5,0.5\n1,NaN,0.5\n",
            &["--logits"],
        ),
        &["nan.csv", "row 2", "column `a`", "not finite"],
    );
    assert_error(
        &metrics(d, "text.csv", "label,a,b\n0,0.5,0.5\n1,abc,0.5\n", &[]),
        &["text.csv", "row 2", "column `a`", "`abc` is not a number"],
    );
    assert_error(
        &metrics(d, "label.csv", "label,a,b\n0,0.5,0.5\n2,0.5,0.5\n", &[]),
        &["label.csv", "row 2", "column `label`", "out of range"],
    );
    assert_error(
        &metrics(d, "ragged.csv", "label,a,b\n0,0.5,0.5\n1,0.5\n", &[]),
        &["ragged.csv", "row 2", "column `b`"],
    );
    assert_error(
        &metrics(
            d,
            "twice.csv",
            "label,a,label\n0,0.5,1\n1,0.5,0\n",
            &["--logits"],
        ),
        &["twice.csv", "line 1", "column `label` appears twice"],
    );
    assert_error(
        &metrics(d, "extra.csv", "label,a,b\n0,0.5,0.5\n1,0.5,0.5,0.1\n", &[]),
        &["extra.csv", "row 2 (line 3)", "4 fields, the header has 3"],
    );
    assert_error(
        &metrics(d, "empty.csv", "label,a,b\n", &[]),
        &["empty.csv", "no data rows"],
    );
    assert_error(
        &metrics(d, "nolabel.csv", "y,a,b\n0,0.5,0.5\n", &[]),
        &["no column named `label`"],
    );
}
