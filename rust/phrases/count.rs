//! Counting unigrams and connector-bridged bigrams, gensim 4's
//! `Phrases._learn_vocab`, in parallel and with gensim's pruning rule.
//!
//! # What is counted
//! For each sentence, every token that is not a connector word is counted,
//! and so is the "bigram" that joins it (with the delimiter) to the previous
//! non-connector token of the sentence, connector words in between included:
//! `bank of america` counts `bank`, `america` and `bank_of_america`.
//! Connector words are never counted on their own. Unigrams and bigrams share
//! one table keyed by the joined text, exactly as gensim's one dict: a token
//! that contains the delimiter (`new_york` in a corpus already phrased once)
//! and the bigram `new` + `york` are the same entry.
//!
//! # Two representations
//! Whenever it is exact (a one-character delimiter that no token contains)
//! the table counts words as interned ids and bigrams as id tuples
//! (`rust/phrases/ids.rs`); otherwise, or from the first batch that breaks the
//! condition on, it is keyed by text as described here. Both give the same
//! keys, counts, order and pruning.
//!
//! # Pruning
//! After each sentence, when the table holds more than `max_vocab_size`
//! entries, every entry counted fewer than `min_reduce` times is dropped
//! ([`crate::vocab::prune_counts`], the rule Word2Vec's vocabulary uses) and
//! `min_reduce` goes up by one. That rule depends on sentence order, so a
//! batch runs in parallel only when it cannot trigger a prune: each token
//! adds at most two entries, so if `len + 2 * tokens <= max_vocab_size` the
//! table stays under the limit at every sentence end, and counting the batch
//! in any order gives gensim's table. Otherwise the batch is counted on one
//! thread, sentence by sentence, pruning where gensim prunes.
//!
//! # Parallel counting without a merge
//! The table is split into [`SHARDS`] shards by key hash. Each thread reads
//! the whole batch but counts only the keys of the shards it owns, so no two
//! threads touch the same shard and nothing needs merging afterwards;
//! re-reading tokens and hashing them is cheap next to the table look-ups,
//! which are what the threads share out.
//!
//! # Order
//! gensim's dict keeps first-insertion order (a pruned key inserted again
//! moves to the end), which fixes the order of `vocab` and of
//! `export_phrases()`. Each entry records the position of its (last) first
//! occurrence, `2 * token_index + (0 for the unigram, 1 for the bigram)`,
//! the same in parallel and serial counting; sorting by it gives gensim's
//! order.

use std::borrow::Cow;
use std::hash::BuildHasher;

use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::ids::{Counting, IdTable};
use crate::progress::Progress;
use crate::vocab::{keep_by_count, prune_counts, Counted};
use crate::Result;

/// Number of shards of a [`PhraseCounts`] table (a power of two).
pub const SHARDS: usize = 16;

/// Tokens per batch when counting a corpus file.
const FILE_BATCH_TOKENS: usize = 1 << 20;

/// The settings that decide what is counted.
#[derive(Clone, Debug)]
pub struct PhraseSettings {
    /// Joins the tokens of a phrase (gensim's `delimiter`, UTF-8).
    pub delimiter: Vec<u8>,
    /// Words that may sit inside a phrase but never start or end one.
    pub connector_words: FxHashSet<Box<[u8]>>,
    /// gensim's `max_vocab_size`: prune when more entries are held.
    pub max_vocab_size: i64,
}

impl PhraseSettings {
    /// Settings from plain strings.
    pub fn new<S: AsRef<str>>(
        delimiter: &str,
        connector_words: impl IntoIterator<Item = S>,
        max_vocab_size: i64,
    ) -> Self {
        PhraseSettings {
            delimiter: delimiter.as_bytes().to_vec(),
            connector_words: connector_words
                .into_iter()
                .map(|w| w.as_ref().as_bytes().into())
                .collect(),
            max_vocab_size,
        }
    }

