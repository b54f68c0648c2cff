//! Text corpora in gensim's `LineSentence` format (one sentence per line,
//! tokens separated by whitespace), read, split across workers by byte
//! offset and tokenised entirely in Rust.
//!
//! A file is memory-mapped (plain text) or decompressed into memory
//! (`.gz`, `.bz2` is left to the Python readers). [`CorpusText::ranges`]
//! cuts it into `n` byte ranges at whitespace; a token belongs to the range
//! its first byte lies in, so every token is read by exactly one worker.
//! Lines longer than `max_sentence_length` tokens are split into pieces of
//! that length, as gensim's readers do.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::vocab::WordCounter;
use crate::{Error, Result};

mod lookup;
pub use lookup::{ByteLookup, Pending};

/// A batch of sentences as word ids (out-of-vocabulary words already
/// removed): the unit of work the training engine hands to one worker.
#[derive(Clone, Debug, Default)]
pub struct Job {
    /// Word ids of all sentences, concatenated.
    pub ids: Vec<u32>,
    /// End offset in `ids` of each sentence.
    pub ends: Vec<usize>,
    /// Raw words the batch stands for, out-of-vocabulary ones included
    /// (drives the learning-rate schedule and progress).
    pub raw_words: u64,
    /// Tagged documents (Doc2Vec) only: the tags (rows of the document
    /// vectors) of all documents, concatenated...
    pub tags: Vec<u32>,
    /// ... and the end offset in `tags` of each document's tags.
    pub tag_ends: Vec<usize>,
}

impl Job {
    /// Empties the job, keeping its buffers.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.ends.clear();
        self.raw_words = 0;
        self.tags.clear();
        self.tag_ends.clear();
    }

    /// Closes the current document with its `tags` (no-op for a document
    /// without words, which trains nothing).
    pub fn end_document(&mut self, tags: &[u32]) {
        let start = self.ends.last().copied().unwrap_or(0);
        if self.ids.len() > start {
            self.ends.push(self.ids.len());
            self.tags.extend_from_slice(tags);
            self.tag_ends.push(self.tags.len());
        }
    }

    /// The documents, as (word ids, tags). Empty unless the job was filled
    /// with [`Job::end_document`].
    pub fn documents(&self) -> impl Iterator<Item = (&[u32], &[u32])> + '_ {
        let (mut start, mut tag_start) = (0, 0);
        self.ends
            .iter()
            .zip(&self.tag_ends)
            .map(move |(&end, &tag_end)| {
                let doc = (&self.ids[start..end], &self.tags[tag_start..tag_end]);
                start = end;
                tag_start = tag_end;
                doc
            })
    }

    /// Closes the current sentence (no-op for an empty one).
    pub fn end_sentence(&mut self) {
        let start = self.ends.last().copied().unwrap_or(0);
        if self.ids.len() > start {
            self.ends.push(self.ids.len());
        }
    }

    /// Number of word ids held.
    pub fn words(&self) -> usize {
        self.ids.len()
    }

    /// The sentences, as slices of ids.
    pub fn sentences(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let s = &self.ids[start..end];
            start = end;
            s
        })
    }
}

/// Why [`read_all`] stopped.
enum ReadAll {
    Io(std::io::Error),
    Memory(Error),
}

/// Everything `reader` yields. Unlike `read_to_end`, which aborts the
/// process when the buffer cannot grow, running out of memory here is an
/// `OutOfMemory` error naming `what` (a `MemoryError` in Python).
fn read_all(
    mut reader: impl Read,
    what: impl Fn() -> String,
) -> std::result::Result<Vec<u8>, ReadAll> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadAll::Io(e)),
        };
        crate::mem::reserve(&mut out, n, &what).map_err(ReadAll::Memory)?;
        out.extend_from_slice(&buf[..n]);
    }
}

/// Sentences longer than this are split (gensim's `MAX_WORDS_IN_BATCH`).
pub const MAX_SENTENCE_LEN: usize = 10_000;

