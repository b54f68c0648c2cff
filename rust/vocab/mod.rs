//! Vocabulary: counting words, pruning while counting, the final trim and
//! sort, and Huffman codes for hierarchical softmax.
//!
//! The rules follow gensim 4 so that a model built here has the same
//! vocabulary as gensim's on the same corpus:
//!
//! * While counting, once more than `max_vocab_size` distinct words are held,
//!   every word seen fewer than `min_reduce` times is dropped and `min_reduce`
//!   goes up by one ([`prune_counts`]).
//! * At the end, words below `min_count` are dropped; with `max_final_vocab`
//!   the smallest `min_count` that keeps at most that many words is used
//!   ([`effective_min_count`]).
//! * With `sorted_vocab`, words are ordered by descending count; ties go in
//!   reverse first-seen order, which is what gensim 4's
//!   `sort_by_descending_frequency` produces (a lexsort on `(-index, -count)`).

mod huffman;

pub use huffman::{huffman_codes, HuffmanCodes};

use rustc_hash::FxHashMap;

use crate::{Error, Result};

/// Words and their counts, in the order that fixes their ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vocab {
    /// Words, id order.
    pub words: Vec<String>,
    /// Corpus counts, id order.
    pub counts: Vec<u64>,
}

impl Vocab {
    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// A map from word to id.
    pub fn index(&self) -> FxHashMap<String, u32> {
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect()
    }
}

/// Drops words counted fewer than `min_reduce` times (gensim's `prune_vocab`).
/// Returns how many were dropped.
pub fn prune_counts<K: std::hash::Hash + Eq>(
    counts: &mut FxHashMap<K, u64>,
    min_reduce: u64,
) -> usize {
    let before = counts.len();
    counts.retain(|_, c| *c >= min_reduce);
    before - counts.len()
}

/// The `min_count` actually applied: `min_count`, raised when
/// `max_final_vocab` is set so that at most that many words survive
/// (gensim's rule: the count of the word just past the limit, plus one).
pub fn effective_min_count(counts: &[u64], min_count: u64, max_final_vocab: Option<usize>) -> u64 {
    let mut m = min_count;
    if let Some(limit) = max_final_vocab {
        let mut sorted: Vec<u64> = counts.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        if sorted.len() > limit {
            m = m.max(sorted[limit] + 1);
        }
    }
    m
}

/// Builds the final vocabulary from raw `(word, count)` pairs in first-seen
/// order: drops words below `min_count` (after `max_final_vocab`, see
/// [`effective_min_count`]) and, with `sorted`, orders by descending count
/// (ties: later-seen first, as gensim).
///
/// ```
/// use embedrs::vocab::finalize;
/// let raw = vec![("a".to_string(), 1), ("b".to_string(), 5), ("c".to_string(), 3)];
/// let v = finalize(raw, 2, None, true).unwrap();
/// assert_eq!(v.words, vec!["b", "c"]);
/// ```
pub fn finalize(
    raw: Vec<(String, u64)>,
    min_count: u64,
    max_final_vocab: Option<usize>,
    sorted: bool,
) -> Result<Vocab> {
    let counts: Vec<u64> = raw.iter().map(|(_, c)| *c).collect();
    let m = effective_min_count(&counts, min_count, max_final_vocab);
    let mut kept: Vec<(String, u64)> = raw.into_iter().filter(|(_, c)| *c >= m).collect();
    if sorted {
        kept.reverse();
        kept.sort_by_key(|item| std::cmp::Reverse(item.1));
    }
    let (words, counts) = kept.into_iter().unzip();
    Ok(Vocab { words, counts })
}

/// Checks that `words` has no duplicates; names the first repeated word.
pub fn check_unique(words: &[String]) -> Result<()> {
    let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
    for (i, w) in words.iter().enumerate() {
        if let Some(j) = seen.insert(w.as_str(), i) {
            return Err(Error::invalid(format!(
                "duplicate word {w:?} at positions {j} and {i}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(items: &[(&str, u64)]) -> Vec<(String, u64)> {
        items.iter().map(|(w, c)| (w.to_string(), *c)).collect()
    }

    #[test]
    fn finalize_trims_and_sorts_like_gensim() {
        let v = finalize(
            raw(&[("x", 2), ("y", 9), ("z", 2), ("w", 1), ("q", 9)]),
            2,
            None,
            true,
        )
        .unwrap();
        assert_eq!(v.words, vec!["q", "y", "z", "x"]);
        assert_eq!(v.counts, vec![9, 9, 2, 2]);
        let unsorted = finalize(raw(&[("x", 2), ("y", 9)]), 1, None, false).unwrap();
        assert_eq!(unsorted.words, vec!["x", "y"]);
    }

    #[test]
    fn max_final_vocab_raises_min_count() {
        let counts = [10, 9, 8, 8, 3];
        assert_eq!(effective_min_count(&counts, 1, Some(2)), 9);
        assert_eq!(effective_min_count(&counts, 1, Some(3)), 9);
        assert_eq!(effective_min_count(&counts, 1, Some(4)), 4);
        assert_eq!(effective_min_count(&counts, 5, Some(10)), 5);
        let v = finalize(
            raw(&[("a", 10), ("b", 9), ("c", 8), ("d", 8), ("e", 3)]),
            1,
            Some(3),
            true,
        )
        .unwrap();
        assert_eq!(v.words, vec!["a", "b"]);
    }

    #[test]
    fn prune_drops_rare() {
        let mut m: FxHashMap<String, u64> = FxHashMap::default();
        m.insert("a".into(), 1);
        m.insert("b".into(), 3);
        assert_eq!(prune_counts(&mut m, 2), 1);
        assert!(m.contains_key("b"));
    }

    #[test]
    fn duplicates_are_named() {
        let e = check_unique(&["a".into(), "b".into(), "a".into()]).unwrap_err();
        assert!(e.to_string().contains("\"a\""));
    }
}
