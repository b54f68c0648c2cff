//! Python binding of the word2vec trainer.
//!
//! `Word2VecCore` holds what one `train()` call needs besides the weights
//! (subsampling probabilities, the noise sampler, Huffman codes); the
//! weights stay NumPy arrays owned by the Python model and are borrowed
//! mutably for the duration of each epoch call, so training updates
//! `wv.vectors` / `syn1neg` / `syn1` in place with no copies.

use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::{run_monitored, IntoPyResult};
use crate::corpus::{count_words, CorpusText, MAX_SENTENCE_LEN};
use crate::hogwild::SharedMatrix;
use crate::linalg::SigmoidTable;
use crate::progress::Progress;
use crate::sampling::{keep_probability, UnigramTable};
use crate::vocab::{huffman_codes, HuffmanCodes};
use crate::w2v::{self, Job, ModelRef, OutputLayers, Schedule};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Word2VecCore>()?;
    m.add_class::<CorpusFile>()?;
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

/// The per-`train()` state of a word2vec model.
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct Word2VecCore {
    words: Vec<String>,
    keep_prob: Vec<f32>,
    noise: Option<UnigramTable>,
    huffman: Option<HuffmanCodes>,
    sigmoid: SigmoidTable,
    sg: bool,
    hs: bool,
    negative: usize,
    cbow_mean: bool,
    window: usize,
    shrink_windows: bool,
    compute_loss: bool,
    seed: u64,
    workers: usize,
    /// The model's worker threads, made once and reused by every epoch.
    pool: rayon::ThreadPool,
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
/// have made: shape, C-contiguity and the writeable flag (a read-only memory
/// map must be loaded with `mmap=None` or `'c'` to train).
fn rw_slice<'a>(
    arr: &'a Bound<'_, PyArray2<f32>>,
    name: &str,
    rows: usize,
    cols: usize,
) -> PyResult<SharedMatrix<'a>> {
    let shape = arr.shape().to_vec();
    if shape != [rows, cols] {
        return Err(PyValueError::new_err(format!(
            "{name} has shape {shape:?}, expected ({rows}, {cols}); was the vocabulary changed without build_vocab?"
        )));
    }
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{name} must be a C-contiguous float32 array (use numpy.ascontiguousarray)"
        )));
    }
    let writeable: bool = arr.getattr("flags")?.getattr("writeable")?.extract()?;
    if !writeable {
        return Err(PyValueError::new_err(format!(
            "{name} is read-only (a model loaded with mmap='r'?); load it with mmap=None or 'c' to train it"
        )));
    }
    // SAFETY: `arr` is a live, C-contiguous, writeable float32 array of
    // `rows * cols` elements (checked above), kept alive by the caller's
    // `Bound` for 'a, so the slice is valid for 'a. It is not exclusive:
    // Python code may read (queries) or write the same buffer meanwhile, and
    // the Hogwild workers write it concurrently; SharedMatrix::new's contract
    // is exactly that its rows may race, which this caller accepts (the
    // race can mix float updates but never leaves the buffer).
    unsafe {
        let s = arr.as_slice_mut().map_err(|_| {
            PyValueError::new_err(format!("{name} must be a C-contiguous float32 array"))
        })?;
        SharedMatrix::new(s, rows, cols).map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// Weights borrowed for one epoch call.
struct Borrowed<'py> {
    syn0: Bound<'py, PyArray2<f32>>,
    syn1neg: Option<Bound<'py, PyArray2<f32>>>,
    syn1: Option<Bound<'py, PyArray2<f32>>>,
    lockf: Option<PyReadonlyArray1<'py, f32>>,
}

