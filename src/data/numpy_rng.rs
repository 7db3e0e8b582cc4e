//! numpy's legacy `RandomState` (MT19937), as far as DomainBed's splits need
//! it: seeding with an integer and `shuffle` of a Python list.
//!
//! DomainBed splits each environment with
//! `np.random.RandomState(seed).shuffle(keys)` (`misc.split_dataset`).
//! Reimplementing it exactly makes our `in`/`out` splits select the same
//! images as the paper's code. The reference values in the tests and in
//! `tests/fixtures/numpy_shuffle.json` were produced with numpy by
//! `scripts/numpy_split_fixture.py`.

/// numpy's legacy `RandomState`: the MT19937 generator (`rand_mt`, seeded
/// with `init_genrand` as numpy seeds an integer) and numpy's own bounded
/// draws on top of it.
pub struct Mt19937 {
    mt: rand_mt::Mt,
}

impl Mt19937 {
    /// `np.random.RandomState(seed)` for `0 <= seed < 2**32`.
    pub fn new(seed: u32) -> Self {
        Mt19937 {
            mt: rand_mt::Mt::new(seed),
        }
    }

    /// The next tempered 32-bit output (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// numpy's `random_interval(max)`: uniform in `[0, max]` by masked
    /// rejection (32-bit draws while `max` fits in 32 bits).
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let hi = u64::from(self.next_u32());
            let lo = u64::from(self.next_u32());
            let v = ((hi << 32) | lo) & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.shuffle(list)`: for `i` from `n-1` down to 1, swap `i`
    /// with `random_interval(i)`.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.interval(i as u64) as usize;
            v.swap(i, j);
        }
    }
}

/// `keys = list(range(n)); np.random.RandomState(seed).shuffle(keys)`.
pub fn numpy_shuffled_range(n: usize, seed: u32) -> Vec<usize> {
    let mut keys: Vec<usize> = (0..n).collect();
    Mt19937::new(seed).shuffle(&mut keys);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outputs_match_numpy() {
        // np.random.RandomState(5489).randint(0, 2**32, 3, dtype=np.uint64)
        // equals the MT19937 reference sequence for seed 5489.
        let mut m = Mt19937::new(5489);
        assert_eq!(m.next_u32(), 3_499_211_612);
        assert_eq!(m.next_u32(), 581_869_302);
        assert_eq!(m.next_u32(), 3_890_346_734);
    }

    #[test]
    fn shuffle_matches_numpy_small_case() {
        // python: k=list(range(10)); np.random.RandomState(0).shuffle(k); k
        assert_eq!(
            numpy_shuffled_range(10, 0),
            vec![2, 8, 4, 9, 1, 6, 7, 3, 0, 5]
        );
    }
}
