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
//!
//! **Hot rows.** Every hierarchical-softmax example updates the root of the
//! Huffman tree and, with decreasing frequency, the nodes below it. With
//! several Hogwild threads those few rows are written by all cores all the
//! time, and each write moves their cache lines between cores, which cost
//! more than the arithmetic (measured: 2 workers ran slower than 1). So
//! each worker trains the most-used rows on a private copy ([`HotRows`])
//! and adds its change to the shared rows every [`SYNC_HITS_PER_ROW`]
//! updates per cached row, under a lock; the other rows stay plain Hogwild. With one worker this
//! is the same computation as training in place (up to rounding).

use std::sync::Mutex;

use crate::hogwild::{SharedMatrix, GATHER};
use crate::linalg::{MulAdd, SigmoidTable, Unfused, MAX_EXP};
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
    /// Serialises the workers' [`HotRows::merge`] into `syn1`. A reference
    /// to the lock in [`super::Tables`], so that the model view itself holds
    /// no `UnsafeCell` and stays read-only behind `&` for the optimiser.
    pub merge_lock: &'a Mutex<()>,
    /// Update the output rows (false for a frozen model: inference only
    /// computes the gradient of the input).
    pub learn: bool,
}

/// Where a frozen example's input gradient goes.
pub(crate) enum GradTo<'b, 'a> {
    /// Added to a buffer (`neu1e`), which the caller applies.
    Buffer(&'b mut [f32]),
    /// Added, times `scale`, straight to row `row` of `matrix` (the one
    /// input row that receives the whole gradient, such as a document
    /// vector being inferred). The input `h` must be a copy, not the row.
    Row {
        matrix: &'b SharedMatrix<'a>,
        row: usize,
        scale: f32,
    },
    /// As `Row`, with that row itself as the input (`h` is not read): only
    /// for examples of one block of rows ([`OutputLayers::one_block`]),
    /// whose scores are all taken before the row changes.
    OwnRow {
        matrix: &'b SharedMatrix<'a>,
        row: usize,
        scale: f32,
    },
}

/// Rows of `syn1neg` kept per worker for negative sampling: the most
/// frequent words (the first rows of a frequency-sorted vocabulary,
/// gensim's default).
pub const HOT_WORDS: usize = 128;

/// Rows of `syn1` kept per worker for hierarchical softmax unless the
/// example generator asks for another number: the highest-count inner
/// nodes, the root and the six levels below it, which every example
/// updates. CBOW keeps more (see `cbow::HOT_INNER_NODES`).
pub const HOT_INNER_NODES: usize = 128;

/// Updates of cached rows between two merges of a worker's hot rows, per
/// row cached (128 rows: 2,048 updates; CBOW's 512 inner nodes: 8,192). A
/// merge costs in proportion to the rows cached, so counting updates (not
/// examples) per cached row makes it a fixed share of the work in every
/// mode and with every cache size: a skip-gram HS example touches up to
/// seven cached rows (the top levels of its Huffman path), a CBOW
/// negative-sampling example two or three.
///
/// The price is staleness: a worker does not see the other workers'
/// changes to these rows until the next merge. Measured on the full
/// benchmark corpus (skip-gram HS, 2 workers, 1 epoch, `corpus_file`,
/// seeds 1 and 2, analogy accuracy): without the cache 0.227 / 0.232 at
/// 0.37M / 0.35M words/s, with it 0.231 / 0.236 at 0.65M / 0.55M, so no
/// loss beyond run-to-run noise. (An earlier measurement that showed about
/// one point lost was dominated by a too-narrow initialisation, since
/// fixed; see `init`.) Merging once per 10,000-word job instead lost 1.7
/// points; 32 rows merged every 512 updates was slower and no better.
pub const SYNC_HITS_PER_ROW: usize = 16;

/// A private copy of rows `first..first + n` of one shared output matrix
/// (see the module documentation).
#[derive(Debug, Default)]
pub struct HotRows {
    first: usize,
    n: usize,
    dim: usize,
    rows: Vec<f32>,
    base: Vec<f32>,
}

impl HotRows {
    /// Local row for shared row `row`, if it is cached and loaded.
    #[inline(always)]
    fn row_mut(&mut self, row: usize) -> Option<&mut [f32]> {
        let k = row.wrapping_sub(self.first);
        if k < self.n {
            Some(&mut self.rows[k * self.dim..(k + 1) * self.dim])
        } else {
            None
        }
    }

    /// Copies rows `first..first + n` of `m`.
    fn load(&mut self, m: &SharedMatrix<'_>, first: usize, n: usize) {
        self.first = first;
        self.n = n;
        self.dim = m.cols();
        self.rows.resize(n * self.dim, 0.0);
        for k in 0..n {
            m.read_row(first + k, &mut self.rows[k * self.dim..(k + 1) * self.dim]);
        }
        self.base.clear();
        self.base.extend_from_slice(&self.rows);
    }

    /// Adds the change since [`HotRows::load`] to `m` under `lock`, then
    /// stops caching.
    fn merge(&mut self, m: &SharedMatrix<'_>, lock: &Mutex<()>) {
        if self.n == 0 {
            return;
        }
        for (r, b) in self.rows.iter_mut().zip(&self.base) {
            *r -= b;
        }
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        for k in 0..self.n {
            m.axpy_row::<Unfused>(
                self.first + k,
                1.0,
                &self.rows[k * self.dim..(k + 1) * self.dim],
            );
        }
        self.n = 0;
    }

