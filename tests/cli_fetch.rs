//! `oodcal fetch`: nothing unverified is ever installed; `--pin` records
//! digests of a user's own copy. Uses a throw-away repository with its own
//! data manifest, so pinning never touches the real one.

mod common;

use common::{oodcal, run};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const MANIFEST: &str = r#"format = 1
tree_digest = "oodcal-tree-v1"

[[input]]
name = "toyset"
kind = "dataset"
location = "data"
path = "toyset"
source = "made by this test"
licence = "none"
expected = { images = 3, classes = 2, domains = { a = 2, b = 1 } }

[[input]]
name = "toy-weights"
kind = "weights"
location = "weights"
path = "toy.pth"
source = "made by this test"
licence = "none"
sha256 = "SHA"
"#;

struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Repo {
    fn new(weights_sha: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::write(
            root.join("data-manifest.toml"),
            MANIFEST.replace("SHA", weights_sha),
        )
        .unwrap();
        Repo { _dir: dir, root }
    }

    fn oodcal(&self, args: &[&str]) -> common::Run {
        run(oodcal(&self.root)
            .args(args)
            .arg("--manifest")
            .arg(self.root.join("data-manifest.toml"))
            .arg("--data-root")
            .arg(self.root.join("data")))
    }
}

fn make_toyset(at: &Path) {
    for (rel, body) in [
        ("a/cat/1.png", "one"),
        ("a/dog/2.png", "two"),
        ("b/cat/3.png", "three"),
    ] {
        let p = at.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }
}

fn tar_gz(folder: &Path, archive: &Path) {
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(archive)
        .arg("-C")
        .arg(folder.parent().unwrap())
        .arg(folder.file_name().unwrap())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn pin_a_local_copy_then_install_from_an_archive_only_if_it_verifies() {
    let repo = Repo::new(&"0".repeat(64));
    let original = repo.root.join("download/toyset");
    make_toyset(&original);

    // Pin: copies into the data root, writes the listing and the tree digest.
    let pinned = repo.oodcal(&[
        "fetch",
        "toyset",
        "--pin",
        "--from",
        original.to_str().unwrap(),
    ]);
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    let manifest = fs::read_to_string(repo.root.join("data-manifest.toml")).unwrap();
    assert!(
        manifest.contains("listing = \"checksums/toyset.sha256\""),
        "{manifest}"
    );
    assert!(manifest.contains("tree_sha256 = \""));
    let listing = fs::read_to_string(repo.root.join("checksums/toyset.sha256")).unwrap();
    assert_eq!(listing.lines().count(), 3);
    assert_eq!(repo.oodcal(&["verify", "toyset"]).code, 0);

    // A fresh data root, installed from an archive: verified, then in place.
    fs::remove_dir_all(repo.root.join("data")).unwrap();
    let archive = repo.root.join("toyset.tar.gz");
    tar_gz(&original, &archive);
    let fetched = repo.oodcal(&["fetch", "toyset", "--from", archive.to_str().unwrap()]);
    assert_eq!(fetched.code, 0, "{}", fetched.stderr);
    assert_eq!(
        fs::read(repo.root.join("data/toyset/b/cat/3.png")).unwrap(),
        b"three"
    );

    // A tampered archive is refused and nothing is installed.
    fs::remove_dir_all(repo.root.join("data")).unwrap();
    fs::write(original.join("a/dog/2.png"), "TWO").unwrap();
    tar_gz(&original, &archive);
    let refused = repo.oodcal(&["fetch", "toyset", "--from", archive.to_str().unwrap()]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("not installed") && refused.stderr.contains("a/dog/2.png"),
        "{}",
        refused.stderr
    );
    assert!(!repo.root.join("data/toyset").exists());
}

#[test]
fn weights_with_the_wrong_digest_are_refused() {
    let good = b"pretend weights";
    let sha = oodcal::checksum::sha256_bytes(good);
    let repo = Repo::new(&sha);
    let weights_dir = repo.root.join("weights");
    let file = repo.root.join("toy.pth");
    fs::write(&file, b"tampered weights").unwrap();
    let refused = repo.oodcal(&["fetch", "toy-weights", "--from", file.to_str().unwrap()]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("differs from the pinned"),
        "{}",
        refused.stderr
    );
    assert!(!weights_dir.join("toy.pth").exists());

    fs::write(&file, good).unwrap();
    let ok = repo.oodcal(&["fetch", "toy-weights", "--from", file.to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(fs::read(weights_dir.join("toy.pth")).unwrap(), good);
    assert_eq!(repo.oodcal(&["verify", "toy-weights"]).code, 0);
}
