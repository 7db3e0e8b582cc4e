//! The digest cache's file: plain text, one section per folder, a checksum
//! line last. What the entries mean, and when one may be trusted, is
//! `cache.rs`'s business; this file only reads and writes them.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;

use super::cache::{Entry, Stamp};

/// A SHA-256 as 64 lowercase hex digits (ASCII).
pub(super) type Hex = [u8; 64];

pub(super) fn to_hex(digest: &[u8; 32]) -> Hex {
    let mut out = [0u8; 64];
    hex::encode_to_slice(digest, &mut out).expect("64 hex digits hold 32 bytes");
    out
}

pub(super) fn hex_str(hex: &Hex) -> &str {
    std::str::from_utf8(hex).expect("hex digits are ASCII")
}

/// A loaded section: the entry lines of one folder, sorted by relative path,
/// parsed as they are read (a warm check reads each line once, in order).
#[derive(Clone, Copy)]
pub(super) struct SectionView<'a> {
    pub(super) lines: &'a str,
}

impl<'a> SectionView<'a> {
    /// (relative path, entry), in path-byte order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&'a str, Entry)> + 'a {
        self.lines.split_terminator('\n').filter_map(parse_entry)
    }

    /// Looks up ascending relative paths, advancing through the section once.
    pub(super) fn cursor(&self) -> Cursor<'a> {
        Cursor {
            rest: self.lines,
            ahead: None,
        }
    }
}

/// A position in a section; see `SectionView::cursor`.
#[derive(Default)]
pub(super) struct Cursor<'a> {
    rest: &'a str,
    /// The entry read last, when it sorted after the path asked for.
    ahead: Option<(&'a str, Entry)>,
}

impl Cursor<'_> {
    /// The entry for `rel`, which must sort after every path asked before.
    pub(super) fn find(&mut self, rel: &str) -> Option<Entry> {
        loop {
            let (line_rel, entry) = match self.ahead.take() {
                Some(next) => next,
                None => {
                    if self.rest.is_empty() {
                        return None;
                    }
                    let (line, rest) = self.rest.split_once('\n').unwrap_or((self.rest, ""));
                    self.rest = rest;
                    match parse_entry(line) {
                        Some(next) => next,
                        None => continue,
                    }
                }
            };
            match line_rel.cmp(rel) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Some(entry),
                std::cmp::Ordering::Greater => {
                    self.ahead = Some((line_rel, entry));
                    return None;
                }
            }
        }
    }
}

/// New entries of one folder, by relative path.
pub(super) type Section = BTreeMap<String, Entry>;

/// First line of the cache file. The format is plain text: after the header,
/// a line holding an absolute folder path opens that folder's section, whose
/// entry lines follow, sorted by relative path: `sha256, size, mtime_ns,
/// ctime_ns, inode, hashed_at_ns, relative path`, separated by tabs. The last
/// line, `end <checksum>`, holds a 64-bit checksum of everything before it.
/// (Version 3 had a checksum of its own making; version 2 keyed every entry
/// by its absolute path, in no order. Older caches are ignored and rebuilt.)
const HEADER: &str = "oodcal-digest-cache\t4\n";
pub(super) const FOOTER: &str = "end\t";

/// The sections of a cache file (folder → byte range of its entry lines),
/// or `None` unless it is complete and undamaged: this version, and the
/// checksum of the end line matches. A damaged cache is rebuilt, never partly
/// trusted; checking a checksum costs far less than parsing every line.
pub(super) fn parse(text: &str) -> Option<HashMap<PathBuf, Range<usize>>> {
    let body = text.strip_suffix('\n')?;
    let footer_at = body.rfind('\n').map_or(0, |i| i + 1);
    let sum = body[footer_at..].strip_prefix(FOOTER)?;
    let body = &text[..footer_at];
    if !body.starts_with(HEADER) || sum != format!("{:016x}", checksum(body.as_bytes())) {
        return None;
    }
    let mut sections = HashMap::new();
    let mut open: Option<(PathBuf, usize)> = None;
    let mut at = HEADER.len();
    while at < footer_at {
        let end = at + body[at..].find('\n')?;
        if body[at..].starts_with('/') {
            if let Some((dir, start)) = open.take() {
                sections.insert(dir, start..at);
            }
            open = Some((PathBuf::from(&body[at..end]), end + 1));
        } else if open.is_none() {
            return None;
        }
        at = end + 1;
    }
    if let Some((dir, start)) = open {
        sections.insert(dir, start..footer_at);
    }
    Some(sections)
}

