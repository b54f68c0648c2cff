//! Python binding of [`crate::phrases`]: the counting table behind
//! `embedrs.models.phrases.Phrases` (filled from a Python iterable in batches
//! counted with the GIL released, or straight from a corpus file), phrase
//! application and export with the built-in scorers, and the phrase table
//! behind `FrozenPhrases`.
//!
//! Custom scoring callables stay in Python (`phrases.py`), which reads the
//! counts through [`PhraseTable::get`].

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use super::{guard, IntoPyResult};
use crate::phrases::{
    analyze_sentence, export_phrases, CandidateScorer, FrozenScorer, PhraseCounts, PhraseSettings,
    Piece, Scoring, TableScorer, TokenBatch,
};
use crate::progress::Progress;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PhraseTable>()?;
    m.add_class::<FrozenPhraseTable>()?;
    Ok(())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

fn not_a_token(token: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "tokens must be str, got {} {}; each sentence must be a list of str tokens",
        type_name(token),
        token
            .repr()
            .map(|r| r.to_string().chars().take(40).collect::<String>())
            .unwrap_or_default()
    ))
}

fn not_a_sentence(sentence: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "each sentence must be an iterable of str tokens, got {}",
        type_name(sentence)
    ))
}

/// Tokens of Python sentences copied into one UTF-8 buffer.
#[derive(Default)]
struct Flat {
    buf: Vec<u8>,
    spans: Vec<(usize, usize)>,
    lens: Vec<usize>,
}

impl Flat {
    fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
        self.lens.clear();
    }

    fn push_str(&mut self, s: &str) {
        let start = self.buf.len();
        self.buf.extend_from_slice(s.as_bytes());
        self.spans.push((start, self.buf.len()));
    }

    /// Appends a sentence, token by token: each token's UTF-8 text is
    /// borrowed from the string object (CPython keeps it there for ASCII
    /// text and caches it for the rest) and copied once, into the buffer.
    fn push_sentence(&mut self, sentence: &Bound<'_, PyAny>) -> PyResult<()> {
        let before = self.spans.len();
        let it = sentence.try_iter().map_err(|_| not_a_sentence(sentence))?;
        for tok in it {
            let tok = tok?;
            let s = tok.cast::<PyString>().map_err(|_| not_a_token(&tok))?;
            let text = s.to_str().map_err(|e| {
                PyValueError::new_err(format!("token cannot be encoded as UTF-8: {e}"))
            })?;
            self.push_str(text);
        }
        self.lens.push(self.spans.len() - before);
        Ok(())
    }

    fn batch(&self) -> TokenBatch<'_> {
        TokenBatch {
            tokens: self.spans.iter().map(|&(s, e)| &self.buf[s..e]).collect(),
            lens: self.lens.clone(),
        }
    }
}

fn settings(delimiter: &str, connector_words: Vec<String>, max_vocab_size: i64) -> PhraseSettings {
    PhraseSettings::new(delimiter, connector_words, max_vocab_size)
}

fn utf8(b: &[u8]) -> &str {
    // Every key is built from UTF-8 tokens and a UTF-8 delimiter.
    std::str::from_utf8(b).unwrap_or("\u{fffd}")
}

/// Analyses one Python sentence with `scorer`; returns the output tokens and
/// their scores (`None` for tokens outside a phrase). Tokens outside a
/// phrase are the caller's own `str` objects.
fn analyze_py<'py>(
    sentence: &Bound<'py, PyAny>,
    settings: &PhraseSettings,
    scorer: &impl CandidateScorer,
    with_scores: bool,
) -> PyResult<Bound<'py, PyList>> {
    let py = sentence.py();
    let items: Bound<'py, PyList> = match sentence.cast::<PyList>() {
        Ok(l) => l.clone(),
        Err(_) => {
            let it = sentence.try_iter().map_err(|_| not_a_sentence(sentence))?;
            let v: Vec<Bound<'py, PyAny>> = it.collect::<PyResult<_>>()?;
            PyList::new(py, v)?
        }
    };
    let mut flat = Flat::default();
    flat.push_sentence(items.as_any())?;
    let tokens: Vec<&[u8]> = flat.spans.iter().map(|&(s, e)| &flat.buf[s..e]).collect();
    let mut joined = Vec::new();
    let pieces = analyze_sentence(settings, scorer, &tokens, &mut joined);
    let out = PyList::empty(py);
    for p in pieces {
        let (tok, score): (Bound<'py, PyAny>, Option<f64>) = match p {
            Piece::Token(i) => (items.get_item(i)?, None),
            Piece::Phrase { first, last, score } => {
                settings.join_into(&tokens[first..=last], &mut joined);
                (PyString::new(py, utf8(&joined)).into_any(), Some(score))
            }
        };
        if with_scores {
            out.append((tok, score))?;
        } else {
            out.append(tok)?;
        }
    }
    Ok(out)
}

fn counter_gone() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("the phrase counting thread stopped unexpectedly")
}

fn parse_scoring(name: &str) -> PyResult<Scoring> {
    Scoring::parse(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown scoring method string {name} specified (use 'default', 'npmi' or a function)"
        ))
    })
}