    /// [`HotRows::merge`] followed by [`HotRows::load`] of the same rows,
    /// one row at a time under `lock`: the row's change is added to `m` and
    /// the row (with the other workers' merged changes) copied back while
    /// its lines are still in L1, instead of three passes over all the rows
    /// and a copy of them.
    fn sync(&mut self, m: &SharedMatrix<'_>, lock: &Mutex<()>) {
        if self.n == 0 {
            return;
        }
        let dim = self.dim;
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let rows = self.rows.chunks_exact_mut(dim);
        for (k, (r, b)) in rows.zip(self.base.chunks_exact_mut(dim)).enumerate() {
            for (x, y) in r.iter_mut().zip(b.iter()) {
                *x -= y;
            }
            m.axpy_row::<Unfused>(self.first + k, 1.0, r);
            m.read_row(self.first + k, r);
            b.copy_from_slice(r);
        }
    }
}

/// The `syn1` rows `first..end` a worker keeps its own copies of: `syn1`
/// has one row per word, the inner nodes are rows `0..words - 1`, created
/// in order of increasing count, so the hottest (the root and the levels
/// below it) are the last `hot` of them.
#[inline(always)]
fn hot_inner_nodes(rows: usize, hot: usize) -> (usize, usize) {
    let inner = rows.saturating_sub(1).max(1).min(rows);
    (inner - hot.min(inner), inner)
}

/// A worker's [`HotRows`] of both output layers, loaded at the start of a
/// job and merged at its end.
#[derive(Debug, Default)]
pub struct HotCache {
    hs: HotRows,
    neg: HotRows,
    negatives: bool,
    /// How many of the top `syn1` rows [`HotCache::load`] caches (also
    /// when nothing is cached, for a lone worker: they are in cache anyway,
    /// and [`OutputLayers::prefetch`] leaves them out).
    inner_nodes: usize,
    hits: usize,
    /// Updates of cached rows between two merges ([`SYNC_HITS_PER_ROW`]
    /// times the rows cached).
    sync_hits: usize,
    /// The worker trains alone (one worker in its epoch): no other thread
    /// writes the shared rows, so a private copy would only add its loads
    /// and merges (measured: one worker trains skip-gram HS 1.11x and CBOW
    /// 1.06x faster without it; two workers need it, see RESULTS).
    alone: bool,
}

impl HotCache {
    /// Copies the hot rows of the model's output layers: the top
    /// `inner_nodes` rows of `syn1`, and [`HOT_WORDS`] rows of `syn1neg`
    /// when `negatives` (skip-gram's window-batched update writes each
    /// output row once per window and does not use the cache).
    pub fn load(&mut self, layers: &OutputLayers<'_>, negatives: bool, inner_nodes: usize) {
        self.negatives = negatives;
        self.inner_nodes = inner_nodes;
        self.hits = 0;
        if !layers.learn || self.alone {
            // a frozen model, or a worker with nobody to contend with:
            // nothing to cache or merge
            self.hs.n = 0;
            self.neg.n = 0;
            return;
        }
        if let Some(syn1) = &layers.syn1 {
            let (first, end) = hot_inner_nodes(syn1.rows(), inner_nodes);
            self.hs.load(syn1, first, end - first);
        }
        match &layers.syn1neg {
            Some(syn1neg) if negatives => self.neg.load(syn1neg, 0, HOT_WORDS.min(syn1neg.rows())),
            _ => self.neg.n = 0,
        }
        self.sync_hits = SYNC_HITS_PER_ROW * (self.hs.n + self.neg.n);
    }

    /// How many of the top `syn1` rows [`HotCache::load`] was asked to
    /// cache (cached or, for a lone worker, hot in any case); 0 before it.
    #[inline(always)]
    pub fn inner_nodes(&self) -> usize {
        self.inner_nodes
    }

    /// How many of the top `syn1neg` rows [`HotCache::load`] was asked to
    /// cache ([`HOT_WORDS`] when asked for noise rows, else 0; for a lone
    /// worker they are hot in any case).
    #[inline(always)]
    pub fn hot_words(&self) -> usize {
        if self.negatives {
            HOT_WORDS
        } else {
            0
        }
    }

    /// Whether the worker trains alone, so that [`HotCache::load`] caches
    /// nothing and training writes the shared rows directly.
    pub fn set_alone(&mut self, alone: bool) {
        self.alone = alone;
    }

    /// The worker's copy of `syn1` row `row`, if it is cached, counting
    /// `updates` updates of it (skip-gram's window update counts one per
    /// pair, so that merges come after as many pairs as in the per-pair
    /// update).
    #[inline(always)]
    pub(crate) fn hs_row(&mut self, row: usize, updates: usize) -> Option<&mut [f32]> {
        let r = self.hs.row_mut(row);
        if r.is_some() {
            self.hits += updates;
        }
        r
    }

    /// Called once per training example: after [`SYNC_HITS_PER_ROW`] updates
    /// per cached row the worker's changes are merged and the rows reloaded,
    /// so that the workers see each other's updates of the hot rows soon.
    #[inline(always)]
    pub fn tick(&mut self, layers: &OutputLayers<'_>) {
        if self.hs.n == 0 && self.neg.n == 0 {
            return;
        }
        if self.hits >= self.sync_hits {
            if let Some(syn1) = &layers.syn1 {
                self.hs.sync(syn1, layers.merge_lock);
            }
            if let Some(syn1neg) = &layers.syn1neg {
                self.neg.sync(syn1neg, layers.merge_lock);
            }
            self.hits = 0;
        }
    }

    /// Adds this worker's changes to the shared rows; caching stops until
    /// the next [`HotCache::load`].
    pub fn merge(&mut self, layers: &OutputLayers<'_>) {
        if let Some(syn1) = &layers.syn1 {
            self.hs.merge(syn1, layers.merge_lock);
        }
        if let Some(syn1neg) = &layers.syn1neg {
            self.neg.merge(syn1neg, layers.merge_lock);
        }
    }
}

impl OutputLayers<'_> {
    /// Draws the noise words for one example into `out` (cleared first).
    #[inline(always)]
    pub fn draw_negatives(&self, rng: &mut Rng, out: &mut Vec<u32>) {
        out.clear();
        self.draw_many(rng, self.negative_count(), out);
    }

