//! Bin edges and per-bin accumulation.
//!
//! # Equal-width bins
//! `B` bins with edges `e_i = i / B` (computed as `i as f64 / B as f64`, i.e.
//! correctly rounded). Bin `b` holds scores `s` with `e_b <= s < e_{b+1}`,
//! except the last bin, which also holds `s == 1.0`: `[lo, hi)` everywhere and
//! `[lo, 1]` at the top, as the paper specifies. A confidence of exactly 1.0
//! therefore lands in bin `B - 1`, not in an extra bin (torchmetrics keeps a
//! hidden bin `B` for it; uncertainty-calibration's bins are `(lo, hi]`).
//!
//! # Equal-mass bins
//! Rows are ranked by score and cut into `B` groups of consecutive ranks with
//! the sizes `numpy.array_split` uses: with `n = qB + r`, the first `r` groups
//! hold `q + 1` rows and the rest `q`. Tied scores must not be split across
//! bins (which rows of a tie fall on which side would otherwise depend on row
//! order), so the rule is stated on *values*: let `t_j` (`j = 1..B-1`) be the
//! largest score of group `j - 1`, i.e. the order statistic of rank
//! `start_j - 1`. A score `s` goes to bin `#{j : t_j < s}`. Equivalently, a
//! whole tie group goes to the bin of its lowest-ranked member. Consequences:
//! * the assignment depends only on the multiset of scores, so it is invariant
//!   to row order (tested);
//! * with ties a bin may hold more or fewer rows than `array_split` gives it,
//!   and a tie group spanning several groups leaves later bins empty;
//! * with fewer rows than bins, bins `n..B` are empty (as `array_split`);
//! * empty bins contribute 0 to every norm.
//!
//! Without ties this is exactly `numpy.array_split` of the sorted scores, and
//! with ties it coincides with uncertainty-calibration's `get_equal_bins`
//! (boundaries at midpoints of adjacent groups, searched with `side='left'`).
//! Only order statistics are needed, not a sort: `B - 1` selections.

use super::par::map_chunks;
use super::variant::Binning;

/// Running sums of one bin.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinAcc {
    /// Rows in the bin.
    pub count: u64,
    /// Sum of the rows' scores (confidences).
    pub sum_score: f64,
    /// Rows whose event happened (prediction right / class is the label).
    pub hits: u64,
}

impl BinAcc {
    /// `accuracy - confidence` of the bin; `None` when empty.
    pub fn gap(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.hits as f64 - self.sum_score) / self.count as f64)
    }
    /// Fraction of hits; `None` when empty.
    pub fn accuracy(&self) -> Option<f64> {
        (self.count > 0).then(|| self.hits as f64 / self.count as f64)
    }
    /// Mean score; `None` when empty.
    pub fn mean_score(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_score / self.count as f64)
    }
    pub(crate) fn merge(&mut self, other: &BinAcc) {
        self.count += other.count;
        self.sum_score += other.sum_score;
        self.hits += other.hits;
    }
}

/// Equal-width binning of `[0, 1]`; see the module docs for the edge rule.
#[derive(Debug, Clone, PartialEq)]
pub struct EqualWidth {
    edges: Vec<f64>,
}

impl EqualWidth {
    /// `n_bins >= 1` bins (0 is treated as 1).
    pub fn new(n_bins: usize) -> Self {
        let b = n_bins.max(1);
        Self {
            edges: (0..=b).map(|i| i as f64 / b as f64).collect(),
        }
    }

    /// Number of bins.
    pub fn n_bins(&self) -> usize {
        self.edges.len() - 1
    }

