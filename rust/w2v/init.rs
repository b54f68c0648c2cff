//! Deterministic initial input vectors.
//!
//! Each word's vector depends only on the word and the model seed, so
//! vectors of words added by an online vocabulary update do not depend on
//! when they were added. The range is gensim 4's, uniform in `[-1/d, 1/d)`
//! (`KeyedVectors.prep_vectors`); the word2vec C tool and gensim 3 used
//! half of it, `[-0.5/d, 0.5/d)`, which this crate used at first: on the
//! benchmark corpus (1 epoch) that cost CBOW about 0.8 analogy points
//! against gensim (0.029 against 0.036 at 2 workers; 0.036 with this range)
//! and skip-gram HS about 0.3 (see benches/RESULTS.md).

use crate::sampling::Rng;

/// 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Fills `out` (length `dim`) with the initial vector of `word`.
pub fn init_vector(word: &str, seed: u64, out: &mut [f32]) {
    let dim = out.len().max(1) as f32;
    let mut rng = Rng::new(fnv1a(word.as_bytes()) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for v in out.iter_mut() {
        *v = (2.0 * rng.uniform() - 1.0) / dim;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_depend_on_word_and_seed_only() {
        let (mut a, mut b, mut c) = ([0f32; 8], [0f32; 8], [0f32; 8]);
        init_vector("cat", 1, &mut a);
        init_vector("cat", 1, &mut b);
        init_vector("cat", 2, &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|v| v.abs() <= 1.0 / 8.0));
        // the whole range is used, not gensim 3's half of it
        let mut all = vec![0f32; 4096];
        init_vector("dog", 1, &mut all);
        let max = all.iter().fold(0f32, |m, v| m.max(v.abs())) * 4096.0;
        assert!(max > 0.99 && max <= 1.0, "{max}");
    }
}