    /// True for a connector word.
    #[inline]
    pub fn is_connector(&self, w: &[u8]) -> bool {
        !self.connector_words.is_empty() && self.connector_words.contains(w)
    }

    /// `tokens` joined by the delimiter, into `out` (cleared first).
    #[inline]
    pub fn join_into(&self, tokens: &[&[u8]], out: &mut Vec<u8>) {
        out.clear();
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(&self.delimiter);
            }
            out.extend_from_slice(t);
        }
    }
}

/// Sentences as token slices: `tokens[..lens[0]]` is the first sentence,
/// and so on. Empty sentences count (each ends with a pruning check, as in
/// gensim).
#[derive(Clone, Debug, Default)]
pub struct TokenBatch<'a> {
    /// Every token of the batch, in order.
    pub tokens: Vec<&'a [u8]>,
    /// Number of tokens of each sentence.
    pub lens: Vec<usize>,
}

impl<'a> TokenBatch<'a> {
    /// Adds a sentence.
    pub fn push_sentence(&mut self, sentence: impl IntoIterator<Item = &'a [u8]>) {
        let before = self.tokens.len();
        self.tokens.extend(sentence);
        self.lens.push(self.tokens.len() - before);
    }
}

/// Bytes of a key held inline (most words and bigrams are shorter).
const INLINE: usize = 22;

/// A table key: short keys live inside the table's own slot, so a look-up
/// compares bytes without following a pointer (one cache miss, not two) and
/// counting a new short key allocates nothing.
#[derive(Clone, Debug)]
pub(crate) enum Key {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Key {
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, data } => &data[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

impl From<&[u8]> for Key {
    #[inline]
    fn from(b: &[u8]) -> Key {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            Key::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            Key::Heap(b.into())
        }
    }
}

// Hash and equality are those of the bytes, so that `&[u8]` looks a key up
// (the contract of `Borrow`).
impl std::hash::Hash for Key {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl std::borrow::Borrow<[u8]> for Key {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

type Shard = FxHashMap<Key, Counted>;

/// The unigram + bigram table of a [`crate::phrases`] model (gensim's
/// `Phrases.vocab`), with the pruning state that goes with it.
#[derive(Clone, Debug)]
pub struct PhraseCounts {
    /// The text representation (empty while `ids` is in use).
    shards: Vec<Shard>,
    /// The id representation, when in use (see [`super::ids`]).
    ids: Option<Box<IdTable>>,
    min_reduce: u64,
    /// Position of the next event (see the module docs on order).
    next_pos: u64,
    total_words: u64,
    sentences: u64,
}

impl Default for PhraseCounts {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn shard_of(key: &[u8]) -> usize {
    // Middle bits: hashbrown uses the low bits for the bucket and the top
    // seven as tags inside each shard.
    ((FxBuildHasher.hash_one(key) >> 40) as usize) & (SHARDS - 1)
}

#[inline]
fn bump(shard: &mut Shard, key: &[u8], pos: u64) {
    if let Some(c) = shard.get_mut(key) {
        c.count += 1;
    } else {
        shard.insert(
            Key::from(key),
            Counted {
                count: 1,
                rank: pos,
            },
        );
    }
}

/// Walks one sentence as gensim's `_learn_vocab` does, calling
/// `add(key, position)` for each unigram and bigram occurrence; `first` is
/// the batch-wide index of the sentence's first token.
#[inline]
fn walk_sentence(
    settings: &PhraseSettings,
    sentence: &[&[u8]],
    first: u64,
    key: &mut Vec<u8>,
    mut add: impl FnMut(&[u8], u64),
) {
    let mut start: Option<usize> = None;
    for (i, w) in sentence.iter().enumerate() {
        if settings.is_connector(w) {
            continue; // a connector inside a phrase is picked up by the join below
        }
        let pos = 2 * (first + i as u64);
        add(w, pos);
        if let Some(s) = start {
            settings.join_into(&sentence[s..=i], key);
            add(key, pos + 1);
        }
        start = Some(i);
    }
}

impl PhraseCounts {
    /// An empty table.
    pub fn new() -> Self {
        PhraseCounts {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            ids: None,
            min_reduce: 1,
            next_pos: 0,
            total_words: 0,
            sentences: 0,
        }
    }

