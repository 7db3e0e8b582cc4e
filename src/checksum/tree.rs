//! Hashing whole folders in parallel, and comparing them with a pinned listing.

use rayon::prelude::*;
use std::fs;
use std::io;
use std::path::Path;

use super::at;
use super::cache::{now_ns, DigestCache, Entry, Stamp};
use super::cache_file::{hex_str, to_hex, Hex, Section};
use super::file::sha256_file_raw;
use super::listing::{Listing, ListingError};
use crate::progress;

/// A regular file under a walked root: `/`-separated relative path, stamp.
struct Found {
    rel: String,
    stamp: Stamp,
}

/// Every regular file under `root` with its attributes, sorted by path bytes.
/// Symbolic links to files are followed (stamped with their target's
/// attributes), so a data root may be assembled from links; links to folders
/// are not. Folders are read in parallel, and each file is stat'ed relative
/// to its open folder rather than through its whole path.
fn walk(root: &Path) -> io::Result<Vec<Found>> {
    let mut found = walk_dir(root, "")?;
    // Each folder's names are sorted, which sorts the whole walk unless a
    // name sorts below '/' against a sibling folder's (`a.txt` < `a/x`).
    if !found.is_sorted_by(|a, b| a.rel < b.rel) {
        found.par_sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    }
    Ok(found)
}

fn walk_dir(dir: &Path, prefix: &str) -> io::Result<Vec<Found>> {
    let mut entries = fs::read_dir(dir)
        .and_then(|d| {
            d.map(|e| e.map(|e| (e.file_name(), e)))
                .collect::<io::Result<Vec<_>>>()
        })
        .map_err(|e| at(dir, e))?;
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // Splitting finer than a few dozen stats costs more than it saves.
    entries
        .par_iter()
        .with_min_len(32)
        .try_fold(Vec::new, |mut found, (name, e)| {
            visit(name, e, prefix, &mut found)?;
            Ok(found)
        })
        .try_reduce(Vec::new, |mut a, mut b| {
            a.append(&mut b);
            Ok(a)
        })
}

/// Adds the files at or under one folder entry (none, one, or a subfolder's).
fn visit(
    name: &std::ffi::OsStr,
    entry: &fs::DirEntry,
    prefix: &str,
    found: &mut Vec<Found>,
) -> io::Result<()> {
    let name = name.to_str().ok_or_else(|| {
        io::Error::other(format!("{}: path is not UTF-8", entry.path().display()))
    })?;
    let rel = if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    };
    let named = |e| at(&entry.path(), e);
    let kind = entry.file_type().map_err(named)?;
    if kind.is_dir() {
        found.append(&mut walk_dir(&entry.path(), &rel)?);
    } else if kind.is_file() {
        let stamp = Stamp::of(&entry.metadata().map_err(named)?);
        found.push(Found { rel, stamp });
    } else if kind.is_symlink() {
        // Dangling links and links to folders are not files of the tree.
        if let Some(meta) = fs::metadata(entry.path()).ok().filter(|m| m.is_file()) {
            let stamp = Stamp::of(&meta);
            found.push(Found { rel, stamp });
        }
    }
    Ok(())
}

/// Every regular file under `root`, as sorted `/`-separated relative paths.
pub fn list_files(root: &Path) -> io::Result<Vec<String>> {
    Ok(walk(root)?.into_iter().map(|f| f.rel).collect())
}

/// Every regular file under a folder with its SHA-256, sorted by path bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHashes {
    files: Vec<(String, Hex)>,
}

impl TreeHashes {
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The canonical listing text: byte for byte `to_listing()?.to_text()`,
    /// built without the map.
    pub fn to_text(&self) -> Result<String, ListingError> {
        let len = self.files.iter().map(|(p, _)| p.len() + 67).sum();
        let mut out = String::with_capacity(len);
        for (path, digest) in &self.files {
            Listing::check_path(path)?;
            out.push_str(hex_str(digest));
            out.push_str("  ");
            out.push_str(path);
            out.push('\n');
        }
        Ok(out)
    }

