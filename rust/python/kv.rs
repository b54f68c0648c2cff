//! Python binding for the `kv` (similarity search) and `io` (word2vec
//! formats) core modules.
//!
//! Matrices stay owned by NumPy: each call borrows `vectors` and `norms`
//! read-only (C-contiguous float32 required, never copied), releases the
//! GIL, and runs on the searcher's own thread pool, so many Python threads
//! can query one model at once.

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyStringMethods};

use super::IntoPyResult;
use crate::io::word2vec::{self, ReadOptions, UnicodeErrors, WriteOptions};
use crate::kv;

/// The model's `vectors` (C-contiguous) and row `norms`, borrowed for a search.
fn model<'a>(
    vectors: &'a PyReadonlyArray2<'_, f32>,
    norms: &'a PyReadonlyArray1<'_, f32>,
) -> PyResult<(ndarray::ArrayView2<'a, f32>, &'a [f32])> {
    let n = super::view(norms, "norms")?;
    let n = n
        .to_slice()
        .ok_or_else(|| super::layout_error::<f32>("norms"))?;
    Ok((super::view(vectors, "vectors")?, n))
}

/// `(rows, scores)` of a batched query.
type BatchResult<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<f32>>);
/// `(keys, vectors, declared_count, trailing_data)` of a word2vec file.
type ReadResult<'py> = (Bound<'py, PyList>, Bound<'py, PyAny>, usize, bool);

/// A thread pool for similarity queries, created once per model.
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct KvSearcher {
    pool: rayon::ThreadPool,
}

#[pymethods]
impl KvSearcher {
    #[new]
    #[pyo3(signature = (threads = 0))]
    fn new(threads: usize) -> PyResult<Self> {
        super::guard(|| {
            Ok(Self {
                pool: crate::thread_pool(threads).py()?,
            })
        })
    }

