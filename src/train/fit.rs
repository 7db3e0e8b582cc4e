//! The training loop shared by pre-training and fine-tuning.
//!
//! Pre-training is the one-domain case. Fine-tuning follows DomainBed's ERM as
//! the paper runs it: every step draws one minibatch from each training domain,
//! concatenates them and takes one step of SGD (momentum 0.9) at a constant
//! learning rate, for a fixed number of steps, with evaluation every K steps.

use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use super::algorithm::{mix_pairs, Algorithm, MixupDraw};
use super::batch::{BatchSource, StepInput, TrainRng};
use super::checkpoint::{train_rng, Checkpoint, CheckpointMeta, RngPosition};
use super::optim::{Optim, OptimizerSpec};
use super::plateau::{Plateau, PlateauState};
use super::step::train_step;
use super::TrainError;
use crate::model::{Network, Noise};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Total optimizer steps of the run.
    pub steps: usize,
    /// Minibatches per step: the number of training domains (1 for pre-training).
    pub domains: usize,
    pub optimizer: OptimizerSpec,
    /// Seeds the batch stream and the backend's RNG.
    pub seed: u64,
    /// Call the evaluation hook after every `eval_every` steps and after the last
    /// step (0: after the last step only).
    pub eval_every: usize,
    pub checkpoint: Option<CheckpointPolicy>,
    /// Return after this many steps in this call (checkpointing first, if enabled)
    /// even if the run is not finished, e.g. to fit a scheduler's time slot.
    #[serde(default)]
    pub stop_after: Option<usize>,
    /// What each step optimises (DomainBed's ERM, CORAL or Mixup).
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Train until the monitor accuracy stops improving (then `steps` caps the
    /// stable phase); see [`train_to_plateau`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<Plateau>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPolicy {
    pub path: PathBuf,
    /// Write a checkpoint after every `every` steps (and when stopping early).
    pub every: usize,
    /// The run the checkpoint belongs to (see [`CheckpointMeta::owner`]).
    #[serde(default)]
    pub owner: String,
}

impl TrainConfig {
    /// Supervised pre-training: one minibatch per step.
    pub fn pretrain(steps: usize, optimizer: OptimizerSpec, seed: u64) -> Self {
        Self {
            steps,
            domains: 1,
            optimizer,
            seed,
            eval_every: 0,
            checkpoint: None,
            stop_after: None,
            algorithm: Algorithm::Erm,
            plateau: None,
        }
    }

    /// The paper's ERM fine-tuning: one minibatch per training domain, SGD with
    /// momentum 0.9, constant learning rate (swap the optimizer for Adam runs).
    pub fn erm(steps: usize, domains: usize, lr: f64, weight_decay: f64, seed: u64) -> Self {
        Self {
            domains,
            ..Self::pretrain(steps, OptimizerSpec::sgd(lr, weight_decay), seed)
        }
    }

    pub fn with_algorithm(self, algorithm: Algorithm) -> Self {
        Self { algorithm, ..self }
    }

    pub fn with_eval_every(self, eval_every: usize) -> Self {
        Self { eval_every, ..self }
    }

    pub fn with_checkpoint(self, path: impl Into<PathBuf>, every: usize) -> Self {
        Self {
            checkpoint: Some(CheckpointPolicy {
                path: path.into(),
                every,
                owner: String::new(),
            }),
            ..self
        }
    }

    /// Names the run its checkpoints belong to; a checkpoint of another owner
    /// is set aside instead of resumed.
    pub fn with_checkpoint_owner(mut self, owner: &str) -> Self {
        if let Some(policy) = &mut self.checkpoint {
            policy.owner = owner.to_string();
        }
        self
    }

    /// Ends the run at a plateau of the monitor accuracy (`steps` then caps
    /// the stable phase); the optimizer's schedule should be
    /// [`super::LrSchedule::Warmup`].
    pub fn with_plateau(self, plateau: Plateau) -> Self {
        Self {
            plateau: Some(plateau),
            ..self
        }
    }

    pub fn with_steps(self, steps: usize) -> Self {
        Self { steps, ..self }
    }

    pub fn with_stop_after(self, steps: usize) -> Self {
        Self {
            stop_after: Some(steps),
            ..self
        }
    }