/// gensim's `Phrases.vocab` with its pruning state (see
/// [`crate::phrases::PhraseCounts`]), and the delimiter and connector words
/// that decide what is counted.
#[pyclass(module = "embedrs._embedrs")]
pub(crate) struct PhraseTable {
    counts: PhraseCounts,
    settings: PhraseSettings,
    pool: rayon::ThreadPool,
}

impl PhraseTable {
    fn scorer(
        &self,
        scoring: &str,
        min_count: f64,
        threshold: f64,
        corpus_word_count: u64,
    ) -> PyResult<TableScorer<'_>> {
        Ok(TableScorer {
            counts: &self.counts,
            scoring: parse_scoring(scoring)?,
            min_count,
            threshold,
            corpus_word_count,
            len_vocab: self.counts.len() as u64,
        })
    }
}

#[pymethods]
impl PhraseTable {
    #[new]
    #[pyo3(signature = (delimiter, connector_words, max_vocab_size, workers=0))]
    fn new(
        delimiter: &str,
        connector_words: Vec<String>,
        max_vocab_size: i64,
        workers: usize,
    ) -> PyResult<Self> {
        guard(|| {
            Ok(PhraseTable {
                counts: PhraseCounts::new(),
                settings: settings(delimiter, connector_words, max_vocab_size),
                pool: crate::thread_pool(workers).py()?,
            })
        })
    }

    /// Replaces the delimiter, connector words and `max_vocab_size` (the
    /// counts are kept).
    fn set_settings(&mut self, delimiter: &str, connector_words: Vec<String>, max_vocab_size: i64) {
        self.settings = settings(delimiter, connector_words, max_vocab_size);
        self.counts.use_settings(&self.settings);
    }

    /// Counts `sentences` (an iterable of token iterables), `batch_words`
    /// tokens at a time. A second thread counts each batch with the GIL
    /// released while this one reads the next from Python, so reading and
    /// counting overlap. After each counted batch calls
    /// `progress(sentences, total_words, len)` if given (from this thread,
    /// at most one batch behind).
    #[pyo3(signature = (sentences, batch_words=1 << 20, progress=None))]
    fn count_sentences(
        &mut self,
        py: Python<'_>,
        sentences: &Bound<'_, PyAny>,
        batch_words: usize,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        guard(|| {
            let mut it = sentences.try_iter().map_err(|_| {
                PyTypeError::new_err(format!(
                    "sentences must be an iterable of lists of str tokens, got {}",
                    type_name(sentences)
                ))
            })?;
            let (counts, settings, pool) = (&mut self.counts, &self.settings, &self.pool);
            std::thread::scope(|scope| {
                let (to_counter, batches) = std::sync::mpsc::sync_channel::<Flat>(1);
                let (to_reader, counted) = std::sync::mpsc::channel::<(Flat, [u64; 3])>();
                // (a Mutex makes the receiver usable with the GIL released)
                let counted = std::sync::Mutex::new(counted);
                let recv = || {
                    counted
                        .lock()
                        .map_err(|_| ())
                        .and_then(|r| r.recv().map_err(|_| ()))
                };
                let counter = scope.spawn(move || {
                    for flat in batches {
                        counts.count_batch(settings, &flat.batch(), pool);
                        let stats = [
                            counts.sentences(),
                            counts.total_words(),
                            counts.len() as u64,
                        ];
                        if to_reader.send((flat, stats)).is_err() {
                            return;
                        }
                    }
                });
                // Two buffers: one read into, one counted.
                let mut spare = vec![Flat::default(), Flat::default()];
                let mut in_flight = 0usize;
                let report = |stats: [u64; 3]| -> PyResult<()> {
                    match progress {
                        Some(cb) => cb.call1((stats[0], stats[1], stats[2])).map(|_| ()),
                        None => Ok(()),
                    }
                };
                let read = (|| -> PyResult<()> {
                    loop {
                        let mut flat = match spare.pop() {
                            Some(f) => f,
                            None => {
                                let (f, stats) = py.detach(recv).map_err(|_| counter_gone())?;
                                in_flight -= 1;
                                report(stats)?;
                                f
                            }
                        };
                        flat.clear();
                        let mut done = true;
                        for s in it.by_ref() {
                            flat.push_sentence(&s?)?;
                            if flat.spans.len() >= batch_words.max(1) {
                                done = false;
                                break;
                            }
                        }
                        if !flat.lens.is_empty() {
                            py.detach(|| to_counter.send(flat))
                                .map_err(|_| counter_gone())?;
                            in_flight += 1;
                        }
                        py.check_signals()?;
                        if done {
                            return Ok(());
                        }
                    }
                })();
                // Let the counter finish what it was given (an error above
                // keeps the batches read before it, as counting in turn did).
                drop(to_counter);
                let mut result = read;
                while in_flight > 0 {
                    match py.detach(recv) {
                        Ok((_, stats)) => {
                            in_flight -= 1;
                            if result.is_ok() {
                                result = report(stats);
                            }
                        }
                        Err(_) => break,
                    }
                }
                drop(counted);
                if let Err(payload) = py.detach(|| counter.join()) {
                    std::panic::resume_unwind(payload);
                }
                result
            })
        })
    }

