//! `oodcal generate`: the quick study's benchmark, looked at and pinned.

mod common;

use common::{oodcal, run};

#[test]
fn contact_sheet_is_byte_identical_for_a_seed_and_differs_across_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = |name: &str, seed: &str| {
        let path = dir.path().join(name);
        let out = run(oodcal(dir.path())
            .args(["generate", "glyph-dg", "--seed", seed, "--contact-sheet"])
            .arg(&path));
        assert_eq!(out.code, 0, "{}", out.stderr);
        std::fs::read(path).unwrap()
    };
    let a = sheet("a.png", "7");
    let b = sheet("b.png", "7");
    let c = sheet("c.png", "8");
    assert!(a.starts_with(b"\x89PNG"));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn pinned_generated_inputs_verify() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(oodcal(dir.path()).args(["verify", "glyph-dg", "glyph-corpus-2k"]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout.lines().filter(|l| l.contains(" ok ")).count(),
        2,
        "{}",
        out.stdout
    );
}
