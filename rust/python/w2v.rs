//! Python binding of the word2vec trainer ([`crate::w2v::Trainer`]).
//!
//! `Word2VecCore` wraps a trainer; the weights stay NumPy arrays owned by
//! the Python model and are lent to each epoch call, so training updates
//! `wv.vectors` / `syn1neg` / `syn1` in place with no copies. This file only
//! converts arguments and runs the trainer; the array sharing is in
//! `weights.rs`, the corpus file and the iterable feed in `corpus.rs`.

use std::sync::mpsc::sync_channel;

use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::corpus::{CorpusFile, Feed};
use super::weights::{schedule, Lent};
use super::{run_alongside, run_monitored, tick, IntoPyResult};
use crate::corpus::{Job, MAX_SENTENCE_LEN};
use crate::w2v::{Trainer, W2vConfig};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Word2VecCore>()?;
    m.add_function(wrap_pyfunction!(check_w2v_config, m)?)?;
    Ok(())
}

/// The word2vec configuration from Python's keyword arguments.
#[allow(clippy::too_many_arguments)]
fn config(
    sample: f64,
    ns_exponent: f64,
    sg: bool,
    hs: bool,
    negative: usize,
    cbow_mean: bool,
    window: usize,
    shrink_windows: bool,
    compute_loss: bool,
    seed: u64,
    workers: usize,
) -> W2vConfig {
    W2vConfig {
        sg,
        hs,
        negative,
        ns_exponent,
        cbow_mean,
        window,
        shrink_windows,
        sample,
        compute_loss,
        seed,
        workers,
    }
}

/// Checks word2vec's training parameters (the core's rule, [`W2vConfig::validate`]):
/// raises `ValueError` naming the parameter (in its `param` attribute).
#[pyfunction]
#[pyo3(signature = (*, sample, ns_exponent, sg, hs, negative, cbow_mean, window, shrink_windows))]
fn check_w2v_config(
    sample: f64,
    ns_exponent: f64,
    sg: bool,
    hs: bool,
    negative: usize,
    cbow_mean: bool,
    window: usize,
    shrink_windows: bool,
) -> PyResult<()> {
    super::guard(|| {
        config(
            sample,
            ns_exponent,
            sg,
            hs,
            negative,
            cbow_mean,
            window,
            shrink_windows,
            false,
            0,
            1,
        )
        .validate()
        .py()
        .map(|_| ())
    })
}

/// The word2vec trainer of a model, for its current vocabulary.
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct Word2VecCore {
    trainer: Trainer,
}

