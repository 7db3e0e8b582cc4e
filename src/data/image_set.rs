//! The in-memory dataset every loader and generator produces and every
//! training step reads: 8-bit RGB images of one size, with a class label and
//! a domain per image.
//!
//! Images are kept as u8 HWC (a quarter of the memory of f32) and converted
//! to normalised f32 CHW per batch (`preprocess.rs`, `batch.rs`). Images of a
//! domain are contiguous and in loader order, so DomainBed's per-domain
//! split indices map to global indices by adding the domain's offset.

use std::io::Write;

use sha2::{Digest, Sha256};

use super::error::{DataError, Result};

/// A labelled multi-domain image dataset, all images `height × width` RGB.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    pub height: usize,
    pub width: usize,
    /// `len() * height * width * 3` bytes, image after image, HWC.
    pub pixels: Vec<u8>,
    /// Class index per image (into `class_names`).
    pub labels: Vec<u32>,
    /// Domain index per image (into `domain_names`).
    pub domains: Vec<u16>,
    pub class_names: Vec<String>,
    pub domain_names: Vec<String>,
}

/// Version tag of [`ImageSet::write_canonical`]; bump on any format change.
pub const CANONICAL_MAGIC: &[u8; 16] = b"oodcal-imgset-v1";

impl ImageSet {
    /// An empty set with the given geometry and names.
    pub fn empty(
        height: usize,
        width: usize,
        class_names: Vec<String>,
        domain_names: Vec<String>,
    ) -> Self {
        ImageSet {
            height,
            width,
            pixels: Vec::new(),
            labels: Vec::new(),
            domains: Vec::new(),
            class_names,
            domain_names,
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image (`height * width * 3`).
    pub fn image_bytes(&self) -> usize {
        self.height * self.width * 3
    }

    /// Image `i` as HWC bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_bytes();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Appends one image; `rgb` must be `height * width * 3` bytes.
    pub fn push(&mut self, rgb: &[u8], label: u32, domain: u16) -> Result<()> {
        if rgb.len() != self.image_bytes() {
            return Err(DataError::Config(format!(
                "image has {} bytes, expected {}",
                rgb.len(),
                self.image_bytes()
            )));
        }
        self.pixels.extend_from_slice(rgb);
        self.labels.push(label);
        self.domains.push(domain);
        Ok(())
    }

    /// Global indices of the images of domain `d`, in order.
    pub fn domain_indices(&self, d: usize) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| usize::from(self.domains[i]) == d)
            .collect()
    }

    /// Index of the domain called `name`.
    pub fn domain_index(&self, name: &str) -> Option<usize> {
        self.domain_names.iter().position(|n| n == name)
    }

    /// Image count per (domain, class): `counts[d][c]`.
    pub fn counts(&self) -> Vec<Vec<usize>> {
        let mut c = vec![vec![0; self.class_names.len()]; self.domain_names.len()];
        for (&l, &d) in self.labels.iter().zip(&self.domains) {
            c[usize::from(d)][l as usize] += 1;
        }
        c
    }

    /// Writes the canonical byte form: magic, then little-endian u32 header
    /// (count, height, width, channels = 3, #domains, #classes), each name as
    /// u32 length + UTF-8, per image u32 label + u16 domain, then all pixels.
    /// Independent of any image codec, so its SHA-256 pins the data itself.
    pub fn write_canonical(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(CANONICAL_MAGIC)?;
        for v in [
            self.len(),
            self.height,
            self.width,
            3,
            self.domain_names.len(),
            self.class_names.len(),
        ] {
            w.write_all(&(v as u32).to_le_bytes())?;
        }
        for name in self.domain_names.iter().chain(&self.class_names) {
            w.write_all(&(name.len() as u32).to_le_bytes())?;
            w.write_all(name.as_bytes())?;
        }
        for (&l, &d) in self.labels.iter().zip(&self.domains) {
            w.write_all(&l.to_le_bytes())?;
            w.write_all(&d.to_le_bytes())?;
        }
        w.write_all(&self.pixels)
    }

    /// Parses [`ImageSet::write_canonical`]'s output.
    pub fn read_canonical(bytes: &[u8]) -> std::result::Result<ImageSet, String> {
        let mut r = Reader { b: bytes, at: 0 };
        if r.take(16)? != CANONICAL_MAGIC {
            return Err("not an oodcal image set (bad magic)".into());
        }
        let mut h = [0usize; 6];
        for v in &mut h {
            *v = r.u32()? as usize;
        }
        let [n, height, width, ch, nd, nc] = h;
        if ch != 3 {
            return Err(format!("{ch} channels, expected 3"));
        }
        let mut names = Vec::with_capacity(nd + nc);
        for _ in 0..nd + nc {
            let len = r.u32()? as usize;
            let s = std::str::from_utf8(r.take(len)?).map_err(|e| e.to_string())?;
            names.push(s.to_string());
        }
        let class_names = names.split_off(nd);
        let mut set = ImageSet::empty(height, width, class_names, names);
        for _ in 0..n {
            let l = r.u32()?;
            let d = u16::from_le_bytes(r.take(2)?.try_into().map_err(|_| "short")?);
            if l as usize >= nc || usize::from(d) >= nd {
                return Err(format!("label {l} or domain {d} out of range"));
            }
            set.labels.push(l);
            set.domains.push(d);
        }
        let px = n
            .checked_mul(height * width * 3)
            .ok_or("image count overflows")?;
        set.pixels = r.take(px)?.to_vec();
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        Ok(set)
    }

    /// SHA-256 (lowercase hex) of the canonical byte form.
    pub fn digest(&self) -> String {
        let mut h = HashWriter(Sha256::new());
        // Writing into a hasher cannot fail.
        let _ = self.write_canonical(&mut h);
        hex::encode(h.0.finalize())
    }

    /// A new set holding the images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> ImageSet {
        let mut out = ImageSet::empty(
            self.height,
            self.width,
            self.class_names.clone(),
            self.domain_names.clone(),
        );
        out.pixels.reserve(indices.len() * self.image_bytes());
        for &i in indices {
            out.pixels.extend_from_slice(self.image(i));
            out.labels.push(self.labels[i]);
            out.domains.push(self.domains[i]);
        }
        out
    }
}

/// `io::Write` adapter feeding a SHA-256 hasher.
pub struct HashWriter(pub Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        match end {
            Some(e) => {
                let s = &self.b[self.at..e];
                self.at = e;
                Ok(s)
            }
            None => Err(format!("truncated at byte {} (wanted {n} more)", self.at)),
        }
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ImageSet {
        let mut s = ImageSet::empty(1, 2, vec!["a".into(), "b".into()], vec!["x".into()]);
        s.push(&[1, 2, 3, 4, 5, 6], 1, 0).unwrap();
        s.push(&[9, 9, 9, 9, 9, 9], 0, 0).unwrap();
        s
    }

    #[test]
    fn canonical_round_trip_and_digest_sensitivity() {
        let s = tiny();
        let mut bytes = Vec::new();
        s.write_canonical(&mut bytes).unwrap();
        assert_eq!(ImageSet::read_canonical(&bytes).unwrap(), s);
        let mut t = s.clone();
        t.pixels[0] ^= 1;
        assert_ne!(s.digest(), t.digest());
        assert!(ImageSet::read_canonical(&bytes[..bytes.len() - 1]).is_err());
        assert!(s.clone().push(&[0; 5], 0, 0).is_err());
    }
}
