//! The Riemannian SGD trainer: epochs, batches, Hogwild workers.
//!
//! Each epoch shuffles the relations (one seeded permutation per epoch) and
//! splits them into `workers` contiguous shares. A worker walks its share in
//! batches of `batch_size` relations: for every relation it draws negatives,
//! reads the rows it needs, and computes the loss gradients
//! ([`super::loss`]); the Riemannian updates of the whole batch are summed
//! per row (a node may occur several times in a batch, as in gensim) and
//! applied at the end of the batch, each followed by the projection inside
//! the ball. Workers share the matrix without locks ([`crate::hogwild`]).
//!
//! With `workers = 1` and a fixed seed, training is bit-reproducible: the
//! permutation, the negatives and the update order depend only on the seed
//! and on the global epoch number.

use rayon::prelude::*;

use super::lorentz;
use super::loss::{gradient_check, relation_loss_in, Ball, Hyperboloid, LossScratch, Model};
use super::manifold::{project, riemannian_factor, Real};
use super::negatives::{Graph, Sampling};
use crate::error::{Error, Result};
use crate::hogwild::SharedMatrix;
use crate::progress::Progress;
use crate::sampling::Rng;

/// Settings that stay fixed for a model.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Negatives per relation.
    pub negative: usize,
    /// Margin of the projection: points are kept at norm `<= 1 - epsilon`.
    pub epsilon: f64,
    /// Weight `λ` of the `λ |v|²` penalty on the positive node.
    pub regularization_coeff: f64,
    /// Relations per batch.
    pub batch_size: usize,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Compare analytic gradients with finite differences every this many
    /// batches of each worker (0: never; the ball only).
    pub check_gradients_every: usize,
    /// The model of hyperbolic space the SGD steps are taken in.
    pub geometry: Geometry,
    /// A cap on the distance from the origin that grows over the first
    /// epochs (`None`: the full radius of `epsilon` from the start).
    pub radius_warmup: Option<RadiusWarmup>,
}

/// A curriculum on the radius: during the first `epochs` global epochs
/// (burn-in included) every row is kept within a hyperbolic distance of the
/// origin that stays `start` for the first quarter of them (`h = epochs / 4`)
/// and then grows linearly, `start + (R − start)(e − h)/(epochs − h)` in
/// epoch `e`, to `R`, the radius that `epsilon` allows (`ln((2 − ε)/ε)`, 12.2
/// for ε = 1e-5).
///
/// While the cap is small, a node's move between branches of the hierarchy
/// is a short geodesic; near the full radius the same angular move is
/// `e^R` times longer, so nodes pushed outwards early keep the angle they
/// first took. Held back, the hierarchy settles its angles first and its
/// leaves then move outwards: on the WordNet noun closure (10 dimensions,
/// paper protocol) this lowers mean rank from 5.7 to about 3 (benches/RESULTS.md).
/// Without the quarter at `start`, a ramp from epoch 0 gained little there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RadiusWarmup {
    /// Largest distance from the origin in epoch 0 (positive).
    pub start: f64,
    /// Length of the warm-up in global epochs: the cap stays `start` for
    /// the first quarter, then grows linearly to the full radius.
    pub epochs: u64,
}

impl RadiusWarmup {
    /// The margin `ε_e ≥ epsilon` (norm `<= 1 − ε_e` in the ball) of global
    /// epoch `epoch`.
    pub fn epsilon_at(&self, epsilon: f64, epoch: u64) -> f64 {
        if epoch >= self.epochs {
            return epsilon;
        }
        let full = ((2.0 - epsilon) / epsilon).ln();
        let hold = self.epochs / 4;
        let grown = epoch.saturating_sub(hold) as f64 / (self.epochs - hold) as f64;
        let r = self.start + (full - self.start) * grown;
        // 1 − tanh(r/2): the ball norm of a point at distance r is tanh(r/2)
        (2.0 / (r.exp() + 1.0)).max(epsilon)
    }
}

/// Where Riemannian SGD runs. The vectors are Poincaré-ball coordinates
/// either way; the two models are isometric, so the loss is the same
/// function of the embedding and only the steps differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Geometry {
    /// In the ball, as gensim does: `x ← proj(x − lr (1 − |x|²)²/4 ∇)`.
    #[default]
    Ball,
    /// In the hyperboloid (Nickel & Kiela, 2018): exact exponential-map
    /// steps of at most unit length ([`super::lorentz`]), the vectors
    /// converted from the ball at the start of the call and back at its end.
    Hyperboloid,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            negative: 10,
            epsilon: 1e-5,
            regularization_coeff: 1.0,
            batch_size: 10,
            workers: 1,
            seed: 0,
            check_gradients_every: 0,
            geometry: Geometry::Ball,
            radius_warmup: None,
        }
    }
}

