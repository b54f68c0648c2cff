//! Random numbers and sampling tables shared by the trainers.
//!
//! * [`Rng`]: a small, fast, seedable generator (SplitMix64 seeding a
//!   xorshift64* stream). Each worker owns one, derived from the model seed
//!   and its worker index, so `workers=1` with a fixed seed is reproducible.
//! * [`UnigramTable`]: the word2vec noise distribution, counts raised to
//!   `ns_exponent`, sampled in O(1) by a cumulative table lookup.
//! * [`keep_probability`]: word2vec's frequent-word subsampling formula.

/// A small, fast pseudo-random generator (xorshift64*), seeded through SplitMix64.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed`; distinct seeds give unrelated streams.
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng {
            state: if z == 0 { 0x2545_F491_4F6C_DD1D } else { z },
        }
    }

    /// A generator for worker `index` of a run seeded with `seed`.
    pub fn for_worker(seed: u64, index: u64) -> Self {
        Rng::new(
            seed ^ index
                .wrapping_mul(0xD6E8_FEB8_6659_FD93)
                .wrapping_add(index),
        )
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform integer in `0..n` (`n > 0`), by multiply-shift.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// A uniform float in `[0, 1)`.
    #[inline]
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// A uniform double in `[0, 1)`.
    #[inline]
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The unigram^`exponent` noise distribution, sampled in O(1) with Walker's
/// alias method (one vocabulary-sized array, so the table stays in cache,
/// and the probabilities are exact rather than quantised to table slots).
///
/// Slot `i` packs its keep threshold and its alias into one `u64`, so a draw
/// reads one entry, and chooses between `i` and the alias without a branch
/// (the choice is random, so a branch would be mispredicted about as often
/// as the alias is taken).
#[derive(Clone, Debug)]
pub struct UnigramTable {
    /// `threshold << 32 | alias`: a draw landing in slot `i` with 24 random
    /// bits `k` keeps `i` when `k < threshold`, which is exactly
    /// `k / 2^24 < prob[i]` for `threshold = ceil(prob[i] * 2^24)`.
    slots: Vec<u64>,
}

impl UnigramTable {
    /// Builds the sampler for `counts` raised to `exponent`.
    ///
    /// Words with count 0 are never drawn. Returns `None` when every count is 0.
    /// (`_size` is accepted for compatibility with table-based samplers.)
    pub fn new(counts: &[u64], exponent: f64, _size: usize) -> Option<Self> {
        let n = counts.len();
        let weights: Vec<f64> = counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    0.0
                } else {
                    (c as f64).powf(exponent)
                }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        if n == 0 || total <= 0.0 || !total.is_finite() {
            return None;
        }
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut prob = vec![1.0f32; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        for (i, &s) in scaled.iter().enumerate() {
            if s < 1.0 {
                small.push(i);
            } else {
                large.push(i);
            }
        }
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            prob[s] = scaled[s] as f32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers (rounding) keep probability 1 of themselves; make sure a
        // zero-weight word can never be returned.
        for &i in small.iter().chain(large.iter()) {
            prob[i] = 1.0;
            alias[i] = i as u32;
        }
        for i in 0..n {
            if weights[i] == 0.0 {
                prob[i] = 0.0;
                if weights[alias[i] as usize] == 0.0 {
                    let any = weights.iter().position(|&w| w > 0.0).unwrap_or(0);
                    alias[i] = any as u32;
                }
            }
        }
        let slots = prob
            .iter()
            .zip(&alias)
            .map(|(&p, &a)| keep_threshold(p) << 32 | a as u64)
            .collect();
        Some(UnigramTable { slots })
    }

    /// Draws a word id.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u32 {
        let r = rng.next_u64();
        let i = ((r >> 32) * self.slots.len() as u64) >> 32;
        let k = r & 0xFF_FFFF;
        let slot = self.slots[i as usize];
        let alias = slot & 0xFFFF_FFFF;
        // select without a branch: all ones when `i` is kept
        let keep = ((k < slot >> 32) as u64).wrapping_neg();
        ((i & keep) | (alias & !keep)) as u32
    }

    /// Fills `out` with draws, the same words in the same order as
    /// `out.len()` calls of [`UnigramTable::sample`] would give. The
    /// generator's state is kept in a local for the whole fill and written
    /// back once: through `&mut Rng` each draw stored and reloaded it,
    /// which put a store-to-load delay on the generator's chain per draw.
    #[inline]
    pub fn fill(&self, rng: &mut Rng, out: &mut [u32]) {
        let mut local = rng.clone();
        for o in out.iter_mut() {
            *o = self.sample(&mut local);
        }
        *rng = local;
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when there are no words (never, for a built table).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// The integer form of an alias-method keep probability `p` in `[0, 1]`:
/// for every 24-bit `k`, `k < keep_threshold(p)` exactly when
/// `k / 2^24 < p` (`p * 2^24` is exact, being a scaling by a power of two).
fn keep_threshold(p: f32) -> u64 {
    (p as f64 * (1u64 << 24) as f64).ceil() as u64
}

/// Probability of keeping an occurrence of a word seen `count` times in a
/// corpus of `total` words, under word2vec's subsampling with threshold
/// `sample` (0 disables subsampling):
/// `p = (sqrt(c / (s*T)) + 1) * (s*T) / c`, capped at 1.
pub fn keep_probability(count: u64, total: u64, sample: f64) -> f32 {
    if sample <= 0.0 || count == 0 || total == 0 {
        return 1.0;
    }
    let threshold = sample * total as f64;
    let c = count as f64;
    let p = ((c / threshold).sqrt() + 1.0) * threshold / c;
    p.min(1.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_gives_the_draws_of_single_samples_in_order() {
        let table = UnigramTable::new(&[50, 0, 7, 1, 300, 2], 0.75, 0).unwrap();
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        let mut filled = vec![u32::MAX; 97];
        table.fill(&mut a, &mut filled);
        let single: Vec<u32> = (0..97).map(|_| table.sample(&mut b)).collect();
        assert_eq!(filled, single);
        assert!(!filled.contains(&1), "a word of count 0 was drawn");
        // the generator moved on exactly as far
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn rng_is_deterministic_and_uniform() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut hist = [0usize; 10];
        let mut r = Rng::new(1);
        for _ in 0..100_000 {
            hist[r.below(10)] += 1;
        }
        for h in hist {
            assert!((9_000..11_000).contains(&h), "{hist:?}");
        }
        let u: f32 = (0..10_000).map(|_| r.uniform()).sum::<f32>() / 10_000.0;
        assert!((u - 0.5).abs() < 0.02);
    }

    #[test]
    fn unigram_table_follows_powered_counts() {
        let counts = [100u64, 0, 25, 1];
        let t = UnigramTable::new(&counts, 0.5, 100_000).unwrap();
        let mut hist = [0usize; 4];
        let mut r = Rng::new(3);
        for _ in 0..200_000 {
            hist[t.sample(&mut r) as usize] += 1;
        }
        assert_eq!(hist[1], 0, "zero-count word drawn");
        // weights 10, 5, 1 -> 10/16, 5/16, 1/16
        let p0 = hist[0] as f64 / 200_000.0;
        let p2 = hist[2] as f64 / 200_000.0;
        let p3 = hist[3] as f64 / 200_000.0;
        assert!((p0 - 0.625).abs() < 0.01, "{p0}");
        assert!((p2 - 0.3125).abs() < 0.01, "{p2}");
        assert!((p3 - 0.0625).abs() < 0.01, "{p3}");
        assert!(UnigramTable::new(&[0, 0], 0.75, 10).is_none());
    }

    #[test]
    fn integer_keep_rule_equals_the_float_comparison() {
        let mut rng = Rng::new(7);
        let mut ps = vec![0.0f32, 1.0, 0.5, 1e-9, 0.999_999_9, f32::EPSILON];
        ps.extend((0..2000).map(|_| rng.uniform()));
        for p in ps {
            let t = keep_threshold(p);
            for k in t.saturating_sub(3)..(t + 3).min(1 << 24) {
                let float_rule = (k as f32) * (1.0 / (1u64 << 24) as f32) < p;
                assert_eq!(k < t, float_rule, "p {p} k {k} threshold {t}");
            }
        }
    }

    #[test]
    fn keep_probability_matches_word2vec_formula() {
        assert_eq!(keep_probability(10, 1000, 0.0), 1.0);
        // count 1000 of 1e6 words, sample 1e-3: threshold 1000 -> (1+1)*1 = 2 -> capped 1
        assert_eq!(keep_probability(1000, 1_000_000, 1e-3), 1.0);
        // count 100000, threshold 100: (sqrt(1000)+1)*100/100000
        let p = keep_probability(100_000, 100_000_000, 1e-6);
        let expected = ((1000f64).sqrt() + 1.0) * 100.0 / 100_000.0;
        assert!((p as f64 - expected).abs() < 1e-6);
    }
}
