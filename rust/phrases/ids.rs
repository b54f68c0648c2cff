//! The fast representation of a [`super::PhraseCounts`] table: words
//! interned to `u32` ids, bigrams counted as id tuples.
//!
//! gensim keys its one dict by text: a bigram is its tokens joined by the
//! delimiter. When the delimiter is a single character that no token
//! contains, that text splits back into its tokens in exactly one way (UTF-8
//! is self-synchronising, so the delimiter can only match where it was put),
//! and a unigram key never contains it. Then a key is determined by its token
//! sequence, and counting `(first, connector run, last)` id tuples gives the
//! same table as counting joined strings, without building or hashing a
//! string per bigram, and with one small, cache-friendly word look-up per
//! token instead of a look-up in the big table.
//!
//! Layout:
//! * `words`/`names`: the interner (word bytes to id and back), with a
//!   connector flag per id;
//! * `uni`: unigram counts indexed by id (`count == 0`: not in the table);
//! * `runs`/`run_names`: interned runs of connector words between the two
//!   ends of a bigram (run 0 is the empty run);
//! * `bi`: bigram counts keyed by `first | last << 32 | run << 64`, split
//!   into [`SHARDS`] shards by key hash for parallel counting.
//!
//! Positions (gensim's insertion order) and pruning are those of the text
//! table (see [`super::count`]). Pruning drops counts, not interned words;
//! when the interner has grown to twice its size after the last compaction,
//! the ids still referenced are renumbered and the rest dropped, so memory
//! stays bounded as gensim's `max_vocab_size` intends.
//!
//! A batch holding a token that contains the delimiter (or settings with
//! another delimiter) turns the table into the text representation, which
//! handles every input.

use std::borrow::Cow;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::count::{Key, PhraseSettings, TokenBatch, SHARDS};
use super::table::{hash, shard_of_hash, PairTable};
use crate::vocab::Counted;

/// Bigram key: `first | last << 32 | run << 64`.
type BiKey = u128;
type BiShard = PairTable;

/// Not yet looked up (never an id: `intern` stops below it).
const MISS: u32 = u32::MAX;

/// Keys looked ahead of the one counted (prefetched).
const AHEAD: usize = 8;

const _: () = assert!(SHARDS == 16, "the table's hash gives 16 shards");

#[inline]
fn bikey(a: u32, b: u32, run: u32) -> BiKey {
    a as BiKey | (b as BiKey) << 32 | (run as BiKey) << 64
}

#[inline]
fn unkey(k: BiKey) -> (u32, u32, u32) {
    (k as u32, (k >> 32) as u32, (k >> 64) as u32)
}

#[inline]
fn shard_of(k: BiKey) -> usize {
    shard_of_hash(hash(k))
}

/// True when `hay` contains `needle` (non-empty).
#[inline]
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    match needle {
        [b] => hay.contains(b),
        _ => hay.windows(needle.len()).any(|w| w == needle),
    }
}

/// The id table (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct IdTable {
    delim: Vec<u8>,
    connectors: FxHashSet<Box<[u8]>>,
    words: FxHashMap<Key, u32>,
    names: Vec<Key>,
    conn: Vec<bool>,
    uni: Vec<Counted>,
    live_uni: usize,
    runs: FxHashMap<Box<[u32]>, u32>,
    run_names: Vec<Box<[u32]>>,
    bi: Vec<BiShard>,
    /// Interned words after the last compaction.
    gc_base: usize,
    /// Compaction waits until the interner holds at least this many words.
    gc_floor: usize,
}

/// What [`IdTable::count_batch`] did.
pub(crate) enum Counting {
    /// Counted.
    Done,
    /// Nothing counted: a new token contains the delimiter.
    NeedsText,
}

impl IdTable {
    /// An empty table for `settings`, or `None` when the delimiter is not
    /// exactly one character.
    pub(crate) fn new(settings: &PhraseSettings) -> Option<IdTable> {
        let d = std::str::from_utf8(&settings.delimiter).ok()?;
        let mut chars = d.chars();
        chars.next()?;
        if chars.next().is_some() {
            return None;
        }
        Some(IdTable {
            delim: settings.delimiter.clone(),
            connectors: settings.connector_words.clone(),
            words: FxHashMap::default(),
            names: Vec::new(),
            conn: Vec::new(),
            uni: Vec::new(),
            live_uni: 0,
            runs: FxHashMap::default(),
            run_names: vec![Box::from([])],
            bi: (0..SHARDS).map(|_| BiShard::default()).collect(),
            gc_base: 0,
            gc_floor: 1 << 16,
        })
    }

