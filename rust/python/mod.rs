//! The PyO3 binding: argument checks, GIL release, array conversion and the
//! one mapping from core errors to Python exceptions.
//!
//! Each submodule registers its functions and classes on the private
//! `embedrs._embedrs` extension module; the public Python API lives in
//! `python/embedrs/` and calls into these.

use std::time::Duration;

use pyo3::exceptions::{
    PyKeyboardInterrupt, PyMemoryError, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;

use crate::progress::Progress;
use crate::Error;

mod ann;
mod corpus;
mod d2v;
mod delta;
mod kv;
mod phrases;
mod poincare;
mod tsne;
mod vocab;
mod w2v;
mod weights;

/// Converts a core error into the Python exception a gensim or scikit-learn
/// user expects.
pub(crate) fn to_pyerr(e: Error) -> PyErr {
    match e {
        Error::InvalidArgument(m) => PyValueError::new_err(m),
        Error::Parameter { name, message } => {
            let err = PyValueError::new_err(message);
            // The command line maps `param` to its option name (as for the
            // errors of `embedrs._validate`).
            Python::attach(|py| {
                let _ = err.value(py).setattr("param", name);
            });
            err
        }
        e @ Error::Io { .. } => {
            let (kind, text) = match &e {
                Error::Io { source, .. } => (source.kind(), e.to_string()),
                _ => unreachable!(),
            };
            match kind {
                std::io::ErrorKind::NotFound => {
                    pyo3::exceptions::PyFileNotFoundError::new_err(text)
                }
                std::io::ErrorKind::PermissionDenied => {
                    pyo3::exceptions::PyPermissionError::new_err(text)
                }
                _ => PyOSError::new_err(text),
            }
        }
        e @ Error::Format { .. } => PyValueError::new_err(e.to_string()),
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted by the user"),
        Error::OutOfMemory(m) => PyMemoryError::new_err(m),
    }
}

pyo3::create_exception!(
    embedrs,
    InternalError,
    PyRuntimeError,
    "An unexpected failure inside embedrs' Rust core: a bug, never the caller's input. \
     The operation was abandoned and the process keeps running; please report it with \
     the message."
);

/// Text of a panic payload (`panic!` with a literal or a formatted string).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// The binding's boundary: runs the body of a Python-visible function and
/// turns any Rust panic inside it, on this thread or (through
/// [`run_monitored`]) a worker thread, into `embedrs.InternalError`, a
/// `RuntimeError` subclass, instead of PyO3's `PanicException` (a
/// `BaseException` that `except Exception` does not catch). Every
/// `#[pyfunction]` and `#[pymethods]` entry point that can fail runs through
/// it. Out-of-memory on user-sized requests never gets here: those buffers
/// are allocated fallibly (`crate::mem`) and raise `MemoryError`.
pub(crate) fn guard<R>(body: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => Err(InternalError::new_err(format!(
            "internal error in embedrs (please report it): {}",
            panic_text(&*payload)
        ))),
    }
}

/// A read-only view of a NumPy array that the core may read as plain
/// slices: C-contiguous and aligned. NumPy allows misaligned buffers (e.g.
/// `numpy.frombuffer(b, dtype=numpy.float32, offset=1)`), and Rust must never
/// form a `&[f32]` over one, so such arrays are refused with a message that
/// says how to fix them.
pub(crate) fn view<'a, T, D>(
    a: &'a numpy::PyReadonlyArray<'_, T, D>,
    what: &str,
) -> PyResult<ndarray::ArrayView<'a, T, D>>
where
    T: numpy::Element,
    D: ndarray::Dimension,
{
    // as_slice checks alignment and contiguity before any view is formed
    if a.as_slice().is_err() || !numpy::PyUntypedArrayMethods::is_c_contiguous(&**a) {
        return Err(layout_error::<T>(what));
    }
    Ok(a.as_array())
}

/// [`view`] as one slice of the array's elements (in C order).
pub(crate) fn slice<'a, T, D>(
    a: &'a numpy::PyReadonlyArray<'_, T, D>,
    what: &str,
) -> PyResult<&'a [T]>
where
    T: numpy::Element,
    D: ndarray::Dimension,
{
    view(a, what)?;
    a.as_slice().map_err(|_| layout_error::<T>(what))
}

/// The writable counterpart of [`view`]: the array's elements as one
/// mutable slice, under the same layout rule and message.
pub(crate) fn slice_mut<'a, T, D>(
    a: &'a mut numpy::PyReadwriteArray<'_, T, D>,
    what: &str,
) -> PyResult<&'a mut [T]>
where
    T: numpy::Element,
    D: ndarray::Dimension,
{
    if !numpy::PyUntypedArrayMethods::is_c_contiguous(&***a) {
        return Err(layout_error::<T>(what));
    }
    a.as_slice_mut().map_err(|_| layout_error::<T>(what))
}

/// The one message for an array whose memory layout Rust cannot use.
pub(crate) fn layout_error<T>(what: &str) -> PyErr {
    PyValueError::new_err(format!(
        "{what} must be a C-contiguous, aligned NumPy array of {} \
         (use numpy.ascontiguousarray, or numpy.require(a, requirements='CA') for a \
         misaligned buffer)",
        match std::any::type_name::<T>() {
            "f32" => "float32",
            "f64" => "float64",
            "u32" => "uint32",
            "i64" => "int64",
            other => other,
        }
    ))
}

