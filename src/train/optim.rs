//! Optimizers and learning-rate schedules, behind one type whose state can be
//! checkpointed as bytes.

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, GradientsParams, Optimizer, Sgd, SgdConfig,
};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::model::Network;

/// PyTorch's Adam epsilon (burn's default is 1e-5).
const ADAM_EPSILON: f32 = 1e-8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with (heavy-ball, undampened) momentum and L2 weight decay: torch.optim.SGD.
    Sgd,
    /// Adam with L2 weight decay added to the gradient: torch.optim.Adam.
    Adam,
    /// Adam with decoupled weight decay: torch.optim.AdamW.
    AdamW,
}

impl OptimizerKind {
    /// The name manifests, records and reference results use.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

/// Learning rate as a function of the step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate at every step (DomainBed's ERM).
    Constant,
    /// Linear warm-up over `warmup_steps`, then cosine decay towards zero (reached one
    /// step after the last).
    Cosine { warmup_steps: usize },
    /// Linear warm-up over `warmup_steps`, then constant: the stable phase of a
    /// run that ends when it stops improving (see [`super::plateau`]).
    Warmup { warmup_steps: usize },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub weight_decay: f64,
    /// SGD only.
    pub momentum: f64,
    pub schedule: LrSchedule,
}

impl OptimizerSpec {
    /// The paper's fine-tuning optimizer: SGD, momentum 0.9, constant rate.
    pub fn sgd(lr: f64, weight_decay: f64) -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            lr,
            weight_decay,
            momentum: 0.9,
            schedule: LrSchedule::Constant,
        }
    }

    pub fn adam(lr: f64, weight_decay: f64) -> Self {
        Self {
            kind: OptimizerKind::Adam,
            momentum: 0.0,
            ..Self::sgd(lr, weight_decay)
        }
    }

    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Self {
            kind: OptimizerKind::AdamW,
            momentum: 0.0,
            ..Self::sgd(lr, weight_decay)
        }
    }

    /// An optimizer of `kind` at a constant rate; `momentum` is SGD's.
    pub fn of_kind(kind: OptimizerKind, lr: f64, weight_decay: f64, momentum: f64) -> Self {
        match kind {
            OptimizerKind::Sgd => Self {
                momentum,
                ..Self::sgd(lr, weight_decay)
            },
            OptimizerKind::Adam => Self::adam(lr, weight_decay),
            OptimizerKind::AdamW => Self::adamw(lr, weight_decay),
        }
    }

    pub fn with_schedule(self, schedule: LrSchedule) -> Self {
        Self { schedule, ..self }
    }

    /// Learning rate for the 0-based `step` of a run of `total` steps.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine { warmup_steps } | LrSchedule::Warmup { warmup_steps }
                if step < warmup_steps =>
            {
                self.lr * (step + 1) as f64 / warmup_steps as f64
            }
            LrSchedule::Warmup { .. } => self.lr,
            LrSchedule::Cosine { warmup_steps } => {
                let span = total.saturating_sub(warmup_steps).max(1) as f64;
                let progress = (step - warmup_steps) as f64 / span;
                self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

type SgdOptim<B> = OptimizerAdaptor<Sgd<<B as AutodiffBackend>::InnerBackend>, Network<B>, B>;

/// One of burn's optimizers for a zoo [`Network`].
#[derive(Clone)]
pub enum Optim<B: AutodiffBackend> {
    Sgd(SgdOptim<B>),
    Adam(OptimizerAdaptor<Adam, Network<B>, B>),
    AdamW(OptimizerAdaptor<AdamW, Network<B>, B>),
}

type StateRecorder = NamedMpkBytesRecorder<FullPrecisionSettings>;

impl<B: AutodiffBackend> Optim<B> {
    pub fn new(spec: &OptimizerSpec) -> Self {
        let decay =
            (spec.weight_decay != 0.0).then(|| WeightDecayConfig::new(spec.weight_decay as f32));
        match spec.kind {
            OptimizerKind::Sgd => {
                let momentum = (spec.momentum != 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(spec.momentum)
                        .with_dampening(0.0)
                });
                let config = SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(decay);
                Optim::Sgd(config.init())
            }
            OptimizerKind::Adam => {
                let config = AdamConfig::new()
                    .with_epsilon(ADAM_EPSILON)
                    .with_weight_decay(decay);
                Optim::Adam(config.init())
            }
            OptimizerKind::AdamW => {
                let config = AdamWConfig::new()
                    .with_epsilon(ADAM_EPSILON)
                    .with_weight_decay(spec.weight_decay as f32);
                Optim::AdamW(config.init())
            }
        }
    }

    pub fn step(&mut self, lr: f64, model: Network<B>, grads: GradientsParams) -> Network<B> {
        match self {
            Optim::Sgd(o) => o.step(lr, model, grads),
            Optim::Adam(o) => o.step(lr, model, grads),
            Optim::AdamW(o) => o.step(lr, model, grads),
        }
    }

    /// The optimizer state (momentum buffers, moment estimates) at full precision.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let recorder = StateRecorder::default();
        let bytes = match self {
            Optim::Sgd(o) => Recorder::<B>::record(&recorder, o.to_record(), ()),
            Optim::Adam(o) => Recorder::<B>::record(&recorder, o.to_record(), ()),
            Optim::AdamW(o) => Recorder::<B>::record(&recorder, o.to_record(), ()),
        };
        bytes.map_err(|e| format!("cannot serialise optimizer state: {e}"))
    }

    /// Restores state written by [`to_bytes`](Self::to_bytes) for the same optimizer kind.
    pub fn load_bytes(self, bytes: Vec<u8>, device: &B::Device) -> Result<Self, String> {
        let recorder = StateRecorder::default();
        let err = |e| format!("cannot read optimizer state: {e}");
        Ok(match self {
            Optim::Sgd(o) => Optim::Sgd(
                o.load_record(Recorder::<B>::load(&recorder, bytes, device).map_err(err)?),
            ),
            Optim::Adam(o) => Optim::Adam(
                o.load_record(Recorder::<B>::load(&recorder, bytes, device).map_err(err)?),
            ),
            Optim::AdamW(o) => Optim::AdamW(
                o.load_record(Recorder::<B>::load(&recorder, bytes, device).map_err(err)?),
            ),
        })
    }
}
