//! Hashing whole folders in parallel, and comparing them with a pinned listing.

use rayon::prelude::*;
use std::io;
use std::path::{Path, PathBuf};

use super::cache::DigestCache;
use super::listing::Listing;
use crate::progress;

/// Every regular file under `root`, as sorted `/`-separated relative paths.
/// Symbolic links to files are followed, so a data root may be assembled from
/// links. Directory entries' own types are used, so plain files cost no
/// `stat` here (the digest cache stats each file once anyway).
pub fn list_files(root: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.map_err(io::Error::other)?;
        let is_file =
            entry.file_type().is_file() || (entry.path_is_symlink() && entry.path().is_file());
        if !is_file {
            continue;
        }
        let rel = entry.path().strip_prefix(root).map_err(io::Error::other)?;
        let rel = rel.to_str().ok_or_else(|| {
            io::Error::other(format!("{}: path is not UTF-8", entry.path().display()))
        })?;
        out.push(rel.replace(std::path::MAIN_SEPARATOR, "/"));
    }
    out.sort_unstable();
    Ok(out)
}

/// Hashes every file under `root` (in parallel, through `cache`) into a listing.
pub fn hash_tree(root: &Path, cache: &DigestCache, label: &str) -> io::Result<Listing> {
    let files = list_files(root)?;
    let bar = progress::bar(files.len() as u64, label);
    let digests: Vec<(String, String)> = files
        .into_par_iter()
        .map(|rel| {
            let path: PathBuf = root.join(&rel);
            let digest = cache
                .digest(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            bar.inc(1);
            Ok((rel, digest))
        })
        .collect::<io::Result<_>>()?;
    bar.finish_and_clear();
    let mut listing = Listing::default();
    for (rel, digest) in digests {
        listing.insert(rel, digest).map_err(io::Error::other)?;
    }
    Ok(listing)
}

/// How a folder differs from its pinned listing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TreeDiff {
    /// Pinned but absent.
    pub missing: Vec<String>,
    /// Present but not pinned.
    pub unexpected: Vec<String>,
    /// Present with a different SHA-256.
    pub changed: Vec<String>,
}

impl TreeDiff {
    pub fn between(expected: &Listing, actual: &Listing) -> TreeDiff {
        let mut diff = TreeDiff::default();
        for (path, digest) in &expected.files {
            match actual.files.get(path) {
                None => diff.missing.push(path.clone()),
                Some(d) if d != digest => diff.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        diff.unexpected = actual
            .files
            .keys()
            .filter(|p| !expected.files.contains_key(*p))
            .cloned()
            .collect();
        diff
    }

    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn diff_names_each_kind_of_drift() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("d/c")).unwrap();
        for name in ["d/c/1.png", "d/c/2.png", "d/c/3.png"] {
            fs::write(root.join(name), name).unwrap();
        }
        let cache = DigestCache::disabled();
        let pinned = hash_tree(root, &cache, "test").unwrap();
        assert_eq!(pinned.files.len(), 3);
        fs::write(root.join("d/c/1.png"), "changed").unwrap();
        fs::remove_file(root.join("d/c/2.png")).unwrap();
        fs::write(root.join("d/c/4.png"), "new").unwrap();
        let now = hash_tree(root, &cache, "test").unwrap();
        let diff = TreeDiff::between(&pinned, &now);
        assert_eq!(diff.changed, vec!["d/c/1.png"]);
        assert_eq!(diff.missing, vec!["d/c/2.png"]);
        assert_eq!(diff.unexpected, vec!["d/c/4.png"]);
        assert!(TreeDiff::between(&now, &now).is_clean());
    }
}
