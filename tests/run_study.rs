//! `oodcal pretrain` + `oodcal run` end to end on CPU: a tiny study of a few
//! runs (seconds each) in a scratch repository, through the real binary.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::tiny::{assert_same_outcome, TinyRepo};
use common::{oodcal, run};
use oodcal::record::store::read_verified;
use oodcal::record::RunStatus;

#[test]
fn tiny_study_runs_skips_and_redoes_only_what_is_missing() {
    let tiny = TinyRepo::new(6, 3, "0.01");
    // Without the zoo checkpoint, running is refused with a pointer to pretrain.
    let refused = run(&mut tiny.cmd(&["run"]));
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("oodcal pretrain"),
        "{}",
        refused.stderr
    );

    let pre = tiny.oodcal(&["pretrain", "--pin"]);
    assert!(pre.stdout.contains("trained"), "{}", pre.stdout);
    let manifest = std::fs::read_to_string(tiny.path().join("data-manifest.toml")).unwrap();
    assert!(manifest.contains("zoo-resnet-tiny-corpus-2k-baseline"));
    // Pinned and present: a second pretrain does nothing; --check re-creates it bit for bit.
    assert!(tiny.oodcal(&["pretrain"]).stdout.contains("up to date"));
    let check = tiny.oodcal(&["pretrain", "--check"]).stdout;
    let (_, rest) = check
        .split_once("re-created bit for bit (")
        .unwrap_or_else(|| panic!("{check}"));
    let sha = &rest[..64];
    // A re-creation whose bits differ (as on another CPU; here the pin is
    // edited) fails, and is set beside the pinned checkpoint's own figures.
    let manifest_file = tiny.path().join("data-manifest.toml");
    let pinned_text = std::fs::read_to_string(&manifest_file).unwrap();
    assert!(pinned_text.contains(sha));
    std::fs::write(&manifest_file, pinned_text.replace(sha, &"0".repeat(64))).unwrap();
    let differs = run(&mut tiny.cmd(&["pretrain", "--check"]));
    assert_eq!(differs.code, 1, "{}", differs.stderr);
    assert!(
        differs.stdout.contains(&format!(
            "DIFFERS from the pinned checkpoint (re-created {sha})"
        )) && differs.stdout.contains("; pinned: final loss "),
        "{}",
        differs.stdout
    );
    std::fs::write(&manifest_file, &pinned_text).unwrap();

    let first = tiny.oodcal(&["run"]);
    assert!(first.stdout.contains("2 completed"), "{}", first.stdout);
    let records = tiny.records();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r.status, RunStatus::Completed);
        let m = r.final_metrics.as_ref().unwrap();
        assert_eq!(m.at.step, 6);
        assert_eq!(
            r.evaluations.iter().map(|e| e.step).collect::<Vec<_>>(),
            [3, 6]
        );
        assert!((0.0..=100.0).contains(&m.at.ood_accuracy));
        assert!(m.at.train_loss.is_finite() && m.temperature > 0.0);
        assert_eq!(r.device.backend, oodcal::train::BackendKind::Cpu);
        assert!(r.inputs.contains_key("glyph-dg") && r.inputs.contains_key("splits:trial-0"));
        // No resume state is left behind a finished run.
        assert!(!tiny
            .runs_dir()
            .join(&r.run_id)
            .join("checkpoint.bin")
            .exists());
    }
    let pretrained = records
        .iter()
        .find(|r| r.model.label == "resnet-tiny")
        .unwrap();
    assert!(pretrained
        .inputs
        .keys()
        .any(|k| k.starts_with("zoo-resnet-tiny-corpus-2k-baseline-")));
    assert_eq!(pretrained.model.pretrain_images, Some(2000));

    // Everything recorded: nothing runs again.
    let again = tiny.oodcal(&["run"]);
    assert!(
        again.stdout.contains("2 already recorded, 0 completed"),
        "{}",
        again.stdout
    );

    // A deleted record is redone, and only that one; a corrupted one too.
    let dirs = tiny.record_dirs();
    std::fs::remove_dir_all(&dirs[0]).unwrap();
    let redo = tiny.oodcal(&["run"]);
    assert!(
        redo.stdout.contains("1 already recorded, 1 completed"),
        "{}",
        redo.stdout
    );
    let record = dirs[1].join("record.json");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(
        &record,
        text.replacen("\"ood_accuracy\"", "\"ood_accuracy\" ", 1),
    )
    .unwrap();
    let fixed = tiny.oodcal(&["run"]);
    assert!(fixed.stderr.contains("record.json"), "{}", fixed.stderr);
    assert!(fixed.stdout.contains("1 completed"), "{}", fixed.stdout);
    assert_eq!(tiny.records().len(), 2);
}

