//! Per-thread training state: buffers, the random stream, the hot-row
//! cache, and the two steps every example generator uses (move to the next
//! example; one example through the output layers).

use super::model::ModelRef;
use super::sgd::{GradTo, HotCache};
use crate::hogwild::SharedMatrix;
use crate::linalg::MulAdd;
use crate::sampling::Rng;

/// Thread-local buffers and random state of one worker.
pub(crate) struct Worker {
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
    /// Gradient scales of one output row against the context rows
    /// (skip-gram).
    pub gs: Vec<f32>,
    /// Noise words of the current example.
    pub neg: Vec<u32>,
    /// Noise words of the next example, drawn one step ahead so that their
    /// rows can be prefetched.
    pub neg_next: Vec<u32>,
    /// Private copies of the hottest output rows during a job.
    pub hot: HotCache,
    /// Frozen layers only: noise words drawn ahead for [`POOL_STEPS`]
    /// examples (see [`Worker::draw_next`]), and how many are used.
    pool: Vec<u32>,
    pool_used: usize,
    /// Training: consecutive examples that share one draw of noise words
    /// (1: a fresh draw for every example, word2vec's rule), and how many
    /// more may still use the current draw.
    reuse: usize,
    reuse_left: usize,
}

/// Examples' worth of noise words a worker with frozen output layers draws
/// at once. Drawing them in one tight loop lets the CPU overlap the alias
/// table's cache misses, which one example's few draws, each followed by
/// dependent work, cannot; measured on `infer_vector` (benches/RESULTS.md).
const POOL_STEPS: usize = 64;

impl Worker {
    /// A worker for vectors of `dim` with its own random stream.
    pub(crate) fn new(dim: usize, seed: u64, index: u64) -> Self {
        Worker {
            rng: Rng::for_worker(seed, index),
            h: vec![0.0; dim],
            neu1e: vec![0.0; dim],
            sent: Vec::with_capacity(10_000),
            ctx: Vec::new(),
            hin: Vec::new(),
            gin: Vec::new(),
            gs: Vec::new(),
            neg: Vec::new(),
            neg_next: Vec::new(),
            hot: HotCache::default(),
            pool: Vec::new(),
            pool_used: 0,
            reuse: 1,
            reuse_left: 0,
        }
    }

    /// Lets `n` consecutive training examples share one draw of noise words
    /// (see [`crate::w2v::engine::PerDocument::negative_reuse`]).
    pub(crate) fn set_negative_reuse(&mut self, n: usize) {
        self.reuse = n.max(1);
        self.reuse_left = 0;
    }

    /// Starts the random stream `index` of a run seeded with `seed` afresh,
    /// dropping noise words drawn ahead from the old one, so that what
    /// follows depends only on `(seed, index)`.
    pub(crate) fn restart(&mut self, seed: u64, index: u64) {
        self.rng = Rng::for_worker(seed, index);
        self.neg_next.clear();
        self.pool.clear();
        self.pool_used = 0;
        self.reuse_left = 0;
    }

    /// Draws the noise words of the next example into `neg_next`. Training
    /// draws them one example at a time; frozen layers (inference, whose
    /// draws are the bulk of the work besides the rows themselves) take
    /// them from a pool refilled [`POOL_STEPS`] examples at a time. Either
    /// way the draws come from the worker's one random stream, so a given
    /// seed gives the same result on every run.
    #[inline(always)]
    pub(crate) fn draw_next(&mut self, model: &ModelRef<'_>) {
        let layers = &model.layers;
        if layers.learn {
            if self.reuse_left > 0 && !self.neg.is_empty() {
                // the current example's draw serves the next one too
                self.reuse_left -= 1;
                self.neg_next.clone_from(&self.neg);
                return;
            }
            layers.draw_negatives(&mut self.rng, &mut self.neg_next);
            self.reuse_left = self.reuse - 1;
            return;
        }
        let k = layers.negative_count();
        if self.pool_used + k > self.pool.len() {
            self.pool.clear();
            self.pool_used = 0;
            layers.draw_many(&mut self.rng, POOL_STEPS * k, &mut self.pool);
        }
        self.neg_next.clear();
        self.neg_next
            .extend_from_slice(&self.pool[self.pool_used..self.pool_used + k]);
        self.pool_used += k;
    }