    /// What a checkpoint must agree on to resume this run: everything that
    /// changes the trajectory (not the checkpoint or stopping policy).
    /// ERM's is the form written before algorithms existed, so its
    /// checkpoints still resume.
    fn fingerprint(&self, model: &str) -> String {
        let trajectory = (self.steps, self.domains, &self.optimizer, self.seed, model);
        let json = serde_json::to_string(&trajectory).expect("serialisable");
        let json = if self.algorithm.is_erm() {
            json
        } else {
            format!("{json} {}", self.algorithm.name())
        };
        match &self.plateau {
            Some(rule) => format!(
                "{json} plateau {}",
                serde_json::to_string(rule).expect("serialisable")
            ),
            None => json,
        }
    }
}

/// The result of [`train`].
pub struct TrainOutcome<B: AutodiffBackend> {
    pub model: Network<B>,
    /// Steps completed, counting those before a resume.
    pub step: usize,
    /// Loss of every completed step, step 1 first (restored from the checkpoint on resume).
    pub losses: Vec<f32>,
    /// The step the run resumed from (0 for a fresh start).
    pub resumed_from: usize,
    /// `false` when [`TrainConfig::stop_after`] or a stop request
    /// ([`super::stop`]) ended the call early (after checkpointing).
    pub finished: bool,
    /// Why a checkpoint found at the start was set aside (the run then
    /// started from step 0), naming both files.
    pub set_aside: Option<String>,
    /// A plateau run's measurements and where its cool-down started.
    pub plateau: Option<PlateauState>,
}

