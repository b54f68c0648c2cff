//! Skip-gram: every word in the (shrunk) window of a centre word is used as
//! input to predict the centre word, as gensim and the C tool orient it (the
//! input row is the context word's, the output row the centre word's).
//!
//! # Window-batched update
//!
//! All pairs that share a centre word also share its output rows: the
//! Huffman path of the centre word (hierarchical softmax, batched this way
//! only when combined with negative sampling: see below), and the positive
//! row plus — as in Ji et al., "Parallelizing Word2Vec in Shared and
//! Distributed Memory" (2016) — one draw of `negative` noise words for the
//! whole window (negative sampling). So a window is trained as a small
//! matrix product instead of `2·window` separate pair updates:
//!
//! * `H` (`c x d`): the input rows of the `c` context words, copied once;
//! * for each output row `u` (copied once): `x_j = H_j·u`,
//!   `g_j = α (y - σ(x_j))`, `ΔH_j += g_j u`, `Δu = Σ_j g_j H_j`;
//! * write back `u += Δu` once per output row and `syn0[ctx_j] += ΔH_j`.
//!
//! Every (context, output) term is the same gradient as in the per-pair
//! algorithm (see [`super::sgd`]); the differences are that the output rows
//! within one window are read before any of that window's updates (a
//! minibatch of at most `2·window` pairs, the same staleness Hogwild
//! already accepts across threads) and that negatives are shared within the
//! window. Each output row is then read and written once per window
//! instead of once per pair, and the kernel ([`crate::linalg::window_step`])
//! keeps it in registers while it meets every context row.
//!
//! Hierarchical softmax alone keeps gensim's per-pair update: the window
//! update measured faster (0.93M against 0.83M words/s, full corpus, 2
//! workers) but lost 1.7 points of analogy accuracy (21.6% against 23.3-
//! 23.5%, one epoch), because every context of a window pushes the whole
//! shared Huffman path with the same stale scores. The per-pair update
//! scores a path's nodes four at a time instead (`sgd`), which is exact.
//! With negative sampling too, both layers take the window update.

use super::engine::{train_sentences, Examples, PerSentence};
use super::model::ModelRef;
use super::worker::Worker;
use crate::corpus::Job;
use crate::linalg::{window_step, MulAdd, SigmoidTable, MAX_EXP};
use crate::vocab::HuffmanCodes;

/// The skip-gram example generator: each word of a sentence with the words
/// of its (shrunk) window.
pub(crate) struct SkipGram;

impl Examples for SkipGram {
    type Job = Job;

    /// The window-batched update is faster at 512 bits even on 100-float
    /// rows (skip-gram NS 1.06x; HS the same either way).
    const NARROW_ON_256: bool = false;

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

impl PerSentence for SkipGram {
    // the window-batched update writes each output row once per window
    const HOT_NEGATIVES: bool = false;

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

/// Trains skip-gram on one sentence of word ids (already subsampled).
/// Returns the summed loss (0 unless the model computes it).
#[inline(always)]
pub(crate) fn train_sentence<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    sent: &[u32],
    alpha: f32,
) -> f64 {
    let window = model.window;
    let len = sent.len();
    let dim = model.syn0.cols();
    let mut loss = 0.0;
    w.ensure_window_buffers(2 * window, dim);
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
        w.ctx.clear();
        // plain slices, not an iterator chain with closures: closures are
        // not compiled with the job loop's instruction set unless inlined
        w.ctx.extend_from_slice(&sent[start..pos]);
        w.ctx.extend_from_slice(&sent[pos + 1..end]);
        if w.ctx.is_empty() {
            continue;
        }
        if model.layers.syn1neg.is_none() {
            // Hierarchical softmax alone: gensim's per-pair update, for its
            // accuracy (see the module documentation).
            for k in 0..w.ctx.len() {
                let ctx = w.ctx[k];
                loss += train_pair_with::<M>(model, w, sent[pos], ctx, alpha);
            }
            continue;
        }
        loss += train_window::<M>(model, w, sent[pos], alpha);
    }
    loss
}

