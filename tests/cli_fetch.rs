//! `oodcal fetch`: nothing unverified is ever installed; `--pin` records
//! digests of a user's own copy. Uses a throw-away repository with its own
//! data manifest, so pinning never touches the real one.

mod common;

use common::timm_file::{constant, safetensors_bytes, timm_tensors};
use common::{oodcal, run};
use oodcal::data::domainbed::{DatasetInfo, DOMAIN_NET, OFFICE_HOME, TERRA_INCOGNITA, VLCS};
use oodcal::data::image_folder::scan_image_folder;
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
expected = { images = 4, classes = 2, domains = { a = 2, b = 2 } }

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
        ("b/dog/4.png", "four"),
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
    assert_eq!(listing.lines().count(), 4);
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

/// A generated copy of a DomainBed dataset: its real domain and class
/// folder names, one small file per class and domain (two in the first
/// domain), leaving out `skip` (domain, class). Layout checks never decode.
fn make_dataset(at: &Path, info: &DatasetInfo, skip: Option<(&str, &str)>) {
    for (d, domain) in info.domains.iter().enumerate() {
        for class in info.classes {
            if skip == Some((domain, class)) {
                continue;
            }
            let dir = at.join(domain).join(class);
            fs::create_dir_all(&dir).unwrap();
            for i in 0..(if d == 0 { 2 } else { 1 }) {
                fs::write(
                    dir.join(format!("{i}.jpg")),
                    format!("{domain}/{class}/{i}"),
                )
                .unwrap();
            }
        }
    }
}

/// A throw-away repository whose data manifest is the project's own, so the
/// datasets' entries (names, paths, published counts) are the real ones.
fn project_manifest_repo() -> Repo {
    let repo = Repo::new(&"0".repeat(64));
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("data-manifest.toml");
    fs::copy(real, repo.root.join("data-manifest.toml")).unwrap();
    repo
}

#[test]
fn the_four_domainbed_datasets_fetch_pin_and_load_in_domainbeds_order() {
    let repo = project_manifest_repo();
    for info in [VLCS, OFFICE_HOME, DOMAIN_NET, TERRA_INCOGNITA] {
        let copy = repo.root.join("download").join(info.name);
        make_dataset(&copy, &info, None);
        let fetched = repo.oodcal(&[
            "fetch",
            info.name,
            "--pin",
            "--from",
            copy.to_str().unwrap(),
        ]);
        assert_eq!(fetched.code, 0, "{}: {}", info.name, fetched.stderr);
        // Few images: each domain's count is reported against the published one.
        let first = info.domains[0];
        assert!(
            fetched.stderr.contains(&format!(
                "domain `{first}` has {} images; the data manifest expects",
                2 * info.classes.len()
            )),
            "{}",
            fetched.stderr
        );
        let listing =
            fs::read_to_string(repo.root.join(format!("checksums/{}.sha256", info.name))).unwrap();
        assert_eq!(
            listing.lines().count(),
            (info.domains.len() + 1) * info.classes.len()
        );
        assert_eq!(repo.oodcal(&["verify", info.name]).code, 0, "{}", info.name);

        let index =
            scan_image_folder(&repo.root.join("data").join(info.name), Some(&info)).unwrap();
        assert_eq!(index.domain_names, info.domains, "{}", info.name);
        assert_eq!(index.class_names, info.classes, "{}", info.name);
        // Labels are positions in DomainBed's class list, in every domain.
        let last = index.files.last().unwrap();
        assert_eq!(last.label as usize, info.classes.len() - 1);
        assert!(last.path.ends_with(format!(
            "{}/{}/0.jpg",
            info.domains.last().unwrap(),
            info.classes.last().unwrap()
        )));
    }
    assert_eq!(DOMAIN_NET.classes.len(), 345);
}

#[test]
fn a_class_folder_missing_from_one_domain_is_refused_by_name() {
    let repo = project_manifest_repo();
    let before = fs::read_to_string(repo.root.join("data-manifest.toml")).unwrap();
    let copy = repo.root.join("download/TerraIncognita");
    make_dataset(&copy, &TERRA_INCOGNITA, Some(("location_38", "coyote")));
    let refused = repo.oodcal(&[
        "fetch",
        "TerraIncognita",
        "--pin",
        "--from",
        copy.to_str().unwrap(),
    ]);
    assert_ne!(refused.code, 0);
    for needle in [
        "location_38",
        "missing [coyote]",
        "DomainBed would label",
        "not installed",
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.stderr
        );
    }
    assert!(!repo.root.join("data/TerraIncognita").exists());
    assert_eq!(
        fs::read_to_string(repo.root.join("data-manifest.toml")).unwrap(),
        before
    );
}

