//! One process trains a run at a time: a run is claimed by an advisory lock
//! (`flock(2)`) on `<run-dir>/lock`.
//!
//! The kernel (or, on NFS, the lock manager) releases the lock when its
//! holder exits for any reason, SIGKILL included, so a dead process's lock
//! never blocks a run: there is no lease to expire and no stale file to
//! judge. Processes on several machines sharing one runs folder (a cluster's
//! array tasks) claim runs the same way. The lock file names its holder
//! (host, pid, when) for the message a process that finds it busy prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "lock";

/// A claimed run: held until dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

/// What an attempt to claim a run found.
#[derive(Debug)]
pub enum Claim {
    Held(RunLock),
    /// Another live process holds it; its description (host, pid, since).
    Busy(String),
}

/// Claims the run whose folder is `dir` (created if need be), without waiting.
pub fn claim(dir: &Path) -> std::io::Result<Claim> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Ok(Claim::Busy(holder.trim().to_string()));
        }
        Err(TryLockError::Error(e)) => return Err(e),
    }
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    writeln!(
        file,
        "host {} pid {} since {since} (unix seconds)",
        crate::atomic::host(),
        std::process::id()
    )?;
    Ok(Claim::Held(RunLock { file, path }))
}

impl RunLock {
    /// Releases the claim of a run whose record is committed, removing the
    /// lock file so finished run folders hold only the record. Safe because
    /// every claimant checks for a record after claiming: a process that
    /// still opened the old file finds the record and leaves the run alone.
    pub fn release_committed(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_busy_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("abc");
        let Claim::Held(first) = claim(&run).unwrap() else {
            panic!("first claim")
        };
        match claim(&run).unwrap() {
            Claim::Busy(holder) => {
                assert!(holder.contains(&format!("pid {}", std::process::id())));
            }
            Claim::Held(_) => panic!("claimed twice"),
        }
        drop(first);
        let Claim::Held(again) = claim(&run).unwrap() else {
            panic!("not released")
        };
        again.release_committed();
        assert!(!run.join(LOCK_FILE).exists());
    }
}