    /// Entries held (gensim's `len(vocab)`).
    pub fn len(&self) -> usize {
        match &self.ids {
            Some(t) => t.len(),
            None => self.shards.iter().map(|s| s.len()).sum(),
        }
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The count of `key`, 0 when absent.
    #[inline]
    pub fn get(&self, key: &[u8]) -> u64 {
        match &self.ids {
            Some(t) => t.get(key),
            None => self.shards[shard_of(key)].get(key).map_or(0, |c| c.count),
        }
    }

    /// gensim's `min_reduce`: the next prune drops counts below it.
    pub fn min_reduce(&self) -> u64 {
        self.min_reduce
    }

    /// Tokens read (connector words included), gensim's `total_words`.
    pub fn total_words(&self) -> u64 {
        self.total_words
    }

    /// Sentences read.
    pub fn sentences(&self) -> u64 {
        self.sentences
    }

    /// `(key, count)` in gensim's dict order.
    pub fn items(&self) -> Vec<(Cow<'_, [u8]>, u64)> {
        let mut v: Vec<(Cow<'_, [u8]>, Counted)> = match &self.ids {
            Some(t) => t.entries(),
            None => self
                .shards
                .iter()
                .flat_map(|s| s.iter().map(|(k, c)| (Cow::Borrowed(k.as_bytes()), *c)))
                .collect(),
        };
        v.sort_unstable_by_key(|(_, c)| c.rank);
        v.into_iter().map(|(k, c)| (k, c.count)).collect()
    }

    /// Takes changed settings into account: new connector words, or a new
    /// delimiter (which the id representation cannot follow: the table
    /// turns to text, keeping its keys joined by the old delimiter, as
    /// gensim's dict does).
    pub fn use_settings(&mut self, settings: &PhraseSettings) {
        match &mut self.ids {
            Some(t) if t.delimiter() != settings.delimiter.as_slice() => self.make_text(),
            Some(t) => t.set_connectors(settings),
            None => {}
        }
    }

    /// Turns the table into the text representation.
    fn make_text(&mut self) {
        if let Some(t) = self.ids.take() {
            let mut shards: Vec<Shard> = (0..SHARDS).map(|_| Shard::default()).collect();
            for (k, c) in t.entries() {
                shards[shard_of(&k)].insert(Key::from(&*k), c);
            }
            self.shards = shards;
        }
    }

    /// `f(count_first, count_last, count)` for every entry whose key
    /// `delim` splits into two or more parts (the first and the last part
    /// are looked up as keys), computed shard by shard on `pool`; the keys
    /// and `Some` results come back in gensim's dict order. Sorting only
    /// what `f` keeps is much cheaper than [`PhraseCounts::items`] when it
    /// keeps few.
    pub fn filter_bigrams<T: Send>(
        &self,
        pool: &rayon::ThreadPool,
        delim: &[u8],
        f: impl Fn(u64, u64, u64) -> Option<T> + Sync,
    ) -> Vec<(Cow<'_, [u8]>, T)> {
        let mut kept: Vec<(u64, Cow<'_, [u8]>, T)> = match &self.ids {
            Some(t) if t.delimiter() == delim => t
                .filter_bigrams(pool, f)
                .into_iter()
                .map(|(r, k, x)| (r, Cow::Owned(k), x))
                .collect(),
            Some(_) => {
                let mut text = self.clone();
                text.make_text();
                return text
                    .filter_bigrams(pool, delim, f)
                    .into_iter()
                    .map(|(k, x)| (Cow::Owned(k.into_owned()), x))
                    .collect();
            }
            None => pool.install(|| {
                self.shards
                    .par_iter()
                    .flat_map_iter(|s| {
                        let f = &f;
                        s.iter().filter_map(move |(k, c)| {
                            let key = k.as_bytes();
                            let (a, b) = ends(key, delim)?;
                            let t = f(self.get(a), self.get(b), c.count)?;
                            Some((c.rank, Cow::Borrowed(key), t))
                        })
                    })
                    .collect()
            }),
        };
        kept.sort_unstable_by_key(|(rank, _, _)| *rank);
        kept.into_iter().map(|(_, k, t)| (k, t)).collect()
    }

    /// A table holding `items` in that order (a saved model), with the given
    /// `min_reduce`. Repeated keys add up.
    pub fn from_items<K: AsRef<[u8]>>(
        items: impl IntoIterator<Item = (K, u64)>,
        min_reduce: u64,
    ) -> Self {
        let mut t = PhraseCounts::new();
        for (k, c) in items {
            if c == 0 {
                continue;
            }
            let k = k.as_ref();
            let pos = t.next_pos;
            let e = t.shards[shard_of(k)]
                .entry(Key::from(k))
                .or_insert(Counted {
                    count: 0,
                    rank: pos,
                });
            e.count += c;
            t.next_pos += 1;
        }
        t.min_reduce = min_reduce.max(1);
        t
    }

    fn prune(&mut self) {
        let m = self.min_reduce;
        if let Some(t) = &mut self.ids {
            t.prune(m);
            self.min_reduce += 1;
            return;
        }
        for s in &mut self.shards {
            let r: std::result::Result<usize, std::convert::Infallible> =
                prune_counts(s, m, |_, count, min_reduce| {
                    Ok(keep_by_count(count, min_reduce))
                });
            let Ok(_) = r;
        }
        self.min_reduce += 1;
    }

    fn over_limit(&self, settings: &PhraseSettings) -> bool {
        i64::try_from(self.len()).unwrap_or(i64::MAX) > settings.max_vocab_size
    }

    /// Counts a batch of sentences on `pool` (see the module docs for when
    /// it runs in parallel).
    pub fn count_batch(
        &mut self,
        settings: &PhraseSettings,
        batch: &TokenBatch<'_>,
        pool: &rayon::ThreadPool,
    ) {
        let n_tokens = batch.tokens.len() as u64;
        let base = self.next_pos / 2;
        let bound = (self.len() as u64).saturating_add(2 * n_tokens);
        let safe = i64::try_from(bound).is_ok_and(|b| b <= settings.max_vocab_size);
        let threads = pool.current_num_threads().min(SHARDS);
        let parallel = safe && threads > 1 && n_tokens > 4096;
        if self.ids.is_none() && self.is_empty() {
            self.ids = IdTable::new(settings).map(Box::new);
        }
        self.use_settings(settings);
        if let Some(t) = &mut self.ids {
            match t.count_batch(settings, batch, base, parallel, &mut self.min_reduce, pool) {
                Counting::Done => {
                    self.next_pos += 2 * n_tokens;
                    self.total_words += n_tokens;
                    self.sentences += batch.lens.len() as u64;
                    return;
                }
                Counting::NeedsText => self.make_text(),
            }
        }
        if parallel {
            // Thread t owns shards t, t + threads, t + 2 * threads, ...
            let mut groups: Vec<Vec<(usize, &mut Shard)>> =
                (0..threads).map(|_| Vec::new()).collect();
            for (i, s) in self.shards.iter_mut().enumerate() {
                groups[i % threads].push((i, s));
            }
            pool.install(|| {
                groups.into_par_iter().for_each(|mut group| {
                    let mut key = Vec::new();
                    let mut first = 0usize;
                    for &len in &batch.lens {
                        let sentence = &batch.tokens[first..first + len];
                        walk_sentence(settings, sentence, base + first as u64, &mut key, |k, p| {
                            let s = shard_of(k);
                            if s % threads == group[0].0 {
                                bump(group[s / threads].1, k, p);
                            }
                        });
                        first += len;
                    }
                });
            });
        } else {
            let mut key = Vec::new();
            let mut first = 0usize;
            for &len in &batch.lens {
                let sentence = &batch.tokens[first..first + len];
                let shards = &mut self.shards;
                walk_sentence(settings, sentence, base + first as u64, &mut key, |k, p| {
                    bump(&mut shards[shard_of(k)], k, p);
                });
                first += len;
                if self.over_limit(settings) {
                    self.prune();
                }
            }
        }
        self.next_pos += 2 * n_tokens;
        self.total_words += n_tokens;
        self.sentences += batch.lens.len() as u64;
    }

    /// Counts a corpus file (`.gz` decompressed), one sentence per line and
    /// lines longer than `max_sentence_length` tokens cut into pieces, as
    /// gensim's `LineSentence` (and `Text8Corpus` for a one-line file) read
    /// it. `progress` counts the tokens read and can stop the job.
    pub fn count_file(
        &mut self,
        settings: &PhraseSettings,
        path: &std::path::Path,
        max_sentence_length: usize,
        pool: &rayon::ThreadPool,
        progress: &Progress,
    ) -> Result<()> {
        let text = crate::corpus::CorpusText::open(path)?;
        let bytes = text.bytes();
        let text_is_utf8 = std::str::from_utf8(bytes).is_ok();
        let mut reader =
            crate::corpus::SentenceReader::new(bytes, 0..bytes.len(), max_sentence_length);
        loop {
            progress.check()?;
            let mut batch = TokenBatch::default();
            let mut more = true;
            while batch.tokens.len() < FILE_BATCH_TOKENS {
                let before = batch.tokens.len();
                more = reader.next_sentence(|tok, _| batch.tokens.push(tok));
                if !more {
                    break;
                }
                batch.lens.push(batch.tokens.len() - before);
            }
            // Tokens of valid UTF-8 text split at ASCII bytes are valid.
            if let Some(bad) = batch
                .tokens
                .iter()
                .find(|t| !text_is_utf8 && std::str::from_utf8(t).is_err())
            {
                let off = bad.as_ptr() as usize - bytes.as_ptr() as usize;
                return Err(crate::Error::format(
                    path,
                    format!("token at byte offset {off} is not valid UTF-8; re-encode the file as UTF-8"),
                ));
            }
            self.count_batch(settings, &batch, pool);
            progress.add(batch.tokens.len() as u64);
            if !more {
                return Ok(());
            }
        }
    }

    /// Adds `other`'s counts (gensim's `add_vocab` merging a freshly counted
    /// table into the model's): keys new to `self` go after its own in
    /// `other`'s order; `min_reduce` becomes the larger of the two, and one
    /// prune follows if the result holds more than `max_vocab_size` entries.
    /// Into an empty table, `other` is taken whole and `min_reduce` is kept
    /// (gensim's shortcut, which does not update it).
    pub fn merge(&mut self, other: PhraseCounts, settings: &PhraseSettings) {
        if self.is_empty() {
            // gensim adopts the new dict as is and keeps its own min_reduce.
            let (tw, ns, mr) = (self.total_words, self.sentences, self.min_reduce);
            *self = other;
            self.total_words += tw;
            self.sentences += ns;
            self.min_reduce = mr;
            return;
        }
        // Merging works on the text representation (a rarer path).
        let mut other = other;
        other.make_text();
        self.make_text();
        self.min_reduce = self.min_reduce.max(other.min_reduce);
        let offset = self.next_pos;
        for (mine, theirs) in self.shards.iter_mut().zip(other.shards) {
            for (k, c) in theirs {
                mine.entry(k)
                    .and_modify(|e| e.count += c.count)
                    .or_insert(Counted {
                        count: c.count,
                        rank: offset + c.rank,
                    });
            }
        }
        self.next_pos = offset + other.next_pos;
        self.total_words += other.total_words;
        self.sentences += other.sentences;
        if self.over_limit(settings) {
            self.prune();
        }
    }
}

/// The first and the last part of `key` split on `delim` as Python's
/// `str.split(delim)` splits it (left to right, matches not overlapping),
/// or `None` when `delim` does not occur.
pub(crate) fn ends<'k>(key: &'k [u8], delim: &[u8]) -> Option<(&'k [u8], &'k [u8])> {
    let d = delim.len();
    if d == 0 || key.len() < d {
        return None;
    }
    let mut first: Option<usize> = None;
    let mut last_end = 0usize;
    let mut i = 0usize;
    while i + d <= key.len() {
        if &key[i..i + d] == delim {
            first.get_or_insert(i);
            i += d;
            last_end = i;
        } else {
            i += 1;
        }
    }
    first.map(|f| (&key[..f], &key[last_end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gensim's `_learn_vocab` the slow, obvious way: a Vec as an ordered dict.
    fn reference(
        sentences: &[Vec<&str>],
        connectors: &[&str],
        delim: &str,
        max: i64,
    ) -> Vec<(String, u64)> {
        let mut d: Vec<(String, u64)> = Vec::new();
        let add = |d: &mut Vec<(String, u64)>, k: String| match d.iter_mut().find(|(x, _)| *x == k)
        {
            Some(e) => e.1 += 1,
            None => d.push((k, 1)),
        };
        let mut min_reduce = 1;
        for s in sentences {
            let mut start: Option<&str> = None;
            let mut mid: Vec<&str> = vec![];
            for w in s {
                if !connectors.contains(w) {
                    add(&mut d, w.to_string());
                    if let Some(st) = start {
                        let mut parts = vec![st];
                        parts.extend(&mid);
                        parts.push(w);
                        add(&mut d, parts.join(delim));
                    }
                    start = Some(w);
                    mid.clear();
                } else if start.is_some() {
                    mid.push(w);
                }
            }
            if d.len() as i64 > max {
                d.retain(|(_, c)| *c >= min_reduce);
                min_reduce += 1;
            }
        }
        d
    }

    fn corpus() -> Vec<Vec<&'static str>> {
        let words = ["a", "b", "of", "c", "d", "the", "e", "f_g", "f", "g", "h"];
        let mut x = 99u64;
        let mut out = Vec::new();
        for _ in 0..400 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 60) as usize;
            let mut s = Vec::new();
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = ((x >> 33) % 11) as usize;
                s.push(words[r * r / 11]);
            }
            out.push(s);
        }
        out
    }