enum Storage {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// The bytes of a corpus file.
pub struct CorpusText {
    storage: Storage,
    path: PathBuf,
}

impl CorpusText {
    /// Opens `path`: memory-maps a plain file, decompresses a `.gz` one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            return Err(Error::invalid(format!(
                "{}: is a directory; corpus_file must be a text file with one sentence per line",
                path.display()
            )));
        }
        let is_gz = path.extension().is_some_and(|e| e == "gz");
        let storage = if is_gz {
            let what = || {
                format!(
                    "{}: decompressing this gzip file into memory (decompress it on disk \
                     first: a plain corpus_file is read in place, not copied into memory)",
                    path.display()
                )
            };
            let out =
                read_all(flate2::read::MultiGzDecoder::new(file), what).map_err(|e| match e {
                    ReadAll::Io(e) => {
                        Error::format(&path, format!("cannot decompress gzip data: {e}"))
                    }
                    ReadAll::Memory(e) => e,
                })?;
            Storage::Owned(out)
        } else if meta.len() == 0 {
            Storage::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only; if another process truncates the
            // file while we read it the OS may raise SIGBUS, the same caveat
            // as every memory-mapped reader (gensim's included).
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
            Storage::Mapped(map)
        };
        Ok(CorpusText { storage, path })
    }

    /// Wraps bytes already in memory (tests, small corpora).
    pub fn from_bytes(data: Vec<u8>) -> Self {
        CorpusText {
            storage: Storage::Owned(data),
            path: PathBuf::from("<memory>"),
        }
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
        }
    }

    /// Whether Python's `line.split()` on each decoded line gives exactly the
    /// tokens this module reads: the text is valid UTF-8 and holds none of
    /// the characters that `str.split()` treats as whitespace and this
    /// reader does not (`\x1c`-`\x1f`, U+0085, U+00A0, U+1680, U+2000-U+200A,
    /// U+2028, U+2029, U+202F, U+205F, U+3000; U+180E too, whitespace for
    /// older Pythons). When it holds, training on `LineSentence(path)` may
    /// read the file here instead of through Python.
    pub fn splits_like_python(&self) -> bool {
        let bytes = self.bytes();
        if std::str::from_utf8(bytes).is_err() {
            return false;
        }
        // Valid UTF-8, so a lead byte is followed by its continuation bytes.
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let tail = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
            let other_space = match b {
                0x1c..=0x1f => true,
                0xc2 => matches!(tail(1), 0x85 | 0xa0),
                0xe1 => (tail(1), tail(2)) == (0x9a, 0x80) || (tail(1), tail(2)) == (0xa0, 0x8e),
                0xe2 => match (tail(1), tail(2)) {
                    (0x80, c) => matches!(c, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf),
                    (0x81, c) => c == 0x9f,
                    _ => false,
                },
                0xe3 => (tail(1), tail(2)) == (0x80, 0x80),
                _ => false,
            };
            if other_space {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Whether the text reads as `Text8Corpus` reads it: valid UTF-8 with no
    /// newline before its last token, so that this module's sentences (cut
    /// at `max_len` tokens, and at newlines) are `Text8Corpus`'s (every
    /// token of the file, split at ASCII whitespace as `bytes.split()`
    /// splits, cut at `max_len` tokens).
    pub fn is_one_line(&self) -> bool {
        let bytes = self.bytes();
        let last_token = bytes.iter().rposition(|&b| !is_space(b)).unwrap_or(0);
        !bytes[..last_token].contains(&b'\n') && std::str::from_utf8(bytes).is_ok()
    }

    /// The path it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// For each of `ranges` (in order, as [`CorpusText::ranges`] makes them),
    /// the number of newlines before its start: the line number its first
    /// token lies on.
    pub fn line_starts(&self, ranges: &[Range<usize>]) -> Vec<u64> {
        let bytes = self.bytes();
        let mut out = Vec::with_capacity(ranges.len());
        let (mut pos, mut lines) = (0usize, 0u64);
        for r in ranges {
            let start = r.start.min(bytes.len()).max(pos);
            lines += bytes[pos..start].iter().filter(|&&b| b == b'\n').count() as u64;
            pos = start;
            out.push(lines);
        }
        out
    }

    /// Splits the text into `n` byte ranges that start at token boundaries.
    pub fn ranges(&self, n: usize) -> Vec<Range<usize>> {
        let bytes = self.bytes();
        let len = bytes.len();
        let n = n.max(1);
        let mut cuts = vec![0usize];
        for i in 1..n {
            let mut p = (len * i / n).max(*cuts.last().unwrap());
            // Move to the start of the next token.
            while p < len && !is_space(bytes[p]) {
                p += 1;
            }
            cuts.push(p);
        }
        cuts.push(len);
        cuts.windows(2).map(|w| w[0]..w[1]).collect()
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The end of the token that starts at `at`: the position of the first
/// space (see [`is_space`]) at or after `at`, or `bytes.len()`.
///
/// Tokens are short and of every length, so a byte-at-a-time loop pays a
/// mispredicted branch at nearly every token's end; on x86-64 sixteen bytes
/// are classified at once (SSE2, which every x86-64 CPU has) and the first
/// space is found from the bit mask.
#[inline(always)]
fn token_end(bytes: &[u8], mut at: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        while at + 16 <= bytes.len() {
            // SAFETY: the 16 bytes from `at` lie within `bytes` (checked just
            // above); SSE2 is part of the x86-64 baseline.
            let mask = unsafe {
                let v = _mm_loadu_si128(bytes.as_ptr().add(at) as *const __m128i);
                let blank = _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8));
                // b'\t'..=0x0c: b - 9 below 5, as unsigned bytes
                let t = _mm_sub_epi8(v, _mm_set1_epi8(9));
                let control = _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(4)), t);
                _mm_movemask_epi8(_mm_or_si128(blank, control)) as u32
            };
            if mask != 0 {
                return at + mask.trailing_zeros() as usize;
            }
            at += 16;
        }
    }
    while at < bytes.len() && !is_space(bytes[at]) {
        at += 1;
    }
    at
}

