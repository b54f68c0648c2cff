//! Counting words sentence by sentence, with gensim's pruning rule.
//!
//! gensim counts a corpus into a dict, one sentence at a time. After each
//! sentence, if the dict holds more than `max_vocab_size` distinct words,
//! every word counted fewer than `min_reduce` times is dropped
//! ([`prune_counts`], gensim's `utils.prune_vocab`) and `min_reduce` goes up
//! by one: the first prune drops the words seen once, the next one those seen
//! fewer than twice, and so on. The rule depends on the order of the
//! sentences, so it is applied in corpus order, never per thread.
//!
//! A dropped word that is seen again starts again from zero and counts as
//! first seen at that later point, exactly as a key deleted from a Python dict
//! and inserted again moves to its end. [`WordCounter`] keeps that
//! insertion order, which fixes the ids of an unsorted vocabulary and the
//! order of ties in a sorted one.

use std::borrow::Borrow;
use std::hash::Hash;

use rustc_hash::FxHashMap;

/// A word's count and its insertion rank (smaller: inserted earlier).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Occurrences since the word was (last) inserted.
    pub count: u64,
    /// Insertion rank; a word pruned and seen again gets a new, larger one.
    pub rank: u64,
}

/// gensim's default rule for keeping a word: `count >= min_count`.
#[inline]
pub fn keep_by_count(count: u64, min_count: u64) -> bool {
    count >= min_count
}

