//! Binding for the `delta` core module: the sparse row deltas that
//! `embedrs.distributed` exchanges between replicas (its `_sync` module
//! wraps these). Matrices are float32, C-contiguous, changed in place with
//! the GIL released; half-precision values travel as their `uint16` bits,
//! which Python views as `float16`.

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::IntoPyResult;
use crate::delta;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(delta_take, m)?)?;
    m.add_function(wrap_pyfunction!(delta_add_rows, m)?)?;
    m.add_function(wrap_pyfunction!(delta_combine, m)?)?;
    Ok(())
}

/// The rows where `weights` differs from `base` and their differences,
/// encoded as float16 bits (`half`) or float32, flattened, and how many rows;
/// with `adopt`, both matrices then hold `base + decoded differences` on those
/// rows (without it neither is written). With `out`, `(rows, values)` buffers
/// (int32, and uint16 or float32; 1-D, room for every row of the matrix), the
/// delta is written to their start and the buffers themselves are returned.
#[pyfunction]
#[pyo3(signature = (weights, base, half, adopt = true, out = None))]
fn delta_take<'py>(
    py: Python<'py>,
    mut weights: PyReadwriteArray2<'py, f32>,
    mut base: PyReadwriteArray2<'py, f32>,
    half: bool,
    adopt: bool,
    out: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, usize)> {
    let dim = weights.shape()[1];
    if base.shape() != weights.shape() {
        return Err(PyTypeError::new_err(format!(
            "base has shape {:?}, the weights {:?}",
            base.shape(),
            weights.shape()
        )));
    }
    let w = super::slice_mut(&mut weights, "weights")?;
    let b = super::slice_mut(&mut base, "base")?;
    if half {
        take_as::<u16>(py, w, b, dim, adopt, out)
    } else {
        take_as::<f32>(py, w, b, dim, adopt, out)
    }
}

/// [`delta_take`] with values of element type `U`.
fn take_as<'py, U: delta::Wire + numpy::Element>(
    py: Python<'py>,
    w: &mut [f32],
    b: &mut [f32],
    dim: usize,
    adopt: bool,
    out: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, usize)> {
    let Some((rows_buf, values_buf)) = out else {
        let (rows, values) = py
            .detach(|| delta::take_delta::<U>(w, b, dim, adopt))
            .py()?;
        let k = rows.len();
        return Ok((
            rows.into_pyarray(py).into_any(),
            values.into_pyarray(py).into_any(),
            k,
        ));
    };
    let rows_arr = rows_buf
        .cast::<PyArray1<i32>>()
        .map_err(|_| PyTypeError::new_err("out's rows must be a 1-D int32 array"))?;
    let values_arr = out_values::<U>(values_buf, "out's values")?;
    let k = {
        let mut rows_rw = rows_arr.try_readwrite().map_err(|_| busy())?;
        let mut values_rw = values_arr.try_readwrite().map_err(|_| busy())?;
        let rows = super::slice_mut(&mut rows_rw, "out's rows")?;
        let values = super::slice_mut(&mut values_rw, "out's values")?;
        py.detach(|| delta::take_delta_into::<U>(w, b, dim, adopt, rows, values))
            .py()?
    };
    Ok((rows_buf, values_arr.into_any(), k))
}

/// `buf` as the 1-D array of wire values `U` an `out=` argument must be.
fn out_values<'py, U: delta::Wire + numpy::Element>(
    buf: Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Bound<'py, PyArray1<U>>> {
    buf.cast_into::<PyArray1<U>>().map_err(|_| {
        let name = if std::mem::size_of::<U>() == 2 {
            "uint16"
        } else {
            "float32"
        };
        PyTypeError::new_err(format!("{what} must be a 1-D {name} array"))
    })
}

/// The error for an `out=` buffer that cannot be written.
fn busy() -> PyErr {
    PyValueError::new_err("out is not writable, or is in use")
}

/// `matrix[rows] += sign * values` (values: float32, or float16 bits as
/// uint16, flattened rows of the matrix's width); with `mirror`, the rows
/// written are copied there too.
#[pyfunction]
#[pyo3(signature = (matrix, rows, values, sign, mirror = None))]
fn delta_add_rows<'py>(
    py: Python<'py>,
    mut matrix: PyReadwriteArray2<'py, f32>,
    rows: PyReadonlyArray1<'py, i32>,
    values: &Bound<'py, PyAny>,
    sign: f32,
    mirror: Option<PyReadwriteArray2<'py, f32>>,
) -> PyResult<()> {
    let dim = matrix.shape()[1];
    let m = super::slice_mut(&mut matrix, "matrix")?;
    let rows = super::slice(&rows, "rows")?;
    let mut mirror = mirror;
    let mirror = match mirror.as_mut() {
        Some(a) => Some(super::slice_mut(a, "mirror")?),
        None => None,
    };
    if let Ok(v) = values.extract::<PyReadonlyArray1<'py, u16>>() {
        let v = super::slice(&v, "values")?;
        py.detach(|| delta::add_rows(m, dim, rows, v, sign, mirror))
            .py()
    } else if let Ok(v) = values.extract::<PyReadonlyArray1<'py, f32>>() {
        let v = super::slice(&v, "values")?;
        py.detach(|| delta::add_rows(m, dim, rows, v, sign, mirror))
            .py()
    } else {
        Err(PyTypeError::new_err(
            "values must be a 1-D float32 array or float16 bits as a 1-D uint16 array",
        ))
    }
}