    /// Number of threads in the pool.
    #[getter]
    fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Row norms of `vectors` (float32).
    fn row_norms<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        super::guard(|| {
            let v = super::view(&vectors, "vectors")?;
            let out = py.detach(|| kv::row_norms(v, Some(&self.pool))).py()?;
            Ok(out.into_pyarray(py))
        })
    }

    /// The `k` best `(row, cosine)` pairs of rows `start..end` for `query`.
    #[pyo3(signature = (vectors, norms, query, start, end, k))]
    fn top_k<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
        norms: PyReadonlyArray1<'py, f32>,
        query: PyReadonlyArray1<'py, f32>,
        start: usize,
        end: usize,
        k: usize,
    ) -> PyResult<Vec<(usize, f32)>> {
        super::guard(|| {
            let (v, n) = model(&vectors, &norms)?;
            let q = super::view(&query, "query")?;
            py.detach(|| kv::top_k(v, n, q, start..end, k, Some(&self.pool)))
                .py()
        })
    }

    /// `top_k` for vectors that training is writing meanwhile: row norms
    /// are computed in the same pass as the dot products (no cached norms).
    #[pyo3(signature = (vectors, query, start, end, k))]
    fn top_k_live<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
        query: PyReadonlyArray1<'py, f32>,
        start: usize,
        end: usize,
        k: usize,
    ) -> PyResult<Vec<(usize, f32)>> {
        super::guard(|| {
            let v = super::view(&vectors, "vectors")?;
            let q = super::view(&query, "query")?;
            py.detach(|| kv::top_k_live(v, q, start..end, k, Some(&self.pool)))
                .py()
        })
    }

    /// Builds the int8 search index of `vectors` (row `norms` given).
    fn build_int8<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
        norms: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<KvInt8Index> {
        super::guard(|| {
            let (v, n) = model(&vectors, &norms)?;
            let inner = py
                .detach(|| kv::QuantIndex::build(v, n, Some(&self.pool)))
                .py()?;
            Ok(KvInt8Index {
                inner,
                norms_at: None,
            })
        })
    }

    /// A fingerprint of `vectors` (shape and values), which a saved int8
    /// index carries to tell the vectors it was built from.
    fn fingerprint<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<u64> {
        super::guard(|| {
            let v = super::view(&vectors, "vectors")?;
            py.detach(|| kv::fingerprint(v, Some(&self.pool))).py()
        })
    }

    /// Same as `top_k`, through an int8 index built from these `vectors`.
    #[pyo3(signature = (index, vectors, norms, query, start, end, k))]
    fn top_k_int8<'py>(
        &self,
        py: Python<'py>,
        index: &KvInt8Index,
        vectors: PyReadonlyArray2<'py, f32>,
        norms: PyReadonlyArray1<'py, f32>,
        query: PyReadonlyArray1<'py, f32>,
        start: usize,
        end: usize,
        k: usize,
    ) -> PyResult<Vec<(usize, f32)>> {
        super::guard(|| {
            let (v, n) = model(&vectors, &norms)?;
            let q = super::view(&query, "query")?;
            py.detach(|| index.inner.top_k(v, n, q, start..end, k, Some(&self.pool)))
                .py()
        })
    }

    /// Cosine of `query` with every row `start..end`.
    fn all_scores<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
        norms: PyReadonlyArray1<'py, f32>,
        query: PyReadonlyArray1<'py, f32>,
        start: usize,
        end: usize,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        super::guard(|| {
            let (v, n) = model(&vectors, &norms)?;
            let q = super::view(&query, "query")?;
            let out = py
                .detach(|| kv::all_scores(v, n, q, start..end, Some(&self.pool)))
                .py()?;
            Ok(out.into_pyarray(py))
        })
    }

    /// Top-`k` for every row of `queries`: `(rows, scores)` arrays of shape
    /// `(n_queries, k)`, padded with row -1 / score NaN where fewer exist.
    fn top_k_batch<'py>(
        &self,
        py: Python<'py>,
        vectors: PyReadonlyArray2<'py, f32>,
        norms: PyReadonlyArray1<'py, f32>,
        queries: PyReadonlyArray2<'py, f32>,
        start: usize,
        end: usize,
        k: usize,
    ) -> PyResult<BatchResult<'py>> {
        super::guard(|| {
            let (v, n) = model(&vectors, &norms)?;
            let q = super::view(&queries, "queries")?;
            let res = py
                .detach(|| kv::top_k_batch(v, n, q, start..end, k, Some(&self.pool)))
                .py()?;
            Ok(batch_arrays(py, res, k.min(end.saturating_sub(start))))
        })
    }

    /// Same as `top_k_batch`, through an int8 index built from these
    /// `vectors` (exactly the answers of `top_k`, one query at a time).
    #[pyo3(signature = (index, vectors, norms, queries, start, end, k))]
    fn top_k_batch_int8<'py>(
        &self,
        py: Python<'py>,
        index: &KvInt8Index,
        vectors: PyReadonlyArray2<'py, f32>,
        norms: PyReadonlyArray1<'py, f32>,
        queries: PyReadonlyArray2<'py, f32>,
        start: usize,
        end: usize,
        k: usize,
    ) -> PyResult<BatchResult<'py>> {
        super::guard(|| {
            let (v, n) = model(&vectors, &norms)?;
            let q = super::view(&queries, "queries")?;
            let res = py
                .detach(|| {
                    index
                        .inner
                        .top_k_batch(v, n, q, start..end, k, Some(&self.pool))
                })
                .py()?;
            Ok(batch_arrays(py, res, k.min(end.saturating_sub(start))))
        })
    }
}

