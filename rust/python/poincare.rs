//! Python binding for the `poincare` core module.
//!
//! `poincare_train` trains a model's vectors in place: the caller
//! (``embedrs.models.poincare.PoincareModel``) owns the NumPy matrix, which
//! Rust borrows mutably for the call, with the GIL released.
//! `poincare_rank` ranks the positives of query nodes for the evaluations
//! (``ReconstructionEvaluation``, ``LinkPredictionEvaluation``).

use std::time::Duration;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{run_monitored, IntoPyResult};
use crate::poincare::eval::{rank_positives, Lists, RankTask};
use crate::poincare::{self, Geometry, Graph, Phase, RadiusWarmup, Real, Sampling, TrainConfig};
use crate::progress::Progress;

fn run_train<T: Real + numpy::Element>(
    py: Python<'_>,
    mut vectors: PyReadwriteArray2<'_, T>,
    graph: &Graph,
    cfg: &TrainConfig,
    phase: &Phase,
    callback: Option<&Py<PyAny>>,
) -> PyResult<poincare::TrainReport> {
    let dim = vectors.as_array().ncols();
    let slice = super::slice_mut(&mut vectors, "vectors")?;
    let total = (phase.epochs * graph.pairs().len()) as u64;
    let progress = Progress::new(total);
    let out = run_monitored(py, &progress, Duration::from_millis(100), callback, || {
        poincare::train(slice, dim, graph, cfg, phase, &progress)
    })?;
    out.py()
}

/// Trains `vectors` (n_nodes x size, float32 or float64, C-contiguous) in place.
#[pyfunction]
#[pyo3(signature = (
    vectors, relations, *, epochs, alpha, negative, epsilon, regularization_coeff,
    batch_size, workers, seed, frequency_negatives, first_epoch,
    check_gradients_every = 0, geometry = "ball", radius_warmup = 0,
    radius_warmup_start = 3.0, callback = None
))]
#[allow(clippy::too_many_arguments)]
fn poincare_train<'py>(
    py: Python<'py>,
    vectors: &Bound<'py, PyAny>,
    relations: PyReadonlyArray2<'py, u32>,
    epochs: usize,
    alpha: f64,
    negative: usize,
    epsilon: f64,
    regularization_coeff: f64,
    batch_size: usize,
    workers: usize,
    seed: u64,
    frequency_negatives: bool,
    first_epoch: u64,
    check_gradients_every: usize,
    geometry: &str,
    radius_warmup: u64,
    radius_warmup_start: f64,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    super::guard(|| {
        let geometry = match geometry {
            "ball" => Geometry::Ball,
            "hyperboloid" => Geometry::Hyperboloid,
            other => {
                return Err(PyValueError::new_err(format!(
                    "geometry must be 'ball' or 'hyperboloid', got {other:?}"
                )))
            }
        };
        let rel = super::view(&relations, "relations")?;
        if rel.ncols() != 2 {
            return Err(PyValueError::new_err(format!(
                "relations must have shape (n, 2), got (n, {})",
                rel.ncols()
            )));
        }
        let n_nodes = vectors
            .getattr("shape")?
            .extract::<(usize, usize)>()
            .map_err(|_| PyTypeError::new_err("vectors must be a 2-D NumPy array"))?
            .0;
        let pairs: Vec<(u32, u32)> = rel.rows().into_iter().map(|r| (r[0], r[1])).collect();
        let graph = py.detach(move || Graph::new(n_nodes, pairs)).py()?;
        let cfg = TrainConfig {
            negative,
            epsilon,
            regularization_coeff,
            batch_size,
            workers,
            seed,
            check_gradients_every,
            geometry,
            radius_warmup: (radius_warmup > 0).then_some(RadiusWarmup {
                start: radius_warmup_start,
                epochs: radius_warmup,
            }),
        };
        let phase = Phase {
            epochs,
            alpha,
            sampling: if frequency_negatives {
                Sampling::Frequency
            } else {
                Sampling::Uniform
            },
            first_epoch,
        };
        let cb = callback.as_ref();
        let report = if let Ok(v) = vectors.extract::<PyReadwriteArray2<'py, f64>>() {
            run_train(py, v, &graph, &cfg, &phase, cb)?
        } else if let Ok(v) = vectors.extract::<PyReadwriteArray2<'py, f32>>() {
            run_train(py, v, &graph, &cfg, &phase, cb)?
        } else {
            return Err(PyTypeError::new_err(
                "vectors must be a writeable 2-D float32 or float64 NumPy array",
            ));
        };
        let d = PyDict::new(py);
        d.set_item("epoch_losses", report.epoch_losses)?;
        d.set_item("max_gradient_error", report.max_gradient_error)?;
        Ok(d)
    })
}

