//! Minibatch sources for the trainer: ERM fine-tuning (one minibatch per
//! training domain) and pre-training (one minibatch from the corpus).
//!
//! Both keep no state of their own: each minibatch is keyed by one number
//! drawn from the trainer's RNG, so a resumed run (whose RNG position is in
//! the checkpoint) replays exactly the batches of an uninterrupted one.

use rand::Rng;

use crate::data::batch::{make_batch, DomainSampler, Transform};
use crate::data::preprocess::Normalize;
use crate::data::ImageSet;
use crate::train::{BatchSource, TrainBatch, TrainRng};

/// One sampler per pool, each its own stream of `seed`.
pub fn samplers(pools: Vec<Vec<usize>>, batch_size: usize, seed: u64) -> Vec<DomainSampler> {
    pools
        .into_iter()
        .enumerate()
        .map(|(domain, indices)| DomainSampler {
            indices,
            batch_size,
            seed,
            stream: domain as u64,
        })
        .collect()
}

/// Domain `domain`'s next minibatch: its key (one number from the trainer's
/// RNG, which also keys the batch's augmentation) and its global indices.
pub fn draw(
    samplers: &[DomainSampler],
    domain: usize,
    rng: &mut TrainRng,
) -> anyhow::Result<(u64, Vec<usize>)> {
    let sampler = samplers
        .get(domain)
        .ok_or_else(|| anyhow::anyhow!("no training pool for domain {domain}"))?;
    let key: u64 = rng.next_u64();
    let indices = sampler.batch(key);
    if indices.is_empty() {
        anyhow::bail!("training pool of domain {domain} is empty");
    }
    Ok((key, indices))
}

/// Draws minibatches uniformly with replacement from index pools.
pub struct PoolSource<'a> {
    set: &'a ImageSet,
    /// One sampler per trainer domain (ERM: the training domains' `in` splits;
    /// pre-training: the whole corpus).
    samplers: Vec<DomainSampler>,
    transform: Transform,
    resolution: usize,
    seed: u64,
}

impl<'a> PoolSource<'a> {
    pub fn new(
        set: &'a ImageSet,
        pools: Vec<Vec<usize>>,
        batch_size: usize,
        transform: Transform,
        resolution: usize,
        seed: u64,
    ) -> Self {
        Self {
            set,
            samplers: samplers(pools, batch_size, seed),
            transform,
            resolution,
            seed,
        }
    }
}

impl BatchSource for PoolSource<'_> {
    fn next_batch(&mut self, domain: usize, rng: &mut TrainRng) -> anyhow::Result<TrainBatch> {
        let (key, indices) = draw(&self.samplers, domain, rng)?;
        let classes = self.set.class_names.len();
        let batch = make_batch(
            self.set,
            &indices,
            &self.transform,
            self.resolution,
            Normalize::IMAGENET,
            self.seed,
            key,
        );
        let soft = batch.mix.is_some().then(|| batch.soft_targets(classes));
        Ok(TrainBatch {
            images: batch.data,
            shape: batch.shape,
            labels: batch.labels,
            soft,
        })
    }
}