    /// True when every example's output rows fit one block (negative
    /// sampling alone, at most [`GATHER`] rows): a frozen example can then
    /// score its input row in place ([`GradTo::OwnRow`]).
    #[inline(always)]
    pub(crate) fn one_block(&self) -> bool {
        self.syn1.is_none() && self.negative_count() < GATHER
    }

    /// Width of the output rows (of `syn1neg`, else `syn1`; 0 with neither).
    #[inline(always)]
    pub fn width(&self) -> usize {
        self.syn1neg
            .as_ref()
            .or(self.syn1.as_ref())
            .map_or(0, |m| m.cols())
    }

    /// Noise words per example (0 without negative sampling).
    #[inline(always)]
    pub fn negative_count(&self) -> usize {
        if self.noise.is_some() {
            self.negative
        } else {
            0
        }
    }

    /// Appends `n` noise words to `out`, in the order `n` single draws
    /// would give them.
    #[inline(always)]
    pub fn draw_many(&self, rng: &mut Rng, n: usize, out: &mut Vec<u32>) {
        if let Some(noise) = self.noise {
            let start = out.len();
            out.resize(start + n, 0);
            noise.fill(rng, &mut out[start..]);
        }
    }

    /// Starts loading `word`'s Huffman path (hierarchical softmax), which
    /// [`OutputLayers::prefetch`] reads to find the rows: called one example
    /// earlier than that, so that neither waits on memory.
    #[inline(always)]
    pub fn prefetch_path(&self, word: u32) {
        if let (Some(_), Some(hf)) = (&self.syn1, self.huffman) {
            hf.prefetch_path(word as usize);
        }
    }

    /// Prefetches output row `row` of `m`: for writing when training
    /// updates it, for reading when the layers are frozen (inference
    /// threads that share the rows must not take them from each other).
    #[inline(always)]
    fn prefetch_output(&self, m: &SharedMatrix<'_>, row: usize) {
        if self.learn {
            m.prefetch_row_for_write(row);
        } else {
            m.prefetch_row(row);
        }
    }

    /// Starts loading the output rows an example for `word` with noise
    /// words `negatives` will touch (a cache hint, see
    /// [`SharedMatrix::prefetch_row`]), except the rows `hot` caches or
    /// would cache ([`HotCache::inner_nodes`], [`HotCache::hot_words`]):
    /// the worker does not read the shared copies of those, and a write
    /// prefetch would only take them from the other workers (measured:
    /// CBOW NS 1.03x with 2 workers, `benches/RESULTS.md`).
    #[inline(always)]
    pub fn prefetch(&self, word: u32, negatives: &[u32], hot: &HotCache) {
        if let (Some(syn1), Some(hf)) = (&self.syn1, self.huffman) {
            // the inner nodes of the word's Huffman path, except the top of
            // the tree (the worker's hot copies, or in cache anyway)
            let (cold, _) = hot_inner_nodes(syn1.rows(), hot.inner_nodes());
            if (word as usize) < hf.len() {
                for &step in hf.path(word as usize) {
                    let p = HuffmanCodes::node(step) as usize;
                    if p < cold {
                        self.prefetch_output(syn1, p);
                    }
                }
            }
        }
        if let Some(syn1neg) = &self.syn1neg {
            // the first rows are the most frequent words
            let hot_words = hot.hot_words();
            if word as usize >= hot_words {
                self.prefetch_output(syn1neg, word as usize);
            }
            for &n in negatives {
                if n as usize >= hot_words {
                    self.prefetch_output(syn1neg, n as usize);
                }
            }
        }
    }

