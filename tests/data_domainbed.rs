//! DomainBed image folders: PACS (real data) and every bad-input case, plus
//! the decoded-image cache.
//!
//! PACS is read from `$OODCAL_DATA_ROOT/PACS`, default
//! `<CARGO_MANIFEST_DIR>/../shared/datasets/PACS`; it is only read.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oodcal::data::cache::{load_or_build, CacheKey, CacheStatus};
use oodcal::data::domainbed::{DatasetInfo, PACS};
use oodcal::data::image_folder::{decode_index, load_image_folder, scan_image_folder, FolderIndex};
use oodcal::data::split::Splits;
use oodcal::data::{DataError, ImageSet};

fn pacs_root() -> PathBuf {
    let base = std::env::var_os("OODCAL_DATA_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    let root = base.join("PACS");
    assert!(
        root.is_dir(),
        "PACS not found at {} (set OODCAL_DATA_ROOT)",
        root.display()
    );
    root
}

fn pacs_index() -> &'static FolderIndex {
    static I: OnceLock<FolderIndex> = OnceLock::new();
    I.get_or_init(|| scan_image_folder(&pacs_root(), Some(&PACS)).expect("PACS scans"))
}

/// All of PACS decoded once, at 32×32 to keep memory small.
fn pacs_32() -> &'static ImageSet {
    static S: OnceLock<ImageSet> = OnceLock::new();
    S.get_or_init(|| decode_index(pacs_index(), 32, 32).expect("PACS decodes"))
}

#[test]
fn pacs_counts_per_domain_and_class() {
    let idx = pacs_index();
    assert_eq!(idx.domain_names, PACS.domains);
    assert_eq!(idx.class_names, PACS.classes);
    assert_eq!(idx.domain_sizes(), vec![2048, 2344, 1670, 3929]);
    assert_eq!(
        idx.counts(),
        vec![
            vec![379, 255, 285, 184, 201, 295, 449],
            vec![389, 457, 346, 135, 324, 288, 405],
            vec![189, 202, 182, 186, 199, 280, 432],
            vec![772, 740, 753, 608, 816, 80, 160],
        ]
    );
    assert_eq!(idx.files.len(), 9991);
    // ImageFolder order: sorted names within each class folder.
    let first = &idx.files[0].path;
    assert!(
        first.ends_with("art_painting/dog/pic_001.jpg"),
        "{}",
        first.display()
    );
    assert!(idx
        .files
        .windows(2)
        .all(|w| (w[0].domain, w[0].label) <= (w[1].domain, w[1].label)));
}

#[test]
fn pacs_decodes_and_splits_reproducibly() {
    let set = pacs_32();
    assert_eq!(set.len(), 9991);
    assert_eq!(set.counts(), pacs_index().counts());
    // Not all black: real pixels came through decode + resize.
    let mean =
        set.pixels.iter().map(|&v| u64::from(v)).sum::<u64>() as f64 / set.pixels.len() as f64;
    assert!((60.0..230.0).contains(&mean), "mean pixel {mean}");
    let a = Splits::domainbed(set, PACS.test_domain_index(), 0.2, 0).expect("splits");
    let b = Splits::domainbed(set, PACS.test_domain_index(), 0.2, 0).expect("splits");
    assert_eq!(a, b);
    assert_eq!(a.digest(), b.digest());
    let outs: Vec<usize> = a.domains.iter().map(|d| d.out_idx.len()).collect();
    assert_eq!(outs, vec![409, 468, 334, 785]);
    assert_eq!(a.domains[0].domain, "art_painting");
    assert_eq!(a.test_domain, 0);
    assert_ne!(
        a.digest(),
        Splits::domainbed(set, 0, 0.2, 1).expect("splits").digest()
    );
}

#[test]
fn cache_round_trip_invalidation_and_corruption() {
    let set = pacs_32().subset(&(0..300).collect::<Vec<_>>());
    let dir = tempfile::tempdir().expect("tempdir");
    let key = CacheKey {
        dataset_digest: "test-digest".into(),
        width: 32,
        height: 32,
    };
    let (a, s) = load_or_build(dir.path(), &key, || Ok(set.clone())).expect("builds");
    assert_eq!((s, &a), (CacheStatus::Built, &set));
    let no_build = || -> oodcal::data::Result<ImageSet> { panic!("must not rebuild") };
    let (b, s) = load_or_build(dir.path(), &key, no_build).expect("hits");
    assert_eq!((s, &b), (CacheStatus::Hit, &set));
    // Corrupt one pixel byte in the file: detected and rebuilt.
    let file = key.file(dir.path());
    let mut bytes = fs::read(&file).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::write(&file, &bytes).expect("write");
    let (c, s) = load_or_build(dir.path(), &key, || Ok(set.clone())).expect("rebuilds");
    assert!(
        matches!(s, CacheStatus::Rebuilt { ref reason } if reason.contains("checksum")),
        "{s:?}"
    );
    assert_eq!(c, set);
    // Truncated file: detected too.
    fs::write(&file, &bytes[..100]).expect("write");
    let (_, s) = load_or_build(dir.path(), &key, || Ok(set.clone())).expect("rebuilds");
    assert!(matches!(s, CacheStatus::Rebuilt { .. }));
    // A different dataset digest or resolution is a different cache file.
    let other = CacheKey {
        dataset_digest: "other".into(),
        ..key.clone()
    };
    assert_ne!(other.file(dir.path()), file);
    let (_, s) = load_or_build(dir.path(), &other, || Ok(set.clone())).expect("builds");
    assert_eq!(s, CacheStatus::Built);
    let wrong = CacheKey { width: 16, ..key };
    assert!(
        load_or_build(dir.path(), &wrong, || Ok(set.clone())).is_err(),
        "size mismatch is refused"
    );
}

