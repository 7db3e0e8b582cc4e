//! Data: the procedural benchmark and pre-training corpora, DomainBed image
//! folders, splits, preprocessing, augmentation and batching — everything
//! between files (or a seed) and the f32 tensors a training step consumes.
//!
//! # Interface for the training engine
//!
//! 1. Get an [`ImageSet`] (8-bit HWC images, `labels: Vec<u32>`,
//!    `domains: Vec<u16>`, `class_names`, `domain_names`):
//!    - quick study: [`glyph::benchmark::generate_glyph_dg`] (benchmark) and
//!      [`glyph::corpus::generate_corpus`] (pre-training corpora);
//!    - real data: [`cache::load_image_folder_cached`] (PACS etc., decoded
//!      once, then read from the cache), or [`image_folder::load_image_folder`].
//! 2. Split it: [`split::Splits::domainbed`] (DomainBed's exact 80/20 splits;
//!    `train_in()`, `id_val()`, `test_in_out()`, `to_json()`, `digest()`).
//! 3. Per step, pick indices — [`batch::DomainSampler`] per training domain
//!    and [`batch::erm_indices`] (DomainBed ERM), or [`batch::epoch_order`]
//!    for epoch-based pre-training — and build the tensors with
//!    [`batch::make_batch`]: `Batch { data: [B,3,H,W] f32, labels, mix }`,
//!    with [`batch::Transform`] `Eval`, `FineTune` (DomainBed augmentation)
//!    or `Pretrain` (one of the five [`recipes::Recipe`]s; Mixup/CutMix fill
//!    `mix` and [`batch::Batch::soft_targets`]).
//!
//! # Determinism
//!
//! Everything random is keyed (`rng.rs`): an image, a split or an augmented
//! sample is a pure function of its seed and position, so results do not
//! depend on thread count or order. Generated data use only platform-exact
//! arithmetic (`detmath.rs`, `glyph/raster.rs`) and are byte-identical on every
//! machine; [`ImageSet::digest`] pins them. Decoding real JPEGs goes through
//! the `image` crate (zune-jpeg), whose SIMD paths are chosen at run time;
//! real inputs are pinned by their file checksums instead.

pub mod augment;
pub mod batch;
pub mod cache;
pub mod contact_sheet;
pub mod detmath;
pub mod domainbed;
pub mod error;
pub mod export;
pub mod glyph;
pub mod image_folder;
pub mod image_ops;
pub mod image_set;
pub mod numpy_rng;
pub mod preprocess;
pub mod recipes;
pub mod resize;
pub mod rng;
pub mod seed_hash;
pub mod split;
pub mod split_lists;

pub use error::{DataError, Result};
pub use image_set::ImageSet;