    /// Applies one training example: input vector `h` should predict `word`,
    /// against the noise words `negatives` (drawn with
    /// [`OutputLayers::draw_negatives`]; one equal to `word` is skipped).
    ///
    /// Output rows are updated in place (hot Huffman nodes in `hot`, when
    /// loaded); the gradient for `h` is added to `neu1e`. Returns the
    /// example's loss when `compute_loss` (else 0).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn train<M: MulAdd>(
        &self,
        word: u32,
        negatives: &[u32],
        h: &[f32],
        neu1e: &mut [f32],
        alpha: f32,
        compute_loss: bool,
        hot: &mut HotCache,
    ) -> f64 {
        if !self.learn {
            let to = &mut GradTo::Buffer(neu1e);
            return self.train_frozen::<M>(word, negatives, h, to, alpha, compute_loss);
        }
        let mut loss = 0.0f64;
        let mut block = Block::default();
        if let (Some(syn1), Some(hf)) = (&self.syn1, self.huffman) {
            // the nodes of a path are distinct rows
            for &step in hf.path(word as usize) {
                let (code, point) = (HuffmanCodes::branch(step), HuffmanCodes::node(step));
                if block.is_full() {
                    loss += self.update_block::<M>(
                        syn1,
                        &mut block,
                        h,
                        neu1e,
                        alpha,
                        compute_loss,
                        hot,
                        true,
                    );
                }
                block.push(point, 1.0 - code as f32);
            }
            loss +=
                self.update_block::<M>(syn1, &mut block, h, neu1e, alpha, compute_loss, hot, true);
        }
        if let Some(syn1neg) = &self.syn1neg {
            let targets = std::iter::once((word, 1.0f32)).chain(
                negatives
                    .iter()
                    .filter(|&&t| t != word)
                    .map(|&t| (t, 0.0f32)),
            );
            for (target, label) in targets {
                // a noise word drawn twice must score its row after the
                // row's first update, as one at a time: close the block
                if block.is_full() || block.holds(target) {
                    loss += self.update_block::<M>(
                        syn1neg,
                        &mut block,
                        h,
                        neu1e,
                        alpha,
                        compute_loss,
                        hot,
                        false,
                    );
                }
                block.push(target, label);
            }
            loss += self.update_block::<M>(
                syn1neg,
                &mut block,
                h,
                neu1e,
                alpha,
                compute_loss,
                hot,
                false,
            );
        }
        loss
    }

    /// The rows of `block` (distinct rows of `m`, up to [`GATHER`]),
    /// exactly as one at a time in block order (gensim's order): `h` does
    /// not change during an example and each row's update touches only
    /// that row, so the scores of distinct rows do not depend on each
    /// other's updates. They are computed first (four rows per pass with
    /// AVX2, up to eight with AVX-512); then
    /// each row's update follows (the worker's copy for hot rows). Rows
    /// with `|x| >= MAX_EXP` are skipped when `skip_saturated` (hierarchical
    /// softmax). Empties the block; returns the loss.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn update_block<M: MulAdd>(
        &self,
        m: &SharedMatrix<'_>,
        block: &mut Block,
        h: &[f32],
        neu1e: &mut [f32],
        alpha: f32,
        compute_loss: bool,
        hot: &mut HotCache,
        skip_saturated: bool,
    ) -> f64 {
        let n = std::mem::take(&mut block.n);
        if n == 0 {
            return 0.0;
        }
        let d = m.cols();
        assert!(h.len() >= d && neu1e.len() >= d);
        let cache = if skip_saturated {
            &mut hot.hs
        } else {
            &mut hot.neg
        };
        // (the read-only copies are stored one by one too: an array
        // converted by value is copied with one wide load right after
        // narrow stores, which stalls)
        let mut rows = [std::ptr::null_mut::<f32>(); GATHER];
        let mut read = [std::ptr::null::<f32>(); GATHER];
        for ((r, c), &id) in rows.iter_mut().zip(&mut read).zip(&block.rows[..n]) {
            *r = match cache.row_mut(id as usize) {
                Some(local) => {
                    hot.hits += 1;
                    local.as_mut_ptr()
                }
                None => m.row_mut_ptr(id as usize),
            };
            *c = *r;
        }
        let mut x = [0.0f32; GATHER];
        // SAFETY: each pointer starts a row of `d` floats (a bound-checked
        // row of `m`, or the worker's copy of one, which has its width)
        // and `h` holds d; `M`'s instructions were checked by the job loop.
        unsafe { M::gather_dots_raw(&read[..n], h.as_ptr(), d, &mut x) };
        let mut loss = 0.0f64;
        // the rows that are updated (saturated ones skipped), in block
        // order, with their scales
        let mut gs = [0.0f32; GATHER];
        let mut k = 0;
        for i in 0..n {
            let (label, x) = (block.labels[i], x[i]);
            if skip_saturated && (x <= -MAX_EXP || x >= MAX_EXP) {
                continue;
            }
            gs[k] = (label - self.sigmoid.get(x)) * alpha;
            rows[k] = rows[i]; // k <= i: compacts the list in place
            k += 1;
            if compute_loss {
                loss -= SigmoidTable::log_sigmoid((2.0 * label - 1.0) * x) as f64;
            }
        }
        // SAFETY: each pointer as above; the block's rows are distinct and
        // the worker's copies are its own, so `neu1e` and `h`, thread-local
        // buffers of at least d floats, overlap none of them; a shared row
        // may race with other workers (Hogwild). Row by row in block order,
        // as `acc_update_raw` one row at a time would do.
        unsafe {
            M::gather_acc_update_raw(&rows[..k], &gs[..k], h.as_ptr(), neu1e.as_mut_ptr(), d)
        };
        loss
    }

    /// [`OutputLayers::train`] for frozen layers (inference): since no row
    /// changes, all the example's output rows are scored first, in blocks
    /// of up to [`GATHER`], and their gradient is added to `to` in one
    /// pass per block: the same result as row by row, up to the order of
    /// the floating-point sums.
    #[inline(always)]
    pub(crate) fn train_frozen<M: MulAdd>(
        &self,
        word: u32,
        negatives: &[u32],
        h: &[f32],
        to: &mut GradTo<'_, '_>,
        alpha: f32,
        compute_loss: bool,
    ) -> f64 {
        let mut loss = 0.0f64;
        let mut block = Block::default();
        if let (Some(syn1), Some(hf)) = (&self.syn1, self.huffman) {
            for &step in hf.path(word as usize) {
                let (code, point) = (HuffmanCodes::branch(step), HuffmanCodes::node(step));
                if block.is_full() {
                    loss += block.flush::<M>(self, syn1, h, to, alpha, compute_loss, true);
                }
                block.push(point, 1.0 - code as f32);
            }
            loss += block.flush::<M>(self, syn1, h, to, alpha, compute_loss, true);
        }
        if let Some(syn1neg) = &self.syn1neg {
            let negatives = negatives.iter().filter(|&&t| t != word);
            for (target, label) in std::iter::once((word, 1.0)).chain(negatives.map(|&t| (t, 0.0)))
            {
                if block.is_full() {
                    loss += block.flush::<M>(self, syn1neg, h, to, alpha, compute_loss, false);
                }
                block.push(target, label);
            }
            loss += block.flush::<M>(self, syn1neg, h, to, alpha, compute_loss, false);
        }
        loss
    }

    /// [`OutputLayers::train_frozen`] with the input built in the same pass
    /// ([`SharedMatrix::frozen_step`]): the input is row `row` of `dest`
    /// plus the rows `ctx_ids` of `ctx`, times `h_scale`, and the gradient
    /// goes to that row. Taken only for negative sampling whose example fits one block
    /// of rows and without the loss; returns false (nothing done) otherwise,
    /// or where `M` has no fused form.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn train_frozen_fused<M: MulAdd>(
        &self,
        word: u32,
        negatives: &[u32],
        ctx: &SharedMatrix<'_>,
        ctx_ids: [&[u32]; 2],
        h_scale: f32,
        dest: &SharedMatrix<'_>,
        row: usize,
        alpha: f32,
        compute_loss: bool,
    ) -> bool {
        let Some(syn1neg) = &self.syn1neg else {
            return false;
        };
        let d = syn1neg.cols();
        if compute_loss || !self.one_block() || dest.cols() != d || d > M::FROZEN_STEP_MAX_DIM {
            return false;
        }
        let mut block = Block::default();
        block.push(word, 1.0);
        for &t in negatives.iter().filter(|&&t| t != word) {
            block.push(t, 0.0);
        }
        let labels = &block.labels;
        let sigmoid = &self.sigmoid;
        let outs = &block.rows[..block.n];
        syn1neg.frozen_step::<M, _>(outs, ctx, ctx_ids, h_scale, dest, row, |g| {
            for (gk, &label) in g.iter_mut().zip(labels) {
                *gk = (label - sigmoid.get(*gk)) * alpha;
            }
        })
    }
}