    /// Edges `e_0 = 0, ..., e_B = 1`.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Bin of a score in `[0, 1]`. `floor(s * B)` is a first guess that can be
    /// one off when `s * B` rounds across an integer; it is corrected against
    /// the stored edges so that the documented `e_b <= s < e_{b+1}` holds exactly.
    #[inline]
    pub fn bin(&self, score: f64) -> usize {
        let last = self.edges.len() - 2;
        let guess = (score * (last + 1) as f64) as usize; // saturating, floor for s >= 0
        if guess > last {
            return last;
        }
        if score < self.edges[guess] {
            guess - 1 // guess > 0 here: edges[0] = 0 <= score
        } else if guess < last && score >= self.edges[guess + 1] {
            guess + 1
        } else {
            guess
        }
    }
}

/// Equal-mass binning: thresholds `t_1 <= ... <= t_{B-1}`; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct EqualMass {
    thresholds: Vec<f64>,
}

impl EqualMass {
    /// Thresholds for `n_bins` bins over `scores` (any order; not modified).
    /// With no scores every threshold is 1.0 and everything lands in bin 0.
    pub fn new(scores: &[f64], n_bins: usize) -> Self {
        let b = n_bins.max(1);
        let n = scores.len();
        if n == 0 {
            return Self {
                thresholds: vec![1.0; b - 1],
            };
        }
        let ranks: Vec<usize> = (1..b).map(|j| group_start(n, b, j) - 1).collect();
        let thresholds = if n < HISTOGRAM_MIN_ROWS {
            order_statistics_by_selection(scores, &ranks)
        } else {
            order_statistics_by_histogram(scores, &ranks)
        };
        Self { thresholds }
    }

    /// Number of bins.
    pub fn n_bins(&self) -> usize {
        self.thresholds.len() + 1
    }

    /// The `B - 1` thresholds: bin `b` holds `t_b < s <= t_{b+1}` (with
    /// `t_0 = -inf`, `t_B = +inf`).
    pub fn thresholds(&self) -> &[f64] {
        &self.thresholds
    }

    /// Bin of a score: the number of thresholds strictly below it. For the
    /// usual few bins a branch-free count beats a binary search, whose
    /// branches mispredict on random scores.
    #[inline]
    pub fn bin(&self, score: f64) -> usize {
        if self.thresholds.len() <= 32 {
            self.thresholds.iter().map(|&t| (t < score) as usize).sum()
        } else {
            self.thresholds.partition_point(|&t| t < score)
        }
    }

    /// `(lo, hi)` of bin `b` for display: `lo = t_b` (0 for the first bin),
    /// `hi = t_{b+1}` (1 for the last bin).
    pub fn bounds(&self, b: usize) -> (f64, f64) {
        let lo = if b == 0 { 0.0 } else { self.thresholds[b - 1] };
        let hi = self.thresholds.get(b).copied().unwrap_or(1.0);
        (lo, hi)
    }
}

/// First rank of group `j` when `n` rows are cut into `b` groups the way
/// `numpy.array_split` cuts them (the first `n % b` groups one larger).
pub(crate) fn group_start(n: usize, b: usize, j: usize) -> usize {
    let (q, r) = (n / b, n % b);
    j * q + j.min(r)
}

/// Below this many rows a copy and `select_nth_unstable` beats two passes
/// with a 65,537-bucket histogram.
const HISTOGRAM_MIN_ROWS: usize = 1 << 17;

/// Histogram resolution: scores in `[0, 1]` map to `floor(s * 2^16)`,
/// `0..=2^16`. Multiplying by a power of two is exact, so the map is monotone
/// and a score's bucket never disagrees with its rank.
const HISTOGRAM_SCALE: f64 = 65_536.0;
const HISTOGRAM_BUCKETS: usize = 65_537;

#[inline]
fn histogram_bucket(score: f64) -> usize {
    ((score * HISTOGRAM_SCALE) as usize).min(HISTOGRAM_BUCKETS - 1)
}

/// Order statistics of ranks `ranks` (sorted) by copying and selecting.
fn order_statistics_by_selection(scores: &[f64], ranks: &[usize]) -> Vec<f64> {
    let mut work = scores.to_vec();
    let mut out = vec![0.0; ranks.len()];
    select_ranks(&mut work, 0, ranks, &mut out);
    out
}

