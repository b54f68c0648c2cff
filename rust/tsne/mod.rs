//! Barnes-Hut t-SNE (van der Maaten 2014), organised as scikit-learn's
//! `TSNE` does it:
//!
//! 1. [`knn`]: the `k = min(n - 1, 3 * perplexity + 1)` nearest neighbours
//!    of each point: exact (blocked GEMM brute force, in parallel) up to
//!    [`APPROX_ABOVE`] points, approximate above ([`nndescent`]: a
//!    random-projection forest refined by neighbour descent);
//! 2. [`affinity`]: per-point bandwidths calibrated to the perplexity by
//!    bisection and the symmetric sparse joint distribution `P`;
//! 3. [`optimize`]: gradient descent with early exaggeration, momentum and
//!    gains, using the Barnes-Hut gradient of [`gradient`] over the
//!    quadtree/octree of [`tree`], the FFT-interpolated gradient of [`fft`]
//!    (2-D, chosen by [`Method::auto`] above [`FFT_ABOVE`] points), or the
//!    exact gradient.
//!
//! The phases report through one [`Progress`]: its epoch is the phase
//! (0 neighbours, 1 affinities, 2 optimisation), its count the iterations,
//! its metric the KL divergence (every 50 iterations); each phase stops
//! with [`Error::Interrupted`] soon after a stop request.
//!
//! Everything parallel runs on the rayon pool passed by the caller. Results
//! do not depend on the number of threads (chunked sums are added in a fixed
//! order), so a fixed initialisation gives the same embedding every time.
//!
//! ```
//! use ndarray::Array2;
//! use embedrs::tsne::{fit, Input, TsneParams};
//! let mut rng = embedrs::sampling::Rng::new(1);
//! let x = Array2::from_shape_fn((60, 5), |(i, _)| (i % 2) as f32 * 20.0 + rng.uniform());
//! let init = Array2::from_shape_fn((60, 2), |_| 1e-4 * (rng.uniform_f64() - 0.5));
//! let params = TsneParams { perplexity: 10.0, max_iter: 300, ..TsneParams::default() };
//! let progress = embedrs::progress::Progress::new(300);
//! let out = fit(Input::Features(x.view()), init, &params, &progress).unwrap();
//! assert_eq!(out.embedding.shape(), &[60, 2]);
//! assert!(out.kl_divergence.is_finite());
//! ```

pub mod affinity;
pub mod fft;
pub mod gradient;
pub mod knn;
pub mod nndescent;
pub mod optimize;
pub mod tree;

use std::time::Instant;

use ndarray::{Array2, ArrayView2};

pub use affinity::SparseP;
pub use knn::{Metric, Neighbors};

use crate::progress::Progress;
use crate::{Error, Result};

/// The input of [`fit`].
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// Feature vectors, one row per sample (Euclidean or cosine metric).
    Features(ArrayView2<'a, f32>),
    /// A square matrix of non-negative dissimilarities.
    Precomputed(ArrayView2<'a, f32>),
}

/// Above this many points `Method::auto` picks the FFT gradient (openTSNE's rule).
pub const FFT_ABOVE: usize = 10_000;
/// Above this many points `NeighborSearch::Auto` searches approximately.
///
/// The exact search costs `O(N^2 d)` at matrix-product speed, the
/// approximate one `O(N k (m + trees) d)` at a lower speed per operation; on
/// MNIST (70,000 x 50, `k = 91`) the exact one was still about three times
/// faster, so the switch sits well above that.
pub const APPROX_ABOVE: usize = 150_000;

/// How the gradient is computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Barnes-Hut with the given angle (theta).
    BarnesHut(f64),
    /// FFT-accelerated interpolation of the repulsion (2-D only).
    Fft,
    /// All pairs, `O(N^2)`; any output dimension.
    Exact,
}

impl Method {
    /// Parses `'barnes_hut'`, `'fft'`, `'exact'` or `'auto'` (FFT for a
    /// 2-D map of more than [`FFT_ABOVE`] points, Barnes-Hut otherwise).
    pub fn parse(name: &str, angle: f64, n: usize, n_components: usize) -> Result<Self> {
        match name {
            "barnes_hut" => Ok(Method::BarnesHut(angle)),
            "fft" => Ok(Method::Fft),
            "exact" => Ok(Method::Exact),
            "auto" => Ok(Method::auto(angle, n, n_components)),
            other => Err(Error::invalid(format!(
                "method={other:?} is not supported; use 'auto', 'barnes_hut', 'fft' or 'exact'"
            ))),
        }
    }

