//! SHA-256 of files and folders, and a cache that makes re-verification cheap.
//!
//! Files are pinned by their SHA-256. Folders are pinned by a *listing* in the
//! format of coreutils' `sha256sum` (one `<hex>  <relative path>` line per file,
//! sorted by path bytes), and by the SHA-256 of that listing, the tree digest.
//! A user can therefore check a folder with standard tools:
//! `cd PACS && sha256sum -c listing` and `sha256sum listing`.

mod cache;
mod cache_file;
mod file;
mod listing;
pub mod page_cache;
mod tree;

pub use cache::DigestCache;
pub use file::{sha256_bytes, sha256_file};
pub use listing::{Listing, ListingError, TREE_DIGEST_VERSION};
pub use tree::{hash_tree, hash_tree_files, list_files, TreeDiff, TreeHashes};

/// An I/O error that names the file it happened on: the bare `io::Error` of a
/// failed read or `stat` says what went wrong but not where.
fn at(path: &std::path::Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