/// Up to [`GATHER`] output rows of one frozen example with their labels.
#[derive(Default)]
struct Block {
    rows: [u32; GATHER],
    labels: [f32; GATHER],
    n: usize,
}

impl Block {
    /// Whether the block holds [`GATHER`] rows.
    #[inline(always)]
    fn is_full(&self) -> bool {
        self.n == GATHER
    }

    /// Whether `row` is in the block.
    #[inline(always)]
    fn holds(&self, row: u32) -> bool {
        self.rows[..self.n].contains(&row)
    }

    /// Adds a row (the block must not be full).
    #[inline(always)]
    fn push(&mut self, row: u32, label: f32) {
        self.rows[self.n] = row;
        self.labels[self.n] = label;
        self.n += 1;
    }

    /// Scores the block's rows of `m` against `h`, adds their gradient to
    /// `to` (rows with `|x| >= MAX_EXP` skipped when `skip_saturated`, as
    /// for hierarchical softmax) and empties the block. Returns the loss.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn flush<M: MulAdd>(
        &mut self,
        layers: &OutputLayers<'_>,
        m: &SharedMatrix<'_>,
        h: &[f32],
        to: &mut GradTo<'_, '_>,
        alpha: f32,
        compute_loss: bool,
        skip_saturated: bool,
    ) -> f64 {
        let n = std::mem::take(&mut self.n);
        if n == 0 {
            return 0.0;
        }
        let mut loss = 0.0f64;
        let labels = &self.labels;
        let mut grad = |g: &mut [f32], alpha: f32| {
            for (gk, &label) in g.iter_mut().zip(labels) {
                let x = *gk;
                if skip_saturated && (x <= -MAX_EXP || x >= MAX_EXP) {
                    *gk = 0.0;
                    continue;
                }
                if compute_loss {
                    loss -= SigmoidTable::log_sigmoid((2.0 * label - 1.0) * x) as f64;
                }
                *gk = (label - layers.sigmoid.get(x)) * alpha;
            }
        };
        let rows = &self.rows[..n];
        match to {
            GradTo::Buffer(neu1e) => {
                m.score_and_accumulate::<M, _>(rows, h, neu1e, |g| grad(g, alpha))
            }
            GradTo::Row { matrix, row, scale } => {
                let a = alpha * *scale;
                m.score_into_row::<M, _>(rows, h, matrix, *row, |g| grad(g, a))
            }
            GradTo::OwnRow { matrix, row, scale } => {
                let a = alpha * *scale;
                m.score_into_own_row::<M, _>(rows, matrix, *row, |g| grad(g, a))
            }
        }
        loss
    }
}

/// Test matrices: each test owns its buffers and runs its workers itself,
/// accepting SharedMatrix's Hogwild contract.
/// The merge lock of the tests' output layers.
#[cfg(test)]
static TEST_LOCK: Mutex<()> = Mutex::new(());

