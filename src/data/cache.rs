//! Decoded-image cache: decode and resize a dataset once, then reload the
//! 8-bit pixels from one file instead of decoding ~10,000 JPEGs per run.
//!
//! The cache file is named by a key: SHA-256 over the dataset's digest (the
//! caller's verified tree digest of the source folder, or a generator
//! spec's digest), the cached resolution and the decoder/resizer version. A
//! changed input, size or algorithm gives a different file, so a stale cache
//! is never read. The file holds a magic tag, the key, the image set in its
//! canonical form and a SHA-256 trailer over all of it: a corrupt or
//! truncated file is detected, reported in [`CacheStatus::Rebuilt`], and
//! rebuilt. Files are written to a temporary name and renamed into place, so
//! an interrupted write never leaves a half file under the real name.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::domainbed::DatasetInfo;
use super::error::{DataError, Result};
use super::image_folder::{decode_index, scan_image_folder};
use super::image_set::ImageSet;

const MAGIC: &[u8; 16] = b"oodcal-cache-v1\n";
/// Bump when decoding or resizing changes what a cache would contain.
pub const DECODER_VERSION: &str = "image-0.25+pil-bilinear-f32/v1";

/// What a cache file is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    /// Digest identifying the source data (e.g. the folder's tree digest).
    pub dataset_digest: String,
    pub width: usize,
    pub height: usize,
}

impl CacheKey {
    /// Hex SHA-256 naming the cache file.
    pub fn id(&self) -> String {
        let text = format!(
            "{DECODER_VERSION}\n{}\n{}x{}\n",
            self.dataset_digest, self.width, self.height
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    pub fn file(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.oodcache", self.id()))
    }
}

/// How [`load_or_build`] got its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// Read from a valid cache file.
    Hit,
    /// No cache file: built and stored.
    Built,
    /// A cache file existed but was invalid (reason given): rebuilt.
    Rebuilt { reason: String },
}

/// Returns the cached image set for `key`, or builds it with `build`, stores
/// it and returns it.
pub fn load_or_build(
    dir: &Path,
    key: &CacheKey,
    build: impl FnOnce() -> Result<ImageSet>,
) -> Result<(ImageSet, CacheStatus)> {
    let path = key.file(dir);
    let status = match read_cache(&path, key) {
        Ok(Some(set)) => return Ok((set, CacheStatus::Hit)),
        Ok(None) => CacheStatus::Built,
        Err(reason) => CacheStatus::Rebuilt { reason },
    };
    let set = build()?;
    if set.width != key.width || set.height != key.height {
        return Err(DataError::Config(format!(
            "built images are {}x{}, cache key says {}x{}",
            set.width, set.height, key.width, key.height
        )));
    }
    write_cache(dir, &path, key, &set)?;
    Ok((set, status))
}

/// `Ok(None)` if absent; `Err(reason)` if present but unusable.
fn read_cache(path: &Path, key: &CacheKey) -> std::result::Result<Option<ImageSet>, String> {
    let mut bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let bad = |why: &str| format!("{}: {why}", path.display());
    let head = MAGIC.len() + 64;
    if bytes.len() < head + 32 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad("not an oodcal cache file (bad magic or too short)"));
    }
    let body_end = bytes.len() - 32;
    if Sha256::digest(&bytes[..body_end])[..] != bytes[body_end..] {
        return Err(bad("checksum mismatch (corrupt or truncated)"));
    }
    if bytes[MAGIC.len()..head] != *key.id().as_bytes() {
        return Err(bad("cache key mismatch"));
    }
    bytes.truncate(body_end);
    bytes.drain(..head);
    let set = ImageSet::read_canonical(&bytes).map_err(|e| bad(&e))?;
    if set.width != key.width || set.height != key.height {
        return Err(bad("image size differs from the key"));
    }
    Ok(Some(set))
}

fn write_cache(dir: &Path, path: &Path, key: &CacheKey, set: &ImageSet) -> Result<()> {
    crate::atomic::clean_leftovers(dir).map_err(|e| DataError::io(dir, e))?;
    let mut tmp = crate::atomic::temp_file_for(path).map_err(|e| DataError::io(dir, e))?;
    {
        let mut w = HashingWriter {
            inner: std::io::BufWriter::new(tmp.as_file_mut()),
            hash: Sha256::new(),
        };
        let io = |e| DataError::io(path, e);
        w.write_all(MAGIC).map_err(io)?;
        w.write_all(key.id().as_bytes()).map_err(io)?;
        set.write_canonical(&mut w).map_err(io)?;
        let digest = w.hash.finalize();
        w.inner.write_all(&digest).map_err(io)?;
        w.inner.flush().map_err(io)?;
    }
    tmp.persist(path)
        .map_err(|e| DataError::io(path, e.error))?;
    Ok(())
}

/// Writes through and hashes what it writes.
struct HashingWriter<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Loads an image folder at `w × h` through the cache in `cache_dir`.
/// `dataset_digest` must identify the folder's content (the caller's
/// verified tree digest): the cache trusts it.
pub fn load_image_folder_cached(
    root: &Path,
    expect: Option<&DatasetInfo>,
    w: usize,
    h: usize,
    cache_dir: &Path,
    dataset_digest: &str,
) -> Result<(ImageSet, CacheStatus)> {
    let key = CacheKey {
        dataset_digest: dataset_digest.to_string(),
        width: w,
        height: h,
    };
    load_or_build(cache_dir, &key, || {
        let index = scan_image_folder(root, expect)?;
        decode_index(&index, w, h)
    })
}
