//! Partial fine-tuning's data: the frozen layers' output for every image of
//! the benchmark ([`crate::model::partial`]), computed once and then the input
//! of every training step and evaluation.
//!
//! Computing them is the price of one evaluation pass over the benchmark; the
//! steps that follow cost only the trained blocks. They are shared by every
//! run of the process whose frozen layers are the same (the key is their
//! digest), so the three seeds and every algorithm and learning rate of one
//! pre-trained model pay for them once; each process (a Slurm task) computes
//! its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex};

use anyhow::Result;
use burn::prelude::*;

use super::benchmark::{EvalSets, EvalSplit};
use crate::data::batch::{make_batch, DomainSampler, Transform};
use crate::data::preprocess::Normalize;
use crate::data::split::Splits;
use crate::data::ImageSet;
use crate::model::Network;
use crate::train::{BatchSource, TrainBatch, TrainRng};

/// Images per forward pass of the frozen layers. Fixed, so each image's
/// features are computed in the same company on every machine.
const CHUNK: usize = 64;

/// The frozen layers' output `[c, h, w]` for every image of a set, by global index.
pub struct FrozenFeatures {
    values: Vec<f32>,
    per_image: [usize; 3],
    labels: Vec<u32>,
}

impl FrozenFeatures {
    /// `net`'s layers below block `first` on the images `indices` of `set`
    /// (resized to `resolution`, ImageNet-normalised, not augmented): the
    /// values `[n, c, h, w]` and `[c, h, w]`. `net` is on a plain backend, so
    /// BatchNorm uses its running statistics.
    pub fn compute_chunk<B: Backend>(
        net: &Network<B>,
        first: usize,
        set: &ImageSet,
        resolution: usize,
        device: &B::Device,
        indices: &[usize],
    ) -> Result<(Vec<f32>, [usize; 3])> {
        let batch = make_batch(
            set,
            indices,
            &Transform::Eval,
            resolution,
            Normalize::IMAGENET,
            0,
            0,
        );
        let images = Tensor::<B, 4>::from_data(TensorData::new(batch.data, batch.shape), device);
        let out = net.frozen_prefix(images, first)?;
        let [_, c, h, w] = out.dims();
        let values = out.into_data().convert::<f32>().to_vec::<f32>();
        Ok((values.expect("f32 features"), [c, h, w]))
    }

    fn width(&self) -> usize {
        self.per_image.iter().product()
    }

    /// The features of `indices`, `[n, c, h, w]` row-major.
    fn rows(&self, indices: &[usize]) -> (Vec<f32>, [usize; 4]) {
        let width = self.width();
        let mut out = Vec::with_capacity(indices.len() * width);
        for &i in indices {
            out.extend_from_slice(&self.values[i * width..(i + 1) * width]);
        }
        let [c, h, w] = self.per_image;
        (out, [indices.len(), c, h, w])
    }

