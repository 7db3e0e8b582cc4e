//! Minibatches as the data module hands them over, and the trainer's view of
//! one step's input (one minibatch per training domain, concatenated).

use rand_chacha::ChaCha8Rng;

/// The random stream the trainer owns, checkpoints and passes to the batch source.
pub type TrainRng = ChaCha8Rng;

/// One minibatch of images as the trainer takes it, already augmented and
/// normalised (`data::batch::Batch` is what the data module makes; a
/// `BatchSource` turns one into this), or of a frozen prefix's feature maps
/// (partial fine-tuning: then `c` is the prefix's channel count).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainBatch {
    /// `[b, c, h, w]` row-major.
    pub images: Vec<f32>,
    pub shape: [usize; 4],
    /// Hard labels, one per image.
    pub labels: Vec<u32>,
    /// `[b, classes]` soft targets (Mixup/CutMix); when present they replace the
    /// one-hot labels in the loss.
    pub soft: Option<Vec<f32>>,
}

/// Where training minibatches come from.
///
/// The trainer calls [`next_batch`](BatchSource::next_batch) once per training
/// domain per step, in domain order, and concatenates the results. A source must
/// draw all of its randomness from `rng` and keep no other state that changes
/// between calls: the trainer checkpoints `rng`'s position, and a resumed run
/// replays the same batches only under that contract.
pub trait BatchSource {
    fn next_batch(&mut self, domain: usize, rng: &mut TrainRng) -> anyhow::Result<TrainBatch>;
}

impl<F> BatchSource for F
where
    F: FnMut(usize, &mut TrainRng) -> anyhow::Result<TrainBatch>,
{
    fn next_batch(&mut self, domain: usize, rng: &mut TrainRng) -> anyhow::Result<TrainBatch> {
        self(domain, rng)
    }
}

/// A step's input on the host: images and dense targets for the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct StepInput {
    pub images: Vec<f32>,
    pub shape: [usize; 4],
    /// `[b, classes]`: one-hot labels, or the soft targets.
    pub targets: Vec<f32>,
    /// Rows of each training domain's minibatch, in domain order (they sum to
    /// `shape[0]`): the algorithms that treat domains apart split on them.
    pub domain_rows: Vec<usize>,
}

impl TrainBatch {
    /// Checks the batch against itself and the model's class count.
    pub fn validate(&self, classes: usize) -> Result<(), String> {
        let [b, c, h, w] = self.shape;
        if c == 0 {
            return Err(format!("no channels in shape {:?}", self.shape));
        }
        if b == 0 || self.images.len() != b * c * h * w {
            return Err(format!(
                "{} pixel values do not fill shape {:?}",
                self.images.len(),
                self.shape
            ));
        }
        if self.labels.len() != b {
            return Err(format!("{} labels for {b} images", self.labels.len()));
        }
        if let Some(bad) = self.labels.iter().find(|&&l| l as usize >= classes) {
            return Err(format!("label {bad} out of range for {classes} classes"));
        }
        match &self.soft {
            Some(soft) if soft.len() != b * classes => Err(format!(
                "{} soft targets for {b} images × {classes} classes",
                soft.len()
            )),
            _ => Ok(()),
        }
    }

    /// Dense `[b, classes]` targets: the soft ones, or one-hot labels.
    pub fn targets(&self, classes: usize) -> Vec<f32> {
        if let Some(soft) = &self.soft {
            return soft.clone();
        }
        let mut dense = vec![0.0; self.labels.len() * classes];
        for (row, &label) in self.labels.iter().enumerate() {
            dense[row * classes + label as usize] = 1.0;
        }
        dense
    }
}

impl StepInput {
    /// Concatenates per-domain batches along the batch axis (validating each).
    pub fn stack(batches: &[TrainBatch], classes: usize) -> Result<StepInput, String> {
        let first = batches.first().ok_or("no batches to stack")?;
        let [_, c, h, w] = first.shape;
        let mut input = StepInput {
            images: Vec::new(),
            shape: [0, c, h, w],
            targets: Vec::new(),
            domain_rows: Vec::new(),
        };
        for (domain, batch) in batches.iter().enumerate() {
            batch
                .validate(classes)
                .map_err(|e| format!("domain {domain}: {e}"))?;
            if batch.shape[1..] != first.shape[1..] {
                return Err(format!(
                    "domain {domain}: shape {:?} does not match domain 0's {:?}",
                    batch.shape, first.shape
                ));
            }
            input.images.extend_from_slice(&batch.images);
            input.targets.extend(batch.targets(classes));
            input.shape[0] += batch.shape[0];
            input.domain_rows.push(batch.shape[0]);
        }
        Ok(input)
    }
}
