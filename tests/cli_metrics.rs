//! `oodcal metrics` on prediction files a user brings.

mod common;

use common::{oodcal, run};
use std::path::Path;

fn metrics(dir: &Path, name: &str, body: &str, extra: &[&str]) -> common::Run {
    let file = dir.join(name);
    std::fs::write(&file, body).unwrap();
    run(oodcal(dir).arg("metrics").arg(&file).args(extra))
}

/// The value of metric `name` in `oodcal metrics --json` output.
fn metric_value(json: &serde_json::Value, name: &str) -> f64 {
    json.as_array()
        .unwrap()
        .iter()
        .find(|l| l["metric"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {json}"))["value"]
        .as_f64()
        .unwrap()
}

#[test]
fn csv_probabilities_give_named_variants_matching_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let body = "label,p_cat,p_dog\n0,0.9,0.1\n1,0.2,0.8\n1,0.6,0.4\n0,0.3,0.7\n";
    let out = metrics(dir.path(), "p.csv", body, &["--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let get = |name: &str| metric_value(&v, name);
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

/// Logits with awkward values (signs, tiny and huge magnitudes, values whose
/// shortest decimal form is long) on three splits of unequal size.
fn awkward_eval_logits() -> oodcal::record::predictions::EvalLogits {
    use oodcal::record::predictions::{EvalLogits, SplitLogits};
    let k = 4;
    let split = |rows: usize, salt: u32| SplitLogits {
        logits: (0..rows * k)
            .map(|i| {
                let x = ((i as u32).wrapping_mul(2654435761) ^ salt) as f32 / u32::MAX as f32;
                match i % 5 {
                    0 => -x * 7.0,
                    1 => x * 1e-30,
                    2 => 1.0 / 3.0 + x,
                    3 => x * 60.0,
                    _ => -0.0,
                }
            })
            .collect(),
        labels: (0..rows)
            .map(|r| ((r * 7 + salt as usize) % k) as u32)
            .collect(),
    };
    EvalLogits {
        classes: k,
        id: split(23, 1),
        ood_in: split(17, 2),
        ood_out: split(19, 3),
    }
}

/// The awkward logits written by the record writer into a fresh folder.
fn written_predictions() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    oodcal::record::predictions::EvalLogits,
) {
    let logits = awkward_eval_logits();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("predictions.csv");
    std::fs::write(&file, oodcal::record::predictions::to_csv(&logits)).unwrap();
    (dir, file, logits)
}

#[test]
fn the_record_writer_and_the_one_reader_round_trip_predictions() {
    use oodcal::record::predictions::{read, read_record, to_csv, OOD_SPLITS};
    let (_dir, file, logits) = written_predictions();

    // The record's logits come back bit for bit (signed zeros included).
    let back = read_record(&file).unwrap();
    assert_eq!(back.classes, logits.classes);
    for ((name, a), (_, b)) in logits.splits().into_iter().zip(back.splits()) {
        let bits = |s: &[f32]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.logits), bits(&b.logits), "split {name}");
        assert_eq!(a.labels, b.labels, "split {name}");
    }
    // The same reader, as `metrics` uses it: splits by name, classes by column.
    let table = read(&file, "label").unwrap();
    assert_eq!(table.split_names().unwrap(), ["id", "ood_in", "ood_out"]);
    assert_eq!(
        table.classes(),
        ["logit_0", "logit_1", "logit_2", "logit_3"]
    );
    assert_eq!(table.rows_of(&OOD_SPLITS).unwrap().n_rows(), 17 + 19);
    // Writing what was read gives the same bytes.
    assert_eq!(to_csv(&back), std::fs::read(&file).unwrap());
}

#[test]
fn metrics_reads_a_records_predictions_by_split() {
    use oodcal::metrics::{PaperScores, Predictions};
    let (dir, file, logits) = written_predictions();

    let out = run(oodcal(dir.path())
        .arg("metrics")
        .arg(&file)
        .args(["--logits", "--json", "--split", "ood_out"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let get = |name: &str| metric_value(&v, name);
    let values = logits
        .ood_out
        .logits
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let direct = Predictions::from_logits(values, 4, logits.ood_out.labels.clone()).unwrap();
    let paper = PaperScores::of(&direct);
    // `metrics` reads any table as f64 from its decimals; a record's f32
    // logits differ from those by under one f32 ulp.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(close(get("accuracy[x100]"), paper.accuracy), "{v}");
    assert!(
        close(get("ece[top-label,equal-width,10,L1,x100]"), paper.ece),
        "{v}"
    );
    assert!(
        close(get("ece[top-label,equal-mass,10,L1,x100]"), paper.ece_mass),
        "{v}"
    );

    // Pooling ID with OOD rows by accident is refused: the splits are named.
    assert_error(
        &run(oodcal(dir.path()).arg("metrics").arg(&file).arg("--logits")),
        &[
            "predictions.csv",
            "`split` column",
            "id, ood_in, ood_out",
            "--split",
        ],
    );
    assert_error(
        &run(oodcal(dir.path())
            .arg("metrics")
            .arg(&file)
            .args(["--logits", "--split", "test"])),
        &["predictions.csv", "no rows of split `test`"],
    );
}

#[test]
fn every_finite_f32_survives_the_decimal_round_trip() {
    use oodcal::record::predictions::{read_record, to_csv, EvalLogits, SplitLogits};
    // 60,000 finite f32 bit patterns spread over the whole range, subnormals included.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 32) as u32
    };
    let mut split = |rows: usize| {
        let logits: Vec<f32> = std::iter::repeat_with(&mut next)
            .map(f32::from_bits)
            .filter(|v| v.is_finite())
            .take(rows * 4)
            .collect();
        SplitLogits {
            logits,
            labels: vec![0; rows],
        }
    };
    let logits = EvalLogits {
        classes: 4,
        id: split(5000),
        ood_in: split(5000),
        ood_out: split(5000),
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("predictions.csv");
    std::fs::write(&file, to_csv(&logits)).unwrap();
    let back = read_record(&file).unwrap();
    for ((name, a), (_, b)) in logits.splits().into_iter().zip(back.splits()) {
        let mismatch = a
            .logits
            .iter()
            .zip(&b.logits)
            .find(|(x, y)| x.to_bits() != y.to_bits());
        assert_eq!(mismatch, None, "split {name}");
    }
}