/// XXH3-64 of the text before the end line: not cryptographic, it guards
/// against damage (a torn or edited file), and whoever can write the cache can
/// write the data too.
fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// One entry line; `None` if it is malformed (never trusted, then). One
/// pass over its bytes: 10,000 of these are most of a warm check's own work.
fn parse_entry(line: &str) -> Option<(&str, Entry)> {
    let b = line.as_bytes();
    let sha256: Hex = b.get(..64)?.try_into().ok()?;
    let is_hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
    if !sha256.iter().all(is_hex) || b.get(64) != Some(&b'\t') {
        return None;
    }
    let mut at = 65;
    let mut field = || {
        let len = b[at..].iter().position(|&c| c == b'\t')?;
        let n = parse_int(&b[at..at + len]);
        at += len + 1;
        n
    };
    let size = field()?.try_into().ok()?;
    let mtime_ns = field()?;
    let ctime_ns = field()?;
    let inode = field()?.try_into().ok()?;
    let hashed_at_ns = field()?;
    let rel = &line[at..];
    if rel.is_empty() {
        return None;
    }
    let stamp = Stamp {
        size,
        mtime_ns,
        ctime_ns,
        inode,
    };
    Some((rel, Entry::new(stamp, hashed_at_ns, sha256)))
}

/// A decimal integer (`-`? digits, at most 38 of them): a plain loop over
/// bytes, in 64 bits while it fits (nanosecond times have 19 digits), several
/// times faster than `str::parse::<i128>`.
fn parse_int(s: &[u8]) -> Option<i128> {
    let (negative, digits) = match s.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() || digits.len() > 38 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (head, tail) = digits.split_at(digits.len().min(19));
    let mut n = i128::from(head.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')));
    for d in tail {
        n = n * 10 + i128::from(d - b'0');
    }
    Some(if negative { -n } else { n })
}

pub(super) fn render(sections: &BTreeMap<PathBuf, Section>) -> String {
    let n: usize = sections.values().map(BTreeMap::len).sum();
    let mut out = String::with_capacity(64 + n * 160);
    out.push_str(HEADER);
    for (dir, section) in sections {
        let Some(d) = dir
            .to_str()
            .filter(|d| d.starts_with('/') && !d.contains('\n'))
        else {
            continue;
        };
        out.push_str(d);
        out.push('\n');
        for (rel, e) in section {
            if rel.is_empty() || rel.contains('\n') {
                continue;
            }
            let s = e.stamp;
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{rel}",
                hex_str(&e.sha256),
                s.size,
                s.mtime_ns,
                s.ctime_ns,
                s.inode,
                e.hashed_at_ns
            );
        }
    }
    let sum = checksum(out.as_bytes());
    let _ = writeln!(out, "{FOOTER}{sum:016x}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_and_the_integer_parser() {
        // The checksum alters with a flipped bit, wherever it is.
        let base = vec![7u8; 101];
        for i in 0..base.len() {
            let mut b = base.clone();
            b[i] ^= 0x80;
            assert_ne!(checksum(&b), checksum(&base), "byte {i}");
        }
        let int = |s: &str| parse_int(s.as_bytes());
        assert_eq!(int("-120"), Some(-120));
        assert_eq!(int("1795839946990772734"), Some(1795839946990772734));
        assert_eq!(int("99999999999999999999"), Some(99999999999999999999));
        assert_eq!(int(&i128::MIN.to_string()[1..]), None);
        for bad in ["", "-", "+1", "1a", " 1"] {
            assert_eq!(int(bad), None);
        }
    }
}
