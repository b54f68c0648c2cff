//! Python binding of the word2vec trainer ([`crate::w2v::Trainer`]).
//!
//! `Word2VecCore` wraps a trainer; the weights stay NumPy arrays owned by
//! the Python model and are lent to each epoch call, so training updates
//! `wv.vectors` / `syn1neg` / `syn1` in place with no copies. This file only
//! converts arguments, shares the arrays and feeds the iterable path.

use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Instant;

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::{report, run_alongside, run_monitored, tick, IntoPyResult};
use crate::corpus::{count_words, CorpusText, Job, MAX_SENTENCE_LEN};
use crate::hogwild::SharedMatrix;
use crate::progress::Progress;
use crate::w2v::{Schedule, Trainer, W2vConfig, Weights};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Word2VecCore>()?;
    m.add_class::<CorpusFile>()?;
    m.add_function(wrap_pyfunction!(check_w2v_config, m)?)?;
    Ok(())
}

/// `(list of (word, count), sentences, tokens)` as returned to Python.
type WordCounts = (Vec<(String, u64)>, u64, u64);

/// A corpus file opened once (memory-mapped, or decompressed for `.gz`)
/// and read by Rust workers for counting and every training epoch.
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct CorpusFile {
    text: Arc<CorpusText>,
}

impl CorpusFile {
    /// The text, shared with the training threads.
    pub(crate) fn text(&self) -> Arc<CorpusText> {
        self.text.clone()
    }
}

#[pymethods]
impl CorpusFile {
    #[new]
    fn new(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        super::guard(|| {
            let text = py.detach(|| CorpusText::open(&path)).py()?;
            Ok(CorpusFile {
                text: Arc::new(text),
            })
        })
    }

    /// Size of the text in bytes.
    fn __len__(&self) -> usize {
        self.text.bytes().len()
    }

    /// Counts words in parallel: `(list of (word, count) in first-seen
    /// order, number of sentences, number of tokens)`.
    #[pyo3(signature = (workers, max_sentence_length=MAX_SENTENCE_LEN, max_vocab_size=None))]
    fn count_words(
        &self,
        py: Python<'_>,
        workers: usize,
        max_sentence_length: usize,
        max_vocab_size: Option<usize>,
    ) -> PyResult<WordCounts> {
        super::guard(|| {
            let text = self.text.clone();
            let c = py
                .detach(move || count_words(&text, workers, max_sentence_length, max_vocab_size))
                .py()?;
            Ok((c.words, c.sentences, c.total_words))
        })
    }
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

/// A weight matrix of the model, shared with the Hogwild workers.
///
/// The array is NOT borrowed through rust-numpy's borrow tracking: a
/// tracked writable borrow would make every query on the same vectors from
/// another Python thread fail with "array is already borrowed" for the whole
/// epoch, and a running query would make `train()` fail. gensim serves such
/// queries (its Cython loops write the same NumPy buffers without a lock), and
/// a service that updates a model online needs to. So training writes the
/// buffer while queries may read it: a query during training sees a mix of
/// old and new rows, as in gensim. The checks here are those the borrow would
/// have made: layout and the writeable flag (a read-only memory map must be
/// loaded with `mmap=None` or `'c'` to train). Shapes are checked by the core.
pub(crate) fn shared<'a>(
    arr: &'a Bound<'_, PyArray2<f32>>,
    name: &str,
) -> PyResult<SharedMatrix<'a>> {
    let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
    let writeable: bool = arr.getattr("flags")?.getattr("writeable")?.extract()?;
    if !writeable {
        return Err(PyValueError::new_err(format!(
            "{name} is read-only (a model loaded with mmap='r'?); load it with mmap=None or 'c' \
             to train it"
        )));
    }
    if !arr.is_c_contiguous() {
        return Err(super::layout_error::<f32>(name));
    }
    // SAFETY: `arr` is a live, C-contiguous (checked above; `as_slice_mut`
    // checks alignment), writeable float32 array of `rows * cols` elements,
    // kept alive by the caller's `Bound` for 'a, so the slice is valid for
    // 'a. It is not exclusive: Python code may read (queries) or write the
    // same buffer meanwhile, and the Hogwild workers write it concurrently;
    // SharedMatrix::new's contract is exactly that its rows may race, which
    // this caller accepts (the race can mix float updates but never leaves
    // the buffer).
    unsafe {
        let s = arr
            .as_slice_mut()
            .map_err(|_| super::layout_error::<f32>(name))?;
        SharedMatrix::new(s, rows, cols).py()
    }
}

/// The model's arrays lent to one epoch call.
pub(crate) struct Lent<'py> {
    pub syn0: Bound<'py, PyArray2<f32>>,
    pub syn1neg: Option<Bound<'py, PyArray2<f32>>>,
    pub syn1: Option<Bound<'py, PyArray2<f32>>>,
    pub lockf: Option<PyReadonlyArray1<'py, f32>>,
}

impl Lent<'_> {
    pub(crate) fn weights(&self) -> PyResult<Weights<'_>> {
        let w = Weights::from_shared(
            shared(&self.syn0, "wv.vectors")?,
            self.syn1neg
                .as_ref()
                .map(|a| shared(a, "syn1neg"))
                .transpose()?,
            self.syn1.as_ref().map(|a| shared(a, "syn1")).transpose()?,
        );
        Ok(match &self.lockf {
            Some(l) => w.with_lock_factors(
                l.as_slice()
                    .map_err(|_| super::layout_error::<f32>("vectors_lockf"))?,
            ),
            None => w,
        })
    }
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
            let text = corpus.text.clone();
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

