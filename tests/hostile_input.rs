//! Careless and hostile input against finished and running studies: copied
//! and foreign records, damaged checkpoints, two processes on one runs
//! folder, leftovers of killed writes, closed pipes, the umask, and random
//! damage to a finished runs folder.

mod common;
mod report_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::tiny::{assert_same_outcome, TinyRepo};
use common::{oodcal, run};
use oodcal::aggregate::scan_records;
use oodcal::report::{build_report_for, StudyMeta};
use proptest::prelude::*;
use report_support::claims_study;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// A tiny study of two finished runs.
fn finished_tiny() -> TinyRepo {
    let tiny = TinyRepo::new(2, 2, "0.01");
    tiny.oodcal(&["pretrain", "--pin"]);
    tiny.oodcal(&["run"]);
    tiny
}

/// Item 2: a record is identified by its content. A copy under another
/// folder name is named by `verify --records` and stops the report.
#[test]
fn a_copied_record_is_named_and_stops_the_report() {
    let tiny = finished_tiny();
    let runs = tiny.runs_dir();
    let dup = runs.join("dup");
    copy_dir(&tiny.record_dirs()[0], &dup);
    let verify = run(&mut tiny.bare(&["verify", "--records", runs.to_str().unwrap()]));
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify.stdout.contains("BAD") && verify.stdout.contains("named `dup`"),
        "{}",
        verify.stdout
    );
    let refused = run(&mut tiny.cmd(&["report", "--study"]));
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("named `dup`"), "{}", refused.stderr);
}

/// Item 2: a verified record of another study copied into the runs folder is
/// set aside with a warning, not pooled.
#[test]
fn a_record_of_another_study_is_set_aside() {
    let tiny = finished_tiny();
    let runs = tiny.runs_dir();
    // A run of another study (same benchmark, another seed), copied in.
    let other = tiny.path().join("experiments/other.toml");
    let text = std::fs::read_to_string(tiny.path().join("experiments/tiny.toml")).unwrap();
    let text = text
        .replace("name = \"tiny\"", "name = \"other\"")
        .replace("runs/tiny", "runs/other")
        .replace("seeds = [0]", "seeds = [1]");
    std::fs::write(&other, text).unwrap();
    let only = ["run", "--only", "vit-tiny-scratch", other.to_str().unwrap()];
    assert_eq!(run(&mut tiny.bare(&only)).code, 0);
    let foreign = oodcal::record::store::record_dirs(&tiny.path().join("runs/other")).unwrap();
    copy_dir(&foreign[0], &runs.join(foreign[0].file_name().unwrap()));
    let report = run(&mut tiny.cmd(&["report", "--study"]));
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(
        report
            .stderr
            .contains("1 verified record(s) set aside as not runs of this study")
            && report.stderr.contains("1 from study `other` (")
            && report.stderr.contains("from 2 completed runs"),
        "{}",
        report.stderr
    );
}