    /// Compaction threshold, lowered by tests.
    #[cfg(test)]
    pub(crate) fn set_gc_floor(&mut self, floor: usize) {
        self.gc_floor = floor;
    }

    /// Interned words (tests check that compaction bounds them).
    #[cfg(test)]
    pub(crate) fn interned(&self) -> usize {
        self.names.len()
    }

    /// The delimiter the keys are joined with.
    pub(crate) fn delimiter(&self) -> &[u8] {
        &self.delim
    }

    /// Takes new connector words into account (ids keep their meaning).
    pub(crate) fn set_connectors(&mut self, settings: &PhraseSettings) {
        if self.connectors != settings.connector_words {
            self.connectors = settings.connector_words.clone();
            for (c, n) in self.conn.iter_mut().zip(&self.names) {
                *c = settings.is_connector(n.as_bytes());
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live_uni + self.bi.iter().map(|s| s.len()).sum::<usize>()
    }

    /// The id of `w`, interned if new; `None` when a new `w` contains the
    /// delimiter.
    #[inline]
    fn intern(&mut self, w: &[u8]) -> Option<u32> {
        if let Some(&id) = self.words.get(w) {
            return Some(id);
        }
        if contains(w, &self.delim) {
            return None;
        }
        let id = u32::try_from(self.names.len())
            .ok()
            .filter(|&id| id < MISS)?;
        self.words.insert(Key::from(w), id);
        self.names.push(Key::from(w));
        self.conn
            .push(!self.connectors.is_empty() && self.connectors.contains(w));
        self.uni.push(Counted { count: 0, rank: 0 });
        Some(id)
    }

    #[inline]
    fn run_id(&mut self, run: &[u32]) -> u32 {
        if run.is_empty() {
            return 0;
        }
        if let Some(&r) = self.runs.get(run) {
            return r;
        }
        let r = self.run_names.len() as u32;
        self.runs.insert(run.into(), r);
        self.run_names.push(run.into());
        r
    }

    #[inline]
    fn bump_uni(&mut self, id: u32, pos: u64) {
        let u = &mut self.uni[id as usize];
        if u.count == 0 {
            u.rank = pos;
            self.live_uni += 1;
        }
        u.count += 1;
    }

    /// Walks one sentence of ids (`first`: position index of its first
    /// token), counting unigrams and handing each bigram key to `bigram`.
    #[inline]
    fn walk(
        &mut self,
        ids: &[u32],
        first: u64,
        run: &mut Vec<u32>,
        mut bigram: impl FnMut(&mut Self, usize, BiKey, u64),
    ) {
        let mut prev: Option<u32> = None;
        run.clear();
        for (i, &id) in ids.iter().enumerate() {
            if self.conn[id as usize] {
                if prev.is_some() {
                    run.push(id);
                }
                continue;
            }
            let pos = 2 * (first + i as u64);
            self.bump_uni(id, pos);
            if let Some(p) = prev {
                let r = self.run_id(run);
                bigram(self, i, bikey(p, id, r), pos + 1);
                run.clear();
            }
            prev = Some(id);
        }
    }

    /// Counts `batch` (position index of its first token `base`). In
    /// parallel on `pool` when `parallel` (the caller has checked that no
    /// prune can happen); otherwise sentence by sentence, pruning after a
    /// sentence that leaves more than `max_vocab_size` entries.
    pub(crate) fn count_batch(
        &mut self,
        settings: &PhraseSettings,
        batch: &TokenBatch<'_>,
        base: u64,
        parallel: bool,
        min_reduce: &mut u64,
        pool: &rayon::ThreadPool,
    ) -> Counting {
        let threads = pool.current_num_threads().min(SHARDS);
        let mut ids = vec![MISS; batch.tokens.len()];
        if threads > 1 && ids.len() > 4096 {
            // Known words looked up in parallel (the interner is not
            // changed), new ones interned below.
            let words = &self.words;
            let chunk = ids.len().div_ceil(threads);
            pool.install(|| {
                ids.par_chunks_mut(chunk)
                    .zip(batch.tokens.par_chunks(chunk))
                    .for_each(|(out, toks)| {
                        for (o, t) in out.iter_mut().zip(toks) {
                            *o = words.get(*t).copied().unwrap_or(MISS);
                        }
                    });
            });
        }
        for (o, t) in ids.iter_mut().zip(&batch.tokens) {
            if *o == MISS {
                match self.intern(t) {
                    Some(id) => *o = id,
                    None => return Counting::NeedsText,
                }
            }
        }
        let mut run = Vec::new();
        if parallel {
            // Unigrams and keys on this thread, each key handed to the
            // thread that owns its shard (thread t: shards t, t + threads,
            // ...); then the big table in parallel.
            let mut work: Vec<Vec<(BiKey, u64)>> = (0..threads)
                .map(|_| Vec::with_capacity(ids.len() / threads + 16))
                .collect();
            let mut first = 0usize;
            for &len in &batch.lens {
                self.walk(
                    &ids[first..first + len],
                    base + first as u64,
                    &mut run,
                    |_, _, k, pos| work[shard_of(k) % threads].push((k, pos)),
                );
                first += len;
            }
            let mut groups: Vec<Vec<&mut BiShard>> = (0..threads).map(|_| Vec::new()).collect();
            for (i, s) in self.bi.iter_mut().enumerate() {
                groups[i % threads].push(s);
            }
            pool.install(|| {
                groups
                    .into_par_iter()
                    .zip(work)
                    .for_each(|(mut group, work)| {
                        for (i, &(k, pos)) in work.iter().enumerate() {
                            if let Some(&(ahead, _)) = work.get(i + AHEAD) {
                                let h = hash(ahead);
                                group[shard_of_hash(h) / threads].prefetch(h);
                            }
                            let h = hash(k);
                            group[shard_of_hash(h) / threads].bump(k, h, pos);
                        }
                    });
            });
        } else {
            let mut first = 0usize;
            let mut pruned = false;
            for &len in &batch.lens {
                self.walk(
                    &ids[first..first + len],
                    base + first as u64,
                    &mut run,
                    |me, _, k, pos| me.bi[shard_of(k)].bump(k, hash(k), pos),
                );
                first += len;
                if i64::try_from(self.len()).unwrap_or(i64::MAX) > settings.max_vocab_size {
                    self.drop_below(*min_reduce);
                    *min_reduce += 1;
                    pruned = true;
                }
            }
            // Not inside the loop: compaction renumbers the batch's ids.
            if pruned {
                self.maybe_compact();
            }
        }
        Counting::Done
    }

    /// Drops every count below `min_reduce` (gensim's `prune_vocab`).
    pub(crate) fn prune(&mut self, min_reduce: u64) {
        self.drop_below(min_reduce);
        self.maybe_compact();
    }

    fn drop_below(&mut self, min_reduce: u64) {
        for u in &mut self.uni {
            if u.count > 0 && u.count < min_reduce {
                u.count = 0;
                self.live_uni -= 1;
            }
        }
        for s in &mut self.bi {
            s.retain(|c| c.count >= min_reduce);
        }
    }

    fn maybe_compact(&mut self) {
        if self.names.len() > 2 * self.gc_base.max(self.gc_floor / 2) {
            self.compact();
        }
    }

    /// Renumbers the words and runs still referenced, dropping the rest.
    fn compact(&mut self) {
        let mut used = vec![false; self.names.len()];
        let mut run_used = vec![false; self.run_names.len()];
        for (u, c) in used.iter_mut().zip(&self.uni) {
            *u = c.count > 0;
        }
        for s in &self.bi {
            for (k, _) in s.iter() {
                let (a, b, r) = unkey(k);
                used[a as usize] = true;
                used[b as usize] = true;
                run_used[r as usize] = true;
            }
        }
        for (r, &u) in run_used.iter().enumerate() {
            if u {
                for &w in self.run_names[r].iter() {
                    used[w as usize] = true;
                }
            }
        }
        let mut new_id = vec![u32::MAX; self.names.len()];
        let (mut names, mut conn, mut uni) = (Vec::new(), Vec::new(), Vec::new());
        for (old, &u) in used.iter().enumerate() {
            if u {
                new_id[old] = names.len() as u32;
                names.push(self.names[old].clone());
                conn.push(self.conn[old]);
                uni.push(self.uni[old]);
            }
        }
        let mut new_run = vec![0u32; self.run_names.len()];
        let mut run_names: Vec<Box<[u32]>> = vec![Box::from([])];
        for (old, &u) in run_used.iter().enumerate().skip(1) {
            if u {
                new_run[old] = run_names.len() as u32;
                run_names.push(
                    self.run_names[old]
                        .iter()
                        .map(|&w| new_id[w as usize])
                        .collect(),
                );
            }
        }
        let mut bi: Vec<BiShard> = (0..SHARDS).map(|_| BiShard::default()).collect();
        for s in std::mem::take(&mut self.bi) {
            for (k, c) in s.iter() {
                let (a, b, r) = unkey(k);
                let k = bikey(new_id[a as usize], new_id[b as usize], new_run[r as usize]);
                bi[shard_of(k)].insert(k, c);
            }
        }
        self.words = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        self.runs = run_names
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, r)| (r.clone(), i as u32))
            .collect();
        self.names = names;
        self.conn = conn;
        self.uni = uni;
        self.run_names = run_names;
        self.bi = bi;
        self.gc_base = self.names.len();
    }

