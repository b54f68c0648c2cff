//! Gradient descent with momentum and per-parameter gains, in two phases
//! as in scikit-learn: an exploration phase of `exploration_iter`
//! iterations with `P` multiplied by `early_exaggeration` and momentum 0.5,
//! then the rest with momentum 0.8.
//!
//! Each step (for parameter `x` with gradient `g`, previous update `v`):
//! the gain grows by 0.2 when `g` and `v` have opposite signs and shrinks by
//! a factor 0.8 otherwise (never below `min_gain = 0.01`), then
//! `v = momentum * v - learning_rate * gain * g` and `x += v`. Every
//! `CHECK_EVERY` iterations (and at the last one) the KL divergence is
//! computed; a phase stops early when it has not improved for
//! `n_iter_without_progress` iterations or the gradient norm falls below
//! `min_grad_norm`.

use rayon::prelude::*;

use super::affinity::SparseP;
use super::fft::FftGradient;
use super::gradient::{self, Kernel, Workspace};
use super::tree::SpTree;
use super::Method;
use crate::progress::Progress;
use crate::{Error, Result};

/// How often the error is computed and convergence checked.
pub const CHECK_EVERY: usize = 50;
const MIN_GAIN: f64 = 0.01;
/// Coordinates per parallel task of the gradient step.
const STEP_BLOCK: usize = 1 << 14;

/// Settings of the optimisation.
#[derive(Clone, Debug)]
pub struct OptimizeParams {
    /// Output dimension.
    pub dim: usize,
    /// Total iterations (both phases).
    pub max_iter: usize,
    /// Iterations of the early-exaggeration phase.
    pub exploration_iter: usize,
    /// Factor on `P` during exploration.
    pub early_exaggeration: f64,
    /// Step size.
    pub learning_rate: f64,
    /// Stop after this many iterations without progress (second phase).
    pub n_iter_without_progress: usize,
    /// Stop when the gradient norm falls below this.
    pub min_grad_norm: f64,
    /// How the gradient is computed.
    pub method: Method,
    /// Student-t degrees of freedom.
    pub dof: f64,
}

/// Result of the optimisation.
#[derive(Clone, Debug)]
pub struct Optimized {
    /// Final KL divergence.
    pub kl_divergence: f64,
    /// Index of the last iteration run (scikit-learn's `n_iter_`).
    pub n_iter: usize,
}

enum Grad {
    Exact,
    Fft(Box<FftGradient>),
    Bh2(SpTree<2>),
    Bh3(SpTree<3>),
}

struct Phase {
    start: usize,
    end: usize,
    momentum: f64,
    exaggeration: f64,
    without_progress: usize,
}

/// Iterations between renumberings of the points (tree and FFT gradients).
///
/// The attractive pass reads `y_j` for every non-zero `p_ij`, in a random
/// order unless points near each other in the map are near in memory. The
/// map changes most in the first few hundred iterations, so the points are
/// renumbered along the tree's space-filling curve at the start and again
/// every this many iterations: on MNIST (70k points, 12M non-zeros) this
/// makes the attractive pass about twice as fast; each renumbering costs one
/// pass over `P`.
pub const RENUMBER_EVERY: usize = 250;

/// Optimises `y` (row-major `n x dim`, updated in place) against `p`.
///
/// `progress.done` counts iterations, its metric holds the
/// last computed KL divergence; a stop request ends the run with
/// [`Error::Interrupted`] after the current iteration.
pub fn optimize(
    y: &mut [f64],
    p: SparseP,
    params: &OptimizeParams,
    progress: &Progress,
    pool: &rayon::ThreadPool,
) -> Result<Optimized> {
    let dim = params.dim;
    let kernel = Kernel::new(params.dof);
    let mut grad_kind = match (params.method, dim) {
        (Method::Exact, _) => Grad::Exact,
        (Method::Fft, 2) if params.dof == 1.0 => Grad::Fft(Box::default()),
        (Method::Fft, d) => {
            return Err(Error::invalid(format!(
                "method='fft' supports n_components=2 only, got {d}; use method='barnes_hut'"
            )))
        }
        (Method::BarnesHut(_), 2) => Grad::Bh2(SpTree::new()),
        (Method::BarnesHut(_), 3) => Grad::Bh3(SpTree::new()),
        (Method::BarnesHut(_), d) => {
            return Err(Error::invalid(format!(
                "'n_components' should be 2 or 3 for the barnes_hut algorithm as it relies on \
                 quad-tree or oct-tree, got {d}; use method='exact'"
            )))
        }
    };
    let angle = match params.method {
        Method::BarnesHut(a) => a,
        _ => 0.0,
    };
    let mut state = State {
        y: y.to_vec(),
        update: vec![0.0; y.len()],
        gains: vec![1.0; y.len()],
        p,
        order: (0..(y.len() / dim) as u32).collect(),
        dim,
    };
    let result = run(
        &mut state,
        params,
        &mut grad_kind,
        angle,
        kernel,
        progress,
        pool,
    );
    // Back to the caller's numbering (also after an interruption).
    for (t, &i) in state.order.iter().enumerate() {
        let i = i as usize;
        y[i * dim..(i + 1) * dim].copy_from_slice(&state.y[t * dim..(t + 1) * dim]);
    }
    result
}