    /// Whether `text` is exactly the canonical listing (`to_text`), compared
    /// line by line without building it.
    pub fn is_text(&self, text: &[u8]) -> bool {
        let mut rest = text;
        for (path, digest) in &self.files {
            let len = 64 + 2 + path.len() + 1;
            let Some((line, tail)) = rest.split_at_checked(len) else {
                return false;
            };
            let same = line[..64] == digest[..]
                && line[64..66] == *b"  "
                && line[66..len - 1] == *path.as_bytes()
                && line[len - 1] == b'\n';
            if !same || Listing::check_path(path).is_err() {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }

    pub fn to_listing(&self) -> Result<Listing, ListingError> {
        let mut listing = Listing::default();
        for (path, digest) in &self.files {
            listing.insert(path.clone(), hex_str(digest).to_string())?;
        }
        Ok(listing)
    }
}

/// Hashes every file under `root` through `cache`. A file whose attributes
/// match a trusted entry costs one `stat` (the cache section and the walk are
/// both sorted by path, so they are merged, not looked up); the others are
/// read, in parallel, behind a progress bar. Only when something was read is
/// the folder's cache section replaced, by exactly the files present now.
pub fn hash_tree_files(root: &Path, cache: &DigestCache, label: &str) -> io::Result<TreeHashes> {
    let found = walk(root)?;
    let abs_root = std::path::absolute(root)?;
    let mut cached = cache.cursor(&abs_root);
    let mut files = Vec::with_capacity(found.len());
    let mut misses = Vec::new();
    for f in found {
        match cached.find(&f.rel).filter(|e| e.trusted_for(f.stamp)) {
            Some(e) => files.push((f.rel, *e.sha256())),
            None => {
                misses.push((files.len(), f.stamp));
                files.push((f.rel, [0; 64]));
            }
        }
    }
    if misses.is_empty() {
        return Ok(TreeHashes { files });
    }
    let bar = progress::bar(misses.len() as u64, label);
    let hashed: Vec<(Hex, Option<Entry>)> = misses
        .par_iter()
        .map(|&(i, stamp)| {
            let path = root.join(&files[i].0);
            let named = |e| at(&path, e);
            let hashed_at_ns = now_ns();
            let digest = to_hex(&sha256_file_raw(&path).map_err(named)?);
            // Re-stat: if the file changed since it was stamped, do not cache.
            let unchanged = Stamp::of(&fs::metadata(&path).map_err(named)?) == stamp;
            bar.inc(1);
            Ok((
                digest,
                unchanged.then(|| Entry::new(stamp, hashed_at_ns, digest)),
            ))
        })
        .collect::<io::Result<_>>()?;
    bar.finish_and_clear();
    // The new section: hits as they were, misses as just read (when stable).
    let mut section = Section::new();
    let mut cached = cache.cursor(&abs_root);
    let mut new = misses.iter().zip(hashed).peekable();
    for (i, (rel, digest)) in files.iter_mut().enumerate() {
        let old = cached.find(rel);
        let entry = match new.next_if(|((j, _), _)| *j == i) {
            Some((_, (read, entry))) => {
                *digest = read;
                entry
            }
            None => old,
        };
        if let Some(e) = entry {
            section.insert(rel.clone(), e);
        }
    }
    cache.replace_section(&abs_root, section);
    Ok(TreeHashes { files })
}

/// Hashes every file under `root` (in parallel, through `cache`) into a listing.
pub fn hash_tree(root: &Path, cache: &DigestCache, label: &str) -> io::Result<Listing> {
    hash_tree_files(root, cache, label)?
        .to_listing()
        .map_err(io::Error::other)
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
    use super::super::sha256_bytes;
    use super::*;

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

    fn write_aged(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let f = fs::File::options().write(true).open(path).unwrap();
        f.set_modified(hour_ago).unwrap();
    }

    #[test]
    fn walk_is_in_path_byte_order_and_text_matches_listing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // `a.txt` < `a/x` in bytes, though folder `a` < name `a.txt`.
        for name in ["a/x", "a.txt", "b", "a/y/z", "a-b"] {
            write_aged(&root.join(name), name.as_bytes());
        }
        std::os::unix::fs::symlink(root.join("b"), root.join("c-link")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("d-link")).unwrap();
        std::os::unix::fs::symlink(root.join("gone"), root.join("e-link")).unwrap();
        let files = list_files(root).unwrap();
        assert_eq!(files, ["a-b", "a.txt", "a/x", "a/y/z", "b", "c-link"]);
        let hashes = hash_tree_files(root, &DigestCache::disabled(), "test").unwrap();
        let text = hashes.to_text().unwrap();
        assert_eq!(text, hashes.to_listing().unwrap().to_text());
        assert!(hashes.is_text(text.as_bytes()));
        assert!(!hashes.is_text(&text.as_bytes()[..text.len() - 1]));
        assert!(!hashes.is_text(format!("{text}{text}").as_bytes()));
        assert!(!hashes.is_text(text.replacen("  a.txt", " *a.txt", 1).as_bytes()));
    }

    /// A folder hashed once through a cache file, with that file's bytes.
    fn cached_tree(root: &Path, cache_file: &Path) -> (TreeHashes, Vec<u8>) {
        let cache = DigestCache::load(cache_file);
        let hashes = hash_tree_files(root, &cache, "test").unwrap();
        cache.save().unwrap();
        (hashes, fs::read(cache_file).unwrap())
    }

    #[test]
    fn warm_tree_check_rehashes_what_changed_and_rewrites_only_then() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let cache_file = dir.path().join("cache");
        for name in ["k/1.png", "k/2.png", "m/3.png"] {
            write_aged(&root.join(name), name.as_bytes());
        }
        let (cold, written) = cached_tree(&root, &cache_file);
        let before = fs::metadata(&cache_file).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Unchanged: same digests, and the cache file is not touched.
        let (warm, again) = cached_tree(&root, &cache_file);
        assert_eq!((&warm, &again), (&cold, &written));
        let after = fs::metadata(&cache_file).unwrap();
        assert_eq!(
            (after.ino(), after.modified().unwrap()),
            (before.ino(), before.modified().unwrap())
        );
        // Same size, mtime put back, rewritten in place (only ctime moves):
        // served from the cache it would be the old digest.
        let f = root.join("k/2.png");
        let mtime = fs::metadata(&f).unwrap().modified().unwrap();
        fs::write(&f, b"k/2.PNG").unwrap();
        let file = fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(mtime).unwrap();
        let (edited, _) = cached_tree(&root, &cache_file);
        let listing = edited.to_listing().unwrap();
        assert_eq!(listing.files["k/2.png"], sha256_bytes(b"k/2.PNG"));
        assert_eq!(listing.files["k/1.png"], sha256_bytes(b"k/1.png"));
        // A deleted file leaves the cache when the folder's section is rewritten.
        fs::remove_file(root.join("m/3.png")).unwrap();
        write_aged(&root.join("m/4.png"), b"four");
        let (_, text) = cached_tree(&root, &cache_file);
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("\tm/4.png\n") && !text.contains("3.png"),
            "{text}"
        );
    }
}
