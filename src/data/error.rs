//! Errors of the data module. Every variant that concerns a file or folder
//! names its path, so a user can find and fix the offending input.

use std::path::PathBuf;

/// What can go wrong while loading, generating, caching or writing data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("dataset root {0} does not exist or is not a directory")]
    RootNotFound(PathBuf),
    #[error("{0}: no domain folders found (expected <root>/<domain>/<class>/<image>)")]
    NoDomains(PathBuf),
    #[error("{root}: domain folder `{domain}` is missing (expected domains: {expected})")]
    MissingDomain {
        root: PathBuf,
        domain: String,
        expected: String,
    },
    #[error("{root}: unexpected domain folder `{domain}` (expected domains: {expected})")]
    UnexpectedDomain {
        root: PathBuf,
        domain: String,
        expected: String,
    },
    #[error("{0}: domain has no class folders")]
    NoClasses(PathBuf),
    #[error("{0}: class folder contains no images")]
    EmptyClass(PathBuf),
    #[error(
        "{domain}: class folders differ from {reference_domain}: missing [{missing}], extra [{extra}]; \
         every domain needs every class folder (DomainBed would label this domain by its own \
         sorted folders, shifting every later class's label)"
    )]
    ClassMismatch {
        domain: PathBuf,
        reference_domain: PathBuf,
        missing: String,
        extra: String,
    },
    #[error("{0}: not an image file (supported: .jpg, .jpeg, .png)")]
    NotAnImage(PathBuf),
    #[error("{0}: unexpected file in a dataset folder (images belong in <domain>/<class>/)")]
    StrayFile(PathBuf),
    #[error("{path}: cannot decode image: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: truncated image: {reason}")]
    Truncated { path: PathBuf, reason: String },
    #[error("{path}: cannot encode PNG: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error("invalid data configuration: {0}")]
    Config(String),
    #[error("{path}: {reason}")]
    BadCache { path: PathBuf, reason: String },
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, DataError>;