    fn count(
        sentences: &[Vec<&str>],
        settings: &PhraseSettings,
        threads: usize,
        per_batch: usize,
    ) -> PhraseCounts {
        let pool = crate::thread_pool(threads).unwrap();
        let mut t = PhraseCounts::new();
        for chunk in sentences.chunks(per_batch) {
            let mut b = TokenBatch::default();
            for s in chunk {
                b.push_sentence(s.iter().map(|w| w.as_bytes()));
            }
            t.count_batch(settings, &b, &pool);
        }
        t
    }

    fn owned(t: &PhraseCounts) -> Vec<(String, u64)> {
        t.items()
            .into_iter()
            .map(|(k, c)| (String::from_utf8(k.to_vec()).unwrap(), c))
            .collect()
    }

    #[test]
    fn counts_match_gensims_dict_serial_and_parallel() {
        let c = corpus();
        for (conn, delim) in [(vec![], "_"), (vec!["of", "the"], "_"), (vec!["of"], "")] {
            for max in [1i64, 5, 12, 40, 40_000_000] {
                let settings = PhraseSettings::new(delim, conn.iter(), max);
                let want = reference(&c, &conn, delim, max);
                for (threads, per_batch) in [(1, 7), (3, 400), (2, 50)] {
                    let got = count(&c, &settings, threads, per_batch);
                    assert_eq!(owned(&got), want, "conn={conn:?} delim={delim:?} max={max}");
                }
            }
        }
    }

