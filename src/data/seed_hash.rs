//! DomainBed's `misc.seed_hash`: the seed of each environment's split.
//!
//! ```python
//! def seed_hash(*args):
//!     args_str = str(args)
//!     return int(hashlib.md5(args_str.encode("utf-8")).hexdigest(), 16) % (2**31)
//! ```
//!
//! DomainBed calls it as `seed_hash(trial_seed, env_i)`, so the hashed text
//! is Python's tuple repr, e.g. `"(0, 1)"`; MD5 comes from RustCrypto's
//! `md-5`, the sibling of the `sha2` used everywhere else.

/// `misc.seed_hash(trial_seed, env_i)` for non-negative integers.
pub fn domainbed_seed_hash(trial_seed: u64, env_i: u64) -> u32 {
    let text = format!("({trial_seed}, {env_i})");
    let d = md5(text.as_bytes());
    // int(hex, 16) % 2**31 keeps the low 31 bits of the big-endian number.
    u32::from_be_bytes([d[12], d[13], d[14], d[15]]) & 0x7FFF_FFFF
}

/// MD5 digest of `data` (RFC 1321).
pub fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_test_vectors() {
        assert_eq!(hex::encode(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex::encode(md5(b"(0, 0)")),
            "bb9fd77684530503f3765280b54c2413"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(hex::encode(md5(&long)), "cabe45dcc9ae5b66ba86600cca6b8ba8");
    }

    #[test]
    fn seed_hash_matches_python() {
        // Values printed by DomainBed's misc.seed_hash in Python.
        assert_eq!(domainbed_seed_hash(0, 0), 894_182_419);
        assert_eq!(domainbed_seed_hash(0, 1), 1_514_274_641);
        assert_eq!(domainbed_seed_hash(1, 3), 1_739_848_239);
    }
}
