//! A persistent (path, size, mtime, ctime, inode) → SHA-256 cache.
//!
//! Re-verifying a 10,000-image folder should cost a `stat` per file, not a
//! read. An entry is trusted only while every recorded attribute matches; any
//! write changes ctime even if mtime is restored, so edits are never missed.
//! Entries whose mtime was within `RACY_WINDOW_NS` of the moment they were
//! hashed are not trusted ("racy" entries, as git calls them): the file could
//! have been written again within the same timestamp tick.
//!
//! Entries are grouped in sections, one per folder (an absolute, not
//! canonical, path), keyed by their `/`-separated path relative to it and
//! sorted by it: a folder input is one section in the order of its listing,
//! so checking it is a merge of two sorted sequences; a single file is an
//! entry of its parent folder's section. The file format is `cache_file.rs`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::cache_file::{hex_str, parse, render, to_hex, Cursor, Hex, Section, SectionView};
use super::file::sha256_file_raw;

const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// File attributes that must match for a cached digest to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) size: u64,
    pub(super) mtime_ns: i128,
    pub(super) ctime_ns: i128,
    pub(super) inode: u64,
}

impl Stamp {
    pub(super) fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            inode: meta.ino(),
        }
    }
}

/// A digest and the attributes its file had when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) stamp: Stamp,
    pub(super) hashed_at_ns: i128,
    pub(super) sha256: Hex,
}

impl Entry {
    /// `sha256` of a file read at `hashed_at_ns` (taken before the read) whose
    /// attributes were `stamp` before and after the read.
    pub(super) fn new(stamp: Stamp, hashed_at_ns: i128, sha256: Hex) -> Entry {
        Entry {
            stamp,
            hashed_at_ns,
            sha256,
        }
    }

    /// Whether this entry may be trusted for a file stamped `stamp`: every
    /// attribute matches, and the file was not modified within the racy
    /// window before it was hashed.
    pub(super) fn trusted_for(&self, stamp: Stamp) -> bool {
        let racy = self.hashed_at_ns - stamp.mtime_ns < RACY_WINDOW_NS;
        self.stamp == stamp && !racy
    }

    pub(super) fn sha256(&self) -> &Hex {
        &self.sha256
    }
}

/// What this process adds: per folder, entries to merge into the loaded
/// section, or (`true`) a complete new section that replaces it.
type Added = HashMap<PathBuf, (bool, Section)>;

/// Thread-safe digest cache; `save` writes it back atomically, and only when
/// something was added.
pub struct DigestCache {
    file: Option<PathBuf>,
    /// The loaded file's text, which `loaded` points into.
    text: String,
    /// Sections loaded from disk (byte ranges of `text`): read-only, so
    /// parallel lookups take no lock.
    loaded: HashMap<PathBuf, Range<usize>>,
    /// Digests computed by this process, merged in when saving.
    added: Mutex<Added>,
}

impl DigestCache {
    /// An in-memory cache that is never saved (`--no-cache`).
    pub fn disabled() -> DigestCache {
        DigestCache {
            file: None,
            text: String::new(),
            loaded: HashMap::new(),
            added: Mutex::new(HashMap::new()),
        }
    }

    /// Loads the cache at `file`; a missing, unreadable, damaged or
    /// foreign-format cache is simply empty (it only ever saves work, never
    /// decides results).
    pub fn load(file: &Path) -> DigestCache {
        let text = fs::read_to_string(file).unwrap_or_default();
        let (text, loaded) = match parse(&text) {
            Some(loaded) => (text, loaded),
            None => (String::new(), HashMap::new()),
        };
        DigestCache {
            file: Some(file.to_path_buf()),
            text,
            loaded,
            added: Mutex::new(HashMap::new()),
        }
    }