#[cfg(test)]
fn shared(data: &mut [f32], rows: usize, cols: usize) -> SharedMatrix<'_> {
    // SAFETY: only the test's own (Hogwild-tolerant) training touches `data`.
    unsafe { SharedMatrix::new(data, rows, cols) }.expect("test buffer of rows * cols")
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
                syn1neg: Some(shared(&mut out, 3, 2)),
                noise: Some(&noise),
                negative: 0,
                syn1: None,
                huffman: None,
                sigmoid: &sig,
                merge_lock: &TEST_LOCK,
                learn: true,
            };
            let loss = layers.train::<Unfused>(
                0,
                &[],
                &h,
                &mut neu1e,
                alpha,
                true,
                &mut HotCache::default(),
            );
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

    /// The output width the job loop's dispatch reads: `syn1neg`'s columns
    /// where it exists, else `syn1`'s, else 0.
    #[test]
    fn width_is_that_of_the_output_rows() {
        let sig = SigmoidTable::new();
        let hf = crate::vocab::huffman_codes(&[3, 1]).unwrap();
        let (mut neg, mut hs, mut hs2) = (vec![0.0f32; 10], vec![0.0f32; 6], vec![0.0f32; 6]);
        let layers = |syn1neg, syn1| OutputLayers {
            syn1neg,
            noise: None,
            negative: 0,
            syn1,
            huffman: Some(&hf),
            sigmoid: &sig,
            merge_lock: &TEST_LOCK,
            learn: true,
        };
        assert_eq!(layers(None, None).width(), 0);
        assert_eq!(layers(None, Some(shared(&mut hs, 2, 3))).width(), 3);
        let both = layers(Some(shared(&mut neg, 2, 5)), Some(shared(&mut hs2, 2, 3)));
        assert_eq!(both.width(), 5);
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
                syn1: Some(shared(&mut syn1, 2, 2)),
                huffman: Some(&hf),
                sigmoid: &sig,
                merge_lock: &TEST_LOCK,
                learn: true,
            };
            layers.train::<Unfused>(0, &[], &h, &mut neu1e, 0.5, false, &mut HotCache::default());
        }
        let code = hf.codes(0)[0] as f32;
        let g = (1.0 - code - 0.5) * 0.5;
        assert!((syn1[0] - g * 1.0).abs() < 1e-6 && (syn1[1] - g * 2.0).abs() < 1e-6);
        assert_eq!(neu1e, [0.0, 0.0]); // the node row was zero before the step
    }

    /// A frozen example (inference) scores all its rows first, in blocks:
    /// the gradient and loss equal the row-by-row ones, with a saturated
    /// Huffman node skipped, a noise word equal to the target dropped, and
    /// more noise words than fit in one block.
    /// A frozen model of 10 words with both output layers, for the
    /// frozen-example tests.
    struct Frozen {
        sig: SigmoidTable,
        hf: HuffmanCodes,
        noise: UnigramTable,
        syn1: Vec<f32>,
        syn1neg: Vec<f32>,
        n: usize,
        dim: usize,
    }

    impl Frozen {
        fn new(dim: usize) -> Self {
            let counts = [9u64, 7, 5, 4, 3, 2, 2, 1, 1, 1];
            let n = counts.len();
            Frozen {
                sig: SigmoidTable::new(),
                hf: crate::vocab::huffman_codes(&counts).unwrap(),
                noise: UnigramTable::new(&counts, 0.75, 0).unwrap(),
                syn1: (0..n * dim)
                    .map(|i| ((i * 7 % 11) as f32 - 5.0) / 8.0)
                    .collect(),
                syn1neg: (0..n * dim)
                    .map(|i| ((i * 5 % 13) as f32 - 6.0) / 9.0)
                    .collect(),
                n,
                dim,
            }
        }

        fn layers(&self, negative: usize) -> OutputLayers<'_> {
            OutputLayers {
                syn1neg: Some(SharedMatrix::read_only(&self.syn1neg, self.n, self.dim).unwrap()),
                noise: Some(&self.noise),
                negative,
                syn1: Some(SharedMatrix::read_only(&self.syn1, self.n, self.dim).unwrap()),
                huffman: Some(&self.hf),
                sigmoid: &self.sig,
                merge_lock: &TEST_LOCK,
                learn: false,
            }
        }
    }

    #[test]
    fn frozen_example_gives_the_row_by_row_gradient() {
        let mut fx = Frozen::new(6);
        let dim = fx.dim;
        let word = 8u32;
        let root = fx.hf.points(word as usize)[0] as usize;
        fx.syn1[root * dim..(root + 1) * dim].fill(4.0); // |x| >= 6: skipped
        let h = [0.5f32, 0.25, -0.125, 0.75, 0.5, 0.25];
        let negatives = [3u32, 8, 1, 0, 0, 5, 9, 2, 7, 4, 6];
        let alpha = 0.05;
        let layers = fx.layers(negatives.len());
        let (sig, hf, syn1, syn1neg) = (&fx.sig, &fx.hf, &fx.syn1, &fx.syn1neg);
        let mut neu1e = vec![0.0f32; dim];
        let mut hot = HotCache::default();
        let loss = layers.train::<Unfused>(word, &negatives, &h, &mut neu1e, alpha, true, &mut hot);
        let (mut want, mut want_loss, mut skipped) = (vec![0.0f32; dim], 0.0f64, 0);
        let mut add = |m: &[f32], row: usize, label: f32, skip: bool| {
            let u = &m[row * dim..(row + 1) * dim];
            let x: f32 = u.iter().zip(&h).map(|(a, b)| a * b).sum();
            if skip && x.abs() >= MAX_EXP {
                skipped += 1;
                return;
            }
            want_loss -= SigmoidTable::log_sigmoid((2.0 * label - 1.0) * x) as f64;
            let g = (label - sig.get(x)) * alpha;
            want.iter_mut().zip(u).for_each(|(w, v)| *w += g * v);
        };
        for (code, point) in hf
            .codes(word as usize)
            .into_iter()
            .zip(hf.points(word as usize))
        {
            add(syn1, point as usize, 1.0 - code as f32, true);
        }
        add(syn1neg, word as usize, 1.0, false);
        for &t in negatives.iter().filter(|&&t| t != word) {
            add(syn1neg, t as usize, 0.0, false);
        }
        assert_eq!(skipped, 1);
        assert!((loss - want_loss).abs() < 1e-4, "{loss} vs {want_loss}");
        assert!(
            neu1e.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5),
            "{neu1e:?} vs {want:?}"
        );
    }

    /// A frozen example's gradient sent straight to an input row (the
    /// inference path) equals the gradient collected in a buffer and then
    /// added to that row times the scale, over several blocks (hierarchical
    /// softmax and negatives), with the loss unchanged by the scale; the
    /// other rows of the destination stay as they were.
    #[test]
    fn frozen_gradient_to_a_row_equals_the_buffer_then_axpy() {
        let fx = Frozen::new(13);
        let dim = fx.dim;
        let layers = fx.layers(11);
        let negatives = [3u32, 8, 1, 0, 0, 5, 9, 2, 7, 4, 6];
        let (word, alpha, scale) = (8u32, 0.05f32, 0.25f32);
        let mut docs: Vec<f32> = (0..3 * dim).map(|i| (i as f32 * 0.3).sin()).collect();
        let h = docs[dim..2 * dim].to_vec();
        let mut neu1e = vec![0.0f32; dim];
        let want_loss = layers.train::<Unfused>(
            word,
            &negatives,
            &h,
            &mut neu1e,
            alpha,
            true,
            &mut HotCache::default(),
        );
        let mut want = docs.clone();
        for (w, g) in want[dim..2 * dim].iter_mut().zip(&neu1e) {
            *w += scale * g;
        }
        let loss = {
            let m = shared(&mut docs, 3, dim);
            let to = &mut GradTo::Row {
                matrix: &m,
                row: 1,
                scale,
            };
            layers.train_frozen::<Unfused>(word, &negatives, &h, to, alpha, true)
        };
        assert!((loss - want_loss).abs() < 1e-6, "{loss} vs {want_loss}");
        assert!(neu1e.iter().any(|&g| g != 0.0), "a gradient to compare");
        assert_eq!(&docs[..dim], &want[..dim]);
        assert_eq!(&docs[2 * dim..], &want[2 * dim..]);
        for (a, b) in docs[dim..2 * dim].iter().zip(&want[dim..2 * dim]) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    /// A training example scores its rows in blocks but updates them as
    /// one at a time in gensim's order: a noise word drawn twice sees its
    /// row's first update, the target among the noise words is dropped,
    /// and more rows than fit in one block work.
    #[test]
    fn blocks_update_as_one_row_at_a_time() {
        let sig = SigmoidTable::new();
        let counts = [9u64, 7, 5, 4, 3, 2, 2, 1, 1, 1];
        let noise = UnigramTable::new(&counts, 0.75, 0).unwrap();
        let (n, dim) = (counts.len(), 5);
        let init: Vec<f32> = (0..n * dim)
            .map(|i| ((i * 5 % 13) as f32 - 6.0) / 3.0)
            .collect();
        let h = [0.5f32, 0.25, -0.125, 0.75, 0.5];
        let negatives = [3u32, 8, 3, 1, 0, 0, 5, 9, 2, 3, 4, 6];
        let (word, alpha) = (8u32, 0.2);
        let mut syn1neg = init.clone();
        let mut neu1e = vec![0.0f32; dim];
        let loss = {
            let layers = OutputLayers {
                syn1neg: Some(shared(&mut syn1neg, n, dim)),
                noise: Some(&noise),
                negative: negatives.len(),
                syn1: None,
                huffman: None,
                sigmoid: &sig,
                merge_lock: &TEST_LOCK,
                learn: true,
            };
            layers.train::<Unfused>(
                word,
                &negatives,
                &h,
                &mut neu1e,
                alpha,
                true,
                &mut HotCache::default(),
            )
        };
        let mut want = init;
        let (mut want_e, mut want_loss) = (vec![0.0f32; dim], 0.0f64);
        let targets = std::iter::once((word, 1.0f32))
            .chain(negatives.iter().filter(|&&t| t != word).map(|&t| (t, 0.0)));
        for (t, label) in targets {
            let u = &mut want[t as usize * dim..(t as usize + 1) * dim];
            let x: f32 = u.iter().zip(&h).map(|(a, b)| a * b).sum();
            want_loss -= SigmoidTable::log_sigmoid((2.0 * label - 1.0) * x) as f64;
            let g = (label - sig.get(x)) * alpha;
            for ((e, v), hv) in want_e.iter_mut().zip(u.iter_mut()).zip(&h) {
                *e += g * *v;
                *v += g * hv;
            }
        }
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-5);
        assert!(close(&syn1neg, &want), "{syn1neg:?} vs {want:?}");
        assert!(close(&neu1e, &want_e), "{neu1e:?} vs {want_e:?}");
        assert!((loss - want_loss).abs() < 1e-4, "{loss} vs {want_loss}");
    }
}

