//! The model's NumPy weights lent to a training call, shared with the
//! Hogwild workers, and the schedule and progress record of one epoch call:
//! what the word2vec and Doc2Vec bindings have in common.

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::IntoPyResult;
use crate::hogwild::SharedMatrix;
use crate::progress::Progress;
use crate::w2v::{Schedule, Weights};

/// A weight matrix of the model, shared with the Hogwild workers.
///
/// The array is NOT borrowed through rust-numpy's borrow tracking: a
/// tracked writable borrow would make every query on the same vectors from
/// another Python thread fail with "array is already borrowed" for the whole
/// epoch, and a running query would make `train()` fail. gensim serves such
/// queries (its Cython loops write the same NumPy buffers without a lock), and
/// a service that updates a model online needs to. So training writes the
/// buffer while queries may read it: a query during training sees a mix of
/// old and new rows, as in gensim. The checks here are those the borrow would
/// have made: layout and the writeable flag (a read-only memory map must be
/// loaded with `mmap=None` or `'c'` to train). Shapes are checked by the core.
pub(crate) fn shared<'a>(
    arr: &'a Bound<'_, PyArray2<f32>>,
    name: &str,
) -> PyResult<SharedMatrix<'a>> {
    let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
    let writeable: bool = arr.getattr("flags")?.getattr("writeable")?.extract()?;
    if !writeable {
        return Err(PyValueError::new_err(format!(
            "{name} is read-only (a model loaded with mmap='r'?); load it with mmap=None or 'c' \
             to train it"
        )));
    }
    if !arr.is_c_contiguous() {
        return Err(super::layout_error::<f32>(name));
    }
    // SAFETY: `arr` is a live, C-contiguous (checked above; `as_slice_mut`
    // checks alignment), writeable float32 array of `rows * cols` elements,
    // kept alive by the caller's `Bound` for 'a, so the slice is valid for
    // 'a. It is not exclusive: Python code may read (queries) or write the
    // same buffer meanwhile, and the Hogwild workers write it concurrently;
    // SharedMatrix::new's contract is exactly that its rows may race, which
    // this caller accepts (the race can mix float updates but never leaves
    // the buffer).
    unsafe {
        let s = arr
            .as_slice_mut()
            .map_err(|_| super::layout_error::<f32>(name))?;
        SharedMatrix::new(s, rows, cols).py()
    }
}

/// The model's arrays lent to one epoch call.
pub(crate) struct Lent<'py> {
    pub syn0: Bound<'py, PyArray2<f32>>,
    pub syn1neg: Option<Bound<'py, PyArray2<f32>>>,
    pub syn1: Option<Bound<'py, PyArray2<f32>>>,
    pub lockf: Option<PyReadonlyArray1<'py, f32>>,
}

impl Lent<'_> {
    pub(crate) fn weights(&self) -> PyResult<Weights<'_>> {
        let w = Weights::from_shared(
            shared(&self.syn0, "wv.vectors")?,
            self.syn1neg
                .as_ref()
                .map(|a| shared(a, "syn1neg"))
                .transpose()?,
            self.syn1.as_ref().map(|a| shared(a, "syn1")).transpose()?,
        );
        Ok(match &self.lockf {
            Some(l) => w.with_lock_factors(
                l.as_slice()
                    .map_err(|_| super::layout_error::<f32>("vectors_lockf"))?,
            ),
            None => w,
        })
    }
}

/// The learning-rate schedule and progress record of one epoch call
/// (`total_words` is the whole `train` call's expected raw words).
pub(crate) fn schedule(
    alpha: f32,
    min_alpha: f32,
    words_before: u64,
    total_words: u64,
) -> (Schedule, Progress) {
    let schedule = Schedule {
        alpha,
        min_alpha,
        words_before,
        total_words,
    };
    (schedule, Progress::new(total_words))
}