/// The same order statistics without copying all scores: one parallel pass
/// counts scores per histogram bucket, which locates the bucket (and the rank
/// inside it) of every wanted order statistic; a second pass gathers only the
/// scores of those few buckets, and selection runs on them. Counts are
/// integers and selection ignores order, so the result is exact and the same
/// as [`order_statistics_by_selection`] for any thread count.
fn order_statistics_by_histogram(scores: &[f64], ranks: &[usize]) -> Vec<f64> {
    let counts = bucket_counts(scores);
    // (bucket, rank within the bucket) of every wanted rank.
    let mut located = Vec::with_capacity(ranks.len());
    let (mut bucket, mut below) = (0, 0u64);
    for &rank in ranks {
        while below + counts[bucket] <= rank as u64 {
            below += counts[bucket];
            bucket += 1;
        }
        located.push((bucket, (rank as u64 - below) as usize));
    }
    let mut wanted: Vec<usize> = located.iter().map(|&(b, _)| b).collect();
    wanted.dedup();
    let mut gathered = gather_buckets(scores, &wanted);
    located
        .iter()
        .map(|&(b, r)| {
            let slot = wanted.partition_point(|&w| w < b);
            let (_, value, _) = gathered[slot].select_nth_unstable_by(r, f64::total_cmp);
            *value
        })
        .collect()
}

fn bucket_counts(scores: &[f64]) -> Vec<u64> {
    use rayon::prelude::*;
    let merge = |mut a: Vec<u64>, b: Vec<u64>| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
    };
    scores
        .par_chunks(super::par::CHUNK_ROWS)
        .fold(
            || vec![0u64; HISTOGRAM_BUCKETS],
            |mut h, chunk| {
                chunk.iter().for_each(|&s| h[histogram_bucket(s)] += 1);
                h
            },
        )
        .reduce(|| vec![0u64; HISTOGRAM_BUCKETS], merge)
}

/// The scores of each bucket in `wanted` (sorted, distinct), one vector per bucket.
fn gather_buckets(scores: &[f64], wanted: &[usize]) -> Vec<Vec<f64>> {
    let mut slot_of = vec![u32::MAX; HISTOGRAM_BUCKETS];
    for (slot, &b) in wanted.iter().enumerate() {
        slot_of[b] = slot as u32;
    }
    let parts = map_chunks(scores.len(), |rows| {
        let mut out = vec![Vec::new(); wanted.len()];
        for &s in &scores[rows] {
            let slot = slot_of[histogram_bucket(s)];
            if slot != u32::MAX {
                out[slot as usize].push(s);
            }
        }
        out
    });
    let mut gathered = vec![Vec::new(); wanted.len()];
    for part in parts {
        gathered.iter_mut().zip(part).for_each(|(g, p)| g.extend(p));
    }
    gathered
}

/// Writes into `out[i]` the order statistic of rank `ranks[i]` (0-based,
/// ascending, ranks sorted) of `values`, which are rank `offset..` of the whole.
/// Divide and conquer with `select_nth_unstable`: O(n log B) instead of a sort.
fn select_ranks(values: &mut [f64], offset: usize, ranks: &[usize], out: &mut [f64]) {
    if ranks.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let rank = ranks[mid];
    let (left, pivot, right) = values.select_nth_unstable_by(rank - offset, f64::total_cmp);
    let pivot = *pivot;
    let lo = ranks[..mid].partition_point(|&r| r < rank);
    let hi = mid + 1 + ranks[mid + 1..].partition_point(|&r| r == rank);
    out[lo..hi].iter_mut().for_each(|o| *o = pivot);
    select_ranks(left, offset, &ranks[..lo], &mut out[..lo]);
    select_ranks(right, rank + 1, &ranks[hi..], &mut out[hi..]);
}