/// `(rows, scores)` arrays of shape `(n_queries, k)` from per-query lists,
/// padded with row -1 / score NaN where a query has fewer than `k`.
fn batch_arrays(py: Python<'_>, res: Vec<Vec<(usize, f32)>>, k: usize) -> BatchResult<'_> {
    let m = res.len();
    let mut rows = ndarray::Array2::<i64>::from_elem((m, k), -1);
    let mut scores = ndarray::Array2::<f32>::from_elem((m, k), f32::NAN);
    for (j, r) in res.into_iter().enumerate() {
        for (t, (i, s)) in r.into_iter().enumerate() {
            rows[[j, t]] = i as i64;
            scores[[j, t]] = s;
        }
    }
    (rows.into_pyarray(py), scores.into_pyarray(py))
}

/// An int8 copy of a model's unit rows for exact, bandwidth-saving search
/// (see `kv::QuantIndex`); built by `KvSearcher.build_int8`.
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct KvInt8Index {
    inner: kv::QuantIndex,
    /// Byte offset of the row norms in the file it was opened from.
    norms_at: Option<usize>,
}

#[pymethods]
impl KvInt8Index {
    /// Rows indexed.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Whether the codes are read in place from a saved file.
    #[getter]
    fn is_mapped(&self) -> bool {
        self.inner.is_mapped()
    }

    /// Byte offset of the saved row norms (`len` little-endian float32) in
    /// the file this index was opened from; `None` for a built index.
    #[getter]
    fn norms_offset(&self) -> Option<usize> {
        self.norms_at
    }

    /// Writes the index and the row `norms` it was built with to `path`
    /// atomically, tagged with `fingerprint` (the identity of the vectors).
    fn save<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        fingerprint: u64,
        norms: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<()> {
        super::guard(|| {
            let n = super::view(&norms, "norms")?;
            let n = n
                .to_slice()
                .ok_or_else(|| super::layout_error::<f32>("norms"))?;
            py.detach(|| self.inner.save(&path, fingerprint, n)).py()
        })
    }

    /// Opens a saved index memory-mapped; `ValueError` unless it was built
    /// from a `rows` x `dim` matrix with this `fingerprint`.
    #[staticmethod]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        rows: usize,
        dim: usize,
        fingerprint: u64,
    ) -> PyResult<Self> {
        super::guard(|| {
            let (inner, at) = py
                .detach(|| kv::QuantIndex::open(&path, rows, dim, fingerprint))
                .py()?;
            Ok(Self {
                inner,
                norms_at: Some(at),
            })
        })
    }
}

fn parse_errors(s: &str) -> PyResult<UnicodeErrors> {
    match s {
        "strict" => Ok(UnicodeErrors::Strict),
        "ignore" => Ok(UnicodeErrors::Ignore),
        "replace" => Ok(UnicodeErrors::Replace),
        "raw" => Ok(UnicodeErrors::Raw),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "unicode_errors must be 'strict', 'ignore' or 'replace', not {other:?}"
        ))),
    }
}

/// Reads a word2vec text or binary file.
///
/// Returns `(keys, vectors, declared_count, trailing_data)`; `keys` is a list
/// of `str`, or of `bytes` when `unicode_errors="raw"` (the caller decodes);
/// `vectors` is a float32 matrix, or float64 for `dtype="float64"` (text
/// values then keep their full precision).
#[pyfunction]
#[pyo3(signature = (path, binary, limit = None, no_header = false, unicode_errors = "strict", allow_nonfinite = false, threads = 0, dtype = "float32"))]
fn w2v_read<'py>(
    py: Python<'py>,
    path: PathBuf,
    binary: bool,
    limit: Option<usize>,
    no_header: bool,
    unicode_errors: &str,
    allow_nonfinite: bool,
    threads: usize,
    dtype: &str,
) -> PyResult<ReadResult<'py>> {
    super::guard(|| {
        let wide = match dtype {
            "float32" => false,
            "float64" => true,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "dtype must be 'float32' or 'float64', not {other:?}"
                )))
            }
        };
        let opts = ReadOptions {
            binary,
            limit,
            no_header,
            unicode_errors: parse_errors(unicode_errors)?,
            allow_nonfinite,
            threads,
        };
        let (keys, vectors, declared, trailing) = if wide {
            let d = super::run_cancellable(py, |p| {
                word2vec::read_with_progress::<f64>(&path, &opts, p)
            })?;
            let v = d.vectors.into_pyarray(py).into_any();
            (d.keys, v, d.declared_count, d.trailing_data)
        } else {
            let d = super::run_cancellable(py, |p| {
                word2vec::read_with_progress::<f32>(&path, &opts, p)
            })?;
            let v = d.vectors.into_pyarray(py).into_any();
            (d.keys, v, d.declared_count, d.trailing_data)
        };
        let keys = match keys {
            word2vec::Keys::Text(k) => PyList::new(py, k.iter().map(|s| PyString::new(py, s)))?,
            word2vec::Keys::Raw(k) => PyList::new(py, k.iter().map(|b| PyBytes::new(py, b)))?,
        };
        Ok((keys, vectors, declared, trailing))
    })
}