    /// The method `'auto'` stands for.
    pub fn auto(angle: f64, n: usize, n_components: usize) -> Self {
        if n > FFT_ABOVE && n_components == 2 {
            Method::Fft
        } else {
            Method::BarnesHut(angle)
        }
    }
}

/// How the nearest neighbours are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeighborSearch {
    /// Exact up to [`APPROX_ABOVE`] points, approximate above.
    Auto,
    /// Exact brute force ([`knn`]).
    Exact,
    /// Random-projection forest and neighbour descent ([`nndescent`]).
    Approx,
}

impl NeighborSearch {
    /// Parses `'auto'`, `'exact'` or `'approx'`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(NeighborSearch::Auto),
            "exact" => Ok(NeighborSearch::Exact),
            "approx" => Ok(NeighborSearch::Approx),
            other => Err(Error::invalid(format!(
                "neighbors={other:?} is not supported; use 'auto', 'exact' or 'approx'"
            ))),
        }
    }

    /// Whether `n` points are searched approximately.
    pub fn is_approx(self, n: usize) -> bool {
        match self {
            NeighborSearch::Auto => n > APPROX_ABOVE,
            NeighborSearch::Exact => false,
            NeighborSearch::Approx => true,
        }
    }
}

/// Parameters of [`fit`] (scikit-learn's names and defaults; the learning
/// rate must be resolved already).
#[derive(Clone, Debug)]
pub struct TsneParams {
    /// Output dimension.
    pub n_components: usize,
    /// Effective number of neighbours.
    pub perplexity: f64,
    /// Factor on `P` during the first `exploration_iter` iterations.
    pub early_exaggeration: f64,
    /// Step size.
    pub learning_rate: f64,
    /// Total iterations.
    pub max_iter: usize,
    /// Iterations with early exaggeration (250 in scikit-learn).
    pub exploration_iter: usize,
    /// Early stop after this many iterations without progress.
    pub n_iter_without_progress: usize,
    /// Early stop when the gradient norm falls below this.
    pub min_grad_norm: f64,
    /// Metric for [`Input::Features`].
    pub metric: Metric,
    /// Gradient method.
    pub method: Method,
    /// Neighbour search for [`Input::Features`].
    pub neighbors: NeighborSearch,
    /// Worker threads (0 = all cores).
    pub n_jobs: usize,
}

impl Default for TsneParams {
    fn default() -> Self {
        TsneParams {
            n_components: 2,
            perplexity: 30.0,
            early_exaggeration: 12.0,
            learning_rate: 200.0,
            max_iter: 1000,
            exploration_iter: 250,
            n_iter_without_progress: 300,
            min_grad_norm: 1e-7,
            metric: Metric::Euclidean,
            method: Method::BarnesHut(0.5),
            neighbors: NeighborSearch::Auto,
            n_jobs: 0,
        }
    }
}

/// Seconds spent in each stage.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Nearest-neighbour search.
    pub neighbors: f64,
    /// Perplexity calibration and symmetrisation.
    pub affinities: f64,
    /// Gradient descent.
    pub optimization: f64,
}

/// Result of [`fit`].
#[derive(Clone, Debug)]
pub struct TsneOutput {
    /// The embedding, `n x n_components`.
    pub embedding: Array2<f64>,
    /// Final KL divergence.
    pub kl_divergence: f64,
    /// Index of the last iteration run.
    pub n_iter: usize,
    /// Stage timings.
    pub timings: Timings,
    /// The gradient method used.
    pub method: Method,
    /// Whether the neighbours were searched approximately.
    pub approx_neighbors: bool,
}

/// Checks the parameters against the input size, with scikit-learn's messages.
pub fn validate(n: usize, params: &TsneParams) -> Result<()> {
    if n < 2 {
        return Err(Error::invalid(format!(
            "Found array with {n} sample(s) while a minimum of 2 is required by TSNE"
        )));
    }
    if n > u32::MAX as usize {
        return Err(Error::invalid(format!(
            "{n} samples: t-SNE indexes points with 32 bits, so at most {} are supported",
            u32::MAX
        )));
    }
    if params.perplexity.is_nan() || params.perplexity <= 0.0 || params.perplexity >= n as f64 {
        return Err(Error::invalid(format!(
            "perplexity ({}) must be less than n_samples ({n})",
            params.perplexity
        )));
    }
    if params.n_components == 0 {
        return Err(Error::invalid("n_components must be at least 1"));
    }
    if params.method == Method::Fft && params.n_components != 2 {
        return Err(Error::invalid(format!(
            "method='fft' supports n_components=2 only, got {}; use method='barnes_hut'",
            params.n_components
        )));
    }
    if let Method::BarnesHut(angle) = params.method {
        if !(2..=3).contains(&params.n_components) {
            return Err(Error::invalid(format!(
                "'n_components' should be 2 or 3 for the barnes_hut algorithm as it relies on \
                 quad-tree or oct-tree, got {}; use method='exact'",
                params.n_components
            )));
        }
        if !(0.0..=1.0).contains(&angle) {
            return Err(Error::invalid(format!(
                "angle must be in [0, 1], got {angle}"
            )));
        }
    }
    if !(params.learning_rate > 0.0 && params.learning_rate.is_finite()) {
        return Err(Error::invalid(format!(
            "learning_rate must be a positive number, got {}",
            params.learning_rate
        )));
    }
    if params.early_exaggeration.is_nan() || params.early_exaggeration < 1.0 {
        return Err(Error::invalid(format!(
            "early_exaggeration must be at least 1, but is {}",
            params.early_exaggeration
        )));
    }
    Ok(())
}

