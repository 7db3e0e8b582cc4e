//! `oodcal verify` on the real PACS, and on drifted copies of it.

mod common;

use common::{oodcal, run, shared_data_root};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

fn pacs_present() -> bool {
    shared_data_root().join("PACS").is_dir()
}

#[test]
fn real_pacs_verifies_and_absent_inputs_are_named_missing() {
    assert!(
        pacs_present(),
        "PACS expected at {}",
        shared_data_root().display()
    );
    let scratch = tempfile::tempdir().unwrap();
    let out = run(oodcal(scratch.path())
        .arg("verify")
        .arg("--data-root")
        .arg(shared_data_root()));
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name} in\n{}", out.stdout))
            .to_string()
    };
    assert!(line("PACS").contains(" ok "), "{}", line("PACS"));
    assert!(line("efficientnet-lite0").contains("missing"));
    assert!(line("VLCS").contains("missing"));
    assert!(line("intro-table1").contains(" ok "));
}

/// A data root whose PACS is a farm of links to the real files (cheap to
/// make), so single files can be replaced, removed or added without
/// touching the read-only original.
fn linked_copy(dest: &Path) {
    let src = shared_data_root().join("PACS");
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&src).unwrap();
        let target = dest.join("PACS").join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            symlink(entry.path(), &target).unwrap();
        }
    }
}

fn verify_copy(scratch: &Path) -> common::Run {
    run(oodcal(scratch)
        .args(["verify", "PACS", "--data-root"])
        .arg(scratch.join("data")))
}

#[test]
fn drift_is_named_file_by_file() {
    assert!(pacs_present());
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    linked_copy(&data);
    let clean = verify_copy(scratch.path());
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);

    // One byte changed in one file.
    let victim = data.join("PACS/photo/horse/105_0009.jpg");
    let mut bytes = fs::read(&victim).unwrap();
    bytes[100] ^= 0x01;
    fs::remove_file(&victim).unwrap();
    fs::write(&victim, &bytes).unwrap();
    let changed = verify_copy(scratch.path());
    assert_ne!(changed.code, 0);
    let drift: Vec<&str> = changed
        .stdout
        .lines()
        .filter(|l| l.starts_with("    "))
        .collect();
    assert_eq!(drift.len(), 1, "{}", changed.stdout);
    assert!(drift[0].contains("changed:") && drift[0].ends_with("PACS/photo/horse/105_0009.jpg"));

    // Restore it, delete another, add a third.
    fs::remove_file(&victim).unwrap();
    symlink(
        shared_data_root().join("PACS/photo/horse/105_0009.jpg"),
        &victim,
    )
    .unwrap();
    let gone = data.join("PACS/cartoon/house/pic_010.jpg");
    fs::remove_file(&gone).unwrap();
    fs::write(data.join("PACS/cartoon/house/extra.jpg"), b"not pinned").unwrap();
    let drifted = verify_copy(scratch.path());
    assert_ne!(drifted.code, 0);
    assert!(
        drifted.stdout.contains("missing: ")
            && drifted.stdout.contains("PACS/cartoon/house/pic_010.jpg")
    );
    assert!(
        drifted.stdout.contains("unexpected: ")
            && drifted.stdout.contains("PACS/cartoon/house/extra.jpg")
    );
    assert!(!drifted.stdout.contains("changed: "), "{}", drifted.stdout);
}

#[test]
fn edited_listing_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    fs::create_dir_all(repo.join("checksums")).unwrap();
    let manifest = fs::read_to_string(common::repo().join("data-manifest.toml")).unwrap();
    fs::write(repo.join("data-manifest.toml"), manifest).unwrap();
    let mut listing = fs::read_to_string(common::repo().join("checksums/PACS.sha256")).unwrap();
    listing = listing.replacen("pic_001.jpg", "pic_001.jpeg", 1);
    fs::write(repo.join("checksums/PACS.sha256"), listing).unwrap();
    let out = run(oodcal(scratch.path())
        .args(["verify", "PACS", "--manifest"])
        .arg(repo.join("data-manifest.toml"))
        .arg("--data-root")
        .arg(shared_data_root()));
    assert_ne!(out.code, 0);
    assert!(out.stdout.contains("BAD LISTING"), "{}", out.stdout);
    assert!(
        out.stdout.contains("checksums/PACS.sha256"),
        "{}",
        out.stdout
    );
}

/// The digest cache only saves work: a cache path that cannot be written (a
/// folder stands there) is named in a warning, and verification gives the
/// same result as with a working cache.
#[test]
fn an_unwritable_digest_cache_is_named_and_never_decides() {
    let verify = |scratch: &Path| run(oodcal(scratch).arg("verify").arg("intro-table1"));
    let good = tempfile::tempdir().unwrap();
    let expected = verify(good.path());
    let bad = tempfile::tempdir().unwrap();
    let cache = bad.path().join("cache/digests.json");
    fs::create_dir_all(cache.join("not-a-file")).unwrap();
    let out = verify(bad.path());
    assert_eq!(out.code, expected.code, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, expected.stdout);
    assert!(
        out.stderr.contains(&cache.display().to_string())
            && out.stderr.contains("cannot save the digest cache"),
        "{}",
        out.stderr
    );
}
