//! Streaming SHA-256 of single files.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Buffer size for streaming reads: large enough that syscalls do not dominate.
const CHUNK: usize = 1 << 20;

/// Hex SHA-256 of a byte slice.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of a file's contents, read in chunks so large weights files do
/// not need to fit in memory twice.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_file_raw(path).map(hex::encode)
}

/// SHA-256 of a file's contents, as bytes.
pub(super) fn sha256_file_raw(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&hasher.finalize());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 3 * CHUNK + 5]).unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            sha256_bytes(&vec![7u8; 3 * CHUNK + 5])
        );
    }
}
