//! Hogwild access to the embedding matrix of a Poincaré model.
//!
//! The same contract as [`crate::hogwild::SharedMatrix`], generalised to an
//! `f32` or `f64` buffer ([`Real`]) and to the two operations Riemannian SGD
//! needs: read a row (widened to `f64`) and apply "subtract an update, then
//! project inside the ball" to a row. The buffer is exclusively borrowed for
//! the lifetime of a [`SharedRows`]; workers never hold a Rust reference into
//! it, only go through these bounds-checked methods, which read and write
//! element by element through a raw pointer. Two workers updating one row at
//! the same moment may interleave their writes (the accepted Hogwild race):
//! the row then holds a mix of two valid points, which the next projection
//! brings back inside the ball if needed.
//!
//! Such a race is a data race in Rust's memory model, so the type is
//! crate-private: only the Poincaré trainer, which accepts the Hogwild race
//! on purpose, can build one.

use std::marker::PhantomData;

use super::manifold::{project, Real};

/// A row-major `rows x cols` matrix of `T` shared by Hogwild workers.
pub(crate) struct SharedRows<'a, T: Real> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    _owner: PhantomData<&'a mut [T]>,
}

// SAFETY: the buffer is exclusively borrowed for 'a (see `new`); during 'a it
// is only reached through the bounds-checked methods below. Concurrent element
// races are the intended Hogwild semantics (module docs); `T` is a plain float.
unsafe impl<T: Real> Send for SharedRows<'_, T> {}
// SAFETY: as above; `&SharedRows` only exposes bounds-checked row operations.
unsafe impl<T: Real> Sync for SharedRows<'_, T> {}

impl<'a, T: Real> SharedRows<'a, T> {
    /// Shares `data` (length `rows * cols`) among workers for the lifetime `'a`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols` (a programming error of the crate,
    /// checked once here with checked arithmetic).
    pub fn new(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert_eq!(
            rows.checked_mul(cols),
            Some(data.len()),
            "SharedRows: wrong buffer size"
        );
        SharedRows {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            _owner: PhantomData,
        }
    }

    /// Row length.
    pub fn cols(&self) -> usize {
        self.cols
    }

    #[inline]
    fn row_ptr(&self, row: usize) -> *mut T {
        assert!(row < self.rows, "row {row} out of range {}", self.rows);
        // SAFETY: row < rows, so row*cols is within the rows*cols elements
        // of the allocation checked in `new`.
        unsafe { self.ptr.add(row * self.cols) }
    }

    /// Copies row `row`, widened to `f64`, into `out` (length `cols`).
    #[inline]
    pub fn read_row(&self, row: usize, out: &mut [f64]) {
        let p = self.row_ptr(row);
        let n = self.cols.min(out.len());
        for i in 0..n {
            // SAFETY: i < n <= cols, inside the row (row_ptr's bound check);
            // `out` is a thread-local buffer. A racing write may be seen
            // half-applied, which Hogwild tolerates.
            out[i] = unsafe { p.add(i).read() }.to_f64();
        }
    }

    /// `row ← proj(row − update)`, using `scratch` (length `cols`) as buffer.
    #[inline]
    pub fn sub_and_project(&self, row: usize, update: &[f64], epsilon: f64, scratch: &mut [f64]) {
        let p = self.row_ptr(row);
        let n = self.cols.min(update.len()).min(scratch.len());
        for i in 0..n {
            // SAFETY: i < n <= cols, inside the row; `scratch` is thread-local.
            scratch[i] = unsafe { p.add(i).read() }.to_f64() - update[i];
        }
        project(&mut scratch[..n], epsilon);
        for i in 0..n {
            // SAFETY: i < n <= cols, inside the row. No reference to the
            // element is formed; a racing writer may overwrite it (Hogwild).
            unsafe { p.add(i).write(T::from_f64(scratch[i])) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn read_update_project_f32_and_f64() {
        let mut d64 = vec![0.5f64, 0.0, 0.0, 0.1];
        {
            let m = SharedRows::new(&mut d64, 2, 2);
            let mut s = [0.0; 2];
            m.sub_and_project(0, &[-1.0, 0.0], 1e-5, &mut s);
            m.sub_and_project(1, &[0.0, 0.05], 1e-5, &mut s);
            let mut out = [0.0; 2];
            m.read_row(0, &mut out);
            assert!((out[0] - (1.0 - 1e-5)).abs() < 1e-12 && out[1] == 0.0);
        }
        assert!((d64[3] - 0.05).abs() < 1e-15);
        let mut d32 = vec![0.0f32; 4];
        let m = SharedRows::new(&mut d32, 2, 2);
        let mut s = [0.0; 2];
        m.sub_and_project(1, &[-0.25, 10.0], 1e-5, &mut s);
        let mut out = [0.0; 2];
        m.read_row(1, &mut out);
        assert!((out[0] * out[0] + out[1] * out[1]).sqrt() < 1.0);
    }

    #[test]
    fn parallel_disjoint_rows_are_exact() {
        let rows = 32;
        let mut data = vec![0.0f64; rows * 3];
        {
            let m = SharedRows::new(&mut data, rows, 3);
            (0..rows).into_par_iter().for_each(|r| {
                let mut s = [0.0; 3];
                for _ in 0..10 {
                    m.sub_and_project(r, &[-0.01, 0.01, 0.0], 1e-5, &mut s);
                }
            });
        }
        for r in 0..rows {
            assert!((data[3 * r] - 0.1).abs() < 1e-12 && (data[3 * r + 1] + 0.1).abs() < 1e-12);
        }
    }

    #[test]
    #[should_panic]
    fn out_of_range_row_panics_instead_of_corrupting() {
        let mut data = vec![0.0f64; 4];
        let m = SharedRows::new(&mut data, 2, 2);
        m.read_row(2, &mut [0.0; 2]);
    }
}
