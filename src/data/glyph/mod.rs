//! The glyph generator: the quick study's procedural images, byte-identical
//! on every machine (basic IEEE-754 arithmetic only, see `data/detmath.rs`).
//!
//! * [`benchmark`]: `glyph-dg`, the multi-domain benchmark (seven classes in
//!   four styles that mirror PACS's domains).
//! * [`corpus`]: the pre-training corpora (sizes and style diversities), over
//!   the disjoint class catalogue of [`corpus_shapes`].
//! * [`shapes`]: class geometry in a canonical frame.
//! * [`render`]: one image: place a shape, paint it in a style.
//! * [`raster`]: polygon fills and strokes on a supersampled bit grid.
//! * [`paint`]: colours, value noise and the f32 canvas.

pub mod benchmark;
pub mod corpus;
pub mod corpus_shapes;
pub mod paint;
pub mod raster;
pub mod render;
pub mod shapes;
