//! Skip-gram: every word in the (shrunk) window of a centre word is used
//! as input to predict the centre word, as gensim and the C tool do it
//! (the input row is the context word's, the output the centre word's).

use super::worker::{ModelRef, Worker};

/// Trains skip-gram on one sentence of word ids (already subsampled).
/// Returns the summed loss (0 unless the worker computes it).
pub fn train_sentence(model: &ModelRef<'_>, w: &mut Worker, sent: &[u32], alpha: f32) -> f64 {
    let window = model.window;
    let len = sent.len();
    let mut loss = 0.0;
    for pos in 0..len {
        let b = if model.shrink_windows { w.rng.below(window) } else { 0 };
        let reach = window - b;
        let start = pos.saturating_sub(reach);
        let end = (pos + reach + 1).min(len);
        let word = sent[pos];
        for (pos2, &ctx) in sent.iter().enumerate().take(end).skip(start) {
            if pos2 == pos {
                continue;
            }
            loss += train_pair(model, w, word, ctx, alpha);
        }
    }
    loss
}

/// One skip-gram example: the input row of `context` predicts `word`.
#[inline]
pub fn train_pair(model: &ModelRef<'_>, w: &mut Worker, word: u32, context: u32, alpha: f32) -> f64 {
    model.syn0.read_row(context as usize, &mut w.h);
    w.neu1e.fill(0.0);
    let loss = model
        .layers
        .train(word, &w.h, &mut w.neu1e, alpha, &mut w.rng, model.compute_loss);
    if model.lock_factors.is_none_or(|f| f[context as usize] != 0.0) {
        let scale = model.lock_factors.map_or(1.0, |f| f[context as usize]);
        model.syn0.axpy_row(context as usize, scale, &w.neu1e);
    }
    loss
}