#[pymethods]
impl Word2VecCore {
    #[new]
    #[pyo3(signature = (words, counts, *, sample, ns_exponent, sg, hs, negative, cbow_mean, window, shrink_windows, compute_loss, seed, workers))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        words: Vec<String>,
        counts: Vec<u64>,
        sample: f64,
        ns_exponent: f64,
        sg: bool,
        hs: bool,
        negative: usize,
        cbow_mean: bool,
        window: usize,
        shrink_windows: bool,
        compute_loss: bool,
        seed: u64,
        workers: usize,
    ) -> PyResult<Self> {
        super::guard(|| {
            let cfg = config(
                sample,
                ns_exponent,
                sg,
                hs,
                negative,
                cbow_mean,
                window,
                shrink_windows,
                compute_loss,
                seed,
                workers,
            );
            let trainer = py.detach(|| Trainer::new(words, &counts, cfg)).py()?;
            Ok(Word2VecCore { trainer })
        })
    }

    /// Trains one epoch from a Python iterable of token lists.
    ///
    /// Sentences are converted to ids while holding the GIL (lookups in
    /// `key_to_index`) and handed in batches of `batch_words` to the Rust
    /// workers, which train with the GIL released. Returns
    /// `(raw_words, effective_words, loss, sentences)`.
    #[pyo3(signature = (syn0, syn1neg, syn1, lockf, sentences, key_to_index, *, epoch, alpha, min_alpha, words_before, total_words, batch_words, progress=None, report_every=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn train_epoch_iterable<'py>(
        &self,
        py: Python<'py>,
        syn0: Bound<'py, PyArray2<f32>>,
        syn1neg: Option<Bound<'py, PyArray2<f32>>>,
        syn1: Option<Bound<'py, PyArray2<f32>>>,
        lockf: Option<PyReadonlyArray1<'py, f32>>,
        sentences: &Bound<'py, PyAny>,
        key_to_index: &Bound<'py, PyDict>,
        epoch: u64,
        alpha: f32,
        min_alpha: f32,
        words_before: u64,
        total_words: u64,
        batch_words: usize,
        progress: Option<Py<PyAny>>,
        report_every: f64,
    ) -> PyResult<(u64, u64, f64, u64)> {
        super::guard(|| {
            let lent = Lent {
                syn0,
                syn1neg,
                syn1,
                lockf,
            };
            let weights = lent.weights()?;
            let (schedule, counters) = schedule(alpha, min_alpha, words_before, total_words);
            let (tx, rx) = sync_channel::<Job>(self.trainer.workers() * 2);
            let trainer = &self.trainer;
            let counters_ref = &counters;
            let mut n_sentences = 0u64;
            let feed = Feed {
                key_to_index,
                tag_to_index: None,
                vocab: u32::try_from(trainer.vocab_len()).unwrap_or(u32::MAX),
                batch_words: batch_words.max(1),
                every: tick(report_every),
                callback: progress.as_ref(),
            };
            let stats = run_alongside(
                py,
                &counters,
                move || trainer.train_jobs(weights, epoch, schedule, counters_ref, rx),
                |py, _| {
                    n_sentences = feed.run(py, sentences, tx, counters_ref)?;
                    Ok(())
                },
            )?
            .py()?;
            Ok((
                stats.raw_words,
                stats.effective_words,
                stats.loss,
                n_sentences,
            ))
        })
    }

    /// Trains one epoch on a corpus file, each worker reading its own byte
    /// range. Returns `(raw_words, effective_words, loss)`.
    #[pyo3(signature = (syn0, syn1neg, syn1, lockf, corpus, *, epoch, alpha, min_alpha, words_before, total_words, batch_words, max_sentence_length=MAX_SENTENCE_LEN, progress=None, report_every=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn train_epoch_file<'py>(
        &self,
        py: Python<'py>,
        syn0: Bound<'py, PyArray2<f32>>,
        syn1neg: Option<Bound<'py, PyArray2<f32>>>,
        syn1: Option<Bound<'py, PyArray2<f32>>>,
        lockf: Option<PyReadonlyArray1<'py, f32>>,
        corpus: &CorpusFile,
        epoch: u64,
        alpha: f32,
        min_alpha: f32,
        words_before: u64,
        total_words: u64,
        batch_words: usize,
        max_sentence_length: usize,
        progress: Option<Py<PyAny>>,
        report_every: f64,
    ) -> PyResult<(u64, u64, f64)> {
        super::guard(|| {
            let lent = Lent {
                syn0,
                syn1neg,
                syn1,
                lockf,
            };
            let weights = lent.weights()?;
            let (schedule, counters) = schedule(alpha, min_alpha, words_before, total_words);
            let text = corpus.text();
            let stats =
                run_monitored(py, &counters, tick(report_every), progress.as_ref(), || {
                    self.trainer.train_file(
                        weights,
                        &text,
                        epoch,
                        schedule,
                        batch_words,
                        max_sentence_length,
                        &counters,
                    )
                })?
                .py()?;
            Ok((stats.raw_words, stats.effective_words, stats.loss))
        })
    }

    /// Trains one epoch of skip-gram negative sampling on explicit
    /// `(target, context)` id pairs (an `(n, 2)` uint32 array). Returns the loss.
    #[pyo3(signature = (syn0, syn1neg, lockf, pairs, *, epoch, alpha, min_alpha, words_before, total_words, progress=None, report_every=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn train_epoch_pairs<'py>(
        &self,
        py: Python<'py>,
        syn0: Bound<'py, PyArray2<f32>>,
        syn1neg: Option<Bound<'py, PyArray2<f32>>>,
        lockf: Option<PyReadonlyArray1<'py, f32>>,
        pairs: PyReadonlyArray2<'py, u32>,
        epoch: u64,
        alpha: f32,
        min_alpha: f32,
        words_before: u64,
        total_words: u64,
        progress: Option<Py<PyAny>>,
        report_every: f64,
    ) -> PyResult<f64> {
        super::guard(|| {
            let lent = Lent {
                syn0,
                syn1neg,
                syn1: None,
                lockf,
            };
            let arr = super::view(&pairs, "pairs")?;
            if arr.shape()[1] != 2 {
                return Err(PyValueError::new_err(format!(
                    "pairs must have shape (n, 2), got {:?}",
                    arr.shape()
                )));
            }
            let pair_vec: Vec<(u32, u32)> = arr.rows().into_iter().map(|r| (r[0], r[1])).collect();
            let weights = lent.weights()?;
            let (schedule, counters) = schedule(alpha, min_alpha, words_before, total_words);
            run_monitored(py, &counters, tick(report_every), progress.as_ref(), || {
                self.trainer
                    .train_pairs(weights, &pair_vec, epoch, schedule, &counters)
            })?
            .py()
        })
    }
}
