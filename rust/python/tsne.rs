//! Python binding for the `tsne` core module: one function, `tsne_fit`,
//! that `embedrs.manifold.TSNE` calls after checking and converting its
//! arguments. The work runs with the GIL released on a helper thread;
//! Ctrl-C stops every phase (neighbours, affinities, optimisation) soon after.

use std::time::Duration;

use numpy::prelude::*;
use numpy::{PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use super::{run_monitored, IntoPyResult};
use crate::progress::Progress;
use crate::tsne::{self, Input, Method, Metric, NeighborSearch, TsneParams};

/// Result tuple: embedding, KL divergence, n_iter, (t_neighbors,
/// t_affinities, t_optimization), (method used, neighbour search used).
type FitResult<'py> = (
    Bound<'py, PyArray2<f64>>,
    f64,
    usize,
    (f64, f64, f64),
    (&'static str, &'static str),
);

/// Runs t-SNE. `x` is C-contiguous float32 (features, or a square distance
/// matrix when `metric='precomputed'`), `init` C-contiguous float64.
#[pyfunction]
#[pyo3(signature = (
    x, init, *, perplexity, early_exaggeration, learning_rate, max_iter,
    exploration_iter, n_iter_without_progress, min_grad_norm, metric, method,
    angle, n_jobs, neighbors="auto", progress=None
))]
#[allow(clippy::too_many_arguments)]
fn tsne_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    init: PyReadonlyArray2<'py, f64>,
    perplexity: f64,
    early_exaggeration: f64,
    learning_rate: f64,
    max_iter: usize,
    exploration_iter: usize,
    n_iter_without_progress: usize,
    min_grad_norm: f64,
    metric: &str,
    method: &str,
    angle: f64,
    n_jobs: usize,
    neighbors: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<FitResult<'py>> {
    let progress_cb = progress;
    super::guard(|| {
        let metric = Metric::parse(metric).py()?;
        let init = super::view(&init, "init")?.to_owned();
        let method = Method::parse(method, angle, init.nrows(), init.ncols()).py()?;
        let neighbors = NeighborSearch::parse(neighbors).py()?;
        let params = TsneParams {
            n_components: init.ncols(),
            perplexity,
            early_exaggeration,
            learning_rate,
            max_iter,
            exploration_iter,
            n_iter_without_progress,
            min_grad_norm,
            metric,
            method,
            neighbors,
            n_jobs,
        };
        let view = super::view(&x, "X")?;
        let input = if metric == Metric::Precomputed {
            Input::Precomputed(view)
        } else {
            Input::Features(view)
        };
        let progress = Progress::new(max_iter as u64);
        let out = run_monitored(
            py,
            &progress,
            Duration::from_millis(100),
            progress_cb.as_ref(),
            || tsne::fit(input, init, &params, &progress),
        )?
        .py()?;
        Ok((
            out.embedding.into_pyarray(py),
            out.kl_divergence,
            out.n_iter,
            (
                out.timings.neighbors,
                out.timings.affinities,
                out.timings.optimization,
            ),
            (
                match out.method {
                    Method::BarnesHut(_) => "barnes_hut",
                    Method::Fft => "fft",
                    Method::Exact => "exact",
                },
                if out.approx_neighbors {
                    "approx"
                } else {
                    "exact"
                },
            ),
        ))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tsne_fit, m)?)?;
    Ok(())
}
