//! Python binding for the `ann` core module: the HNSW index behind
//! `embedrs.similarities.HnswIndexer`.
//!
//! The build runs through [`super::run_cancellable`] (GIL released, Ctrl-C
//! honoured) on the index's own pool; every search releases the GIL, so
//! many Python threads query one index at once.

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::IntoPyResult;
use crate::ann::{Hnsw, HnswParams, Metric};

/// `(rows, similarities)` of a batch: row -1 and NaN pad short answers.
type BatchResult<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<f32>>);

/// An HNSW index over the rows of a float32 matrix (keys are row numbers).
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct AnnHnsw {
    inner: Hnsw,
    pool: rayon::ThreadPool,
}

#[pymethods]
impl AnnHnsw {
    /// Builds the index over `vectors` on `threads` threads (0: all cores).
    #[staticmethod]
    #[pyo3(signature = (vectors, metric, m, ef_construction, ef_search, threads = 0))]
    fn build(
        py: Python<'_>,
        vectors: PyReadonlyArray2<'_, f32>,
        metric: &str,
        m: usize,
        ef_construction: usize,
        ef_search: usize,
        threads: usize,
    ) -> PyResult<Self> {
        super::guard(|| {
            let metric = Metric::parse(metric).py()?;
            let v = super::view(&vectors, "vectors")?;
            let pool = crate::thread_pool(threads).py()?;
            let params = HnswParams {
                m,
                ef_construction,
                ef_search,
            };
            let inner = super::run_cancellable(py, |p| {
                Hnsw::build(v, metric, params, &pool, &|| p.should_stop())
            })?;
            Ok(Self { inner, pool })
        })
    }

    /// Reads an index from `data` (copied; `data` may be dropped after).
    #[staticmethod]
    #[pyo3(signature = (data, metric, threads = 0))]
    fn from_bytes(
        py: Python<'_>,
        data: PyReadonlyArray1<'_, u8>,
        metric: &str,
        threads: usize,
    ) -> PyResult<Self> {
        super::guard(|| {
            let metric = Metric::parse(metric).py()?;
            let bytes = super::view(&data, "data")?;
            let bytes = bytes
                .to_slice()
                .ok_or_else(|| super::layout_error::<u8>("data"))?;
            let pool = crate::thread_pool(threads).py()?;
            let inner = py.detach(|| Hnsw::from_bytes(bytes, metric)).py()?;
            Ok(Self { inner, pool })
        })
    }

    /// Views bytes `start..start + length` of the file at `path` in place
    /// (read-only memory map, no copy).
    #[staticmethod]
    #[pyo3(signature = (path, start, length, metric, threads = 0))]
    fn view_file(
        py: Python<'_>,
        path: PathBuf,
        start: usize,
        length: usize,
        metric: &str,
        threads: usize,
    ) -> PyResult<Self> {
        super::guard(|| {
            let metric = Metric::parse(metric).py()?;
            let pool = crate::thread_pool(threads).py()?;
            let inner = py
                .detach(|| Hnsw::view_file(&path, start, length, metric))
                .py()?;
            Ok(Self { inner, pool })
        })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Vector width.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Edges per node.
    #[getter]
    fn m(&self) -> usize {
        self.inner.m()
    }

    /// True when the index reads a memory-mapped file in place.
    #[getter]
    fn is_view(&self) -> bool {
        self.inner.is_view()
    }

    /// Search candidate list size.
    #[getter]
    fn get_ef_search(&self) -> usize {
        self.inner.ef_search()
    }

    #[setter]
    fn set_ef_search(&self, ef: usize) -> PyResult<()> {
        super::guard(|| self.inner.set_ef_search(ef).py())
    }

    /// The `k` best `(row, similarity)` pairs for `query`, best first.
    fn search(
        &self,
        py: Python<'_>,
        query: PyReadonlyArray1<'_, f32>,
        k: usize,
    ) -> PyResult<Vec<(u64, f32)>> {
        super::guard(|| {
            let q = super::view(&query, "query")?;
            let q = q
                .to_slice()
                .ok_or_else(|| super::layout_error::<f32>("query"))?;
            py.detach(|| self.inner.search(q, k)).py()
        })
    }

    /// `search` for every row of `queries` on the index's pool: a `(n, k)`
    /// array of rows (-1 where fewer than `k` were found) and one of
    /// similarities (NaN there).
    fn search_batch<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, f32>,
        k: usize,
    ) -> PyResult<BatchResult<'py>> {
        super::guard(|| {
            let q = super::view(&queries, "queries")?;
            let res = py
                .detach(|| self.inner.search_batch(q, k, &self.pool))
                .py()?;
            let n = res.len();
            let mut rows = ndarray::Array2::<i64>::from_elem((n, k), -1);
            let mut sims = ndarray::Array2::<f32>::from_elem((n, k), f32::NAN);
            for (i, r) in res.iter().enumerate() {
                for (j, &(row, s)) in r.iter().enumerate() {
                    rows[[i, j]] = row as i64;
                    sims[[i, j]] = s;
                }
            }
            Ok((rows.into_pyarray(py), sims.into_pyarray(py)))
        })
    }

    /// The serialised index.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        super::guard(|| {
            let buf = py.detach(|| self.inner.to_bytes()).py()?;
            Ok(PyBytes::new(py, &buf))
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AnnHnsw>()
}