    /// A cursor over the loaded entries of folder `dir` (absolute).
    pub(super) fn cursor(&self, dir: &Path) -> Cursor<'_> {
        self.section(dir).map(|s| s.cursor()).unwrap_or_default()
    }

    /// The loaded entries of folder `dir` (absolute), if any.
    pub(super) fn section(&self, dir: &Path) -> Option<SectionView<'_>> {
        let range = self.loaded.get(dir)?.clone();
        Some(SectionView {
            lines: &self.text[range],
        })
    }

    /// SHA-256 of `path`, from the cache when its attributes are unchanged.
    pub fn digest(&self, path: &Path) -> io::Result<String> {
        let abs = std::path::absolute(path)?;
        let stamp = Stamp::of(&fs::metadata(&abs)?);
        if let Some(hit) = self.lookup(&abs, stamp) {
            return Ok(hit);
        }
        let hashed_at_ns = now_ns();
        let sha256 = to_hex(&sha256_file_raw(&abs)?);
        // Re-stat: if the file changed while we read it, do not cache.
        if Stamp::of(&fs::metadata(&abs)?) == stamp {
            self.store(&abs, Entry::new(stamp, hashed_at_ns, sha256));
        }
        Ok(hex_str(&sha256).to_string())
    }

    /// The bytes of `path` and their SHA-256, which comes from the cache when
    /// the file's attributes are the same before and after the read and
    /// match a trusted entry.
    pub fn read_with_digest(&self, path: &Path) -> io::Result<(Vec<u8>, String)> {
        let abs = std::path::absolute(path)?;
        let stamp = Stamp::of(&fs::metadata(&abs)?);
        let hashed_at_ns = now_ns();
        let bytes = fs::read(&abs)?;
        let unchanged = Stamp::of(&fs::metadata(&abs)?) == stamp;
        if unchanged {
            if let Some(hit) = self.lookup(&abs, stamp) {
                return Ok((bytes, hit));
            }
        }
        let sha256 = super::sha256_bytes(&bytes);
        if unchanged {
            let hex = sha256.as_bytes().try_into().expect("64 hex digits");
            self.store(&abs, Entry::new(stamp, hashed_at_ns, hex));
        }
        Ok((bytes, sha256))
    }

    /// A trusted digest of the file at absolute path `abs`, keyed (file name
    /// in its folder's section) by its path, not canonicalised: resolving
    /// every component would cost more than the check. A symbolic link is
    /// keyed by its own path with its target's stamp, so retargeting it
    /// (another inode) still invalidates the entry.
    fn lookup(&self, abs: &Path, stamp: Stamp) -> Option<String> {
        let (dir, name) = split(abs)?;
        let e = self.section(dir)?.cursor().find(name)?;
        e.trusted_for(stamp).then(|| hex_str(&e.sha256).to_string())
    }

    fn store(&self, abs: &Path, entry: Entry) {
        let Some((dir, name)) = split(abs) else {
            return;
        };
        let mut added = self.added.lock().expect("cache lock poisoned");
        let section = &mut added.entry(dir.to_path_buf()).or_default().1;
        section.insert(name.to_string(), entry);
    }

    /// Replaces folder `dir`'s section (entries of files no longer there go).
    pub(super) fn replace_section(&self, dir: &Path, section: Section) {
        self.added
            .lock()
            .expect("cache lock poisoned")
            .insert(dir.to_path_buf(), (true, section));
    }

    /// Saves the cache, or prints why it could not (naming the file): the
    /// cache only ever saves work, so failing to keep it never stops a command.
    pub fn save_or_warn(&self) {
        if let Err(e) = self.save() {
            eprintln!("warning: {e}; the digests are not cached (results are unaffected)");
        }
    }

    /// Writes the cache back (temp file + rename) if anything was added;
    /// otherwise leaves the file untouched. An error names the cache file.
    pub fn save(&self) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        self.save_to(file).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: cannot save the digest cache: {e}", file.display()),
            )
        })
    }

    fn save_to(&self, file: &Path) -> io::Result<()> {
        let added = self.added.lock().expect("cache lock poisoned");
        if added.is_empty() {
            return Ok(());
        }
        let mut all: BTreeMap<PathBuf, Section> = BTreeMap::new();
        for dir in self.loaded.keys() {
            let view = self.section(dir).expect("a loaded section");
            let section = view.iter().map(|(r, e)| (r.to_string(), e)).collect();
            all.insert(dir.clone(), section);
        }
        for (dir, (replace, section)) in added.iter() {
            if *replace {
                all.insert(dir.clone(), section.clone());
            } else {
                all.entry(dir.clone())
                    .or_default()
                    .extend(section.iter().map(|(k, v)| (k.clone(), *v)));
            }
        }
        if let Some(dir) = file.parent() {
            crate::atomic::clean_leftovers(dir)?;
        }
        crate::atomic::write(file, render(&all).as_bytes())
    }
}

