//! Atomic file writes: a reader sees the old file or the new one, never half.
//!
//! Everything oodcal computes (records, caches, listings, reports) is written
//! through here, so an interrupted process cannot leave a truncated result.
//!
//! The temporary file sits beside its target and is named after it, the host
//! and the writing process: `.<file>.<host>.<pid>.<random>.oodcal-tmp`. A
//! process killed between creating and renaming it leaves that file behind;
//! [`clean_leftovers`] removes the leftovers of processes that are gone, so
//! the next write into a folder tidies it, and [`leftovers`] lists them for a
//! check. Files are created with mode 0666 less the umask, as `open(2)` does
//! for any tool, so a group sharing a runs folder on a cluster can read them.

use std::ffi::OsStr;
use std::fs::Permissions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Suffix of every temporary file this module creates.
const TMP_SUFFIX: &str = ".oodcal-tmp";
/// A leftover from another host is only removed once it is this old: its
/// writer's process cannot be asked whether it still runs.
const FOREIGN_LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);

/// Writes `bytes` to `path` via a temporary file in the same folder + rename.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = temp_file_for(path)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A temporary file beside `path` (its folder created if need be), to be
/// persisted over `path` once written.
pub fn temp_file_for(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or(OsStr::new("file"));
    let prefix = format!(
        ".{}.{}.{}.",
        name.to_string_lossy(),
        host(),
        std::process::id()
    );
    tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TMP_SUFFIX)
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(dir)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Temporary files of interrupted writes in `dir` (not its sub-folders),
/// whether or not their writer still runs.
pub fn leftovers(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| parse_temp_name(p).is_some())
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    found.sort();
    Ok(found)
}

/// Removes the temporary files in `dir` whose writer is gone: a process of
/// this host that no longer runs, or a file from another host older than a
/// day. Returns what it removed.
pub fn clean_leftovers(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for path in leftovers(dir)? {
        let Some((writer_host, pid)) = parse_temp_name(&path) else {
            continue;
        };
        let gone = if writer_host == host() {
            !process_runs(pid)
        } else {
            age(&path).is_some_and(|a| a > FOREIGN_LEFTOVER_AGE)
        };
        if gone {
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                // Another process cleaned it first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// (host, pid) of a temporary file name made by [`temp_file_for`].
fn parse_temp_name(path: &Path) -> Option<(String, u32)> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)?;
    // <file>.<host>.<pid>.<random>: the file name itself may contain dots.
    let mut parts = stem.rsplitn(4, '.');
    let _random = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let host = parts.next()?.to_string();
    parts.next()?;
    Some((host, pid))
}

fn age(path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    SystemTime::now().duration_since(modified).ok()
}

/// Whether a process with this id runs on this host (signal 0 checks without sending).
fn process_runs(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// This machine's host name ('.' replaced, since temporary names split on it).
pub fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let name = match r {
        0 => {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        }
        _ => "unknown-host".to_string(),
    };
    name.replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.json");
        super::write(&p, b"first version, long").unwrap();
        super::write(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub")).unwrap().count(),
            1
        );
    }

    #[test]
    fn files_follow_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        // SAFETY: umask only changes this process's file-creation mask.
        let old = unsafe { libc::umask(0o027) };
        let written = super::write(&p, b"x");
        unsafe { libc::umask(old) };
        written.unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn leftovers_of_dead_writers_are_cleaned_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("index.html");
        let live = temp_file_for(&target).unwrap();
        let (_, live_path) = live.keep().unwrap();
        // A writer of this host that no longer runs (pid beyond pid_max).
        let dead = dir.path().join(format!(
            ".index.html.{}.99999999.abc123{TMP_SUFFIX}",
            host()
        ));
        std::fs::write(&dead, b"half").unwrap();
        // A recent leftover of another host is kept: its writer may still run.
        let foreign = dir
            .path()
            .join(format!(".index.html.elsewhere.12.abc123{TMP_SUFFIX}"));
        std::fs::write(&foreign, b"half").unwrap();
        std::fs::write(dir.path().join("index.html"), b"page").unwrap();

        assert_eq!(leftovers(dir.path()).unwrap().len(), 3);
        assert_eq!(clean_leftovers(dir.path()).unwrap(), vec![dead.clone()]);
        assert!(live_path.exists() && foreign.exists() && !dead.exists());
        assert!(target.exists());
    }

    #[test]
    fn temp_names_parse_back_even_with_dots_in_the_file_name() {
        let tmp = temp_file_for(Path::new("/tmp/a.b.c.json")).unwrap();
        let parsed = parse_temp_name(tmp.path()).unwrap();
        assert_eq!(parsed, (host(), std::process::id()));
        assert_eq!(parse_temp_name(Path::new("/tmp/.tmpXYZ")), None);
    }
}