    /// Moves to the next example of `sent`: the pre-drawn noise words become
    /// current, new ones are drawn for position `pos + 1`, and the rows that
    /// example will read start loading into cache.
    #[inline(always)]
    pub(crate) fn advance(&mut self, model: &ModelRef<'_>, sent: &[u32], pos: usize) {
        self.advance_output(model, sent, pos);
        if let Some(&incoming) = sent.get(pos + 1 + model.window) {
            model.syn0.prefetch_row(incoming as usize);
        }
    }

    /// [`Worker::advance`] for examples whose input is not a window of
    /// word vectors (PV-DBOW's tag examples): only the output rows are
    /// prefetched.
    #[inline(always)]
    pub(crate) fn advance_output(&mut self, model: &ModelRef<'_>, sent: &[u32], pos: usize) {
        self.hot.tick(&model.layers);
        std::mem::swap(&mut self.neg, &mut self.neg_next);
        self.draw_next(model);
        if let Some(&next) = sent.get(pos + 1) {
            model.layers.prefetch(next, &self.neg_next, &self.hot);
        }
        if let Some(&later) = sent.get(pos + 2) {
            model.layers.prefetch_path(later);
        }
    }

    /// One example through the output layers: the input vector in `self.h`
    /// should predict `word` (against the current noise words). The
    /// gradient for the input is left in `self.neu1e`; returns the loss.
    #[inline(always)]
    pub(crate) fn train_output<M: MulAdd>(
        &mut self,
        model: &ModelRef<'_>,
        word: u32,
        alpha: f32,
    ) -> f64 {
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

    /// [`Worker::train_output`] for frozen output layers (inference,
    /// Sent2Vec) when one input row receives the whole gradient: the
    /// gradient is added, times `scale`, straight to row `row` of `dest`
    /// rather than collected in `self.neu1e` and applied afterwards.
    /// `self.h` must hold a copy of the input, not a view of that row.
    #[inline(always)]
    pub(crate) fn train_output_to_row<M: MulAdd>(
        &mut self,
        model: &ModelRef<'_>,
        word: u32,
        alpha: f32,
        dest: &SharedMatrix<'_>,
        row: usize,
        scale: f32,
    ) -> f64 {
        let to = GradTo::Row {
            matrix: dest,
            row,
            scale,
        };
        self.train_frozen_to::<M>(model, word, alpha, to)
    }

    /// One frozen example with its input gradient sent to `to`.
    #[inline(always)]
    fn train_frozen_to<M: MulAdd>(
        &mut self,
        model: &ModelRef<'_>,
        word: u32,
        alpha: f32,
        mut to: GradTo<'_, '_>,
    ) -> f64 {
        assert!(!model.layers.learn, "only frozen output layers");
        model
            .layers
            .train_frozen::<M>(word, &self.neg, &self.h, &mut to, alpha, model.compute_loss)
    }

    /// [`Worker::train_output_to_row`] when the input is row `row` of
    /// `dest` itself (PV-DBOW inference: the document vector predicts a
    /// word). With one block of output rows per example the row is scored
    /// in place; otherwise it is copied to `self.h` first, so that every
    /// block sees the same input.
    #[inline(always)]
    pub(crate) fn train_output_in_row<M: MulAdd>(
        &mut self,
        model: &ModelRef<'_>,
        word: u32,
        alpha: f32,
        dest: &SharedMatrix<'_>,
        row: usize,
        scale: f32,
    ) -> f64 {
        if !model.layers.one_block() {
            dest.read_row(row, &mut self.h);
            return self.train_output_to_row::<M>(model, word, alpha, dest, row, scale);
        }
        let to = GradTo::OwnRow {
            matrix: dest,
            row,
            scale,
        };
        self.train_frozen_to::<M>(model, word, alpha, to)
    }

    /// Makes the window buffers hold `rows` rows of `dim`.
    pub(crate) fn ensure_window_buffers(&mut self, rows: usize, dim: usize) {
        if self.hin.len() < rows * dim {
            self.hin.resize(rows * dim, 0.0);
            self.gin.resize(rows * dim, 0.0);
        }
        if self.gs.len() < rows {
            self.gs.resize(rows, 0.0);
        }
    }
}