/// Trains the pairs (context_j -> word) for all `w.ctx` at once.
#[inline(always)]
fn train_window<M: MulAdd>(model: &ModelRef<'_>, w: &mut Worker, word: u32, alpha: f32) -> f64 {
    let dim = model.syn0.cols();
    let c = w.ctx.len();
    for (j, &ctx) in w.ctx.iter().enumerate() {
        model
            .syn0
            .read_row(ctx as usize, &mut w.hin[j * dim..(j + 1) * dim]);
    }
    w.gin[..c * dim].fill(0.0);
    let mut loss = 0.0f64;
    let layers = &model.layers;
    if let (Some(syn1), Some(hf)) = (&layers.syn1, layers.huffman) {
        for &step in hf.path(word as usize) {
            let label = 1.0 - HuffmanCodes::branch(step) as f32;
            let point = HuffmanCodes::node(step) as usize;
            loss += output_row::<M>(model, w, syn1, point, label, alpha, true, c);
        }
    }
    if let Some(syn1neg) = &layers.syn1neg {
        loss += output_row::<M>(model, w, syn1neg, word as usize, 1.0, alpha, false, c);
        for k in 0..w.neg.len() {
            let t = w.neg[k];
            if t != word {
                loss += output_row::<M>(model, w, syn1neg, t as usize, 0.0, alpha, false, c);
            }
        }
    }
    for (j, &ctx) in w.ctx.iter().enumerate() {
        let scale = model.lock_factors.map_or(1.0, |f| f[ctx as usize]);
        if scale != 0.0 {
            model
                .syn0
                .axpy_row::<M>(ctx as usize, scale, &w.gin[j * dim..(j + 1) * dim]);
        }
    }
    loss
}

/// One output row against all `c` context rows of the window: a
/// hierarchical-softmax node (`hs`: saturated pairs skipped, the worker's
/// copy used when the row is hot) or a negative-sampling row.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn output_row<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    out: &crate::hogwild::SharedMatrix<'_>,
    row: usize,
    label: f32,
    alpha: f32,
    hs: bool,
    c: usize,
) -> f64 {
    let dim = out.cols();
    let Worker {
        hin, gin, gs, hot, ..
    } = w;
    let (hin, gin) = (&hin[..c * dim], &mut gin[..c * dim]);
    let gs = &mut gs[..c];
    let sigmoid = model.layers.sigmoid;
    let compute_loss = model.compute_loss;
    let mut loss = 0.0f64;
    let grad = |x: f32| {
        if hs && (x <= -MAX_EXP || x >= MAX_EXP) {
            return 0.0;
        }
        if compute_loss {
            loss -= SigmoidTable::log_sigmoid((2.0 * label - 1.0) * x) as f64;
        }
        (label - sigmoid.get(x)) * alpha
    };
    match hs.then(|| hot.hs_row(row, c)).flatten() {
        Some(r) => window_step::<M, _>(r, hin, gin, gs, grad),
        None => out.window_step_row::<M, _>(row, hin, gin, gs, grad),
    }
    loss
}

/// One skip-gram example with the current pre-drawn negatives (none for
/// hierarchical softmax alone).
#[inline(always)]
fn train_pair_with<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    word: u32,
    context: u32,
    alpha: f32,
) -> f64 {
    model.syn0.read_row(context as usize, &mut w.h);
    let loss = w.train_output::<M>(model, word, alpha);
    let scale = model.lock_factors.map_or(1.0, |f| f[context as usize]);
    if scale != 0.0 {
        model.syn0.axpy_row::<M>(context as usize, scale, &w.neu1e);
    }
    loss
}

/// One skip-gram example with freshly drawn negatives: the input row of
/// `context` predicts `word` (used by [`super::pairs`]). Inlined always,
/// as every function on the [`crate::linalg::Fused`] path must be: a copy
/// compiled outside the FMA-enabled job loop would call libm's `fmaf`.
#[inline(always)]
pub(crate) fn train_pair<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    word: u32,
    context: u32,
    alpha: f32,
) -> f64 {
    model.layers.draw_negatives(&mut w.rng, &mut w.neg);
    train_pair_with::<M>(model, w, word, context, alpha)
}

#[cfg(test)]
mod tests {
    //! The module docs claim that the window-batched update is the per-pair
    //! update with each window's output rows read before the window's own
    //! updates. These tests check it against a direct implementation of
    //! that formula, and check that it stays within second-order terms of
    //! plain sequential per-pair training.