/// A file's folder and its name, the key of its entry.
fn split(abs: &Path) -> Option<(&Path, &str)> {
    Some((abs.parent()?, abs.file_name()?.to_str()?))
}

pub(super) fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::cache_file::FOOTER;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn sha(bytes: &[u8]) -> String {
        super::super::sha256_bytes(bytes)
    }

    fn entries(cache: &DigestCache) -> usize {
        let sections = cache.loaded.keys().filter_map(|d| cache.section(d));
        sections.map(|s| s.iter().count()).sum()
    }

    /// Sets a file's mtime to `secs_ago` seconds in the past.
    fn age(path: &Path, secs_ago: u64) {
        set_mtime(path, SystemTime::now() - Duration::from_secs(secs_ago));
    }

    fn set_mtime(path: &Path, t: SystemTime) {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    #[test]
    fn edits_invalidate_and_racy_entries_are_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.bin");
        fs::write(&f, b"one").unwrap();
        let cache_file = dir.path().join("cache.tsv");
        let cache = DigestCache::load(&cache_file);
        assert_eq!(cache.digest(&f).unwrap(), sha(b"one"));
        cache.save().unwrap();
        // Same size, rewritten at once (same mtime tick is possible): the
        // reloaded entry must not be trusted.
        fs::write(&f, b"two").unwrap();
        let reloaded = DigestCache::load(&cache_file);
        assert_eq!(entries(&reloaded), 1);
        assert_eq!(reloaded.digest(&f).unwrap(), sha(b"two"));
    }

    /// A cache file whose only entry, for `f` as stamped `stamp`, carries a
    /// sentinel digest and is otherwise trusted: a digest equal to the
    /// sentinel was served without reading.
    fn sentinel_cache(dir: &Path, f: &Path, stamp: Stamp) -> DigestCache {
        let abs = std::path::absolute(f).unwrap();
        let (folder, name) = split(&abs).unwrap();
        let entry = Entry::new(stamp, stamp.mtime_ns + 10 * RACY_WINDOW_NS, [b'e'; 64]);
        let sections = BTreeMap::from([(
            folder.to_path_buf(),
            Section::from([(name.to_string(), entry)]),
        )]);
        let cache_file = dir.join("sentinel-cache");
        fs::write(&cache_file, render(&sections)).unwrap();
        let cache = DigestCache::load(&cache_file);
        assert_eq!(entries(&cache), 1);
        cache
    }

    const SENTINEL: &str = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

    #[test]
    fn trusted_entry_is_served_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("old.bin");
        fs::write(&f, b"content").unwrap();
        let stamp = Stamp::of(&fs::metadata(&f).unwrap());
        let cache = sentinel_cache(dir.path(), &f, stamp);
        assert_eq!(cache.digest(&f).unwrap(), SENTINEL);
        let (bytes, digest) = cache.read_with_digest(&f).unwrap();
        assert_eq!(
            (bytes.as_slice(), digest.as_str()),
            (&b"content"[..], SENTINEL)
        );
    }

    #[test]
    fn same_size_and_restored_mtime_is_still_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("old.bin");
        fs::write(&f, b"content").unwrap();
        age(&f, 3600);
        let before = fs::metadata(&f).unwrap();
        let mtime = before.modified().unwrap();
        // In place: same inode, same size, mtime put back; only ctime moves.
        let stamp = Stamp::of(&before);
        std::thread::sleep(Duration::from_millis(20));
        fs::write(&f, b"CONTENT").unwrap();
        set_mtime(&f, mtime);
        let after = fs::metadata(&f).unwrap();
        assert_eq!((after.ino(), after.len()), (before.ino(), before.len()));
        assert_eq!(after.modified().unwrap(), mtime);
        let cache = sentinel_cache(dir.path(), &f, stamp);
        assert_eq!(cache.digest(&f).unwrap(), sha(b"CONTENT"));
        assert_eq!(cache.read_with_digest(&f).unwrap().1, sha(b"CONTENT"));
        // Replaced by another file (another inode), mtime put back too.
        let stamp = Stamp::of(&after);
        let g = dir.path().join("new.bin");
        fs::write(&g, b"cOnTeNt").unwrap();
        fs::rename(&g, &f).unwrap();
        set_mtime(&f, mtime);
        let cache = sentinel_cache(dir.path(), &f, stamp);
        assert_eq!(cache.digest(&f).unwrap(), sha(b"cOnTeNt"));
        // A change of attributes alone (chmod) moves ctime: re-hashed too.
        let stamp = Stamp::of(&fs::metadata(&f).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        let cache = sentinel_cache(dir.path(), &f, stamp);
        assert_eq!(cache.digest(&f).unwrap(), sha(b"cOnTeNt"));
    }

    #[test]
    fn damaged_or_foreign_cache_is_ignored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cache_file = dir.path().join("cache.tsv");
        let cache = DigestCache::load(&cache_file);
        for name in ["a.bin", "b.bin", "c.bin"] {
            let f = dir.path().join(name);
            fs::write(&f, name).unwrap();
            age(&f, 3600);
            cache.digest(&f).unwrap();
        }
        cache.save().unwrap();
        let good = fs::read_to_string(&cache_file).unwrap();
        assert_eq!(entries(&DigestCache::load(&cache_file)), 3);
        let lines: Vec<&str> = good.lines().collect();
        assert_eq!(lines.len(), 6, "{good}");
        let without = |i: usize| good.replacen(&format!("{}\n", lines[i]), "", 1);
        let mut flipped = good.clone().into_bytes();
        flipped[good.find("\t4").unwrap() + 10] ^= 0x01;
        let damaged = [
            good[..good.rfind(FOOTER).unwrap()].to_string(),
            good.trim_end().to_string(),
            String::from_utf8(flipped).unwrap(),
            good.replacen(lines[2], &lines[2].replacen('\t', " ", 1), 1),
            good.replacen(lines[2], &lines[2].to_uppercase(), 1),
            good.replacen("cache\t4", "cache\t3", 1),
            without(3),
            without(1),
            good.replacen(lines[2], lines[3], 1),
            format!("{good}{}\n", lines[3]),
            String::new(),
        ];
        for bad in damaged {
            assert!(parse(&bad).is_none(), "{bad}");
            fs::write(&cache_file, &bad).unwrap();
            assert_eq!(entries(&DigestCache::load(&cache_file)), 0);
        }
    }

    #[test]
    fn unchanged_cache_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.bin");
        fs::write(&f, b"a").unwrap();
        age(&f, 3600);
        let cache_file = dir.path().join("cache.tsv");
        let cache = DigestCache::load(&cache_file);
        cache.digest(&f).unwrap();
        cache.save().unwrap();
        let before = fs::metadata(&cache_file).unwrap();
        let bytes = fs::read(&cache_file).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let warm = DigestCache::load(&cache_file);
        assert_eq!(warm.digest(&f).unwrap(), sha(b"a"));
        warm.save().unwrap();
        let after = fs::metadata(&cache_file).unwrap();
        assert_eq!(fs::read(&cache_file).unwrap(), bytes);
        assert_eq!(
            (after.ino(), after.modified().unwrap()),
            (before.ino(), before.modified().unwrap())
        );
    }
}
