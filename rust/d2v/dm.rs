//! PV-DM: the document's tag vectors together with the words around a
//! centre word predict that word, as in CBOW.
//!
//! * [`DmMean`]: the input is the sum of the tag vectors and of the
//!   (shrunk) window's word vectors, or their mean with `dm_mean` (the
//!   model's `cbow_mean`). As in CBOW and gensim, with the sum the input's
//!   gradient is divided by the number of summed vectors; with the mean it
//!   is applied whole; it is added to every summed row.
//! * [`DmConcat`]: the input is the concatenation of exactly `tag_count`
//!   tag vectors and the `2·window` word vectors around the centre (a fixed
//!   window; positions outside the document hold the null word), so the
//!   output rows have `(tag_count + 2·window)·d` entries. Each input row
//!   receives its own slice of the gradient. Documents with another number
//!   of tags are skipped, as gensim does.

use crate::corpus::Job;
use crate::linalg::{scale, MulAdd};
use crate::w2v::engine::{train_documents, Examples, PerDocument};
use crate::w2v::model::ModelRef;
use crate::w2v::worker::Worker;

/// The PV-DM generator with a summed or averaged input.
pub(crate) struct DmMean;

impl Examples for DmMean {
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
        train_documents::<M, _>(self, model, w, job, alpha)
    }
}

impl PerDocument for DmMean {
    fn hot_negatives(&self) -> bool {
        true
    }

    #[inline(always)]
    fn document<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        doc: &[u32],
        tags: &[u32],
        alpha: f32,
    ) -> f64 {
        train_mean::<M>(model, w, doc, tags, alpha)
    }
}

#[inline(always)]
fn train_mean<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    doc: &[u32],
    tags: &[u32],
    alpha: f32,
) -> f64 {
    let Some(docs) = &model.docs else { return 0.0 };
    let window = model.window;
    let len = doc.len();
    let mut loss = 0.0;
    let frozen_one_tag = !model.layers.learn && !model.learn_words && tags.len() == 1;
    for pos in 0..len {
        w.advance(model, doc, pos);
        let b = if model.shrink_windows {
            w.rng.below(window)
        } else {
            0
        };
        let reach = window - b;
        let start = pos.saturating_sub(reach);
        let end = (pos + reach + 1).min(len);
        if frozen_one_tag && fused_step::<M>(model, w, doc, pos, start..end, tags[0], alpha) {
            continue;
        }
        w.h.fill(0.0);
        let ctx = (start..end).filter(|&p| p != pos).map(|p| doc[p]);
        model.syn0.add_rows_to::<M>(ctx, &mut w.h);
        docs.add_rows_to::<M>(tags.iter().copied(), &mut w.h);
        let count = (end - start - 1) + tags.len();
        if count == 0 {
            continue;
        }
        let inv = 1.0 / count as f32;
        if model.cbow_mean {
            scale(inv, &mut w.h);
        }
        if !model.layers.learn && !model.learn_words && tags.len() == 1 {
            // frozen layers and words (inference): the one tag row takes
            // the whole gradient, so it goes straight there
            let t = tags[0] as usize;
            let f = model.doc_lock_factors.map_or(1.0, |f| f[t]);
            let s = if model.cbow_mean { f } else { f * inv };
            loss += w.train_output_to_row::<M>(model, doc[pos], alpha, docs, t, s);
            continue;
        }
        loss += w.train_output::<M>(model, doc[pos], alpha);
        if !model.cbow_mean {
            scale(inv, &mut w.neu1e);
        }
        if model.learn_words {
            for p in (start..end).filter(|&p| p != pos) {
                let c = doc[p] as usize;
                let f = model.lock_factors.map_or(1.0, |f| f[c]);
                if f != 0.0 {
                    model.syn0.axpy_row::<M>(c, f, &w.neu1e);
                }
            }
        }
        for &t in tags {
            let f = model.doc_lock_factors.map_or(1.0, |f| f[t as usize]);
            if f != 0.0 {
                docs.axpy_row::<M>(t as usize, f, &w.neu1e);
            }
        }
    }
    loss
}

