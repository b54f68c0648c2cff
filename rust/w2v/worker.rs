//! Per-thread training state and the job loop shared by both corpus paths.

use super::sgd::{HotCache, OutputLayers};
use super::{cbow, skipgram};
use crate::hogwild::SharedMatrix;
use crate::linalg::{MulAdd, Unfused};
use crate::sampling::Rng;

/// Everything a worker reads (and, for the matrices, writes Hogwild-style)
/// during one training call.
pub struct ModelRef<'a> {
    /// Input vectors (`wv.vectors`).
    pub syn0: SharedMatrix<'a>,
    /// Output layers (negative sampling and/or hierarchical softmax).
    pub layers: OutputLayers<'a>,
    /// Skip-gram (true) or CBOW (false).
    pub sg: bool,
    /// Use the mean, not the sum, of context vectors in CBOW.
    pub cbow_mean: bool,
    /// Maximum distance between centre and context words.
    pub window: usize,
    /// Draw a random smaller window for each centre word.
    pub shrink_windows: bool,
    /// Per-word probability of keeping an occurrence (subsampling).
    pub keep_prob: &'a [f32],
    /// Accumulate the training loss.
    pub compute_loss: bool,
    /// Optional per-word factor applied to input-vector updates (0 freezes a word).
    pub lock_factors: Option<&'a [f32]>,
}

/// A batch of sentences as word ids (out-of-vocabulary words already removed).
#[derive(Clone, Debug, Default)]
pub struct Job {
    /// Word ids of all sentences, concatenated.
    pub ids: Vec<u32>,
    /// End offset in `ids` of each sentence.
    pub ends: Vec<usize>,
    /// Raw words the batch stands for, out-of-vocabulary ones included
    /// (drives the learning-rate schedule and progress).
    pub raw_words: u64,
}

impl Job {
    /// Empties the job, keeping its buffers.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.ends.clear();
        self.raw_words = 0;
    }

    /// Closes the current sentence (no-op for an empty one).
    pub fn end_sentence(&mut self) {
        let start = self.ends.last().copied().unwrap_or(0);
        if self.ids.len() > start {
            self.ends.push(self.ids.len());
        }
    }

    /// Number of word ids held.
    pub fn words(&self) -> usize {
        self.ids.len()
    }
}

/// What one call of the work loop trains on.
#[derive(Clone, Copy)]
enum Batch<'a> {
    /// Sentences of a corpus.
    Sentences(&'a Job),
    /// Explicit skip-gram pairs, in the given order.
    Pairs {
        pairs: &'a [(u32, u32)],
        order: &'a [u32],
    },
}

/// Thread-local buffers and random state of one worker.
pub struct Worker {
    /// Random stream for windows, subsampling and negatives.
    pub rng: Rng,
    /// Input vector (skip-gram: copy of a row; CBOW: context sum/mean).
    pub h: Vec<f32>,
    /// Accumulated gradient for the input vector.
    pub neu1e: Vec<f32>,
    /// A subsampled sentence.
    pub sent: Vec<u32>,
    /// Context word ids of the current window (skip-gram).
    pub ctx: Vec<u32>,
    /// Copies of the context input rows, `ctx.len() x dim` (skip-gram).
    pub hin: Vec<f32>,
    /// Gradients for the context input rows (skip-gram).
    pub gin: Vec<f32>,
    /// Copy of one output row.
    pub u: Vec<f32>,
    /// Gradient for that output row.
    pub du: Vec<f32>,
    /// Noise words of the current example.
    pub neg: Vec<u32>,
    /// Noise words of the next example, drawn one step ahead so that their
    /// rows can be prefetched.
    pub neg_next: Vec<u32>,
    /// Private copies of the hottest output rows during a job.
    pub hot: HotCache,
}

impl Worker {
    /// A worker for vectors of `dim` with its own random stream.
    pub fn new(dim: usize, seed: u64, index: u64) -> Self {
        Worker {
            rng: Rng::for_worker(seed, index),
            h: vec![0.0; dim],
            neu1e: vec![0.0; dim],
            sent: Vec::with_capacity(10_000),
            ctx: Vec::new(),
            hin: Vec::new(),
            gin: Vec::new(),
            u: vec![0.0; dim],
            du: vec![0.0; dim],
            neg: Vec::new(),
            neg_next: Vec::new(),
            hot: HotCache::default(),
        }
    }

    /// Moves to the next example of `sent`: the pre-drawn noise words become
    /// current, new ones are drawn for position `pos + 1`, and the rows that
    /// example will read start loading into cache.
    #[inline(always)]
    pub fn advance(&mut self, model: &ModelRef<'_>, sent: &[u32], pos: usize) {
        self.hot.tick(&model.layers);
        std::mem::swap(&mut self.neg, &mut self.neg_next);
        model
            .layers
            .draw_negatives(&mut self.rng, &mut self.neg_next);
        if let Some(&next) = sent.get(pos + 1) {
            model.layers.prefetch(next, &self.neg_next);
            if let Some(&incoming) = sent.get(pos + 1 + model.window) {
                model.syn0.prefetch_row(incoming as usize);
            }
        }
    }

