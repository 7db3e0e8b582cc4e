//! Training checkpoints and weight files, written atomically.
//!
//! A checkpoint is one file, so that a crash can never leave a model from one
//! step beside an optimizer state from another:
//!
//! ```text
//! b"OODCAL-CKPT 2\n"
//! u64 LE length, JSON [`CheckpointMeta`] (step, RNG position, loss history,
//!                run fingerprint, owner: the run id it belongs to)
//! u64 LE length, model record   (burn NamedMpk, full precision)
//! u64 LE length, optimizer record (burn NamedMpk, full precision)
//! 32 bytes       SHA-256 of everything before it
//! ```
//!
//! The trailing digest makes a flipped or truncated file fail to read instead
//! of resuming a run from damaged weights. It is written to a temporary file,
//! flushed to disk and renamed over `<path>`.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::batch::TrainRng;
use super::optim::Optim;
use crate::model::Network;

const MAGIC: &[u8] = b"OODCAL-CKPT 2\n";
const WEIGHTS_MAGIC: &[u8] = b"OODCAL-WEIGHTS 1\n";

type ModelRecorder = NamedMpkBytesRecorder<FullPrecisionSettings>;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid oodcal file ({reason})")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: written by a different run configuration ({reason})")]
    Mismatch { path: PathBuf, reason: String },
}

/// Position of the trainer's ChaCha8 stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngPosition {
    pub seed: [u8; 32],
    pub stream: u64,
    /// ChaCha word position; a string because JSON numbers stop at 2^53.
    pub word_pos: String,
}

impl RngPosition {
    pub fn of(rng: &TrainRng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    pub fn restore(&self) -> Result<TrainRng, String> {
        let word_pos: u128 = self
            .word_pos
            .parse()
            .map_err(|e| format!("word_pos: {e}"))?;
        let mut rng = TrainRng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(word_pos);
        Ok(rng)
    }
}

/// Everything in a checkpoint except the tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Optimizer steps completed.
    pub step: usize,
    pub rng: RngPosition,
    /// Loss of every completed step, step 1 first.
    pub losses: Vec<f32>,
    /// Identifies the run configuration; a checkpoint only resumes the same run.
    pub fingerprint: String,
    /// Who wrote it (a run id; empty when the caller names none): a
    /// checkpoint copied into another run's folder does not resume that run.
    pub owner: String,
    /// A plateau run's measurements and cool-down (absent for other runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<super::PlateauState>,
}

/// A checkpoint read back from disk; tensors are still serialised.
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    model: Vec<u8>,
    optim: Vec<u8>,
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    crate::atomic::write(path, bytes).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn push_section(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Splits `data` after `magic` into exactly `count` length-prefixed sections.
fn read_sections(data: &[u8], magic: &[u8], count: usize) -> Result<Vec<Vec<u8>>, String> {
    let mut rest = data.strip_prefix(magic).ok_or("wrong header")?;
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        if rest.len() < 8 {
            return Err(format!("truncated before section {i}"));
        }
        let (len, tail) = rest.split_at(8);
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
        if tail.len() < len {
            return Err(format!("section {i} truncated"));
        }
        sections.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    match rest.is_empty() {
        true => Ok(sections),
        false => Err("trailing bytes".to_string()),
    }
}

fn model_bytes<B: Backend>(model: &Network<B>) -> Result<Vec<u8>, String> {
    Recorder::<B>::record(&ModelRecorder::default(), model.clone().into_record(), ())
        .map_err(|e| format!("cannot serialise model: {e}"))
}

fn load_model_bytes<B: Backend>(
    template: Network<B>,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<Network<B>, String> {
    let record = Recorder::<B>::load(&ModelRecorder::default(), bytes, device)
        .map_err(|e| format!("cannot read model: {e}"))?;
    let expected = param_shapes(&template);
    let loaded = template.load_record(record);
    // burn's load_record takes tensors of any shape; a file from another
    // architecture must fail here, not as a shape panic in the first forward pass.
    match param_shapes(&loaded) == expected {
        true => Ok(loaded),
        false => Err("parameter shapes differ from the expected architecture".to_string()),
    }
}

/// Shapes of all float tensors of a module, in visiting order.
fn param_shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    shapes.0
}

impl Checkpoint {
    /// Serialises and atomically writes the training state.
    pub fn save<B: AutodiffBackend>(
        path: &Path,
        meta: &CheckpointMeta,
        model: &Network<B>,
        optim: &Optim<B>,
    ) -> Result<(), CheckpointError> {
        let format = |reason| CheckpointError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let meta = serde_json::to_vec(meta).map_err(|e| format(e.to_string()))?;
        let mut out = MAGIC.to_vec();
        push_section(&mut out, &meta);
        push_section(&mut out, &model_bytes(model).map_err(format)?);
        push_section(&mut out, &optim.to_bytes().map_err(format)?);
        let digest = sha2::Sha256::digest(&out);
        out.extend_from_slice(&digest);
        write_atomic(path, &out)
    }

    pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let format = |reason| CheckpointError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let data = fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.into(),
            source,
        })?;
        let body = verify_digest(&data).map_err(format)?;
        let mut sections = read_sections(body, MAGIC, 3).map_err(format)?.into_iter();
        let (meta, model, optim) = (sections.next(), sections.next(), sections.next());
        let meta = serde_json::from_slice(&meta.unwrap_or_default())
            .map_err(|e| format(format!("metadata: {e}")))?;
        Ok(Checkpoint {
            meta,
            model: model.unwrap_or_default(),
            optim: optim.unwrap_or_default(),
        })
    }

    /// Loads the tensors into `model` (same architecture and head) and `optim` (same kind).
    pub fn restore<B: AutodiffBackend>(
        self,
        path: &Path,
        model: Network<B>,
        optim: Optim<B>,
        device: &B::Device,
    ) -> Result<(Network<B>, Optim<B>), CheckpointError> {
        let format = |reason| CheckpointError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let model = load_model_bytes(model, self.model, device).map_err(format)?;
        let optim = optim.load_bytes(self.optim, device).map_err(format)?;
        Ok((model, optim))
    }
}