#[cfg(test)]
mod hot_rows_tests {
    use super::*;

    fn layers<'a>(syn1: SharedMatrix<'a>, sig: &'a SigmoidTable) -> OutputLayers<'a> {
        OutputLayers {
            syn1neg: None,
            noise: None,
            negative: 0,
            syn1: Some(syn1),
            huffman: None,
            sigmoid: sig,
            merge_lock: &TEST_LOCK,
            learn: true,
        }
    }

    /// Two workers change overlapping hot rows on private copies; after
    /// both merge, the shared rows hold the start values plus both changes.
    #[test]
    fn merges_of_two_workers_add_up() {
        for hot in [HOT_INNER_NODES, 512] {
            let sig = SigmoidTable::new();
            let (rows, dim) = (hot + 10, 3);
            let mut syn1: Vec<f32> = (0..rows * dim).map(|i| i as f32).collect();
            let start = syn1.clone();
            {
                let l = layers(shared(&mut syn1, rows, dim), &sig);
                let (mut a, mut b) = (HotCache::default(), HotCache::default());
                a.load(&l, true, hot);
                b.load(&l, true, hot);
                // rows are vocabulary-sized; inner nodes are 0..rows-1, hottest last
                let root = rows - 2;
                assert!(a.hs.row_mut(root).is_some() && a.hs.row_mut(rows - 1).is_none());
                assert!(a.hs.row_mut(root + 1 - hot).is_some());
                assert!(a.hs.row_mut(root - hot).is_none());
                a.hs.row_mut(root).unwrap()[0] += 1.5;
                b.hs.row_mut(root).unwrap()[0] += 2.0;
                b.hs.row_mut(root - 1).unwrap()[2] -= 4.0;
                a.merge(&l);
                b.merge(&l);
                assert!(a.hs.row_mut(root).is_none(), "merge ends caching");
            }
            let root = rows - 2;
            let mut want = start;
            want[root * dim] += 3.5;
            want[(root - 1) * dim + 2] -= 4.0;
            assert_eq!(syn1, want);
        }
    }

