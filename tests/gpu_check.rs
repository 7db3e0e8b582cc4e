//! `scripts/gpu-check.sh --dry-run`: the GPU check's stages run through on
//! the CPU at toy sizes, so the script is known to work before a GPU is at
//! hand (its packed form is checked by `--pack` then `--dry-run`).

mod common;

use serde_json::Value;
use std::process::Command;

#[test]
fn gpu_check_dry_run_runs_every_stage_and_writes_its_figures() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(common::repo().join("scripts/gpu-check.sh"))
        .arg("--dry-run")
        .env("GPU_CHECK_BIN", env!("CARGO_BIN_EXE_oodcal"))
        .env("OUT", out.path().join("out"))
        .env("OODCAL_DATA_ROOT", common::shared_data_root())
        .env("OODCAL_CACHE_DIR", out.path().join("cache"))
        // The PyTorch peers are byte-compiled, not run: Rust tests never need Python's packages.
        .env("GPU_CHECK_PEERS", "compile")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    let text = std::fs::read_to_string(out.path().join("out/gpu-check.json")).unwrap();
    let summary: Value = serde_json::from_str(&text).unwrap();
    let stages: Vec<(&str, i64)> = summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap(), s["rc"].as_i64().unwrap()))
        .collect();
    let names: Vec<&str> = stages.iter().map(|s| s.0).collect();
    assert_eq!(
        names,
        [
            "burn-cuda",
            "torch-cuda",
            "agree-cuda",
            "study",
            "torch-study",
            "burn-wgpu",
            "agree-wgpu"
        ]
    );
    assert!(stages.iter().all(|s| s.1 == 0), "{stages:?}\n{stderr}");

    // Lite0/1/2, training and evaluation, on each of the two burn stages.
    let throughput = summary["throughput"].as_array().unwrap();
    assert_eq!(throughput.len(), 12, "{throughput:?}");
    assert!(throughput
        .iter()
        .all(|row| row["burn_images_per_sec"].as_f64().unwrap() > 0.0));

    // cpu against cpu: the same steps to the bit, for each model of each stage.
    let agreement = summary["agreement"].as_array().unwrap();
    assert_eq!(agreement.len(), 6);
    for row in agreement {
        assert_eq!(row["max_rel_loss_diff"].as_f64(), Some(0.0), "{row}");
        assert_eq!(row["losses_a"].as_array().unwrap().len(), 2, "{row}");
    }
}