/// One run of epochs at one learning rate and one negative distribution.
#[derive(Clone, Copy, Debug)]
pub struct Phase {
    /// Number of epochs.
    pub epochs: usize,
    /// Learning rate.
    pub alpha: f64,
    /// How negatives are drawn.
    pub sampling: Sampling,
    /// Global number of the first epoch (seeds the epoch's random streams,
    /// so that consecutive `train` calls continue rather than repeat).
    pub first_epoch: u64,
}

/// What a training run reports.
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    /// Mean loss per relation of each epoch (without the regularisation term).
    pub epoch_losses: Vec<f64>,
    /// Largest gradient error seen by the finite-difference checks (0 if none ran).
    pub max_gradient_error: f64,
}

fn validate<T: Real>(
    vectors: &[T],
    dim: usize,
    graph: &Graph,
    cfg: &TrainConfig,
    phase: &Phase,
) -> Result<()> {
    if dim == 0 {
        return Err(Error::invalid("size must be at least 1"));
    }
    if vectors.len() != graph.n_nodes() * dim {
        return Err(Error::invalid(format!(
            "vectors hold {} values, expected {} nodes x {dim} dimensions",
            vectors.len(),
            graph.n_nodes()
        )));
    }
    if !(phase.alpha.is_finite() && phase.alpha > 0.0) {
        return Err(Error::invalid(format!(
            "learning rate must be a positive number, got {}",
            phase.alpha
        )));
    }
    if !(cfg.epsilon > 0.0 && cfg.epsilon < 1.0) {
        return Err(Error::invalid(format!(
            "epsilon must be in (0, 1), got {}",
            cfg.epsilon
        )));
    }
    if !(cfg.regularization_coeff.is_finite() && cfg.regularization_coeff >= 0.0) {
        return Err(Error::invalid(format!(
            "regularization_coeff must be a non-negative number, got {}",
            cfg.regularization_coeff
        )));
    }
    if cfg.batch_size == 0 {
        return Err(Error::invalid("batch_size must be at least 1"));
    }
    if let Some(w) = cfg.radius_warmup {
        if !(w.start.is_finite() && w.start > 0.0) {
            return Err(Error::invalid(format!(
                "radius_warmup_start must be a positive number, got {}",
                w.start
            )));
        }
    }
    if vectors.iter().any(|x| !x.to_f64().is_finite()) {
        return Err(Error::invalid("the vectors contain NaN or infinite values"));
    }
    graph.check_negative(cfg.negative)
}

/// Trains `vectors` (row-major `n_nodes x dim`, `f32` or `f64`) for one phase.
///
/// Rows are first projected inside the ball. Returns the per-epoch losses; stops
/// with [`Error::Interrupted`] when `progress` asks to stop.
pub fn train<T: Real>(
    vectors: &mut [T],
    dim: usize,
    graph: &Graph,
    cfg: &TrainConfig,
    phase: &Phase,
    progress: &Progress,
) -> Result<TrainReport> {
    validate(vectors, dim, graph, cfg, phase)?;
    let epsilon = cfg.epsilon.max(T::MIN_EPSILON);
    let n_nodes = graph.n_nodes();
    match cfg.geometry {
        Geometry::Ball => {
            // SAFETY: `vectors` is borrowed mutably for the whole call, so only
            // this call's Hogwild workers reach it; their races are the accepted
            // Hogwild semantics (see `crate::hogwild`).
            let shared = unsafe { SharedMatrix::new(vectors, n_nodes, dim) }?;
            let zero = vec![0.0; dim];
            let mut s = vec![0.0; dim];
            for r in 0..n_nodes {
                sub_and_project(&shared, r, &zero, epsilon, &mut s);
            }
            run_epochs::<T, Ball>(&shared, graph, cfg, phase, epsilon, progress)
        }
        Geometry::Hyperboloid => {
            let cols = dim + 1;
            let limit = lorentz::max_spatial_norm(epsilon);
            let mut h = vec![0.0f64; n_nodes * cols];
            let mut p = vec![0.0; dim];
            for (row, x) in vectors.chunks_exact(dim).zip(h.chunks_exact_mut(cols)) {
                for (a, &b) in p.iter_mut().zip(row) {
                    *a = b.to_f64();
                }
                project(&mut p, epsilon);
                lorentz::from_ball(&p, x);
                lorentz::keep_within(x, limit);
            }
            let out = {
                // SAFETY: `h` is this call's own buffer, reached only by its
                // Hogwild workers until the block ends.
                let shared = unsafe { SharedMatrix::new(&mut h, n_nodes, cols) }?;
                run_epochs::<f64, Hyperboloid>(&shared, graph, cfg, phase, epsilon, progress)
            };
            // Back to the ball, also when interrupted: the epochs done are kept,
            // as in the ball.
            for (row, x) in vectors.chunks_exact_mut(dim).zip(h.chunks_exact(cols)) {
                lorentz::to_ball(x, &mut p);
                project(&mut p, epsilon);
                for (a, &b) in row.iter_mut().zip(&p) {
                    *a = T::from_f64(b);
                }
            }
            out
        }
    }
}

