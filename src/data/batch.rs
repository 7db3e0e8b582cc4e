//! Batches for the training engine: which images (sampling) and their
//! tensors (transform + normalisation), as one contiguous f32 buffer
//! `[B, 3, H, W]` plus labels and, for Mixup/CutMix, soft-label mixtures.
//!
//! Both parts are pure functions of `(seed, step)` and positions: the batch
//! of step `s` is the same whether it is built first or after a resume, on
//! one thread or many. Per-sample randomness is keyed by
//! `(seed, step, position in batch, image index)`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::augment::FineTuneAug;
use super::image_set::ImageSet;
use super::preprocess::{FloatImage, Normalize};
use super::recipes::{mix_batch, MixTarget, PretrainAug};
use super::rng::DetRng;

const SAMPLE_SALT: u64 = 0x7361_6D70_6C65; // "sample"
const AUG_SALT: u64 = 0x6175_676D; // "augm"
const MIX_SALT: u64 = 0x006D_6978; // "mix"
const EPOCH_SALT: u64 = 0x0065_706F_6368; // "epoch"

/// How images become model inputs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Transform {
    /// Resize to the output size and normalise (evaluation, test domain).
    Eval,
    /// DomainBed's fine-tuning augmentation.
    FineTune(FineTuneAug),
    /// A pre-training recipe.
    Pretrain(PretrainAug),
}

/// A model-ready batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// `[B, 3, H, W]`, normalised, contiguous.
    pub data: Vec<f32>,
    pub shape: [usize; 4],
    /// Hard labels (for mixed samples: `label_a`).
    pub labels: Vec<u32>,
    /// Per-sample mixtures for Mixup/CutMix, else `None`.
    pub mix: Option<Vec<MixTarget>>,
    /// Global image indices, in batch order.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Target distributions `[B, num_classes]`: one-hot, or the mixtures.
    pub fn soft_targets(&self, num_classes: usize) -> Vec<f32> {
        let mut t = vec![0.0f32; self.labels.len() * num_classes];
        for (i, row) in t.chunks_exact_mut(num_classes).enumerate() {
            match &self.mix {
                Some(m) => {
                    row[m[i].label_a as usize] += m[i].lambda;
                    row[m[i].label_b as usize] += 1.0 - m[i].lambda;
                }
                None => row[self.labels[i] as usize] = 1.0,
            }
        }
        t
    }
}

/// Builds the batch of `indices` at `out × out` for training step `step`.
pub fn make_batch(
    set: &ImageSet,
    indices: &[usize],
    transform: &Transform,
    out: usize,
    norm: Normalize,
    seed: u64,
    step: u64,
) -> Batch {
    let mut images: Vec<FloatImage> = indices
        .par_iter()
        .enumerate()
        .map(|(pos, &i)| {
            let src = FloatImage::from_u8(set.image(i), set.width, set.height);
            let mut rng = DetRng::from_key(&[AUG_SALT, seed, step, pos as u64, i as u64]);
            match transform {
                Transform::Eval => src.resized(out, out),
                Transform::FineTune(a) => a.apply(&src, out, &mut rng),
                Transform::Pretrain(p) => p.per_sample(&src, out, &mut rng),
            }
        })
        .collect();
    let labels: Vec<u32> = indices.iter().map(|&i| set.labels[i]).collect();
    let mix = match transform {
        Transform::Pretrain(p) => {
            let mut rng = DetRng::from_key(&[MIX_SALT, seed, step]);
            mix_batch(&p.recipe, &mut images, &labels, &mut rng)
        }
        _ => None,
    };
    let per = 3 * out * out;
    let mut data = vec![0.0f32; indices.len() * per];
    data.par_chunks_exact_mut(per)
        .zip(&images)
        .for_each(|(dst, img)| norm.write_chw(img, dst));
    Batch {
        data,
        shape: [indices.len(), 3, out, out],
        labels,
        mix,
        indices: indices.to_vec(),
    }
}

/// Draws minibatches from one domain's training indices, uniformly with
/// replacement, as DomainBed's `InfiniteDataLoader` does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSampler {
    pub indices: Vec<usize>,
    pub batch_size: usize,
    pub seed: u64,
    /// Distinguishes the samplers of different domains.
    pub stream: u64,
}

impl DomainSampler {
    /// The global indices of step `step`'s minibatch.
    pub fn batch(&self, step: u64) -> Vec<usize> {
        if self.indices.is_empty() {
            return Vec::new();
        }
        let mut rng = DetRng::from_key(&[SAMPLE_SALT, self.seed, self.stream, step]);
        (0..self.batch_size)
            .map(|_| self.indices[rng.index(self.indices.len())])
            .collect()
    }
}

/// One ERM step's indices: a minibatch from each domain, concatenated in
/// domain order (DomainBed's `zip(*train_loaders)` then `torch.cat`).
pub fn erm_indices(samplers: &[DomainSampler], step: u64) -> Vec<usize> {
    samplers.iter().flat_map(|s| s.batch(step)).collect()
}

/// `indices` in a random order for epoch `epoch` (pre-training passes over
/// a corpus without replacement); split it with `chunks(batch_size)`.
pub fn epoch_order(indices: &[usize], seed: u64, epoch: u64) -> Vec<usize> {
    let mut v = indices.to_vec();
    DetRng::from_key(&[EPOCH_SALT, seed, epoch]).shuffle(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_is_a_function_of_step() {
        let s = DomainSampler {
            indices: (100..200).collect(),
            batch_size: 32,
            seed: 1,
            stream: 0,
        };
        assert_eq!(s.batch(5), s.batch(5));
        assert_ne!(s.batch(5), s.batch(6));
        assert!(s.batch(5).iter().all(|i| (100..200).contains(i)));
        let mut e = epoch_order(&s.indices, 1, 0);
        assert_ne!(e, s.indices);
        e.sort_unstable();
        assert_eq!(e, s.indices);
    }
}
