//! `oodcal bench verify`: checking a folder disk-cold, cold and warm, in
//! process and as whole `oodcal verify` commands, beside `sha256sum`.

use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::median;
use crate::checksum::{hash_tree_files, list_files, page_cache, DigestCache};

/// The `oodcal verify NAME` command to time, when the folder is a pinned input.
pub struct VerifyCommand {
    pub input: String,
    pub manifest: PathBuf,
    pub data_root: PathBuf,
}

/// Checks of a folder from three starting points: disk-cold (empty digest
/// cache, the folder's pages evicted from the page cache, as on the first
/// `verify` after the data arrives), cold (empty digest cache, files in the
/// page cache) and warm (digest cache filled by the cold check). Timed in
/// process (walk, stat, hash through the digest cache, canonical listing,
/// cache save) and, when the folder is a manifest input, as whole `oodcal
/// verify NAME` commands (process start, manifest, listing check included);
/// `sha256sum` over the same files, in the same run, is the peer. Each
/// figure is the median of `repeats` runs.
pub fn print_verify_timings(
    folder: &Path,
    command: Option<&VerifyCommand>,
    repeats: usize,
) -> Result<()> {
    let repeats = repeats.max(1);
    let files = list_files(folder)?;
    let bytes: u64 = files
        .iter()
        .map(|rel| std::fs::metadata(folder.join(rel)).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;
    let (mut disk, mut cold, mut warm, mut walk, mut resident) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut text = String::new();
    for _ in 0..repeats {
        let scratch = tempfile::tempdir()?;
        let check = |cache_file: &Path| -> Result<(f64, String)> {
            let t = Instant::now();
            let cache = DigestCache::load(cache_file);
            let text = hash_tree_files(folder, &cache, "check")?.to_text()?;
            cache.save()?;
            Ok((t.elapsed().as_secs_f64(), text))
        };
        page_cache::evict(folder, &files)?;
        resident.push(page_cache::resident_fraction(folder, &files)?);
        let (d, disk_text) = check(&scratch.path().join("disk-cold"))?;
        let cache_file = scratch.path().join("cold");
        let (c, cold_text) = check(&cache_file)?;
        let written = std::fs::read(&cache_file)?;
        let (w, warm_text) = check(&cache_file)?;
        anyhow::ensure!(
            disk_text == cold_text && cold_text == warm_text,
            "disk-cold, cold and warm listings differ"
        );
        anyhow::ensure!(
            std::fs::read(&cache_file)? == written,
            "an unchanged warm check rewrote the cache"
        );
        let t = Instant::now();
        list_files(folder)?;
        walk.push(t.elapsed().as_secs_f64());
        disk.push(d);
        cold.push(c);
        warm.push(w);
        text = cold_text;
    }
    let (disk, cold, warm) = (median(&mut disk), median(&mut cold), median(&mut warm));
    println!(
        "{} files, {:.1} MiB, tree digest {}",
        files.len(),
        bytes as f64 / (1024.0 * 1024.0),
        crate::checksum::sha256_bytes(text.as_bytes())
    );
    println!(
        "disk-cold: pages evicted with posix_fadvise(DONTNEED) first, {:.1}% still resident (median)",
        100.0 * median(&mut resident)
    );
    println!("in process:         {}", three_starts(disk, cold, warm));
    println!(
        "walk + stat alone:  {:.1} ms (the floor of a warm check: one stat per file)",
        median(&mut walk) * 1e3
    );
    if let Some(command) = command {
        let [disk, cold, warm] = time_verify_command(command, (folder, &files), repeats)?;
        println!(
            "oodcal verify {}: {}",
            command.input,
            three_starts(disk, cold, warm)
        );
    }
    match time_sha256sum(folder, &files, &text, repeats)? {
        Some([s_disk, s_cached]) => println!(
            "sha256sum (1 thread, same files, same output): disk-cold {:.1} ms, cached {:.1} ms \
             (oodcal is {:.1}x / {:.1}x faster)",
            s_disk * 1e3,
            s_cached * 1e3,
            s_disk / disk,
            s_cached / cold
        ),
        None => println!("sha256sum: not available"),
    }
    Ok(())
}

fn three_starts(disk: f64, cold: f64, warm: f64) -> String {
    format!(
        "disk-cold {:.1} ms, cold {:.1} ms, warm {:.1} ms (warm is {:.1}x faster than disk-cold, {:.1}x than cold)",
        disk * 1e3,
        cold * 1e3,
        warm * 1e3,
        disk / warm,
        cold / warm
    )
}

/// Median wall times of `oodcal verify NAME` disk-cold, cold and warm (see
/// `print_verify_timings`); the files of `folder` are evicted before each disk-cold run.
fn time_verify_command(
    command: &VerifyCommand,
    (folder, files): (&Path, &[String]),
    repeats: usize,
) -> Result<[f64; 3]> {
    let exe = std::env::current_exe()?;
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..repeats {
        let (disk_cache, cache) = (tempfile::tempdir()?, tempfile::tempdir()?);
        page_cache::evict(folder, files)?;
        for (i, cache_dir) in [&disk_cache, &cache, &cache].into_iter().enumerate() {
            let t = Instant::now();
            let out = std::process::Command::new(&exe)
                .arg("verify")
                .arg(&command.input)
                .arg("--manifest")
                .arg(&command.manifest)
                .arg("--data-root")
                .arg(&command.data_root)
                .arg("--cache-dir")
                .arg(cache_dir.path())
                .output()?;
            times[i].push(t.elapsed().as_secs_f64());
            anyhow::ensure!(
                out.status.success(),
                "oodcal verify {} failed:\n{}",
                command.input,
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    Ok(times.map(|mut t| median(&mut t)))
}

/// Median wall times of `sha256sum` over `files` (run inside `folder`, sorted
/// paths as arguments, so its output must equal `expected`), disk-cold
/// (pages evicted first) and cached.
fn time_sha256sum(
    folder: &Path,
    files: &[String],
    expected: &str,
    repeats: usize,
) -> Result<Option<[f64; 2]>> {
    let mut times: [Vec<f64>; 2] = Default::default();
    for _ in 0..repeats {
        page_cache::evict(folder, files)?;
        for run in &mut times {
            let t = Instant::now();
            let mut output = Vec::new();
            for chunk in files.chunks(2000) {
                let out = match std::process::Command::new("sha256sum")
                    .arg("--")
                    .args(chunk)
                    .current_dir(folder)
                    .output()
                {
                    Ok(out) => out,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                anyhow::ensure!(out.status.success(), "sha256sum failed");
                output.extend(out.stdout);
            }
            run.push(t.elapsed().as_secs_f64());
            anyhow::ensure!(
                output == expected.as_bytes(),
                "sha256sum's listing differs from oodcal's"
            );
        }
    }
    Ok(Some(times.map(|mut t| median(&mut t))))
}