/// The epochs of one phase over the rows of `shared` (coordinates of model
/// `S`); rows are kept at ball norm `<= 1 − epsilon`, or within the radius
/// warm-up's cap while it lasts.
fn run_epochs<T: Real, S: Space>(
    shared: &SharedMatrix<'_, T>,
    graph: &Graph,
    cfg: &TrainConfig,
    phase: &Phase,
    epsilon: f64,
    progress: &Progress,
) -> Result<TrainReport> {
    let pool = crate::thread_pool(cfg.workers)?;
    let n_rel = graph.pairs().len();
    let n_batches = n_rel.div_ceil(cfg.batch_size);
    let n_workers = pool.current_num_threads().clamp(1, n_batches.max(1));
    let mut report = TrainReport::default();
    let mut order: Vec<u32> = (0..n_rel as u32).collect();
    for e in 0..phase.epochs {
        if progress.should_stop() {
            return Err(Error::Interrupted);
        }
        let epoch_id = phase.first_epoch + e as u64;
        progress.set_epoch(epoch_id);
        let limit = S::limit(match cfg.radius_warmup {
            Some(w) => w.epsilon_at(epsilon, epoch_id),
            None => epsilon,
        });
        let mut rng = Rng::for_worker(cfg.seed, epoch_id.wrapping_mul(2));
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        // Shares are whole batches, so batch boundaries do not depend on `workers`.
        let share = n_batches.div_ceil(n_workers) * cfg.batch_size;
        let ctx = Worker::<T, S> {
            shared,
            graph,
            cfg,
            phase,
            limit,
            progress,
            space: std::marker::PhantomData,
        };
        let results: Vec<(f64, usize, f64)> = pool.install(|| {
            order
                .par_chunks(share)
                .enumerate()
                .map(|(w, rels)| {
                    let mut rng = Rng::for_worker(
                        cfg.seed ^ epoch_id.wrapping_mul(2).wrapping_add(1),
                        w as u64,
                    );
                    ctx.run(rels, &mut rng)
                })
                .collect()
        });
        let (mut loss, mut count) = (0.0, 0usize);
        for (l, c, g) in results {
            loss += l;
            count += c;
            report.max_gradient_error = report.max_gradient_error.max(g);
        }
        if progress.should_stop() {
            return Err(Error::Interrupted);
        }
        let mean = if count > 0 { loss / count as f64 } else { 0.0 };
        progress.set_metric(mean);
        report.epoch_losses.push(mean);
    }
    Ok(report)
}

/// How a model of hyperbolic space takes Riemannian SGD steps.
trait Space: Model + Sync {
    /// Whether [`gradient_check`] (written for the ball) applies.
    const CHECKS_GRADIENTS: bool;
    /// The factor on a relation's Euclidean gradient at `x` that gives the
    /// row's update (summed over a batch, then handed to [`Space::apply`]).
    fn update_scale(lr: f64, x: &[f64]) -> f64;
    /// The bound on a row handed to [`Space::apply`] for ball norm `<= 1 − epsilon`.
    fn limit(epsilon: f64) -> f64;
    /// Applies a row's summed update; `limit` bounds the row (the ball's
    /// `epsilon`, the hyperboloid's spatial norm). `scratch` holds at least
    /// twice the row's length.
    fn apply<T: Real>(
        m: &SharedMatrix<'_, T>,
        row: usize,
        update: &[f64],
        limit: f64,
        scratch: &mut [f64],
    );
}

impl Space for Ball {
    const CHECKS_GRADIENTS: bool = true;
    #[inline]
    fn update_scale(lr: f64, x: &[f64]) -> f64 {
        lr * riemannian_factor(x)
    }
    fn limit(epsilon: f64) -> f64 {
        epsilon
    }
    #[inline]
    fn apply<T: Real>(
        m: &SharedMatrix<'_, T>,
        row: usize,
        update: &[f64],
        limit: f64,
        scratch: &mut [f64],
    ) {
        sub_and_project(m, row, update, limit, scratch);
    }
}