/// The tag of a document: its line number (`u32::MAX` past that range).
#[inline(always)]
fn line_tag(line: u64) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

/// Reads tokens from a byte range, sentence by sentence.
pub struct SentenceReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    max_len: usize,
    /// Line (0-based) of `pos`, counted from the line given to
    /// [`SentenceReader::from_line`].
    line: u64,
    /// Line of the sentence last read.
    sentence_line: u64,
    /// Sentences read so far (pieces of long lines counted one by one).
    sentences: u64,
    /// The tokens of the sentence being read (kept for its allocation).
    toks: Vec<&'a [u8]>,
}

impl<'a> SentenceReader<'a> {
    /// A reader of the tokens starting inside `range`.
    pub fn new(bytes: &'a [u8], range: Range<usize>, max_len: usize) -> Self {
        let mut pos = range.start;
        // A range that starts inside a token leaves that token to the previous range.
        if pos > 0 && pos < bytes.len() && !is_space(bytes[pos - 1]) {
            while pos < bytes.len() && !is_space(bytes[pos]) {
                pos += 1;
            }
        }
        SentenceReader {
            bytes,
            pos,
            end: range.end.min(bytes.len()),
            max_len: max_len.max(1),
            line: 0,
            sentence_line: 0,
            sentences: 0,
            toks: Vec::new(),
        }
    }

    /// Sentences read so far, as `LineSentence` would yield them: one per
    /// non-empty line, or per piece of a line longer than `max_len` tokens.
    pub fn sentences_read(&self) -> u64 {
        self.sentences
    }

    /// Numbers lines from `line`: the number of newlines before the
    /// range's start (see [`CorpusText::line_starts`]).
    pub fn from_line(mut self, line: u64) -> Self {
        self.line = line;
        self
    }

    /// The line (0-based) of the sentence last read: a document's tag in
    /// Doc2Vec's `corpus_file` mode. The pieces of a line longer than
    /// `max_len` tokens share it.
    pub fn sentence_line(&self) -> u64 {
        self.sentence_line
    }

