//! The training parameters shared by word2vec and the models built on its
//! engine, validated once.
//!
//! [`W2vConfig::validate`] is the one place where the ranges of these
//! parameters are decided; the Python layer converts types and calls it (so
//! a bad value raises the same error at construction and at `train()`).

use crate::{Error, Result};

/// Most noise words per example: each worker holds them (and, for
/// skip-gram, a row of gradients per noise word), so the bound keeps a forged
/// or mistyped `negative` from asking for gigabytes per thread.
pub const MAX_NEGATIVE: usize = 10_000;

/// Largest effective window: sentences are cut at
/// [`crate::corpus::MAX_SENTENCE_LEN`] words on the iterable path, so any
/// window beyond a million trains exactly as this one.
pub const MAX_WINDOW: usize = 1 << 20;

/// Word2vec's training parameters (gensim's names and defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct W2vConfig {
    /// Skip-gram (true) or CBOW (false).
    pub sg: bool,
    /// Train a hierarchical-softmax output layer.
    pub hs: bool,
    /// Noise words per example for negative sampling (0: none).
    pub negative: usize,
    /// Exponent of the noise distribution (`count ** ns_exponent`).
    pub ns_exponent: f64,
    /// Mean (true) or sum (false) of the context vectors in CBOW.
    pub cbow_mean: bool,
    /// Maximum distance between a centre word and its context words.
    pub window: usize,
    /// Draw a random smaller window for each centre word.
    pub shrink_windows: bool,
    /// Subsampling threshold for frequent words (0: off).
    pub sample: f64,
    /// Accumulate the training loss.
    pub compute_loss: bool,
    /// Seed of every random stream.
    pub seed: u64,
    /// Worker threads (0: one per core).
    pub workers: usize,
}

impl Default for W2vConfig {
    fn default() -> Self {
        W2vConfig {
            sg: false,
            hs: false,
            negative: 5,
            ns_exponent: 0.75,
            cbow_mean: true,
            window: 5,
            shrink_windows: true,
            sample: 1e-3,
            compute_loss: false,
            seed: 1,
            workers: 3,
        }
    }
}

impl W2vConfig {
    /// Checks every parameter; the error names the parameter and says what
    /// values it accepts. A window beyond [`MAX_WINDOW`] is lowered to it
    /// (it trains identically), so the checked configuration is returned.
    pub fn validate(mut self) -> Result<Self> {
        if self.window == 0 {
            return Err(Error::parameter(
                "window",
                "window must be an integer >= 1, got 0",
            ));
        }
        self.window = self.window.min(MAX_WINDOW);
        if !self.hs && self.negative == 0 {
            return Err(Error::parameter(
                "negative",
                "negative=0 with hs=0 leaves no output layer to train: set negative > 0 \
                 (negative sampling) or hs=1 (hierarchical softmax)",
            ));
        }
        if self.negative > MAX_NEGATIVE {
            return Err(Error::parameter(
                "negative",
                format!(
                    "negative={}: at most {MAX_NEGATIVE} noise words per example are supported \
                     (word2vec and gensim use 5-20)",
                    self.negative
                ),
            ));
        }
        if !self.ns_exponent.is_finite() {
            return Err(Error::parameter(
                "ns_exponent",
                format!(
                    "ns_exponent must be a finite number, got {}",
                    self.ns_exponent
                ),
            ));
        }
        if !(self.sample >= 0.0 && self.sample.is_finite()) {
            return Err(Error::parameter(
                "sample",
                format!("sample must be a finite number >= 0, got {}", self.sample),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(W2vConfig::default().validate().is_ok());
        let bad = |c: W2vConfig, word: &str| {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        };
        bad(
            W2vConfig {
                window: 0,
                ..Default::default()
            },
            "window",
        );
        bad(
            W2vConfig {
                negative: 0,
                hs: false,
                ..Default::default()
            },
            "hs=1",
        );
        match (W2vConfig {
            window: 0,
            ..Default::default()
        })
        .validate()
        {
            Err(Error::Parameter { name, .. }) => assert_eq!(name, "window"),
            other => panic!("{other:?}"),
        }
        bad(
            W2vConfig {
                negative: MAX_NEGATIVE + 1,
                ..Default::default()
            },
            "negative",
        );
        bad(
            W2vConfig {
                sample: f64::NAN,
                ..Default::default()
            },
            "sample",
        );
        bad(
            W2vConfig {
                ns_exponent: f64::INFINITY,
                ..Default::default()
            },
            "ns_exponent",
        );
        let wide = W2vConfig {
            window: usize::MAX,
            ..Default::default()
        };
        assert_eq!(wide.validate().unwrap().window, MAX_WINDOW);
    }
}
