//! Python binding of the vocabulary rules: the word counter used while
//! scanning a corpus iterable (with gensim's pruning under
//! `max_vocab_size`), the final trim and sort, and the initial vectors.
//!
//! Every rule lives in [`crate::vocab`]; this file only converts Python
//! objects (str tokens, trim-rule callables) and words its errors.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::IntoPyResult;
use crate::vocab::{finalize, finalize_with, WordCounter};
use crate::w2v;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<VocabCounter>()?;
    m.add_function(wrap_pyfunction!(finalize_vocab, m)?)?;
    m.add_function(wrap_pyfunction!(init_vectors, m)?)?;
    Ok(())
}

/// `repr(obj)` cut to `n` characters, as Python's `f"{obj!r:.{n}}"`.
fn short_repr(obj: &Bound<'_, PyAny>, n: usize) -> String {
    match obj.repr() {
        Ok(r) => r.to_string().chars().take(n).collect(),
        Err(_) => String::from("<unprintable>"),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

fn not_a_sentence(sentence: &Bound<'_, PyAny>, number: u64) -> PyErr {
    PyTypeError::new_err(format!(
        "each sentence must be a list of str tokens, got {} {} (sentence #{number})",
        type_name(sentence),
        short_repr(sentence, 40)
    ))
}

/// The error for a token that is not a `str`; an unhashable one (a list)
/// means the sentence itself is malformed (e.g. nested one level too deep).
fn not_a_token(token: &Bound<'_, PyAny>, sentence: &Bound<'_, PyAny>, number: u64) -> PyErr {
    if token.hash().is_err() {
        return not_a_sentence(sentence, number);
    }
    PyTypeError::new_err(format!(
        "tokens must be str, got {} {}; convert the tokens of each sentence with str() \
         (e.g. [str(t) for t in sentence])",
        type_name(token),
        short_repr(token, 40)
    ))
}

/// A token that Rust cannot hold: a `str` with a lone surrogate.
fn not_utf8(token: &Bound<'_, PyString>, err: PyErr) -> PyErr {
    let py = token.py();
    let reason = err
        .value(py)
        .getattr("reason")
        .map(|r| r.to_string())
        .unwrap_or_else(|_| err.to_string());
    let head = token
        .get_item(pyo3::types::PySlice::new(py, 0, 80, 1))
        .map(|h| short_repr(&h, usize::MAX))
        .unwrap_or_default();
    PyValueError::new_err(format!(
        "token {head} cannot be encoded as UTF-8 ({reason}); tokens must be valid Unicode text \
         (decode bytes with errors='replace' rather than 'surrogateescape')"
    ))
}

/// Word counts of a corpus given as Python token lists, pruned as gensim
/// prunes them under `max_vocab_size` (see [`crate::vocab::WordCounter`]).
///
/// `trim_rule`, if given, is called as `trim_rule(word, count, min_reduce)`
/// when pruning and must return whether to keep the word.
#[pyclass(module = "embedrs._embedrs")]
pub(crate) struct VocabCounter {
    counter: WordCounter<String>,
    trim_rule: Option<Py<PyAny>>,
}

impl VocabCounter {
    /// Counts one token, checking that it is a `str` Rust can hold. Its
    /// UTF-8 text is borrowed from the string object (CPython keeps it there
    /// for ASCII text and caches it for the rest), not copied.
    fn add(&mut self, token: &Bound<'_, PyAny>, sentence: &Bound<'_, PyAny>) -> PyResult<()> {
        let number = self.counter.sentences();
        let s = token
            .cast::<PyString>()
            .map_err(|_| not_a_token(token, sentence, number))?;
        let text = s.to_str().map_err(|e| not_utf8(s, e))?;
        self.counter.add_borrowed(text, str::to_string);
        Ok(())
    }

    /// Counts the tokens of one sentence: any sized iterable of `str` (a plain
    /// string's characters become words, as in gensim).
    fn add_sentence(&mut self, sentence: &Bound<'_, PyAny>) -> PyResult<()> {
        let number = self.counter.sentences();
        sentence
            .len()
            .map_err(|_| not_a_sentence(sentence, number))?;
        let it = sentence
            .try_iter()
            .map_err(|_| not_a_sentence(sentence, number))?;
        for tok in it {
            self.add(&tok?, sentence)?;
        }
        let py = sentence.py();
        match &self.trim_rule {
            None => self.counter.end_sentence(),
            Some(rule) => self.counter.try_end_sentence(|w, count, min_reduce| {
                rule.call1(py, (w.as_str(), count, min_reduce))?
                    .is_truthy(py)
            })?,
        }
        Ok(())
    }
}

#[pymethods]
impl VocabCounter {
    #[new]
    #[pyo3(signature = (max_vocab_size=None, trim_rule=None))]
    fn new(max_vocab_size: Option<usize>, trim_rule: Option<Py<PyAny>>) -> Self {
        VocabCounter {
            counter: WordCounter::new(max_vocab_size),
            trim_rule,
        }
    }

    /// Counts the sentences of `sentences` (an iterable of token lists).
    /// Every `progress_per` sentences (if > 0), calls `progress(sentences,
    /// total_words, distinct_words)`, and checks for Ctrl-C.
    #[pyo3(signature = (sentences, progress_per=0, progress=None))]
    fn update(
        &mut self,
        sentences: &Bound<'_, PyAny>,
        progress_per: u64,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        super::guard(|| {
            let py = sentences.py();
            let iter = sentences.try_iter().map_err(|_| {
                PyTypeError::new_err(format!(
                    "sentences must be an iterable of lists of str tokens, got {}",
                    type_name(sentences)
                ))
            })?;
            for sentence in iter {
                self.add_sentence(&sentence?)?;
                let n = self.counter.sentences();
                if progress_per > 0 && n.is_multiple_of(progress_per) {
                    py.check_signals()?;
                    if let Some(cb) = progress {
                        cb.call1((n, self.counter.total_words(), self.counter.len()))?;
                    }
                }
            }
            Ok(())
        })
    }

    /// `(word, count)` pairs in first-seen order.
    fn items(&self) -> Vec<(&str, u64)> {
        self.counter
            .items()
            .into_iter()
            .map(|(w, c)| (w.as_str(), c))
            .collect()
    }

    /// Tokens counted, pruned ones included.
    #[getter]
    fn total_words(&self) -> u64 {
        self.counter.total_words()
    }

    /// Sentences counted.
    #[getter]
    fn sentences(&self) -> u64 {
        self.counter.sentences()
    }

    /// Distinct words held.
    fn __len__(&self) -> usize {
        self.counter.len()
    }
}

/// Applies `min_count` / `max_final_vocab` (and `trim_rule`) and the
/// optional sort to raw counts in first-seen order; returns `(words,
/// counts, effective_min_count)`. `trim_rule`, if given, is called as
/// `trim_rule(word, count, effective_min_count)` and returns whether to keep
/// the word.
#[pyfunction]
#[pyo3(signature = (raw, min_count, max_final_vocab=None, sorted_vocab=true, trim_rule=None))]
fn finalize_vocab(
    py: Python<'_>,
    raw: Vec<(String, u64)>,
    min_count: u64,
    max_final_vocab: Option<usize>,
    sorted_vocab: bool,
    trim_rule: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<String>, Vec<u64>, u64)> {
    super::guard(|| {
        let v = match trim_rule {
            None => py.detach(move || finalize(raw, min_count, max_final_vocab, sorted_vocab)),
            Some(rule) => {
                finalize_with(raw, min_count, max_final_vocab, sorted_vocab, |w, c, m| {
                    rule.call1((w, c, m))?.is_truthy()
                })?
            }
        };
        Ok((v.words, v.counts, v.min_count))
    })
}

/// Deterministic initial vectors for `words` (each depends only on the
/// word and the seed), shape `(len(words), vector_size)`, float32.
#[pyfunction]
fn init_vectors<'py>(
    py: Python<'py>,
    words: Vec<String>,
    vector_size: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    super::guard(|| {
        let n_words = words.len();
        let what = move || format!("initial vectors for {n_words} words of size {vector_size}");
        let n = crate::mem::elements::<f32>(words.len(), vector_size, what).py()?;
        let arr = py
            .detach(move || -> crate::Result<Array2<f32>> {
                let data = crate::mem::zeroed::<f32>(n, what)?;
                let mut a = Array2::from_shape_vec((words.len(), vector_size), data)
                    .map_err(|e| crate::Error::Runtime(format!("internal shape error: {e}")))?;
                if vector_size > 0 {
                    for (w, mut row) in words.iter().zip(a.rows_mut()) {
                        if let Some(r) = row.as_slice_mut() {
                            w2v::init::init_vector(w, seed, r);
                        }
                    }
                }
                Ok(a)
            })
            .py()?;
        Ok(arr.into_pyarray(py))
    })
}