/// Writes rows `order` of `vectors` (float32, or float64: text keeps the
/// full precision, binary stores float32 as the format does) with their
/// `keys` in word2vec format.
#[pyfunction]
#[pyo3(signature = (path, keys, vectors, order, binary, write_header = true, total_vec = None, append = false, threads = 0))]
fn w2v_write(
    py: Python<'_>,
    path: PathBuf,
    keys: Vec<String>,
    vectors: &Bound<'_, PyAny>,
    order: Vec<usize>,
    binary: bool,
    write_header: bool,
    total_vec: Option<usize>,
    append: bool,
    threads: usize,
) -> PyResult<()> {
    super::guard(|| {
        let opts = WriteOptions {
            binary,
            write_header,
            total_vec,
            append,
            threads,
        };
        if let Ok(a) = vectors.extract::<PyReadonlyArray2<'_, f64>>() {
            let v = super::view(&a, "vectors")?;
            return super::run_cancellable(py, |p| {
                word2vec::write_with_progress(&path, &keys, v, &order, &opts, p)
            });
        }
        let a = vectors
            .extract::<PyReadonlyArray2<'_, f32>>()
            .map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(
                    "vectors must be a 2-D float32 or float64 NumPy array",
                )
            })?;
        let v = super::view(&a, "vectors")?;
        super::run_cancellable(py, |p| {
            word2vec::write_with_progress(&path, &keys, v, &order, &opts, p)
        })
    })
}

/// Formats float32 values as numpy's `str()` does (used by tests).
#[pyfunction]
fn format_f32(values: Vec<f32>) -> Vec<String> {
    values
        .into_iter()
        .map(|v| {
            let mut s = Vec::new();
            crate::io::floatfmt::write_f32(&mut s, v);
            String::from_utf8(s).unwrap_or_default()
        })
        .collect()
}

/// The JSON text (`bytes`) of a 1-D or 2-D float32 array: shortest
/// round-trip decimals, `null` for NaN and the infinities (see `io::json`).
#[pyfunction]
fn json_f32<'py>(
    py: Python<'py>,
    values: numpy::PyReadonlyArrayDyn<'py, f32>,
) -> PyResult<Bound<'py, PyBytes>> {
    let a = values.as_array();
    let (rows, dim) = match *a.shape() {
        [n] => (None, n),
        [r, d] => (Some(r), d),
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "expected a 1-D or 2-D array, got {} dimensions",
                a.ndim()
            )))
        }
    };
    let owned;
    let data: &[f32] = match a.as_slice() {
        Some(s) => s,
        None => {
            owned = a.iter().copied().collect::<Vec<f32>>();
            &owned
        }
    };
    let text = py.detach(|| match rows {
        None => {
            let mut out = Vec::with_capacity(2 + dim * 12);
            crate::io::json::write_row(&mut out, data);
            out
        }
        Some(r) => crate::io::json::matrix(data, r, dim),
    });
    Ok(PyBytes::new(py, &text))
}

