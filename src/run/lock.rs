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

/// Who holds the run's lock, judged without touching the lock (a probe
/// that took it, even shared, could turn away a task claiming the run at
/// that moment): the holder the lock file names, when it is a live process
/// of this host, or any holder named on another host (whose processes this
/// host cannot see). `None`: no lock file, or its holder here is gone.
pub fn live_holder(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
    let text = text.trim().to_string();
    let mut words = text.split_whitespace();
    let (Some("host"), Some(host), Some("pid"), Some(pid)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return None;
    };
    if host != crate::atomic::host() {
        return Some(text);
    }
    let alive = Path::new("/proc").join(pid).exists();
    alive.then_some(text)
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
        assert!(live_holder(&run).is_some(), "this process holds it");
        drop(first);
        let Claim::Held(again) = claim(&run).unwrap() else {
            panic!("not released")
        };
        again.release_committed();
        assert!(!run.join(LOCK_FILE).exists());
        assert_eq!(live_holder(&run), None);
    }

    #[test]
    fn a_dead_holders_lock_file_names_no_live_holder() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("host {} pid 999999999 since 0", crate::atomic::host());
        std::fs::write(dir.path().join(LOCK_FILE), text).unwrap();
        assert_eq!(live_holder(dir.path()), None);
        std::fs::write(dir.path().join(LOCK_FILE), "host elsewhere pid 1 since 0").unwrap();
        assert!(
            live_holder(dir.path()).is_some(),
            "another host's holder is taken at its word"
        );
    }
}
