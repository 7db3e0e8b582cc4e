//! Safetensors files shaped like timm's download of a tag: its keys and
//! shapes from the committed structure listing, with values the test chooses.

// Included by files that use only some of these.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

/// timm's state-dict keys and shapes for `tag` (without the BatchNorm step
/// counters, which timm's safetensors files leave out).
pub fn timm_tensors(tag: &str) -> Vec<(String, Vec<usize>)> {
    let listing =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/timm/structure.tsv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(listing).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let tensors: Vec<(String, Vec<usize>)> = text
        .lines()
        .filter_map(|l| {
            let [t, key, shape] = l.split('\t').collect::<Vec<_>>()[..] else {
                return None;
            };
            (t == tag && !key.ends_with("num_batches_tracked")).then(|| {
                let shape = shape
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(|d| d.parse().unwrap());
                (key.to_string(), shape.collect())
            })
        })
        .collect();
    assert!(!tensors.is_empty(), "{tag}");
    tensors
}

/// The serialized safetensors file of `tensors`, each filled by `values`.
pub fn safetensors_bytes(
    tensors: &[(String, Vec<usize>)],
    values: impl Fn(&str, &[usize]) -> Vec<f32>,
) -> Vec<u8> {
    use safetensors::tensor::{serialize, Dtype, TensorView};
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(k, s)| values(k, s).iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((k, s), b)| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    serialize(views, None).unwrap()
}

/// Every value `fill`.
pub fn constant(fill: f32) -> impl Fn(&str, &[usize]) -> Vec<f32> {
    move |_, shape| vec![fill; shape.iter().product()]
}

/// A trainable network's worth of values, drawn from `seed`: weights uniform
/// with He's variance for their fan-in, BatchNorm at its identity (scale and
/// running variance 1), biases and running means 0.
pub fn he_initialised(seed: u64) -> impl Fn(&str, &[usize]) -> Vec<f32> {
    move |key, shape| {
        let n: usize = shape.iter().product();
        let is_norm_scale =
            key.ends_with("running_var") || (key.ends_with(".weight") && shape.len() == 1);
        if is_norm_scale {
            return vec![1.0; n];
        }
        if shape.len() < 2 {
            return vec![0.0; n];
        }
        let fan_in: usize = shape[1..].iter().product();
        let bound = (6.0 / fan_in as f64).sqrt();
        // splitmix64 keyed by the tensor's name: each tensor's values stand alone.
        let mut state = seed
            ^ key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                let unit = (z ^ (z >> 31)) as f64 / u64::MAX as f64;
                ((2.0 * unit - 1.0) * bound) as f32
            })
            .collect()
    }
}
