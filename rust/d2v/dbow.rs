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
        // to the document's row, which is also the input; in one fused
        // pass (the row held in registers) where the kernel applies, as
        // PV-DM's inference with no context rows
        let fused = model.layers.train_frozen_fused::<M>(
            word,
            &w.neg,
            &model.syn0,
            [&[], &[]],
            1.0,
            docs,
            tag as usize,
            alpha * scale,
            model.compute_loss,
        );
        if fused {
            return 0.0;
        }
        return w.train_output_in_row::<M>(model, word, alpha, docs, tag as usize, scale);
    }
    docs.read_row(tag as usize, &mut w.h);
    let loss = w.train_output::<M>(model, word, alpha);
    if scale != 0.0 {
        docs.axpy_row::<M>(tag as usize, scale, &w.neu1e);
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hogwild::SharedMatrix;
    use crate::linalg::MulAdd;
    use crate::w2v::config::W2vConfig;
    use crate::w2v::model::Weights;
    use crate::w2v::tables::Tables;

    /// One PV-DBOW inference example through the fused kernel equals the
    /// same example through the general in-row path: the same document
    /// row after it, for a document whose lock factor scales the step, and
    /// with a noise word equal to the predicted word (skipped by both).
    fn fused_equals_in_row<M: MulAdd>() {
        let (words, dim) = (12usize, 37usize);
        // the fused kernel must really run, else this compares a path with itself
        assert!(
            M::FROZEN_STEP_MAX_DIM >= dim,
            "no fused step for these rows"
        );
        let config = W2vConfig {
            negative: 5,
            ..W2vConfig::default()
        }
        .validate()
        .unwrap();
        let counts: Vec<u64> = (1..=words as u64).rev().collect();
        let tables = Tables::new(&counts, &config).unwrap();
        let syn0: Vec<f32> = (0..words * dim).map(|i| (i as f32 * 0.7).sin()).collect();
        let syn1neg: Vec<f32> = (0..words * dim)
            .map(|i| 0.3 * (i as f32 * 0.11).cos())
            .collect();
        let start: Vec<f32> = (0..dim).map(|i| 0.01 * i as f32 - 0.1).collect();
        let run = |fused: bool, lock: f32| -> Vec<f32> {
            let mut doc = start.clone();
            let lock = [lock];
            let weights = Weights::from_shared(
                SharedMatrix::read_only(&syn0, words, dim).unwrap(),
                Some(SharedMatrix::read_only(&syn1neg, words, dim).unwrap()),
                None,
            )
            .with_docs(&mut doc)
            .unwrap()
            .with_doc_lock_factors(&lock);
            let model = ModelRef::new(&config, &tables, weights).unwrap();
            assert!(!model.layers.learn);
            let mut w = Worker::new(dim, 1, 0);
            for (k, word) in [3u32, 0, 7, 3, 11].into_iter().enumerate() {
                w.neg.clear();
                w.neg.extend([1, word, 4, 9, (k as u32 * 5) % 12]);
                if fused {
                    tag_predicts::<M>(&model, &mut w, 0, word, 0.05);
                } else {
                    let docs = model.docs.as_ref().unwrap();
                    w.train_output_in_row::<M>(&model, word, 0.05, docs, 0, lock[0]);
                }
            }
            doc
        };
        for lock in [1.0f32, 0.5, 0.0] {
            let (a, b) = (run(true, lock), run(false, lock));
            let close = |x: f32, y: f32| (x - y).abs() <= 1e-5 * (1.0 + y.abs());
            assert!(
                a.iter().zip(&b).all(|(&x, &y)| close(x, y)),
                "lock {lock}: {a:?} vs {b:?}"
            );
            assert_eq!(a != start, lock != 0.0, "lock {lock}: the row moved");
        }
    }

    /// Only AVX-512 has the fused step (`FROZEN_STEP_MAX_DIM`); elsewhere
    /// inference takes the general path and there is nothing to compare.
    #[test]
    fn fused_inference_step_equals_the_general_one() {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
            fused_equals_in_row::<crate::linalg::Avx512>();
            return;
        }
        eprintln!("skipped: this CPU has no fused frozen step (AVX-512)");
    }
}
