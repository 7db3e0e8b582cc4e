//! Inputs that oodcal generates itself (the quick study's benchmark and
//! pre-training corpora). They are pinned like any other input, by the
//! SHA-256 of the generator's canonical output, so `verify` catches any change
//! of the generator by regenerating and comparing.

use serde::{Deserialize, Serialize};

use crate::data::glyph::benchmark::{generate_glyph_dg, GlyphDgSpec};
use crate::data::glyph::corpus::{generate_corpus, generate_held_out, CorpusSpec, Diversity};
use crate::data::ImageSet;

/// How a generated input is made (the `generator` table of its manifest entry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Generator {
    /// glyph-dg: 7 classes × 4 PACS-like styles (art, cartoon, photo, sketch).
    GlyphDg {
        seed: u64,
        per_domain: usize,
        size: usize,
    },
    /// A pre-training corpus with classes disjoint from glyph-dg.
    GlyphCorpus {
        seed: u64,
        images: usize,
        classes: usize,
        diversity: Diversity,
        size: usize,
    },
}

impl Generator {
    /// The same generator with another seed (for looking at other samples).
    pub fn with_seed(&self, new_seed: u64) -> Generator {
        let mut g = self.clone();
        match &mut g {
            Generator::GlyphDg { seed, .. } | Generator::GlyphCorpus { seed, .. } => {
                *seed = new_seed
            }
        }
        g
    }

    pub fn generate(&self) -> crate::data::Result<ImageSet> {
        match self {
            Generator::GlyphDg {
                seed,
                per_domain,
                size,
            } => generate_glyph_dg(&GlyphDgSpec {
                seed: *seed,
                per_domain: *per_domain,
                size: *size,
                ..GlyphDgSpec::default()
            }),
            Generator::GlyphCorpus { .. } => {
                generate_corpus(&self.corpus_spec().expect("a corpus generator"))
            }
        }
    }

    /// `n` fresh images after a pre-training corpus and `skip` more (None
    /// for other generators).
    pub fn held_out(&self, skip: usize, n: usize) -> Option<crate::data::Result<ImageSet>> {
        self.corpus_spec()
            .map(|spec| generate_held_out(&spec, skip, n))
    }

    fn corpus_spec(&self) -> Option<CorpusSpec> {
        match self {
            Generator::GlyphCorpus {
                seed,
                images,
                classes,
                diversity,
                size,
            } => Some(CorpusSpec {
                seed: *seed,
                images: *images,
                classes: *classes,
                styles: diversity.styles(),
                size: *size,
            }),
            Generator::GlyphDg { .. } => None,
        }
    }
}
