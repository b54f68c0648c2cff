//! The two output layers of word2vec and their SGD updates.
//!
//! Both layers score an input vector `h` (a word's `syn0` row for skip-gram,
//! the sum or mean of the context rows for CBOW) against output rows `u`.
//!
//! **Negative sampling.** For the true target (label `y = 1`) and `k` noise
//! words (label `y = 0`) the loss is
//! `L = -Σ [ y log σ(u·h) + (1 - y) log σ(-u·h) ]`.
//! Since `d/dx log σ(x) = 1 - σ(x)`, `∂L/∂(u·h) = σ(u·h) - y`, so a step of
//! size `α` is `u ← u + g h` and `h ← h + g u` with `g = α (y - σ(u·h))`
//! (the update to `h` uses `u` before its own update, and is accumulated in
//! `neu1e` and applied by the caller once all outputs are done).
//!
//! **Hierarchical softmax.** A word is the leaf reached by the branch bits
//! `c_k` along inner nodes `u_k`; `P(word | h) = Π σ((1 - 2 c_k) u_k·h)`.
//! With `x = u_k·h` and `y = 1 - c_k` each factor is the negative-sampling
//! term with label `y`, hence the same update with `g = α (1 - c_k - σ(x))`.
//! Nodes with `|x| ≥ 6` are skipped, as in the word2vec C tool and gensim.

use crate::hogwild::SharedMatrix;
use crate::linalg::{SigmoidTable, MAX_EXP};
use crate::sampling::{Rng, UnigramTable};
use crate::vocab::HuffmanCodes;

/// Read-only tables plus shared output matrices used by one training call.
pub struct OutputLayers<'a> {
    /// Negative-sampling output rows (`syn1neg`), one per word.
    pub syn1neg: Option<SharedMatrix<'a>>,
    /// Noise distribution for negatives.
    pub noise: Option<&'a UnigramTable>,
    /// Number of negatives per positive.
    pub negative: usize,
    /// Hierarchical-softmax inner-node rows (`syn1`).
    pub syn1: Option<SharedMatrix<'a>>,
    /// Huffman codes of the vocabulary.
    pub huffman: Option<&'a HuffmanCodes>,
    /// Tabulated logistic function.
    pub sigmoid: &'a SigmoidTable,
}

