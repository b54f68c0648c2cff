//! The weights of one training call and the checked view the workers use.
//!
//! [`Weights`] holds the model's matrices shared with the Hogwild workers;
//! [`ModelRef::new`] joins them with the configuration and the tables after
//! checking that their shapes agree, so no caller assembles the view by hand.

use super::config::W2vConfig;
use super::sgd::OutputLayers;
use super::tables::Tables;
use crate::hogwild::SharedMatrix;
use crate::{Error, Result};

/// The matrices a training call updates: input vectors (`wv.vectors`,
/// called `syn0`), the output layers, and optional per-word lock factors.
pub struct Weights<'a> {
    pub(crate) syn0: SharedMatrix<'a>,
    pub(crate) syn1neg: Option<SharedMatrix<'a>>,
    pub(crate) syn1: Option<SharedMatrix<'a>>,
    pub(crate) lock_factors: Option<&'a [f32]>,
}

impl<'a> Weights<'a> {
    /// Weights over buffers the caller owns exclusively for the call
    /// (row-major, `dim` columns each).
    pub fn new(
        syn0: &'a mut [f32],
        syn1neg: Option<&'a mut [f32]>,
        syn1: Option<&'a mut [f32]>,
        dim: usize,
    ) -> Result<Self> {
        let rows = |len: usize, name: &str| {
            if dim == 0 || !len.is_multiple_of(dim) {
                Err(Error::invalid(format!(
                    "{name} has {len} elements, not a whole number of rows of {dim}"
                )))
            } else {
                Ok(len / dim)
            }
        };
        let share = |data: &'a mut [f32], name: &str| -> Result<SharedMatrix<'a>> {
            let n = rows(data.len(), name)?;
            // SAFETY: `data` is borrowed mutably for 'a, so during 'a nothing
            // but the Hogwild workers of this crate's training calls reaches
            // it, and their races are the documented Hogwild choice
            // (`hogwild` module).
            unsafe { SharedMatrix::new(data, n, dim) }
        };
        Ok(Weights {
            syn0: share(syn0, "syn0")?,
            syn1neg: syn1neg.map(|d| share(d, "syn1neg")).transpose()?,
            syn1: syn1.map(|d| share(d, "syn1")).transpose()?,
            lock_factors: None,
        })
    }

    /// Weights over matrices already shared (the Python binding shares
    /// NumPy buffers that queries may read meanwhile; see its notes).
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn from_shared(
        syn0: SharedMatrix<'a>,
        syn1neg: Option<SharedMatrix<'a>>,
        syn1: Option<SharedMatrix<'a>>,
    ) -> Self {
        Weights {
            syn0,
            syn1neg,
            syn1,
            lock_factors: None,
        }
    }

    /// Scales each word's input-vector updates by its factor (gensim's
    /// `vectors_lockf`; 0 freezes a word).
    pub fn with_lock_factors(mut self, factors: &'a [f32]) -> Self {
        self.lock_factors = Some(factors);
        self
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.syn0.cols()
    }
}

/// Everything a worker reads (and, for the matrices, writes Hogwild-style)
/// during one training call.
pub struct ModelRef<'a> {
    /// Input vectors (`wv.vectors`).
    pub(crate) syn0: SharedMatrix<'a>,
    /// Output layers (negative sampling and/or hierarchical softmax).
    pub(crate) layers: OutputLayers<'a>,
    /// Use the mean, not the sum, of context vectors in CBOW.
    pub(crate) cbow_mean: bool,
    /// Maximum distance between centre and context words.
    pub(crate) window: usize,
    /// Draw a random smaller window for each centre word.
    pub(crate) shrink_windows: bool,
    /// Per-word probability of keeping an occurrence (subsampling).
    pub(crate) keep_prob: &'a [f32],
    /// Accumulate the training loss.
    pub(crate) compute_loss: bool,
    /// Optional per-word factor applied to input-vector updates (0 freezes a word).
    pub(crate) lock_factors: Option<&'a [f32]>,
}

impl<'a> ModelRef<'a> {
    /// Joins `weights` with a validated `config` and its `tables`.
    ///
    /// Errors when a matrix's shape disagrees with the vocabulary or the
    /// vector size, or when an output layer the configuration asks for is
    /// missing (`syn1neg` with `negative > 0`, `syn1` with `hs`).
    pub fn new(config: &'a W2vConfig, tables: &'a Tables, weights: Weights<'a>) -> Result<Self> {
        let n = tables.len();
        let dim = weights.syn0.cols();
        let check = |m: &SharedMatrix<'_>, name: &str| {
            if m.rows() != n || m.cols() != dim {
                Err(Error::invalid(format!(
                    "{name} has shape ({}, {}), expected ({n}, {dim}); the vocabulary and the \
                     weights must be rebuilt together",
                    m.rows(),
                    m.cols()
                )))
            } else {
                Ok(())
            }
        };
        check(&weights.syn0, "wv.vectors")?;
        let syn1neg = match weights.syn1neg {
            Some(m) if config.negative > 0 => {
                check(&m, "syn1neg")?;
                Some(m)
            }
            None if config.negative > 0 => {
                return Err(Error::invalid("syn1neg is missing although negative > 0"))
            }
            _ => None,
        };
        let syn1 = match weights.syn1 {
            Some(m) if config.hs => {
                check(&m, "syn1")?;
                Some(m)
            }
            None if config.hs => return Err(Error::invalid("syn1 is missing although hs=1")),
            _ => None,
        };
        if let Some(f) = weights.lock_factors {
            if f.len() != n {
                return Err(Error::invalid(format!(
                    "vectors_lockf has {} entries for {n} words",
                    f.len()
                )));
            }
        }
        Ok(ModelRef {
            syn0: weights.syn0,
            layers: OutputLayers {
                syn1neg,
                noise: tables.noise.as_ref(),
                negative: config.negative,
                syn1,
                huffman: tables.huffman.as_ref(),
                sigmoid: &tables.sigmoid,
                merge_lock: Default::default(),
            },
            cbow_mean: config.cbow_mean,
            window: config.window,
            shrink_windows: config.shrink_windows,
            keep_prob: &tables.keep_prob,
            compute_loss: config.compute_loss,
            lock_factors: weights.lock_factors,
        })
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.syn0.cols()
    }

    /// Number of words.
    pub fn words(&self) -> usize {
        self.syn0.rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_layers_are_checked() {
        let config = W2vConfig::default().validate().unwrap();
        let tables = Tables::new(&[3, 2, 1], &config).unwrap();
        let (mut a, mut b) = (vec![0.0f32; 12], vec![0.0f32; 12]);
        let w = Weights::new(&mut a, Some(&mut b), None, 4).unwrap();
        assert_eq!(ModelRef::new(&config, &tables, w).unwrap().dim(), 4);
        let w = Weights::new(&mut a, None, None, 4).unwrap();
        let e = ModelRef::new(&config, &tables, w)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("syn1neg is missing"), "{e}");
        let w = Weights::new(&mut a, Some(&mut b), None, 6).unwrap();
        let e = ModelRef::new(&config, &tables, w)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("expected (3, 6)"), "{e}");
        let lock = [1.0f32; 2];
        let w = Weights::new(&mut a, Some(&mut b), None, 4)
            .unwrap()
            .with_lock_factors(&lock);
        let e = ModelRef::new(&config, &tables, w)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("vectors_lockf has 2 entries"), "{e}");
        assert!(Weights::new(&mut a, None, None, 5).is_err());
    }
}
