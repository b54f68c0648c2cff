//! Deterministic initial input vectors.
//!
//! Each word's vector depends only on the word and the model seed (uniform
//! in `[-0.5/d, 0.5/d)`, as gensim), so vectors of words added by an online
//! vocabulary update do not depend on when they were added.

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
        *v = (rng.uniform() - 0.5) / dim;
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
        assert!(a.iter().all(|v| v.abs() <= 0.5 / 8.0));
    }
}