#[test]
fn only_and_limit_select_subsets() {
    let tiny = TinyRepo::new(2, 2, "0.01");
    tiny.oodcal(&["pretrain", "--pin"]);
    let one = tiny.oodcal(&["run", "--only", "vit-tiny-scratch"]);
    assert!(
        one.stdout.contains("2 planned, 1 selected"),
        "{}",
        one.stdout
    );
    assert_eq!(tiny.records()[0].model.label, "vit-tiny-scratch");
    let limited = tiny.oodcal(&["run", "--limit", "0"]);
    assert!(
        limited.stdout.contains("1 left for later"),
        "{}",
        limited.stdout
    );
    let none = run(&mut tiny.cmd(&["run", "--only", "no-such-model"]));
    assert_ne!(none.code, 0);
    assert!(none.stderr.contains("no-such-model"));
}

#[test]
fn diverging_run_is_recorded_as_failed_with_its_step() {
    let tiny = TinyRepo::new(6, 3, "1e30");
    let out = tiny.oodcal(&["run", "--only", "vit-tiny-scratch"]);
    assert!(out.stdout.contains("FAILED at step"), "{}", out.stdout);
    let record = &tiny.records()[0];
    let RunStatus::Failed { step, reason } = &record.status else {
        panic!("{:?}", record.status)
    };
    assert!((1..=6).contains(step), "{step}");
    assert!(reason.contains("NaN") || reason.contains("inf"), "{reason}");
    assert!(record.final_metrics.is_none() && record.predictions.is_none());
}

