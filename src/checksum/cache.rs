//! A persistent (path, size, mtime, ctime, inode) → SHA-256 cache.
//!
//! Re-verifying a 10,000-image folder should cost a `stat` per file, not a
//! read. An entry is trusted only while every recorded attribute matches; any
//! write changes ctime even if mtime is restored, so edits are never missed.
//! Entries whose mtime was within `RACY_WINDOW_NS` of the moment they were
//! hashed are not trusted ("racy" entries, as git calls them): the file could
//! have been written again within the same timestamp tick.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::file::sha256_file;

const RACY_WINDOW_NS: i128 = 2_000_000_000;
const CACHE_FORMAT: u32 = 1;

/// File attributes that must match for a cached digest to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            inode: meta.ino(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    hashed_at_ns: i128,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    entries: HashMap<PathBuf, Entry>,
}

/// Thread-safe digest cache; `save` writes it back atomically.
pub struct DigestCache {
    file: Option<PathBuf>,
    entries: Mutex<HashMap<PathBuf, Entry>>,
    dirty: Mutex<bool>,
}

impl DigestCache {
    /// An in-memory cache that is never saved (`--no-cache`).
    pub fn disabled() -> DigestCache {
        DigestCache {
            file: None,
            entries: Mutex::new(HashMap::new()),
            dirty: Mutex::new(false),
        }
    }

    /// Loads the cache at `file`; a missing, unreadable or foreign-format
    /// cache is simply empty (it only ever saves work, never decides results).
    pub fn load(file: &Path) -> DigestCache {
        let entries = fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<OnDisk>(&bytes).ok())
            .filter(|d| d.format == CACHE_FORMAT)
            .map(|d| d.entries)
            .unwrap_or_default();
        DigestCache {
            file: Some(file.to_path_buf()),
            entries: Mutex::new(entries),
            dirty: Mutex::new(false),
        }
    }

    /// SHA-256 of `path`, from the cache when its attributes are unchanged.
    pub fn digest(&self, path: &Path) -> io::Result<String> {
        let key = fs::canonicalize(path)?;
        let stamp = Stamp::of(&fs::metadata(&key)?);
        if let Some(hit) = self.lookup(&key, stamp) {
            return Ok(hit);
        }
        let hashed_at_ns = now_ns();
        let sha256 = sha256_file(&key)?;
        // Re-stat: if the file changed while we read it, do not cache.
        if Stamp::of(&fs::metadata(&key)?) == stamp {
            self.store(key, stamp, hashed_at_ns, sha256.clone());
        }
        Ok(sha256)
    }

    fn lookup(&self, key: &Path, stamp: Stamp) -> Option<String> {
        let entries = self.entries.lock().expect("cache lock poisoned");
        let e = entries.get(key)?;
        let racy = e.hashed_at_ns - stamp.mtime_ns < RACY_WINDOW_NS;
        (e.stamp == stamp && !racy).then(|| e.sha256.clone())
    }

    fn store(&self, key: PathBuf, stamp: Stamp, hashed_at_ns: i128, sha256: String) {
        let entry = Entry {
            stamp,
            hashed_at_ns,
            sha256,
        };
        self.entries
            .lock()
            .expect("cache lock poisoned")
            .insert(key, entry);
        *self.dirty.lock().expect("cache lock poisoned") = true;
    }

    /// Writes the cache back (temp file + rename) if anything was added.
    pub fn save(&self) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if !*self.dirty.lock().expect("cache lock poisoned") {
            return Ok(());
        }
        let entries = self.entries.lock().expect("cache lock poisoned").clone();
        let bytes = serde_json::to_vec(&OnDisk {
            format: CACHE_FORMAT,
            entries,
        })
        .map_err(io::Error::other)?;
        crate::atomic::write(file, &bytes)
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_invalidate_and_racy_entries_are_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.bin");
        fs::write(&f, b"one").unwrap();
        let cache_file = dir.path().join("cache.json");
        let cache = DigestCache::load(&cache_file);
        assert_eq!(
            cache.digest(&f).unwrap(),
            super::super::sha256_bytes(b"one")
        );
        // Same size, written immediately: the racy rule must catch it.
        fs::write(&f, b"two").unwrap();
        assert_eq!(
            cache.digest(&f).unwrap(),
            super::super::sha256_bytes(b"two")
        );
        cache.save().unwrap();
        let reloaded = DigestCache::load(&cache_file);
        assert_eq!(reloaded.entries.lock().unwrap().len(), 1);
    }

    #[test]
    fn trusted_entry_is_served_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("old.bin");
        fs::write(&f, b"content").unwrap();
        let cache = DigestCache::disabled();
        let key = fs::canonicalize(&f).unwrap();
        let stamp = Stamp::of(&fs::metadata(&key).unwrap());
        // Pretend it was hashed long after its mtime, with a sentinel digest:
        // a hit must return the sentinel, proving no read happened.
        cache.store(
            key,
            stamp,
            stamp.mtime_ns + 10 * RACY_WINDOW_NS,
            "sentinel".into(),
        );
        assert_eq!(cache.digest(&f).unwrap(), "sentinel");
    }
}
