//! Training core: backend selection, optimizers, the training loop for
//! pre-training and ERM fine-tuning, checkpoints and evaluation.
//!
//! All burn-generic code lives here, in `model` and in `bench::train`; the rest of the crate sees
//! host vectors (`TrainBatch`, logits as `Vec<f32>`) and [`BackendJob`].

pub mod algorithm;
pub mod backend;
pub mod batch;
pub mod checkpoint;
pub mod eval;
pub mod fit;
pub mod heap;
pub mod optim;
pub mod plateau;
pub mod step;
pub mod stop;

pub use algorithm::Algorithm;
#[cfg(feature = "cuda")]
pub use backend::CudaBackend;
pub use backend::{
    cpu_info, describe, dispatch, resolve, BackendError, BackendJob, BackendKind, CpuBackend,
    DeviceInfo, WgpuBackend,
};
#[cfg(feature = "ndarray")]
pub use backend::{ndarray_info, NdArrayBackend};
pub use batch::{BatchSource, StepInput, TrainBatch, TrainRng};
pub use checkpoint::{load_weights, save_weights, set_aside, CheckpointError};
pub use eval::{logits, logits_of_trained};
pub use fit::{mean_loss, train, train_to_plateau, CheckpointPolicy, TrainConfig, TrainOutcome};
pub use optim::{LrSchedule, OptimizerKind, OptimizerSpec};
pub use plateau::{Plateau, PlateauState};

/// Why a training run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss was NaN or infinite at `step` (1-based); the weights of that step
    /// were not updated.
    #[error("training diverged at step {step}: loss is {loss}")]
    NonFinite { step: usize, loss: f32 },
    #[error("batch source failed at step {step}: {source:#}")]
    Source { step: usize, source: anyhow::Error },
    #[error("invalid batch at step {step}: {reason}")]
    Batch { step: usize, reason: String },
    #[error("evaluation failed after step {step}: {source:#}")]
    Eval { step: usize, source: anyhow::Error },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl TrainError {
    /// The step the error refers to, when there is one.
    pub fn step(&self) -> Option<usize> {
        match self {
            TrainError::NonFinite { step, .. }
            | TrainError::Source { step, .. }
            | TrainError::Batch { step, .. }
            | TrainError::Eval { step, .. } => Some(*step),
            TrainError::Checkpoint(_) => None,
        }
    }
}
