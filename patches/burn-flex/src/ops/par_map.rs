//! oodcal: element-wise maps shared out among the pool's threads.
//!
//! burn-flex runs its generic element-wise loops (GELU and its gradient,
//! `exp`, custom binary operations) on the calling thread whatever their size;
//! on a pool of two threads a ViT step then left the second thread idle for
//! most of its element-wise work. Each output element is a function of its own
//! inputs only, so however the slice is split, every element gets the same
//! bits; with one thread, or a short slice, the loop is the original one.

use alloc::vec::Vec;
use core::mem::MaybeUninit;

/// Elements below which the calling thread maps a slice alone (a rayon
/// hand-over costs microseconds). 32 Ki and 128 Ki timed alike on two threads
/// (vit-tiny and vit-small, whose activations are 49 Ki to 786 Ki elements:
/// median whole-run ratios 1.01 and 0.99); the lower keeps more eligible.
pub(crate) const MIN_PARALLEL: usize = 32 * 1024;

/// The piece each thread maps: the slice split evenly among the pool's
/// threads, or `None` where one thread should do it all.
fn piece(n: usize) -> Option<usize> {
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        (threads > 1 && n >= MIN_PARALLEL).then(|| n.div_ceil(threads))
    }
    #[cfg(not(feature = "rayon"))]
    {
        let _ = n;
        None
    }
}

/// `xs[i] = op(xs[i])` for every element.
pub(crate) fn map_in_place<E, Op>(xs: &mut [E], op: Op)
where
    E: Copy + Send + Sync,
    Op: Fn(E) -> E + Sync,
{
    let run = |xs: &mut [E]| {
        for x in xs.iter_mut() {
            *x = op(*x);
        }
    };
    match piece(xs.len()) {
        #[cfg(feature = "rayon")]
        Some(len) => {
            use rayon::prelude::*;
            xs.par_chunks_mut(len).for_each(run);
        }
        _ => run(xs),
    }
}

/// `xs[i] = op(xs[i], ys[i])` for every element (`ys` at least as long).
pub(crate) fn zip_in_place<E, Op>(xs: &mut [E], ys: &[E], op: Op)
where
    E: Copy + Send + Sync,
    Op: Fn(E, E) -> E + Sync,
{
    let run = |(xs, ys): (&mut [E], &[E])| {
        for (x, &y) in xs.iter_mut().zip(ys) {
            *x = op(*x, y);
        }
    };
    match piece(xs.len()) {
        #[cfg(feature = "rayon")]
        Some(len) => {
            use rayon::prelude::*;
            xs.par_chunks_mut(len).zip(ys.par_chunks(len)).for_each(run);
        }
        _ => run((xs, ys)),
    }
}

/// `[op(x) for x in xs]`.
pub(crate) fn map_collect<E, R, Op>(xs: &[E], op: Op) -> Vec<R>
where
    E: Copy + Sync,
    R: Send,
    Op: Fn(E) -> R + Sync,
{
    let Some(len) = piece(xs.len()) else {
        return xs.iter().map(|&x| op(x)).collect();
    };
    fill(xs.len(), len, |start, out| {
        for (o, &x) in out.iter_mut().zip(&xs[start..]) {
            o.write(op(x));
        }
    })
}

/// `[op(x, y) for (x, y) in zip(xs, ys)]`, as long as the shorter.
pub(crate) fn zip_collect<E, R, Op>(xs: &[E], ys: &[E], op: Op) -> Vec<R>
where
    E: Copy + Sync,
    R: Send,
    Op: Fn(E, E) -> R + Sync,
{
    let n = xs.len().min(ys.len());
    let Some(len) = piece(n) else {
        return xs.iter().zip(ys).map(|(&x, &y)| op(x, y)).collect();
    };
    fill(n, len, |start, out| {
        for ((o, &x), &y) in out.iter_mut().zip(&xs[start..]).zip(&ys[start..]) {
            o.write(op(x, y));
        }
    })
}

/// A vector of `n` elements, pieces of `len` written in parallel by
/// `write(first index, piece)`, which must initialise every slot it is given.
#[cfg(feature = "rayon")]
fn fill<R: Send>(
    n: usize,
    len: usize,
    write: impl Fn(usize, &mut [MaybeUninit<R>]) + Sync,
) -> Vec<R> {
    use rayon::prelude::*;
    let mut out = Vec::with_capacity(n);
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(len)
        .enumerate()
        .for_each(|(i, piece)| write(i * len, piece));
    // SAFETY: the pieces cover 0..n and `write` initialised each of them.
    unsafe { out.set_len(n) };
    out
}

#[cfg(not(feature = "rayon"))]
fn fill<R: Send>(_: usize, _: usize, _: impl Fn(usize, &mut [MaybeUninit<R>]) + Sync) -> Vec<R> {
    unreachable!("piece() splits nothing without rayon")
}
