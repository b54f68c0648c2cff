//! Dense float32 kernels used by every trainer: dot products, `y += a*x`,
//! scaling, and a tabulated logistic function.
//!
//! The portable loops are written so that LLVM autovectorises them
//! (independent accumulators, no early exits); they compile to SSE2 on any
//! x86-64 and to wider vectors inside functions compiled for more. The
//! word2vec job loops use the explicit SIMD kernels of [`simd`] instead
//! where the CPU has them.

mod simd;
pub use simd::{Avx2, Avx512};

/// Number of independent accumulators in [`dot`]: one AVX-512 register,
/// two AVX2 or four SSE registers. Fixed, so the summation order (and the
/// result) is the same whatever width the loop is compiled for.
pub const LANES: usize = 16;

/// Sum of [`LANES`] partial sums as a balanced tree (a left-to-right sum
/// would be a chain of 16 dependent additions).
///
/// The partial sums pass through [`std::hint::black_box`] first: without
/// that barrier LLVM's SLP vectoriser fuses this tree into the
/// accumulation loop and splits the 16 accumulators into 2-wide vectors
/// (measured: a 100-float dot ran 8 pairs of `xmm` multiplies instead of
/// whole `zmm`/`ymm` registers). With it the loop keeps full-width vectors
/// and the reduction costs one store and a few loads.
#[inline(always)]
pub fn hsum(a: &[f32; LANES]) -> f32 {
    let a = std::hint::black_box(*a);
    let mut b = [0.0f32; 8];
    for k in 0..8 {
        b[k] = a[k] + a[k + 8];
    }
    let mut c = [0.0f32; 4];
    for k in 0..4 {
        c[k] = b[k] + b[k + 4];
    }
    (c[0] + c[2]) + (c[1] + c[3])
}

/// How a kernel computes `a * b + c`.
///
/// The hot word2vec loops are generic over it so that one source serves
/// two builds: [`Fused`] in the copies compiled with the `fma` target
/// feature (one `vfmadd` instruction, one rounding) and [`Unfused`] in the
/// baseline copy, where `f32::mul_add` would call libm's software `fmaf`.
/// So every function between such a copy's entry point and these kernels
/// must be `#[inline(always)]`: one left out-of-line is compiled without
/// FMA and calls `fmaf` per element (seen once: `train_pairs` ran at a
/// quarter of its speed until `skipgram::train_pair` was inlined).
/// Measured (skip-gram HS, AVX-512, full benchmark vocabulary): a synthetic
/// inner loop went from about 41 to 33 ns per Huffman node, and one worker
/// on the benchmark corpus from 0.29-0.39M to 0.41-0.44M words/s; with two
/// workers on the 2-core test machine memory, not arithmetic, was the limit
/// and the difference was within noise.
///
/// The three row kernels are methods too, with the portable loops below as
/// defaults, so that a type can bring its own explicit SIMD version
/// ([`Avx512`], [`Avx2`]: see [`simd`]). They take raw pointers because
/// their rows may be shared Hogwild rows, which no reference may cover.
pub trait MulAdd: Sized {
    /// `a * b + c`.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;

    /// `Σ a[i] b[i]` over `i < n`.
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `n` floats, and the CPU must
    /// support the instructions the implementing type is compiled for.
    #[inline(always)]
    unsafe fn dot_raw(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut acc = [0.0f32; LANES];
        let chunks = n / LANES;
        for c in 0..chunks {
            for (k, s) in acc.iter_mut().enumerate() {
                let i = c * LANES + k;
                // SAFETY: i < chunks * LANES <= n (the caller's contract).
                *s = Self::mul_add(unsafe { a.add(i).read() }, unsafe { b.add(i).read() }, *s);
            }
        }
        let mut s = 0.0f32;
        for i in chunks * LANES..n {
            // SAFETY: i < n.
            s = Self::mul_add(unsafe { a.add(i).read() }, unsafe { b.add(i).read() }, s);
        }
        s + hsum(&acc)
    }