    #[test]
    fn parallel_path_is_taken_and_exact() {
        // enough tokens for the parallel branch
        let c: Vec<Vec<&str>> = (0..300).flat_map(|_| corpus()).take(3000).collect();
        let settings = PhraseSettings::new("_", ["of", "the"], 40_000_000);
        let want = reference(&c[..200], &["of", "the"], "_", 40_000_000);
        let got = count(&c[..200], &settings, 4, 200);
        assert_eq!(owned(&got), want);
        let big = count(&c, &settings, 4, 3000);
        let serial = count(&c, &settings, 1, 3000);
        assert_eq!(owned(&big), owned(&serial));
        assert_eq!(
            big.total_words(),
            c.iter().map(|s| s.len() as u64).sum::<u64>()
        );
    }

    #[test]
    fn merge_appends_new_keys_and_prunes_once() {
        let settings = PhraseSettings::new("_", Vec::<&str>::new(), 3);
        let pool = crate::thread_pool(1).unwrap();
        let mut a = PhraseCounts::new();
        let mut b = TokenBatch::default();
        b.push_sentence(["x", "y"].map(str::as_bytes));
        a.count_batch(&settings, &b, &pool);
        assert_eq!(
            owned(&a),
            vec![("x".into(), 1), ("y".into(), 1), ("x_y".into(), 1)]
        );
        let mut other = PhraseCounts::new();
        let mut b = TokenBatch::default();
        b.push_sentence(["z", "y"].map(str::as_bytes));
        other.count_batch(&settings, &b, &pool);
        a.merge(other, &settings);
        // {x:1, y:2, x_y:1, z:1, z_y:1} > 3: prune below min_reduce=1 drops nothing
        assert_eq!(a.len(), 5);
        assert_eq!(a.min_reduce(), 2);
        assert_eq!(a.get(b"y"), 2);
        assert_eq!(owned(&a)[3].0, "z");
    }

