//! What training needs besides the weights, derived once from the word
//! counts and the configuration: subsampling probabilities, the noise
//! distribution, Huffman codes and the sigmoid table.

use super::config::W2vConfig;
use crate::linalg::SigmoidTable;
use crate::sampling::{keep_probability, UnigramTable};
use crate::vocab::{huffman_codes, HuffmanCodes};
use crate::{Error, Result};

/// The per-vocabulary tables of a trainer.
pub struct Tables {
    pub(crate) keep_prob: Vec<f32>,
    pub(crate) noise: Option<UnigramTable>,
    pub(crate) huffman: Option<HuffmanCodes>,
    pub(crate) sigmoid: SigmoidTable,
    /// Serialises the workers' merges of their hot output rows (see `sgd`).
    pub(crate) merge_lock: std::sync::Mutex<()>,
}

impl Tables {
    /// Builds the tables for words with `counts` (id order) under `config`
    /// (already validated): the noise distribution only with
    /// `negative > 0`, the Huffman codes only with `hs`.
    ///
    /// Errors: an empty vocabulary, counts whose total overflows, or an
    /// `ns_exponent` for which `count ** ns_exponent` cannot be normalised.
    pub fn new(counts: &[u64], config: &W2vConfig) -> Result<Self> {
        if counts.is_empty() {
            return Err(Error::Runtime(
                "you must first build vocabulary before training the model".into(),
            ));
        }
        if counts.len() > u32::MAX as usize {
            return Err(Error::invalid(format!(
                "a vocabulary of {} words is more than the {} supported; raise min_count or set \
                 max_final_vocab",
                counts.len(),
                u32::MAX
            )));
        }
        // The Huffman tree sums counts, so their total must fit in a u64.
        let total = counts
            .iter()
            .try_fold(0u64, |a, &c| a.checked_add(c))
            .ok_or_else(|| {
                Error::invalid("the word counts add up to more than 2**64 - 1; are they corrupt?")
            })?;
        let keep_prob = counts
            .iter()
            .map(|&c| keep_probability(c, total, config.sample))
            .collect();
        let noise = if config.negative > 0 {
            let table = UnigramTable::new(counts, config.ns_exponent, 0);
            if table.is_none() {
                return Err(noise_error(counts, config.ns_exponent));
            }
            table
        } else {
            None
        };
        let huffman = if config.hs {
            Some(huffman_codes(counts)?)
        } else {
            None
        };
        Ok(Tables {
            keep_prob,
            noise,
            huffman,
            sigmoid: SigmoidTable::new(),
            merge_lock: std::sync::Mutex::new(()),
        })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.keep_prob.len()
    }

    /// True for an empty vocabulary (never, for built tables).
    pub fn is_empty(&self) -> bool {
        self.keep_prob.is_empty()
    }
}

fn noise_error(counts: &[u64], exponent: f64) -> Error {
    let nonzero = counts.iter().filter(|&&c| c > 0);
    match (nonzero.clone().min(), nonzero.max()) {
        (Some(lo), Some(hi)) => Error::parameter(
            "ns_exponent",
            format!(
                "ns_exponent={exponent:?} cannot be used with these word counts ({lo} to {hi}): \
                 count**ns_exponent overflows or vanishes; use a moderate value such as 0.75 \
                 (the paper's), 0 (uniform) or 1 (by frequency)"
            ),
        ),
        _ => Error::invalid(
            "every word count is zero: cannot build the negative-sampling distribution",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_follow_the_config() {
        let cfg = W2vConfig {
            hs: true,
            negative: 0,
            ..Default::default()
        };
        let t = Tables::new(&[5, 3, 1], &cfg).unwrap();
        assert!(t.noise.is_none() && t.huffman.is_some());
        assert_eq!(t.len(), 3);
        let t = Tables::new(&[5, 3, 1], &W2vConfig::default()).unwrap();
        assert!(t.noise.is_some() && t.huffman.is_none());
    }

    #[test]
    fn unusable_counts_are_refused_with_reasons() {
        let cfg = W2vConfig::default();
        let e = Tables::new(&[], &cfg).err().unwrap().to_string();
        assert!(e.contains("build vocabulary"), "{e}");
        let e = Tables::new(&[0, 0], &cfg).err().unwrap().to_string();
        assert!(e.contains("every word count is zero"), "{e}");
        let e = Tables::new(&[u64::MAX, 2], &cfg).err().unwrap().to_string();
        assert!(e.contains("2**64"), "{e}");
        let huge = W2vConfig {
            ns_exponent: 500.0,
            ..Default::default()
        };
        let e = Tables::new(&[10, 1000], &huge).err().unwrap().to_string();
        assert!(e.contains("ns_exponent=500"), "{e}");
    }
}