    /// `y[i] += a x[i]` for `i < n`.
    ///
    /// # Safety
    /// `x` must be valid for reads and `y` for reads and writes of `n`
    /// floats, and the CPU must support the implementing type's
    /// instructions.
    #[inline(always)]
    unsafe fn axpy_raw(a: f32, x: *const f32, y: *mut f32, n: usize) {
        for i in 0..n {
            // SAFETY: i < n (the caller's contract).
            unsafe {
                let q = y.add(i);
                q.write(Self::mul_add(a, x.add(i).read(), q.read()));
            }
        }
    }

    /// The output-row update of word2vec: `acc[i] += g row[i]`, then
    /// `row[i] += g x[i]`, reading `row` once.
    ///
    /// # Safety
    /// `x` must be valid for reads, `row` and `acc` for reads and writes of
    /// `n` floats, `acc` must not overlap `row` or `x`, and the CPU must
    /// support the implementing type's instructions.
    #[inline(always)]
    unsafe fn acc_update_raw(g: f32, x: *const f32, row: *mut f32, acc: *mut f32, n: usize) {
        for i in 0..n {
            // SAFETY: i < n (the caller's contract).
            unsafe {
                let v = row.add(i).read();
                let s = acc.add(i);
                s.write(Self::mul_add(g, v, s.read()));
                row.add(i).write(Self::mul_add(g, x.add(i).read(), v));
            }
        }
    }

    /// [`MulAdd::acc_update_raw`] for the distinct rows `rows` in turn, with
    /// scales `g`: `acc += g[k] rows[k]` then `rows[k] += g[k] x`, for `k`
    /// in order. The SIMD versions keep each chunk of `acc` in a register
    /// across the rows instead of storing and reloading it per row; the
    /// result is the same, bit for bit (the same operations in the same
    /// order per element).
    ///
    /// # Safety
    /// Every pointer of `rows` must be valid for reads and writes of `d`
    /// floats, the rows must be pairwise disjoint and overlap neither `acc`
    /// nor `x` (valid for `d` floats each), `g` at least as long as `rows`,
    /// and the CPU must support the implementing type's instructions.
    #[inline(always)]
    unsafe fn gather_acc_update_raw(
        rows: &[*mut f32],
        g: &[f32],
        x: *const f32,
        acc: *mut f32,
        d: usize,
    ) {
        for (&r, &gk) in rows.iter().zip(g) {
            // SAFETY: the caller's contract.
            unsafe { Self::acc_update_raw(gk, x, r, acc, d) };
        }
    }

    /// The dot products of one output row `u` (`d` floats) with the `c =
    /// x.len()` input rows stored one after another at `h` (`c x d`):
    /// `x[j] = Σ_i h[j d + i] u[i]`.
    ///
    /// # Safety
    /// `u` must be valid for reads of `d` floats and `h` of `c d` floats,
    /// and the CPU must support the implementing type's instructions.
    #[inline(always)]
    unsafe fn dots_raw(u: *const f32, h: *const f32, d: usize, x: &mut [f32]) {
        for (j, xj) in x.iter_mut().enumerate() {
            // SAFETY: row j of `h` lies within its c * d floats.
            *xj = unsafe { Self::dot_raw(h.add(j * d), u, d) };
        }
    }

    /// The window update of one output row `u` against the `c = g.len()`
    /// input rows at `h` (`c x d`) with gradient scales `g`: for every
    /// `j`, `gin_j += g[j] u` with `u` as it was before this call, then
    /// `u += Σ_j g[j] h_j`. Rows with `g[j] == 0` are skipped.
    ///
    /// # Safety
    /// `u` must be valid for reads and writes of `d` floats, `h` for reads
    /// and `gin` for reads and writes of `c d` floats, `gin` must not
    /// overlap `u` or `h`, and the CPU must support the implementing type's
    /// instructions.
    #[inline(always)]
    unsafe fn window_update_raw(u: *mut f32, h: *const f32, gin: *mut f32, g: &[f32], d: usize) {
        let mut k0 = 0;
        while k0 < d {
            let w = LANES.min(d - k0);
            let (mut uk, mut du) = ([0.0f32; LANES], [0.0f32; LANES]);
            for (t, v) in uk[..w].iter_mut().enumerate() {
                // SAFETY: k0 + t < d.
                *v = unsafe { u.add(k0 + t).read() };
            }
            for (j, &gj) in g.iter().enumerate() {
                if gj == 0.0 {
                    continue;
                }
                for t in 0..w {
                    let at = j * d + k0 + t;
                    // SAFETY: at < c * d, inside `h` and `gin`.
                    unsafe {
                        let q = gin.add(at);
                        q.write(Self::mul_add(gj, uk[t], q.read()));
                        du[t] = Self::mul_add(gj, h.add(at).read(), du[t]);
                    }
                }
            }
            for t in 0..w {
                // SAFETY: k0 + t < d.
                unsafe { u.add(k0 + t).write(uk[t] + du[t]) };
            }
            k0 += w;
        }
    }

