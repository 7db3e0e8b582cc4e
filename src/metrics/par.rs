//! Deterministic data parallelism.
//!
//! Floating-point sums depend on the order of the additions. To make every
//! metric bit-identical whatever the size of rayon's thread pool, rows are cut
//! into chunks of a *fixed* size (never derived from the thread count), each
//! chunk is reduced on its own, and the per-chunk results are combined
//! sequentially in chunk order.

use rayon::prelude::*;
use std::ops::Range;

/// Rows per work item: large enough that rayon's per-task overhead is noise,
/// small enough that 10^6 rows already spread over several cores.
pub(crate) const CHUNK_ROWS: usize = 1 << 15;

/// Applies `f` to each fixed-size row range of `0..n` (in parallel when there is
/// more than one chunk) and returns the results in chunk order.
pub(crate) fn map_chunks<T, F>(n: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>) -> T + Sync + Send,
{
    let chunks = n.div_ceil(CHUNK_ROWS);
    if chunks <= 1 {
        // Small inputs (bootstrap resamples, tests) skip the pool entirely.
        return vec![f(0..n)];
    }
    (0..chunks)
        .into_par_iter()
        .map(|c| f(c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n)))
        .collect()
}

/// Sum of `f` over the fixed chunks of `0..n`, added in chunk order.
pub(crate) fn sum_chunks<F>(n: usize, f: F) -> f64
where
    F: Fn(Range<usize>) -> f64 + Sync + Send,
{
    map_chunks(n, f).into_iter().sum()
}
