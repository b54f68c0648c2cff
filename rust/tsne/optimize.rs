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

/// Optimises `y` (row-major `n x dim`, updated in place) against `p`.
///
/// `progress.done` counts iterations, its metric holds the
/// last computed KL divergence; a stop request ends the run with
/// [`Error::Interrupted`] after the current iteration.
pub fn optimize(
    y: &mut [f64],
    p: &SparseP,
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
    // Renumber the points in the space-filling order of a tree over the
    // initial positions, so that points close in the map (and their
    // neighbours in P) are close in memory; undone at the end.
    let order: Option<Vec<u32>> = match &mut grad_kind {
        Grad::Exact => None,
        Grad::Fft(_) => {
            let mut t = SpTree::<2>::new();
            t.build(y);
            Some(std::mem::take(&mut t.perm))
        }
        Grad::Bh2(t) => {
            t.build(y);
            Some(t.perm.clone())
        }
        Grad::Bh3(t) => {
            t.build(y);
            Some(t.perm.clone())
        }
    };
    match order {
        None => run(y, p, params, &mut grad_kind, angle, kernel, progress, pool),
        Some(order) => {
            let p_perm = p.permuted(&order);
            let mut y_perm = Vec::with_capacity(y.len());
            for &i in &order {
                let i = i as usize;
                y_perm.extend_from_slice(&y[i * dim..(i + 1) * dim]);
            }
            let result = run(
                &mut y_perm,
                &p_perm,
                params,
                &mut grad_kind,
                angle,
                kernel,
                progress,
                pool,
            );
            for (t, &i) in order.iter().enumerate() {
                let i = i as usize;
                y[i * dim..(i + 1) * dim].copy_from_slice(&y_perm[t * dim..(t + 1) * dim]);
            }
            result
        }
    }
}

fn run(
    y: &mut [f64],
    p: &SparseP,
    params: &OptimizeParams,
    grad_kind: &mut Grad,
    angle: f64,
    kernel: Kernel,
    progress: &Progress,
    pool: &rayon::ThreadPool,
) -> Result<Optimized> {
    let dim = params.dim;
    let n = y.len();

    let mut update = vec![0.0f64; n];
    let mut gains = vec![1.0f64; n];
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
                let mut gnorm2 = 0.0;
                for t in 0..n {
                    let g = grad[t];
                    if update[t] * g < 0.0 {
                        gains[t] += 0.2;
                    } else {
                        gains[t] = (gains[t] * 0.8).max(MIN_GAIN);
                    }
                    let gg = g * gains[t];
                    gnorm2 += gg * gg;
                    update[t] = phase.momentum * update[t] - params.learning_rate * gg;
                    y[t] += update[t];
                }
                last_iter = it;
                progress.add(1);
                if with_error {
                    kl = err;
                    progress.set_metric(err);
                }
                if !y.iter().all(|v| v.is_finite()) {
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