/// Item 3, through `run`: a damaged checkpoint (and its progress file) is
/// set aside with a message, and the run restarts and ends exactly as an
/// uninterrupted run does, instead of failing at every attempt.
#[test]
fn a_damaged_checkpoint_is_set_aside_and_the_run_restarts() {
    let clean = TinyRepo::new(4, 2, "0.01");
    clean.oodcal(&["run", "--only", "vit-tiny-scratch"]);
    let straight = clean.records().remove(0);

    let damaged = TinyRepo::new(4, 2, "0.01");
    let dir = damaged.runs_dir().join(&straight.run_id);
    std::fs::create_dir_all(&dir).unwrap();
    // What a checkpoint cut short by a full disk looks like: a header, then nothing.
    std::fs::write(dir.join("checkpoint.bin"), b"OODCAL-CKPT 2\n\x05\x00").unwrap();
    std::fs::write(
        dir.join("progress.json"),
        br#"{"evaluations":[],"wall_seconds":1.0}"#,
    )
    .unwrap();
    let out = damaged.oodcal(&["run", "--only", "vit-tiny-scratch"]);
    assert!(
        out.stdout.contains("checkpoint.bin") && out.stdout.contains("set aside as"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 completed"), "{}", out.stdout);
    assert!(dir.join("checkpoint.bin.rejected").exists());
    let record = damaged.records().remove(0);
    assert_eq!(record.resumed_from, 0);
    assert_same_outcome(&record, &straight);
}

/// Item 5: two `run` processes started together on one study train each run
/// exactly once; one of them is killed with SIGKILL in the middle, and a
/// later `run` completes what it left.
#[test]
fn two_processes_on_one_study_train_each_run_once() {
    let tiny = TinyRepo::new(120, 20, "0.01");
    tiny.oodcal(&["pretrain", "--pin"]);
    let file = tiny.path().join("experiments/tiny.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("seeds = [0]", "seeds = [0, 1, 2]")).unwrap();
    let spawn = || {
        tiny.cmd(&["run", "--jobs", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, mut b) = (spawn(), spawn());
    // Kill b once half the runs are recorded (it may be mid-run or between runs).
    let deadline = Instant::now() + Duration::from_secs(300);
    let recorded = || {
        let dirs = tiny.record_dirs();
        dirs.iter()
            .filter(|d| d.join("record.sha256").exists())
            .count()
    };
    while recorded() < 3 {
        assert!(Instant::now() < deadline, "no records appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    b.kill().unwrap();
    let b = b.wait_with_output().unwrap();
    let a = a.wait_with_output().unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let later = tiny.oodcal(&["run", "--jobs", "1"]);

    let records = tiny.records();
    assert_eq!(records.len(), 6, "every planned run is recorded");
    let b_out = String::from_utf8_lossy(&b.stdout);
    let a_out = String::from_utf8_lossy(&a.stdout);
    assert!(
        a_out.contains("; left to it") || b_out.contains("; left to it"),
        "the two processes never met:\n{a_out}\n{b_out}"
    );
    let logs = [&a.stdout, &b.stdout, &later.stdout.into_bytes()]
        .map(|o| String::from_utf8_lossy(o).into_owned())
        .join("\n");
    for r in &records {
        let short = &r.run_id[..12];
        let trained = logs
            .lines()
            .filter(|l| l.contains(short) && l.contains("ID acc"))
            .count();
        assert_eq!(trained, 1, "{short} trained {trained} times:\n{logs}");
    }
}

/// Item 8: a killed `report` leaves a temporary file; `report --check` names
/// it and the next `report` removes it.
#[test]
fn leftovers_of_a_killed_write_are_reported_then_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    claims_study(&records, false);
    let out = dir.path().join("report");
    let build = || {
        run(oodcal(dir.path())
            .args(["report", "--all-records", "--records"])
            .arg(&records)
            .arg("--out")
            .arg(&out))
    };
    assert_eq!(build().code, 0);
    let leftover = out.join(format!(
        ".index.html.{}.99999999.a1b2c3.oodcal-tmp",
        oodcal::atomic::host()
    ));
    std::fs::write(&leftover, b"<html>half a pa").unwrap();
    let check = run(oodcal(dir.path()).arg("report").arg("--check").arg(&out));
    assert_eq!(check.code, 0, "{}", check.stdout);
    assert!(
        check.stderr.contains(&leftover.display().to_string())
            && check.stderr.contains("leftover of an interrupted write"),
        "{}",
        check.stderr
    );
    assert_eq!(build().code, 0);
    assert!(!leftover.exists());
}

/// Item 9: a closed pipe ends the process by SIGPIPE, quietly, as any filter.
#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = oodcal(dir.path())
        .arg("verify")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Item 9: records and reports are created with 0666 less the umask, so a
/// group sharing a cluster's runs folder can read them.
#[test]
fn outputs_follow_the_umask() {
    let tiny = TinyRepo::new(2, 2, "0.01");
    let mut cmd = tiny.cmd(&["run", "--only", "vit-tiny-scratch"]);
    // SAFETY: umask is async-signal-safe and only changes the child's mask.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o027);
            Ok(())
        });
    }
    assert_eq!(run(&mut cmd).code, 0);
    let dir = &tiny.record_dirs()[0];
    for file in ["record.json", "record.sha256", "predictions.csv"] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "{file}");
    }
}

/// A finished runs folder (synthetic records) and the report built from it.
fn finished_folder() -> &'static (tempfile::TempDir, Vec<u8>) {
    static FOLDER: OnceLock<(tempfile::TempDir, Vec<u8>)> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        claims_study(&dir.path().join("runs"), false);
        let html = report_html(&dir.path().join("runs"), &dir.path().join("report")).unwrap();
        (dir, html)
    })
}