/// The learning-rate schedule and progress record of one epoch call
/// (`total_words` is the whole `train` call's expected raw words).
fn schedule(
    alpha: f32,
    min_alpha: f32,
    words_before: u64,
    total_words: u64,
) -> (Schedule, Progress) {
    let schedule = Schedule {
        alpha,
        min_alpha,
        words_before,
        total_words,
    };
    (schedule, Progress::new(total_words))
}

/// The iterable path's producer: reads sentences from the Python iterable
/// (with the GIL), converts tokens to ids through `key_to_index` and sends
/// batches of `batch_words` ids to the workers.
///
/// With `tag_to_index` (Doc2Vec), each item is a tagged document: an object
/// with `.words` (the tokens) and `.tags` (each looked up in `tag_to_index`).
pub(crate) struct Feed<'a, 'py> {
    pub key_to_index: &'a Bound<'py, PyDict>,
    pub tag_to_index: Option<&'a Bound<'py, PyDict>>,
    pub vocab: u32,
    pub batch_words: usize,
    pub every: std::time::Duration,
    pub callback: Option<&'a Py<PyAny>>,
}

impl Feed<'_, '_> {
    /// Sends every sentence (or document); returns how many were read.
    pub(crate) fn run(
        &self,
        py: Python<'_>,
        sentences: &Bound<'_, PyAny>,
        tx: std::sync::mpsc::SyncSender<Job>,
        counters: &Progress,
    ) -> PyResult<u64> {
        let mut job = Job::default();
        let mut n_sentences = 0u64;
        let mut last = Instant::now();
        let send = |job: Job| -> bool { py.detach(|| tx.send(job).is_ok()) };
        let iter = sentences.try_iter().map_err(|_| {
            PyTypeError::new_err(
                "sentences must be an iterable of lists of str tokens (e.g. a list of lists, \
                 LineSentence)",
            )
        })?;
        let mut tags: Vec<u32> = Vec::new();
        for item in iter {
            let mut item = item?;
            n_sentences += 1;
            if let Some(tag_to_index) = self.tag_to_index {
                let (words, t) = document(&item, n_sentences - 1)?;
                tags.clear();
                for tag in t.try_iter()? {
                    tags.push(tag_id(tag_to_index, &tag?)?);
                }
                item = words;
            }
            let end = |job: &mut Job| {
                if self.tag_to_index.is_some() {
                    job.end_document(&tags);
                } else {
                    job.end_sentence();
                }
            };
            let mut in_sentence = 0usize;
            let mut push = |tok: &Bound<'_, PyAny>, job: &mut Job| -> PyResult<()> {
                job.raw_words += 1;
                if let Some(id) = self.id(tok)? {
                    job.ids.push(id);
                    in_sentence += 1;
                    if in_sentence == MAX_SENTENCE_LEN {
                        end(job);
                        in_sentence = 0;
                    }
                }
                Ok(())
            };
            if let Ok(list) = item.cast::<PyList>() {
                for tok in list.iter() {
                    push(&tok, &mut job)?;
                }
            } else if item.is_instance_of::<PyString>() {
                // gensim iterates the characters of a plain string (and warns
                // at build_vocab time); do the same rather than fail mid-training.
                for tok in item.try_iter()? {
                    push(&tok?, &mut job)?;
                }
            } else {
                let it = item.try_iter().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "each sentence must be a list of str tokens, got {}",
                        item.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })?;
                for tok in it {
                    push(&tok?, &mut job)?;
                }
            }
            end(&mut job);
            if job.words() >= self.batch_words && !send(std::mem::take(&mut job)) {
                break;
            }
            if last.elapsed() >= self.every {
                last = Instant::now();
                py.check_signals()?;
                report(py, self.callback, counters)?;
            }
            if counters.should_stop() {
                break;
            }
        }
        if job.raw_words > 0 {
            send(job);
        }
        Ok(n_sentences)
    }

    /// The id of `tok`, if it is in `key_to_index` (checked to be a row).
    pub(crate) fn id(&self, tok: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        let Some(v) = self.key_to_index.get_item(tok)? else {
            return Ok(None);
        };
        let vocab = self.vocab;
        v.extract::<u32>()
            .ok()
            .filter(|&id| id < vocab)
            .map(Some)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "key_to_index maps {} to {}, which is not a row of the {vocab} model \
                     vectors; rebuild the vocabulary with build_vocab()",
                    tok.repr().map(|r| r.to_string()).unwrap_or_default(),
                    v.repr().map(|r| r.to_string()).unwrap_or_default()
                ))
            })
    }
}

/// The `(words, tags)` of tagged document number `i` (gensim's
/// `TaggedDocument`: an object with `.words` and `.tags`).
fn document<'py>(
    item: &Bound<'py, PyAny>,
    i: u64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    match (item.getattr("words"), item.getattr("tags")) {
        (Ok(words), Ok(tags)) => {
            if tags.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(format!(
                    "document #{i}: tags must be a list of tags, got the string {}; wrap it: \
                     tags=[{}]",
                    tags.repr()?,
                    tags.repr()?
                )));
            }
            Ok((words, tags))
        }
        _ => Err(PyTypeError::new_err(format!(
            "document #{i} is a {}, not a TaggedDocument(words, tags)",
            item.get_type().name()?
        ))),
    }
}

/// The row of document tag `tag`.
fn tag_id(tag_to_index: &Bound<'_, PyDict>, tag: &Bound<'_, PyAny>) -> PyResult<u32> {
    match tag_to_index.get_item(tag)? {
        Some(v) => v.extract::<u32>(),
        None => Err(pyo3::exceptions::PyKeyError::new_err(format!(
            "document tag {} is not in the model's vocabulary of tags; call \
             build_vocab on these documents first",
            tag.repr()?
        ))),
    }
}
