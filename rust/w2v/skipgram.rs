//! Skip-gram: every word in the (shrunk) window of a centre word is used as
//! input to predict the centre word, as gensim and the C tool orient it (the
//! input row is the context word's, the output row the centre word's).
//!
//! # Window-batched update
//!
//! All pairs that share a centre word also share its output rows: the
//! Huffman path of the centre word (hierarchical softmax, batched this way
//! only when combined with negative sampling), and the positive row plus — as in Ji et al., "Parallelizing Word2Vec in Shared and
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
//! window. Each output row then crosses the memory bus once per window
//! instead of once per pair, which is where the speed comes from.

use super::worker::{ModelRef, Worker};
use crate::linalg::{axpy, dot_with, MulAdd, SigmoidTable, MAX_EXP};

/// Trains skip-gram on one sentence of word ids (already subsampled).
/// Returns the summed loss (0 unless the model computes it).
#[inline(always)]
pub fn train_sentence<M: MulAdd>(
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
        w.ctx.extend(
            sent[start..end]
                .iter()
                .enumerate()
                .filter(|(k, _)| start + k != pos)
                .map(|(_, &c)| c),
        );
        if w.ctx.is_empty() {
            continue;
        }
        if model.layers.syn1neg.is_none() {
            // Hierarchical softmax alone: the classic per-pair update, which
            // is exactly gensim's algorithm and measured faster than the
            // window-batched one (1 worker, first 2M tokens, alternating
            // runs: best 0.60M against 0.45M words per CPU-second). The
            // rows near the root, which every pair updates, are kept in the
            // worker's hot-row cache (see `sgd`), so batching saves little
            // memory traffic and only adds copies.
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
        let codes = &hf.codes[word as usize];
        let points = &hf.points[word as usize];
        for (&code, &point) in codes.iter().zip(points) {
            loss += output_row::<M>(
                model,
                w,
                syn1,
                point as usize,
                1.0 - code as f32,
                alpha,
                true,
                c,
            );
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

/// One output row against all `c` context rows of the window.
#[inline(always)]
fn output_row<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    out: &crate::hogwild::SharedMatrix<'_>,
    row: usize,
    label: f32,
    alpha: f32,
    skip_saturated: bool,
    c: usize,
) -> f64 {
    let dim = out.cols();
    out.read_row(row, &mut w.u);
    w.du.fill(0.0);
    let mut loss = 0.0f64;
    let mut any = false;
    for j in 0..c {
        let h = &w.hin[j * dim..(j + 1) * dim];
        let x = dot_with::<M>(h, &w.u);
        if skip_saturated && (x <= -MAX_EXP || x >= MAX_EXP) {
            continue;
        }
        let g = (label - model.layers.sigmoid.get(x)) * alpha;
        if model.compute_loss {
            loss -= SigmoidTable::log_sigmoid((2.0 * label - 1.0) * x) as f64;
        }
        axpy::<M>(g, &w.u, &mut w.gin[j * dim..(j + 1) * dim]);
        axpy::<M>(g, h, &mut w.du);
        any = true;
    }
    if any {
        out.axpy_row::<M>(row, 1.0, &w.du);
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
pub fn train_pair<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    word: u32,
    context: u32,
    alpha: f32,
) -> f64 {
    model.layers.draw_negatives(&mut w.rng, &mut w.neg);
    train_pair_with::<M>(model, w, word, context, alpha)
}
