//! Vocabulary: counting words, pruning while counting, the final trim and
//! sort, and Huffman codes for hierarchical softmax.
//!
//! The rules follow gensim 4 so that a model built here has the same
//! vocabulary as gensim's on the same corpus:
//!
//! * While counting, once more than `max_vocab_size` distinct words are held,
//!   every word seen fewer than `min_reduce` times is dropped and `min_reduce`
//!   goes up by one ([`prune_counts`], applied by [`WordCounter`] in corpus
//!   order).
//! * At the end, words below `min_count` are dropped; with `max_final_vocab`
//!   the smallest `min_count` that keeps at most that many words is used
//!   ([`effective_min_count`]).
//! * With `sorted_vocab`, words are ordered by descending count; ties go in
//!   reverse first-seen order, which is what gensim 4's
//!   `sort_by_descending_frequency` produces (a lexsort on `(-index, -count)`).

mod counter;
mod huffman;

pub use counter::{keep_by_count, prune_counts, Counted, WordCounter};
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
    /// The `min_count` applied (see [`effective_min_count`]).
    pub min_count: u64,
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
/// let v = finalize(raw, 2, None, true);
/// assert_eq!(v.words, vec!["b", "c"]);
/// assert_eq!(v.min_count, 2);
/// ```
pub fn finalize(
    raw: Vec<(String, u64)>,
    min_count: u64,
    max_final_vocab: Option<usize>,
    sorted: bool,
) -> Vocab {
    let r: std::result::Result<Vocab, std::convert::Infallible> =
        finalize_with(raw, min_count, max_final_vocab, sorted, |_, c, m| {
            Ok(keep_by_count(c, m))
        });
    let Ok(v) = r;
    v
}

/// [`finalize`] with a rule deciding which words stay: `keep(word, count,
/// min_count)` gets the effective `min_count` (a user's trim rule, which may
/// keep a rare word or drop a frequent one). Stops at the rule's first error.
pub fn finalize_with<E>(
    raw: Vec<(String, u64)>,
    min_count: u64,
    max_final_vocab: Option<usize>,
    sorted: bool,
    mut keep: impl FnMut(&str, u64, u64) -> std::result::Result<bool, E>,
) -> std::result::Result<Vocab, E> {
    let counts: Vec<u64> = raw.iter().map(|(_, c)| *c).collect();
    let m = effective_min_count(&counts, min_count, max_final_vocab);
    let mut kept = Vec::with_capacity(raw.len());
    for (w, c) in raw {
        if keep(&w, c, m)? {
            kept.push((w, c));
        }
    }
    if sorted {
        kept.reverse();
        kept.sort_by_key(|item| std::cmp::Reverse(item.1));
    }
    let (words, counts) = kept.into_iter().unzip();
    Ok(Vocab {
        words,
        counts,
        min_count: m,
    })
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
        );
        assert_eq!(v.words, vec!["q", "y", "z", "x"]);
        assert_eq!(v.counts, vec![9, 9, 2, 2]);
        let unsorted = finalize(raw(&[("x", 2), ("y", 9)]), 1, None, false);
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
        );
        assert_eq!(v.words, vec!["a", "b"]);
        assert_eq!(v.min_count, 9);
    }

    #[test]
    fn a_rule_sees_the_effective_min_count() {
        let items = raw(&[("a", 10), ("b", 9), ("c", 8), ("rare", 1)]);
        let mut seen = Vec::new();
        let v = finalize_with(items, 1, Some(2), true, |w, c, m| {
            seen.push(m);
            Ok::<_, ()>(w == "rare" || c >= m)
        })
        .unwrap();
        assert!(seen.iter().all(|&m| m == 9));
        assert_eq!(v.words, vec!["a", "b", "rare"]);
        assert_eq!(v.min_count, 9);
        let e = finalize_with(raw(&[("a", 1)]), 1, None, true, |_, _, _| Err("no"));
        assert_eq!(e.unwrap_err(), "no");
    }

    #[test]
    fn duplicates_are_named() {
        let e = check_unique(&["a".into(), "b".into(), "a".into()]).unwrap_err();
        assert!(e.to_string().contains("\"a\""));
    }
}
