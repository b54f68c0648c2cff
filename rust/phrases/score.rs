//! gensim's two built-in phrase scorers, computed in the same floating-point
//! order as gensim's Python so that scores are bit-identical.
//!
//! * `default` ([`original_score`], Mikolov et al. 2013):
//!   `(bigram_count - min_count) / (count_a * count_b) * len_vocab`. Python
//!   forms `count_a * count_b` as an exact integer and rounds it once to a
//!   float; the `u128` product rounded by `as f64` is the same value.
//! * `npmi` ([`npmi_score`], Bouma 2009): with `p(x) = count(x) / N`,
//!   `ln(p(ab) / (p(a) p(b))) / -ln(p(ab))`, in `[-1, 1]`; `-inf` below
//!   `min_count` or when a logarithm is undefined.

/// Which scorer a model uses (the strings gensim accepts for `scoring`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scoring {
    /// `scoring="default"`: [`original_score`].
    Default,
    /// `scoring="npmi"`: [`npmi_score`].
    Npmi,
}

impl Scoring {
    /// Parses gensim's name for a built-in scorer.
    pub fn parse(name: &str) -> Option<Scoring> {
        match name {
            "default" => Some(Scoring::Default),
            "npmi" => Some(Scoring::Npmi),
            _ => None,
        }
    }

    /// Scores a candidate with this scorer (arguments as gensim names them).
    pub fn score(
        self,
        worda_count: u64,
        wordb_count: u64,
        bigram_count: u64,
        len_vocab: u64,
        min_count: f64,
        corpus_word_count: u64,
    ) -> f64 {
        match self {
            Scoring::Default => {
                original_score(worda_count, wordb_count, bigram_count, len_vocab, min_count)
            }
            Scoring::Npmi => npmi_score(
                worda_count,
                wordb_count,
                bigram_count,
                min_count,
                corpus_word_count,
            ),
        }
    }
}

/// gensim's `original_scorer`; `-inf` when either word count is zero.
///
/// ```
/// use embedrs::phrases::original_score;
/// // graph (3) minors (2), bigram seen twice, 31 entries, min_count 1
/// assert!((original_score(3, 2, 2, 31, 1.0) - 31.0 / 6.0).abs() < 1e-12);
/// ```
pub fn original_score(
    worda_count: u64,
    wordb_count: u64,
    bigram_count: u64,
    len_vocab: u64,
    min_count: f64,
) -> f64 {
    let denom = u128::from(worda_count) * u128::from(wordb_count);
    if denom == 0 {
        return f64::NEG_INFINITY;
    }
    (bigram_count as f64 - min_count) / (denom as f64) * (len_vocab as f64)
}

/// gensim's `npmi_scorer`.
pub fn npmi_score(
    worda_count: u64,
    wordb_count: u64,
    bigram_count: u64,
    min_count: f64,
    corpus_word_count: u64,
) -> f64 {
    if (bigram_count as f64) < min_count {
        return f64::NEG_INFINITY;
    }
    let n = corpus_word_count as f64;
    let pa = worda_count as f64 / n;
    let pb = wordb_count as f64 / n;
    let pab = bigram_count as f64 / n;
    let ratio = pab / (pa * pb);
    // Python's math.log raises ValueError for 0 and negatives, which gensim
    // turns into -inf.
    if ratio.is_nan() || ratio <= 0.0 || pab.is_nan() || pab <= 0.0 {
        return f64::NEG_INFINITY;
    }
    ratio.ln() / -pab.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matches_the_formula_and_guards_zero() {
        assert_eq!(original_score(0, 5, 1, 10, 1.0), f64::NEG_INFINITY);
        assert_eq!(original_score(4, 5, 3, 10, 1.0), (3.0 - 1.0) / 20.0 * 10.0);
        // negative when the bigram is rarer than min_count
        assert!(original_score(4, 5, 1, 10, 5.0) < 0.0);
    }

    #[test]
    fn npmi_is_bounded_and_respects_min_count() {
        assert_eq!(npmi_score(3, 3, 1, 2.0, 100), f64::NEG_INFINITY);
        // perfectly associated words score 1
        let s = npmi_score(2, 2, 2, 1.0, 100);
        assert!((s - 1.0).abs() < 1e-12);
        let s = npmi_score(50, 40, 3, 1.0, 100);
        assert!((-1.0..=1.0).contains(&s));
    }
}
