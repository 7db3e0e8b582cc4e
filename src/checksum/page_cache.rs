//! Evicting a folder's files from the kernel's page cache, and measuring how
//! much of them stayed resident, so `bench verify` can time a disk-cold check.
//!
//! The first `verify` after a dataset lands on a machine reads it from disk;
//! every later one finds it in the page cache. Dropping the whole cache
//! (`/proc/sys/vm/drop_caches`) needs root, but `posix_fadvise(DONTNEED)`
//! drops one file's clean pages for anyone who may read it. `mincore` then
//! says which pages are still resident, so a figure labelled "disk-cold" is
//! checked rather than assumed.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::at;

/// Asks the kernel to drop the cached pages of `files` (paths under `root`).
pub fn evict(root: &Path, files: &[String]) -> io::Result<()> {
    for rel in files {
        let path = root.join(rel);
        let file = File::open(&path).map_err(|e| at(&path, e))?;
        // SAFETY: a valid open descriptor; offset 0 and length 0 mean the whole file.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            return Err(at(&path, io::Error::from_raw_os_error(rc)));
        }
    }
    Ok(())
}

/// The fraction of the pages of `files` (paths under `root`) that are in the
/// page cache now (0 when they hold no bytes).
pub fn resident_fraction(root: &Path, files: &[String]) -> io::Result<f64> {
    let (mut resident, mut total) = (0usize, 0usize);
    for rel in files {
        let path = root.join(rel);
        let (r, t) = resident_pages(&path).map_err(|e| at(&path, e))?;
        resident += r;
        total += t;
    }
    Ok(if total == 0 {
        0.0
    } else {
        resident as f64 / total as f64
    })
}

/// (resident pages, pages) of one file, through a read-only mapping that is
/// never touched (mapping a file does not read it in).
fn resident_pages(path: &Path) -> io::Result<(usize, usize)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len() as usize;
    if len == 0 {
        return Ok((0, 0));
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let pages = len.div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: a fresh shared read-only mapping of `len` bytes of an open file;
    // it is only passed to mincore and unmapped before returning.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let rc = libc::mincore(addr, len, vec.as_mut_ptr());
        let err = io::Error::last_os_error();
        libc::munmap(addr, len);
        if rc != 0 {
            return Err(err);
        }
    }
    Ok((vec.iter().filter(|&&b| b & 1 == 1).count(), pages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_file_just_read_is_resident_and_evicting_drops_it() {
        // A disk file system where there is one (the system's temporary
        // folder, else the crate's own folder), since only there can pages be dropped.
        let candidates = [
            std::env::temp_dir(),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        ];
        let base = candidates
            .iter()
            .find(|p| file_system(p).is_some_and(|k| is_disk(&k)))
            .unwrap_or(&candidates[0]);
        let dir = tempfile::tempdir_in(base).unwrap();
        let files = vec!["a.bin".to_string(), "empty".to_string()];
        std::fs::write(dir.path().join("a.bin"), vec![7u8; 64 * 1024]).unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        // Written pages are dirty and cannot be dropped until they reach the disk.
        File::open(dir.path().join("a.bin"))
            .unwrap()
            .sync_all()
            .unwrap();
        std::fs::read(dir.path().join("a.bin")).unwrap();
        assert!(resident_fraction(dir.path(), &files).unwrap() > 0.99);
        evict(dir.path(), &files).unwrap();
        // tmpfs keeps files only in the page cache (nothing can be dropped,
        // and mincore must say so); overlay file systems may ignore the advice.
        let after = resident_fraction(dir.path(), &files).unwrap();
        match file_system(dir.path()).unwrap_or_default() {
            k if is_disk(&k) => assert!(after < 0.01, "{after} of the pages stayed resident"),
            k if k == "tmpfs" => assert!(after > 0.99, "tmpfs pages reported evicted: {after}"),
            k => assert!((0.0..=1.0).contains(&after), "{k}: fraction {after}"),
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = evict(dir.path(), &["gone.jpg".to_string()]).unwrap_err();
        assert!(err.to_string().contains("gone.jpg"), "{err}");
    }

    fn is_disk(kind: &str) -> bool {
        matches!(kind, "ext2/ext3" | "xfs" | "btrfs")
    }

    /// The file system type `stat -f` names for `path`.
    fn file_system(path: &Path) -> Option<String> {
        let out = std::process::Command::new("stat")
            .args(["-f", "-c", "%T"])
            .arg(path)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}