/// Number of neighbours used for the affinities.
pub fn n_neighbors(n: usize, params: &TsneParams) -> usize {
    match params.method {
        Method::Exact => n - 1,
        Method::BarnesHut(_) | Method::Fft => ((3.0 * params.perplexity + 1.0) as usize).min(n - 1),
    }
}

/// Runs t-SNE on `input` starting from `init` (`n x n_components`).
pub fn fit(
    input: Input<'_>,
    init: Array2<f64>,
    params: &TsneParams,
    progress: &Progress,
) -> Result<TsneOutput> {
    let n = match input {
        Input::Features(x) | Input::Precomputed(x) => x.nrows(),
    };
    validate(n, params)?;
    if init.shape() != [n, params.n_components] {
        return Err(Error::invalid(format!(
            "init should have shape ({n}, {}), got {:?}",
            params.n_components,
            init.shape()
        )));
    }
    if init.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("init contains NaN or infinity"));
    }
    let pool = crate::thread_pool(params.n_jobs)?;
    let k = n_neighbors(n, params);
    let t0 = Instant::now();
    progress.set_epoch(0);
    let approx_neighbors = matches!(input, Input::Features(_)) && params.neighbors.is_approx(n);
    let nn = match input {
        Input::Features(x) => {
            if params.metric == Metric::Precomputed {
                return Err(Error::invalid(
                    "metric='precomputed' needs Input::Precomputed",
                ));
            }
            if approx_neighbors {
                let approx = nndescent::ApproxParams::for_k(n, k);
                nndescent::approx_neighbors(x, k, params.metric, &approx, &pool, progress)?
            } else {
                knn::exact_neighbors_with(x, k, params.metric, &pool, progress)?
            }
        }
        Input::Precomputed(d) => knn::precomputed_neighbors_with(d, k, &pool, progress)?,
    };
    // Each phase checks the stop flag (Ctrl-C) as it goes and between phases.
    if progress.should_stop() {
        return Err(Error::Interrupted);
    }
    let t1 = Instant::now();
    progress.set_epoch(1);
    let p = affinity::joint_probabilities_with(&nn, params.perplexity, &pool, progress)?;
    drop(nn);
    let t2 = Instant::now();
    if progress.should_stop() {
        return Err(Error::Interrupted);
    }
    let opt = optimize::OptimizeParams {
        dim: params.n_components,
        max_iter: params.max_iter,
        exploration_iter: params.exploration_iter,
        early_exaggeration: params.early_exaggeration,
        learning_rate: params.learning_rate,
        n_iter_without_progress: params.n_iter_without_progress,
        min_grad_norm: params.min_grad_norm,
        method: params.method,
        dof: (params.n_components as f64 - 1.0).max(1.0),
    };
    let mut y = init.into_raw_vec_and_offset().0;
    progress.set_epoch(2);
    let res = optimize::optimize(&mut y, p, &opt, progress, &pool)?;
    let t3 = Instant::now();
    let embedding = Array2::from_shape_vec((n, params.n_components), y)
        .map_err(|e| Error::Runtime(format!("embedding shape: {e}")))?;
    Ok(TsneOutput {
        embedding,
        kl_divergence: res.kl_divergence,
        n_iter: res.n_iter,
        timings: Timings {
            neighbors: (t1 - t0).as_secs_f64(),
            affinities: (t2 - t1).as_secs_f64(),
            optimization: (t3 - t2).as_secs_f64(),
        },
        method: params.method,
        approx_neighbors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Well-separated Gaussian clusters stay separated: the 5-NN majority
    /// label in the embedding matches the true cluster for almost all points.
    #[test]
    fn gaussian_clusters_come_out_separated() {
        let mut rng = crate::sampling::Rng::new(42);
        let (n_clusters, per, dim) = (5, 80, 10);
        let n = n_clusters * per;
        let mut centers = vec![0.0f32; n_clusters * dim];
        for c in centers.iter_mut() {
            *c = (rng.uniform() - 0.5) * 40.0;
        }
        let gauss = |rng: &mut crate::sampling::Rng| -> f32 {
            let u1 = rng.uniform_f64().max(1e-12);
            let u2 = rng.uniform_f64();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        };
        let x = Array2::from_shape_fn((n, dim), |(i, d)| {
            centers[(i / per) * dim + d] + gauss(&mut rng)
        });
        let labels: Vec<usize> = (0..n).map(|i| i / per).collect();
        let init = Array2::from_shape_fn((n, 2), |_| 1e-4 * gauss(&mut rng) as f64);
        for method in [Method::BarnesHut(0.5), Method::Fft, Method::Exact] {
            let params = TsneParams {
                perplexity: 20.0,
                learning_rate: 200.0,
                max_iter: 500,
                method,
                n_jobs: 2,
                ..TsneParams::default()
            };
            let progress = Progress::new(500);
            let out = fit(Input::Features(x.view()), init.clone(), &params, &progress).unwrap();
            let y = &out.embedding;
            assert!(y.iter().all(|v| v.is_finite()));
            assert!(out.kl_divergence.is_finite() && out.kl_divergence > 0.0);
            let mut correct = 0;
            for i in 0..n {
                let mut d: Vec<(f64, usize)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let dx = y[[i, 0]] - y[[j, 0]];
                        let dy = y[[i, 1]] - y[[j, 1]];
                        (dx * dx + dy * dy, labels[j])
                    })
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0));
                let same = d.iter().take(5).filter(|p| p.1 == labels[i]).count();
                if same >= 3 {
                    correct += 1;
                }
            }
            assert!(
                correct as f64 / n as f64 > 0.98,
                "{method:?}: {correct}/{n}"
            );
        }
    }

    #[test]
    fn results_do_not_depend_on_threads() {
        let mut rng = crate::sampling::Rng::new(9);
        let x = Array2::from_shape_fn((700, 4), |_| rng.uniform());
        let init = Array2::from_shape_fn((700, 2), |_| 1e-4 * (rng.uniform_f64() - 0.5));
        let run = |jobs| {
            let params = TsneParams {
                max_iter: 260,
                n_jobs: jobs,
                ..TsneParams::default()
            };
            fit(
                Input::Features(x.view()),
                init.clone(),
                &params,
                &Progress::new(0),
            )
            .unwrap()
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.embedding, b.embedding);
        assert_eq!(a.kl_divergence, b.kl_divergence);
    }

    #[test]
    fn bad_input_is_rejected() {
        let x = Array2::<f32>::zeros((1, 3));
        let init = Array2::<f64>::zeros((1, 2));
        let p = TsneParams::default();
        assert!(fit(Input::Features(x.view()), init, &p, &Progress::new(0)).is_err());
        let mut x = Array2::<f32>::zeros((50, 3));
        x[[3, 1]] = f32::NAN;
        let init = Array2::<f64>::zeros((50, 2));
        let p = TsneParams {
            perplexity: 5.0,
            ..TsneParams::default()
        };
        assert!(fit(
            Input::Features(x.view()),
            init.clone(),
            &p,
            &Progress::new(0)
        )
        .is_err());
        let p = TsneParams {
            perplexity: 50.0,
            ..TsneParams::default()
        };
        assert!(fit(
            Input::Features(x.view()),
            init.clone(),
            &p,
            &Progress::new(0)
        )
        .is_err());
        let p = TsneParams {
            perplexity: 5.0,
            n_components: 4,
            ..TsneParams::default()
        };
        assert!(validate(50, &p).is_err());
    }

    #[test]
    fn duplicate_points_give_finite_embedding() {
        let x = Array2::<f32>::ones((40, 3));
        let mut rng = crate::sampling::Rng::new(2);
        let init = Array2::from_shape_fn((40, 2), |_| 1e-4 * (rng.uniform_f64() - 0.5));
        let p = TsneParams {
            perplexity: 5.0,
            max_iter: 300,
            ..TsneParams::default()
        };
        let out = fit(Input::Features(x.view()), init, &p, &Progress::new(0)).unwrap();
        assert!(out.embedding.iter().all(|v| v.is_finite()));
        assert!(out.kl_divergence.is_finite());
    }
}
