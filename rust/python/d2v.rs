//! Python binding of the Doc2Vec trainer ([`crate::d2v::Doc2VecTrainer`]):
//! the same argument conversion, array sharing and iterable feed as the
//! word2vec binding, plus inference.

use std::sync::mpsc::sync_channel;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::corpus::{CorpusFile, Feed};
use super::weights::{schedule, shared, Lent};
use super::{run_alongside, run_monitored, tick, IntoPyResult};
use crate::corpus::{Job, MAX_SENTENCE_LEN};
use crate::d2v::{D2vConfig, Doc2VecTrainer, Frozen};
use crate::progress::Progress;
use crate::w2v::{W2vConfig, Weights};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Doc2VecCore>()?;
    Ok(())
}

/// The Doc2Vec trainer of a model, for its current vocabulary.
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct Doc2VecCore {
    trainer: Doc2VecTrainer,
}

/// The document-vector arrays lent to one epoch call.
struct LentDocs<'py> {
    dv: Bound<'py, PyArray2<f32>>,
    doc_lockf: Option<PyReadonlyArray1<'py, f32>>,
}

fn weights<'a>(lent: &'a Lent<'_>, docs: &'a LentDocs<'_>) -> PyResult<Weights<'a>> {
    let w = lent
        .weights()?
        .with_shared_docs(shared(&docs.dv, "dv.vectors")?);
    Ok(match &docs.doc_lockf {
        Some(l) => w.with_doc_lock_factors(
            l.as_slice()
                .map_err(|_| super::layout_error::<f32>("dv.vectors_lockf"))?,
        ),
        None => w,
    })
}

/// Where the words of a document are looked up: the model's `key_to_index`
/// dict, or the `KeyTable` of a loaded model's stored keys.
enum Words<'a, 'py> {
    Dict(&'a Bound<'py, PyDict>),
    Table(&'a crate::kv::KeyIndex, &'a [u8]),
}

impl Words<'_, '_> {
    fn get(&self, tok: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        match self {
            Self::Dict(d) => d.get_item(tok)?.map(|v| v.extract()).transpose(),
            Self::Table(index, blob) => match tok.cast::<PyString>() {
                Ok(s) => Ok(s
                    .to_cow()
                    .ok()
                    .and_then(|k| index.get(blob, k.as_bytes()))
                    .map(|r| r as u32)),
                Err(_) => {
                    tok.hash()?; // an unhashable token fails as with the dict
                    Ok(None) // the table holds str keys only
                }
            },
        }
    }
}

/// Runs `f` with the word lookup `key_to_index` stands for.
fn with_words<T>(
    key_to_index: &Bound<'_, PyAny>,
    f: impl FnOnce(&Words<'_, '_>) -> PyResult<T>,
) -> PyResult<T> {
    if let Ok(d) = key_to_index.cast::<PyDict>() {
        return f(&Words::Dict(d));
    }
    if let Ok(t) = key_to_index.cast::<super::kv::KeyTable>() {
        return t.get().with_index(key_to_index.py(), |index, blob| {
            f(&Words::Table(index, blob))
        });
    }
    Err(PyTypeError::new_err(
        "key_to_index must be a dict or a KeyTable",
    ))
}

/// Word ids of `doc` (unknown words skipped); a str is refused, since
/// iterating it would infer from its characters.
fn doc_ids(
    doc: &Bound<'_, PyAny>,
    words: &Words<'_, '_>,
    vocab: usize,
    what: &str,
) -> PyResult<Vec<u32>> {
    if doc.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a list of str tokens, not a str (split it first, e.g. \
             text.split())"
        )));
    }
    let iter = doc.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a list of str tokens, got {}",
            doc.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let mut ids = Vec::new();
    for tok in iter {
        if let Some(id) = words.get(&tok?)? {
            if id as usize >= vocab {
                return Err(PyValueError::new_err(format!(
                    "key_to_index maps a word to {id}, outside the {vocab} words of the model"
                )));
            }
            ids.push(id);
        }
        if ids.len() >= MAX_SENTENCE_LEN {
            break; // gensim trains at most 10,000 words of a document
        }
    }
    Ok(ids)
}

/// The frozen model's arrays for inference (read-only views).
struct FrozenArrays<'py> {
    syn0: PyReadonlyArray2<'py, f32>,
    syn1neg: Option<PyReadonlyArray2<'py, f32>>,
    syn1: Option<PyReadonlyArray2<'py, f32>>,
}

