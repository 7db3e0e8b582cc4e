//! A scratch repository holding the real data manifest and a tiny study of
//! two runs (seconds each), driven through the real `oodcal` binary.

use std::path::{Path, PathBuf};

use super::{oodcal, repo, run};
use oodcal::record::store::read_verified;
use oodcal::record::RunRecord;

/// A scratch repository: the real data manifest and a tiny study.
pub struct TinyRepo {
    pub dir: tempfile::TempDir,
}

pub const TINY_STUDY: &str = r#"
[study]
name = "tiny"
runs_dir = "runs/tiny"

[benchmark]
dataset = "glyph-dg"
test_domain = "art"
resolution = 16
holdout_fraction = 0.2

[protocol]
batch_per_domain = 4
steps = STEPS
eval_every = EVERY
optimizers = ["sgd"]
momentum = 0.9
learning_rates = [LR]
weight_decays = [0.0001]
head = "add-linear"
selection = "training-domain-validation"
augment_id_validation = true
seeds = [0]

[[pretrain]]
name = "corpus-2k-baseline"
corpus = "glyph-corpus-2k"
recipe = "baseline"
steps = 4
batch = 8
learning_rate = 0.002
seed = 0

[[model]]
name = "resnet-tiny"
family = "resnet"
size = "tiny"
pretrain = "corpus-2k-baseline"

[[model]]
name = "vit-tiny-scratch"
family = "vit"
size = "tiny"
"#;

impl TinyRepo {
    pub fn new(steps: u32, every: u32, lr: &str) -> TinyRepo {
        let study = TINY_STUDY
            .replace("STEPS", &steps.to_string())
            .replace("EVERY", &every.to_string())
            .replace("LR", lr);
        TinyRepo::with_study(&study)
    }

    /// A scratch repository whose `experiments/tiny.toml` is `study` (its
    /// runs folder `runs/tiny`).
    pub fn with_study(study: &str) -> TinyRepo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo().join("data-manifest.toml"),
            dir.path().join("data-manifest.toml"),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("experiments")).unwrap();
        std::fs::write(dir.path().join("experiments/tiny.toml"), study).unwrap();
        TinyRepo { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = self.bare(args);
        cmd.arg(self.path().join("experiments/tiny.toml"));
        cmd
    }

    /// `oodcal` with this repository's data manifest and `args` only.
    pub fn bare(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = oodcal(&self.path().join("scratch"));
        cmd.arg("--manifest")
            .arg(self.path().join("data-manifest.toml"))
            .args(args);
        cmd
    }

    pub fn oodcal(&self, args: &[&str]) -> super::Run {
        let out = run(&mut self.cmd(args));
        assert_eq!(
            out.code, 0,
            "oodcal {args:?}\n{}\n{}",
            out.stdout, out.stderr
        );
        out
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.path().join("runs/tiny")
    }

    pub fn record_dirs(&self) -> Vec<PathBuf> {
        oodcal::record::store::record_dirs(&self.runs_dir()).unwrap()
    }

    pub fn records(&self) -> Vec<RunRecord> {
        self.record_dirs()
            .iter()
            .map(|d| read_verified(d).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }
}

/// Two records of one run whose training took the same steps: the same id,
/// metrics at every evaluation and predictions (CPU arithmetic is deterministic).
pub fn assert_same_outcome(a: &RunRecord, b: &RunRecord) {
    assert_eq!(a.run_id, b.run_id);
    assert_eq!(a.final_metrics, b.final_metrics);
    assert_eq!(a.evaluations, b.evaluations);
    assert_eq!(a.predictions, b.predictions);
}