    use super::*;
    use crate::linalg::Unfused;
    use crate::w2v::{Tables, W2vConfig, Weights};

    const DIM: usize = 6;
    const N: usize = 5;
    /// The only word with a nonzero count, so every noise word is this one.
    const NOISE: u32 = 4;

    fn setup() -> (W2vConfig, Tables, Vec<f32>, Vec<f32>) {
        let config = W2vConfig {
            sg: true,
            negative: 2,
            window: 1,
            shrink_windows: false,
            sample: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let mut counts = vec![0u64; N];
        counts[NOISE as usize] = 1;
        let tables = Tables::new(&counts, &config).unwrap();
        let syn0 = (0..N * DIM)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 20.0)
            .collect();
        let syn1neg = (0..N * DIM)
            .map(|i| ((i * 11 % 13) as f32 - 6.0) / 25.0)
            .collect();
        (config, tables, syn0, syn1neg)
    }

    fn row(m: &[f32], r: usize) -> &[f32] {
        &m[r * DIM..(r + 1) * DIM]
    }

    fn sigmoid(x: f32) -> f32 {
        SigmoidTable::new().get(x)
    }

    /// One window by the formula: the output rows `(row, label)` in turn,
    /// each against the window's input rows as they were before it (pairs
    /// with `|x| >= MAX_EXP` skipped when `skip_saturated`, as for
    /// hierarchical softmax). Returns the number of skipped pairs.
    fn reference_window(
        syn0: &mut [f32],
        syn1: &mut [f32],
        ctx: &[u32],
        outputs: &[(u32, f32)],
        alpha: f32,
        skip_saturated: bool,
    ) -> usize {
        let h: Vec<Vec<f32>> = ctx
            .iter()
            .map(|&c| row(syn0, c as usize).to_vec())
            .collect();
        let mut gin = vec![vec![0.0f32; DIM]; ctx.len()];
        let mut skipped = 0;
        for &(out, label) in outputs {
            let u = row(syn1, out as usize).to_vec();
            let mut du = [0.0f32; DIM];
            for (j, hj) in h.iter().enumerate() {
                let x: f32 = hj.iter().zip(&u).map(|(a, b)| a * b).sum();
                if skip_saturated && x.abs() >= MAX_EXP {
                    skipped += 1;
                    continue;
                }
                let g = (label - sigmoid(x)) * alpha;
                for k in 0..DIM {
                    gin[j][k] += g * u[k];
                    du[k] += g * hj[k];
                }
            }
            for k in 0..DIM {
                syn1[out as usize * DIM + k] += du[k];
            }
        }
        for (j, &c) in ctx.iter().enumerate() {
            for k in 0..DIM {
                syn0[c as usize * DIM + k] += gin[j][k];
            }
        }
        skipped
    }

    /// Plain per-pair training: each (context, word) pair updates the rows
    /// at once, the next pair reading the updated values.
    fn per_pair_window(syn0: &mut [f32], syn1: &mut [f32], ctx: &[u32], word: u32, alpha: f32) {
        for &c in ctx {
            let h = row(syn0, c as usize).to_vec();
            let mut neu1e = [0.0f32; DIM];
            for (out, label) in [(word, 1.0f32), (NOISE, 0.0), (NOISE, 0.0)] {
                let u = row(syn1, out as usize).to_vec();
                let x: f32 = h.iter().zip(&u).map(|(a, b)| a * b).sum();
                let g = (label - sigmoid(x)) * alpha;
                for k in 0..DIM {
                    neu1e[k] += g * u[k];
                    syn1[out as usize * DIM + k] += g * h[k];
                }
            }
            for k in 0..DIM {
                syn0[c as usize * DIM + k] += neu1e[k];
            }
        }
    }

    fn batched(sent: &[u32], alpha: f32) -> (Vec<f32>, Vec<f32>) {
        let (config, tables, mut syn0, mut syn1neg) = setup();
        {
            let weights = Weights::new(&mut syn0, Some(&mut syn1neg), None, DIM).unwrap();
            let model = ModelRef::new(&config, &tables, weights).unwrap();
            let mut w = Worker::new(DIM, 1, 0);
            model.layers.draw_negatives(&mut w.rng, &mut w.neg_next);
            train_sentence::<Unfused>(&model, &mut w, sent, alpha);
        }
        (syn0, syn1neg)
    }