/// `(rows, values, finite)` of a combined delta.
type Combined<'py> = (Bound<'py, PyArray1<i32>>, Bound<'py, PyAny>, bool);

/// One matrix's deltas from every replica, combined row by row: `parts` is a
/// list of `(rows, values)` (int32 row ids; values flattened, all float32 or
/// all float16 bits as uint16), `mode` one of `"sum"`, `"mean"`,
/// `"adaptive"`, `"scaled"` (with `scale`, the replicas' learning-rate
/// factor). Returns the sorted union of the rows (int32), their combined
/// deltas (`len(rows) x dim`: float32, or with `half` float16 bits as
/// uint16) and whether every combined value is finite; `threads` threads
/// share the rows. With `out` (a writable 1-D array of the output's element
/// type holding at least `len(rows) * dim` values), the deltas are written to
/// its start and the values returned are `out` itself, whole: a driver that
/// combines every round into the same buffer pays no page faults for a fresh
/// one each time.
#[pyfunction]
#[pyo3(signature = (parts, n_rows, dim, mode, scale = 1, half = false, threads = 1, out = None))]
#[allow(clippy::too_many_arguments)]
fn delta_combine<'py>(
    py: Python<'py>,
    parts: Vec<(PyReadonlyArray1<'py, i32>, Bound<'py, PyAny>)>,
    n_rows: usize,
    dim: usize,
    mode: &str,
    scale: u32,
    half: bool,
    threads: usize,
    out: Option<Bound<'py, PyAny>>,
) -> PyResult<Combined<'py>> {
    let mode = match mode {
        "sum" => delta::Combine::Sum,
        "mean" => delta::Combine::Mean,
        "adaptive" => delta::Combine::Adaptive,
        "scaled" if scale >= 1 => delta::Combine::Scaled(scale),
        "scaled" => return Err(PyValueError::new_err("scale must be at least 1")),
        other => {
            return Err(PyValueError::new_err(format!(
                "combine must be 'sum', 'mean', 'adaptive' or 'scaled', not {other:?}"
            )))
        }
    };
    let mut rows = Vec::with_capacity(parts.len());
    for (r, _) in &parts {
        rows.push(super::slice(r, "rows")?);
    }
    let union = py.detach(|| delta::row_union(&rows, n_rows)).py()?;
    let in_half = parts
        .first()
        .is_some_and(|(_, v)| v.extract::<PyReadonlyArray1<'py, u16>>().is_ok());
    let (out, finite) = if half {
        combine_to::<u16>(py, &parts, &union, dim, mode, threads, in_half, out)?
    } else {
        combine_to::<f32>(py, &parts, &union, dim, mode, threads, in_half, out)?
    };
    Ok((union.rows.into_pyarray(py), out, finite))
}

/// [`delta_combine`]'s output of element type `U`, in `out` or else allocated
/// by NumPy (large arrays get huge pages: fewer faults), and whether it is
/// all finite.
#[allow(clippy::too_many_arguments)]
fn combine_to<'py, U: delta::Wire + numpy::Element>(
    py: Python<'py>,
    parts: &[(PyReadonlyArray1<'py, i32>, Bound<'py, PyAny>)],
    union: &delta::RowUnion,
    dim: usize,
    mode: delta::Combine,
    threads: usize,
    in_half: bool,
    out: Option<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, bool)> {
    let size = union.rows.len() * dim;
    let run = |dst: &mut [U]| {
        if in_half {
            combine_as::<u16, U>(py, parts, union, dim, mode, dst, threads)
        } else {
            combine_as::<f32, U>(py, parts, union, dim, mode, dst, threads)
        }
    };
    let Some(buf) = out else {
        let out = PyArray2::<U>::zeros(py, [union.rows.len(), dim], false);
        let finite = run(super::slice_mut(&mut out.readwrite(), "output")?)?;
        return Ok((out.into_any(), finite));
    };
    let buf = out_values::<U>(buf, "out")?;
    let finite = {
        let mut rw = buf.try_readwrite().map_err(|_| busy())?;
        let dst = super::slice_mut(&mut rw, "out")?;
        if dst.len() < size {
            return Err(PyValueError::new_err(format!(
                "out holds {} values, the combined delta {size}",
                dst.len()
            )));
        }
        run(&mut dst[..size])?
    };
    Ok((buf.into_any(), finite))
}

/// [`delta_combine`] with every `values` array of element type `T`, the
/// output of element type `U`; whether every output value is finite.
fn combine_as<'py, T: delta::Wire + numpy::Element, U: delta::Wire>(
    py: Python<'py>,
    parts: &[(PyReadonlyArray1<'py, i32>, Bound<'py, PyAny>)],
    union: &delta::RowUnion,
    dim: usize,
    mode: delta::Combine,
    out: &mut [U],
    threads: usize,
) -> PyResult<bool> {
    let held = parts
        .iter()
        .map(|(_, v)| {
            v.extract::<PyReadonlyArray1<'py, T>>().map_err(|_| {
                PyTypeError::new_err(
                    "values must all be 1-D float32 arrays or all float16 bits as 1-D uint16 \
                     arrays",
                )
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let mut slices = Vec::with_capacity(parts.len());
    for ((r, _), v) in parts.iter().zip(&held) {
        slices.push((super::slice(r, "rows")?, super::slice(v, "values")?));
    }
    py.detach(|| delta::combine_into(&slices, union, dim, mode, out, threads))
        .py()
}