/// A safetensors file with timm's keys and shapes for `tag`, every value
/// `fill`, after `edit`: what a download of the tag looks like to the loader.
fn timm_shaped_file(
    tag: &str,
    fill: f32,
    edit: impl Fn(&mut Vec<(String, Vec<usize>)>),
) -> Vec<u8> {
    let mut tensors = timm_tensors(tag);
    edit(&mut tensors);
    safetensors_bytes(&tensors, constant(fill))
}

/// `fetch timm:<tag>` takes the file from a Hugging Face hub cache, refuses
/// to pin a file that does not fit the architecture (naming the keys), pins
/// one that does with its revision, and afterwards installs only that file.
#[test]
fn timm_weights_come_from_a_hub_cache_and_are_pinned_once() {
    const TAG: &str = "regnety_002.pycls_in1k";
    let name = format!("timm:{TAG}");
    let repo = Repo::new(&"0".repeat(64));
    let hub = repo.root.join("hub");
    let snapshot = hub.join(format!("models--timm--{TAG}/snapshots/abc123"));
    fs::create_dir_all(&snapshot).unwrap();
    fs::create_dir_all(hub.join(format!("models--timm--{TAG}/refs"))).unwrap();
    fs::write(hub.join(format!("models--timm--{TAG}/refs/main")), "abc123").unwrap();
    let installed = repo.root.join(format!("weights/timm/{TAG}.safetensors"));
    let fetch = |extra: &[&str]| {
        let mut args = vec!["fetch", name.as_str(), "--hf-cache", hub.to_str().unwrap()];
        args.extend_from_slice(extra);
        repo.oodcal(&args)
    };

    // A file that does not fit: one key renamed, one missing, one mis-shaped.
    let misfit = timm_shaped_file(TAG, 0.5, |t| {
        t[3].0 = "s1.b1.conv1.conv.weight_renamed".into();
        t.remove(10);
        t[20].1[0] += 1;
    });
    fs::write(snapshot.join("model.safetensors"), &misfit).unwrap();
    let refused = fetch(&["--pin"]);
    assert_ne!(refused.code, 0);
    for key in [
        "unused key `s1.b1.conv1.conv.weight_renamed`",
        "missing key",
        "shape mismatch for key",
    ] {
        assert!(refused.stderr.contains(key), "{key}: {}", refused.stderr);
    }
    assert!(!installed.exists());
    assert!(!fs::read_to_string(repo.root.join("data-manifest.toml"))
        .unwrap()
        .contains(&name));

    // One that fits: without --pin it is not used; with it, pinned and installed.
    let good = timm_shaped_file(TAG, 0.5, |_| {});
    fs::write(snapshot.join("model.safetensors"), &good).unwrap();
    let unpinned = fetch(&[]);
    assert_ne!(unpinned.code, 0);
    assert!(unpinned.stderr.contains("--pin"), "{}", unpinned.stderr);
    let pinned = fetch(&["--pin"]);
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    assert_eq!(fs::read(&installed).unwrap(), good);
    let manifest = fs::read_to_string(repo.root.join("data-manifest.toml")).unwrap();
    let sha = oodcal::checksum::sha256_bytes(&good);
    assert!(
        manifest.contains(&format!("name = \"{name}\"")),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!("sha256 = \"{sha}\"")),
        "{manifest}"
    );
    assert!(manifest.contains("revision abc123"), "{manifest}");
    assert_eq!(repo.oodcal(&["verify", &name]).code, 0);

    // Pinned: a different download is refused, the pinned one reinstalls.
    fs::remove_file(&installed).unwrap();
    fs::write(
        snapshot.join("model.safetensors"),
        timm_shaped_file(TAG, 0.25, |_| {}),
    )
    .unwrap();
    let changed = fetch(&[]);
    assert_ne!(changed.code, 0);
    assert!(
        changed.stderr.contains("differs from the pin"),
        "{}",
        changed.stderr
    );
    assert!(!installed.exists());
    fs::write(snapshot.join("model.safetensors"), &good).unwrap();
    assert_eq!(fetch(&[]).code, 0);
    assert_eq!(fs::read(&installed).unwrap(), good);

    // A tag that is not one of the paper's is refused by name.
    let unknown = repo.oodcal(&[
        "fetch",
        "timm:resnet18.a1_in1k",
        "--hf-cache",
        hub.to_str().unwrap(),
    ]);
    assert_ne!(unknown.code, 0);
    assert!(
        unknown.stderr.contains("not one of the paper's timm tags"),
        "{}",
        unknown.stderr
    );
}
