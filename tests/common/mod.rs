//! Helpers shared by the integration tests: run the real `oodcal` binary the
//! way a user does, with roots pointing at temporary folders.

#![allow(dead_code)]

pub mod timm_file;
pub mod tiny;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder holding PACS: `OODCAL_DATA_ROOT`, else `../shared/datasets`.
pub fn shared_data_root() -> PathBuf {
    std::env::var_os("OODCAL_DATA_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/datasets"))
}

/// `oodcal` with isolated cache and weights folders under `scratch`.
pub fn oodcal(scratch: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oodcal"));
    cmd.current_dir(repo())
        .env_remove("OODCAL_DATA_ROOT")
        .env_remove("OODCAL_MANIFEST")
        .env("OODCAL_CACHE_DIR", scratch.join("cache"))
        .env("OODCAL_WEIGHTS_DIR", scratch.join("weights"));
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("oodcal binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}
