//! Running a study's grid on a Slurm cluster: one job-array task per run,
//! each task an `oodcal run --only <run id>` writing into the shared runs
//! folder exactly as on one machine (records atomic, their digest last; one
//! `flock` per run, so two tasks never train one run), and a dependent job
//! (`afterany`) that builds the report once the array is done.
//!
//! * [`script`]: the `sbatch` scripts, plain enough to read and edit.
//! * [`submission`]: a submission's folder, `<runs>/slurm/submit-NNN/`: the
//!   run list, the scripts, the job ids and the tasks' logs.
//! * [`queue`]: `sbatch`, `squeue`, and `sacct` where accounting exists.
//! * [`status`]: each run's state, from records, locks, checkpoints and the queue.
//!
//! A task asked to stop (`scancel`, preemption, the `--signal` before its
//! time limit) checkpoints and exits with 75 (see [`crate::train::stop`]); a
//! killed one loses the steps since its last checkpoint. Submitting again
//! sends only the runs that are neither recorded nor queued nor running, and
//! each resumes from its checkpoint.

pub mod queue;
pub mod script;
pub mod status;
pub mod submission;