    /// The text of a bigram key, into `out` (cleared first).
    fn join_into(&self, k: BiKey, out: &mut Vec<u8>) {
        let (a, b, r) = unkey(k);
        out.clear();
        out.extend_from_slice(self.names[a as usize].as_bytes());
        for &w in self.run_names[r as usize].iter() {
            out.extend_from_slice(&self.delim);
            out.extend_from_slice(self.names[w as usize].as_bytes());
        }
        out.extend_from_slice(&self.delim);
        out.extend_from_slice(self.names[b as usize].as_bytes());
    }

    /// The count of the text key `key`, 0 when absent.
    pub(crate) fn get(&self, key: &[u8]) -> u64 {
        let d = self.delim.len();
        let mut parts: Vec<u32> = Vec::new();
        let mut start = 0usize;
        let mut i = 0usize;
        while i + d <= key.len() {
            if key[i..i + d] == self.delim[..] {
                match self.words.get(&key[start..i]) {
                    Some(&id) => parts.push(id),
                    None => return 0,
                }
                i += d;
                start = i;
            } else {
                i += 1;
            }
        }
        let Some(&last) = self.words.get(&key[start..]) else {
            return 0;
        };
        let Some((&first, mid)) = parts.split_first() else {
            return self.uni[last as usize].count;
        };
        let run = if mid.is_empty() {
            0
        } else {
            match self.runs.get(mid) {
                Some(&r) => r,
                None => return 0,
            }
        };
        let k = bikey(first, last, run);
        self.bi[shard_of(k)].get(k).map_or(0, |c| c.count)
    }