impl Word2VecCore {
    fn model<'a>(&'a self, b: &'a Borrowed<'_>, compute_loss: bool) -> PyResult<ModelRef<'a>> {
        let n = self.words.len();
        let dim = b.syn0.shape()[1];
        if self.negative > 0 && b.syn1neg.is_none() {
            return Err(PyRuntimeError::new_err(
                "syn1neg is missing although negative > 0",
            ));
        }
        if self.hs && b.syn1.is_none() {
            return Err(PyRuntimeError::new_err("syn1 is missing although hs=1"));
        }
        let lock_factors = match &b.lockf {
            Some(l) => {
                let s = l.as_slice().map_err(|_| {
                    PyValueError::new_err("vectors_lockf must be a contiguous float32 array")
                })?;
                if s.len() != n {
                    return Err(PyValueError::new_err(format!(
                        "vectors_lockf has {} entries for {n} words",
                        s.len()
                    )));
                }
                Some(s)
            }
            None => None,
        };
        let syn0 = rw_slice(&b.syn0, "wv.vectors", n, dim)?;
        let syn1neg = match b.syn1neg.as_ref() {
            Some(a) if self.negative > 0 => Some(rw_slice(a, "syn1neg", n, dim)?),
            _ => None,
        };
        let syn1 = match b.syn1.as_ref() {
            Some(a) if self.hs => Some(rw_slice(a, "syn1", n, dim)?),
            _ => None,
        };
        Ok(ModelRef {
            syn0,
            layers: OutputLayers {
                syn1neg,
                noise: self.noise.as_ref(),
                negative: self.negative,
                syn1,
                huffman: self.huffman.as_ref(),
                sigmoid: &self.sigmoid,
                merge_lock: Default::default(),
            },
            sg: self.sg,
            cbow_mean: self.cbow_mean,
            window: self.window,
            shrink_windows: self.shrink_windows,
            keep_prob: &self.keep_prob,
            compute_loss,
            lock_factors,
        })
    }
}