impl OutputLayers<'_> {
    /// Draws the noise words for one example into `out` (cleared first).
    #[inline(always)]
    pub fn draw_negatives(&self, rng: &mut Rng, out: &mut Vec<u32>) {
        out.clear();
        if let Some(noise) = self.noise {
            for _ in 0..self.negative {
                out.push(noise.sample(rng));
            }
        }
    }

    /// Starts loading the output rows an example for `word` with noise
    /// words `negatives` will touch (a cache hint, see
    /// [`SharedMatrix::prefetch_row`]).
    #[inline(always)]
    pub fn prefetch(&self, word: u32, negatives: &[u32]) {
        if let Some(syn1neg) = &self.syn1neg {
            syn1neg.prefetch_row(word as usize);
            for &n in negatives {
                syn1neg.prefetch_row(n as usize);
            }
        }
    }

    /// Applies one training example: input vector `h` should predict `word`,
    /// against the noise words `negatives` (drawn with
    /// [`OutputLayers::draw_negatives`]; one equal to `word` is skipped).
    ///
    /// Output rows are updated in place; the gradient for `h` is added to
    /// `neu1e`. Returns the example's loss when `compute_loss` (else 0).
    #[inline(always)]
    pub fn train(
        &self,
        word: u32,
        negatives: &[u32],
        h: &[f32],
        neu1e: &mut [f32],
        alpha: f32,
        compute_loss: bool,
    ) -> f64 {
        let mut loss = 0.0f64;
        if let (Some(syn1), Some(hf)) = (&self.syn1, self.huffman) {
            let codes = &hf.codes[word as usize];
            let points = &hf.points[word as usize];
            for (&code, &point) in codes.iter().zip(points) {
                let x = syn1.dot_row(point as usize, h);
                if x <= -MAX_EXP || x >= MAX_EXP {
                    continue;
                }
                let g = (1.0 - code as f32 - self.sigmoid.get(x)) * alpha;
                if compute_loss {
                    let sign = 1.0 - 2.0 * code as f32;
                    loss -= SigmoidTable::log_sigmoid(sign * x) as f64;
                }
                syn1.accumulate_and_update(point as usize, g, h, neu1e);
            }
        }
        if let Some(syn1neg) = &self.syn1neg {
            let targets = std::iter::once((word, 1.0f32)).chain(
                negatives
                    .iter()
                    .filter(|&&t| t != word)
                    .map(|&t| (t, 0.0f32)),
            );
            for (target, label) in targets {
                let x = syn1neg.dot_row(target as usize, h);
                let g = (label - self.sigmoid.get(x)) * alpha;
                if compute_loss {
                    let sign = 2.0 * label - 1.0;
                    loss -= SigmoidTable::log_sigmoid(sign * x) as f64;
                }
                syn1neg.accumulate_and_update(target as usize, g, h, neu1e);
            }
        }
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One negative-sampling step against a hand-computed update
    /// (no negatives: only the positive target).
    #[test]
    fn one_positive_step_matches_hand_computation() {
        let sig = SigmoidTable::new();
        let mut out = vec![0.5f32, -0.25, 0.0, 0.0, 1.0, 1.0];
        let noise = UnigramTable::new(&[1, 1], 0.75, 100).unwrap();
        let h = [0.2f32, 0.4];
        let mut neu1e = [0.0f32; 2];
        let alpha = 0.1;
        {
            let layers = OutputLayers {
                syn1neg: Some(SharedMatrix::new(&mut out, 3, 2)),
                noise: Some(&noise),
                negative: 0,
                syn1: None,
                huffman: None,
                sigmoid: &sig,
            };
            let loss = layers.train(0, &[], &h, &mut neu1e, alpha, true);
            // x = 0.5*0.2 - 0.25*0.4 = 0 -> sigma = 0.5 (table), g = 0.05
            assert!((loss - std::f64::consts::LN_2).abs() < 1e-6);
        }
        let g = (1.0 - sig.get(0.0)) * alpha;
        assert!((neu1e[0] - g * 0.5).abs() < 1e-7);
        assert!((neu1e[1] - g * -0.25).abs() < 1e-7);
        assert!((out[0] - (0.5 + g * 0.2)).abs() < 1e-7);
        assert!((out[1] - (-0.25 + g * 0.4)).abs() < 1e-7);
        assert_eq!(&out[2..], &[0.0, 0.0, 1.0, 1.0]);
    }

    /// Hierarchical softmax with a two-word vocabulary has a single inner
    /// node; word 0 takes branch `code`, and its update has label 1 - code.
    #[test]
    fn hierarchical_softmax_step() {
        let sig = SigmoidTable::new();
        let hf = crate::vocab::huffman_codes(&[3, 1]).unwrap();
        let mut syn1 = vec![0.0f32; 4];
        let h = [1.0f32, 2.0];
        let mut neu1e = [0.0f32; 2];
        {
            let layers = OutputLayers {
                syn1neg: None,
                noise: None,
                negative: 0,
                syn1: Some(SharedMatrix::new(&mut syn1, 2, 2)),
                huffman: Some(&hf),
                sigmoid: &sig,
            };
            layers.train(0, &[], &h, &mut neu1e, 0.5, false);
        }
        let code = hf.codes[0][0] as f32;
        let g = (1.0 - code - 0.5) * 0.5;
        assert!((syn1[0] - g * 1.0).abs() < 1e-6 && (syn1[1] - g * 2.0).abs() < 1e-6);
        assert_eq!(neu1e, [0.0, 0.0]); // the node row was zero before the step
    }
}

#[cfg(test)]
mod negatives_tests {
    use super::*;

    #[test]
    fn draws_requested_number_of_negatives_from_the_noise_distribution() {
        let sig = SigmoidTable::new();
        let noise = UnigramTable::new(&[10, 5, 1, 0], 0.75, 0).unwrap();
        let layers = OutputLayers {
            syn1neg: None,
            noise: Some(&noise),
            negative: 7,
            syn1: None,
            huffman: None,
            sigmoid: &sig,
        };
        let mut rng = Rng::new(3);
        let mut out = Vec::new();
        let mut seen = [0usize; 4];
        for _ in 0..1000 {
            layers.draw_negatives(&mut rng, &mut out);
            assert_eq!(out.len(), 7);
            for &n in &out {
                seen[n as usize] += 1;
            }
        }
        assert_eq!(seen[3], 0);
        assert!(
            seen[0] > seen[1] && seen[1] > seen[2] && seen[2] > 0,
            "{seen:?}"
        );
    }
}
