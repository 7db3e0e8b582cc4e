//! The same training steps give the same bits whatever caches the machine
//! reports (issue 17, item 5).
//!
//! gemm, under burn-flex's matrix products and convolutions, sizes its blocks
//! from the caches Linux lists in `/sys/devices/system/cpu/cpu*/cache`; the
//! reduction is split into blocks of that size, so other caches summed in
//! another order: with gemm-common as published, a Genoa-like L1 (32 KiB,
//! 8-way) moved vit-base's loss at step 3 on this machine. oodcal pins the
//! blocking (`patches/gemm-common`). Each configuration below is shown to the
//! binary by bind-mounting a made-up cache listing over sysfs in a private
//! mount namespace (`unshare -m`, which needs root, as CI has), and the
//! trained model's logits must keep their bits.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// (L1 data size, ways), (L2 size, ways), (L3 size, ways), as sysfs writes them.
type Caches = [(&'static str, u32); 3];

const CONFIGURATIONS: [(&str, Caches); 3] = [
    ("genoa-like", [("32K", 8), ("1024K", 8), ("32768K", 16)]),
    ("small-l2", [("64K", 4), ("512K", 8), ("8192K", 16)]),
    ("intel-like", [("48K", 12), ("2048K", 16), ("36864K", 12)]),
];

fn write_listing(dir: &Path, caches: &Caches) {
    let entries = [
        (1, "Data", caches[0]),
        (1, "Instruction", ("32K", 8)),
        (2, "Unified", caches[1]),
        (3, "Unified", caches[2]),
    ];
    for (i, (level, kind, (size, ways))) in entries.into_iter().enumerate() {
        let index = dir.join(format!("index{i}"));
        std::fs::create_dir_all(&index).unwrap();
        for (name, value) in [
            ("level", level.to_string()),
            ("type", kind.to_string()),
            ("size", size.to_string()),
            ("ways_of_associativity", ways.to_string()),
            ("coherency_line_size", "64".to_string()),
            ("shared_cpu_list", "0".to_string()),
        ] {
            std::fs::write(index.join(name), format!("{value}\n")).unwrap();
        }
    }
}

/// Mounts `$1` over every CPU's cache listing, checks that the binary will
/// see it, then runs the rest of the arguments.
const UNDER_FAKE_CACHES: &str = r#"
listing=$1 l1=$2; shift 2
for d in /sys/devices/system/cpu/cpu[0-9]*/cache; do mount --bind "$listing" "$d" || exit 97; done
[ "$(cat /sys/devices/system/cpu/cpu0/cache/index0/size)" = "$l1" ] || exit 98
exec "$@"
"#;

/// Per model: the losses of 4 SGD steps and the digest of the final logits.
fn steps(scratch: &Path, caches: Option<(&Path, &str)>) -> Vec<(String, Value, String)> {
    let bin = env!("CARGO_BIN_EXE_oodcal");
    let agree = [
        "bench",
        "agree",
        "--models",
        "resnet-base,vit-base",
        "--backend",
        "cpu",
        "--image-size",
        "16",
        "--batch",
        "16",
        "--steps",
        "4",
    ];
    let mut cmd = match caches {
        None => Command::new(bin),
        Some((listing, l1)) => {
            let mut c = Command::new("unshare");
            c.args(["-m", "bash", "-c", UNDER_FAKE_CACHES, "_"])
                .arg(listing)
                .arg(l1)
                .arg(bin);
            c
        }
    };
    let out = cmd
        .args(agree)
        .current_dir(common::repo())
        .env("OODCAL_CACHE_DIR", scratch.join("cache"))
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("oodcal (or unshare) starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{:?} ({:?}; 97: mount failed, 98: the listing was not seen): {stderr}",
        caches.map(|c| c.0),
        out.status.code()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let row: Value = serde_json::from_str(l).unwrap();
            let model = row["model"].as_str().unwrap().to_string();
            let digest = row["logits_a_sha256"].as_str().unwrap().to_string();
            (model, row["losses_a"].clone(), digest)
        })
        .collect()
}

/// Whether this process may make a private mount namespace (root with
/// CAP_SYS_ADMIN, as on the development and CI machines).
fn can_unshare_mounts() -> bool {
    Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn training_bits_do_not_depend_on_the_reported_caches() {
    if !can_unshare_mounts() {
        // Not a pass: the check cannot be made here, and says so in the output.
        eprintln!("SKIPPED: `unshare -m` is not permitted, so no cache listing can be shown");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let reference = steps(scratch.path(), None);
    assert_eq!(reference.len(), 2, "{reference:?}");
    for (name, caches) in CONFIGURATIONS {
        let listing = scratch.path().join(name);
        write_listing(&listing, &caches);
        let got = steps(scratch.path(), Some((&listing, caches[0].0)));
        assert_eq!(got, reference, "caches {name}: {caches:?}");
    }
}
