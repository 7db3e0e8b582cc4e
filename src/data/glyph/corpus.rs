//! Pre-training corpora: glyph-family images of the disjoint class set in
//! `corpus_shapes.rs`, in several sizes and style diversities — the quick
//! study's stand-ins for ImageNet-1k versus larger pre-training sets.
//!
//! Image `j` of a corpus has class `j mod classes`; its `m = j div classes`-th
//! occurrence of that class uses style `styles[m mod #styles]` and per-style
//! index `m div #styles`. The pixels are a pure function of
//! `(seed, style, class, index, size)`, so a bigger corpus with the same
//! classes and styles contains the smaller one as a prefix — larger data adds
//! images rather than replacing them, as with ImageNet-1k inside -21k.
//!
//! The `art` style (the quick study's test domain) is in no preset: the
//! test style stays unseen in pre-training, and diversity means more *other*
//! styles. Pass an explicit style list to change that.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::corpus_shapes::corpus_catalogue;
use super::render::{render, Style};
use crate::data::error::{DataError, Result};
use crate::data::image_set::ImageSet;
use crate::data::rng::DetRng;

const CORPUS_SALT: u64 = 0x636F_7270_7573; // "corpus"

/// Preset corpus sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CorpusSize {
    /// 2,000 images, 50 classes.
    S2k,
    /// 8,000 images, 100 classes.
    M8k,
    /// 32,000 images, 200 classes.
    L32k,
}

/// Preset style mixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Diversity {
    /// photo only.
    Low,
    /// photo, cartoon, sketch.
    Medium,
    /// photo, cartoon, sketch, neon, mosaic.
    High,
}

impl Diversity {
    pub fn styles(self) -> Vec<Style> {
        match self {
            Diversity::Low => vec![Style::Photo],
            Diversity::Medium => vec![Style::Photo, Style::Cartoon, Style::Sketch],
            Diversity::High => vec![
                Style::Photo,
                Style::Cartoon,
                Style::Sketch,
                Style::Neon,
                Style::Mosaic,
            ],
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusSpec {
    pub seed: u64,
    pub images: usize,
    /// Number of classes: the first `classes` entries of the catalogue.
    pub classes: usize,
    pub styles: Vec<Style>,
    pub size: usize,
}

impl CorpusSpec {
    /// A preset at 32×32.
    pub fn preset(size: CorpusSize, diversity: Diversity, seed: u64) -> Self {
        let (images, classes) = match size {
            CorpusSize::S2k => (2_000, 50),
            CorpusSize::M8k => (8_000, 100),
            CorpusSize::L32k => (32_000, 200),
        };
        CorpusSpec {
            seed,
            images,
            classes,
            styles: diversity.styles(),
            size: 32,
        }
    }

    fn validate(&self) -> Result<()> {
        let max = corpus_catalogue().len();
        if self.classes == 0 || self.classes > max {
            return Err(DataError::Config(format!(
                "corpus classes {} not in 1..={max}",
                self.classes
            )));
        }
        if self.styles.is_empty() {
            return Err(DataError::Config("corpus needs at least one style".into()));
        }
        if !(8..=1024).contains(&self.size) {
            return Err(DataError::Config(format!(
                "corpus size {} not in 8..=1024",
                self.size
            )));
        }
        Ok(())
    }

    /// `(class, style slot, per-style index)` of image `j`.
    pub fn item(&self, j: usize) -> (usize, usize, usize) {
        let (c, m) = (j % self.classes, j / self.classes);
        (c, m % self.styles.len(), m / self.styles.len())
    }
}

/// One corpus image: a pure function of its key.
pub fn corpus_image(seed: u64, style: Style, class: usize, index: usize, size: usize) -> Vec<u8> {
    let shape = &corpus_catalogue()[class].shape;
    let mut rng = DetRng::from_key(&[CORPUS_SALT, seed, style.key(), class as u64, index as u64]);
    render(shape, style, size, &mut rng).rgb
}

/// Generates a corpus; domains are the styles, labels the corpus classes.
pub fn generate_corpus(spec: &CorpusSpec) -> Result<ImageSet> {
    generate_items(spec, 0..spec.images)
}

/// `n` images that follow the corpus after skipping `skip` (items
/// `images + skip..images + skip + n`): new images of the same classes and
/// styles, never trained on, for measuring a pre-trained model's held-out
/// accuracy (and, further on, for deciding when its training has plateaued).
pub fn generate_held_out(spec: &CorpusSpec, skip: usize, n: usize) -> Result<ImageSet> {
    let first = spec.images + skip;
    generate_items(spec, first..first + n)
}

fn generate_items(spec: &CorpusSpec, items: std::ops::Range<usize>) -> Result<ImageSet> {
    spec.validate()?;
    let images: Vec<Vec<u8>> = items
        .clone()
        .into_par_iter()
        .map(|j| {
            let (c, s, i) = spec.item(j);
            corpus_image(spec.seed, spec.styles[s], c, i, spec.size)
        })
        .collect();
    let cat = corpus_catalogue();
    let mut set = ImageSet::empty(
        spec.size,
        spec.size,
        cat[..spec.classes].iter().map(|c| c.name.clone()).collect(),
        spec.styles.iter().map(|s| s.name().to_string()).collect(),
    );
    set.pixels.reserve(images.len() * set.image_bytes());
    for (j, rgb) in items.zip(&images) {
        let (c, s, _) = spec.item(j);
        set.push(rgb, c as u32, s as u16)?;
    }
    Ok(set)
}