    fn windows(sent: &[u32]) -> Vec<(Vec<u32>, u32)> {
        (0..sent.len())
            .map(|p| {
                let ctx = (p.saturating_sub(1)..(p + 2).min(sent.len()))
                    .filter(|&q| q != p)
                    .map(|q| sent[q])
                    .collect();
                (ctx, sent[p])
            })
            .collect()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn window_batched_update_is_the_documented_minibatch() {
        let sent = [0u32, 1, 2, 3, 1];
        let alpha = 0.05;
        let (syn0, syn1) = batched(&sent, alpha);
        let (_, _, mut r0, mut r1) = setup();
        for (ctx, word) in windows(&sent) {
            let outputs = [(word, 1.0), (NOISE, 0.0), (NOISE, 0.0)];
            reference_window(&mut r0, &mut r1, &ctx, &outputs, alpha, false);
        }
        assert!(max_diff(&syn0, &r0) < 1e-5, "{}", max_diff(&syn0, &r0));
        assert!(max_diff(&syn1, &r1) < 1e-5, "{}", max_diff(&syn1, &r1));
    }

    /// Hierarchical softmax alone trains pair by pair in gensim's order:
    /// each context row in turn against the centre word's Huffman path,
    /// node by node, saturated nodes skipped, each pair seeing the updates
    /// of the pairs before it.
    #[test]
    fn hierarchical_softmax_alone_trains_pair_by_pair() {
        let counts = [5u64, 4, 3, 2, 1];
        let config = W2vConfig {
            sg: true,
            hs: true,
            negative: 0,
            window: 1,
            shrink_windows: false,
            sample: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let tables = Tables::new(&counts, &config).unwrap();
        let hf = crate::vocab::huffman_codes(&counts).unwrap();
        let (_, _, start0, start1) = setup();
        // one large dot product, so that a pair saturates and is skipped
        let mut start1 = start1;
        start1[..DIM].iter_mut().for_each(|v| *v = 9.0);
        let sent = [0u32, 1, 2, 3, 1, 4];
        let alpha = 0.05;
        let (mut syn0, mut syn1) = (start0.clone(), start1.clone());
        {
            let weights = Weights::new(&mut syn0, None, Some(&mut syn1), DIM).unwrap();
            let model = ModelRef::new(&config, &tables, weights).unwrap();
            let mut w = Worker::new(DIM, 1, 0);
            train_sentence::<Unfused>(&model, &mut w, &sent, alpha);
        }
        let (mut r0, mut r1) = (start0, start1);
        let mut skipped = 0;
        for (ctx, word) in windows(&sent) {
            let path: Vec<(u32, f32)> = hf
                .codes(word as usize)
                .into_iter()
                .zip(hf.points(word as usize))
                .map(|(code, point)| (point, 1.0 - code as f32))
                .collect();
            for c in ctx {
                skipped += reference_window(&mut r0, &mut r1, &[c], &path, alpha, true);
            }
        }
        assert!(skipped > 0, "the test should exercise a saturated pair");
        assert!(max_diff(&syn0, &r0) < 1e-5, "{}", max_diff(&syn0, &r0));
        assert!(max_diff(&syn1, &r1) < 1e-5, "{}", max_diff(&syn1, &r1));
    }

    #[test]
    fn window_batched_update_matches_per_pair_training_to_first_order() {
        let sent = [0u32, 1, 2, 3, 1];
        let (_, _, start0, start1) = setup();
        for alpha in [0.01f32, 0.001] {
            let (syn0, syn1) = batched(&sent, alpha);
            let (mut p0, mut p1) = (start0.clone(), start1.clone());
            for (ctx, word) in windows(&sent) {
                per_pair_window(&mut p0, &mut p1, &ctx, word, alpha);
            }
            // The updates themselves are O(alpha); the two orders differ by
            // O(alpha^2), i.e. by a share of the update that shrinks with alpha.
            let step = max_diff(&p0, &start0).max(max_diff(&p1, &start1));
            let gap = max_diff(&syn0, &p0).max(max_diff(&syn1, &p1));
            assert!(step > 0.0);
            assert!(
                gap < 0.5 * alpha * step + 1e-6,
                "alpha={alpha} step={step} gap={gap}"
            );
        }
    }
}