/// Waits (up to 5 minutes) for a run of `tiny` to write its first checkpoint; its path.
fn first_checkpoint(tiny: &TinyRepo) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let found = std::fs::read_dir(tiny.runs_dir()).ok().and_then(|mut d| {
            d.find_map(|e| {
                let p = e.ok()?.path().join("checkpoint.bin");
                p.exists().then_some(p)
            })
        });
        if let Some(p) = found {
            return p;
        }
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// kill -9 in the middle of a run; `run` again resumes from the last checkpoint
/// and ends with the same record as an uninterrupted run (CPU is deterministic).
#[test]
fn killed_run_resumes_from_its_checkpoint() {
    let steps = 240;
    let killed = TinyRepo::new(steps, 20, "0.01");
    let mut child = killed
        .cmd(&["run", "--only", "vit-tiny-scratch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = first_checkpoint(&killed);
    // Let it get past the first checkpoint, then kill without warning.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(checkpoint.exists());
    assert!(killed
        .record_dirs()
        .iter()
        .all(|d| read_verified(d).is_err()));

    killed.oodcal(&["run", "--only", "vit-tiny-scratch"]);
    let resumed = &killed.records()[0];
    assert!(
        resumed.resumed_from > 0 && resumed.resumed_from < steps as usize,
        "{}",
        resumed.resumed_from
    );

    let clean = TinyRepo::new(steps, 20, "0.01");
    clean.oodcal(&["run", "--only", "vit-tiny-scratch"]);
    let straight = &clean.records()[0];
    assert_eq!(straight.resumed_from, 0);
    assert_same_outcome(resumed, straight);
}

/// SIGTERM (what `scancel` and preemption send) and SIGUSR1 (what
/// `sbatch --signal` sends before a time limit): the run stops after its
/// current step with a checkpoint at that step, `run` exits 75, and the next
/// `run` resumes it to the same result as an uninterrupted run.
#[test]
fn a_stop_request_checkpoints_the_step_reached_and_resumes_it() {
    let steps = 240;
    let clean = TinyRepo::new(steps, 20, "0.01");
    clean.oodcal(&["run", "--only", "vit-tiny-scratch"]);
    let straight = &clean.records()[0];
    for signal in ["TERM", "USR1"] {
        let stopped = TinyRepo::new(steps, 20, "0.01");
        let child = stopped
            .cmd(&["run", "--only", "vit-tiny-scratch"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until training has begun (the first checkpoint exists), then ask it to stop.
        first_checkpoint(&stopped);
        let kill = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "SIG{signal}: {stderr}");
        assert!(stderr.contains("stopped on request"), "{stderr}");
        assert!(stopped
            .record_dirs()
            .iter()
            .all(|d| read_verified(d).is_err()));

        stopped.oodcal(&["run", "--only", "vit-tiny-scratch"]);
        let resumed = &stopped.records()[0];
        // It resumes from the step it had reached when asked to stop.
        assert!(
            resumed.resumed_from > 0 && resumed.resumed_from < steps as usize,
            "SIG{signal}: resumed from {}",
            resumed.resumed_from
        );
        assert_same_outcome(resumed, straight);
    }
}

/// The same study on wgpu (in CI: Mesa's lavapipe, installed by
/// `scripts/install-system-deps.sh`): the record names the adapter.
#[test]
fn tiny_study_runs_on_wgpu() {
    let tiny = TinyRepo::new(2, 2, "0.01");
    tiny.oodcal(&["run", "--backend", "wgpu", "--only", "vit-tiny-scratch"]);
    let record = &tiny.records()[0];
    assert_eq!(record.device.backend, oodcal::train::BackendKind::Wgpu);
    assert!(!record.device.device_name.is_empty());
    let m = record.final_metrics.as_ref().unwrap();
    assert!(m.at.train_loss.is_finite() && (0.0..=100.0).contains(&m.at.ood_accuracy));
}

/// Records verify against reference results: equal when re-run on the same
/// machine, every drift named, and an edited manifest's runs named too.
#[test]
fn records_verify_against_reference_results() {
    let tiny = TinyRepo::new(2, 2, "0.01");
    tiny.oodcal(&["pretrain", "--pin"]);
    tiny.oodcal(&["run"]);
    let records = tiny.runs_dir();
    let reference = tiny.path().join("reference.json");
    let verify = |args: &[&str]| {
        let mut cmd = oodcal(&tiny.path().join("scratch"));
        cmd.arg("--manifest")
            .arg(tiny.path().join("data-manifest.toml"))
            .arg("verify")
            .args(args);
        run(&mut cmd)
    };
    let (rec, refer) = (records.to_str().unwrap(), reference.to_str().unwrap());
    assert_eq!(
        verify(&["--records", rec, "--write-reference", refer]).code,
        0
    );
    let same = verify(&["--records", rec, "--reference", refer]);
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
    assert!(!same.stderr.contains("note:"), "{}", same.stderr);

    // A metric off by 5 points is named with its size.
    let text = std::fs::read_to_string(&reference).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let acc = &mut json["runs"][0]["metrics"]["ood_accuracy"];
    *acc = serde_json::json!(acc.as_f64().unwrap() + 5.0);
    let drifted = tiny.path().join("drifted.json");
    std::fs::write(&drifted, serde_json::to_string(&json).unwrap()).unwrap();
    let out = verify(&["--records", rec, "--reference", drifted.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    let run_id = json["runs"][0]["run_id"].as_str().unwrap();
    assert!(
        out.stdout.contains(&run_id[..12]) && out.stdout.contains("ood_accuracy"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("differs by 5.0000"), "{}", out.stdout);

    // On the same device, matching is exact: a shift far inside the
    // cross-device tolerance is named too.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ece = &mut json["runs"][1]["metrics"]["ood_ece"];
    *ece = serde_json::json!(ece.as_f64().unwrap() + 0.01);
    let nudged = tiny.path().join("nudged.json");
    std::fs::write(&nudged, serde_json::to_string(&json).unwrap()).unwrap();
    let out = verify(&["--records", rec, "--reference", nudged.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("ood_ece") && out.stdout.contains("differs by 0.0100"),
        "{}",
        out.stdout
    );

    // A reference made on another CPU: the records are held to the
    // cross-device tolerance (2 points pass), and `verify` says so.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["device"]["device_name"] = serde_json::json!("another cpu (avx2 fma)");
    let acc = &mut json["runs"][0]["metrics"]["ood_accuracy"];
    *acc = serde_json::json!(acc.as_f64().unwrap() + 2.0);
    let elsewhere = tiny.path().join("elsewhere.json");
    std::fs::write(&elsewhere, serde_json::to_string(&json).unwrap()).unwrap();
    let out = verify(&["--records", rec, "--reference", elsewhere.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("note: 2 record(s) ran on ")
            && out
                .stderr
                .contains("the reference on another cpu (avx2 fma) [cpu: burn-flex")
            && out.stderr.contains("within 3 points"),
        "{}",
        out.stderr
    );

    // A copy of the manifest with another step count: both runs are named.
    let edited = tiny.path().join("experiments/edited.toml");
    let study = std::fs::read_to_string(tiny.path().join("experiments/tiny.toml")).unwrap();
    std::fs::write(&edited, study.replacen("steps = 2", "steps = 3", 1)).unwrap();
    let out = verify(&["--study", edited.to_str().unwrap(), "--reference", refer]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout.matches("its spec differs").count(),
        2,
        "{}",
        out.stdout
    );
    let unchanged = verify(&[
        "--study",
        tiny.path().join("experiments/tiny.toml").to_str().unwrap(),
        "--reference",
        refer,
    ]);
    assert_eq!(unchanged.code, 0, "{}", unchanged.stdout);

    // A corrupted record is named by `verify --records`.
    let dir = &tiny.record_dirs()[0];
    let file = dir.join("record.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("\"seed\"", "\"seed\" ", 1)).unwrap();
    let out = verify(&["--records", rec]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("BAD") && out.stdout.contains(file.to_str().unwrap()),
        "{}",
        out.stdout
    );
}

/// Partial fine-tuning (`trainable_blocks`): a scratch EfficientNet-Lite0 on
/// glyph-dg at 32 px, ERM and Mixup at two learning rates, whose four runs
/// share one set of frozen features. Two runs side by side compute it
/// together, chunk by chunk; one run alone computes it all: same bits.
#[test]
fn partial_fine_tuning_shares_frozen_features_and_keeps_its_bits() {
    let study = common::tiny::TINY_STUDY
        .replace("STEPS", "4")
        .replace("EVERY", "2")
        .replace("LR", "0.01, 0.003")
        .replace("resolution = 16", "resolution = 32")
        .replace(
            "augment_id_validation = true",
            "augment_id_validation = false\ntrainable_blocks = 1\nalgorithms = [\"erm\", \"mixup\"]",
        );
    let models = study.find("[[pretrain]]").unwrap();
    let study = format!(
        "{}[[model]]\nname = \"lite0-scratch\"\nfamily = \"efficientnet-lite\"\nsize = \"lite0\"\n",
        &study[..models]
    );
    let side_by_side = TinyRepo::with_study(&study);
    let out = side_by_side.oodcal(&["run", "--jobs", "2"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("4 completed"), "{said}");
    assert_eq!(
        said.matches("computing the frozen layers' output for 2800 images")
            .count(),
        1,
        "one features set for the four runs of one seed: {said}"
    );
    let alone = TinyRepo::with_study(&study);
    alone.oodcal(&["run", "--jobs", "1"]);
    let (mut a, mut b) = (side_by_side.records(), alone.records());
    a.sort_by(|x, y| x.run_id.cmp(&y.run_id));
    b.sort_by(|x, y| x.run_id.cmp(&y.run_id));
    assert_eq!(a.len(), 4);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.spec["trainable_blocks"], 1, "part of the run's id");
        assert_same_outcome(x, y);
    }
}

/// `oodcal pretrain` with a plateau rule: the checkpoint's figures say how
/// many steps it took, every measurement and where the cool-down began (at
/// the cap here: a few steps cannot plateau), and the steps are the stable
/// phase plus a cool-down of the fraction asked for.
#[test]
fn plateau_pretraining_records_its_measurements_and_cools_down() {
    let study = common::tiny::TINY_STUDY
        .replace("STEPS", "4")
        .replace("EVERY", "2")
        .replace("LR", "0.01")
        .replace(
            "steps = 4\nbatch = 8",
            "steps = 6\nbatch = 8\nplateau = { every = 2, patience = 5, min_gain = 1.0, cooldown = 0.5 }",
        );
    assert!(study.contains("plateau = "));
    let tiny = TinyRepo::with_study(&study);
    let pre = tiny.oodcal(&["pretrain", "--pin"]);
    assert!(pre.stdout.contains("trained"), "{}", pre.stdout);
    let sidecar = std::fs::read_dir(tiny.path().join("experiments/zoo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".bin.json"))
        .expect("figures beside the checkpoint");
    let stats: oodcal::study::PretrainStats =
        serde_json::from_str(&std::fs::read_to_string(&sidecar).unwrap()).unwrap();
    let plateau = stats.plateau.expect("a plateau run's measurements");
    let steps: Vec<usize> = plateau.curve.iter().map(|&(s, _)| s).collect();
    assert_eq!(steps, [2, 4, 6]);
    assert!(plateau
        .curve
        .iter()
        .all(|&(_, a)| (0.0..=100.0).contains(&a)));
    assert_eq!((plateau.cooldown_from, plateau.plateaued), (Some(6), false));
    assert_eq!(stats.steps, 9, "6 stable steps and a cool-down of 3");
    // Pinned: a second pretrain finds it up to date.
    assert!(tiny.oodcal(&["pretrain"]).stdout.contains("up to date"));
}