/// Extension trait: `result.py()?` converts a core `Result` into a `PyResult`.
pub(crate) trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for crate::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_pyerr)
    }
}

/// The one progress-callback contract of the binding: a long call that
/// reports progress calls `callback(done, total, epoch, metric)` (ints, and
/// a float or None; see [`crate::progress::Snapshot`]) from the calling
/// thread, with the GIL, every tick. An exception from the callback stops
/// the job and is raised by the call.
pub(crate) fn report(py: Python<'_>, callback: Option<&Py<PyAny>>, p: &Progress) -> PyResult<()> {
    if let Some(cb) = callback {
        let s = p.snapshot();
        cb.call1(py, (s.done, s.total, s.epoch, s.metric))?;
    }
    Ok(())
}

/// Runs `job` on a helper thread with the GIL released while `foreground`
/// runs on this thread (with the GIL; it may release it itself), given a
/// function that says whether the job has finished.
///
/// When `foreground` fails (Ctrl-C, an exception from a callback or from the
/// Python iterable it reads), `progress.stop` is set, the job winds down
/// (jobs poll the flag often, so this takes well under a second) and the
/// foreground's exception is raised; whatever the job had written to its
/// buffers stays there. A panic in the job becomes `InternalError`.
pub(crate) fn run_alongside<R, J, F>(
    py: Python<'_>,
    progress: &Progress,
    job: J,
    foreground: F,
) -> PyResult<R>
where
    R: Send,
    J: FnOnce() -> R + Send,
    F: FnOnce(Python<'_>, &(dyn Fn() -> bool + Sync)) -> PyResult<()>,
{
    std::thread::scope(|scope| {
        let handle = scope.spawn(job);
        let fg = foreground(py, &|| handle.is_finished());
        if fg.is_err() {
            progress.request_stop();
        }
        let joined = py.detach(|| handle.join());
        let out = joined.map_err(|payload| {
            InternalError::new_err(format!(
                "internal error in an embedrs worker thread (please report it): {}",
                panic_text(&*payload)
            ))
        })?;
        fg?;
        Ok(out)
    })
}

/// Runs `job` with the GIL released while this thread wakes every `tick`
/// to check for Ctrl-C and [`report`] progress to `callback`; see
/// [`run_alongside`] for how a stop works.
pub(crate) fn run_monitored<R, J>(
    py: Python<'_>,
    progress: &Progress,
    tick: Duration,
    callback: Option<&Py<PyAny>>,
    job: J,
) -> PyResult<R>
where
    R: Send,
    J: FnOnce() -> R + Send,
{
    run_alongside(py, progress, job, |py, finished| loop {
        let done = py.detach(|| {
            let start = std::time::Instant::now();
            while start.elapsed() < tick {
                if finished() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            finished()
        });
        if done {
            return Ok(());
        }
        py.check_signals()?;
        report(py, callback, progress)?;
    })
}

/// The progress interval: `seconds`, at least 50 ms and at most an hour
/// (NaN or infinity: one second).
pub(crate) fn tick(seconds: f64) -> Duration {
    if seconds.is_finite() {
        Duration::from_secs_f64(seconds.clamp(0.05, 3600.0))
    } else {
        Duration::from_secs(1)
    }
}

/// Runs a long core `job` with the GIL released and Ctrl-C honoured (the job
/// polls `progress.should_stop()` and returns `Error::Interrupted`), for
/// calls that need no progress reporting: file reads and writes, index
/// builds, vocabulary counting.
pub(crate) fn run_cancellable<R, J>(py: Python<'_>, job: J) -> PyResult<R>
where
    R: Send,
    J: FnOnce(&Progress) -> crate::Result<R> + Send,
{
    let progress = Progress::new(0);
    let p = &progress;
    run_monitored(py, p, Duration::from_millis(50), None, move || job(p))?.map_err(to_pyerr)
}

/// Panics on purpose inside [`guard`], on this thread (`in_worker=False`)
/// or on a worker thread of [`run_monitored`]: the test suite's proof that no
/// panic reaches Python as `PanicException`. Not part of the public API.
#[pyfunction]
#[pyo3(signature = (in_worker = false))]
fn _selftest_panic(py: Python<'_>, in_worker: bool) -> PyResult<()> {
    guard(|| {
        if in_worker {
            let progress = Progress::new(0);
            run_monitored(py, &progress, Duration::from_millis(10), None, || {
                panic!("deliberate panic in a worker thread (self-test)")
            })
        } else {
            panic!("deliberate panic on the calling thread (self-test)")
        }
    })
}

#[pymodule]
fn _embedrs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("InternalError", m.py().get_type::<InternalError>())?;
    m.add_function(wrap_pyfunction!(_selftest_panic, m)?)?;
    ann::register(m)?;
    corpus::register(m)?;
    w2v::register(m)?;
    d2v::register(m)?;
    delta::register(m)?;
    kv::register(m)?;
    poincare::register(m)?;
    phrases::register(m)?;
    tsne::register(m)?;
    vocab::register(m)?;
    Ok(())
}