    /// A worker's changes to its cached rows reach the shared rows after
    /// `SYNC_HITS_PER_ROW` updates per cached row, not before, and the
    /// worker then reads the other workers' changes.
    #[test]
    fn merges_come_after_a_fixed_number_of_updates_per_cached_row() {
        for hot in [HOT_INNER_NODES, 512] {
            let sig = SigmoidTable::new();
            let (rows, dim) = (hot + 10, 2);
            let mut syn1 = vec![0.0f32; rows * dim];
            let root = rows - 2;
            {
                let l = layers(shared(&mut syn1, rows, dim), &sig);
                let m = l.syn1.as_ref().unwrap();
                let mut c = HotCache::default();
                c.load(&l, false, hot);
                let due = SYNC_HITS_PER_ROW * hot;
                for _ in 0..due - 1 {
                    c.hs_row(root, 1).unwrap()[0] += 1.0;
                    c.tick(&l);
                }
                let mut shared_root = [0.0f32; 2];
                m.read_row(root, &mut shared_root);
                assert_eq!(shared_root[0], 0.0, "no merge before {due} updates");
                // another worker's change, seen only after the merge
                m.axpy_row::<Unfused>(root, 1.0, &[0.0, 7.0]);
                c.hs_row(root, 1).unwrap()[0] += 1.0;
                assert_eq!(c.hs_row(root, 0).unwrap()[1], 0.0);
                c.tick(&l);
                m.read_row(root, &mut shared_root);
                assert_eq!(shared_root, [due as f32, 7.0], "merged at {due} updates");
                assert_eq!(c.hs_row(root, 0).unwrap(), &[due as f32, 7.0]);
                // the next round adds only its own updates: what was merged
                // is the new base
                for _ in 0..due {
                    c.hs_row(root, 1).unwrap()[0] += 1.0;
                    c.tick(&l);
                }
                m.read_row(root, &mut shared_root);
                assert_eq!(shared_root, [2.0 * due as f32, 7.0], "second round");
                c.hs_row(root, 1).unwrap()[1] += 1.0;
                c.merge(&l);
                m.read_row(root, &mut shared_root);
                assert_eq!(shared_root, [2.0 * due as f32, 8.0], "merge at the end");
            }
        }
    }

    /// A worker that trains alone caches nothing: its updates go straight
    /// to the shared rows, and a later `set_alone(false)` caches again.
    #[test]
    fn a_lone_worker_writes_the_shared_rows() {
        let sig = SigmoidTable::new();
        let (rows, dim) = (HOT_INNER_NODES + 10, 3);
        let mut syn1 = vec![0.5f32; rows * dim];
        let root = rows - 2;
        {
            let l = layers(shared(&mut syn1, rows, dim), &sig);
            let mut hot = HotCache::default();
            hot.set_alone(true);
            hot.load(&l, true, HOT_INNER_NODES);
            assert!(hot.hs_row(root, 1).is_none(), "nothing cached when alone");
            // the rows prefetching leaves out: hot in any case
            assert_eq!(
                (hot.inner_nodes(), hot.hot_words()),
                (HOT_INNER_NODES, HOT_WORDS)
            );
            l.syn1
                .as_ref()
                .unwrap()
                .axpy_row::<Unfused>(root, 1.0, &[1.0, 2.0, 3.0]);
            hot.merge(&l); // nothing to merge: the shared row keeps the write
            hot.set_alone(false);
            hot.load(&l, false, HOT_INNER_NODES);
            assert_eq!(hot.hot_words(), 0, "no noise rows cached, none left out");
            hot.merge(&l);
            hot.load(&l, true, HOT_INNER_NODES);
            assert_eq!(
                hot.hs_row(root, 1).map(|r| r.to_vec()),
                Some(vec![1.5, 2.5, 3.5])
            );
            hot.merge(&l);
        }
        assert_eq!(&syn1[root * dim..(root + 1) * dim], &[1.5, 2.5, 3.5]);
    }

    /// Training hot rows on the private copies (Huffman nodes and
    /// negative-sampling rows) gives what training them in place gives.
    #[test]
    fn cached_training_equals_shared_training() {
        let sig = SigmoidTable::new();
        let hf = crate::vocab::huffman_codes(&[5, 3, 2, 1]).unwrap();
        let noise = UnigramTable::new(&[5, 3, 2, 1], 0.75, 0).unwrap();
        let init: Vec<f32> = (0..8).map(|i| 0.1 * i as f32 - 0.3).collect();
        let h = [0.4f32, -0.2];
        let run = |cached: bool| {
            let mut syn1 = init.clone();
            let mut syn1neg: Vec<f32> = init.iter().map(|v| -v).collect();
            let mut neu1e = [0.0f32; 2];
            {
                let mut l = layers(shared(&mut syn1, 4, 2), &sig);
                l.huffman = Some(&hf);
                l.syn1neg = Some(shared(&mut syn1neg, 4, 2));
                l.noise = Some(&noise);
                l.negative = 2;
                let mut hot = HotCache::default();
                if cached {
                    hot.load(&l, true, HOT_INNER_NODES);
                    assert!(hot.neg.row_mut(3).is_some() && hot.hs.row_mut(2).is_some());
                }
                for (word, negs) in [(3u32, [0u32, 1]), (0, [2, 3]), (2, [1, 1]), (3, [3, 0])] {
                    l.train::<Unfused>(word, &negs, &h, &mut neu1e, 0.3, false, &mut hot);
                }
                hot.merge(&l);
            }
            (syn1, syn1neg, neu1e)
        };
        let (a, b) = (run(true), run(false));
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-6);
        assert!(
            close(&a.0, &b.0) && close(&a.1, &b.1) && close(&a.2, &b.2),
            "{a:?} vs {b:?}"
        );
        assert_ne!(
            a.1,
            init.iter().map(|v| -v).collect::<Vec<_>>(),
            "rows trained"
        );
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
            merge_lock: &TEST_LOCK,
            learn: true,
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
