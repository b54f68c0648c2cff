//! The one place where threads share mutable weights.
//!
//! Hogwild SGD (Recht et al., 2011), as the word2vec C tool and gensim do it:
//! every worker reads and writes rows of the shared matrices without locks.
//! Updates are sparse (a few rows per training pair), so collisions are rare
//! and lose at most one small gradient step.
//!
//! [`SharedMatrix`] wraps a row-major buffer of plain numbers (`f32` for
//! word2vec and Doc2Vec, `f32` or `f64` for Poincaré embeddings) lent to the
//! workers for the duration of training. Workers never get a `&mut` slice
//! into it: they only go through the methods below, which read and write
//! through raw pointers, one row at a time, and never form a Rust reference
//! into the shared buffer. Two threads may touch the same row at the same
//! moment; as in every Hogwild implementation, such a race can mix two
//! updates but cannot read or write outside the buffer, which is what the
//! bounds checks below guarantee.
//!
//! The type is crate-private: only the trainers, which accept the Hogwild
//! race on purpose, build one; the public APIs take `&mut` slices.

use std::marker::PhantomData;

use crate::linalg::MulAdd;

/// A row-major `rows x cols` matrix of `T` shared by Hogwild workers.
pub(crate) struct SharedMatrix<'a, T = f32> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    /// False for a matrix built by [`SharedMatrix::read_only`]: every
    /// write checks it (one predictable branch per row operation).
    writable: bool,
    _owner: PhantomData<&'a mut [T]>,
}

// SAFETY: the buffer is borrowed for 'a (see `new`), and during 'a it is only
// reached through this type's methods, which stay in bounds. `T` is a plain
// `Copy` number; concurrent element races are the intended Hogwild semantics
// (see module docs).
unsafe impl<T: Copy + Send> Send for SharedMatrix<'_, T> {}
// SAFETY: as above; `&SharedMatrix` only exposes bounds-checked row operations.
unsafe impl<T: Copy + Send> Sync for SharedMatrix<'_, T> {}