/// A binning fitted to a set of scores.
#[derive(Debug, Clone, PartialEq)]
pub enum Bins {
    /// Equal-width edges.
    Width(EqualWidth),
    /// Equal-mass thresholds.
    Mass(EqualMass),
}

impl Bins {
    /// Fits `binning` with `n_bins` bins to `scores` (equal width ignores them).
    pub fn fit(binning: Binning, n_bins: usize, scores: &[f64]) -> Self {
        match binning {
            Binning::EqualWidth => Bins::Width(EqualWidth::new(n_bins)),
            Binning::EqualMass => Bins::Mass(EqualMass::new(scores, n_bins)),
        }
    }

    /// Number of bins.
    pub fn n_bins(&self) -> usize {
        match self {
            Bins::Width(w) => w.n_bins(),
            Bins::Mass(m) => m.n_bins(),
        }
    }

    /// Bin of a score.
    #[inline]
    pub fn bin(&self, score: f64) -> usize {
        match self {
            Bins::Width(w) => w.bin(score),
            Bins::Mass(m) => m.bin(score),
        }
    }

    /// `(lo, hi)` of bin `b`: `[lo, hi)` for equal width (last bin `[lo, 1]`),
    /// `(lo, hi]` for equal mass (first bin `[0, hi]`).
    pub fn bounds(&self, b: usize) -> (f64, f64) {
        match self {
            Bins::Width(w) => (w.edges()[b], w.edges()[b + 1]),
            Bins::Mass(m) => m.bounds(b),
        }
    }

    /// Per-bin sums of `scores` and `hits` (equal lengths). Chunked so that
    /// the result is bit-identical for any thread count.
    pub fn accumulate(&self, scores: &[f64], hits: &[bool]) -> Vec<BinAcc> {
        match self {
            Bins::Width(w) => accumulate_with(scores, hits, w.n_bins(), |s| w.bin(s)),
            Bins::Mass(m) => accumulate_with(scores, hits, m.n_bins(), |s| m.bin(s)),
        }
    }
}

/// Monomorphised per binning so the hot loop has no dispatch.
fn accumulate_with<F>(scores: &[f64], hits: &[bool], n_bins: usize, bin: F) -> Vec<BinAcc>
where
    F: Fn(f64) -> usize + Sync + Send,
{
    let parts = map_chunks(scores.len(), |rows| {
        let mut acc = vec![BinAcc::default(); n_bins];
        for (&s, &h) in scores[rows.clone()].iter().zip(&hits[rows]) {
            let a = &mut acc[bin(s)];
            a.count += 1;
            a.sum_score += s;
            a.hits += h as u64;
        }
        acc
    });
    merge_parts(n_bins, &parts)
}