/// The learning-rate schedule and progress counters of one epoch call
/// (`total_words` is the whole `train` call's expected raw words).
fn epoch_schedule(
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

fn call_progress(
    py: Python<'_>,
    cb: &Option<Py<PyAny>>,
    progress: &Progress,
    extra: u64,
) -> PyResult<()> {
    if let Some(cb) = cb {
        cb.call1(py, (progress.done(), extra))?;
    }
    Ok(())
}

#[pymethods]
impl Word2VecCore {
    #[new]
    #[pyo3(signature = (words, counts, *, sample, ns_exponent, sg, hs, negative, cbow_mean, window, shrink_windows, compute_loss, seed, workers))]
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
            if words.len() != counts.len() {
                return Err(PyValueError::new_err("words and counts differ in length"));
            }
            if words.is_empty() {
                return Err(PyRuntimeError::new_err(
                    "you must first build vocabulary before training the model",
                ));
            }
            if words.len() > u32::MAX as usize {
                return Err(PyValueError::new_err(format!(
                    "a vocabulary of {} words is more than the {} supported; raise min_count \
                     or set max_final_vocab",
                    words.len(),
                    u32::MAX
                )));
            }
            if window == 0 {
                return Err(PyValueError::new_err("window must be a positive integer"));
            }
            if !hs && negative == 0 {
                return Err(PyValueError::new_err(
                "with negative=0 you must set hs=1: one of negative sampling or hierarchical softmax is needed",
            ));
            }
            if negative > MAX_NEGATIVE {
                return Err(PyValueError::new_err(format!(
                    "negative={negative}: at most {MAX_NEGATIVE} noise words per example are \
                     supported (word2vec and gensim use 5-20)"
                )));
            }
            // Beyond the longest sentence a window changes nothing; bounding it
            // keeps the index arithmetic of the window loops far from overflow.
            let window = window.min(MAX_WINDOW);
            // The Huffman tree sums counts, so their total must fit in a u64.
            let total = counts
                .iter()
                .try_fold(0u64, |a, &c| a.checked_add(c))
                .ok_or_else(|| {
                    PyValueError::new_err(
                        "the word counts add up to more than 2**64 - 1; are they corrupt?",
                    )
                })?;
            let pool = crate::thread_pool(workers).py()?;
            py.detach(|| {
                let keep_prob = counts
                    .iter()
                    .map(|&c| keep_probability(c, total, sample))
                    .collect();
                let noise = if negative > 0 {
                    UnigramTable::new(&counts, ns_exponent, 0)
                } else {
                    None
                };
                let huffman = if hs {
                    Some(huffman_codes(&counts))
                } else {
                    None
                }
                .transpose();
                Ok::<_, crate::Error>((keep_prob, noise, huffman?))
            })
            .py()
            .map(|(keep_prob, noise, huffman)| Word2VecCore {
                words,
                keep_prob,
                noise,
                huffman,
                sigmoid: SigmoidTable::new(),
                sg,
                hs,
                negative,
                cbow_mean,
                window,
                shrink_windows,
                compute_loss,
                seed,
                workers,
                pool,
            })
            .and_then(|core| {
                if core.negative > 0 && core.noise.is_none() {
                    Err(PyValueError::new_err(
                        "every word count is zero: cannot build the negative-sampling distribution",
                    ))
                } else {
                    Ok(core)
                }
            })
        })
    }

    /// Trains one epoch from a Python iterable of token lists.
    ///
    /// Sentences are converted to ids while holding the GIL (lookups in
    /// `key_to_index`) and handed in batches of `batch_words` to the Rust
    /// workers, which train with the GIL released. Returns
    /// `(raw_words, effective_words, loss, sentences)`.
    #[pyo3(signature = (syn0, syn1neg, syn1, lockf, sentences, key_to_index, *, epoch, alpha, min_alpha, words_before, total_words, batch_words, progress=None, report_every=1.0))]
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
            let b = Borrowed {
                syn0,
                syn1neg,
                syn1,
                lockf,
            };
            let model = self.model(&b, self.compute_loss)?;
            let (schedule, counters) = epoch_schedule(alpha, min_alpha, words_before, total_words);
            let batch_words = batch_words.max(1);
            let (tx, rx) = sync_channel::<Job>(self.workers.max(1) * 2);
            let tick = report_tick(report_every);
            let (pool, seed) = (&self.pool, self.seed);
            std::thread::scope(|scope| {
                let model = &model;
                let counters_ref = &counters;
                let handle = scope.spawn(move || {
                    w2v::train_epoch_jobs(model, pool, seed, epoch, schedule, counters_ref, rx)
                });
                let produced = produce_jobs(
                    py,
                    sentences,
                    key_to_index,
                    u32::try_from(self.words.len()).unwrap_or(u32::MAX),
                    batch_words,
                    tx,
                    &counters,
                    &progress,
                    tick,
                );
                if produced.is_err() {
                    counters.request_stop();
                }
                let trained = py.detach(|| handle.join());
                let stats = match trained {
                    Ok(r) => r.py()?,
                    // re-raised here for `guard` to report with its message
                    Err(payload) => std::panic::resume_unwind(payload),
                };
                let n_sentences = produced?;
                Ok((
                    stats.raw_words,
                    stats.effective_words,
                    stats.loss,
                    n_sentences,
                ))
            })
        })
    }

    /// Trains one epoch on a corpus file, each worker reading its own byte
    /// range. Returns `(raw_words, effective_words, loss, stopped)`.
    #[pyo3(signature = (syn0, syn1neg, syn1, lockf, corpus, *, epoch, alpha, min_alpha, words_before, total_words, batch_words, max_sentence_length=MAX_SENTENCE_LEN, progress=None, report_every=1.0))]
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
    ) -> PyResult<(u64, u64, f64, bool)> {
        super::guard(|| {
            let b = Borrowed {
                syn0,
                syn1neg,
                syn1,
                lockf,
            };
            let model = self.model(&b, self.compute_loss)?;
            let (schedule, counters) = epoch_schedule(alpha, min_alpha, words_before, total_words);
            let lookup = w2v::trainer::byte_lookup(&self.words);
            let text = corpus.text.clone();
            let (pool, seed) = (&self.pool, self.seed);
            let tick = report_tick(report_every);
            let stats = run_monitored(
                py,
                &counters,
                tick,
                |py, p| call_progress(py, &progress, p, 0),
                || {
                    w2v::train_epoch_file(
                        &model,
                        &text,
                        &lookup,
                        pool,
                        seed,
                        epoch,
                        schedule,
                        batch_words.max(1),
                        max_sentence_length.max(1),
                        &counters,
                    )
                },
            )?
            .py()?;
            Ok((
                stats.raw_words,
                stats.effective_words,
                stats.loss,
                stats.stopped,
            ))
        })
    }

    /// Trains one epoch of skip-gram negative sampling on explicit
    /// `(target, context)` id pairs (an `(n, 2)` uint32 array). Returns the loss.
    #[pyo3(signature = (syn0, syn1neg, lockf, pairs, *, epoch, alpha, min_alpha, words_before, total_words, progress=None, report_every=1.0))]
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
            if self.negative == 0 {
                return Err(PyValueError::new_err("train_pairs needs negative > 0"));
            }
            let b = Borrowed {
                syn0,
                syn1neg,
                syn1: None,
                lockf,
            };
            let arr = super::view(&pairs, "pairs")?;
            if arr.ndim() != 2 || arr.shape()[1] != 2 {
                return Err(PyValueError::new_err("pairs must have shape (n, 2)"));
            }
            let pair_vec: Vec<(u32, u32)> = arr.rows().into_iter().map(|r| (r[0], r[1])).collect();
            let mut model = self.model(&b, self.compute_loss)?;
            // explicit pairs train skip-gram negative sampling only
            model.layers.syn1 = None;
            model.sg = true;
            let (schedule, counters) = epoch_schedule(alpha, min_alpha, words_before, total_words);
            let (pool, seed) = (&self.pool, self.seed);
            let tick = report_tick(report_every);
            run_monitored(
                py,
                &counters,
                tick,
                |py, p| call_progress(py, &progress, p, 0),
                || {
                    w2v::pairs::train_epoch_pairs(
                        &model, &pair_vec, pool, seed, epoch, schedule, &counters,
                    )
                },
            )?
            .py()
        })
    }
}