impl<'a, T: Copy> SharedMatrix<'a, T> {
    /// Shares `data` (length `rows * cols`) among workers for the lifetime `'a`.
    ///
    /// Fails with `InvalidArgument` if `data.len() != rows * cols` (checked
    /// arithmetic).
    ///
    /// # Safety
    /// The returned value is `Sync` and its safe methods read and write rows
    /// through raw pointers without synchronisation: two threads touching the
    /// same row at once form a data race on plain `f32`s, which Rust's memory
    /// model counts as undefined behaviour. Hogwild SGD accepts such races on
    /// purpose (on the targeted hardware a racing float access is torn at
    /// worst to a mix of whole old and new values, never out of bounds).
    /// By calling this the caller takes responsibility for that choice: only
    /// share the value between threads that run Hogwild updates (or readers
    /// that tolerate mixed rows), and access `data` through nothing else
    /// while the value is in use, except such tolerant readers.
    pub(crate) unsafe fn new(data: &'a mut [T], rows: usize, cols: usize) -> crate::Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(crate::Error::invalid(format!(
                "a {rows} x {cols} matrix needs {} elements, the buffer has {}",
                rows as u128 * cols as u128,
                data.len()
            )));
        }
        Ok(SharedMatrix {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            writable: true,
            _owner: PhantomData,
        })
    }

    /// A matrix that is only read (a frozen model during inference): many
    /// threads may read `data` at once, and every write method panics
    /// instead of writing. Fails like [`SharedMatrix::new`] on a size mismatch.
    pub(crate) fn read_only(data: &'a [T], rows: usize, cols: usize) -> crate::Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(crate::Error::invalid(format!(
                "a {rows} x {cols} matrix needs {} elements, the buffer has {}",
                rows as u128 * cols as u128,
                data.len()
            )));
        }
        Ok(SharedMatrix {
            // Never written through: every write goes through `row_ptr_mut`,
            // which refuses when `writable` is false.
            ptr: data.as_ptr() as *mut T,
            rows,
            cols,
            writable: false,
            _owner: PhantomData,
        })
    }

    /// True unless built by [`SharedMatrix::read_only`].
    #[inline(always)]
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Number of rows.
    #[inline(always)]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row length.
    #[inline(always)]
    pub fn cols(&self) -> usize {
        self.cols
    }

    #[inline(always)]
    fn row_ptr(&self, row: usize) -> *mut T {
        assert!(row < self.rows, "row {row} out of range {}", self.rows);
        // SAFETY: row < rows, so the offset row*cols stays within the
        // allocation of rows*cols elements checked in `new`.
        unsafe { self.ptr.add(row * self.cols) }
    }

    #[inline(always)]
    fn row_ptr_mut(&self, row: usize) -> *mut T {
        assert!(self.writable, "write to a read-only shared matrix");
        self.row_ptr(row)
    }

    /// Asks the CPU to start loading row `row` into cache (a hint: no
    /// effect on results; ignored for out-of-range rows and on other
    /// architectures). Trainers call it for rows they will need a few
    /// steps later, hiding the memory latency of random row access.
    ///
    /// Of a row wider than [`PREFETCH_ROW_MAX`] values only that many are
    /// asked for; the CPU's stream prefetcher fetches the rest once the
    /// row is read in order.
    #[inline(always)]
    pub fn prefetch_row(&self, row: usize) {
        self.prefetch_row_as::<false>(row)
    }

    /// [`SharedMatrix::prefetch_row`] for a row that will be written soon
    /// (an output row of the next example): the lines are asked for in
    /// exclusive state, so that the update does not wait for the other
    /// cores to give up their copies. Measured on 4M tokens with 2 workers
    /// (`benches/RESULTS.md`, "Output rows prefetched for writing"):
    /// skip-gram HS, CBOW HS and CBOW NS 1.03-1.06x; skip-gram NS, whose
    /// window update reads each output row long before it writes it,
    /// unchanged, as were the input rows.
    #[inline(always)]
    pub fn prefetch_row_for_write(&self, row: usize) {
        self.prefetch_row_as::<true>(row)
    }

    /// [`SharedMatrix::prefetch_row`], for writing when `WRITE`.
    #[inline(always)]
    fn prefetch_row_as<const WRITE: bool>(&self, row: usize) {
        if row < self.rows {
            let n = self.cols.min(PREFETCH_ROW_MAX);
            let p = self.ptr.wrapping_add(row * self.cols);
            if WRITE {
                crate::mem::prefetch_span_write(p, n);
            } else {
                crate::mem::prefetch_span(p, n);
            }
        }
    }

    /// Copies row `row` into `out` (length `cols`).
    #[inline(always)]
    pub fn read_row(&self, row: usize, out: &mut [T]) {
        let p = self.row_ptr(row);
        let n = self.cols.min(out.len());
        // SAFETY: `p` points at `cols` valid f32s (row_ptr's bound check);
        // `out` is a distinct, thread-local buffer, so the ranges cannot
        // overlap. A concurrent Hogwild write may be observed half-applied,
        // which the algorithm tolerates.
        unsafe { std::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), n) }
    }

    /// Reads row `row` element by element, converted by `f`, into `out`.
    #[inline(always)]
    pub fn read_row_as<U>(&self, row: usize, out: &mut [U], f: impl Fn(T) -> U) {
        let p = self.row_ptr(row);
        let n = self.cols.min(out.len());
        for (i, o) in out[..n].iter_mut().enumerate() {
            // SAFETY: i < n <= cols, inside the row (row_ptr's bound check);
            // read by value, so no reference into the shared buffer is formed.
            // A racing write may be seen half-applied, which Hogwild tolerates.
            *o = f(unsafe { p.add(i).read() });
        }
    }

    /// Overwrites row `row` with `src`, converted by `f`.
    #[inline(always)]
    pub fn write_row_as<U: Copy>(&self, row: usize, src: &[U], f: impl Fn(U) -> T) {
        let p = self.row_ptr_mut(row);
        let n = self.cols.min(src.len());
        for (i, &s) in src[..n].iter().enumerate() {
            // SAFETY: i < n <= cols, inside the row. No reference to the
            // element is formed; a racing writer may overwrite it (Hogwild).
            unsafe { p.add(i).write(f(s)) };
        }
    }
}

