//! The `sha256sum`-format listing of a folder and its tree digest.
//!
//! Tree digest version 1 (`oodcal-tree-v1`): the SHA-256 of the listing text,
//! where the listing has one line `<64 lowercase hex>  <relative path>\n` per
//! regular file, relative paths use `/`, and lines are sorted by the bytes of
//! the path. Paths containing a newline or backslash are refused (sha256sum
//! would escape them, which would make the format ambiguous).

use std::collections::BTreeMap;
use std::path::Path;

use super::file::sha256_bytes;

/// Name of the folder-digest scheme, recorded in the data manifest.
pub const TREE_DIGEST_VERSION: &str = "oodcal-tree-v1";

/// Relative path → hex SHA-256, ordered by path bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ListingError {
    #[error("{file}:{line}: expected `<64 hex digits>  <path>`")]
    Malformed { file: String, line: usize },
    #[error("{file}:{line}: path `{path}` appears twice")]
    Duplicate {
        file: String,
        line: usize,
        path: String,
    },
    #[error("path `{0}` contains a newline or backslash, which the listing format cannot hold")]
    UnsupportedPath(String),
}

impl Listing {
    /// Canonical text of the listing (what the tree digest hashes).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.files.len() * 100);
        for (path, digest) in &self.files {
            out.push_str(digest);
            out.push_str("  ");
            out.push_str(path);
            out.push('\n');
        }
        out
    }

    /// The tree digest: SHA-256 of the canonical text.
    pub fn tree_digest(&self) -> String {
        sha256_bytes(self.to_text().as_bytes())
    }

    /// Adds one file, refusing paths the format cannot represent.
    pub fn insert(&mut self, path: String, digest: String) -> Result<(), ListingError> {
        Self::check_path(&path)?;
        self.files.insert(path, digest);
        Ok(())
    }

    /// Refuses paths the format cannot represent.
    pub fn check_path(path: &str) -> Result<(), ListingError> {
        if path.contains('\n') || path.contains('\\') {
            return Err(ListingError::UnsupportedPath(path.to_string()));
        }
        Ok(())
    }

    /// Parses a listing file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Listing, ListingError> {
        let file = origin.display().to_string();
        let mut listing = Listing::default();
        for (i, line) in text.lines().enumerate() {
            let lineno = i + 1;
            let (digest, path) = split_line(line).ok_or_else(|| ListingError::Malformed {
                file: file.clone(),
                line: lineno,
            })?;
            if listing.files.contains_key(path) {
                return Err(ListingError::Duplicate {
                    file: file.clone(),
                    line: lineno,
                    path: path.to_string(),
                });
            }
            listing.insert(path.to_string(), digest.to_string())?;
        }
        Ok(listing)
    }
}

/// Splits `<hex>  <path>` (sha256sum's text mode; `*` binary marker accepted).
fn split_line(line: &str) -> Option<(&str, &str)> {
    let (digest, rest) = line.split_at_checked(64)?;
    let is_hex = digest
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let path = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    (is_hex && !path.is_empty()).then_some((digest, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn text_is_sorted_and_round_trips() {
        let mut l = Listing::default();
        l.insert("b/x.png".into(), d('b')).unwrap();
        l.insert("a/y.jpg".into(), d('a')).unwrap();
        let text = l.to_text();
        assert!(text.starts_with(&format!("{}  a/y.jpg\n", d('a'))));
        let back = Listing::parse(&text, Path::new("x.sha256")).unwrap();
        assert_eq!(back, l);
        assert_eq!(back.tree_digest(), sha256_bytes(text.as_bytes()));
    }

    #[test]
    fn malformed_lines_are_named() {
        let text = format!("{}  ok\nnot a line\n", d('c'));
        let err = Listing::parse(&text, Path::new("l.sha256")).unwrap_err();
        assert_eq!(
            err,
            ListingError::Malformed {
                file: "l.sha256".into(),
                line: 2
            }
        );
        let dup = format!("{}  p\n{}  p\n", d('c'), d('d'));
        assert!(matches!(
            Listing::parse(&dup, Path::new("l")),
            Err(ListingError::Duplicate { line: 2, .. })
        ));
        assert!(Listing::default().insert("a\\b".into(), d('e')).is_err());
    }
}
