//! Loading DomainBed image folders: `<root>/<domain>/<class>/<image>`.
//!
//! Scanning reproduces DomainBed's order exactly — domains and classes are
//! sorted folder names, and images follow torchvision `ImageFolder`'s
//! `sorted(os.walk(class_dir))` then `sorted(file names)` — so image `i` of a
//! domain here is image `i` of that environment in DomainBed, and split
//! indices computed here select the same images.
//!
//! Unlike DomainBed (which skips unknown files and lets PIL fail late), the
//! scan is strict: a non-image file, an empty class, a missing or unexpected
//! domain and class sets that differ between domains are errors naming the
//! path. Hidden files and folders (names starting with `.`) are ignored
//! (DomainBed would treat a hidden folder as a domain or class). Decoding runs in
//! parallel (rayon) and reports the first failing file in dataset order.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::domainbed::DatasetInfo;
use super::error::{DataError, Result};
use super::image_set::ImageSet;
use super::resize::resize_rgb_u8;

/// One image file of the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderEntry {
    pub path: PathBuf,
    pub domain: u16,
    pub label: u32,
}

/// The validated file list of an image-folder dataset, in DomainBed order.
#[derive(Clone, Debug)]
pub struct FolderIndex {
    pub root: PathBuf,
    pub domain_names: Vec<String>,
    pub class_names: Vec<String>,
    pub files: Vec<FolderEntry>,
}

impl FolderIndex {
    /// Image count per (domain, class): `counts[d][c]`.
    pub fn counts(&self) -> Vec<Vec<usize>> {
        let mut c = vec![vec![0; self.class_names.len()]; self.domain_names.len()];
        for f in &self.files {
            c[usize::from(f.domain)][f.label as usize] += 1;
        }
        c
    }

    /// Images per domain.
    pub fn domain_sizes(&self) -> Vec<usize> {
        self.counts().iter().map(|c| c.iter().sum()).collect()
    }

