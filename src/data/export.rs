//! Writing a data set to disk: PNG files in DomainBed's folder layout
//! (`<root>/<domain>/<class>/<index>.png`), so the generated benchmark can be
//! inspected, pinned by a tree digest, and read back by the image-folder
//! loader exactly like PACS.
//!
//! PNG bytes depend on the `png` crate's encoder version; to pin the data
//! independently of any codec, use [`ImageSet::digest`] (canonical bytes).

use std::fs;
use std::io::BufWriter;
use std::path::Path;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use rayon::prelude::*;

use super::error::{DataError, Result};
use super::image_set::ImageSet;

/// Encodes `rgb` (`w × h × 3`) as a PNG at `path` (fixed encoder settings,
/// so the bytes are deterministic for a given `png` crate version).
pub fn write_png(path: &Path, w: usize, h: usize, rgb: &[u8]) -> Result<()> {
    let file = fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    let enc = PngEncoder::new_with_quality(
        BufWriter::new(file),
        CompressionType::Default,
        FilterType::Adaptive,
    );
    enc.write_image(rgb, w as u32, h as u32, ExtendedColorType::Rgb8)
        .map_err(|e| DataError::Encode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// File name of the `k`-th image of a (domain, class) folder. Zero-padded so
/// that name order (what DomainBed's loader sorts by) equals index order.
pub fn image_file_name(k: usize) -> String {
    format!("{k:06}.png")
}

/// Writes every image to `<root>/<domain>/<class>/<k>.png`, `k` counting
/// within its (domain, class) in dataset order. Creates the folders and
/// overwrites files of the same name (other files under `root` are left
/// alone, and would then be picked up by a loader: export into an empty
/// folder).
pub fn export_domainbed(set: &ImageSet, root: &Path) -> Result<()> {
    for d in &set.domain_names {
        for c in &set.class_names {
            let dir = root.join(d).join(c);
            fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        }
    }
    let mut seen = vec![vec![0usize; set.class_names.len()]; set.domain_names.len()];
    let jobs: Vec<(usize, std::path::PathBuf)> = (0..set.len())
        .map(|i| {
            let (d, c) = (usize::from(set.domains[i]), set.labels[i] as usize);
            let k = seen[d][c];
            seen[d][c] += 1;
            let p = root
                .join(&set.domain_names[d])
                .join(&set.class_names[c])
                .join(image_file_name(k));
            (i, p)
        })
        .collect();
    jobs.par_iter()
        .try_for_each(|(i, p)| write_png(p, set.width, set.height, set.image(*i)))
}