    /// Counts a corpus file (one sentence per line, `.gz` allowed, lines cut
    /// every `max_sentence_length` tokens) with the GIL released.
    #[pyo3(signature = (path, max_sentence_length=10000))]
    fn count_file(
        &mut self,
        py: Python<'_>,
        path: PathBuf,
        max_sentence_length: usize,
    ) -> PyResult<()> {
        guard(|| {
            let (counts, settings, pool) = (&mut self.counts, &self.settings, &self.pool);
            super::run_cancellable(py, move |p: &Progress| {
                counts.count_file(settings, &path, max_sentence_length, pool, p)
            })
        })
    }

    /// Adds the counts of `other` (which is left empty), gensim's merge in
    /// `add_vocab`.
    fn merge(&mut self, py: Python<'_>, other: &mut PhraseTable) -> PyResult<()> {
        guard(|| {
            let theirs = std::mem::take(&mut other.counts);
            let (counts, settings) = (&mut self.counts, &self.settings);
            py.detach(move || counts.merge(theirs, settings));
            Ok(())
        })
    }

    /// Replaces the counts with `items` (`(key, count)` pairs, in order).
    fn load_items(&mut self, items: Vec<(String, u64)>, min_reduce: u64) {
        self.counts = PhraseCounts::from_items(items, min_reduce);
    }

    /// The count of `key`, 0 when absent.
    fn get(&self, key: &str) -> u64 {
        self.counts.get(key.as_bytes())
    }

    fn __len__(&self) -> usize {
        self.counts.len()
    }

    /// Keys in gensim's dict order.
    fn keys(&self) -> Vec<String> {
        self.counts
            .items()
            .into_iter()
            .map(|(k, _)| utf8(&k).to_owned())
            .collect()
    }

    /// `(key, count)` pairs in gensim's dict order.
    fn items(&self) -> Vec<(String, u64)> {
        self.counts
            .items()
            .into_iter()
            .map(|(k, c)| (utf8(&k).to_owned(), c))
            .collect()
    }

    #[getter]
    fn min_reduce(&self) -> u64 {
        self.counts.min_reduce()
    }

    #[getter]
    fn total_words(&self) -> u64 {
        self.counts.total_words()
    }

    #[getter]
    fn sentences(&self) -> u64 {
        self.counts.sentences()
    }

    /// gensim's `analyze_sentence` with a built-in scorer: a list of
    /// `(token, score or None)` (`with_scores`) or of tokens.
    #[pyo3(signature = (sentence, scoring, min_count, threshold, corpus_word_count, with_scores=false))]
    fn analyze<'py>(
        &self,
        sentence: &Bound<'py, PyAny>,
        scoring: &str,
        min_count: f64,
        threshold: f64,
        corpus_word_count: u64,
        with_scores: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let scorer = self.scorer(scoring, min_count, threshold, corpus_word_count)?;
            analyze_py(sentence, &self.settings, &scorer, with_scores)
        })
    }

    /// gensim's `export_phrases` with a built-in scorer: `(phrase, score)`.
    fn export(
        &self,
        py: Python<'_>,
        scoring: &str,
        min_count: f64,
        threshold: f64,
        corpus_word_count: u64,
    ) -> PyResult<Vec<(String, f64)>> {
        guard(|| {
            if self.settings.delimiter.is_empty() {
                return Err(PyValueError::new_err(
                    "empty separator: export_phrases needs a non-empty delimiter",
                ));
            }
            let scorer = self.scorer(scoring, min_count, threshold, corpus_word_count)?;
            let (settings, pool) = (&self.settings, &self.pool);
            let out = py.detach(|| {
                export_phrases(settings, &scorer, pool)
                    .into_iter()
                    .map(|(k, s)| (utf8(&k).to_string(), s))
                    .collect()
            });
            Ok(out)
        })
    }
}

/// The phrase table of `FrozenPhrases`: phrase text to score.
#[pyclass(module = "embedrs._embedrs")]
pub(crate) struct FrozenPhraseTable {
    scorer: FrozenScorer,
    settings: PhraseSettings,
}

#[pymethods]
impl FrozenPhraseTable {
    #[new]
    fn new(
        phrasegrams: Vec<(String, f64)>,
        threshold: f64,
        delimiter: &str,
        connector_words: Vec<String>,
    ) -> Self {
        FrozenPhraseTable {
            scorer: FrozenScorer {
                phrasegrams: phrasegrams
                    .into_iter()
                    .map(|(k, s)| (k.into_bytes().into_boxed_slice(), s))
                    .collect(),
                threshold,
            },
            settings: settings(delimiter, connector_words, i64::MAX),
        }
    }

    /// gensim's `analyze_sentence` for a frozen model (see
    /// [`PhraseTable::analyze`]).
    #[pyo3(signature = (sentence, with_scores=false))]
    fn analyze<'py>(
        &self,
        sentence: &Bound<'py, PyAny>,
        with_scores: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(|| analyze_py(sentence, &self.settings, &self.scorer, with_scores))
    }
}
