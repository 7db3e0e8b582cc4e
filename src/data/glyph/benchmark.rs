//! `glyph-dg`: the procedural multi-domain benchmark of the quick study.
//!
//! Seven shape classes (mirroring PACS's seven) drawn in four styles that
//! mirror PACS's domains (`art`, `cartoon`, `photo`, `sketch`; see
//! `render.rs`). Every image is a pure function of `(seed, domain, class,
//! index, size)` — [`glyph_dg_image`] — so the data is identical whatever the
//! thread count or generation order, and on every machine (the rasteriser
//! and random streams use only platform-exact arithmetic).
//!
//! Within a domain, images are class-balanced and ordered class-major, index
//! minor: exactly the order a DomainBed loader reads the exported PNG folder
//! in (`export.rs`), so split indices agree between the two.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::render::{render, Rendered, Style};
use super::shapes::{benchmark_shape, Shape, GLYPH_DG_CLASSES};
use crate::data::error::{DataError, Result};
use crate::data::image_set::ImageSet;
use crate::data::rng::DetRng;

/// Key salt separating benchmark streams from corpus streams.
const GLYPH_DG_SALT: u64 = 0x676C_7970_682D_6467; // "glyph-dg"

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlyphDgSpec {
    pub seed: u64,
    /// Images per domain (spread evenly over the 7 classes).
    pub per_domain: usize,
    /// Side in pixels (images are square RGB).
    pub size: usize,
    /// Domains, in dataset order. Default: art, cartoon, photo, sketch.
    pub domains: Vec<Style>,
}

impl Default for GlyphDgSpec {
    /// 700 images per domain (100 per class) at 32×32, seed 0.
    fn default() -> Self {
        GlyphDgSpec {
            seed: 0,
            per_domain: 700,
            size: 32,
            domains: Style::BENCHMARK.to_vec(),
        }
    }
}

impl GlyphDgSpec {
    fn validate(&self) -> Result<()> {
        if !(8..=1024).contains(&self.size) {
            return Err(DataError::Config(format!(
                "glyph-dg size {} not in 8..=1024",
                self.size
            )));
        }
        if self.domains.is_empty() {
            return Err(DataError::Config(
                "glyph-dg needs at least one domain".into(),
            ));
        }
        let mut d = self.domains.clone();
        d.sort();
        d.dedup();
        if d.len() != self.domains.len() {
            return Err(DataError::Config("glyph-dg domains repeat".into()));
        }
        Ok(())
    }

    /// `(class, index)` of every image of one domain, in dataset order.
    pub fn domain_items(&self) -> Vec<(usize, usize)> {
        let k = GLYPH_DG_CLASSES.len();
        (0..k)
            .flat_map(|c| {
                let n = self.per_domain / k + usize::from(c < self.per_domain % k);
                (0..n).map(move |i| (c, i))
            })
            .collect()
    }
}

/// The one image `(seed, style, class, index)` at `size` pixels.
pub fn glyph_dg_image(
    seed: u64,
    style: Style,
    class: usize,
    index: usize,
    size: usize,
) -> Rendered {
    render_keyed(&benchmark_shape(class), seed, style, class, index, size)
}

fn render_keyed(
    shape: &Shape,
    seed: u64,
    style: Style,
    class: usize,
    index: usize,
    size: usize,
) -> Rendered {
    let mut rng = DetRng::from_key(&[GLYPH_DG_SALT, seed, style.key(), class as u64, index as u64]);
    render(shape, style, size, &mut rng)
}

/// Generates the benchmark (in parallel; the result does not depend on the
/// number of threads).
pub fn generate_glyph_dg(spec: &GlyphDgSpec) -> Result<ImageSet> {
    spec.validate()?;
    let shapes: Vec<Shape> = (0..GLYPH_DG_CLASSES.len()).map(benchmark_shape).collect();
    let items: Vec<(u16, usize, usize)> = spec
        .domains
        .iter()
        .enumerate()
        .flat_map(|(d, _)| {
            spec.domain_items()
                .into_iter()
                .map(move |(c, i)| (d as u16, c, i))
        })
        .collect();
    let images: Vec<Vec<u8>> = items
        .par_iter()
        .map(|&(d, c, i)| {
            render_keyed(
                &shapes[c],
                spec.seed,
                spec.domains[usize::from(d)],
                c,
                i,
                spec.size,
            )
            .rgb
        })
        .collect();
    let mut set = ImageSet::empty(
        spec.size,
        spec.size,
        GLYPH_DG_CLASSES.iter().map(|s| s.to_string()).collect(),
        spec.domains.iter().map(|s| s.name().to_string()).collect(),
    );
    set.pixels.reserve(images.len() * set.image_bytes());
    for ((d, c, _), rgb) in items.iter().zip(&images) {
        set.push(rgb, *c as u32, *d)?;
    }
    Ok(set)
}