// ---- bad inputs, in small folders built here ----

const TOY: DatasetInfo = DatasetInfo {
    name: "Toy",
    folder: "toy",
    domains: &["d1", "d2"],
    classes: &["cat", "dog"],
    test_domain: "d1",
};

fn png_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    let img = image::RgbImage::from_fn(6, 5, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 90]));
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

fn jpeg_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    let img =
        image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 15, y as u8 * 15, 128]));
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .expect("jpeg");
    out
}

/// A valid two-domain, two-class folder.
fn toy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for d in TOY.domains {
        for c in TOY.classes {
            let p = dir.path().join(d).join(c);
            fs::create_dir_all(&p).expect("mkdir");
            fs::write(p.join("a.png"), png_bytes()).expect("write");
            fs::write(p.join("b.jpg"), jpeg_bytes()).expect("write");
        }
    }
    dir
}

fn load_err(root: &Path) -> DataError {
    match load_image_folder(root, Some(&TOY), 8, 8) {
        Ok(_) => panic!("{} loaded but should fail", root.display()),
        Err(e) => e,
    }
}

fn assert_names(e: &DataError, path: &Path) {
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "`{msg}` does not name {}",
        path.display()
    );
}

#[test]
fn valid_toy_folder_loads() {
    let dir = toy();
    let set = load_image_folder(dir.path(), Some(&TOY), 8, 8).expect("loads");
    assert_eq!(set.len(), 8);
    assert_eq!(set.labels, vec![0, 0, 1, 1, 0, 0, 1, 1]);
    let hidden = dir.path().join("d1/cat/.DS_Store");
    fs::write(&hidden, b"junk").expect("write");
    assert_eq!(
        load_image_folder(dir.path(), Some(&TOY), 8, 8)
            .expect("hidden ignored")
            .len(),
        8
    );
}

#[test]
fn corrupt_image_is_named() {
    let dir = toy();
    let p = dir.path().join("d2/dog/b.jpg");
    fs::write(&p, b"\xFF\xD8\xFFthis is not really a jpeg\xFF\xD9").expect("write");
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::Decode { .. }), "{e}");
    assert_names(&e, &p);
}

#[test]
fn truncated_jpeg_and_png_are_named() {
    let dir = toy();
    let p = dir.path().join("d1/dog/b.jpg");
    let j = jpeg_bytes();
    fs::write(&p, &j[..j.len() * 2 / 3]).expect("write");
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    assert_names(&e, &p);

    let dir = toy();
    let p = dir.path().join("d2/cat/a.png");
    let b = png_bytes();
    fs::write(&p, &b[..b.len() - 20]).expect("write");
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    assert_names(&e, &p);
}

#[test]
fn non_image_files_are_named() {
    let dir = toy();
    let p = dir.path().join("d1/cat/notes.txt");
    fs::write(&p, b"hello").expect("write");
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::NotAnImage(_)), "{e}");
    assert_names(&e, &p);

    let dir = toy();
    let p = dir.path().join("d1/cat/fake.png");
    fs::write(&p, b"GIF89a....").expect("write");
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::Decode { .. }), "{e}");
    assert_names(&e, &p);

    let dir = toy();
    let p = dir.path().join("d2/README");
    fs::write(&p, b"stray").expect("write");
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::StrayFile(_)), "{e}");
    assert_names(&e, &p);
}

#[test]
fn empty_class_is_named() {
    let dir = toy();
    let p = dir.path().join("d2/cat");
    fs::remove_dir_all(&p).expect("rm");
    fs::create_dir(&p).expect("mkdir");
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::EmptyClass(_)), "{e}");
    assert_names(&e, &p);
}

#[test]
fn missing_and_unexpected_domains_are_named() {
    let dir = toy();
    fs::remove_dir_all(dir.path().join("d2")).expect("rm");
    let e = load_err(dir.path());
    assert!(
        matches!(e, DataError::MissingDomain { ref domain, .. } if domain == "d2"),
        "{e}"
    );
    assert_names(&e, dir.path());

    let dir = toy();
    fs::create_dir_all(dir.path().join("d3/cat")).expect("mkdir");
    let e = load_err(dir.path());
    assert!(
        matches!(e, DataError::UnexpectedDomain { ref domain, .. } if domain == "d3"),
        "{e}"
    );

    let empty = tempfile::tempdir().expect("tempdir");
    let e = load_image_folder(empty.path(), None, 8, 8).expect_err("no domains");
    assert!(matches!(e, DataError::NoDomains(_)), "{e}");
    let gone = empty.path().join("nope");
    let e = load_image_folder(&gone, None, 8, 8).expect_err("no root");
    assert!(matches!(e, DataError::RootNotFound(_)));
    assert_names(&e, &gone);
}

#[test]
fn class_sets_that_differ_between_domains_are_named() {
    // Without a catalogue entry: the first domain is the reference.
    let dir = toy();
    let p = dir.path().join("d2/bird");
    fs::create_dir_all(&p).expect("mkdir");
    fs::write(p.join("x.png"), png_bytes()).expect("write");
    let e = load_image_folder(dir.path(), None, 8, 8).expect_err("mismatch");
    match &e {
        DataError::ClassMismatch { extra, missing, .. } => {
            assert_eq!(extra, "bird");
            assert_eq!(missing, "");
        }
        other => panic!("wrong error {other}"),
    }
    assert_names(&e, &dir.path().join("d2"));
    assert_names(&e, &dir.path().join("d1"));

    let dir = toy();
    fs::remove_dir_all(dir.path().join("d1/dog")).expect("rm");
    let e = load_err(dir.path());
    assert!(
        matches!(e, DataError::ClassMismatch { ref missing, .. } if missing == "dog"),
        "{e}"
    );
}
