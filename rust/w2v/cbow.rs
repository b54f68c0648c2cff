//! CBOW: the sum (or, with `cbow_mean`, the mean) of the context rows in the
//! (shrunk) window predicts the centre word; the input gradient is added to
//! every context row. As in gensim, the gradient is divided by the context
//! size when the input is the *sum* (`cbow_mean = false`), and applied whole
//! to each context row when it is the mean.

use super::engine::{train_sentences, Examples, PerSentence};
use super::model::ModelRef;
use super::worker::Worker;
use crate::corpus::Job;
use crate::linalg::MulAdd;

/// The CBOW example generator: the (shrunk) window of each word of a
/// sentence, summed or averaged, predicts the word.
pub(crate) struct Cbow;

impl Examples for Cbow {
    type Job = Job;

    fn raw_size(job: &Job) -> u64 {
        job.raw_words
    }

    #[inline(always)]
    fn train<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        job: &Job,
        alpha: f32,
    ) -> (u64, f64) {
        train_sentences::<M, _>(self, model, w, job, alpha)
    }
}

/// Inner nodes of the Huffman tree each CBOW worker keeps a private copy
/// of (hierarchical softmax; `sgd::HotCache`): the root and about eight
/// levels below it, four times skip-gram's
/// [`HOT_INNER_NODES`](crate::w2v::sgd::HOT_INNER_NODES). Below the seven
/// levels that every example updates come levels that a large share of
/// examples update; with two workers each of those writes also moved cache
/// lines between the cores. Measured (`benches/RESULTS.md`, "CBOW keeps
/// more of the Huffman tree per worker"): 2 workers train CBOW HS 1.12x
/// (4M tokens) and 1.15x (17.3M tokens) faster, analogy accuracy within
/// the seeds' spread; 1,024 nodes were no faster. Skip-gram keeps 128: its
/// analogy accuracy fell 0.4-0.8 points in each of four seeds with 512.
const HOT_INNER_NODES: usize = 512;

impl PerSentence for Cbow {
    const HOT_NEGATIVES: bool = true;
    const HOT_INNER_NODES: usize = HOT_INNER_NODES;

    #[inline(always)]
    fn sentence<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        sent: &[u32],
        alpha: f32,
    ) -> f64 {
        train_sentence::<M>(model, w, sent, alpha)
    }
}

/// Trains CBOW on one sentence of word ids (already subsampled).
#[inline(always)]
pub(crate) fn train_sentence<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    sent: &[u32],
    alpha: f32,
) -> f64 {
    let window = model.window;
    let len = sent.len();
    let mut loss = 0.0;
    for pos in 0..len {
        w.advance(model, sent, pos);
        let b = if model.shrink_windows {
            w.rng.below(window)
        } else {
            0
        };
        let reach = window - b;
        let start = pos.saturating_sub(reach);
        let end = (pos + reach + 1).min(len);
        w.h.fill(0.0);
        let count = end - start - 1;
        let ctx = (start..end).filter(|&p| p != pos).map(|p| sent[p]);
        model.syn0.add_rows_to::<M>(ctx, &mut w.h);
        if count == 0 {
            continue;
        }
        let inv = 1.0 / count as f32;
        if model.cbow_mean {
            crate::linalg::scale(inv, &mut w.h);
        }
        loss += w.train_output::<M>(model, sent[pos], alpha);
        if !model.cbow_mean {
            crate::linalg::scale(inv, &mut w.neu1e);
        }
        for pos2 in start..end {
            if pos2 != pos {
                let c = sent[pos2] as usize;
                let scale = model.lock_factors.map_or(1.0, |f| f[c]);
                if scale != 0.0 {
                    model.syn0.axpy_row::<M>(c, scale, &w.neu1e);
                }
            }
        }
    }
    loss
}
