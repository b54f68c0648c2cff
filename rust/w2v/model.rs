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
    /// Document vectors (Doc2Vec's `dv.vectors`) and their lock factors.
    pub(crate) docs: Option<SharedMatrix<'a>>,
    pub(crate) doc_lock_factors: Option<&'a [f32]>,
}

impl<'a> Weights<'a> {
    /// Weights over buffers the caller owns exclusively for the call:
    /// `syn0` row-major with `dim` columns, the output layers with as many
    /// rows as `syn0` (their width follows from their length: `dim`, or
    /// wider for Doc2Vec's concatenated input).
    pub fn new(
        syn0: &'a mut [f32],
        syn1neg: Option<&'a mut [f32]>,
        syn1: Option<&'a mut [f32]>,
        dim: usize,
    ) -> Result<Self> {
        if dim == 0 || !syn0.len().is_multiple_of(dim) || syn0.is_empty() {
            return Err(Error::invalid(format!(
                "syn0 has {} elements, not a whole number of rows of {dim}",
                syn0.len()
            )));
        }
        let rows = syn0.len() / dim;
        let share = |data: &'a mut [f32], name: &str| -> Result<SharedMatrix<'a>> {
            if data.is_empty() || !data.len().is_multiple_of(rows) {
                return Err(Error::invalid(format!(
                    "{name} has {} elements, not {rows} rows like syn0",
                    data.len()
                )));
            }
            let cols = data.len() / rows;
            // SAFETY: `data` is borrowed mutably for 'a, so during 'a nothing
            // but the Hogwild workers of this crate's training calls reaches
            // it, and their races are the documented Hogwild choice
            // (`hogwild` module).
            unsafe { SharedMatrix::new(data, rows, cols) }
        };
        // SAFETY: as for the output layers just above.
        let syn0 = unsafe { SharedMatrix::new(syn0, rows, dim) }?;
        Ok(Weights {
            syn0,
            syn1neg: syn1neg.map(|d| share(d, "syn1neg")).transpose()?,
            syn1: syn1.map(|d| share(d, "syn1")).transpose()?,
            lock_factors: None,
            docs: None,
            doc_lock_factors: None,
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
            docs: None,
            doc_lock_factors: None,
        }
    }

    /// Scales each word's input-vector updates by its factor (gensim's
    /// `vectors_lockf`; 0 freezes a word).
    pub fn with_lock_factors(mut self, factors: &'a [f32]) -> Self {
        self.lock_factors = Some(factors);
        self
    }

    /// Adds the document vectors (row-major, the vector size of `syn0`).
    pub fn with_docs(mut self, docs: &'a mut [f32]) -> Result<Self> {
        let dim = self.dim();
        if dim == 0 || !docs.len().is_multiple_of(dim) {
            return Err(Error::invalid(format!(
                "the document vectors have {} elements, not a whole number of rows of {dim}",
                docs.len()
            )));
        }
        let rows = docs.len() / dim;
        // SAFETY: as in `new`: `docs` is borrowed mutably for 'a and only
        // this crate's Hogwild workers reach it meanwhile.
        self.docs = Some(unsafe { SharedMatrix::new(docs, rows, dim) }?);
        Ok(self)
    }

    /// Document vectors already shared (see [`Weights::from_shared`]).
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn with_shared_docs(mut self, docs: SharedMatrix<'a>) -> Self {
        self.docs = Some(docs);
        self
    }

    /// Scales each document's updates by its factor (gensim's `dv.vectors_lockf`).
    pub fn with_doc_lock_factors(mut self, factors: &'a [f32]) -> Self {
        self.doc_lock_factors = Some(factors);
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
    /// Document vectors (Doc2Vec), if any.
    pub(crate) docs: Option<SharedMatrix<'a>>,
    /// Optional per-document factor applied to document-vector updates.
    pub(crate) doc_lock_factors: Option<&'a [f32]>,
    /// Update the input word vectors (false for inference on a frozen model).
    pub(crate) learn_words: bool,
    /// Width of the output rows (the input layer's size): the vector size,
    /// or more for Doc2Vec's concatenated input.
    pub(crate) layer1: usize,
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
        // The output rows may be wider than the input vectors (Doc2Vec's
        // concatenated input); both output layers have the same width.
        let layer1 = weights
            .syn1neg
            .as_ref()
            .or(weights.syn1.as_ref())
            .map_or(dim, |m| m.cols());
        let check = |m: &SharedMatrix<'_>, name: &str| {
            let cols = if name == "wv.vectors" { dim } else { layer1 };
            if m.rows() != n || m.cols() != cols {
                Err(Error::invalid(format!(
                    "{name} has shape ({}, {}), expected ({n}, {cols}); the vocabulary and the \
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
        if let (Some(f), Some(d)) = (weights.doc_lock_factors, &weights.docs) {
            if f.len() != d.rows() {
                return Err(Error::invalid(format!(
                    "dv.vectors_lockf has {} entries for {} documents",
                    f.len(),
                    d.rows()
                )));
            }
        }
        let learn = weights.syn0.is_writable();
        let learn_hidden = syn1neg
            .as_ref()
            .or(syn1.as_ref())
            .is_some_and(|m| m.is_writable());
        Ok(ModelRef {
            syn0: weights.syn0,
            layers: OutputLayers {
                syn1neg,
                noise: tables.noise.as_ref(),
                negative: config.negative,
                syn1,
                huffman: tables.huffman.as_ref(),
                sigmoid: &tables.sigmoid,
                merge_lock: &tables.merge_lock,
                learn: learn_hidden,
            },
            cbow_mean: config.cbow_mean,
            window: config.window,
            shrink_windows: config.shrink_windows,
            keep_prob: &tables.keep_prob,
            compute_loss: config.compute_loss,
            lock_factors: weights.lock_factors,
            docs: weights.docs,
            doc_lock_factors: weights.doc_lock_factors,
            learn_words: learn,
            layer1,
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