fn report_html(records: &Path, out: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = StudyMeta::without_manifest("damage", "");
    let summary = build_report_for(&meta, records, out)?;
    Ok(std::fs::read(summary.index_html)?)
}

/// Every file of every record folder, sorted.
fn record_files(runs: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = oodcal::record::store::record_dirs(runs)
        .unwrap()
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .collect();
    files.sort();
    files
}

#[derive(Debug, Clone)]
enum Damage {
    FlipByte { file: usize, at: f64, bit: u8 },
    Truncate { file: usize, keep: f64 },
    CopyFolder { folder: usize },
    RenameFolder { folder: usize },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0.0..1.0, 0u8..8).prop_map(|(file, at, bit)| Damage::FlipByte {
            file,
            at,
            bit
        }),
        (any::<usize>(), 0.0..1.0).prop_map(|(file, keep)| Damage::Truncate { file, keep }),
        any::<usize>().prop_map(|folder| Damage::CopyFolder { folder }),
        any::<usize>().prop_map(|folder| Damage::RenameFolder { folder }),
    ]
}

fn apply(runs: &Path, damage: &Damage) {
    let files = record_files(runs);
    let folders = oodcal::record::store::record_dirs(runs).unwrap();
    match *damage {
        Damage::FlipByte { file, at, bit } => {
            let path = &files[file % files.len()];
            let mut bytes = std::fs::read(path).unwrap();
            let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
            bytes[i] ^= 1 << bit;
            std::fs::write(path, bytes).unwrap();
        }
        Damage::Truncate { file, keep } => {
            let path = &files[file % files.len()];
            let len = std::fs::metadata(path).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len((len as f64 * keep) as u64).unwrap();
        }
        Damage::CopyFolder { folder } => {
            let from = &folders[folder % folders.len()];
            copy_dir(from, &runs.join("copy-of-a-run"));
        }
        Damage::RenameFolder { folder } => {
            let from = &folders[folder % folders.len()];
            std::fs::rename(from, runs.join("renamed")).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A random mutation of a finished runs folder never changes a report
    /// silently: either verification names the damage and the report is
    /// refused, or the report is byte-identical.
    #[test]
    fn damage_to_a_runs_folder_never_changes_a_report_silently(damage in damage()) {
        let (base, html) = finished_folder();
        let scratch = tempfile::tempdir().unwrap();
        let runs = scratch.path().join("runs");
        copy_dir(&base.path().join("runs"), &runs);
        apply(&runs, &damage);
        let named = scan_records(&runs).unwrap().corrupt;
        match report_html(&runs, &scratch.path().join("report")) {
            Ok(rebuilt) => {
                prop_assert!(named.is_empty(), "{damage:?}: verification named {named:?}, the report did not refuse");
                prop_assert!(&rebuilt == html, "{damage:?}: the report changed");
            }
            Err(e) => {
                prop_assert!(!named.is_empty(), "{damage:?}: refused ({e:#}) but verification named nothing");
            }
        }
    }
}
