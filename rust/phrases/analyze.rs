//! Applying phrases to a sentence (gensim's `analyze_sentence`) and listing
//! the phrases a table supports (`export_phrases`).
//!
//! The walk is gensim's, greedy from the left: a non-connector token opens
//! a candidate; connector words extend it; the next non-connector token
//! closes it and the candidate (first token, connectors, last token) is
//! scored. A phrase is emitted whole and the walk starts afresh after it; a
//! rejected candidate releases its tokens one by one and its last token opens
//! the next candidate. Two quirks are kept on purpose: a candidate is open
//! only while its first token is a non-empty string (gensim tests
//! `if start_token:`, so an empty token is dropped from the output), and
//! connector words outside a candidate pass through unchanged.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

#[cfg(test)]
use super::count::ends;
use super::count::{PhraseCounts, PhraseSettings};
use super::score::Scoring;

/// One output token of [`analyze_sentence`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Piece {
    /// Input token `i`, not part of a phrase.
    Token(usize),
    /// Input tokens `first..=last` joined into a phrase, with its score.
    Phrase {
        /// Index of the phrase's first token.
        first: usize,
        /// Index of its last token.
        last: usize,
        /// Its score.
        score: f64,
    },
}

/// Scores a candidate phrase: `tokens` is the candidate (first token, the
/// connector words, last token) and `joined` its text joined by the
/// delimiter. `None` means "not a phrase".
pub trait CandidateScorer {
    /// gensim's `score_candidate`.
    fn score(&self, tokens: &[&[u8]], joined: &[u8]) -> Option<f64>;
}

/// A trained [`PhraseCounts`] table with a built-in scorer (gensim's
/// `Phrases.score_candidate`).
pub struct TableScorer<'a> {
    /// The unigram + bigram counts.
    pub counts: &'a PhraseCounts,
    /// The scorer.
    pub scoring: Scoring,
    /// gensim's `min_count`.
    pub min_count: f64,
    /// gensim's `threshold`: a phrase needs a score above it.
    pub threshold: f64,
    /// gensim's `corpus_word_count`.
    pub corpus_word_count: u64,
    /// `len(vocab)`, passed to the scorer.
    pub len_vocab: u64,
}

impl CandidateScorer for TableScorer<'_> {
    fn score(&self, tokens: &[&[u8]], joined: &[u8]) -> Option<f64> {
        let a = self.counts.get(tokens[0]);
        if a == 0 {
            return None;
        }
        let b = self.counts.get(tokens[tokens.len() - 1]);
        if b == 0 {
            return None;
        }
        self.score_counts(a, b, self.counts.get(joined))
    }
}

impl TableScorer<'_> {
    /// The score of a candidate from its counts (first word, last word,
    /// the whole phrase); `None` when a count is zero or the score is not
    /// above the threshold.
    pub fn score_counts(&self, a: u64, b: u64, ab: u64) -> Option<f64> {
        if a == 0 || b == 0 || ab == 0 {
            return None;
        }
        let s = self.scoring.score(
            a,
            b,
            ab,
            self.len_vocab,
            self.min_count,
            self.corpus_word_count,
        );
        // gensim rejects `score <= threshold`, so a NaN score is accepted.
        if s <= self.threshold {
            None
        } else {
            Some(s)
        }
    }
}

/// Exported phrases and their scores (gensim's `FrozenPhrases`).
pub struct FrozenScorer {
    /// Phrase text (joined by the delimiter) to score.
    pub phrasegrams: FxHashMap<Box<[u8]>, f64>,
    /// A phrase needs a score above it.
    pub threshold: f64,
}

impl CandidateScorer for FrozenScorer {
    fn score(&self, _tokens: &[&[u8]], joined: &[u8]) -> Option<f64> {
        let s = self
            .phrasegrams
            .get(joined)
            .copied()
            .unwrap_or(f64::NEG_INFINITY);
        if s > self.threshold {
            Some(s)
        } else {
            None
        }
    }
}