    /// Byte offset of the next unread byte.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Calls `f` on each token of the next sentence; returns false at the end
    /// of the range. A sentence ends at a newline or after `max_len` tokens.
    pub fn next_sentence(&mut self, mut f: impl FnMut(&'a [u8], usize)) -> bool {
        let bytes = self.bytes;
        let mut n = 0usize;
        let mut any = false;
        loop {
            // Skip spaces; a newline ends the sentence.
            while self.pos < bytes.len() && is_space(bytes[self.pos]) {
                if bytes[self.pos] == b'\n' {
                    self.line += 1;
                    if n > 0 {
                        self.pos += 1;
                        self.sentences += 1;
                        return true;
                    }
                }
                self.pos += 1;
            }
            if self.pos >= self.end || self.pos >= bytes.len() {
                self.sentences += u64::from(any);
                return any;
            }
            if n == 0 {
                self.sentence_line = self.line;
            }
            let start = self.pos;
            self.pos = token_end(bytes, start);
            f(&bytes[start..self.pos], start);
            any = true;
            n += 1;
            if n >= self.max_len {
                self.sentences += 1;
                return true;
            }
        }
    }

    /// The loop of the `fill_*` methods: clears `job`, then reads
    /// sentences into it (their in-vocabulary ids appended to `job.ids`)
    /// until it holds at least `batch_words` words or the range ends. After
    /// each sentence, `end(job, line, start)` closes it, given its line and
    /// the offset in `job.ids` where its ids start. Returns false when
    /// nothing was read.
    #[inline(always)]
    fn fill_with(
        &mut self,
        job: &mut Job,
        batch_words: usize,
        lookup: &ByteLookup,
        mut end: impl FnMut(&mut Job, u64, usize),
    ) -> bool {
        job.clear();
        let mut raw = 0u64;
        let mut read_any = false;
        let mut toks = std::mem::take(&mut self.toks);
        while job.words() < batch_words {
            toks.clear();
            if !self.next_sentence(|tok, _| toks.push(tok)) {
                break;
            }
            raw += toks.len() as u64;
            let start = job.ids.len();
            lookup.extend_ids(&toks, &mut job.ids);
            read_any = true;
            end(job, self.sentence_line, start);
        }
        self.toks = toks;
        job.raw_words = raw;
        read_any
    }

    /// Fills `job` with sentences until it holds at least `batch_words`
    /// in-vocabulary words or the range ends. Returns false when nothing
    /// was read.
    pub fn fill_job(&mut self, job: &mut Job, batch_words: usize, lookup: &ByteLookup) -> bool {
        self.fill_with(job, batch_words, lookup, |job, _, _| job.end_sentence())
    }

    /// Fills `job` with documents (one per line, tagged with the line
    /// number) until it holds at least `batch_words` in-vocabulary words
    /// or the range ends. Returns false when nothing was read.
    pub fn fill_documents(
        &mut self,
        job: &mut Job,
        batch_words: usize,
        lookup: &ByteLookup,
    ) -> bool {
        self.fill_with(job, batch_words, lookup, |job, line, _| {
            job.end_document(&[line_tag(line)])
        })
    }

    /// Fills `job` as the Python feed fills it from `TaggedLineDocument`:
    /// one document per line, tagged with the line number, a line's
    /// in-vocabulary words cut into documents of at most `max_ids` (the same
    /// tag each), until the job holds at least `batch_words` words or the
    /// range ends. The reader must not cut lines itself (`max_len` of
    /// `usize::MAX`). Returns false when nothing was read.
    pub fn fill_tagged_lines(
        &mut self,
        job: &mut Job,
        batch_words: usize,
        lookup: &ByteLookup,
        max_ids: usize,
    ) -> bool {
        let max_ids = max_ids.max(1);
        self.fill_with(job, batch_words, lookup, |job, line, start| {
            let tag = line_tag(line);
            // a cut after every max_ids in-vocabulary words of the line (one at
            // its very end included: the document then ends empty, as the feed's)
            for end in (start + max_ids..=job.ids.len()).step_by(max_ids) {
                job.ends.push(end);
                job.tags.push(tag);
                job.tag_ends.push(job.tags.len());
            }
            job.end_document(&[tag]);
        })
    }

    /// Lines of the range (a last one without a newline included): the
    /// number of documents `TaggedLineDocument` yields for a whole file.
    pub fn count_lines(bytes: &[u8]) -> u64 {
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        newlines + u64::from(bytes.last().is_some_and(|&b| b != b'\n'))
    }
}

/// Word counts of a corpus file.
#[derive(Debug, Default)]
pub struct CorpusCounts {
    /// Distinct words in first-seen order, with counts.
    pub words: Vec<(String, u64)>,
    /// Number of sentences (lines, long lines counted per piece).
    pub sentences: u64,
    /// Number of tokens.
    pub total_words: u64,
}

/// Counts the words of `text` in parallel over `threads` ranges.
///
/// With `max_vocab_size`, the counts are pruned as gensim prunes them
/// ([`crate::vocab::WordCounter`]); that rule depends on the order of the
/// sentences, so the text is then read in one pass, in order, and the result
/// is gensim's for the same file read by `LineSentence`. Non-UTF-8 tokens are
/// an error naming the byte offset.
pub fn count_words(
    text: &CorpusText,
    threads: usize,
    max_sentence_length: usize,
    max_vocab_size: Option<usize>,
) -> Result<CorpusCounts> {
    if max_vocab_size.is_some_and(|m| m > 0) {
        return count_words_pruned(text, max_sentence_length, max_vocab_size);
    }
    use rayon::prelude::*;
    let bytes = text.bytes();
    let pool = crate::thread_pool(threads)?;
    let ranges = text.ranges(pool.current_num_threads() * 4);
    struct Part<'b> {
        map: FxHashMap<&'b [u8], (u64, usize)>,
        total: u64,
        has_newline: bool,
        head: u64,
        complete: u64,
        tail: u64,
    }
    let max_len = max_sentence_length.max(1) as u64;
    let pieces = |tokens: u64| tokens.div_ceil(max_len);
    let parts: Vec<Part<'_>> = pool.install(|| {
        ranges
            .into_par_iter()
            .map(|r| {
                let mut p = Part {
                    map: FxHashMap::default(),
                    total: 0,
                    has_newline: false,
                    head: 0,
                    complete: 0,
                    tail: 0,
                };
                let mut cur = 0u64;
                let mut pos = r.start;
                // Tokens are owned by the range their first byte lies in.
                if pos > 0 && pos < bytes.len() && !is_space(bytes[pos - 1]) {
                    while pos < bytes.len() && !is_space(bytes[pos]) {
                        pos += 1;
                    }
                }
                while pos < r.end {
                    let b = bytes[pos];
                    if b == b'\n' {
                        if p.has_newline {
                            p.complete += pieces(cur);
                        } else {
                            p.head = cur;
                            p.has_newline = true;
                        }
                        cur = 0;
                        pos += 1;
                    } else if is_space(b) {
                        pos += 1;
                    } else {
                        let start = pos;
                        while pos < bytes.len() && !is_space(bytes[pos]) {
                            pos += 1;
                        }
                        p.map.entry(&bytes[start..pos]).or_insert((0, start)).0 += 1;
                        p.total += 1;
                        cur += 1;
                    }
                }
                p.tail = cur;
                p
            })
            .collect()
    });
    let mut merged: FxHashMap<&[u8], (u64, usize)> = FxHashMap::default();
    let mut counts = CorpusCounts::default();
    let mut carry = 0u64;
    for p in parts {
        counts.total_words += p.total;
        if p.has_newline {
            counts.sentences += pieces(carry + p.head) + p.complete;
            carry = p.tail;
        } else {
            carry += p.tail;
        }
        for (k, (c, off)) in p.map {
            let e = merged.entry(k).or_insert((0, off));
            e.0 += c;
            e.1 = e.1.min(off);
        }
    }
    counts.sentences += pieces(carry);
    let mut items: Vec<(&[u8], (u64, usize))> = merged.into_iter().collect();
    items.sort_unstable_by_key(|(_, (_, off))| *off);
    counts.words.reserve(items.len());
    for (k, (c, off)) in items {
        counts.words.push((utf8_token(text, k, off)?, c));
    }
    Ok(counts)
}