impl FrozenArrays<'_> {
    fn frozen(&self) -> PyResult<Frozen<'_>> {
        let syn0 = super::view(&self.syn0, "wv.vectors")?;
        Ok(Frozen {
            syn0: super::slice(&self.syn0, "wv.vectors")?,
            syn1neg: self
                .syn1neg
                .as_ref()
                .map(|a| super::slice(a, "syn1neg"))
                .transpose()?,
            syn1: self
                .syn1
                .as_ref()
                .map(|a| super::slice(a, "syn1"))
                .transpose()?,
            dim: syn0.ncols(),
        })
    }
}

#[pymethods]
impl Doc2VecCore {
    #[new]
    #[pyo3(signature = (words, counts, *, sample, ns_exponent, dm, dm_mean, dm_concat, dm_tag_count, dbow_words, hs, negative, window, shrink_windows, compute_loss, seed, workers, concat_negative_reuse = 4))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        words: Vec<String>,
        counts: Vec<u64>,
        sample: f64,
        ns_exponent: f64,
        dm: bool,
        dm_mean: bool,
        dm_concat: bool,
        dm_tag_count: usize,
        dbow_words: bool,
        hs: bool,
        negative: usize,
        window: usize,
        shrink_windows: bool,
        compute_loss: bool,
        seed: u64,
        workers: usize,
        concat_negative_reuse: usize,
    ) -> PyResult<Self> {
        super::guard(|| {
            let config = D2vConfig {
                w2v: W2vConfig {
                    sg: !dm,
                    hs,
                    negative,
                    ns_exponent,
                    cbow_mean: dm_mean,
                    window,
                    shrink_windows,
                    sample,
                    compute_loss,
                    seed,
                    workers,
                },
                dm,
                dm_concat,
                dm_tag_count,
                dbow_words,
                concat_negative_reuse,
            };
            let trainer = py
                .detach(|| Doc2VecTrainer::new(words, &counts, config))
                .py()?;
            Ok(Doc2VecCore { trainer })
        })
    }

    /// Entries of an output-layer row for vectors of `vector_size`.
    fn layer1_size(&self, vector_size: usize) -> usize {
        self.trainer.config().layer1_size(vector_size)
    }

    /// Trains one epoch from a Python iterable of tagged documents. Returns
    /// `(raw_words, effective_words, loss, documents)`.
    #[pyo3(signature = (syn0, dv, syn1neg, syn1, lockf, doc_lockf, documents, key_to_index, tag_to_index, *, epoch, alpha, min_alpha, words_before, total_words, batch_words, progress=None, report_every=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn train_epoch_iterable<'py>(
        &self,
        py: Python<'py>,
        syn0: Bound<'py, PyArray2<f32>>,
        dv: Bound<'py, PyArray2<f32>>,
        syn1neg: Option<Bound<'py, PyArray2<f32>>>,
        syn1: Option<Bound<'py, PyArray2<f32>>>,
        lockf: Option<PyReadonlyArray1<'py, f32>>,
        doc_lockf: Option<PyReadonlyArray1<'py, f32>>,
        documents: &Bound<'py, PyAny>,
        key_to_index: &Bound<'py, PyDict>,
        tag_to_index: &Bound<'py, PyDict>,
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
            let docs = LentDocs { dv, doc_lockf };
            let weights = weights(&lent, &docs)?;
            let (schedule, counters) = schedule(alpha, min_alpha, words_before, total_words);
            let (tx, rx) = sync_channel::<Job>(self.trainer.workers() * 2);
            let trainer = &self.trainer;
            let counters_ref = &counters;
            let mut n_docs = 0u64;
            let feed = Feed {
                key_to_index,
                tag_to_index: Some(tag_to_index),
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
                    n_docs = feed.run(py, documents, tx, counters_ref)?;
                    Ok(())
                },
            )?
            .py()?;
            Ok((stats.raw_words, stats.effective_words, stats.loss, n_docs))
        })
    }

    /// Trains one epoch on a file with one document per line (the tag of
    /// line `i` is row `i` of `dv`), each worker reading its own byte range
    /// (gensim's `corpus_file` mode). With `in_order`, as the iterable path
    /// trains on `TaggedLineDocument(path)` instead: one Rust thread reads
    /// the lines in order and the workers take its jobs as they come.
    /// Returns `(raw_words, effective_words, loss, documents)`, `documents`
    /// (the number of lines) only with `in_order`.
    #[pyo3(signature = (syn0, dv, syn1neg, syn1, lockf, doc_lockf, corpus, *, epoch, alpha, min_alpha, words_before, total_words, batch_words, in_order=false, progress=None, report_every=1.0))]
    #[allow(clippy::too_many_arguments)]
    fn train_epoch_file<'py>(
        &self,
        py: Python<'py>,
        syn0: Bound<'py, PyArray2<f32>>,
        dv: Bound<'py, PyArray2<f32>>,
        syn1neg: Option<Bound<'py, PyArray2<f32>>>,
        syn1: Option<Bound<'py, PyArray2<f32>>>,
        lockf: Option<PyReadonlyArray1<'py, f32>>,
        doc_lockf: Option<PyReadonlyArray1<'py, f32>>,
        corpus: &CorpusFile,
        epoch: u64,
        alpha: f32,
        min_alpha: f32,
        words_before: u64,
        total_words: u64,
        batch_words: usize,
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
            let docs = LentDocs { dv, doc_lockf };
            let weights = weights(&lent, &docs)?;
            let (schedule, counters) = schedule(alpha, min_alpha, words_before, total_words);
            let text = corpus.text();
            let t = &self.trainer;
            let (stats, read) =
                run_monitored(py, &counters, tick(report_every), progress.as_ref(), || {
                    let (w, e, s, b) = (&text, epoch, schedule, batch_words);
                    if in_order {
                        t.train_file_in_order(weights, w, e, s, b, &counters)
                            .map(|(stats, read)| (stats, Some(read)))
                    } else {
                        t.train_file(weights, w, e, s, b, MAX_SENTENCE_LEN, &counters)
                            .map(|stats| (stats, None))
                    }
                })?
                .py()?;
            Ok((stats.raw_words, stats.effective_words, stats.loss, read))
        })
    }

    /// The vector of a new document (a list of str tokens), the model
    /// frozen; deterministic for a given document and seed.
    #[pyo3(signature = (syn0, syn1neg, syn1, doc_words, key_to_index, *, alpha, min_alpha, epochs, seed))]
    #[allow(clippy::too_many_arguments)]
    fn infer_vector<'py>(
        &self,
        py: Python<'py>,
        syn0: PyReadonlyArray2<'py, f32>,
        syn1neg: Option<PyReadonlyArray2<'py, f32>>,
        syn1: Option<PyReadonlyArray2<'py, f32>>,
        doc_words: &Bound<'py, PyAny>,
        key_to_index: &Bound<'py, PyAny>,
        alpha: f32,
        min_alpha: f32,
        epochs: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        super::guard(|| {
            let vocab = self.trainer.vocab_len();
            let ids = with_words(key_to_index, |w| doc_ids(doc_words, w, vocab, "doc_words"))?;
            let arrays = FrozenArrays {
                syn0,
                syn1neg,
                syn1,
            };
            let frozen = arrays.frozen()?;
            let v = py
                .detach(|| {
                    self.trainer
                        .infer(&frozen, &ids, seed, alpha, min_alpha, epochs)
                })
                .py()?;
            Ok(v.into_pyarray(py))
        })
    }

    /// Vectors of many new documents (a list of token lists), spread over
    /// the model's threads: `(len(docs), vector_size)`.
    #[pyo3(signature = (syn0, syn1neg, syn1, docs, key_to_index, *, alpha, min_alpha, epochs, seed))]
    #[allow(clippy::too_many_arguments)]
    fn infer_vectors<'py>(
        &self,
        py: Python<'py>,
        syn0: PyReadonlyArray2<'py, f32>,
        syn1neg: Option<PyReadonlyArray2<'py, f32>>,
        syn1: Option<PyReadonlyArray2<'py, f32>>,
        docs: &Bound<'py, PyAny>,
        key_to_index: &Bound<'py, PyAny>,
        alpha: f32,
        min_alpha: f32,
        epochs: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        super::guard(|| {
            if docs.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(
                    "docs must be a list of token lists, not a str",
                ));
            }
            let vocab = self.trainer.vocab_len();
            let all = with_words(key_to_index, |w| {
                let mut all = Vec::new();
                for (i, d) in docs.try_iter()?.enumerate() {
                    all.push(doc_ids(&d?, w, vocab, &format!("docs[{i}]"))?);
                }
                Ok(all)
            })?;
            let arrays = FrozenArrays {
                syn0,
                syn1neg,
                syn1,
            };
            let frozen = arrays.frozen()?;
            let dim = frozen.dim;
            let progress = Progress::new(all.len() as u64);
            let flat = run_monitored(py, &progress, tick(0.1), None, || {
                self.trainer
                    .infer_batch(&frozen, &all, seed, alpha, min_alpha, epochs, &progress)
            })?
            .py()?;
            let n = all.len();
            let arr = numpy::ndarray::Array2::from_shape_vec((n, dim), flat)
                .map_err(|e| PyValueError::new_err(format!("internal shape error: {e}")))?;
            Ok(arr.into_pyarray(py))
        })
    }
}