/// Adds per-chunk bins in chunk order (the order fixes the f64 sums).
pub(crate) fn merge_parts(n_bins: usize, parts: &[Vec<BinAcc>]) -> Vec<BinAcc> {
    let mut total = vec![BinAcc::default(); n_bins];
    for part in parts {
        total.iter_mut().zip(part).for_each(|(t, p)| t.merge(p));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neighbouring floats of a positive finite `x` (`f64::next_down` needs Rust 1.86).
    fn below(x: f64) -> f64 {
        if x == 0.0 {
            -f64::from_bits(1)
        } else {
            f64::from_bits(x.to_bits() - 1)
        }
    }
    fn above(x: f64) -> f64 {
        f64::from_bits(x.to_bits() + 1)
    }

    #[test]
    fn equal_width_edges_are_left_closed_and_one_is_in_the_last_bin() {
        let w = EqualWidth::new(10);
        assert_eq!(w.bin(0.0), 0);
        assert_eq!(w.bin(0.3), 3, "0.3 is the lower edge of bin 3");
        assert_eq!(w.bin(below(0.3)), 2);
        assert_eq!(w.bin(0.7), 7);
        assert_eq!(w.bin(0.999_999), 9);
        assert_eq!(w.bin(1.0), 9);
    }

    #[test]
    fn equal_width_bin_matches_the_edge_definition_exhaustively_near_edges() {
        for b in 1..=40 {
            let w = EqualWidth::new(b);
            for i in 0..=b {
                let e = w.edges()[i];
                for s in [below(e), e, above(e)] {
                    if !(0.0..=1.0).contains(&s) {
                        continue;
                    }
                    let want = w.edges()[1..b].partition_point(|&x| x <= s);
                    assert_eq!(w.bin(s), want, "b={b} s={s:e}");
                }
            }
        }
    }

    #[test]
    fn equal_mass_without_ties_is_array_split() {
        let scores: Vec<f64> = (0..23).map(|i| (i as f64 * 0.37).fract()).collect();
        let m = EqualMass::new(&scores, 5);
        let mut sorted = scores.clone();
        sorted.sort_by(f64::total_cmp);
        // array_split(23, 5): sizes 5,5,5,4,4
        let sizes = [5, 5, 5, 4, 4];
        let mut rank = 0;
        for (b, &size) in sizes.iter().enumerate() {
            for s in &sorted[rank..rank + size] {
                assert_eq!(m.bin(*s), b);
            }
            rank += size;
        }
    }

    #[test]
    fn equal_mass_keeps_tie_groups_whole_in_the_bin_of_their_first_member() {
        // Sorted: a a a b c d ; 3 bins of 2 ranks: groups {a,a} {a,b} {c,d}.
        let scores = [0.4, 0.2, 0.2, 0.3, 0.2, 0.5];
        let m = EqualMass::new(&scores, 3);
        assert_eq!(m.bin(0.2), 0);
        assert_eq!(m.bin(0.3), 1);
        assert_eq!(m.bin(0.4), 2);
        assert_eq!(m.bin(0.5), 2);
        // All equal: one tie group, everything in bin 0, other bins empty.
        let m = EqualMass::new(&[0.7; 9], 4);
        assert_eq!(m.bin(0.7), 0);
    }

    #[test]
    fn equal_mass_with_fewer_rows_than_bins_leaves_trailing_bins_empty() {
        let m = EqualMass::new(&[0.9, 0.6, 0.8], 5);
        assert_eq!([m.bin(0.6), m.bin(0.8), m.bin(0.9)], [0, 1, 2]);
        assert_eq!(m.n_bins(), 5);
    }

    #[test]
    fn histogram_and_selection_give_the_same_order_statistics() {
        // Continuous, heavily tied, and concentrated in one histogram bucket.
        let n = HISTOGRAM_MIN_ROWS + 12_345;
        let continuous: Vec<f64> = (0..n)
            .map(|i| ((i as f64) * 0.618_033_988_749).fract())
            .collect();
        let tied: Vec<f64> = (0..n).map(|i| [0.25, 0.5, 1.0, 0.7][i % 4]).collect();
        let narrow: Vec<f64> = (0..n).map(|i| 0.9 + (i % 977) as f64 * 1e-9).collect();
        for scores in [continuous, tied, narrow] {
            for b in [2, 10, 15, 64] {
                let ranks: Vec<usize> = (1..b).map(|j| group_start(n, b, j) - 1).collect();
                assert_eq!(
                    order_statistics_by_histogram(&scores, &ranks),
                    order_statistics_by_selection(&scores, &ranks),
                    "b={b}"
                );
            }
        }
    }

    #[test]
    fn select_ranks_matches_sorting() {
        let values: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1013) as f64 / 1013.0)
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let ranks = [0, 0, 3, 499, 500, 500, 998, 999];
        let mut out = [0.0; 8];
        select_ranks(&mut values.clone(), 0, &ranks, &mut out);
        let want: Vec<f64> = ranks.iter().map(|&r| sorted[r]).collect();
        assert_eq!(out.to_vec(), want);
    }
}