impl Space for Hyperboloid {
    const CHECKS_GRADIENTS: bool = false;
    #[inline]
    fn update_scale(lr: f64, _x: &[f64]) -> f64 {
        lr
    }
    fn limit(epsilon: f64) -> f64 {
        lorentz::max_spatial_norm(epsilon)
    }
    #[inline]
    fn apply<T: Real>(
        m: &SharedMatrix<'_, T>,
        row: usize,
        update: &[f64],
        limit: f64,
        scratch: &mut [f64],
    ) {
        let n = m.cols();
        let (x, v) = scratch.split_at_mut(n);
        m.read_row_as(row, x, T::to_f64);
        lorentz::step(x, update, limit, v);
        m.write_row_as(row, x, T::from_f64);
    }
}

/// `row ← proj(row − update)`: the Riemannian SGD step's write, using
/// `scratch` (length `cols`) as buffer. Two workers updating one row at the
/// same moment may interleave their writes (the accepted Hogwild race): the
/// row then holds a mix of two valid points, which the next projection
/// brings back inside the ball if needed.
fn sub_and_project<T: Real>(
    m: &SharedMatrix<'_, T>,
    row: usize,
    update: &[f64],
    epsilon: f64,
    scratch: &mut [f64],
) {
    let n = m.cols().min(update.len()).min(scratch.len());
    m.read_row_as(row, &mut scratch[..n], T::to_f64);
    for (s, u) in scratch[..n].iter_mut().zip(update) {
        *s -= u;
    }
    project(&mut scratch[..n], epsilon);
    m.write_row_as(row, &scratch[..n], T::from_f64);
}

/// Per-row sums of one batch's updates, in the order rows are first touched.
///
/// `slot_of[row]` is the row's slot in `sums` during a batch (`u32::MAX`
/// when untouched), so each update is added in O(1) and the batch's rows are
/// applied without sorting. Within a row, updates are summed in the order
/// they were produced.
struct RowSums {
    slot_of: Vec<u32>,
    touched: Vec<u32>,
    sums: Vec<f64>,
    dim: usize,
}

impl RowSums {
    fn new(n_rows: usize, dim: usize) -> Self {
        RowSums {
            slot_of: vec![u32::MAX; n_rows],
            touched: Vec::new(),
            sums: Vec::new(),
            dim,
        }
    }

    /// The slot of `row`, opened (zeroed) at its first use in the batch.
    #[inline]
    fn slot(&mut self, row: u32) -> usize {
        let s = self.slot_of[row as usize];
        if s != u32::MAX {
            return s as usize;
        }
        let s = self.touched.len();
        self.slot_of[row as usize] = s as u32;
        self.touched.push(row);
        self.sums.resize((s + 1) * self.dim, 0.0);
        s
    }

    fn clear(&mut self) {
        for &r in &self.touched {
            self.slot_of[r as usize] = u32::MAX;
        }
        self.touched.clear();
        self.sums.clear();
    }
}

/// How many relations ahead of the one being computed its rows are prefetched.
const AHEAD: usize = 2;

/// The relations of one batch with their negatives, drawn ahead of use.
#[derive(Default)]
struct BatchPlan {
    /// (position in the batch, u, v) of each relation that is not a self-loop.
    pairs: Vec<(usize, u32, u32)>,
    /// The negatives of every relation, back to back.
    negs: Vec<u32>,
    /// Relation `r`'s negatives are `negs[neg_start[r]..neg_start[r + 1]]`.
    neg_start: Vec<usize>,
}

impl BatchPlan {
    fn clear(&mut self) {
        self.pairs.clear();
        self.negs.clear();
        self.neg_start.clear();
        self.neg_start.push(0);
    }
}

struct Worker<'s, 'a, T: Real, S: Space> {
    shared: &'s SharedMatrix<'a, T>,
    graph: &'s Graph,
    cfg: &'s TrainConfig,
    phase: &'s Phase,
    limit: f64,
    progress: &'s Progress,
    space: std::marker::PhantomData<S>,
}