/// The keys of a loaded model, looked up in place in their stored UTF-8 blob
/// (see `kv::KeyIndex`): no Python string per key until one is asked for.
#[pyclass(frozen, module = "embedrs._embedrs")]
pub(crate) struct KeyTable {
    blob: Py<PyArray1<u8>>,
    index: kv::KeyIndex,
}

impl KeyTable {
    /// Runs `f` with the index and the blob it reads (one borrow for many lookups).
    pub(crate) fn with_index<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&kv::KeyIndex, &[u8]) -> PyResult<T>,
    ) -> PyResult<T> {
        self.with_blob(py, |b| f(&self.index, b))?
    }

    fn with_blob<T>(&self, py: Python<'_>, f: impl FnOnce(&[u8]) -> T) -> PyResult<T> {
        let blob = self.blob.bind(py).readonly();
        let bytes = blob
            .as_slice()
            .map_err(|_| super::layout_error::<u8>("keys"))?;
        Ok(f(bytes))
    }
}

#[pymethods]
impl KeyTable {
    /// Indexes the `n` `\n`-separated keys of `blob` (a 1-D uint8 array,
    /// kept by reference: it must not change afterwards).
    #[new]
    fn new(py: Python<'_>, blob: Bound<'_, PyArray1<u8>>, n: usize) -> PyResult<Self> {
        super::guard(|| {
            let index = {
                let ro = blob.readonly();
                let bytes = ro
                    .as_slice()
                    .map_err(|_| super::layout_error::<u8>("keys"))?;
                py.detach(|| kv::KeyIndex::build(bytes, n)).py()?
            };
            Ok(Self {
                blob: blob.unbind(),
                index,
            })
        })
    }

    /// Number of rows.
    fn __len__(&self) -> usize {
        self.index.len()
    }

    /// Row of the string `key`, or -1.
    fn index(&self, py: Python<'_>, key: &Bound<'_, PyString>) -> PyResult<i64> {
        let Ok(key) = key.to_cow() else {
            return Ok(-1); // lone surrogates: never a stored (UTF-8) key
        };
        self.with_blob(py, |b| {
            self.index.get(b, key.as_bytes()).map_or(-1, |r| r as i64)
        })
    }

    /// Key of `row`.
    fn key<'py>(&self, py: Python<'py>, row: usize) -> PyResult<Bound<'py, PyString>> {
        self.with_blob(py, |b| self.index.key(b, row).map(|k| PyString::new(py, k)))?
            .ok_or_else(|| {
                pyo3::exceptions::PyIndexError::new_err(format!(
                    "row {row} is out of range for {} keys",
                    self.index.len()
                ))
            })
    }

    /// Key of `row`, counted from the end when negative (as a list).
    fn __getitem__<'py>(&self, py: Python<'py>, row: isize) -> PyResult<Bound<'py, PyString>> {
        let n = self.index.len() as isize;
        let at = if row < 0 { row + n } else { row };
        if !(0..n).contains(&at) {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "row {row} is out of range for {n} keys"
            )));
        }
        self.key(py, at as usize)
    }

    /// Every key, in row order, as a new list.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let keys = self.with_blob(py, |b| {
            (0..self.index.len())
                .map(|r| self.index.key(b, r).map(|k| PyString::new(py, k)))
                .collect::<Option<Vec<_>>>()
        })?;
        let keys = keys.ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err("the key blob changed after indexing")
        })?;
        PyList::new(py, keys)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KvSearcher>()?;
    m.add_class::<KvInt8Index>()?;
    m.add_class::<KeyTable>()?;
    m.add_function(wrap_pyfunction!(w2v_read, m)?)?;
    m.add_function(wrap_pyfunction!(w2v_write, m)?)?;
    m.add_function(wrap_pyfunction!(format_f32, m)?)?;
    m.add_function(wrap_pyfunction!(json_f32, m)?)?;
    Ok(())
}