/// Reads sentences from the Python iterable and sends id batches to the
/// workers. Returns the number of sentences read.
/// Most noise words per example: each worker holds them (and, for skip-gram,
/// a row of gradients per noise word), so the bound keeps a forged or mistyped
/// `negative` from asking for gigabytes per thread.
const MAX_NEGATIVE: usize = 10_000;

/// Largest effective window: sentences are cut at `MAX_SENTENCE_LEN` (10,000)
/// words on the iterable path, so any window beyond a million trains exactly
/// as this one (the file path's `max_sentence_length` rarely exceeds it).
const MAX_WINDOW: usize = 1 << 20;

/// The progress interval: `report_every` seconds, at least 50 ms and at
/// most an hour (NaN or infinity: one second).
fn report_tick(report_every: f64) -> Duration {
    if report_every.is_finite() {
        Duration::from_secs_f64(report_every.clamp(0.05, 3600.0))
    } else {
        Duration::from_secs(1)
    }
}

fn produce_jobs(
    py: Python<'_>,
    sentences: &Bound<'_, PyAny>,
    key_to_index: &Bound<'_, PyDict>,
    vocab: u32,
    batch_words: usize,
    tx: std::sync::mpsc::SyncSender<Job>,
    counters: &Progress,
    progress: &Option<Py<PyAny>>,
    tick: Duration,
) -> PyResult<u64> {
    let mut job = Job::default();
    let mut n_sentences = 0u64;
    let mut last = Instant::now();
    let send = |job: Job| -> bool { py.detach(|| tx.send(job).is_ok()) };
    let iter = sentences.try_iter().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "sentences must be an iterable of lists of str tokens (e.g. a list of lists, LineSentence)",
        )
    })?;
    for item in iter {
        let item = item?;
        n_sentences += 1;
        let mut in_sentence = 0usize;
        let mut push = |tok: &Bound<'_, PyAny>, job: &mut Job| -> PyResult<()> {
            job.raw_words += 1;
            if let Some(v) = key_to_index.get_item(tok)? {
                let id = v
                    .extract::<u32>()
                    .ok()
                    .filter(|&id| id < vocab)
                    .ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "key_to_index maps {} to {}, which is not a row of the {vocab} model \
                         vectors; rebuild the vocabulary with build_vocab()",
                            tok.repr().map(|r| r.to_string()).unwrap_or_default(),
                            v.repr().map(|r| r.to_string()).unwrap_or_default()
                        ))
                    })?;
                job.ids.push(id);
                in_sentence += 1;
                if in_sentence == MAX_SENTENCE_LEN {
                    job.end_sentence();
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
                pyo3::exceptions::PyTypeError::new_err(format!(
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
        job.end_sentence();
        if job.words() >= batch_words && !send(std::mem::take(&mut job)) {
            break;
        }
        if last.elapsed() >= tick {
            last = Instant::now();
            py.check_signals()?;
            call_progress(py, progress, counters, n_sentences)?;
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
