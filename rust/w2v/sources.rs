//! The job sources of the word2vec-family trainers: a channel fed by the
//! caller (the Python iterable path) and the byte ranges of a corpus file,
//! each for sentences (word2vec) or tagged documents (Doc2Vec). Ids and
//! tags are checked before a worker trains on them; the first bad job
//! stops its worker and its error is returned by the epoch.

use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

use super::engine::{check_ids, Channel, JobSource};
use crate::corpus::{ByteLookup, CorpusText, Job, SentenceReader};
use crate::progress::Progress;
use crate::Error;

/// Keeps the first error a source meets.
#[derive(Default)]
struct FirstError(Mutex<Option<Error>>);

impl FirstError {
    fn set(&self, e: Error) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    }

    fn take(self) -> Option<Error> {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// Jobs from a channel, checked against the vocabulary (and, for tagged
/// documents, against the number of document vectors).
pub(crate) struct CheckedChannel {
    inner: Channel<Job>,
    vocab: usize,
    docs: Option<usize>,
    error: FirstError,
}

impl CheckedChannel {
    /// A source of sentences (`docs: None`) or tagged documents.
    pub(crate) fn new(jobs: Receiver<Job>, vocab: usize, docs: Option<usize>) -> Self {
        CheckedChannel {
            inner: Channel::new(jobs),
            vocab,
            docs,
            error: FirstError::default(),
        }
    }

    /// The first bad job's error, if any.
    pub(crate) fn into_error(self) -> Option<Error> {
        self.error.take()
    }
}

impl JobSource<Job> for CheckedChannel {
    type Cursor<'s> = u64;

    fn cursor(&self, i: usize, n: usize) -> u64 {
        self.inner.cursor(i, n)
    }

    fn job_index(&self, cursor: &u64) -> Option<u64> {
        self.inner.job_index(cursor)
    }

    fn next(&self, cursor: &mut u64, job: &mut Job) -> bool {
        if !self.inner.next(cursor, job) {
            return false;
        }
        let mut checked = check_ids(job.ids.iter().copied(), self.vocab);
        if let (Ok(()), Some(docs)) = (&checked, self.docs) {
            checked = check_ids(job.tags.iter().copied(), docs).map_err(|_| {
                Error::invalid(format!(
                    "a document tag is not a row of the {docs} document vectors"
                ))
            });
        }
        match checked {
            Ok(()) => true,
            Err(e) => {
                self.error.set(e);
                false
            }
        }
    }
}

/// One byte range of a corpus file per worker: sentences, or documents
/// (one per line, tagged with the line number).
pub(crate) struct FileRanges<'t> {
    text: &'t CorpusText,
    ranges: Vec<Range<usize>>,
    /// For documents: the line each range starts on, and the number of
    /// document vectors (tags must be below it).
    documents: Option<(Vec<u64>, usize)>,
    lookup: &'t ByteLookup,
    batch_words: usize,
    max_sentence_length: usize,
    error: FirstError,
}

impl<'t> FileRanges<'t> {
    /// `text` cut into `workers` ranges of sentences.
    pub(crate) fn sentences(
        text: &'t CorpusText,
        workers: usize,
        lookup: &'t ByteLookup,
        batch_words: usize,
        max_sentence_length: usize,
    ) -> Self {
        FileRanges {
            text,
            ranges: text.ranges(workers),
            documents: None,
            lookup,
            batch_words: batch_words.max(1),
            max_sentence_length: max_sentence_length.max(1),
            error: FirstError::default(),
        }
    }

    /// `text` cut into `workers` ranges of documents, one per line, for
    /// `docs` document vectors.
    pub(crate) fn documents(
        text: &'t CorpusText,
        workers: usize,
        lookup: &'t ByteLookup,
        batch_words: usize,
        max_sentence_length: usize,
        docs: usize,
    ) -> Self {
        let mut source = Self::sentences(text, workers, lookup, batch_words, max_sentence_length);
        source.documents = Some((text.line_starts(&source.ranges), docs));
        source
    }

    /// The first error met (a line past the document vectors), if any.
    pub(crate) fn into_error(self) -> Option<Error> {
        self.error.take()
    }
}

impl JobSource<Job> for FileRanges<'_> {
    type Cursor<'s>
        = Option<SentenceReader<'s>>
    where
        Self: 's;

    fn workers(&self, _threads: usize) -> usize {
        self.ranges.len()
    }

    // gensim's corpus_file schedule (see the trait): each worker's rate
    // follows its own range's words
    fn progress_share(&self) -> u64 {
        self.ranges.len().max(1) as u64
    }

    fn cursor(&self, i: usize, _: usize) -> Self::Cursor<'_> {
        let reader = SentenceReader::new(
            self.text.bytes(),
            self.ranges.get(i)?.clone(),
            self.max_sentence_length,
        );
        Some(match &self.documents {
            Some((first_lines, _)) => reader.from_line(first_lines[i]),
            None => reader,
        })
    }

    fn next<'s>(&'s self, cursor: &mut Self::Cursor<'s>, job: &mut Job) -> bool {
        let Some(reader) = cursor else { return false };
        let Some((_, docs)) = &self.documents else {
            return reader.fill_job(job, self.batch_words, self.lookup);
        };
        if !reader.fill_documents(job, self.batch_words, self.lookup) {
            return false;
        }
        if let Some(&tag) = job.tags.iter().find(|&&t| t as usize >= *docs) {
            self.error.set(Error::invalid(format!(
                "{}: line {tag} is past the {docs} document vectors; build the vocabulary on \
                 this corpus file first",
                self.text.path().display()
            )));
            return false;
        }
        true
    }
}

/// The file path with the iterable path's semantics: one reader thread
/// reads `text` in order (`max_len`: the reader's sentence cut), filling
/// each job with `fill`, and `train` consumes the jobs from the channel as
/// the Python feed's would be consumed. The reader stops at the end of the
/// text, when `train` returns (its receiver is dropped) or on a stop
/// request. Returns `train`'s result and the number of sentences read.
pub(crate) fn read_in_order<R>(
    text: &CorpusText,
    max_len: usize,
    queue: usize,
    progress: &Progress,
    fill: impl Fn(&mut SentenceReader<'_>, &mut Job) -> bool + Send,
    train: impl FnOnce(Receiver<Job>) -> crate::Result<R>,
) -> crate::Result<(R, u64)> {
    let (tx, rx) = sync_channel::<Job>(queue.max(1));
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let bytes = text.bytes();
            let mut r = SentenceReader::new(bytes, 0..bytes.len(), max_len);
            loop {
                let mut job = Job::default();
                if progress.should_stop() || !fill(&mut r, &mut job) || tx.send(job).is_err() {
                    break;
                }
            }
            r.sentences_read()
        });
        let out = train(rx);
        let read = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        out.map(|o| (o, read))
    })
}