impl<B: AutodiffBackend> std::fmt::Debug for TrainOutcome<B> {
    /// A summary: the model's own Debug output runs to pages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainOutcome")
            .field("step", &self.step)
            .field("last_loss", &self.losses.last())
            .field("resumed_from", &self.resumed_from)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Everything the loop carries from one step to the next.
struct State<B: AutodiffBackend> {
    model: Network<B>,
    optim: Optim<B>,
    rng: TrainRng,
    step: usize,
    losses: Vec<f32>,
    plateau: Option<PlateauState>,
}

/// Measures a plateau run's monitor accuracy (percent) on a model.
type Monitor<'m, B> = &'m mut dyn FnMut(&Network<B>) -> anyhow::Result<f64>;

/// Trains `model` (whole network) on batches from `source`.
///
/// If the configured checkpoint file exists, the run resumes from it (it must
/// come from the same configuration and architecture); on CPU the result is then
/// identical to an uninterrupted run. `on_eval(step, &model)` runs after every
/// `eval_every` steps and after the last; compute metrics there (e.g. with
/// [`super::eval::logits`] on `model.valid()`).
pub fn train<B, S, E>(
    model: Network<B>,
    config: &TrainConfig,
    source: &mut S,
    on_eval: E,
    device: &B::Device,
) -> Result<TrainOutcome<B>, TrainError>
where
    B: AutodiffBackend,
    S: BatchSource + ?Sized,
    E: FnMut(usize, &Network<B>) -> anyhow::Result<()>,
{
    if config.plateau.is_some() {
        return Err(TrainError::Eval {
            step: 0,
            source: anyhow::anyhow!("a plateau run needs a monitor: call train_to_plateau"),
        });
    }
    run(model, config, source, on_eval, None, device)
}

/// Trains `model` as [`train`] does until `monitor` (accuracy in percent on
/// images the run never trains on) stops improving by the rule in
/// `config.plateau`, then cools down; the outcome carries the measurements.
pub fn train_to_plateau<B, S>(
    model: Network<B>,
    config: &TrainConfig,
    source: &mut S,
    monitor: Monitor<'_, B>,
    device: &B::Device,
) -> Result<TrainOutcome<B>, TrainError>
where
    B: AutodiffBackend,
    S: BatchSource + ?Sized,
{
    if config.plateau.is_none() {
        return Err(TrainError::Eval {
            step: 0,
            source: anyhow::anyhow!("train_to_plateau needs config.plateau"),
        });
    }
    run(model, config, source, |_, _| Ok(()), Some(monitor), device)
}

fn run<B, S, E>(
    model: Network<B>,
    config: &TrainConfig,
    source: &mut S,
    mut on_eval: E,
    mut monitor: Option<Monitor<'_, B>>,
    device: &B::Device,
) -> Result<TrainOutcome<B>, TrainError>
where
    B: AutodiffBackend,
    S: BatchSource + ?Sized,
    E: FnMut(usize, &Network<B>) -> anyhow::Result<()>,
{
    let fingerprint = config.fingerprint(&architecture(&model));
    // No `B::seed`: burn's generator is process-wide, so seeding it here would
    // reset it under a run training beside this one; nothing in a step draws
    // from it (dropout masks are keyed, see `model::noise`).
    let (mut state, set_aside) = start(model, config, &fingerprint, device)?;
    let resumed_from = state.step;
    let classes = state.model.num_classes();
    let mut ran = 0;
    while state.step < last_step(config, &state) {
        if config.stop_after.is_some_and(|limit| ran >= limit) || super::stop::requested() {
            save(&state, config, &fingerprint)?;
            return Ok(outcome(state, resumed_from, false, set_aside));
        }
        let input = draw(source, &mut state.rng, config, classes, state.step)?;
        let lr = lr_of(config, &state);
        let noise = Noise::of_step(config.seed, state.step);
        let algorithm = config.algorithm;
        let (model, loss) = train_step(
            state.model,
            &mut state.optim,
            input,
            algorithm,
            lr,
            noise,
            device,
        )
        .map_err(|loss| TrainError::NonFinite {
            step: state.step + 1,
            loss,
        })?;
        state.model = model;
        state.step += 1;
        state.losses.push(loss);
        ran += 1;
        if let (Some(rule), Some(plateau), Some(measure)) =
            (&config.plateau, &mut state.plateau, monitor.as_mut())
        {
            if plateau.measures_after(rule, state.step, config.steps) {
                let accuracy = measure(&state.model).map_err(|source| TrainError::Eval {
                    step: state.step,
                    source,
                })?;
                plateau.observe(rule, state.step, accuracy, config.steps);
            }
        } else if is_due(state.step, config.eval_every, last_step(config, &state)) {
            on_eval(state.step, &state.model).map_err(|source| TrainError::Eval {
                step: state.step,
                source,
            })?;
        }
        if let Some(policy) = &config.checkpoint {
            if is_due(state.step, policy.every, last_step(config, &state)) {
                save(&state, config, &fingerprint)?;
            }
        }
    }
    Ok(outcome(state, resumed_from, true, set_aside))
}

/// The run's last step: `steps`, or for a plateau run the end of its cool-down.
fn last_step<B: AutodiffBackend>(config: &TrainConfig, state: &State<B>) -> usize {
    match (&config.plateau, &state.plateau) {
        (Some(rule), Some(plateau)) => plateau.end(rule, config.steps),
        _ => config.steps,
    }
}

/// The learning rate of the next step (the cool-down scales a plateau run's).
fn lr_of<B: AutodiffBackend>(config: &TrainConfig, state: &State<B>) -> f64 {
    let lr = config.optimizer.lr_at(state.step, config.steps);
    match (&config.plateau, &state.plateau) {
        (Some(rule), Some(plateau)) => lr * plateau.lr_factor(rule, state.step),
        _ => lr,
    }
}

/// True after every `every` steps and after the last one (`every` = 0: last only).
fn is_due(step: usize, every: usize, total: usize) -> bool {
    step == total || (every > 0 && step.is_multiple_of(every))
}

/// A description of the network's shape, so a checkpoint cannot resume another model.
fn architecture<B: AutodiffBackend>(model: &Network<B>) -> String {
    use burn::module::Module;
    format!(
        "params={} classes={}",
        model.num_params(),
        model.num_classes()
    )
}

/// Fresh state, or the state saved in the checkpoint file if there is one.
/// A checkpoint that does not verify, or belongs to another run, is set
/// aside (see [`super::checkpoint::set_aside`]) and the run starts afresh;
/// the second value says so.
fn start<B: AutodiffBackend>(
    model: Network<B>,
    config: &TrainConfig,
    fingerprint: &str,
    device: &B::Device,
) -> Result<(State<B>, Option<String>), TrainError> {
    let fresh = |model| State {
        model,
        optim: Optim::new(&config.optimizer),
        rng: train_rng(config.seed),
        step: 0,
        losses: Vec::new(),
        plateau: config.plateau.map(|_| PlateauState::default()),
    };
    let Some(policy) = config.checkpoint.as_ref().filter(|p| p.path.exists()) else {
        return Ok((fresh(model), None));
    };
    match resume(model.clone(), policy, config, fingerprint, device) {
        Ok(state) => Ok((state, None)),
        Err(problem) => {
            let moved = super::checkpoint::set_aside(&policy.path).map_err(|source| {
                super::CheckpointError::Io {
                    path: policy.path.clone(),
                    source,
                }
            })?;
            let note = format!(
                "{problem}; set aside as {}, the run starts again from step 0",
                moved.display()
            );
            Ok((fresh(model), Some(note)))
        }
    }
}

/// The state saved in the policy's checkpoint, if it verifies and is this run's.
fn resume<B: AutodiffBackend>(
    model: Network<B>,
    policy: &CheckpointPolicy,
    config: &TrainConfig,
    fingerprint: &str,
    device: &B::Device,
) -> Result<State<B>, super::CheckpointError> {
    let mismatch = |reason| super::CheckpointError::Mismatch {
        path: policy.path.clone(),
        reason,
    };
    let checkpoint = Checkpoint::read(&policy.path)?;
    let meta = checkpoint.meta.clone();
    if meta.owner != policy.owner {
        return Err(mismatch(format!(
            "it belongs to run `{}`, not `{}`",
            meta.owner, policy.owner
        )));
    }
    if meta.fingerprint != fingerprint {
        return Err(mismatch(format!(
            "saved {}, now {}",
            meta.fingerprint, fingerprint
        )));
    }
    let optim = Optim::new(&config.optimizer);
    let (model, optim) = checkpoint.restore(&policy.path, model, optim, device)?;
    let rng = meta
        .rng
        .restore()
        .map_err(|reason| super::CheckpointError::Format {
            path: policy.path.clone(),
            reason,
        })?;
    Ok(State {
        model,
        optim,
        rng,
        step: meta.step,
        losses: meta.losses,
        plateau: config.plateau.map(|_| meta.plateau.unwrap_or_default()),
    })
}

fn save<B: AutodiffBackend>(
    state: &State<B>,
    config: &TrainConfig,
    fingerprint: &str,
) -> Result<(), TrainError> {
    let Some(policy) = &config.checkpoint else {
        return Ok(());
    };
    let meta = CheckpointMeta {
        step: state.step,
        rng: RngPosition::of(&state.rng),
        losses: state.losses.clone(),
        fingerprint: fingerprint.to_string(),
        owner: policy.owner.clone(),
        plateau: state.plateau.clone(),
    };
    Checkpoint::save(&policy.path, &meta, &state.model, &state.optim)?;
    Ok(())
}

/// One minibatch per domain, in domain order, stacked into one step's input;
/// for Mixup, mixed across domains with draws that follow the batches' in `rng`.
fn draw<S: BatchSource + ?Sized>(
    source: &mut S,
    rng: &mut TrainRng,
    config: &TrainConfig,
    classes: usize,
    step: usize,
) -> Result<StepInput, TrainError> {
    let batches = (0..config.domains)
        .map(|domain| source.next_batch(domain, rng))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|source| TrainError::Source {
            step: step + 1,
            source,
        })?;
    let bad_batch = |reason| TrainError::Batch {
        step: step + 1,
        reason,
    };
    let input = StepInput::stack(&batches, classes).map_err(bad_batch)?;
    match config.algorithm {
        Algorithm::Mixup => {
            let mix = MixupDraw::new(rand::Rng::next_u64(rng), config.domains);
            mix_pairs(&input, &mix).map_err(bad_batch)
        }
        Algorithm::Erm | Algorithm::Coral => Ok(input),
    }
}

fn outcome<B: AutodiffBackend>(
    state: State<B>,
    resumed_from: usize,
    finished: bool,
    set_aside: Option<String>,
) -> TrainOutcome<B> {
    TrainOutcome {
        model: state.model,
        step: state.step,
        losses: state.losses,
        resumed_from,
        finished,
        set_aside,
        plateau: state.plateau,
    }
}

/// Mean loss of steps `from+1 ..= to` (1-based steps; `losses[0]` is step 1);
/// 0 for an empty window (JSON has no NaN, and a record must stay readable).
pub fn mean_loss(losses: &[f32], from: usize, to: usize) -> f64 {
    let window = &losses[from.min(losses.len())..to.min(losses.len())];
    if window.is_empty() {
        return 0.0;
    }
    window.iter().map(|&l| f64::from(l)).sum::<f64>() / window.len() as f64
}