/// The optimiser's per-point state, in its own numbering of the points.
struct State {
    y: Vec<f64>,
    update: Vec<f64>,
    gains: Vec<f64>,
    p: SparseP,
    /// `order[t]`: the caller's index of point `t`.
    order: Vec<u32>,
    dim: usize,
}

impl State {
    /// Renumbers the points in the order of a tree over their current
    /// positions (2-D and 3-D maps; other dimensions keep their order).
    fn renumber(&mut self) {
        let new = match self.dim {
            2 => {
                let mut t = SpTree::<2>::new();
                t.build(&self.y);
                t.perm
            }
            3 => {
                let mut t = SpTree::<3>::new();
                t.build(&self.y);
                t.perm
            }
            _ => return,
        };
        let dim = self.dim;
        for v in [&mut self.y, &mut self.update, &mut self.gains] {
            let mut out = Vec::with_capacity(v.len());
            for &c in &new {
                let c = c as usize;
                out.extend_from_slice(&v[c * dim..(c + 1) * dim]);
            }
            *v = out;
        }
        self.p = self.p.permuted(&new);
        self.order = new.iter().map(|&c| self.order[c as usize]).collect();
    }
}

fn run(
    state: &mut State,
    params: &OptimizeParams,
    grad_kind: &mut Grad,
    angle: f64,
    kernel: Kernel,
    progress: &Progress,
    pool: &rayon::ThreadPool,
) -> Result<Optimized> {
    let dim = params.dim;
    let n = state.y.len();
    let renumber = !matches!(grad_kind, Grad::Exact);
    let mut grad = vec![0.0f64; n];
    let mut ws = Workspace::default();
    let explore = params.exploration_iter.min(params.max_iter);
    let phases = [
        Phase {
            start: 0,
            end: explore,
            momentum: 0.5,
            exaggeration: params.early_exaggeration,
            without_progress: params.exploration_iter,
        },
        Phase {
            start: explore,
            end: params.max_iter,
            momentum: 0.8,
            exaggeration: 1.0,
            without_progress: params.n_iter_without_progress,
        },
    ];
    let mut kl = f64::NAN;
    let mut last_iter = 0;
    pool.install(|| -> Result<()> {
        for phase in &phases {
            let mut best_error = f64::INFINITY;
            let mut best_iter = phase.start;
            for it in phase.start..phase.end {
                progress.check()?;
                if renumber && it % RENUMBER_EVERY == 0 {
                    state.renumber();
                }
                let State {
                    y,
                    update,
                    gains,
                    p,
                    ..
                } = &mut *state;
                let (y, p) = (&mut y[..], &*p);
                let check = (it + 1) % CHECK_EVERY == 0;
                let with_error = check || it + 1 == phase.end;
                let err = match &mut *grad_kind {
                    Grad::Exact => gradient::exact(
                        y,
                        dim,
                        p,
                        phase.exaggeration,
                        kernel,
                        &mut ws,
                        &mut grad,
                        with_error,
                    ),
                    Grad::Fft(f) => gradient::fft(
                        y,
                        p,
                        phase.exaggeration,
                        kernel,
                        f,
                        &mut ws,
                        &mut grad,
                        with_error,
                    ),
                    Grad::Bh2(t) => gradient::barnes_hut(
                        y,
                        p,
                        phase.exaggeration,
                        angle,
                        kernel,
                        t,
                        &mut ws,
                        &mut grad,
                        with_error,
                    ),
                    Grad::Bh3(t) => gradient::barnes_hut(
                        y,
                        p,
                        phase.exaggeration,
                        angle,
                        kernel,
                        t,
                        &mut ws,
                        &mut grad,
                        with_error,
                    ),
                };
                // The step, in parallel over fixed blocks (the sum of squares is
                // added block by block in order, whatever the threads).
                let (momentum, rate) = (phase.momentum, params.learning_rate);
                let blocks: Vec<(f64, bool)> = y
                    .par_chunks_mut(STEP_BLOCK)
                    .zip(update.par_chunks_mut(STEP_BLOCK))
                    .zip(gains.par_chunks_mut(STEP_BLOCK))
                    .zip(grad.par_chunks(STEP_BLOCK))
                    .map(|(((y, update), gains), grad)| {
                        let mut gnorm2 = 0.0;
                        let mut finite = true;
                        for t in 0..y.len() {
                            let g = grad[t];
                            if update[t] * g < 0.0 {
                                gains[t] += 0.2;
                            } else {
                                gains[t] = (gains[t] * 0.8).max(MIN_GAIN);
                            }
                            let gg = g * gains[t];
                            gnorm2 += gg * gg;
                            update[t] = momentum * update[t] - rate * gg;
                            y[t] += update[t];
                            finite &= y[t].is_finite();
                        }
                        (gnorm2, finite)
                    })
                    .collect();
                let gnorm2: f64 = blocks.iter().map(|b| b.0).sum();
                last_iter = it;
                progress.add(1);
                if with_error {
                    kl = err;
                    progress.set_metric(err);
                }
                if !blocks.iter().all(|b| b.1) {
                    return Err(Error::Runtime(format!(
                        "t-SNE diverged at iteration {it} (non-finite coordinates); \
                         try a smaller learning_rate"
                    )));
                }
                if check {
                    if err < best_error {
                        best_error = err;
                        best_iter = it;
                    } else if it - best_iter > phase.without_progress {
                        break;
                    }
                    if gnorm2.sqrt() <= params.min_grad_norm {
                        break;
                    }
                }
            }
        }
        Ok(())
    })?;
    if kl.is_nan() {
        // The last phase stopped on a check without an error value: compute it.
        let mut g = vec![0.0; n];
        let (y, p) = (&state.y[..], &state.p);
        kl = pool.install(|| match &mut *grad_kind {
            Grad::Exact => gradient::exact(y, dim, p, 1.0, kernel, &mut ws, &mut g, true),
            Grad::Fft(f) => gradient::fft(y, p, 1.0, kernel, f, &mut ws, &mut g, true),
            Grad::Bh2(t) => {
                gradient::barnes_hut(y, p, 1.0, angle, kernel, t, &mut ws, &mut g, true)
            }
            Grad::Bh3(t) => {
                gradient::barnes_hut(y, p, 1.0, angle, kernel, t, &mut ws, &mut g, true)
            }
        });
    }
    Ok(Optimized {
        kl_divergence: kl,
        n_iter: last_iter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbering_keeps_each_point_with_its_state_and_affinities() {
        let n = 300;
        let mut rng = crate::sampling::Rng::new(3);
        let y: Vec<f64> = (0..2 * n).map(|_| rng.uniform_f64() * 10.0).collect();
        // A ring of affinities: i attracts i + 1 and i + 7 with known weights.
        let mut indptr = vec![0];
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        for i in 0..n {
            let mut row = [((i + 1) % n, i as f32), ((i + 7) % n, 0.5 * i as f32)];
            row.sort_by_key(|e| e.0);
            for (j, v) in row {
                indices.push(j as u32);
                values.push(v);
            }
            indptr.push(indices.len());
        }
        let p = SparseP {
            indptr,
            indices,
            values,
        };
        let mut s = State {
            y: y.clone(),
            update: (0..2 * n).map(|t| t as f64).collect(),
            gains: (0..2 * n).map(|t| -(t as f64)).collect(),
            p,
            order: (0..n as u32).collect(),
            dim: 2,
        };
        s.renumber();
        s.renumber();
        assert_ne!(s.order, (0..n as u32).collect::<Vec<_>>());
        let mut inv = vec![0usize; n];
        for (t, &i) in s.order.iter().enumerate() {
            let i = i as usize;
            inv[i] = t;
            assert_eq!(&s.y[2 * t..2 * t + 2], &y[2 * i..2 * i + 2]);
            assert_eq!(s.update[2 * t], (2 * i) as f64);
            assert_eq!(s.gains[2 * t + 1], -((2 * i + 1) as f64));
        }
        for i in 0..n {
            let t = inv[i];
            let row: Vec<(usize, f32)> = (s.p.indptr[t]..s.p.indptr[t + 1])
                .map(|e| (s.order[s.p.indices[e] as usize] as usize, s.p.values[e]))
                .collect();
            assert_eq!(row.len(), 2);
            assert!(row.contains(&((i + 1) % n, i as f32)));
            assert!(row.contains(&((i + 7) % n, 0.5 * i as f32)));
        }
        // Consecutive points end up close in the map: the tree's order.
        let step = |v: &[f64]| -> f64 {
            (1..n)
                .map(|t| {
                    ((v[2 * t] - v[2 * t - 2]).powi(2) + (v[2 * t + 1] - v[2 * t - 1]).powi(2))
                        .sqrt()
                })
                .sum::<f64>()
        };
        assert!(
            step(&s.y) < 0.5 * step(&y),
            "{} vs {}",
            step(&s.y),
            step(&y)
        );
    }
}
