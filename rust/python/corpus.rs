//! Corpus input for the trainers: a corpus file opened once for Rust
//! workers, and the feed that turns a Python iterable of sentences (or of
//! tagged documents) into id batches for the workers.

use std::sync::Arc;
use std::time::Instant;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::{report, IntoPyResult};
use crate::corpus::{count_words, CorpusText, Job, MAX_SENTENCE_LEN};
use crate::progress::Progress;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