    /// The whole window step of one output row `u` (`d` floats) against
    /// the `c` input rows at `h`: for each row `j`, `x = h_j · u` with `u`
    /// as it was before this call, `g = grad(x)` (0 skips the row),
    /// `gin_j += g u`; finally `u += Σ_j g h_j`. Rows are visited in order,
    /// so `grad` may accumulate a loss. `g` is scratch for `c` scales.
    ///
    /// # Safety
    /// As for [`MulAdd::window_update_raw`], with `g.len() >= c`.
    #[inline(always)]
    unsafe fn window_step_raw<F: FnMut(f32) -> f32>(
        u: *mut f32,
        h: *const f32,
        gin: *mut f32,
        d: usize,
        g: &mut [f32],
        mut grad: F,
    ) {
        // SAFETY: the caller's contract covers both steps.
        unsafe { Self::dots_raw(u, h, d, g) };
        let mut any = false;
        for v in g.iter_mut() {
            *v = grad(*v);
            any |= *v != 0.0;
        }
        if any {
            // SAFETY: as above.
            unsafe { Self::window_update_raw(u, h, gin, g, d) };
        }
    }

    /// The dot products of `h` (`d` floats) with the rows at `rows`:
    /// `x[k] = rows[k] · h` for `k < rows.len()` (`x` at least as long).
    ///
    /// # Safety
    /// Every pointer of `rows` and `h` must be valid for reads of `d`
    /// floats, and the CPU must support the implementing type's
    /// instructions.
    #[inline(always)]
    unsafe fn gather_dots_raw(rows: &[*const f32], h: *const f32, d: usize, x: &mut [f32]) {
        for (&r, xk) in rows.iter().zip(x.iter_mut()) {
            // SAFETY: the caller's contract.
            *xk = unsafe { Self::dot_raw(r, h, d) };
        }
    }

    /// The widest rows [`MulAdd::frozen_step_raw`] takes in one pass (0:
    /// it has no fused form), so that callers skip preparing a step the
    /// kernel would decline.
    const FROZEN_STEP_MAX_DIM: usize = 0;

    /// One example of a frozen model in one pass, where the implementing
    /// type has a fused form (it returns false, doing nothing, where it has
    /// none, or for rows wider than [`MulAdd::FROZEN_STEP_MAX_DIM`]; the
    /// caller then takes the step by parts). The context rows are rows `ctx_ids` (two
    /// lists: both halves of a window) of the matrix at `ctx`, `d` floats
    /// apart. With `h = (row + Σ context rows) * h_scale`:
    /// `x[k] = outs[k] · h`, then `grad(x)` turns the scores into gradient
    /// scales in place, then `row += Σ_k x[k] outs[k]`. Inference's input
    /// (the document's vector plus the context rows) is built and kept in
    /// registers instead of a buffer written, read back and scaled.
    ///
    /// # Safety
    /// `ctx + id * d` for every id of `ctx_ids` and every pointer of `outs`
    /// must be valid for reads, and `row` for reads and writes, of `d`
    /// floats; `row` must not overlap any of them; `outs` holds at most 8
    /// rows; and the CPU must support the implementing type's instructions.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn frozen_step_raw<F: FnOnce(&mut [f32])>(
        _ctx: *const f32,
        _ctx_ids: [&[u32]; 2],
        _h_scale: f32,
        _row: *mut f32,
        _outs: &[*const f32],
        _d: usize,
        _grad: F,
    ) -> bool {
        false
    }

    /// `acc += Σ_k g[k] rows[k]` over `k < rows.len()`.
    ///
    /// # Safety
    /// Every pointer of `rows` must be valid for reads and `acc` for reads
    /// and writes of `d` floats, `acc` must not overlap any row, and the
    /// CPU must support the implementing type's instructions.
    #[inline(always)]
    unsafe fn gather_axpy_raw(rows: &[*const f32], g: &[f32], acc: *mut f32, d: usize) {
        for (&r, &gk) in rows.iter().zip(g) {
            // SAFETY: the caller's contract.
            unsafe { Self::axpy_raw(gk, r, acc, d) };
        }
    }
}