    fn no_delim(c: &[Vec<&'static str>]) -> Vec<Vec<&'static str>> {
        c.iter()
            .map(|s| {
                s.iter()
                    .map(|&w| if w == "f_g" { "fg" } else { w })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn id_tables_match_gensims_dict() {
        let c = no_delim(&corpus());
        for conn in [vec![], vec!["of", "the"], vec!["of", "the", "a", "b"]] {
            for max in [1i64, 5, 12, 40, 40_000_000] {
                let settings = PhraseSettings::new("_", conn.iter(), max);
                let want = reference(&c, &conn, "_", max);
                for (threads, per_batch) in [(1, 7), (3, 400), (2, 50)] {
                    let got = count(&c, &settings, threads, per_batch);
                    assert!(got.ids.is_some(), "the id table is used");
                    assert_eq!(owned(&got), want, "conn={conn:?} max={max}");
                }
            }
        }
        // a multi-byte one-character delimiter
        let settings = PhraseSettings::new("\u{2581}", ["of"], 40);
        let got = count(&c, &settings, 2, 30);
        assert!(got.ids.is_some());
        assert_eq!(owned(&got), reference(&c, &["of"], "\u{2581}", 40));
    }

    #[test]
    fn a_token_with_the_delimiter_turns_the_table_to_text_mid_corpus() {
        let mut c = no_delim(&corpus());
        c.extend(corpus()); // the second half holds "f_g", the same key as f + g
        let settings = PhraseSettings::new("_", ["of", "the"], 60);
        let want = reference(&c, &["of", "the"], "_", 60);
        let got = count(&c, &settings, 2, 100);
        assert!(got.ids.is_none());
        assert_eq!(owned(&got), want);
        // and a delimiter of two characters never uses ids
        let settings = PhraseSettings::new("__", ["of"], 40_000_000);
        let got = count(&c[..50], &settings, 1, 50);
        assert!(got.ids.is_none());
        assert_eq!(owned(&got), reference(&c[..50], &["of"], "__", 40_000_000));
    }

    /// Sentences over many distinct words, a few frequent.
    fn wide_corpus() -> Vec<Vec<String>> {
        let mut x = 7u64;
        (0..600)
            .map(|_| {
                (0..12)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let r = (x >> 40) % 1000;
                        match r % 5 {
                            0 => "of".to_string(),
                            1 => format!("w{}", r % 7),
                            _ => format!("w{r}"),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn compaction_keeps_counts_and_order_and_bounds_the_interner() {
        let wide = wide_corpus();
        let c: Vec<Vec<&str>> = wide
            .iter()
            .map(|s| s.iter().map(String::as_str).collect())
            .collect();
        for conn in [vec![], vec!["of"]] {
            let settings = PhraseSettings::new("_", conn.iter(), 80);
            let want = reference(&c, &conn, "_", 80);
            let pool = crate::thread_pool(1).unwrap();
            let mut t = PhraseCounts::new();
            for (i, chunk) in c.chunks(20).enumerate() {
                let mut b = TokenBatch::default();
                for s in chunk {
                    b.push_sentence(s.iter().map(|w| w.as_bytes()));
                }
                t.count_batch(&settings, &b, &pool);
                if i == 0 {
                    t.ids.as_mut().unwrap().set_gc_floor(64);
                }
            }
            assert_eq!(owned(&t), want, "conn={conn:?}");
            let interned = t.ids.as_ref().unwrap().interned();
            assert!(
                interned < 400,
                "{interned} words interned for 1000 distinct"
            );
        }
    }

    #[test]
    fn id_table_lookups_and_export_match_the_text_table() {
        let c = no_delim(&corpus());
        let settings = PhraseSettings::new("_", ["of", "the"], 40_000_000);
        let ids = count(&c, &settings, 2, 100);
        let mut text = ids.clone();
        text.make_text();
        assert!(ids.ids.is_some() && text.ids.is_none());
        for (k, n) in ids.items() {
            assert_eq!(ids.get(&k), n);
            assert_eq!(text.get(&k), n);
        }
        for k in [
            "zz",
            "a_zz",
            "a__b",
            "_a",
            "a_",
            "a_of",
            "of",
            "a_b_c",
            "",
            "a_the_of_b",
        ] {
            assert_eq!(ids.get(k.as_bytes()), text.get(k.as_bytes()), "{k}");
        }
        let pool = crate::thread_pool(2).unwrap();
        let score = |a: u64, b: u64, ab: u64| Some((a, b, ab));
        let from_ids = ids.filter_bigrams(&pool, b"_", score);
        assert_eq!(from_ids, text.filter_bigrams(&pool, b"_", score));
        assert!(from_ids.len() > 20);
        // another delimiter at export time splits the text keys
        assert_eq!(
            ids.filter_bigrams(&pool, b"a", score),
            text.filter_bigrams(&pool, b"a", score)
        );
    }

    #[test]
    fn parallel_id_counting_is_exact() {
        let wide = wide_corpus();
        let c: Vec<Vec<&str>> = wide
            .iter()
            .map(|s| s.iter().map(String::as_str).collect())
            .collect();
        assert!(
            c.iter().map(Vec::len).sum::<usize>() > 4096,
            "big enough to run in parallel"
        );
        for conn in [vec![], vec!["of"]] {
            let settings = PhraseSettings::new("_", conn.iter(), 40_000_000);
            let want = reference(&c, &conn, "_", 40_000_000);
            for threads in [2, 3] {
                let got = count(&c, &settings, threads, c.len());
                assert!(got.ids.is_some());
                assert_eq!(owned(&got), want, "conn={conn:?} threads={threads}");
            }
        }
    }
}