/// [`count_words`] with pruning: one pass in corpus order through the one
/// counting rule, sentence by sentence as `LineSentence` cuts them.
fn count_words_pruned(
    text: &CorpusText,
    max_sentence_length: usize,
    max_vocab_size: Option<usize>,
) -> Result<CorpusCounts> {
    let bytes = text.bytes();
    let mut counter: WordCounter<&[u8]> = WordCounter::new(max_vocab_size);
    let mut reader = SentenceReader::new(bytes, 0..bytes.len(), max_sentence_length);
    while reader.next_sentence(|tok, _| counter.add(tok)) {
        counter.end_sentence();
    }
    let mut counts = CorpusCounts {
        words: Vec::with_capacity(counter.len()),
        sentences: counter.sentences(),
        total_words: counter.total_words(),
    };
    for (k, c) in counter.into_items() {
        // Every key is a slice of `bytes`, at the word's first occurrence
        // since it was (last) inserted.
        let off = k.as_ptr() as usize - bytes.as_ptr() as usize;
        counts.words.push((utf8_token(text, k, off)?, c));
    }
    Ok(counts)
}

/// `token` as a `String`, or an error naming its byte offset.
fn utf8_token(text: &CorpusText, token: &[u8], offset: usize) -> Result<String> {
    match std::str::from_utf8(token) {
        Ok(w) => Ok(w.to_string()),
        Err(e) => Err(Error::format(
            text.path(),
            format!(
                "token at byte offset {offset} is not valid UTF-8 ({e}); re-encode the file as UTF-8"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &[u8], ranges: usize, max_len: usize) -> Vec<Vec<String>> {
        let c = CorpusText::from_bytes(text.to_vec());
        let mut out = Vec::new();
        for r in c.ranges(ranges) {
            let mut rd = SentenceReader::new(c.bytes(), r, max_len);
            loop {
                let mut s = Vec::new();
                let more = rd.next_sentence(|t, _| s.push(String::from_utf8(t.to_vec()).unwrap()));
                if !more {
                    break;
                }
                out.push(s);
            }
        }
        out
    }

    /// A reader that yields `data` in pieces of `step` bytes, interrupted
    /// once, then fails with `fail` (if any) instead of ending.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        step: usize,
        interrupted: bool,
        fail: bool,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            if self.at == self.data.len() && self.fail {
                return Err(std::io::Error::other("corrupt"));
            }
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn read_all_gathers_every_piece_and_reports_read_errors() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for step in [1 << 20, 700_001] {
            let r = Pieces {
                data: data.clone(),
                at: 0,
                step,
                interrupted: false,
                fail: false,
            };
            assert!(read_all(r, String::new).ok() == Some(data.clone()));
        }
        let r = Pieces {
            data: vec![1; 10],
            at: 0,
            step: 4,
            interrupted: false,
            fail: true,
        };
        assert!(matches!(read_all(r, String::new), Err(ReadAll::Io(_))));
    }

    #[test]
    fn token_end_finds_the_first_space() {
        let spaces = [b' ', b'\t', b'\n', b'\r', 0x0b, 0x0c];
        // not spaces: the bytes next to the space ranges, and non-ASCII ones
        let others = [b'a', 0x08, 0x0d + 1, 0x1f, 0x21, 0x00, 0x85, 0xa0, 0xff];
        for len in 0..40 {
            for &other in &others {
                for &space in &spaces {
                    let mut text = vec![other; len];
                    text.push(space);
                    text.extend_from_slice(b"tail after");
                    for at in 0..=len {
                        assert_eq!(token_end(&text, at), len, "len {len} at {at} {other:#x}");
                    }
                }
                // no space: the end of the bytes
                let text = vec![other; len];
                assert_eq!(token_end(&text, 0), len);
            }
        }
    }

    #[test]
    fn lines_are_sentences() {
        let s = sentences(b"a b c\n\n d  e\nf", 1, 100);
        assert_eq!(s, vec![vec!["a", "b", "c"], vec!["d", "e"], vec!["f"]]);
    }

    #[test]
    fn documents_are_tagged_with_their_line() {
        let c = CorpusText::from_bytes(b"a b\n\nc d e\nf\n".to_vec());
        let words: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(String::from).to_vec();
        let lookup = ByteLookup::new(&words);
        for n in [1, 2, 3, 5] {
            let ranges = c.ranges(n);
            let starts = c.line_starts(&ranges);
            let mut docs: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
            for (r, line) in ranges.into_iter().zip(starts) {
                let mut rd = SentenceReader::new(c.bytes(), r, 2).from_line(line);
                let mut job = Job::default();
                while rd.fill_documents(&mut job, 1, &lookup) {
                    for (w, t) in job.documents() {
                        docs.push((w.to_vec(), t.to_vec()));
                    }
                }
            }
            // Line 1 is empty; line 2 is cut in pieces of at most 2 words that keep
            // its tag (where the cut falls depends on the ranges, as for sentences).
            assert!(
                docs.iter().all(|(w, t)| w.len() <= 2 && t.len() == 1),
                "{docs:?}"
            );
            let mut by_tag: Vec<(u32, Vec<u32>)> = Vec::new();
            for (w, t) in docs {
                match by_tag.last_mut() {
                    Some((tag, words)) if *tag == t[0] => words.extend(w),
                    _ => by_tag.push((t[0], w)),
                }
            }
            assert_eq!(
                by_tag,
                vec![(0, vec![0, 1]), (2, vec![2, 3, 4]), (3, vec![5])],
                "ranges={n}"
            );
        }
    }

    #[test]
    fn long_lines_are_split() {
        let s = sentences(b"a b c d e", 1, 2);
        assert_eq!(s.len(), 3);
        assert_eq!(s[2], vec!["e"]);
    }

    #[test]
    fn sentences_are_counted_as_line_sentence_yields_them() {
        // empty lines yield nothing; a 5-token line with max_len 2 yields 3
        let text = b"a b\n\n  \nc d e f g\nh";
        let mut r = SentenceReader::new(text, 0..text.len(), 2);
        let mut n = 0;
        while r.next_sentence(|_, _| {}) {
            n += 1;
        }
        assert_eq!((n, r.sentences_read()), (5, 5));
    }

    #[test]
    fn tagged_lines_are_cut_by_in_vocabulary_words() {
        let words: Vec<String> = ["a", "b"].iter().map(|w| w.to_string()).collect();
        let lookup = ByteLookup::new(&words);
        let text = b"a x b a b\n\nx\nb";
        let mut r = SentenceReader::new(text, 0..text.len(), usize::MAX);
        let mut job = Job::default();
        assert!(r.fill_tagged_lines(&mut job, 100, &lookup, 2));
        let docs: Vec<(Vec<u32>, Vec<u32>)> = job
            .documents()
            .map(|(ids, tags)| (ids.to_vec(), tags.to_vec()))
            .collect();
        // line 0 cut after two known words (the unknown x is skipped), line 1
        // empty, line 2 unknown words only, line 3 one word
        let want = vec![
            (vec![0, 1], vec![0]),
            (vec![0, 1], vec![0]),
            (vec![1], vec![3]),
        ];
        assert_eq!(docs, want);
        assert_eq!(job.raw_words, 7);
        assert_eq!(SentenceReader::count_lines(text), 4);
        assert_eq!(SentenceReader::count_lines(b"a\n"), 1);
        assert_eq!(SentenceReader::count_lines(b""), 0);
    }

    #[test]
    fn python_split_compatibility() {
        let ok = |t: &str| CorpusText::from_bytes(t.as_bytes().to_vec()).splits_like_python();
        assert!(ok("plain ascii\twith\r\nlines\x0b\x0c end"));
        assert!(ok(
            "caf\u{e9} \u{65e5}\u{672c} \u{feff}bom \u{200b}zero-width"
        ));
        for c in [
            '\u{1c}', '\u{1f}', '\u{85}', '\u{a0}', '\u{1680}', '\u{180e}', '\u{2000}', '\u{200a}',
            '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
        ] {
            assert!(!ok(&format!("a{c}b")), "U+{:04X}", c as u32);
        }
        assert!(!CorpusText::from_bytes(b"caf\xe9".to_vec()).splits_like_python());
    }

    #[test]
    fn one_line_texts() {
        let one = |t: &[u8]| CorpusText::from_bytes(t.to_vec()).is_one_line();
        assert!(one(b"a b\tc\r d\xc2\xa0e"));
        assert!(one(b"a b c\n\n  \n"));
        assert!(one(b""));
        assert!(!one(b"a b\nc"));
        assert!(!one(b"a \xff b"));
    }

    #[test]
    fn ranges_cover_every_token_once() {
        let text: String = (0..1000).map(|i| format!("w{} ", i % 37)).collect();
        for n in [1, 2, 3, 7, 16] {
            let all: Vec<String> = sentences(text.as_bytes(), n, 10_000).concat();
            assert_eq!(all.len(), 1000, "n={n}");
            assert_eq!(all[999], "w0");
        }
    }

    #[test]
    fn counting_keeps_first_seen_order() {
        let c = CorpusText::from_bytes(b"b a b\nc a b\n".to_vec());
        let counts = count_words(&c, 2, 10_000, None).unwrap();
        assert_eq!(
            counts.words,
            vec![
                ("b".to_string(), 3),
                ("a".to_string(), 2),
                ("c".to_string(), 1)
            ]
        );
        assert_eq!(counts.sentences, 2);
        assert_eq!(counts.total_words, 6);
        // A long single line is counted in pieces of max_sentence_length.
        let text: String = (0..25).map(|i| format!("t{i} ")).collect();
        let c = CorpusText::from_bytes(format!("{text}\n\nx y\n").into_bytes());
        for threads in [1, 2] {
            let counts = count_words(&c, threads, 10, None).unwrap();
            assert_eq!(counts.sentences, 4, "threads={threads}");
            assert_eq!(counts.total_words, 27);
        }
    }

    #[test]
    fn invalid_utf8_names_offset() {
        let c = CorpusText::from_bytes(b"ok \xff\xfe bad".to_vec());
        let e = count_words(&c, 1, 10_000, None).unwrap_err();
        assert!(e.to_string().contains("byte offset 3"), "{e}");
        let c = CorpusText::from_bytes(b"ok ok\nx \xff\xfe bad".to_vec());
        let e = count_words(&c, 1, 10_000, Some(100)).unwrap_err();
        assert!(e.to_string().contains("byte offset 8"), "{e}");
    }

    /// With `max_vocab_size`, counting a file is counting its `LineSentence`
    /// sentences (lines cut into pieces of `max_sentence_length`) one by one
    /// through the vocabulary's counter, whatever the number of threads.
    #[test]
    fn pruned_counts_follow_the_sentence_order() {
        let mut text = String::new();
        let mut x = 7u64;
        for line in 0..400 {
            let len = (line * 7) % 23; // empty lines and lines longer than 16
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (x >> 33) % 50;
                text.push_str(&format!("w{} ", r * r / 50));
            }
            text.push('\n');
        }
        let max_len = 16;
        let mut expected = Vec::new();
        for vocab in [3usize, 10, 30] {
            let mut counter: WordCounter<String> = WordCounter::new(Some(vocab));
            for line in text.lines() {
                let toks: Vec<&str> = line.split_whitespace().collect();
                for piece in toks.chunks(max_len) {
                    for t in piece {
                        counter.add(t.to_string());
                    }
                    counter.end_sentence();
                }
            }
            expected.push((
                counter.sentences(),
                counter.total_words(),
                counter.into_items(),
            ));
        }
        let c = CorpusText::from_bytes(text.into_bytes());
        let plain = count_words(&c, 2, max_len, None).unwrap();
        for (vocab, (sentences, total, items)) in [3usize, 10, 30].into_iter().zip(expected) {
            for threads in [1, 2] {
                let got = count_words(&c, threads, max_len, Some(vocab)).unwrap();
                assert_eq!(got.words, items, "max_vocab_size={vocab}");
                assert_eq!(got.sentences, sentences);
                assert_eq!(got.total_words, total);
                assert_eq!(got.sentences, plain.sentences);
                assert_eq!(got.total_words, plain.total_words);
            }
            assert!(items.len() < plain.words.len());
        }
    }
}