impl<T: Real, S: Space> Worker<'_, '_, T, S> {
    /// Trains on `rels` (relation indices); returns (loss sum, relations, max gradient error).
    fn run(&self, rels: &[u32], rng: &mut Rng) -> (f64, usize, f64) {
        let dim = self.shared_dim();
        let k = self.cfg.negative;
        let pairs = self.graph.pairs();
        let mut ubuf = vec![0.0; dim];
        let mut vs = vec![0.0; (k + 1) * dim];
        let mut gu = vec![0.0; dim];
        let mut gvs = vec![0.0; (k + 1) * dim];
        let mut negs = Vec::with_capacity(k);
        let mut scratch = LossScratch::default();
        let mut rows: Vec<u32> = Vec::new();
        let mut updates: Vec<f64> = Vec::new();
        let mut acc = RowSums::new(self.graph.n_nodes(), dim);
        let mut tmp = vec![0.0; 2 * dim];
        let (mut loss_sum, mut count, mut grad_err) = (0.0, 0usize, 0.0f64);
        let lr = self.phase.alpha;
        // The negatives of batch `b + 1` are drawn before batch `b` is
        // computed, so the rows of the relations `AHEAD` places on (in this
        // batch or the next) can be prefetched while the current one is
        // computed. The random stream is consumed in the same order as drawing
        // each relation's negatives just before its loss, so results do not
        // depend on this.
        let batches: Vec<&[u32]> = rels.chunks(self.cfg.batch_size).collect();
        let mut cur = BatchPlan::default();
        let mut next = BatchPlan::default();
        if let Some(first) = batches.first() {
            self.plan(first, rng, &mut negs, &mut cur);
        }
        for b in 0..batches.len() {
            if self.progress.should_stop() {
                break;
            }
            if let Some(nb) = batches.get(b + 1) {
                self.plan(nb, rng, &mut negs, &mut next);
            }
            if let Some(later) = batches.get(b + 2) {
                for &ri in later.iter() {
                    crate::mem::prefetch(pairs.as_ptr().wrapping_add(ri as usize));
                }
            }
            let check = S::CHECKS_GRADIENTS
                && self.cfg.check_gradients_every > 0
                && (b + 1) % self.cfg.check_gradients_every == 0;
            rows.clear();
            updates.clear();
            for r in 0..cur.pairs.len() {
                // Rows of the relation AHEAD places on: in this batch or the next.
                let ahead = r + AHEAD;
                if ahead < cur.pairs.len() {
                    self.prefetch_relation(&cur, ahead, &acc);
                } else if ahead - cur.pairs.len() < next.pairs.len() {
                    self.prefetch_relation(&next, ahead - cur.pairs.len(), &acc);
                }
                let (j, u, v) = cur.pairs[r];
                let negs = &cur.negs[cur.neg_start[r]..cur.neg_start[r + 1]];
                self.shared.read_row_as(u as usize, &mut ubuf, T::to_f64);
                self.shared
                    .read_row_as(v as usize, &mut vs[..dim], T::to_f64);
                for (i, &w) in negs.iter().enumerate() {
                    self.shared.read_row_as(
                        w as usize,
                        &mut vs[(i + 1) * dim..(i + 2) * dim],
                        T::to_f64,
                    );
                }
                let n_v = negs.len() + 1;
                let vs_used = &vs[..n_v * dim];
                let loss = relation_loss_in::<S>(
                    &ubuf,
                    vs_used,
                    self.cfg.regularization_coeff,
                    &mut gu,
                    &mut gvs[..n_v * dim],
                    &mut scratch,
                );
                if check && j == 0 {
                    grad_err = grad_err.max(gradient_check(
                        &ubuf,
                        vs_used,
                        self.cfg.regularization_coeff,
                        1e-6,
                    ));
                }
                loss_sum += loss;
                count += 1;
                let f = S::update_scale(lr, &ubuf);
                rows.push(u);
                updates.extend(gu.iter().map(|g| f * g));
                for i in 0..n_v {
                    let x = &vs[i * dim..(i + 1) * dim];
                    let f = S::update_scale(lr, x);
                    rows.push(if i == 0 { v } else { negs[i - 1] });
                    updates.extend(gvs[i * dim..(i + 1) * dim].iter().map(|g| f * g));
                }
            }
            // Sum the updates of each row, then apply them (gensim's batch semantics).
            for (k, &row) in rows.iter().enumerate() {
                let slot = acc.slot(row);
                let dst = &mut acc.sums[slot * dim..(slot + 1) * dim];
                for (a, u) in dst.iter_mut().zip(&updates[k * dim..(k + 1) * dim]) {
                    *a += u;
                }
            }
            for (slot, &row) in acc.touched.iter().enumerate() {
                let sum = &acc.sums[slot * dim..(slot + 1) * dim];
                if sum.iter().all(|a| a.is_finite()) {
                    S::apply(self.shared, row as usize, sum, self.limit, &mut tmp);
                }
            }
            acc.clear();
            self.progress.add(batches[b].len() as u64);
            std::mem::swap(&mut cur, &mut next);
        }
        (loss_sum, count, grad_err)
    }