/// `a * b + c` with a single rounding (use only where the `fma` target
/// feature is enabled).
#[derive(Clone, Copy, Debug)]
pub struct Fused;

/// `a * b + c` as a multiply and an add (any CPU).
#[derive(Clone, Copy, Debug)]
pub struct Unfused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl MulAdd for Unfused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// Dot product of two slices (over the shorter length).
///
/// Accumulates in [`LANES`] independent lanes over whole chunks, so LLVM
/// emits vector multiplies and adds without bounds checks.
///
/// ```
/// assert_eq!(embedrs::linalg::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
/// ```
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_with::<Unfused>(a, b)
}

/// [`dot`] with the kernels of `M`.
#[inline(always)]
pub fn dot_with<M: MulAdd>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    // SAFETY: both slices hold at least n floats; `M`'s instructions are
    // the caller's choice (its job loop checked the CPU).
    unsafe { M::dot_raw(a.as_ptr(), b.as_ptr(), n) }
}

/// `y += a * x`.
///
/// ```
/// use embedrs::linalg::{axpy, Unfused};
/// let mut y = [1.0f32, 1.0];
/// axpy::<Unfused>(2.0, &[1.0, 2.0], &mut y);
/// assert_eq!(y, [3.0, 5.0]);
/// ```
#[inline(always)]
pub fn axpy<M: MulAdd>(a: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    // SAFETY: both slices hold at least n floats and cannot overlap (one
    // is borrowed mutably).
    unsafe { M::axpy_raw(a, x.as_ptr(), y.as_mut_ptr(), n) }
}

/// The output-row update of word2vec on a plain slice: `acc += g * row`,
/// then `row += g * x`, reading `row` once (see
/// [`crate::hogwild::SharedMatrix::accumulate_and_update`] for shared rows).
#[inline(always)]
pub fn accumulate_and_update<M: MulAdd>(g: f32, x: &[f32], row: &mut [f32], acc: &mut [f32]) {
    let n = row.len().min(x.len()).min(acc.len());
    // SAFETY: all three hold at least n floats; `row` and `acc` are
    // borrowed mutably, so nothing overlaps them.
    unsafe { M::acc_update_raw(g, x.as_ptr(), row.as_mut_ptr(), acc.as_mut_ptr(), n) }
}

/// The window step of the output row `u` against the `g.len()` rows of
/// `h`, gradients for those rows added to `gin` (see
/// [`MulAdd::window_step_raw`]).
#[inline(always)]
pub fn window_step<M: MulAdd, F: FnMut(f32) -> f32>(
    u: &mut [f32],
    h: &[f32],
    gin: &mut [f32],
    g: &mut [f32],
    grad: F,
) {
    let d = u.len();
    assert!(
        h.len() >= g.len() * d && gin.len() >= g.len() * d,
        "h or gin holds fewer than g.len() rows"
    );
    // SAFETY: the lengths were checked just above; `u`, `gin` and `g` are
    // borrowed mutably, so nothing overlaps them.
    unsafe { M::window_step_raw(u.as_mut_ptr(), h.as_ptr(), gin.as_mut_ptr(), d, g, grad) }
}

/// `x *= a`.
#[inline(always)]
pub fn scale(a: f32, x: &mut [f32]) {
    for v in x.iter_mut() {
        *v *= a;
    }
}

/// Euclidean norm.
#[inline(always)]
pub fn norm(x: &[f32]) -> f32 {
    dot(x, x).sqrt()
}

/// The logistic function tabulated on `[-MAX_EXP, MAX_EXP]`, as the word2vec
/// C tool does; outside that range callers clip (see [`SigmoidTable::get`]).
pub struct SigmoidTable {
    table: Vec<f32>,
}