/// Drops the words for which `keep(word, count, min_reduce)` is false
/// (gensim's `prune_vocab`, whose default rule is [`keep_by_count`]).
/// Returns how many words were dropped, or the first error of `keep`
/// (after which nothing more is dropped).
///
/// ```
/// use embedrs::vocab::{prune_counts, WordCounter};
/// let mut c = WordCounter::new(None);
/// for w in ["a", "b", "b"] {
///     c.add(w);
/// }
/// let dropped = prune_counts(c.counts_mut(), 2, |_, n, m| Ok::<_, ()>(n >= m)).unwrap();
/// assert_eq!(dropped, 1);
/// assert_eq!(c.items(), vec![(&"b", 2)]);
/// ```
pub fn prune_counts<K: Hash + Eq, E>(
    counts: &mut FxHashMap<K, Counted>,
    min_reduce: u64,
    mut keep: impl FnMut(&K, u64, u64) -> Result<bool, E>,
) -> Result<usize, E> {
    let before = counts.len();
    let mut failed = None;
    counts.retain(|k, c| {
        if failed.is_some() {
            return true;
        }
        match keep(k, c.count, min_reduce) {
            Ok(k) => k,
            Err(e) => {
                failed = Some(e);
                true
            }
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(before - counts.len()),
    }
}

/// Word counts of a corpus read sentence by sentence, pruned as gensim does
/// when `max_vocab_size` is set. Generic over the key: owned `String`s for
/// Python tokens, byte slices borrowed from a corpus file.
#[derive(Clone, Debug)]
pub struct WordCounter<K> {
    counts: FxHashMap<K, Counted>,
    next_rank: u64,
    max_vocab_size: Option<usize>,
    min_reduce: u64,
    total_words: u64,
    sentences: u64,
}

impl<K: Hash + Eq> WordCounter<K> {
    /// An empty counter; `max_vocab_size` of `None` or `Some(0)` never prunes
    /// (gensim tests the value for truth).
    pub fn new(max_vocab_size: Option<usize>) -> Self {
        WordCounter {
            counts: FxHashMap::default(),
            next_rank: 0,
            max_vocab_size: max_vocab_size.filter(|&m| m > 0),
            min_reduce: 1,
            total_words: 0,
            sentences: 0,
        }
    }

    /// Counts one occurrence of `word`.
    #[inline]
    pub fn add(&mut self, word: K) {
        self.total_words += 1;
        let rank = self.next_rank;
        let e = self
            .counts
            .entry(word)
            .or_insert(Counted { count: 0, rank });
        if e.count == 0 {
            self.next_rank += 1;
        }
        e.count += 1;
    }

    /// Counts one occurrence of a borrowed word, making the owned key with
    /// `to_key` only when the word is new (no allocation for known words).
    #[inline]
    pub fn add_borrowed<Q>(&mut self, word: &Q, to_key: impl FnOnce(&Q) -> K)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(c) = self.counts.get_mut(word) {
            c.count += 1;
            self.total_words += 1;
        } else {
            self.add(to_key(word));
        }
    }

    /// Ends a sentence: prunes with gensim's default rule when more than
    /// `max_vocab_size` words are held.
    pub fn end_sentence(&mut self) {
        let r: Result<(), std::convert::Infallible> =
            self.try_end_sentence(|_, count, min_reduce| Ok(keep_by_count(count, min_reduce)));
        let Ok(()) = r;
    }

    /// Ends a sentence, pruning with `keep(word, count, min_reduce)` (a
    /// user's trim rule) when more than `max_vocab_size` words are held.
    pub fn try_end_sentence<E>(
        &mut self,
        keep: impl FnMut(&K, u64, u64) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.sentences += 1;
        if let Some(limit) = self.max_vocab_size {
            if self.counts.len() > limit {
                prune_counts(&mut self.counts, self.min_reduce, keep)?;
                self.min_reduce += 1;
            }
        }
        Ok(())
    }

    /// The counts, for [`prune_counts`] and other direct edits.
    pub fn counts_mut(&mut self) -> &mut FxHashMap<K, Counted> {
        &mut self.counts
    }

    /// Number of distinct words held.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// True when no word is held.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Tokens counted (pruned ones included), as gensim's `total_words`.
    pub fn total_words(&self) -> u64 {
        self.total_words
    }

    /// Sentences ended so far.
    pub fn sentences(&self) -> u64 {
        self.sentences
    }

    /// `(word, count)` in insertion order.
    pub fn items(&self) -> Vec<(&K, u64)> {
        let mut v: Vec<(&K, Counted)> = self.counts.iter().map(|(k, c)| (k, *c)).collect();
        v.sort_unstable_by_key(|(_, c)| c.rank);
        v.into_iter().map(|(k, c)| (k, c.count)).collect()
    }

    /// `(word, count)` in insertion order, consuming the counter.
    pub fn into_items(self) -> Vec<(K, u64)> {
        let mut v: Vec<(K, Counted)> = self.counts.into_iter().collect();
        v.sort_unstable_by_key(|(_, c)| c.rank);
        v.into_iter().map(|(k, c)| (k, c.count)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gensim's algorithm written the slow, obvious way: a Vec as an ordered dict.
    fn reference(sentences: &[Vec<&str>], max_vocab_size: usize) -> Vec<(String, u64)> {
        let mut d: Vec<(String, u64)> = Vec::new();
        let mut min_reduce = 1;
        for s in sentences {
            for w in s {
                match d.iter_mut().find(|(k, _)| k == w) {
                    Some(e) => e.1 += 1,
                    None => d.push((w.to_string(), 1)),
                }
            }
            if d.len() > max_vocab_size {
                d.retain(|(_, c)| *c >= min_reduce);
                min_reduce += 1;
            }
        }
        d
    }

    fn count(sentences: &[Vec<&str>], max_vocab_size: Option<usize>) -> WordCounter<String> {
        let mut c = WordCounter::new(max_vocab_size);
        for s in sentences {
            for w in s {
                c.add_borrowed(*w, str::to_string);
            }
            c.end_sentence();
        }
        c
    }

    #[test]
    fn keeps_first_seen_order_and_totals() {
        let c = count(&[vec!["b", "a", "b"], vec![], vec!["c", "a"]], None);
        let items: Vec<(String, u64)> = c.clone().into_items();
        assert_eq!(
            items,
            vec![("b".into(), 2), ("a".into(), 2), ("c".into(), 1)]
        );
        assert_eq!(c.total_words(), 5);
        assert_eq!(c.sentences(), 3);
    }

    #[test]
    fn pruning_matches_the_dict_algorithm() {
        // A pseudo-random corpus with a skewed word distribution.
        let mut x = 12345u64;
        let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        let mut sentences: Vec<Vec<&str>> = Vec::new();
        for _ in 0..300 {
            let mut s = Vec::new();
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 60) as usize; // 0..16, empty sentences included
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = ((x >> 33) % 60) as usize;
                s.push(words[r * r / 60].as_str());
            }
            sentences.push(s);
        }
        for limit in [1, 3, 7, 20, 59, 100] {
            let got = count(&sentences, Some(limit)).into_items();
            assert_eq!(got, reference(&sentences, limit), "max_vocab_size={limit}");
        }
        // Some(0) never prunes, as gensim's truth test.
        assert_eq!(
            count(&sentences, Some(0)).len(),
            count(&sentences, None).len()
        );
    }

    #[test]
    fn a_pruned_word_seen_again_moves_to_the_end() {
        let c = count(&[vec!["a", "b", "b"], vec!["c"], vec!["a"]], Some(1));
        // After sentence 1: {a:1, b:2} > 1 word: prune < 1 (nothing), min_reduce 2.
        // After sentence 2: {a, b, c} > 1: prune < 2 drops a, c; min_reduce 3.
        // After sentence 3: {b:2, a:1} > 1: prune < 3 drops both.
        assert!(c.is_empty());
        let c = count(
            &[vec!["a", "b", "b"], vec!["c"], vec!["d"], vec!["a"]],
            Some(2),
        );
        // Sentence 2: {a:1, b:2, c:1} > 2: prune < 1 drops nothing; min_reduce 2.
        // Sentence 3: {a, b, c, d} > 2: prune < 2 keeps b; min_reduce 3.
        // Sentence 4: a comes back, after b, with a fresh count.
        assert_eq!(
            c.into_items(),
            vec![("b".to_string(), 2), ("a".to_string(), 1)]
        );
    }

    #[test]
    fn trim_rule_errors_stop_the_prune() {
        let mut c: WordCounter<String> = WordCounter::new(Some(1));
        c.add("a".into());
        c.add("b".into());
        let r = c.try_end_sentence(|_, _, _| Err::<bool, _>("boom"));
        assert_eq!(r, Err("boom"));
        assert_eq!(c.len(), 2, "a failing rule drops nothing");
    }
}