/// Values of a row that [`SharedMatrix::prefetch_row`] asks for: 256
/// `f32`s, 1 KiB, 16 cache lines, so rows of up to 256 dimensions are
/// prefetched whole. A wider row (PV-DM with `dm_concat`: 1,100 floats at
/// 100 dimensions and window 5) is asked for only this far. Each prefetch
/// needs a free line-fill buffer, of which a core has about 16, so asking
/// for all 69 lines of each of an example's six output rows stalled the
/// thread at the prefetch instructions until most had arrived (perf put
/// 56% of the job loop's samples there); the first lines start the
/// hardware's stream prefetcher instead. Measured in `benches/RESULTS.md`
/// ("PV-DM concat: the start of each row prefetched").
pub const PREFETCH_ROW_MAX: usize = 256;

/// Most rows [`SharedMatrix::gather_dots`] and
/// [`SharedMatrix::gather_axpy`] take at once.
pub const GATHER: usize = 8;

/// The float32 arithmetic of the word2vec family, fused with the row access.
impl SharedMatrix<'_, f32> {
    /// Dot product of row `row` with `x` (the same kernel, and so the same
    /// value, as [`crate::linalg::dot_with`] for the same `M`). The
    /// training loops score rows in blocks (`gather_dots`); the tests read
    /// single rows with this.
    #[cfg(test)]
    pub fn dot_row<M: MulAdd>(&self, row: usize, x: &[f32]) -> f32 {
        let p = self.row_ptr(row);
        let n = self.cols.min(x.len());
        // SAFETY: `p` points at `cols` >= n valid floats (row_ptr's bound
        // check) and `x` holds n. A racing Hogwild write may be seen
        // half-applied, which the algorithm tolerates. `M`'s instruction
        // set was checked by the job loop that chose it.
        unsafe { M::dot_raw(p, x.as_ptr(), n) }
    }

    /// `row += a * x`.
    #[inline(always)]
    pub fn axpy_row<M: MulAdd>(&self, row: usize, a: f32, x: &[f32]) {
        let p = self.row_ptr_mut(row);
        let n = self.cols.min(x.len());
        // SAFETY: as in `dot_row`; `x` is thread-local, never an alias of
        // the shared matrix. A racing writer may lose this update (Hogwild).
        unsafe { M::axpy_raw(a, x.as_ptr(), p, n) }
    }

    /// `acc += Σ row r` over the rows `rows` yields (a context sum), up to
    /// [`GATHER`] rows per pass, so that each chunk of `acc` is loaded and
    /// stored once per pass rather than once per row.
    #[inline(always)]
    pub fn add_rows_to<M: MulAdd>(&self, rows: impl Iterator<Item = u32>, acc: &mut [f32]) {
        const ONES: [f32; GATHER] = [1.0; GATHER];
        let mut block = [0u32; GATHER];
        let mut k = 0;
        for r in rows {
            block[k] = r;
            k += 1;
            if k == GATHER {
                self.gather_axpy::<M>(&block, &ONES, acc);
                k = 0;
            }
        }
        if k > 0 {
            self.gather_axpy::<M>(&block[..k], &ONES, acc);
        }
    }

    /// The window step of row `row` against the `g.len()` rows of `h`
    /// (see [`crate::linalg::window_step`]).
    #[inline(always)]
    pub fn window_step_row<M: MulAdd, F: FnMut(f32) -> f32>(
        &self,
        row: usize,
        h: &[f32],
        gin: &mut [f32],
        g: &mut [f32],
        grad: F,
    ) {
        let p = self.row_ptr_mut(row);
        let d = self.cols;
        assert!(
            h.len() >= g.len() * d && gin.len() >= g.len() * d,
            "h or gin holds fewer than g.len() rows"
        );
        // SAFETY: `p` points at `cols` valid floats (row_ptr's bound check);
        // `h`, `gin` and `g` are thread-local buffers of the checked sizes,
        // never aliases of the shared matrix. Racing Hogwild writes may be
        // seen half-applied or lost. `M`'s instruction set was checked by
        // the job loop that chose it.
        unsafe { M::window_step_raw(p, h.as_ptr(), gin.as_mut_ptr(), d, g, grad) }
    }

    /// `acc += Σ_k g[k] row rows[k]` (at most [`GATHER`] rows).
    #[inline(always)]
    pub fn gather_axpy<M: MulAdd>(&self, rows: &[u32], g: &[f32], acc: &mut [f32]) {
        let mut ptrs = [std::ptr::null::<f32>(); GATHER];
        self.gather(rows, &mut ptrs);
        let d = self.cols;
        assert!(
            acc.len() >= d && g.len() >= rows.len(),
            "acc or g too short"
        );
        // SAFETY: as in `gather_dots`; `acc` is a thread-local buffer,
        // never an alias of the shared matrix.
        unsafe { M::gather_axpy_raw(&ptrs[..rows.len()], g, acc.as_mut_ptr(), d) }
    }

    /// The frozen-layer step over up to [`GATHER`] rows: `x[k] = row
    /// rows[k] · h`, then `grad(x)` turns the scores into scales `g` in
    /// place, then `acc += Σ_k g[k] row rows[k]`. The row pointers are
    /// looked up once for both passes.
    #[inline(always)]
    pub fn score_and_accumulate<M: MulAdd, F: FnOnce(&mut [f32])>(
        &self,
        rows: &[u32],
        h: &[f32],
        acc: &mut [f32],
        grad: F,
    ) {
        assert!(acc.len() >= self.cols, "acc too short");
        assert!(h.len() >= self.cols, "h too short");
        // SAFETY: `acc` is a thread-local buffer of at least `cols` floats,
        // never an alias of the shared matrix; `h` holds `cols` floats.
        unsafe { self.score_and_accumulate_raw::<M, F>(rows, h.as_ptr(), acc.as_mut_ptr(), grad) }
    }

    /// [`SharedMatrix::score_and_accumulate`] with the gradient added
    /// straight to row `row` of `dest` (another matrix, such as the document
    /// vectors: `acc` is that row). `h` must not be that row: the scores
    /// are all taken before the row changes only if `h` is a copy.
    #[inline(always)]
    pub fn score_into_row<M: MulAdd, F: FnOnce(&mut [f32])>(
        &self,
        rows: &[u32],
        h: &[f32],
        dest: &SharedMatrix<'_, f32>,
        row: usize,
        grad: F,
    ) {
        assert!(dest.cols >= self.cols, "destination rows too short");
        assert!(h.len() >= self.cols, "h too short");
        let acc = dest.row_ptr_mut(row);
        // SAFETY: `acc` starts a row of `dest.cols >= cols` floats
        // (row_ptr_mut's bound and writability checks). It may be written
        // by other Hogwild workers, as any shared row; it is read and
        // written through raw pointers only, so overlapping one of the
        // scored rows (which the callers never do: `dest` is another
        // matrix) would mix values, never form an aliased reference.
        unsafe { self.score_and_accumulate_raw::<M, F>(rows, h.as_ptr(), acc, grad) }
    }

    /// [`SharedMatrix::score_into_row`] where the input is row `row` of
    /// `dest` itself: all the scores are taken before the gradient is added
    /// to the row, so one block of rows needs no copy of it. (An example
    /// of several blocks must score every block with the same input: copy
    /// the row and use `score_into_row`.)
    #[inline(always)]
    pub fn score_into_own_row<M: MulAdd, F: FnOnce(&mut [f32])>(
        &self,
        rows: &[u32],
        dest: &SharedMatrix<'_, f32>,
        row: usize,
        grad: F,
    ) {
        assert!(dest.cols >= self.cols, "destination rows too short");
        let acc = dest.row_ptr_mut(row);
        // SAFETY: `acc` starts a row of `dest.cols >= cols` floats (bound
        // and writability checked); it is read (the scores) and then
        // written (the gradient) through raw pointers only, one after the
        // other inside the call, and no reference to it is formed.
        unsafe { self.score_and_accumulate_raw::<M, F>(rows, acc, acc, grad) }
    }

    /// The frozen-layer step with the gradient added at `acc`.
    ///
    /// # Safety
    /// `h` must be valid for reads and `acc` for reads and writes of `cols`
    /// floats; they may be the same row (the scores are all taken before
    /// `acc` is written), but `h` must not overlap `acc` otherwise.
    #[inline(always)]
    unsafe fn score_and_accumulate_raw<M: MulAdd, F: FnOnce(&mut [f32])>(
        &self,
        rows: &[u32],
        h: *const f32,
        acc: *mut f32,
        grad: F,
    ) {
        let n = rows.len();
        assert!(n <= GATHER, "at most {GATHER} rows at once");
        let d = self.cols;
        let mut ptrs = [std::ptr::null::<f32>(); GATHER];
        self.gather(rows, &mut ptrs);
        let mut g = [0.0f32; GATHER];
        // SAFETY: every pointer starts a row of `cols` floats (row_ptr's
        // bound check), `h` holds as many (this function's contract);
        // racing Hogwild writes may be seen half-applied. `M`'s instruction
        // set was checked by the job loop that chose it.
        unsafe { M::gather_dots_raw(&ptrs[..n], h, d, &mut g[..n]) };
        grad(&mut g[..n]);
        // SAFETY: as just above, and `acc` by this function's contract.
        unsafe { M::gather_axpy_raw(&ptrs[..n], &g[..n], acc, d) }
    }

    /// One example of a frozen model fused into one pass where `M` can
    /// (see [`MulAdd::frozen_step_raw`]): the input is row `row` of `dest`
    /// plus the rows `ctx_ids` (both halves of a window) of `ctx`, times
    /// `h_scale`; the output rows are `rows` of this matrix; their gradient
    /// goes to that row of `dest`. False, with nothing done, where `M` has
    /// no fused form.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn frozen_step<M: MulAdd, F: FnOnce(&mut [f32])>(
        &self,
        rows: &[u32],
        ctx: &SharedMatrix<'_, f32>,
        ctx_ids: [&[u32]; 2],
        h_scale: f32,
        dest: &SharedMatrix<'_, f32>,
        row: usize,
        grad: F,
    ) -> bool {
        assert!(
            dest.cols == self.cols && ctx.cols == self.cols,
            "input and output rows differ in width"
        );
        for &id in ctx_ids.iter().flat_map(|half| half.iter()) {
            assert!(
                (id as usize) < ctx.rows,
                "row {id} out of range {}",
                ctx.rows
            );
        }
        let n = rows.len();
        let mut ptrs = [std::ptr::null::<f32>(); GATHER];
        self.gather(rows, &mut ptrs);
        let acc = dest.row_ptr_mut(row);
        // SAFETY: every pointer of `ptrs` starts a row of `cols` floats
        // (row_ptr's bound check); `ctx` holds `ctx.rows` rows of `cols`
        // floats from its start, and every id of `ctx_ids` is below that
        // (checked just above); `acc` is a writable row of `dest` of as
        // many floats, in another matrix than the output rows. Racing
        // Hogwild writes to the input rows may be seen half-applied. `M`'s
        // instruction set was checked by the job loop that chose it.
        unsafe { M::frozen_step_raw(ctx.ptr, ctx_ids, h_scale, acc, &ptrs[..n], self.cols, grad) }
    }

    /// Start of row `row` for a kernel that updates it in place (bound and
    /// writability checked). What is done through the pointer is the
    /// caller's `unsafe` and follows this module's Hogwild contract.
    #[inline(always)]
    pub(crate) fn row_mut_ptr(&self, row: usize) -> *mut f32 {
        self.row_ptr_mut(row)
    }

    /// Start pointers of the rows `rows` (each bound-checked).
    #[inline(always)]
    fn gather(&self, rows: &[u32], ptrs: &mut [*const f32; GATHER]) {
        // filled in place: an array returned by value is copied with one
        // wide load right after eight narrow stores, which stalls
        assert!(rows.len() <= GATHER, "at most {GATHER} rows at once");
        for (p, &r) in ptrs.iter_mut().zip(rows) {
            *p = self.row_ptr(r as usize);
        }
    }

    /// Performs, for one output row, the negative-sampling/softmax update pair:
    /// `acc += g * row` then `row += g * x`, reading the row once (the
    /// training loops do this on raw rows, see `sgd`; kept for the tests).
    #[cfg(test)]
    pub fn accumulate_and_update<M: MulAdd>(&self, row: usize, g: f32, x: &[f32], acc: &mut [f32]) {
        let p = self.row_ptr_mut(row);
        let n = self.cols.min(x.len()).min(acc.len());
        // SAFETY: as in `dot_row`; `acc` and `x` are thread-local buffers,
        // never aliases of the shared matrix.
        unsafe { M::acc_update_raw(g, x.as_ptr(), p, acc.as_mut_ptr(), n) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::Unfused;
    use rayon::prelude::*;

    #[test]
    fn row_operations() {
        let mut data = vec![1.0f32; 6];
        let m = // SAFETY: the test's own threads are the only users of the buffer.
        unsafe { SharedMatrix::new(&mut data, 2, 3) }.unwrap();
        assert_eq!(m.dot_row::<Unfused>(1, &[1.0, 2.0, 3.0]), 6.0);
        m.axpy_row::<Unfused>(0, 2.0, &[1.0, 0.0, -1.0]);
        let mut out = [0.0; 3];
        m.read_row(0, &mut out);
        assert_eq!(out, [3.0, 1.0, -1.0]);
        let mut acc = [0.0; 3];
        m.accumulate_and_update::<Unfused>(1, 0.5, &[2.0, 2.0, 2.0], &mut acc);
        assert_eq!(acc, [0.5, 0.5, 0.5]);
        m.read_row(1, &mut out);
        assert_eq!(out, [2.0, 2.0, 2.0]);
    }

    /// A context sum of more rows than one pass takes, with a row repeated,
    /// equals the plain sum.
    #[test]
    fn add_rows_to_sums_any_number_of_rows() {
        let (rows, cols) = (5, 19);
        let mut data: Vec<f32> = (0..rows * cols).map(|i| (i % 7) as f32 - 3.0).collect();
        let want_rows = data.clone();
        let m = // SAFETY: the test is the only user of the buffer.
        unsafe { SharedMatrix::new(&mut data, rows, cols) }.unwrap();
        let ids = [4u32, 0, 2, 2, 1, 3, 4, 0, 1, 2, 3];
        assert!(ids.len() > GATHER);
        let mut acc = vec![0.5f32; cols];
        m.add_rows_to::<Unfused>(ids.iter().copied(), &mut acc);
        let mut want = vec![0.5f32; cols];
        for &r in &ids {
            for (w, v) in want.iter_mut().zip(&want_rows[r as usize * cols..]) {
                *w += v;
            }
        }
        assert_eq!(acc, want);
    }

    #[test]
    fn parallel_disjoint_rows_are_exact() {
        let rows = 64;
        let mut data = vec![0.0f32; rows * 16];
        {
            let m = // SAFETY: the test's own threads are the only users of the buffer.
        unsafe { SharedMatrix::new(&mut data, rows, 16) }.unwrap();
            (0..rows).into_par_iter().for_each(|r| {
                for _ in 0..100 {
                    m.axpy_row::<Unfused>(r, 1.0, &[1.0; 16]);
                }
            });
        }
        assert!(data.iter().all(|&v| v == 100.0));
    }

    #[test]
    #[should_panic(expected = "write to a read-only shared matrix")]
    fn read_only_matrices_refuse_writes() {
        let data = vec![1.0f32; 4];
        let m = SharedMatrix::read_only(&data, 2, 2).unwrap();
        assert!(!m.is_writable());
        assert_eq!(m.dot_row::<Unfused>(1, &[1.0, 2.0]), 3.0);
        m.axpy_row::<Unfused>(0, 1.0, &[1.0, 1.0]);
    }

    #[test]
    fn converted_reads_and_writes_of_f64_rows() {
        let mut data = vec![0.5f64, 0.25, 0.0, 0.0];
        let m = // SAFETY: the test's own thread is the only user of the buffer.
        unsafe { SharedMatrix::new(&mut data, 2, 2) }.unwrap();
        let mut out = [0.0f32; 2];
        m.read_row_as(0, &mut out, |x| x as f32);
        assert_eq!(out, [0.5, 0.25]);
        m.write_row_as(1, &[1.0f32, -2.0], f64::from);
        let mut back = [0.0f64; 2];
        m.read_row(1, &mut back);
        assert_eq!(back, [1.0, -2.0]);
    }

    #[test]
    #[should_panic(expected = "row 2 out of range 2")]
    fn out_of_range_row_panics_instead_of_corrupting() {
        let mut data = vec![0.0f32; 4];
        let m = // SAFETY: the test's own threads are the only users of the buffer.
        unsafe { SharedMatrix::new(&mut data, 2, 2) }.unwrap();
        m.dot_row::<Unfused>(2, &[1.0, 1.0]);
    }
}
