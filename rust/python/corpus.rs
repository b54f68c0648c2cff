//! Corpus input for the trainers: a corpus file opened once for Rust
//! workers, and the feed that turns a Python iterable of sentences (or of
//! tagged documents) into id batches for the workers.

use std::sync::Arc;
use std::time::Instant;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::{report, IntoPyResult};
use crate::corpus::{count_words, ByteLookup, CorpusText, Job, Pending, MAX_SENTENCE_LEN};
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

    /// Whether Python's `str.split()` on each line gives exactly the tokens
    /// the Rust reader gives (valid UTF-8, no whitespace only Python knows),
    /// so that a `LineSentence` over this file may be read in Rust.
    fn splits_like_python(&self, py: Python<'_>) -> bool {
        let text = self.text.clone();
        py.detach(move || text.splits_like_python())
    }

    /// Whether `Text8Corpus` over this file yields exactly the sentences the
    /// Rust reader gives (valid UTF-8, no newline before the last token).
    fn is_one_line(&self, py: Python<'_>) -> bool {
        let text = self.text.clone();
        py.detach(move || text.is_one_line())
    }

    /// Number of lines, a last one without a newline included (the
    /// documents `TaggedLineDocument` yields).
    fn count_lines(&self, py: Python<'_>) -> u64 {
        let text = self.text.clone();
        py.detach(move || crate::corpus::SentenceReader::count_lines(text.bytes()))
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
        // The token table replaces the dict look-up once the feed has read
        // as many tokens as the vocabulary has words, so that building it
        // never costs more than the look-ups it speeds up.
        let mut table: Option<FeedTable> = None;
        let mut table_tried = false;
        let mut looked_up = 0usize;
        let mut resolved: Vec<u32> = Vec::new();
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
            let mut push = |id: Option<u32>, job: &mut Job| {
                job.raw_words += 1;
                if let Some(id) = id {
                    job.ids.push(id);
                    in_sentence += 1;
                    if in_sentence == MAX_SENTENCE_LEN {
                        end(job);
                        in_sentence = 0;
                    }
                }
            };
            if let Ok(list) = item.cast::<PyList>() {
                if !table_tried && looked_up >= self.key_to_index.len() {
                    table_tried = true;
                    table = FeedTable::build(self.key_to_index, self.vocab)?;
                }
                match &table {
                    Some(t) => {
                        t.resolve(self, list, &mut resolved)?;
                        for &id in &resolved {
                            push((id != OOV).then_some(id), &mut job);
                        }
                    }
                    None => {
                        for tok in list.iter() {
                            push(self.id(&tok)?, &mut job);
                        }
                    }
                }
                looked_up += list.len();
            } else if item.is_instance_of::<PyString>() {
                // gensim iterates the characters of a plain string (and warns
                // at build_vocab time); do the same rather than fail mid-training.
                for tok in item.try_iter()? {
                    push(self.id(&tok?)?, &mut job);
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
                    push(self.id(&tok?)?, &mut job);
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

/// Marks an out-of-vocabulary token in [`FeedTable::resolve`]'s output.
const OOV: u32 = u32::MAX;

/// Tokens resolved per pass of [`FeedTable::resolve`]: large enough that
/// the slot prefetches of one pass overlap, small enough that the slots
/// are still in L1 when the second pass reads them.
const CHUNK: usize = 64;

/// `key_to_index` as the byte table the corpus-file readers use
/// ([`ByteLookup`]), for the feed.
///
/// The dict's own look-up of a token hashes it (SipHash, once per string
/// object), walks CPython's index table and compares the token with the key
/// object through `PyObject_RichCompare`: on a corpus of ordinary token
/// lists that was about 40% of the feed, which runs on the one thread that
/// holds the GIL. Here each token's UTF-8 bytes (CPython keeps them in the
/// string object for ASCII text, and caches them for the rest) are looked
/// up in a table that holds each key's bytes inline, by the same code as
/// the file readers. The answer is the dict's: the table holds exactly its
/// `str` keys and their ids, keys and tokens that are not exactly `str` go
/// to the dict, and so do tokens that cannot be encoded (lone surrogates).
struct FeedTable {
    lookup: ByteLookup,
}

impl FeedTable {
    /// The table of `key_to_index`, or `None` when the dict holds something
    /// only the dict can answer for: a key that is not exactly a `str` (or
    /// not encodable as UTF-8), or a value that is not a row (the per-token
    /// path reports it if a sentence ever uses that key).
    fn build(key_to_index: &Bound<'_, PyDict>, vocab: u32) -> PyResult<Option<Self>> {
        let n = key_to_index.len();
        if n == 0 || n >= OOV as usize {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(n);
        for (k, v) in key_to_index.iter() {
            let Ok(k) = k.cast_exact::<PyString>().cloned() else {
                return Ok(None);
            };
            let Some(id) = v.extract::<u32>().ok().filter(|&id| id < vocab) else {
                return Ok(None);
            };
            keys.push((k, id));
        }
        let mut pairs = Vec::with_capacity(n);
        for (k, id) in &keys {
            let Ok(text) = k.to_str() else {
                return Ok(None);
            };
            pairs.push((text.as_bytes(), *id));
        }
        Ok(Some(FeedTable {
            lookup: ByteLookup::from_pairs(&pairs),
        }))
    }

    /// The id of each token of `list` into `out` (`OOV` for tokens not in
    /// the vocabulary), as `feed.id` would give them.
    fn resolve(
        &self,
        feed: &Feed<'_, '_>,
        list: &Bound<'_, PyList>,
        out: &mut Vec<u32>,
    ) -> PyResult<()> {
        out.clear();
        let n = list.len();
        let mut pending = [Pending::default(); CHUNK];
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            // Pass 1: each token packed and hashed, its slot prefetched
            // (or, for a token only the dict can answer for, its answer).
            for (i, p) in pending.iter_mut().enumerate().take(len) {
                let tok = list.get_item(start + i)?;
                let text = tok
                    .cast_exact::<PyString>()
                    .ok()
                    .and_then(|s| s.to_str().ok());
                *p = match text {
                    Some(text) => self.lookup.start(text.as_bytes()),
                    None => Pending::Known(feed.id(&tok)?),
                };
            }
            // Pass 2: the ids, from slots now in cache.
            out.extend(
                pending[..len]
                    .iter()
                    .map(|p| self.lookup.finish(p).unwrap_or(OOV)),
            );
            start += len;
        }
        Ok(())
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
