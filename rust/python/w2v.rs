//! Python binding of the word2vec trainer ([`crate::w2v::Trainer`]).
//!
//! `Word2VecCore` wraps a trainer; the weights stay NumPy arrays owned by
//! the Python model and are lent to each epoch call, so training updates
//! `wv.vectors` / `syn1neg` / `syn1` in place with no copies. This file only
//! converts arguments and runs the trainer; the array sharing is in
//! `weights.rs`, the corpus file and the iterable feed in `corpus.rs`.

use std::sync::mpsc::sync_channel;

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
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
    m.add_function(wrap_pyfunction!(huffman_tree, m)?)?;
    Ok(())
}

/// `(codes, points, lengths)` of [`huffman_tree`].
type HuffmanArrays<'py> = (
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
);

/// The hierarchical-softmax tree of words with `counts` (id order), as
/// gensim builds it: `(codes, points, lengths)`, each word's branch bits
/// and inner nodes (root first) concatenated, and the path length of each.
#[pyfunction]
fn huffman_tree(py: Python<'_>, counts: Vec<u64>) -> PyResult<HuffmanArrays<'_>> {
    super::guard(|| {
        let h = py.detach(|| crate::vocab::huffman_codes(&counts)).py()?;
        let lengths: Vec<u32> = (0..h.len()).map(|w| h.path(w).len() as u32).collect();
        let codes: Vec<u8> = (0..h.len()).flat_map(|w| h.codes(w)).collect();
        let points: Vec<u32> = (0..h.len()).flat_map(|w| h.points(w)).collect();
        Ok((
            PyArray1::from_vec(py, codes),
            PyArray1::from_vec(py, points),
            PyArray1::from_vec(py, lengths),
        ))
    })
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
    /// range (gensim's `corpus_file` mode). With `in_order`, the iterable
    /// path's semantics instead: one Rust thread reads the file in order
    /// (the sentences `LineSentence(path, max_sentence_length)` yields) and
    /// the workers take its jobs as they come, under one learning-rate
    /// schedule. Returns `(raw_words, effective_words, loss, sentences)`,
    /// `sentences` (as `LineSentence` counts them) only with `in_order`.
    #[pyo3(signature = (syn0, syn1neg, syn1, lockf, corpus, *, epoch, alpha, min_alpha, words_before, total_words, batch_words, max_sentence_length=MAX_SENTENCE_LEN, in_order=false, progress=None, report_every=1.0))]
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
        in_order: bool,
        progress: Option<Py<PyAny>>,
        report_every: f64,
    ) -> PyResult<(u64, u64, f64, Option<u64>)> {
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
            let t = &self.trainer;
            let (stats, read) =
                run_monitored(py, &counters, tick(report_every), progress.as_ref(), || {
                    let (w, e, s, b, m) =
                        (&text, epoch, schedule, batch_words, max_sentence_length);
                    if in_order {
                        t.train_file_in_order(weights, w, e, s, b, m, &counters)
                            .map(|(stats, read)| (stats, Some(read)))
                    } else {
                        t.train_file(weights, w, e, s, b, m, &counters)
                            .map(|stats| (stats, None))
                    }
                })?
                .py()?;
            Ok((stats.raw_words, stats.effective_words, stats.loss, read))
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

    /// The log-likelihood of each sentence under hierarchical softmax
    /// (gensim's `score`): `ids` are the in-vocabulary word ids of all
    /// sentences, concatenated, `lengths` the number of ids of each.
    /// Runs with the GIL released; never writes the weights.
    fn score<'py>(
        &self,
        py: Python<'py>,
        syn0: PyReadonlyArray2<'py, f32>,
        syn1: PyReadonlyArray2<'py, f32>,
        ids: PyReadonlyArray1<'py, u32>,
        lengths: PyReadonlyArray1<'py, u64>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        super::guard(|| {
            // the crate's one layout rule and message (`view`): C-contiguous, aligned
            let (v0, v1) = (super::view(&syn0, "syn0")?, super::view(&syn1, "syn1")?);
            let (vi, vl) = (super::view(&ids, "ids")?, super::view(&lengths, "lengths")?);
            let s0 = v0
                .as_slice()
                .ok_or_else(|| super::layout_error::<f32>("syn0"))?;
            let s1 = v1
                .as_slice()
                .ok_or_else(|| super::layout_error::<f32>("syn1"))?;
            let mut job = Job {
                ids: vi.iter().copied().collect(),
                ..Job::default()
            };
            let mut end = 0usize;
            for &n in vl.iter() {
                end = end.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
                job.ends.push(end);
            }
            if end != job.ids.len() {
                return Err(PyValueError::new_err(format!(
                    "the sentence lengths add up to {end}, but {} ids were given",
                    job.ids.len()
                )));
            }
            let scores = py.detach(|| self.trainer.score(s0, s1, &job)).py()?;
            Ok(PyArray1::from_vec(py, scores))
        })
    }
}
