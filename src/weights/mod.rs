//! Pre-trained weights from outside the package: reading PyTorch and
//! safetensors files, and putting their tensors into burn modules.

pub mod load;
pub mod safetensors;
pub mod torch_legacy;

pub use self::safetensors::read_safetensors;
pub use load::{is_step_counter, load_state_dict, KeyConvention, LoadError, Mismatch};
pub use torch_legacy::{read_state_dict, HostTensor, ReadError, StateDict, TorchDtype};

/// Reading a weights file or fitting it to a model failed.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Load(#[from] LoadError),
}