/// Half-width of the tabulated range.
pub const MAX_EXP: f32 = 6.0;
const TABLE_SIZE: usize = 1000;

impl Default for SigmoidTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SigmoidTable {
    /// Builds the table (1000 entries).
    pub fn new() -> Self {
        let table = (0..TABLE_SIZE)
            .map(|i| {
                let x = (i as f32 / TABLE_SIZE as f32 * 2.0 - 1.0) * MAX_EXP;
                let e = x.exp();
                e / (e + 1.0)
            })
            .collect();
        SigmoidTable { table }
    }

    /// Entry `i` of the table (clamped to the last): sigma at
    /// `(i / 1000 * 2 - 1) * MAX_EXP`.
    #[inline(always)]
    pub fn entry(&self, i: usize) -> f32 {
        self.table[i.min(TABLE_SIZE - 1)]
    }

    /// sigma(x), clipped to 0 below `-MAX_EXP` and 1 above `MAX_EXP`.
    #[inline(always)]
    pub fn get(&self, x: f32) -> f32 {
        if x <= -MAX_EXP {
            0.0
        } else if x >= MAX_EXP {
            1.0
        } else {
            // in (0, 1000) here (NaN converts to 0): a 32-bit conversion
            // is one instruction, a float-to-usize one a dozen
            let idx = ((x + MAX_EXP) * (TABLE_SIZE as f32 / MAX_EXP / 2.0)) as i32 as usize;
            self.table[idx.min(TABLE_SIZE - 1)]
        }
    }

    /// log sigma(x), computed exactly (used only for the reported loss).
    #[inline(always)]
    pub fn log_sigmoid(x: f32) -> f32 {
        if x > 0.0 {
            -(-x).exp().ln_1p()
        } else {
            x - x.exp().ln_1p()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_on_odd_lengths() {
        for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 31, 100, 300] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    /// The fused kernels compute the same quantities as the plain ones,
    /// up to rounding (so either copy of the word2vec loop trains alike).
    #[test]
    fn fused_kernels_match_unfused_up_to_rounding() {
        for n in [1usize, 17, 100, 300] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let (f, u) = (dot_with::<Fused>(&a, &b), dot_with::<Unfused>(&a, &b));
            assert!((f - u).abs() <= 1e-5 * (1.0 + u.abs()), "n={n}: {f} vs {u}");
            let (mut rf, mut ru) = (b.clone(), b.clone());
            let (mut af, mut au) = (vec![0.5f32; n], vec![0.5f32; n]);
            accumulate_and_update::<Fused>(0.3, &a, &mut rf, &mut af);
            accumulate_and_update::<Unfused>(0.3, &a, &mut ru, &mut au);
            for i in 0..n {
                assert!((rf[i] - ru[i]).abs() < 1e-6 && (af[i] - au[i]).abs() < 1e-6);
                assert!((ru[i] - (b[i] + 0.3 * a[i])).abs() < 1e-6);
                assert!((au[i] - (0.5 + 0.3 * b[i])).abs() < 1e-6);
            }
            let mut y = vec![1.0f32; n];
            axpy::<Fused>(2.0, &a, &mut y);
            assert!(y
                .iter()
                .zip(&a)
                .all(|(y, a)| (y - (1.0 + 2.0 * a)).abs() < 1e-6));
        }
    }

    #[test]
    fn sigmoid_table_is_close_to_exact() {
        let t = SigmoidTable::new();
        for i in -59..60 {
            let x = i as f32 * 0.1;
            let exact = 1.0 / (1.0 + (-x).exp());
            assert!((t.get(x) - exact).abs() < 0.01, "x={x}");
        }
        assert_eq!(t.get(7.0), 1.0);
        assert_eq!(t.get(-7.0), 0.0);
    }

    #[test]
    fn log_sigmoid_is_stable() {
        assert!((SigmoidTable::log_sigmoid(0.0) - (0.5f32).ln()).abs() < 1e-6);
        assert!(SigmoidTable::log_sigmoid(-100.0).is_finite());
        assert!(SigmoidTable::log_sigmoid(100.0) <= 0.0);
    }
}