    /// One example through the output layers: the input vector in `self.h`
    /// should predict `word` (against the current noise words). The
    /// gradient for the input is left in `self.neu1e`; returns the loss.
    #[inline(always)]
    pub fn train_output<M: MulAdd>(&mut self, model: &ModelRef<'_>, word: u32, alpha: f32) -> f64 {
        self.neu1e.fill(0.0);
        model.layers.train::<M>(
            word,
            &self.neg,
            &self.h,
            &mut self.neu1e,
            alpha,
            model.compute_loss,
            &mut self.hot,
        )
    }

    /// Makes the window buffers hold `rows` rows of `dim`.
    pub fn ensure_window_buffers(&mut self, rows: usize, dim: usize) {
        if self.hin.len() < rows * dim {
            self.hin.resize(rows * dim, 0.0);
            self.gin.resize(rows * dim, 0.0);
        }
        if self.u.len() != dim {
            self.u.resize(dim, 0.0);
            self.du.resize(dim, 0.0);
        }
    }

    /// Trains on every sentence of `job` at learning rate `alpha`.
    /// Returns (effective words trained on, loss).
    pub fn train_job(&mut self, model: &ModelRef<'_>, job: &Job, alpha: f32) -> (u64, f64) {
        self.train_batch(model, Batch::Sentences(job), alpha)
    }

    /// Trains one skip-gram example per entry of `order`, on
    /// `pairs[order[k]] = (target, context)` (the input row of `target`
    /// predicts `context`). Returns the loss.
    pub fn train_pairs(
        &mut self,
        model: &ModelRef<'_>,
        pairs: &[(u32, u32)],
        order: &[u32],
        alpha: f32,
    ) -> f64 {
        self.train_batch(model, Batch::Pairs { pairs, order }, alpha)
            .1
    }

    /// The work loop, compiled three times: for AVX-512F with FMA, for
    /// AVX2 with FMA (16 or 8 floats per instruction, fused multiply-adds),
    /// and for baseline x86-64 or other targets (plain multiplies and adds);
    /// the widest the CPU supports runs. Results are deterministic for a
    /// given machine; the fused copies round differently from the baseline.
    fn train_batch(&mut self, model: &ModelRef<'_>, batch: Batch<'_>, alpha: f32) -> (u64, f64) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX-512F and FMA, checked just above.
            return unsafe { self.train_batch_avx512(model, batch, alpha) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { self.train_batch_avx2(model, batch, alpha) };
        }
        self.train_batch_inner::<Unfused>(model, batch, alpha)
    }

    /// [`Worker::train_batch`] compiled for AVX2 and FMA (the hot loops are
    /// inlined into it, so they are vectorised 8 floats wide instead of 4).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn train_batch_avx2(
        &mut self,
        model: &ModelRef<'_>,
        batch: Batch<'_>,
        alpha: f32,
    ) -> (u64, f64) {
        self.train_batch_inner::<crate::linalg::Fused>(model, batch, alpha)
    }

    /// [`Worker::train_batch`] compiled for AVX-512F and FMA (16 floats wide).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    unsafe fn train_batch_avx512(
        &mut self,
        model: &ModelRef<'_>,
        batch: Batch<'_>,
        alpha: f32,
    ) -> (u64, f64) {
        self.train_batch_inner::<crate::linalg::Fused>(model, batch, alpha)
    }

    #[inline(always)]
    fn train_batch_inner<M: MulAdd>(
        &mut self,
        model: &ModelRef<'_>,
        batch: Batch<'_>,
        alpha: f32,
    ) -> (u64, f64) {
        match batch {
            Batch::Sentences(job) => self.train_job_inner::<M>(model, job, alpha),
            Batch::Pairs { pairs, order } => {
                let mut loss = 0.0;
                for &k in order {
                    let (target, context) = pairs[k as usize];
                    loss += skipgram::train_pair::<M>(model, self, context, target, alpha);
                }
                (order.len() as u64, loss)
            }
        }
    }

    #[inline(always)]
    fn train_job_inner<M: MulAdd>(
        &mut self,
        model: &ModelRef<'_>,
        job: &Job,
        alpha: f32,
    ) -> (u64, f64) {
        let mut start = 0usize;
        let mut effective = 0u64;
        let mut loss = 0.0;
        let mut sent = std::mem::take(&mut self.sent);
        self.hot.load(&model.layers, !model.sg);
        for &end in &job.ends {
            sent.clear();
            for &id in &job.ids[start..end] {
                let p = model.keep_prob[id as usize];
                if p >= 1.0 || self.rng.uniform() < p {
                    sent.push(id);
                }
            }
            start = end;
            effective += sent.len() as u64;
            if sent.len() < 2 {
                continue;
            }
            model
                .layers
                .draw_negatives(&mut self.rng, &mut self.neg_next);
            loss += if model.sg {
                skipgram::train_sentence::<M>(model, self, &sent, alpha)
            } else {
                cbow::train_sentence::<M>(model, self, &sent, alpha)
            };
        }
        self.hot.merge(&model.layers);
        self.sent = sent;
        (effective, loss)
    }
}