/// Inference's step at `pos` (frozen words and output layer, one tag) in
/// one fused pass where the CPU allows ([`OutputLayers::train_frozen_fused`]):
/// the same example as the general path below, the mean (or sum) of the
/// context rows and the tag's row predicting the word, its gradient going
/// to the tag's row. False, with nothing done, where it does not apply.
///
/// [`OutputLayers::train_frozen_fused`]: crate::w2v::sgd::OutputLayers::train_frozen_fused
#[inline(always)]
fn fused_step<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &Worker,
    doc: &[u32],
    pos: usize,
    span: std::ops::Range<usize>,
    tag: u32,
    alpha: f32,
) -> bool {
    let Some(docs) = &model.docs else {
        return false;
    };
    let halves = [&doc[span.start..pos], &doc[pos + 1..span.end]];
    let n = halves[0].len() + halves[1].len();
    let t = tag as usize;
    let f = model.doc_lock_factors.map_or(1.0, |f| f[t]);
    let inv = 1.0 / (n + 1) as f32;
    let (h_scale, s) = if model.cbow_mean {
        (inv, f)
    } else {
        (1.0, f * inv)
    };
    model.layers.train_frozen_fused::<M>(
        doc[pos],
        &w.neg,
        &model.syn0,
        halves,
        h_scale,
        docs,
        t,
        alpha * s,
        model.compute_loss,
    )
}

/// The PV-DM generator with a concatenated input.
pub(crate) struct DmConcat {
    /// Tag vectors per input (`dm_tag_count`).
    pub tag_count: usize,
    /// Id of the padding word (`'\0'` in the vocabulary).
    pub null_word: u32,
    /// Consecutive positions that share one draw of noise words
    /// (`D2vConfig::concat_negative_reuse`).
    pub negative_reuse: usize,
}

impl Examples for DmConcat {
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
        train_documents::<M, _>(self, model, w, job, alpha)
    }
}

impl PerDocument for DmConcat {
    fn hot_negatives(&self) -> bool {
        true
    }

    fn negative_reuse(&self) -> usize {
        self.negative_reuse
    }

    #[inline(always)]
    fn document<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        doc: &[u32],
        tags: &[u32],
        alpha: f32,
    ) -> f64 {
        if tags.len() != self.tag_count {
            return 0.0;
        }
        self.train_concat::<M>(model, w, doc, tags, alpha)
    }
}

impl DmConcat {
    /// The word at `pos + offset` of `doc`, or the null word outside it.
    #[inline(always)]
    fn word_at(&self, doc: &[u32], pos: usize, offset: isize) -> u32 {
        pos.checked_add_signed(offset)
            .and_then(|p| doc.get(p))
            .copied()
            .unwrap_or(self.null_word)
    }

    #[inline(always)]
    fn train_concat<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        doc: &[u32],
        tags: &[u32],
        alpha: f32,
    ) -> f64 {
        let Some(docs) = &model.docs else { return 0.0 };
        let dim = model.dim();
        let window = model.window as isize;
        let mut loss = 0.0;
        // the window's offsets, left then right of the centre
        let offsets = (-window..0).chain(1..=window);
        for pos in 0..doc.len() {
            w.advance(model, doc, pos);
            for (k, &t) in tags.iter().enumerate() {
                docs.read_row(t as usize, &mut w.h[k * dim..(k + 1) * dim]);
            }
            for (j, off) in offsets.clone().enumerate() {
                let slot = (self.tag_count + j) * dim;
                let word = self.word_at(doc, pos, off);
                model
                    .syn0
                    .read_row(word as usize, &mut w.h[slot..slot + dim]);
            }
            loss += w.train_output::<M>(model, doc[pos], alpha);
            if model.learn_words {
                for (j, off) in offsets.clone().enumerate() {
                    let slot = (self.tag_count + j) * dim;
                    let word = self.word_at(doc, pos, off) as usize;
                    let f = model.lock_factors.map_or(1.0, |f| f[word]);
                    if f != 0.0 {
                        model
                            .syn0
                            .axpy_row::<M>(word, f, &w.neu1e[slot..slot + dim]);
                    }
                }
            }
            for (k, &t) in tags.iter().enumerate() {
                let f = model.doc_lock_factors.map_or(1.0, |f| f[t as usize]);
                if f != 0.0 {
                    docs.axpy_row::<M>(t as usize, f, &w.neu1e[k * dim..(k + 1) * dim]);
                }
            }
        }
        loss
    }
}
