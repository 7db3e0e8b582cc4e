//! Checking one input against its pin.

use std::fmt;
use std::path::Path;

use super::catalogue::Input;
use super::roots::Roots;
use crate::checksum::{hash_tree_files, DigestCache, Listing, TreeDiff};

/// The outcome of checking one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputVerdict {
    /// Present and identical to its pin.
    Ok,
    /// Not present at its path (a failure only if a study needs it).
    Missing,
    /// Present, but the manifest has no digest for it yet.
    Unpinned,
    /// A single file whose SHA-256 differs.
    FileChanged { expected: String, actual: String },
    /// A folder that differs from its listing, file by file.
    TreeChanged(TreeDiff),
    /// The pinned listing file itself is absent or edited.
    BadListing(String),
}

impl InputVerdict {
    /// Mismatches fail `verify`; missing or unpinned inputs do not by themselves.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            InputVerdict::FileChanged { .. }
                | InputVerdict::TreeChanged(_)
                | InputVerdict::BadListing(_)
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            InputVerdict::Ok => "ok",
            InputVerdict::Missing => "missing",
            InputVerdict::Unpinned => "unpinned",
            InputVerdict::FileChanged { .. } | InputVerdict::TreeChanged(_) => "MISMATCH",
            InputVerdict::BadListing(_) => "BAD LISTING",
        }
    }
}

#[derive(Debug, Clone)]
pub struct InputStatus {
    pub name: String,
    pub path: std::path::PathBuf,
    pub verdict: InputVerdict,
}

impl fmt::Display for InputStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<30} {:<11} {}",
            self.name,
            self.verdict.label(),
            self.path.display()
        )?;
        match &self.verdict {
            InputVerdict::FileChanged { expected, actual } => write!(
                f,
                "\n    changed: {} (sha256 {actual}, pinned {expected})",
                self.path.display()
            ),
            InputVerdict::TreeChanged(d) => {
                let lines = d
                    .changed
                    .iter()
                    .map(|p| ("changed", p))
                    .chain(d.missing.iter().map(|p| ("missing", p)))
                    .chain(d.unexpected.iter().map(|p| ("unexpected", p)));
                for (what, p) in lines {
                    write!(f, "\n    {what}: {}", self.path.join(p).display())?;
                }
                Ok(())
            }
            InputVerdict::BadListing(why) => write!(f, "\n    {why}"),
            _ => Ok(()),
        }
    }
}

/// Checks `input` on disk against its pin, hashing through `cache`.
pub fn verify_input(
    input: &Input,
    roots: &Roots,
    cache: &DigestCache,
) -> std::io::Result<InputStatus> {
    let path = roots.base(input.location).join(&input.path);
    let verdict = if let Some(generator) = &input.generator {
        verify_generated(generator, input.sha256.as_deref())?
    } else if !path.exists() {
        InputVerdict::Missing
    } else if let Some(expected) = &input.sha256 {
        let actual = cache.digest(&path)?;
        if &actual == expected {
            InputVerdict::Ok
        } else {
            InputVerdict::FileChanged {
                expected: expected.clone(),
                actual,
            }
        }
    } else if let (Some(listing), Some(tree)) = (&input.listing, &input.tree_sha256) {
        verify_tree(&path, &roots.repo.join(listing), tree, cache, &input.name)?
    } else {
        InputVerdict::Unpinned
    };
    Ok(InputStatus {
        name: input.name.clone(),
        path,
        verdict,
    })
}

/// Regenerates a generated input and compares the digest of its output.
fn verify_generated(
    generator: &super::Generator,
    pinned: Option<&str>,
) -> std::io::Result<InputVerdict> {
    let set = generator.generate().map_err(std::io::Error::other)?;
    let actual = set.digest();
    Ok(match pinned {
        None => InputVerdict::Unpinned,
        Some(expected) if expected == actual => InputVerdict::Ok,
        Some(expected) => InputVerdict::FileChanged {
            expected: expected.to_string(),
            actual,
        },
    })
}

fn verify_tree(
    folder: &Path,
    listing_file: &Path,
    tree_sha256: &str,
    cache: &DigestCache,
    label: &str,
) -> std::io::Result<InputVerdict> {
    let pinned_text = match read_listing(listing_file, tree_sha256, cache) {
        Ok(text) => text,
        Err(why) => return Ok(InputVerdict::BadListing(why)),
    };
    let actual = hash_tree_files(folder, cache, label)?;
    // The usual case: the folder's canonical listing is the pinned file, byte
    // for byte (so the pinned file parses, and nothing differs).
    if actual.is_text(pinned_text.as_bytes()) {
        return Ok(InputVerdict::Ok);
    }
    let pinned = match Listing::parse(&pinned_text, listing_file) {
        Ok(l) => l,
        Err(e) => return Ok(InputVerdict::BadListing(e.to_string())),
    };
    let actual = actual.to_listing().map_err(std::io::Error::other)?;
    let diff = TreeDiff::between(&pinned, &actual);
    Ok(if diff.is_clean() {
        InputVerdict::Ok
    } else {
        InputVerdict::TreeChanged(diff)
    })
}

/// Reads a listing and checks it against the manifest's tree digest, so an
/// edited listing cannot make a drifted folder look clean.
pub fn load_listing(file: &Path, tree_sha256: &str) -> Result<Listing, String> {
    let text = read_listing(file, tree_sha256, &DigestCache::disabled())?;
    Listing::parse(&text, file).map_err(|e| e.to_string())
}

/// The text of a listing file whose SHA-256 (through `cache`) is `tree_sha256`.
fn read_listing(file: &Path, tree_sha256: &str, cache: &DigestCache) -> Result<String, String> {
    let (bytes, digest) = cache
        .read_with_digest(file)
        .map_err(|e| format!("listing {}: cannot read: {e}", file.display()))?;
    if digest != tree_sha256 {
        return Err(format!(
            "listing {} has sha256 {digest}, but the manifest pins tree_sha256 {tree_sha256}",
            file.display()
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("listing {}: {e}", file.display()))
}