    /// Starts loading the rows relation `r` of `plan` reads, and the slots
    /// their updates are summed into.
    #[inline]
    fn prefetch_relation(&self, plan: &BatchPlan, r: usize, acc: &RowSums) {
        let (_, u, v) = plan.pairs[r];
        let negs = &plan.negs[plan.neg_start[r]..plan.neg_start[r + 1]];
        for &row in [u, v].iter().chain(negs) {
            self.shared.prefetch_row(row as usize);
            crate::mem::prefetch(acc.slot_of.as_ptr().wrapping_add(row as usize));
        }
    }

    /// Draws the negatives of `batch` into `plan`.
    fn plan(&self, batch: &[u32], rng: &mut Rng, negs: &mut Vec<u32>, plan: &mut BatchPlan) {
        plan.clear();
        let pairs = self.graph.pairs();
        for (j, &ri) in batch.iter().enumerate() {
            let (u, v) = pairs[ri as usize];
            if u == v {
                continue; // a self-loop carries no information and no gradient
            }
            self.graph
                .sample_negatives(u, self.cfg.negative, self.phase.sampling, rng, negs);
            plan.pairs.push((j, u, v));
            plan.negs.extend_from_slice(negs);
            plan.neg_start.push(plan.negs.len());
        }
    }

    fn shared_dim(&self) -> usize {
        self.shared.cols()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poincare::manifold::distance;

    #[test]
    fn sub_and_project_updates_and_stays_in_the_ball() {
        let mut d64 = vec![0.5f64, 0.0, 0.0, 0.1];
        {
            // SAFETY: the test's own thread is the only user of the buffer.
            let m = unsafe { SharedMatrix::new(&mut d64, 2, 2) }.unwrap();
            let mut s = [0.0; 2];
            sub_and_project(&m, 0, &[-1.0, 0.0], 1e-5, &mut s);
            sub_and_project(&m, 1, &[0.0, 0.05], 1e-5, &mut s);
        }
        assert!((d64[0] - (1.0 - 1e-5)).abs() < 1e-12 && d64[1] == 0.0);
        assert!((d64[3] - 0.05).abs() < 1e-15);
        let mut d32 = vec![0.0f32; 4];
        // SAFETY: as above.
        let m = unsafe { SharedMatrix::new(&mut d32, 2, 2) }.unwrap();
        let mut s = [0.0; 2];
        sub_and_project(&m, 1, &[-0.25, 10.0], 1e-5, &mut s);
        let mut out = [0.0f64; 2];
        m.read_row_as(1, &mut out, f64::from);
        assert!((out[0] * out[0] + out[1] * out[1]).sqrt() < 1.0);
    }

    /// A complete binary tree of depth 3 (15 nodes), as transitive-closure pairs (child, ancestor).
    fn tree_closure() -> (usize, Vec<(u32, u32)>, Vec<usize>) {
        let n: usize = 15;
        let depth: Vec<usize> = (0..n)
            .map(|i| (usize::BITS - (i + 1).leading_zeros() - 1) as usize)
            .collect();
        let mut pairs = Vec::new();
        for c in 1..n {
            let mut a = c;
            while a > 0 {
                a = (a - 1) / 2;
                pairs.push((c as u32, a as u32));
            }
        }
        (n, pairs, depth)
    }

    fn init(n: usize, dim: usize, seed: u64) -> Vec<f64> {
        let mut r = Rng::new(seed);
        (0..n * dim)
            .map(|_| (r.uniform_f64() - 0.5) * 0.002)
            .collect()
    }

    fn fit<T: Real>(vectors: &mut [T], dim: usize, workers: usize) -> TrainReport {
        fit_in(vectors, dim, workers, Geometry::Ball)
    }

    fn fit_in<T: Real>(
        vectors: &mut [T],
        dim: usize,
        workers: usize,
        geometry: Geometry,
    ) -> TrainReport {
        let (n, pairs, _) = tree_closure();
        let g = Graph::new(n, pairs).unwrap();
        let cfg = TrainConfig {
            negative: 5,
            workers,
            regularization_coeff: 0.0,
            batch_size: 5,
            geometry,
            ..Default::default()
        };
        let p = Progress::new(0);
        let burn = Phase {
            epochs: 10,
            alpha: 0.03,
            sampling: Sampling::Frequency,
            first_epoch: 0,
        };
        train(vectors, dim, &g, &cfg, &burn, &p).unwrap();
        let main = Phase {
            epochs: 300,
            alpha: 0.3,
            sampling: Sampling::Uniform,
            first_epoch: 10,
        };
        train(vectors, dim, &g, &cfg, &main, &p).unwrap()
    }

    fn norms(v: &[f64], dim: usize) -> Vec<f64> {
        v.chunks(dim)
            .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
            .collect()
    }

    #[test]
    fn small_tree_recovers_depth_order_by_norm() {
        for geometry in [Geometry::Ball, Geometry::Hyperboloid] {
            recovers_depth_order_by_norm(geometry);
        }
    }

    fn recovers_depth_order_by_norm(geometry: Geometry) {
        let (_, _, depth) = tree_closure();
        let dim = 2;
        let mut v = init(15, dim, 3);
        let rep = fit_in(&mut v, dim, 1, geometry);
        assert!(rep.epoch_losses.last().unwrap() < &rep.epoch_losses[0]);
        let nrm = norms(&v, dim);
        let mean_at = |d: usize| {
            let xs: Vec<f64> = (0..15).filter(|&i| depth[i] == d).map(|i| nrm[i]).collect();
            xs.iter().sum::<f64>() / xs.len() as f64
        };
        for d in 0..3 {
            assert!(
                mean_at(d) < mean_at(d + 1),
                "depth {d}: {} !< {}",
                mean_at(d),
                mean_at(d + 1)
            );
        }
        // the root is the node closest to the origin, every leaf is further out than every inner node
        let max_inner = (0..7).map(|i| nrm[i]).fold(0.0, f64::max);
        let min_leaf = (7..15).map(|i| nrm[i]).fold(1.0, f64::min);
        assert!(max_inner < min_leaf, "{nrm:?}");
        // a child is closer to its parent than to a node of another subtree
        assert!(distance(&v[14..16], &v[6..8]) < distance(&v[14..16], &v[4..6]));
        assert!(v.iter().all(|x| x.is_finite()));
        assert!(nrm.iter().all(|&x| x <= 1.0 - 1e-5 + 1e-12), "{geometry:?}");
    }

    #[test]
    fn one_worker_is_reproducible_and_f32_works() {
        let mut a = init(15, 3, 9);
        let mut b = a.clone();
        fit(&mut a, 3, 1);
        fit(&mut b, 3, 1);
        assert_eq!(a, b);
        let mut h = init(15, 3, 9);
        let mut h2 = h.clone();
        fit_in(&mut h, 3, 1, Geometry::Hyperboloid);
        fit_in(&mut h2, 3, 1, Geometry::Hyperboloid);
        assert_eq!(h, h2);
        assert_ne!(h, a);
        let mut c: Vec<f32> = init(15, 3, 9).iter().map(|&x| x as f32).collect();
        fit(&mut c, 3, 2);
        let mut ch: Vec<f32> = init(15, 3, 9).iter().map(|&x| x as f32).collect();
        fit_in(&mut ch, 3, 2, Geometry::Hyperboloid);
        assert!(ch.iter().all(|x| x.is_finite()));
        assert!(c.iter().all(|x| x.is_finite()));
        assert!(c
            .chunks(3)
            .all(|r| r.iter().map(|x| x * x).sum::<f32>() < 1.0));
    }

    #[test]
    fn huge_learning_rate_stays_inside_ball() {
        let (n, pairs, _) = tree_closure();
        let g = Graph::new(n, pairs).unwrap();
        for geometry in [Geometry::Ball, Geometry::Hyperboloid] {
            let cfg = TrainConfig {
                negative: 8,
                workers: 2,
                batch_size: 1,
                check_gradients_every: 3,
                geometry,
                ..Default::default()
            };
            let mut v = init(n, 4, 1);
            let ph = Phase {
                epochs: 20,
                alpha: 1e6,
                sampling: Sampling::Uniform,
                first_epoch: 0,
            };
            let rep = train(&mut v, 4, &g, &cfg, &ph, &Progress::new(0)).unwrap();
            assert!(v.iter().all(|x| x.is_finite()));
            assert!(norms(&v, 4).iter().all(|&x| x < 1.0));
            assert!(rep.epoch_losses.iter().all(|l| l.is_finite()));
        }
    }

    fn distances_from_origin(v: &[f64], dim: usize) -> Vec<f64> {
        norms(v, dim)
            .iter()
            .map(|&n| ((1.0 + n) / (1.0 - n)).ln())
            .collect()
    }

    #[test]
    fn radius_warmup_grows_the_cap_linearly_to_epsilon() {
        let w = RadiusWarmup {
            start: 2.0,
            epochs: 10,
        };
        let eps: f64 = 1e-5;
        let full = ((2.0_f64 - eps) / eps).ln();
        let radius = |e: f64| 2.0 * (1.0 - e).atanh();
        // held at the start for the first quarter (epochs 0 and 1), then linear
        assert!((radius(w.epsilon_at(eps, 0)) - 2.0).abs() < 1e-9);
        assert!((radius(w.epsilon_at(eps, 2)) - 2.0).abs() < 1e-9);
        let mid = radius(w.epsilon_at(eps, 6));
        assert!((mid - (2.0 + full) / 2.0).abs() < 1e-6, "{mid}");
        assert_eq!(w.epsilon_at(eps, 10), eps);
        assert_eq!(w.epsilon_at(eps, 1_000), eps);
        // a start beyond the full radius never widens the ball
        let wide = RadiusWarmup {
            start: 50.0,
            epochs: 10,
        };
        assert_eq!(wide.epsilon_at(eps, 0), eps);
    }

    #[test]
    fn radius_warmup_holds_rows_within_the_cap_until_it_ends() {
        let (n, pairs, _) = tree_closure();
        let g = Graph::new(n, pairs).unwrap();
        for geometry in [Geometry::Ball, Geometry::Hyperboloid] {
            let cfg = TrainConfig {
                negative: 5,
                workers: 2,
                regularization_coeff: 0.0,
                batch_size: 2,
                geometry,
                radius_warmup: Some(RadiusWarmup {
                    start: 1.0,
                    epochs: 4,
                }),
                ..Default::default()
            };
            let p = Progress::new(0);
            let mut v = init(n, 3, 5);
            let phase = |first_epoch| Phase {
                epochs: 1,
                alpha: 5.0,
                sampling: Sampling::Uniform,
                first_epoch,
            };
            // epoch 0: cap 1.0; epoch 2: cap 1 + (12.2 - 1) / 3
            train(&mut v, 3, &g, &cfg, &phase(0), &p).unwrap();
            let d0 = distances_from_origin(&v, 3);
            let top = d0.iter().cloned().fold(0.0, f64::max);
            assert!(top <= 1.0 + 1e-9, "{geometry:?}: {top}");
            assert!(top > 0.9, "{geometry:?}: the cap was never reached ({top})");
            train(&mut v, 3, &g, &cfg, &phase(2), &p).unwrap();
            let top = distances_from_origin(&v, 3)
                .iter()
                .cloned()
                .fold(0.0, f64::max);
            let cap = 1.0 + (((2.0 - 1e-5) / 1e-5_f64).ln() - 1.0) / 3.0;
            assert!(
                top > 1.5 && top <= cap + 1e-6,
                "{geometry:?}: {top} vs {cap}"
            );
            // after the warm-up the full radius holds
            for e in 4..30 {
                train(&mut v, 3, &g, &cfg, &phase(e), &p).unwrap();
            }
            let top = distances_from_origin(&v, 3)
                .iter()
                .cloned()
                .fold(0.0, f64::max);
            assert!(top > cap + 0.5, "{geometry:?}: {top}");
        }
        let bad = TrainConfig {
            negative: 5,
            radius_warmup: Some(RadiusWarmup {
                start: f64::NAN,
                epochs: 4,
            }),
            ..Default::default()
        };
        let mut v = init(n, 3, 5);
        let ph = Phase {
            epochs: 1,
            alpha: 0.1,
            sampling: Sampling::Uniform,
            first_epoch: 0,
        };
        assert!(train(&mut v, 3, &g, &bad, &ph, &Progress::new(0)).is_err());
    }

    #[test]
    fn bad_settings_are_errors() {
        let (n, pairs, _) = tree_closure();
        let g = Graph::new(n, pairs).unwrap();
        let p = Progress::new(0);
        let ph = Phase {
            epochs: 1,
            alpha: 0.1,
            sampling: Sampling::Uniform,
            first_epoch: 0,
        };
        let mut v = init(n, 2, 1);
        let too_many = TrainConfig {
            negative: 15,
            ..Default::default()
        };
        assert!(train(&mut v, 2, &g, &too_many, &ph, &p).is_err());
        assert!(train(&mut v, 3, &g, &TrainConfig::default(), &ph, &p).is_err());
        let bad_lr = Phase {
            alpha: f64::NAN,
            ..ph
        };
        assert!(train(&mut v, 2, &g, &TrainConfig::default(), &bad_lr, &p).is_err());
        v[0] = f64::INFINITY;
        assert!(train(&mut v, 2, &g, &TrainConfig::default(), &ph, &p).is_err());
    }
}