    /// A cheap identity of the folder: SHA-256 over every file's relative
    /// path, size and modification time. It does not read contents, so it
    /// is *not* a content checksum; prefer a verified tree digest as a
    /// cache key, and use this only where none is available.
    pub fn listing_digest(&self) -> Result<String> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for f in &self.files {
            let meta = fs::metadata(&f.path).map_err(|e| DataError::io(&f.path, e))?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let rel = f.path.strip_prefix(&self.root).unwrap_or(&f.path);
            h.update(format!("{}\0{}\0{}\n", rel.display(), meta.len(), mtime).as_bytes());
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// Extensions accepted as images (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Sorted names of the non-hidden sub-folders of `dir`; with `strict`,
/// non-hidden plain files are an error.
fn sub_dirs(dir: &Path, strict: bool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_hidden(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            out.push(name);
        } else if strict {
            return Err(DataError::StrayFile(path));
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn list(names: &[String]) -> String {
    names.join(", ")
}

/// Checks the domain folders against `expect`'s list (if any).
fn check_domains(root: &Path, found: &[String], expect: Option<&DatasetInfo>) -> Result<()> {
    if found.is_empty() {
        return Err(DataError::NoDomains(root.to_path_buf()));
    }
    let Some(info) = expect else { return Ok(()) };
    let expected = info.domains.join(", ");
    if let Some(d) = info.domains.iter().find(|d| !found.iter().any(|f| f == *d)) {
        return Err(DataError::MissingDomain {
            root: root.to_path_buf(),
            domain: d.to_string(),
            expected,
        });
    }
    if let Some(f) = found.iter().find(|f| !info.domains.contains(&f.as_str())) {
        return Err(DataError::UnexpectedDomain {
            root: root.to_path_buf(),
            domain: f.clone(),
            expected,
        });
    }
    Ok(())
}

fn class_mismatch(
    domain: &Path,
    reference: PathBuf,
    found: &[String],
    want: &[String],
) -> DataError {
    let missing: Vec<String> = want
        .iter()
        .filter(|c| !found.contains(c))
        .cloned()
        .collect();
    let extra: Vec<String> = found
        .iter()
        .filter(|c| !want.contains(c))
        .cloned()
        .collect();
    DataError::ClassMismatch {
        domain: domain.to_path_buf(),
        reference_domain: reference,
        missing: list(&missing),
        extra: list(&extra),
    }
}

/// Image files under a class folder, in `sorted(os.walk)` order: grouped by
/// directory (directories sorted by path), names sorted within each.
fn class_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<(String, String, PathBuf)> = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(&e.file_name().to_string_lossy()));
    for entry in walk {
        let entry = entry.map_err(|e| {
            let p = e.path().unwrap_or(dir).to_path_buf();
            DataError::io(
                p,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path().to_path_buf();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        if !ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
            return Err(DataError::NotAnImage(path));
        }
        let parent = path
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((parent, name, path));
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::EmptyClass(dir.to_path_buf()));
    }
    Ok(files.into_iter().map(|f| f.2).collect())
}

/// Scans and validates `root`. With `expect`, the domains and classes must
/// be exactly that dataset's; without, domains are the sub-folders and the
/// first domain's classes are the reference every other domain must match.
pub fn scan_image_folder(root: &Path, expect: Option<&DatasetInfo>) -> Result<FolderIndex> {
    if !root.is_dir() {
        return Err(DataError::RootNotFound(root.to_path_buf()));
    }
    let domains = sub_dirs(root, false)?;
    check_domains(root, &domains, expect)?;
    let (reference, ref_path): (Option<Vec<String>>, PathBuf) = match expect {
        Some(info) => (
            Some(info.classes.iter().map(|s| s.to_string()).collect()),
            PathBuf::from(format!("DomainBed's {} class list", info.name)),
        ),
        None => (None, root.join(&domains[0])),
    };
    let mut class_names = reference;
    let mut files = Vec::new();
    for (d, domain) in domains.iter().enumerate() {
        let ddir = root.join(domain);
        let classes = sub_dirs(&ddir, true)?;
        if classes.is_empty() {
            return Err(DataError::NoClasses(ddir));
        }
        match &class_names {
            Some(want) if *want != classes => {
                return Err(class_mismatch(&ddir, ref_path, &classes, want));
            }
            Some(_) => {}
            None => class_names = Some(classes.clone()),
        }
        for (c, class) in classes.iter().enumerate() {
            for path in class_files(&ddir.join(class))? {
                files.push(FolderEntry {
                    path,
                    domain: d as u16,
                    label: c as u32,
                });
            }
        }
    }
    Ok(FolderIndex {
        root: root.to_path_buf(),
        domain_names: domains,
        class_names: class_names.unwrap_or_default(),
        files,
    })
}

/// Decodes one JPEG or PNG file to RGB8 and resizes it to `w × h`
/// (PIL-style bilinear). Grey and alpha images become RGB (alpha dropped,
/// as PIL's `convert("RGB")` does).
pub fn decode_file(path: &Path, w: usize, h: usize) -> Result<Vec<u8>> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_bytes(path, &bytes, w, h)
}

/// [`decode_file`] on bytes already read (`path` names them in errors).
pub fn decode_bytes(path: &Path, bytes: &[u8], w: usize, h: usize) -> Result<Vec<u8>> {
    check_complete(path, bytes)?;
    let img = image::load_from_memory(bytes).map_err(|e| DataError::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let rgb = img.to_rgb8();
    let (sw, sh) = (rgb.width() as usize, rgb.height() as usize);
    if sw == 0 || sh == 0 {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "image has no pixels".into(),
        });
    }
    Ok(resize_rgb_u8(rgb.as_raw(), sw, sh, w, h))
}

/// Rejects files that are not JPEG/PNG by signature, and JPEGs/PNGs that
/// are cut short: a JPEG must end with its EOI marker (`FF D9`, trailing
/// zero/whitespace padding allowed), a PNG with its `IEND` chunk. Image
/// decoders often fill a truncated image with grey and succeed, which would
/// silently corrupt the data.
fn check_complete(path: &Path, bytes: &[u8]) -> Result<()> {
    const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const PNG_END: &[u8] = b"IEND\xAE\x42\x60\x82";
    let truncated = |reason: &str| DataError::Truncated {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let end = bytes
            .iter()
            .rposition(|b| !matches!(b, 0 | b' ' | b'\n' | b'\r' | b'\t'))
            .map_or(0, |i| i + 1);
        if end < 4 || bytes[end - 2..end] != [0xFF, 0xD9] {
            return Err(truncated("JPEG does not end with an EOI marker"));
        }
        Ok(())
    } else if bytes.starts_with(PNG_SIG) {
        if !bytes.ends_with(PNG_END) {
            return Err(truncated("PNG does not end with an IEND chunk"));
        }
        Ok(())
    } else {
        Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "not a JPEG or PNG file (unrecognised signature)".into(),
        })
    }
}

/// Decodes every image of `index`, resized to `w × h`, in parallel. The
/// result is in index order whatever the thread count; on failure the error
/// of the first failing file in index order is returned.
pub fn decode_index(index: &FolderIndex, w: usize, h: usize) -> Result<ImageSet> {
    if w == 0 || h == 0 {
        return Err(DataError::Config(format!(
            "cannot resize images to {w}x{h}"
        )));
    }
    let decoded: Vec<Result<Vec<u8>>> = index
        .files
        .par_iter()
        .map(|f| decode_file(&f.path, w, h))
        .collect();
    let mut set = ImageSet::empty(h, w, index.class_names.clone(), index.domain_names.clone());
    set.pixels.reserve(index.files.len() * w * h * 3);
    for (f, img) in index.files.iter().zip(decoded) {
        set.push(&img?, f.label, f.domain)?;
    }
    Ok(set)
}

/// Scans, validates and decodes `root` in one call.
pub fn load_image_folder(
    root: &Path,
    expect: Option<&DatasetInfo>,
    w: usize,
    h: usize,
) -> Result<ImageSet> {
    let index = scan_image_folder(root, expect)?;
    decode_index(&index, w, h)
}
