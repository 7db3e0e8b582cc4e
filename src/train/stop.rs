//! Stopping on request, the way schedulers ask: SIGTERM (`scancel`,
//! preemption, a job's end) and SIGUSR1 (what `sbatch --signal=B:USR1@T`
//! sends before the time limit) set a flag that the training loop reads
//! after every step. The run then writes its checkpoint and returns
//! unfinished, and `oodcal run` exits without starting another run; the next
//! `run` (or a resubmitted task) resumes from the checkpoint, bit for bit.
//! A SIGKILL cannot be caught: it loses the steps since the last checkpoint.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Routes SIGTERM and SIGUSR1 to the flag. Call once, before threads start.
pub fn install_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic; installed before any
    // other thread exists.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGUSR1, handler);
    }
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks for a stop as the signals do (for tests and embedding callers).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