/// The bytes before the trailing SHA-256, if it matches them.
fn verify_digest(data: &[u8]) -> Result<&[u8], String> {
    let Some(body_len) = data.len().checked_sub(32) else {
        return Err("shorter than its digest (truncated)".to_string());
    };
    let (body, digest) = data.split_at(body_len);
    match sha2::Sha256::digest(body)[..] == *digest {
        true => Ok(body),
        false => Err("its SHA-256 does not match its contents (corrupt or truncated)".to_string()),
    }
}

/// Moves a checkpoint that cannot resume its run out of the way (to
/// `<path>.rejected`, replacing an older one), so the run starts afresh
/// instead of failing on it at every attempt; the file is kept to be looked at.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let mut name = path.as_os_str().to_os_string();
    name.push(".rejected");
    let to = PathBuf::from(name);
    fs::rename(path, &to)?;
    Ok(to)
}

/// Atomically writes a network's weights (e.g. a pre-trained model for fine-tuning).
///
/// Parameter ids derive from parameter paths (see `model::init`), so the same
/// weights always give the same bytes.
pub fn save_weights<B: Backend>(path: &Path, model: &Network<B>) -> Result<(), CheckpointError> {
    let format = |reason| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let mut out = WEIGHTS_MAGIC.to_vec();
    push_section(&mut out, &model_bytes(model).map_err(format)?);
    write_atomic(path, &out)
}

/// Loads weights written by [`save_weights`] into `template`, a network of the same
/// architecture and head (e.g. `spec.build(classes, seed, device)`).
pub fn load_weights<B: Backend>(
    path: &Path,
    template: Network<B>,
    device: &B::Device,
) -> Result<Network<B>, CheckpointError> {
    let format = |reason| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let mut sections = read_file_sections(path, WEIGHTS_MAGIC, 1)?;
    load_model_bytes(template, sections.remove(0), device).map_err(format)
}

/// Reads `path` and splits it into `count` sections after `magic`.
fn read_file_sections(
    path: &Path,
    magic: &[u8],
    count: usize,
) -> Result<Vec<Vec<u8>>, CheckpointError> {
    let data = fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.into(),
        source,
    })?;
    read_sections(&data, magic, count).map_err(|reason| CheckpointError::Format {
        path: path.to_path_buf(),
        reason,
    })
}

/// Fresh trainer RNG for a run seed (a separate stream from the weight initialisation).
pub fn train_rng(seed: u64) -> TrainRng {
    let mut rng = TrainRng::seed_from_u64(seed);
    rng.set_stream(1);
    rng
}
