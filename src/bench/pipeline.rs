//! Input-pipeline benchmark: how many images per second the CPU delivers to
//! a training step, cold (scan + decode + resize every file) and warm (from
//! the decoded-image cache), plus the augmentation cost per image.
//!
//! `oodcal` training needs the pipeline to keep up with the model; this
//! measures whether it does on the machine at hand.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::data::augment::FineTuneAug;
use crate::data::batch::{make_batch, Transform};
use crate::data::cache::{load_or_build, CacheKey, CacheStatus};
use crate::data::domainbed::DatasetInfo;
use crate::data::error::{DataError, Result};
use crate::data::image_folder::{decode_index, scan_image_folder};
use crate::data::preprocess::Normalize;

/// Measured throughputs (images per second, wall clock).
#[derive(Clone, Debug, Serialize)]
pub struct PipelineBench {
    pub images: usize,
    pub threads: usize,
    pub cache_size: usize,
    pub out_size: usize,
    /// Scan + decode + resize of every image.
    pub cold_decode_ips: f64,
    /// Writing the cache file (seconds).
    pub cache_write_s: f64,
    /// Reading and verifying the cache file.
    pub cached_load_ips: f64,
    /// DomainBed fine-tuning augmentation + normalisation, batch-built.
    pub augment_ips: f64,
    /// Decode + augment, one epoch from cold: `images / (decode + augment)`.
    pub cold_epoch_ips: f64,
    /// Cache load + augment, one epoch: `images / (load + augment)`.
    pub cached_epoch_ips: f64,
}

/// Benchmarks `root` (e.g. PACS): images cached at `cache_size`², batches
/// of `batch` augmented to `out_size`². The cache goes to `cache_dir` and is
/// keyed by `dataset_digest`; any existing file for that key is removed
/// first so the cold path really is cold.
pub fn bench_pipeline(
    root: &Path,
    expect: Option<&DatasetInfo>,
    cache_size: usize,
    out_size: usize,
    batch: usize,
    cache_dir: &Path,
    dataset_digest: &str,
) -> Result<PipelineBench> {
    let key = CacheKey {
        dataset_digest: dataset_digest.to_string(),
        width: cache_size,
        height: cache_size,
    };
    let file = key.file(cache_dir);
    if file.exists() {
        std::fs::remove_file(&file).map_err(|e| DataError::io(&file, e))?;
    }
    let t = Instant::now();
    let index = scan_image_folder(root, expect)?;
    let set = decode_index(&index, cache_size, cache_size)?;
    let decode_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, status) = load_or_build(cache_dir, &key, || Ok(set.clone()))?;
    let cache_write_s = t.elapsed().as_secs_f64();
    debug_assert_eq!(status, CacheStatus::Built);
    let t = Instant::now();
    let (cached, status) = load_or_build(cache_dir, &key, || {
        Err(DataError::Config("cache miss".into()))
    })?;
    let load_s = t.elapsed().as_secs_f64();
    if status != CacheStatus::Hit || cached != set {
        return Err(DataError::Config(
            "cache round trip changed the data".into(),
        ));
    }
    let n = set.len();
    let t = Instant::now();
    let all: Vec<usize> = (0..n).collect();
    let aug = Transform::FineTune(FineTuneAug::default());
    for (step, chunk) in all.chunks(batch.max(1)).enumerate() {
        let b = make_batch(
            &set,
            chunk,
            &aug,
            out_size,
            Normalize::IMAGENET,
            0,
            step as u64,
        );
        std::hint::black_box(&b.data);
    }
    let aug_s = t.elapsed().as_secs_f64();
    let ips = |s: f64| n as f64 / s.max(1e-9);
    Ok(PipelineBench {
        images: n,
        threads: rayon::current_num_threads(),
        cache_size,
        out_size,
        cold_decode_ips: ips(decode_s),
        cache_write_s,
        cached_load_ips: ips(load_s),
        augment_ips: ips(aug_s),
        cold_epoch_ips: ips(decode_s + aug_s),
        cached_epoch_ips: ips(load_s + aug_s),
    })
}
