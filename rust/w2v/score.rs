//! Log-likelihood of sentences under a trained hierarchical-softmax model
//! (gensim's `Word2Vec.score`; Taddy, "Document Classification by Inversion
//! of Distributed Language Representations", 2015).
//!
//! A sentence's score is the sum, over its words `w` and the words `c` of
//! their full (never shrunk) window, of `log P(w | c)` for skip-gram, or
//! over its words of `log P(w | context)` for CBOW, where `P` is the
//! product along `w`'s Huffman path of `σ(±u·h)` (see [`super::sgd`]).
//! Like the word2vec C tool and gensim, path nodes with `|u·h| ≥ 6` add
//! nothing, and `log σ` is read from the tabulated sigmoid at the index
//! those programs compute, so the numbers are gensim's up to float
//! rounding. Their index is `(x + 6) · (1000 / 6 / 2)` with the constant
//! divided as integers, i.e. `(x + 6) · 83` rather than `· 83.33`: a
//! slightly lower table entry than `x` itself, kept here so that scores
//! compare with gensim's.

use crate::linalg::{axpy, dot, scale, SigmoidTable, Unfused, MAX_EXP};

/// gensim's and the C tool's table index scale, `1000 / 6 / 2` in integers.
const C_INDEX_SCALE: f32 = 83.0;
use crate::vocab::HuffmanCodes;

/// The frozen weights and settings a score needs.
pub(crate) struct Scorer<'a> {
    pub syn0: &'a [f32],
    pub syn1: &'a [f32],
    pub dim: usize,
    pub huffman: &'a HuffmanCodes,
    pub sigmoid: &'a SigmoidTable,
    pub window: usize,
    pub sg: bool,
    pub cbow_mean: bool,
}

impl Scorer<'_> {
    fn row<'m>(&self, m: &'m [f32], r: u32) -> &'m [f32] {
        &m[r as usize * self.dim..(r as usize + 1) * self.dim]
    }

    /// `log P(word | h)` along `word`'s Huffman path.
    fn log_prob(&self, word: u32, h: &[f32]) -> f32 {
        let hf = self.huffman;
        let mut sum = 0.0f32;
        for &step in hf.path(word as usize) {
            let (code, point) = (HuffmanCodes::branch(step), HuffmanCodes::node(step));
            let f = dot(h, self.row(self.syn1, point));
            let f = if code == 0 { f } else { -f };
            if f <= -MAX_EXP || f >= MAX_EXP {
                continue;
            }
            sum += self
                .sigmoid
                .entry(((f + MAX_EXP) * C_INDEX_SCALE) as usize)
                .ln();
        }
        sum
    }

    /// The score of one sentence of in-vocabulary ids; `neu1` is scratch.
    pub fn sentence(&self, sent: &[u32], neu1: &mut Vec<f32>) -> f32 {
        let mut total = 0.0f32;
        neu1.resize(self.dim, 0.0);
        for (i, &word) in sent.iter().enumerate() {
            let start = i.saturating_sub(self.window);
            let end = (i + self.window + 1).min(sent.len());
            if self.sg {
                for (j, &ctx) in sent[start..end].iter().enumerate() {
                    if start + j != i {
                        total += self.log_prob(word, self.row(self.syn0, ctx));
                    }
                }
            } else {
                neu1.fill(0.0);
                let mut count = 0usize;
                for (j, &ctx) in sent[start..end].iter().enumerate() {
                    if start + j != i {
                        axpy::<Unfused>(1.0, self.row(self.syn0, ctx), neu1);
                        count += 1;
                    }
                }
                if self.cbow_mean && count > 0 {
                    scale(1.0 / count as f32, neu1);
                }
                total += self.log_prob(word, neu1);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two words: one inner node, word 0 takes branch `codes[0][0]`.
    #[test]
    fn a_two_word_sentence_scores_the_log_sigmoid_of_each_pair() {
        let hf = crate::vocab::huffman_codes(&[3, 1]).unwrap();
        let sig = SigmoidTable::new();
        let syn0 = [0.5f32, 1.0, -1.0, 0.25];
        let syn1 = [0.2f32, -0.4, 0.0, 0.0];
        let scorer = |sg, cbow_mean| Scorer {
            syn0: &syn0,
            syn1: &syn1,
            dim: 2,
            huffman: &hf,
            sigmoid: &sig,
            window: 5,
            sg,
            cbow_mean,
        };
        let node = hf.points(0)[0] as usize;
        assert_eq!(node, hf.points(1)[0] as usize);
        let u = &syn1[node * 2..node * 2 + 2];
        // word w predicted from the vector of the other word
        let lp = |w: usize, h: [f32; 2]| {
            let f = u[0] * h[0] + u[1] * h[1];
            let f = if hf.codes(w)[0] == 0 { f } else { -f };
            sig.entry(((f + MAX_EXP) * 83.0) as usize).ln()
        };
        let want = lp(0, [-1.0, 0.25]) + lp(1, [0.5, 1.0]);
        let mut scratch = Vec::new();
        for (sg, mean) in [(true, false), (false, false), (false, true)] {
            // with one context word, the CBOW sum and mean are that word's vector
            let got = scorer(sg, mean).sentence(&[0, 1], &mut scratch);
            assert!(
                (got - want).abs() < 1e-6,
                "sg={sg} mean={mean}: {got} vs {want}"
            );
        }
        assert_eq!(scorer(true, false).sentence(&[0], &mut scratch), 0.0);
    }
}