    fn split(&self, indices: &[usize]) -> EvalSplit {
        let (images, shape) = self.rows(indices);
        EvalSplit {
            images,
            shape,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// A trial's evaluation splits, on features (ID validation unaugmented:
    /// the frozen layers saw no augmentation).
    pub fn eval_sets(&self, splits: &Splits) -> EvalSets {
        let (ood_in, ood_out) = splits.test_in_out();
        EvalSets {
            id: self.split(&splits.id_val().concat()),
            ood_in: self.split(&ood_in),
            ood_out: self.split(&ood_out),
        }
    }
}

/// One features set being computed, chunk by chunk, by every run that asks
/// for it meanwhile (two runs of one model on two cores take half the time
/// each, rather than one computing while the other waits).
struct Building {
    chunks: usize,
    images: usize,
    next: AtomicUsize,
    state: Mutex<BuildState>,
    changed: Condvar,
}

#[derive(Default)]
struct BuildState {
    parts: Vec<Option<Vec<f32>>>,
    per_image: [usize; 3],
    failed: Option<String>,
    done: Option<Arc<FrozenFeatures>>,
}

/// Every features set of this process, by key.
static SHARED: LazyLock<Mutex<HashMap<String, Arc<Building>>>> = LazyLock::new(Default::default);

/// The features under `key` of the `labels.len()` images of a set:
/// `chunk(indices)` computes those of [`CHUNK`] consecutive images (see
/// [`FrozenFeatures::compute_chunk`]). Every call that finds the key
/// unfinished computes chunks no one has taken, then waits for the rest;
/// `announce` runs once, in the call that starts the key.
pub fn shared(
    key: &str,
    labels: &[u32],
    announce: impl FnOnce(),
    chunk: impl Fn(&[usize]) -> Result<(Vec<f32>, [usize; 3])>,
) -> Result<Arc<FrozenFeatures>> {
    let building = {
        let mut map = SHARED.lock().expect("the features map is never poisoned");
        map.entry(key.to_string())
            .or_insert_with(|| {
                announce();
                Arc::new(Building::new(labels.len()))
            })
            .clone()
    };
    loop {
        let i = building.next.fetch_add(1, Ordering::SeqCst);
        if i >= building.chunks {
            break;
        }
        let indices: Vec<usize> = (i * CHUNK..((i + 1) * CHUNK).min(building.images)).collect();
        let result = chunk(&indices);
        let mut state = building.lock();
        let failed = match result {
            Ok((values, per_image)) => {
                state.parts[i] = Some(values);
                state.per_image = per_image;
                false
            }
            Err(e) => {
                state.failed = Some(format!("{e:#}"));
                // The next run asking for the key starts it afresh.
                SHARED
                    .lock()
                    .expect("the features map is never poisoned")
                    .remove(key);
                true
            }
        };
        building.changed.notify_all();
        if failed {
            break;
        }
    }
    let mut state = building.lock();
    loop {
        if let Some(features) = &state.done {
            return Ok(features.clone());
        }
        if let Some(why) = &state.failed {
            anyhow::bail!("frozen features {key}: {why}");
        }
        if state.parts.iter().all(Option::is_some) {
            let values = state
                .parts
                .iter_mut()
                .flat_map(|p| p.take().unwrap())
                .collect();
            let features = Arc::new(FrozenFeatures {
                values,
                per_image: state.per_image,
                labels: labels.to_vec(),
            });
            state.done = Some(features.clone());
            building.changed.notify_all();
            return Ok(features);
        }
        state = building
            .changed
            .wait(state)
            .expect("a features slot is never poisoned");
    }
}

impl Building {
    fn new(images: usize) -> Self {
        let chunks = images.div_ceil(CHUNK);
        Self {
            chunks,
            images,
            next: AtomicUsize::new(0),
            state: Mutex::new(BuildState {
                parts: vec![None; chunks],
                ..Default::default()
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BuildState> {
        self.state
            .lock()
            .expect("a features slot is never poisoned")
    }
}

/// Minibatches of features, drawn as [`super::sources::PoolSource`] draws
/// images: the same sampler, keyed by one number from the trainer's RNG.
pub struct FeatureSource {
    features: Arc<FrozenFeatures>,
    samplers: Vec<DomainSampler>,
}

impl FeatureSource {
    pub fn new(
        features: Arc<FrozenFeatures>,
        pools: Vec<Vec<usize>>,
        batch_size: usize,
        seed: u64,
    ) -> Self {
        Self {
            features,
            samplers: super::sources::samplers(pools, batch_size, seed),
        }
    }
}

impl BatchSource for FeatureSource {
    fn next_batch(&mut self, domain: usize, rng: &mut TrainRng) -> Result<TrainBatch> {
        let (_, indices) = super::sources::draw(&self.samplers, domain, rng)?;
        let (images, shape) = self.features.rows(&indices);
        Ok(TrainBatch {
            images,
            shape,
            labels: indices.iter().map(|&i| self.features.labels[i]).collect(),
            soft: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageSet;
    use crate::model::ModelSpec;
    use crate::train::CpuBackend;
    use burn::module::AutodiffModule;

    /// `n` 12 x 12 images of two classes, each pixel a different byte.
    fn tiny_set(n: usize) -> ImageSet {
        let mut set = ImageSet::empty(12, 12, vec!["a".into(), "b".into()], vec!["x".into()]);
        for i in 0..n {
            let rgb: Vec<u8> = (0..12 * 12 * 3)
                .map(|p| ((p * 7 + i * 31) % 251) as u8)
                .collect();
            set.push(&rgb, (i % 2) as u32, 0).unwrap();
        }
        set
    }

    #[test]
    fn features_are_the_prefix_of_each_image_in_any_company() {
        let set = tiny_set(70);
        let spec: ModelSpec = "efficientnet-lite0".parse().unwrap();
        let net = spec
            .with_image_size(32)
            .build::<CpuBackend>(2, 1, &Default::default())
            .unwrap();
        let first = net.first_trained_block(1).unwrap();
        let inner = net.valid();
        let device = Default::default();
        let chunk = |indices: &[usize]| {
            FrozenFeatures::compute_chunk(&inner, first, &set, 32, &device, indices)
        };
        let features = shared("frozen-test-prefix", &set.labels, || (), chunk).unwrap();
        assert_eq!(features.values.len(), 70 * features.width());
        // Image 65 alone (it was computed in the second chunk of 64).
        let (alone, per_image) = chunk(&[65]).unwrap();
        let (row, shape) = features.rows(&[65]);
        assert_eq!(shape[1..], per_image);
        TensorData::new(alone, shape).assert_eq(&TensorData::new(row, shape), true);
    }

    /// A chunk's values: its first index, then zeros.
    fn marked(indices: &[usize]) -> Result<(Vec<f32>, [usize; 3])> {
        let mut values = vec![0.0; indices.len()];
        values[0] = indices[0] as f32;
        Ok((values, [1, 1, 1]))
    }

    #[test]
    fn runs_asking_at_once_share_the_chunks_and_the_result() {
        let labels = vec![0; 5 * CHUNK + 3];
        let calls = AtomicUsize::new(0);
        let chunk = |indices: &[usize]| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            marked(indices)
        };
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| shared("frozen-test-two-runs", &labels, || (), chunk));
            let b = scope.spawn(|| shared("frozen-test-two-runs", &labels, || (), chunk));
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(calls.load(Ordering::SeqCst), 6, "each chunk computed once");
        assert_eq!(a.values.len(), labels.len());
        assert_eq!(
            a.values[5 * CHUNK],
            (5 * CHUNK) as f32,
            "chunks in image order"
        );
        // A later run finds it done.
        let c = shared(
            "frozen-test-two-runs",
            &labels,
            || panic!("not again"),
            chunk,
        )
        .unwrap();
        assert!(Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn a_failed_computation_is_reported_and_not_kept() {
        let labels = vec![0; 10];
        let err = shared(
            "frozen-test-fails",
            &labels,
            || (),
            |_: &[usize]| anyhow::bail!("disk"),
        )
        .err()
        .expect("the chunk fails");
        assert!(format!("{err:#}").contains("disk"), "{err:#}");
        let again = shared("frozen-test-fails", &labels, || (), marked).unwrap();
        assert_eq!(again.values.len(), 10);
    }
}
