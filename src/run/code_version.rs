//! What code produced a record: crate version, engine version, git commit and
//! the Cargo.lock digest.

use std::path::Path;
use std::process::Command;

use crate::checksum::sha256_bytes;
use crate::record::{CodeVersion, ENGINE_VERSION};

/// The code version of this process, for records made from the checkout at `repo`.
pub fn code_version(repo: &Path) -> CodeVersion {
    let lock = std::fs::read(repo.join("Cargo.lock"))
        .map(|bytes| sha256_bytes(&bytes))
        .unwrap_or_else(|_| "unknown".to_string());
    CodeVersion {
        version: env!("CARGO_PKG_VERSION").to_string(),
        engine: ENGINE_VERSION.to_string(),
        git: git_commit(repo).unwrap_or_else(|| "unknown".to_string()),
        cargo_lock_sha256: lock,
    }
}

/// `HEAD`'s commit, with `-dirty` when tracked source files differ from it
/// (the patched crates under `patches/` included: they change the arithmetic).
fn git_commit(repo: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"])?;
    let changes = git(&[
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "src",
        "patches",
        "Cargo.toml",
        "Cargo.lock",
    ])?;
    Some(match changes.is_empty() {
        true => head,
        false => format!("{head}{}", CodeVersion::DIRTY_SUFFIX),
    })
}
