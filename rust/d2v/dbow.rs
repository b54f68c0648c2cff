//! PV-DBOW: each tag's vector predicts every word of its document through
//! the output layer, exactly as the input row of a skip-gram pair (see
//! `w2v::sgd` for the gradient), with the noise words of the word's
//! position. With `words`, the document's words are also trained as a
//! skip-gram sentence first (gensim's `dbow_words=1`).

use crate::corpus::Job;
use crate::linalg::MulAdd;
use crate::w2v::engine::{train_documents, Examples, PerDocument};
use crate::w2v::model::ModelRef;
use crate::w2v::skipgram;
use crate::w2v::worker::Worker;

/// The PV-DBOW example generator.
pub(crate) struct Dbow {
    /// Also train the words by skip-gram (`dbow_words`).
    pub words: bool,
}

impl Examples for Dbow {
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

impl PerDocument for Dbow {
    // skip-gram's window-batched update writes syn1neg directly, so its
    // hot rows are not cached when it runs
    fn hot_negatives(&self) -> bool {
        !self.words
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
        let mut loss = 0.0;
        if self.words && doc.len() >= 2 {
            loss += skipgram::train_sentence::<M>(model, w, doc, alpha);
        }
        for pos in 0..doc.len() {
            w.advance_output(model, doc, pos);
            for &tag in tags {
                loss += tag_predicts::<M>(model, w, tag, doc[pos], alpha);
            }
        }
        loss
    }
}

/// One example: the vector of document `tag` predicts `word`.
#[inline(always)]
pub(crate) fn tag_predicts<M: MulAdd>(
    model: &ModelRef<'_>,
    w: &mut Worker,
    tag: u32,
    word: u32,
    alpha: f32,
) -> f64 {
    let Some(docs) = &model.docs else { return 0.0 };
    let scale = model.doc_lock_factors.map_or(1.0, |f| f[tag as usize]);
    if !model.layers.learn {
        // a frozen output layer (inference): the gradient goes straight
        // to the document's row, which is also the input
        return w.train_output_in_row::<M>(model, word, alpha, docs, tag as usize, scale);
    }
    docs.read_row(tag as usize, &mut w.h);
    let loss = w.train_output::<M>(model, word, alpha);
    if scale != 0.0 {
        docs.axpy_row::<M>(tag as usize, scale, &w.neu1e);
    }
    loss
}