fn run_rank<T: Real + numpy::Element>(
    py: Python<'_>,
    vectors: &PyReadonlyArray2<'_, T>,
    task: &RankTask<'_>,
    workers: usize,
    callback: Option<&Py<PyAny>>,
) -> PyResult<Vec<u64>> {
    let v = super::view(vectors, "vectors")?;
    let dim = v.ncols();
    let slice = v
        .to_slice()
        .ok_or_else(|| super::layout_error::<T>("vectors"))?;
    let progress = Progress::new(task.queries.len() as u64);
    let out = run_monitored(py, &progress, Duration::from_millis(200), callback, || {
        rank_positives(slice, dim, task, workers, &progress)
    })?;
    out.py()
}

/// Rank of each positive of each query among the query's unmasked nodes
/// (``1 + #closer``), computed one distance row at a time, in parallel.
#[pyfunction]
#[pyo3(signature = (
    vectors, queries, pos_offsets, pos_items, mask_offsets, mask_items, norms, query_norms, *,
    workers = 0, callback = None
))]
#[allow(clippy::too_many_arguments)]
fn poincare_rank<'py>(
    py: Python<'py>,
    vectors: &Bound<'py, PyAny>,
    queries: PyReadonlyArray1<'py, u32>,
    pos_offsets: PyReadonlyArray1<'py, u64>,
    pos_items: PyReadonlyArray1<'py, u32>,
    mask_offsets: PyReadonlyArray1<'py, u64>,
    mask_items: PyReadonlyArray1<'py, u32>,
    norms: PyReadonlyArray1<'py, f64>,
    query_norms: PyReadonlyArray1<'py, f64>,
    workers: usize,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    super::guard(|| {
        let offsets = |a: &PyReadonlyArray1<'py, u64>, what: &str| -> PyResult<Vec<usize>> {
            Ok(super::view(a, what)?.iter().map(|&x| x as usize).collect())
        };
        let pos_off = offsets(&pos_offsets, "pos_offsets")?;
        let mask_off = offsets(&mask_offsets, "mask_offsets")?;
        let q = super::view(&queries, "queries")?;
        let pi = super::view(&pos_items, "pos_items")?;
        let mi = super::view(&mask_items, "mask_items")?;
        let nr = super::view(&norms, "norms")?;
        let qn = super::view(&query_norms, "query_norms")?;
        let empty = |what: &str| super::layout_error::<u32>(what);
        let task = RankTask {
            queries: q.to_slice().ok_or_else(|| empty("queries"))?,
            positives: Lists {
                offsets: &pos_off,
                items: pi.to_slice().ok_or_else(|| empty("pos_items"))?,
            },
            masked: Lists {
                offsets: &mask_off,
                items: mi.to_slice().ok_or_else(|| empty("mask_items"))?,
            },
            norms: nr
                .to_slice()
                .ok_or_else(|| super::layout_error::<f64>("norms"))?,
            query_norms: qn
                .to_slice()
                .ok_or_else(|| super::layout_error::<f64>("query_norms"))?,
        };
        let cb = callback.as_ref();
        let ranks = if let Ok(v) = vectors.extract::<PyReadonlyArray2<'py, f64>>() {
            run_rank(py, &v, &task, workers, cb)?
        } else if let Ok(v) = vectors.extract::<PyReadonlyArray2<'py, f32>>() {
            run_rank(py, &v, &task, workers, cb)?
        } else {
            return Err(PyTypeError::new_err(
                "vectors must be a 2-D float32 or float64 NumPy array",
            ));
        };
        Ok(ranks.into_pyarray(py))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(poincare_train, m)?)?;
    m.add_function(wrap_pyfunction!(poincare_rank, m)?)?;
    Ok(())
}