/// gensim's `analyze_sentence`: the sentence with detected phrases joined,
/// as [`Piece`]s that refer to the input tokens.
///
/// ```
/// use embedrs::phrases::{analyze_sentence, FrozenScorer, PhraseSettings, Piece};
/// let settings = PhraseSettings::new("_", ["of"], 100);
/// let scorer = FrozenScorer {
///     phrasegrams: [(b"bank_of_america".as_slice().into(), 5.0)].into_iter().collect(),
///     threshold: 1.0,
/// };
/// let s: Vec<&[u8]> = vec![b"the", b"bank", b"of", b"america"];
/// let out = analyze_sentence(&settings, &scorer, &s, &mut Vec::new());
/// assert_eq!(out, vec![Piece::Token(0), Piece::Phrase { first: 1, last: 3, score: 5.0 }]);
/// ```
pub fn analyze_sentence(
    settings: &PhraseSettings,
    scorer: &impl CandidateScorer,
    sentence: &[&[u8]],
    joined: &mut Vec<u8>,
) -> Vec<Piece> {
    let mut out = Vec::with_capacity(sentence.len());
    // Index of the open candidate's first token (only non-empty tokens open one).
    let mut start: Option<usize> = None;
    for (i, w) in sentence.iter().enumerate() {
        if !settings.is_connector(w) {
            if let Some(s) = start {
                let cand = &sentence[s..=i];
                settings.join_into(cand, joined);
                if let Some(score) = scorer.score(cand, joined) {
                    out.push(Piece::Phrase {
                        first: s,
                        last: i,
                        score,
                    });
                    start = None;
                    continue;
                }
                out.extend((s..i).map(Piece::Token));
            }
            start = (!w.is_empty()).then_some(i);
        } else if start.is_none() {
            out.push(Piece::Token(i));
        }
    }
    if let Some(s) = start {
        out.extend((s..sentence.len()).map(Piece::Token));
    }
    out
}

/// gensim's `export_phrases`: every entry of the table that splits on the
/// delimiter into two or more parts and scores as a phrase (first part, last
/// part, the parts between as connectors), in table order. The delimiter
/// must not be empty (gensim's `str.split` raises on it). Entries are
/// scored in parallel on `pool`.
pub fn export_phrases<'a>(
    settings: &PhraseSettings,
    scorer: &TableScorer<'a>,
    pool: &rayon::ThreadPool,
) -> Vec<(Cow<'a, [u8]>, f64)> {
    scorer
        .counts
        .filter_bigrams(pool, &settings.delimiter, |a, b, ab| {
            scorer.score_counts(a, b, ab)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<(&'static str, f64)>);
    impl CandidateScorer for Fixed {
        fn score(&self, _: &[&[u8]], joined: &[u8]) -> Option<f64> {
            self.0
                .iter()
                .find(|(k, _)| k.as_bytes() == joined)
                .map(|(_, s)| *s)
        }
    }

    fn run(scores: Fixed, sentence: &[&str]) -> Vec<String> {
        let settings = PhraseSettings::new("_", ["a", "the", "with", "of"], 100);
        let toks: Vec<&[u8]> = sentence.iter().map(|s| s.as_bytes()).collect();
        analyze_sentence(&settings, &scores, &toks, &mut Vec::new())
            .into_iter()
            .map(|p| match p {
                Piece::Token(i) => sentence[i].to_string(),
                Piece::Phrase { first, last, .. } => sentence[first..=last].join("_"),
            })
            .collect()
    }

    #[test]
    fn greedy_left_to_right_with_connectors() {
        let f = || {
            Fixed(vec![
                ("simple_sentence", 2.0),
                ("sentence_with_many", 2.0),
                ("many_possible", 2.0),
                ("many_of_the_possible", 2.0),
                ("possible_bigrams", 2.0),
            ])
        };
        assert_eq!(
            run(f(), &["sentence", "with", "many", "possible", "bigrams"]),
            ["sentence_with_many", "possible_bigrams"]
        );
        assert_eq!(
            run(
                f(),
                &[
                    "a", "simple", "sentence", "with", "many", "of", "the", "possible", "bigrams",
                    "with"
                ]
            ),
            [
                "a",
                "simple_sentence",
                "with",
                "many_of_the_possible",
                "bigrams",
                "with"
            ]
        );
    }

    #[test]
    fn empty_tokens_never_open_a_candidate() {
        // gensim drops an empty non-connector token ("if start_token:").
        assert_eq!(run(Fixed(vec![]), &["x", "", "y"]), ["x", "y"]);
        assert_eq!(run(Fixed(vec![]), &["", "the", "y"]), ["the", "y"]);
    }

    #[test]
    fn ends_are_those_of_pythons_split() {
        assert_eq!(ends(b"a__b", b"_"), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(ends(b"ab", b"_"), None);
        assert_eq!(ends(b"a::b::", b"::"), Some((&b"a"[..], &b""[..])));
        // ":::".split("::") == ["", ":"]
        assert_eq!(ends(b":::", b"::"), Some((&b""[..], &b":"[..])));
    }
}
