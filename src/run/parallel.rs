//! Jobs side by side: a shared queue, `jobs` worker threads, and on the CPU
//! backend a dedicated compute pool per job.
//!
//! flex's kernels make poor use of a second core: for every model the CPU
//! studies train, two runs side by side on one thread each reach 1.35-2.4x the
//! images/s of one run on two threads (resnet-base 1,298 against 885, Lite0 at
//! 64 px 116 against 74; `benches/cpu_table.py`, README), so `--jobs`
//! defaults to one run per core.

use std::collections::VecDeque;
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::train::BackendKind;

/// Cores this process may use.
/// The cores this process may use: a Slurm task's `--cpus-per-task` when it
/// runs under Slurm (without cgroups, the OS would report every core of the
/// node), else what the OS reports.
pub fn cores() -> usize {
    let slurm = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0);
    slurm.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The compute threads of each of `jobs` side-by-side jobs: on the CPU
/// backend the cores shared out (at least one each); elsewhere `None` (the
/// GPU computes, the global pool prepares data).
pub fn threads_per_job(backend: BackendKind, jobs: usize) -> Option<usize> {
    match crate::train::resolve(backend) {
        Ok(BackendKind::Cpu) => Some((cores() / jobs.max(1)).max(1)),
        _ => None,
    }
}

/// Runs `f(index, item)` for every item on `jobs` worker threads; results come
/// back in completion order. With `threads`, each call computes on its own
/// pool of that many threads. The first error stops the workers from taking
/// new items (calls in flight finish) and is returned.
pub fn for_each_parallel<T, R, F>(
    items: Vec<T>,
    jobs: usize,
    threads: Option<usize>,
    f: F,
) -> Result<Vec<R>>
where
    T: Send,
    R: Send,
    F: Fn(usize, T) -> Result<R> + Sync,
{
    let jobs = jobs.clamp(1, items.len().max(1));
    let queue = Mutex::new(items.into_iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if failure.lock().expect("lock").is_some() {
                    return;
                }
                let Some((i, item)) = queue.lock().expect("lock").pop_front() else {
                    return;
                };
                match on_pool(threads, || f(i, item)) {
                    Ok(r) => results.lock().expect("lock").push(r),
                    Err(e) => {
                        failure.lock().expect("lock").get_or_insert(e);
                    }
                }
            });
        }
    });
    match failure.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(results.into_inner().expect("lock")),
    }
}

/// Runs `f` on a dedicated pool of `threads` threads (or on the global pool).
/// `f` itself runs on one of the pool's threads, so flex's parallel kernels
/// split their work from there; called from outside a pool, each kernel would
/// hand its work to the pool and sleep until it came back.
pub fn on_pool<R: Send>(threads: Option<usize>, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("cannot start a thread pool")?
            .install(f),
        None => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_runs_once_on_its_own_pool() {
        let items: Vec<u32> = (0..9).collect();
        let mut out = for_each_parallel(items, 3, Some(1), |i, item| {
            assert_eq!(rayon::current_num_threads(), 1);
            Ok((i, item * 10))
        })
        .unwrap();
        out.sort_unstable();
        assert_eq!(
            out,
            (0..9).map(|i| (i as usize, i * 10)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_first_error_stops_new_work_and_is_returned() {
        let started = Mutex::new(0);
        let err = for_each_parallel((0..50).collect(), 1, None, |_, item: u32| {
            *started.lock().unwrap() += 1;
            match item {
                3 => anyhow::bail!("item 3 failed"),
                _ => Ok(item),
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 3 failed");
        // One worker: items 0..=3 ran, nothing after the failure.
        assert_eq!(*started.lock().unwrap(), 4);
    }

    #[test]
    fn no_items_is_no_work() {
        let out: Vec<u8> = for_each_parallel(Vec::<u8>::new(), 4, None, |_, x| Ok(x)).unwrap();
        assert!(out.is_empty());
    }
}