    /// Every entry with its text, in no particular order.
    pub(crate) fn entries(&self) -> Vec<(Cow<'_, [u8]>, Counted)> {
        let mut out: Vec<(Cow<'_, [u8]>, Counted)> = self
            .uni
            .iter()
            .zip(&self.names)
            .filter(|(c, _)| c.count > 0)
            .map(|(c, n)| (Cow::Borrowed(n.as_bytes()), *c))
            .collect();
        let mut buf = Vec::new();
        for s in &self.bi {
            for (k, c) in s.iter() {
                self.join_into(k, &mut buf);
                out.push((Cow::Owned(buf.clone()), c));
            }
        }
        out
    }

    /// `(text, rank, f(...))` for every bigram for which
    /// `f(count_first, count_last, count)` is `Some`, shard by shard on
    /// `pool`, in no particular order.
    pub(crate) fn filter_bigrams<T: Send>(
        &self,
        pool: &rayon::ThreadPool,
        f: impl Fn(u64, u64, u64) -> Option<T> + Sync,
    ) -> Vec<(u64, Vec<u8>, T)> {
        pool.install(|| {
            self.bi
                .par_iter()
                .flat_map_iter(|s| {
                    let f = &f;
                    s.iter().filter_map(move |(k, c)| {
                        let (a, b, _) = unkey(k);
                        let t = f(
                            self.uni[a as usize].count,
                            self.uni[b as usize].count,
                            c.count,
                        )?;
                        let mut text = Vec::new();
                        self.join_into(k, &mut text);
                        Some((c.rank, text, t))
                    })
                })
                .collect()
        })
    }
}
