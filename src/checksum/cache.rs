//! A persistent (path, size, mtime, ctime, inode) → SHA-256 cache.
//!
//! Re-verifying a 10,000-image folder should cost a `stat` per file, not a
//! read. An entry is trusted only while every recorded attribute matches; any
//! write changes ctime even if mtime is restored, so edits are never missed.
//! Entries whose mtime was within `RACY_WINDOW_NS` of the moment they were
//! hashed are not trusted ("racy" entries, as git calls them): the file could
//! have been written again within the same timestamp tick.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::file::sha256_file;

const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// File attributes that must match for a cached digest to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone)]
struct Entry {
    stamp: Stamp,
    hashed_at_ns: i128,
    sha256: String,
}

/// First line of the cache file. The format is plain tab-separated text
/// (`sha256, size, mtime_ns, ctime_ns, inode, hashed_at_ns, path` per line):
/// parsing 10,000 lines of it costs a few milliseconds, which is what keeps a
/// warm re-verification of PACS an order of magnitude cheaper than hashing.
const HEADER: &str = "oodcal-digest-cache\t2";

fn parse_line(line: &str) -> Option<(PathBuf, Entry)> {
    let mut f = line.splitn(7, '\t');
    let sha256 = f.next()?.to_string();
    let size = f.next()?.parse().ok()?;
    let mtime_ns = f.next()?.parse().ok()?;
    let ctime_ns = f.next()?.parse().ok()?;
    let inode = f.next()?.parse().ok()?;
    let hashed_at_ns = f.next()?.parse().ok()?;
    let path = PathBuf::from(f.next()?);
    let stamp = Stamp {
        size,
        mtime_ns,
        ctime_ns,
        inode,
    };
    (sha256.len() == 64).then_some((
        path,
        Entry {
            stamp,
            hashed_at_ns,
            sha256,
        },
    ))
}

fn parse(text: &str) -> HashMap<PathBuf, Entry> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return HashMap::new();
    }
    lines.filter_map(parse_line).collect()
}

fn render(entries: &HashMap<PathBuf, Entry>) -> String {
    let mut out = String::with_capacity(entries.len() * 160);
    out.push_str(HEADER);
    out.push('\n');
    for (path, e) in entries {
        let Some(p) = path.to_str().filter(|p| !p.contains('\n')) else {
            continue;
        };
        let s = e.stamp;
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{p}\n",
            e.sha256, s.size, s.mtime_ns, s.ctime_ns, s.inode, e.hashed_at_ns
        ));
    }
    out
}

/// Thread-safe digest cache; `save` writes it back atomically.
pub struct DigestCache {
    file: Option<PathBuf>,
    /// Entries loaded from disk: read-only, so parallel lookups take no lock.
    loaded: HashMap<PathBuf, Entry>,
    /// Digests computed by this process, merged in when saving.
    added: Mutex<HashMap<PathBuf, Entry>>,
}

impl DigestCache {
    /// An in-memory cache that is never saved (`--no-cache`).
    pub fn disabled() -> DigestCache {
        DigestCache {
            file: None,
            loaded: HashMap::new(),
            added: Mutex::new(HashMap::new()),
        }
    }

    /// Loads the cache at `file`; a missing, unreadable or foreign-format
    /// cache is simply empty (it only ever saves work, never decides results).
    pub fn load(file: &Path) -> DigestCache {
        let loaded = fs::read_to_string(file)
            .map(|text| parse(&text))
            .unwrap_or_default();
        DigestCache {
            file: Some(file.to_path_buf()),
            loaded,
            added: Mutex::new(HashMap::new()),
        }
    }

    /// SHA-256 of `path`, from the cache when its attributes are unchanged.
    pub fn digest(&self, path: &Path) -> io::Result<String> {
        // Absolute but not canonical: resolving every component of 10,000
        // paths would cost more than the whole warm check. A symbolic link is
        // keyed by its own path with its target's stamp, so retargeting it
        // (another inode) still invalidates the entry.
        let key = std::path::absolute(path)?;
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
        let e = self.loaded.get(key)?;
        let racy = e.hashed_at_ns - stamp.mtime_ns < RACY_WINDOW_NS;
        (e.stamp == stamp && !racy).then(|| e.sha256.clone())
    }

    fn store(&self, key: PathBuf, stamp: Stamp, hashed_at_ns: i128, sha256: String) {
        let entry = Entry {
            stamp,
            hashed_at_ns,
            sha256,
        };
        self.added
            .lock()
            .expect("cache lock poisoned")
            .insert(key, entry);
    }

    /// Writes the cache back (temp file + rename) if anything was added.
    pub fn save(&self) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let added = self.added.lock().expect("cache lock poisoned");
        if added.is_empty() {
            return Ok(());
        }
        let mut all = self.loaded.clone();
        all.extend(added.iter().map(|(k, v)| (k.clone(), v.clone())));
        let text = render(&all);
        crate::atomic::write(file, text.as_bytes())
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
        let cache_file = dir.path().join("cache.tsv");
        let cache = DigestCache::load(&cache_file);
        let sha = super::super::sha256_bytes;
        assert_eq!(cache.digest(&f).unwrap(), sha(b"one"));
        cache.save().unwrap();
        // Same size, rewritten at once (same mtime tick is possible): the
        // reloaded entry must not be trusted.
        fs::write(&f, b"two").unwrap();
        let reloaded = DigestCache::load(&cache_file);
        assert_eq!(reloaded.loaded.len(), 1);
        assert_eq!(reloaded.digest(&f).unwrap(), sha(b"two"));
    }

    #[test]
    fn trusted_entry_is_served_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("old.bin");
        fs::write(&f, b"content").unwrap();
        let mut cache = DigestCache::disabled();
        let key = std::path::absolute(&f).unwrap();
        let stamp = Stamp::of(&fs::metadata(&key).unwrap());
        // Pretend it was hashed long after its mtime, with a sentinel digest:
        // a hit must return the sentinel, proving no read happened.
        let entry = Entry {
            stamp,
            hashed_at_ns: stamp.mtime_ns + 10 * RACY_WINDOW_NS,
            sha256: "sentinel".into(),
        };
        cache.loaded.insert(key, entry);
        assert_eq!(cache.digest(&f).unwrap(), "sentinel");
    }
}
