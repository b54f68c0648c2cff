//! Python binding for the `tsne` core module: one function, `tsne_fit`,
//! that `embedrs.manifold.TSNE` calls after checking and converting its
//! arguments. The work runs with the GIL released on a helper thread;
//! Ctrl-C stops the optimisation within an iteration.

use std::time::Duration;

use numpy::prelude::*;
use numpy::{PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::{run_monitored, IntoPyResult};
use crate::progress::Progress;
use crate::tsne::{self, Input, Method, Metric, TsneParams};

/// Result tuple: embedding, KL divergence, n_iter, (t_neighbors, t_affinities, t_optimization).
type FitResult<'py> = (Bound<'py, PyArray2<f64>>, f64, usize, (f64, f64, f64));

/// Runs t-SNE. `x` is C-contiguous float32 (features, or a square distance
/// matrix when `metric='precomputed'`), `init` C-contiguous float64.
#[pyfunction]
#[pyo3(signature = (
    x, init, *, perplexity, early_exaggeration, learning_rate, max_iter,
    exploration_iter, n_iter_without_progress, min_grad_norm, metric, method,
    angle, n_jobs, progress=None
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
    progress: Option<Py<PyAny>>,
) -> PyResult<FitResult<'py>> {
    let progress_cb = progress;
    super::guard(|| {
        let metric = Metric::parse(metric).py()?;
        let method = match method {
            "barnes_hut" => Method::BarnesHut(angle),
            "exact" => Method::Exact,
            other => {
                return Err(PyValueError::new_err(format!(
                    "method={other:?} is not supported; use 'barnes_hut' or 'exact'"
                )))
            }
        };
        let init = super::view(&init, "init")?.to_owned();
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
        ))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tsne_fit, m)?)?;
    Ok(())
}
