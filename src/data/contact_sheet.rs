//! Contact sheets: one PNG showing a dataset at a glance, so a person can
//! check that domains look different and classes are recognisable.
//!
//! Layout: one row per class; one column group per domain (separated by a
//! wider gap), `per_cell` samples each (the first `per_cell` images of that
//! domain and class, in dataset order), each image magnified `zoom` times by
//! pixel repetition. The PNG is deterministic for a given data set.

use std::path::Path;

use super::error::Result;
use super::image_set::ImageSet;

const GAP: usize = 2;
const GROUP_GAP: usize = 10;
const BACKGROUND: [u8; 3] = [40, 40, 40];

/// Renders the sheet as RGB bytes; returns `(width, height, rgb)`.
pub fn contact_sheet(set: &ImageSet, per_cell: usize, zoom: usize) -> (usize, usize, Vec<u8>) {
    let (nd, nc) = (set.domain_names.len(), set.class_names.len());
    let (iw, ih) = (set.width * zoom, set.height * zoom);
    let group_w = per_cell * (iw + GAP);
    let width = GROUP_GAP + nd * (group_w + GROUP_GAP);
    let height = GAP + nc * (ih + GAP);
    let mut out = vec![0u8; width * height * 3];
    for px in out.chunks_exact_mut(3) {
        px.copy_from_slice(&BACKGROUND);
    }
    let mut seen = vec![vec![0usize; nc]; nd];
    for i in 0..set.len() {
        let (d, c) = (usize::from(set.domains[i]), set.labels[i] as usize);
        let k = seen[d][c];
        if k >= per_cell {
            continue;
        }
        seen[d][c] += 1;
        let x0 = GROUP_GAP + d * (group_w + GROUP_GAP) + k * (iw + GAP);
        let y0 = GAP + c * (ih + GAP);
        blit(set, i, zoom, &mut out, width, x0, y0);
    }
    (width, height, out)
}

fn blit(set: &ImageSet, i: usize, zoom: usize, out: &mut [u8], width: usize, x0: usize, y0: usize) {
    let img = set.image(i);
    for y in 0..set.height * zoom {
        for x in 0..set.width * zoom {
            let s = ((y / zoom) * set.width + x / zoom) * 3;
            let d = ((y0 + y) * width + x0 + x) * 3;
            out[d..d + 3].copy_from_slice(&img[s..s + 3]);
        }
    }
}

/// Writes the sheet to `path` as PNG.
pub fn write_contact_sheet(
    set: &ImageSet,
    path: &Path,
    per_cell: usize,
    zoom: usize,
) -> Result<()> {
    let (w, h, rgb) = contact_sheet(set, per_cell.max(1), zoom.max(1));
    super::export::write_png(path, w, h, &rgb)
}
