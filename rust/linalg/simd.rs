//! Explicit SIMD versions of the three row kernels the word2vec family
//! spends its time in: a dot product, `y += a x`, and the output-row update
//! `acc += g row; row += g x`.
//!
//! The portable loops in the parent module leave the vectorising to LLVM.
//! For the short rows of word2vec (100 floats is typical) that costs more
//! than the arithmetic: each call computes trip counts, checks for
//! aliasing, runs a 16-wide main loop and then 4-wide and scalar remainder
//! loops, and stores its partial sums to the stack for the horizontal sum.
//! A callgrind profile of `infer_vector` counted about 420 instructions per
//! output row, of which about 85 were vector arithmetic. These kernels do
//! the main part in whole registers and the tail in one partial step (AVX-512) or
//! one 4-wide step and at most three scalar ones (AVX2), with two accumulators for the dot product
//! so that consecutive multiply-adds do not wait on each other.
//!
//! Each kernel is an `unsafe` function compiled for its instruction set
//! (`#[target_feature]`), reached only through [`Avx512`] and [`Avx2`],
//! whose use the job loops select after checking the CPU (see
//! `w2v::engine::train_job`). They read and write through raw pointers
//! because the rows may be shared Hogwild rows (see `crate::hogwild`).

use super::MulAdd;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The kernels for CPUs with AVX-512F (16 floats per register, partial tails, see `load_first`).
///
/// Use only in code compiled with the `avx512f` and `fma` target features
/// and entered after checking the CPU has them.
#[derive(Clone, Copy, Debug)]
pub struct Avx512;

/// The kernels for CPUs with AVX2 and FMA (8 floats per register).
///
/// Use only in code compiled with the `avx2` and `fma` target features and
/// entered after checking the CPU has them.
#[derive(Clone, Copy, Debug)]
pub struct Avx2;

#[cfg(target_arch = "x86_64")]
impl MulAdd for Avx512 {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }

    #[inline(always)]
    unsafe fn dot_raw(a: *const f32, b: *const f32, n: usize) -> f32 {
        // SAFETY: forwarded contract (valid reads of n floats); the caller
        // runs on a CPU with AVX-512F (the type's contract).
        unsafe { dot512(a, b, n) }
    }

    #[inline(always)]
    unsafe fn axpy_raw(a: f32, x: *const f32, y: *mut f32, n: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { axpy512(a, x, y, n) }
    }

    #[inline(always)]
    unsafe fn acc_update_raw(g: f32, x: *const f32, row: *mut f32, acc: *mut f32, n: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { acc_update512(g, x, row, acc, n) }
    }

    #[inline(always)]
    unsafe fn dots_raw(u: *const f32, h: *const f32, d: usize, x: &mut [f32]) {
        // SAFETY: as for `dot_raw`.
        unsafe { dots512(u, h, d, x) }
    }

    #[inline(always)]
    unsafe fn window_update_raw(u: *mut f32, h: *const f32, gin: *mut f32, g: &[f32], d: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { window_update512(u, h, gin, g, d) }
    }

    #[inline(always)]
    unsafe fn gather_dots_raw(rows: &[*const f32], h: *const f32, d: usize, x: &mut [f32]) {
        // SAFETY: as for `dot_raw`.
        unsafe { gather_dots512(rows, h, d, x) }
    }

    #[inline(always)]
    unsafe fn gather_axpy_raw(rows: &[*const f32], g: &[f32], acc: *mut f32, d: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { gather_axpy512(rows, g, acc, d) }
    }

    /// Eight 16-float chunks of `h`, with the scores' four chains and the
    /// row's chunks, fit the 32 vector registers.
    const FROZEN_STEP_MAX_DIM: usize = 128;

    #[inline(always)]
    unsafe fn frozen_step_raw<F: FnOnce(&mut [f32])>(
        ctx: *const f32,
        ctx_ids: [&[u32]; 2],
        h_scale: f32,
        row: *mut f32,
        outs: &[*const f32],
        d: usize,
        grad: F,
    ) -> bool {
        let args = (ctx, ctx_ids, h_scale, row, outs, d);
        // SAFETY (each arm): the caller's contract; `C` chunks of 16 cover d.
        unsafe {
            match d.div_ceil(16) {
                1 => frozen_step512::<1, F>(args, grad),
                2 => frozen_step512::<2, F>(args, grad),
                3 => frozen_step512::<3, F>(args, grad),
                4 => frozen_step512::<4, F>(args, grad),
                5 => frozen_step512::<5, F>(args, grad),
                6 => frozen_step512::<6, F>(args, grad),
                7 => frozen_step512::<7, F>(args, grad),
                8 => frozen_step512::<8, F>(args, grad),
                _ => return false,
            }
        }
        true
    }

    #[inline(always)]
    unsafe fn gather_acc_update_raw(
        rows: &[*mut f32],
        g: &[f32],
        x: *const f32,
        acc: *mut f32,
        d: usize,
    ) {
        // SAFETY: as for `dot_raw`.
        unsafe { gather_acc_update512(rows, g, x, acc, d) }
    }
}

#[cfg(target_arch = "x86_64")]
impl MulAdd for Avx2 {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }

    #[inline(always)]
    unsafe fn dot_raw(a: *const f32, b: *const f32, n: usize) -> f32 {
        // SAFETY: forwarded contract; the caller runs on a CPU with AVX2
        // and FMA (the type's contract).
        unsafe { dot256(a, b, n) }
    }

    #[inline(always)]
    unsafe fn axpy_raw(a: f32, x: *const f32, y: *mut f32, n: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { axpy256(a, x, y, n) }
    }

    #[inline(always)]
    unsafe fn acc_update_raw(g: f32, x: *const f32, row: *mut f32, acc: *mut f32, n: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { acc_update256(g, x, row, acc, n) }
    }

    #[inline(always)]
    unsafe fn dots_raw(u: *const f32, h: *const f32, d: usize, x: &mut [f32]) {
        // SAFETY: as for `dot_raw`.
        unsafe { dots256(u, h, d, x) }
    }

    #[inline(always)]
    unsafe fn window_update_raw(u: *mut f32, h: *const f32, gin: *mut f32, g: &[f32], d: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { window_update256(u, h, gin, g, d) }
    }

    #[inline(always)]
    unsafe fn gather_dots_raw(rows: &[*const f32], h: *const f32, d: usize, x: &mut [f32]) {
        // SAFETY: as for `dot_raw`.
        unsafe { gather_dots256(rows, h, d, x) }
    }

    #[inline(always)]
    unsafe fn gather_axpy_raw(rows: &[*const f32], g: &[f32], acc: *mut f32, d: usize) {
        // SAFETY: as for `dot_raw`.
        unsafe { gather_axpy256(rows, g, acc, d) }
    }

    #[inline(always)]
    unsafe fn gather_acc_update_raw(
        rows: &[*mut f32],
        g: &[f32],
        x: *const f32,
        acc: *mut f32,
        d: usize,
    ) {
        // SAFETY: as for `dot_raw`.
        unsafe { gather_acc_update256(rows, g, x, acc, d) }
    }
}

/// `$f::<N>(args)` for `N = $n` in `1..=8` (nothing for 0): the row-count
/// dispatch of the `N`-row kernels.
#[cfg(target_arch = "x86_64")]
macro_rules! with_row_count {
    ($n:expr, $f:ident($($arg:expr),*)) => {
        match $n {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            _ => {}
        }
    };
}

/// The first `r` floats at `p` (all 16 when `r >= 16`), the other lanes
/// zero. Whole chunks and the tails of 8 or 4 floats (rows of 100 or 200
/// floats end in one) are plain loads, which the CPU can forward from
/// an earlier store of the same width; a masked load after a store to the
/// same place waits for the store to reach the cache. Other tails are
/// masked. Same values either way.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn load_first(p: *const f32, r: usize) -> __m512 {
    // SAFETY: the caller's contract: `min(r, 16)` floats are readable at `p`.
    unsafe {
        match r {
            16.. => _mm512_loadu_ps(p),
            8 => _mm512_zextps256_ps512(_mm256_loadu_ps(p)),
            4 => _mm512_zextps128_ps512(_mm_loadu_ps(p)),
            _ => _mm512_maskz_loadu_ps(tail_mask(r), p),
        }
    }
}

/// Stores the first `r` lanes of `v` at `p` (all 16 when `r >= 16`), as
/// [`load_first`] loads them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store_first(p: *mut f32, r: usize, v: __m512) {
    // SAFETY: the caller's contract: `min(r, 16)` floats are writable at `p`.
    unsafe {
        match r {
            16.. => _mm512_storeu_ps(p, v),
            8 => _mm256_storeu_ps(p, _mm512_castps512_ps256(v)),
            4 => _mm_storeu_ps(p, _mm512_castps512_ps128(v)),
            _ => _mm512_mask_storeu_ps(p, tail_mask(r), v),
        }
    }
}

/// Lanes `0..r` of a 16-lane mask (`r < 16`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tail_mask(r: usize) -> __mmask16 {
    ((1u32 << r) - 1) as __mmask16
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn dot512(a: *const f32, b: *const f32, n: usize) -> f32 {
    let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY (every access below): i + 16 <= n for the whole loads, and the
    // tail load touches only lanes below n - i (`load_first`: other lanes are
    // neither read nor able to fault).
    unsafe {
        while i + 32 <= n {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)), s0);
            s1 = _mm512_fmadd_ps(
                _mm512_loadu_ps(a.add(i + 16)),
                _mm512_loadu_ps(b.add(i + 16)),
                s1,
            );
            i += 32;
        }
        if i + 16 <= n {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)), s0);
            i += 16;
        }
        if i < n {
            s1 = _mm512_fmadd_ps(load_first(a.add(i), n - i), load_first(b.add(i), n - i), s1);
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(s0, s1))
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn axpy512(a: f32, x: *const f32, y: *mut f32, n: usize) {
    let va = _mm512_set1_ps(a);
    let mut i = 0;
    // SAFETY (every access): whole vectors only while i + 16 <= n; the
    // tail touches only the lanes below n - i (`load_first`, `store_first`).
    unsafe {
        while i + 16 <= n {
            let v = _mm512_fmadd_ps(va, _mm512_loadu_ps(x.add(i)), _mm512_loadu_ps(y.add(i)));
            _mm512_storeu_ps(y.add(i), v);
            i += 16;
        }
        if i < n {
            let v = _mm512_fmadd_ps(va, load_first(x.add(i), n - i), load_first(y.add(i), n - i));
            store_first(y.add(i), n - i, v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn acc_update512(g: f32, x: *const f32, row: *mut f32, acc: *mut f32, n: usize) {
    let vg = _mm512_set1_ps(g);
    let mut i = 0;
    // SAFETY (every access): as in `axpy512`; `acc` and `x` are the
    // caller's own buffers, `row` may be a shared Hogwild row.
    unsafe {
        while i + 16 <= n {
            let r = _mm512_loadu_ps(row.add(i));
            let s = _mm512_fmadd_ps(vg, r, _mm512_loadu_ps(acc.add(i)));
            _mm512_storeu_ps(acc.add(i), s);
            _mm512_storeu_ps(
                row.add(i),
                _mm512_fmadd_ps(vg, _mm512_loadu_ps(x.add(i)), r),
            );
            i += 16;
        }
        if i < n {
            let r = load_first(row.add(i), n - i);
            let s = _mm512_fmadd_ps(vg, r, load_first(acc.add(i), n - i));
            store_first(acc.add(i), n - i, s);
            let u = _mm512_fmadd_ps(vg, load_first(x.add(i), n - i), r);
            store_first(row.add(i), n - i, u);
        }
    }
}

/// Mask of the 16-float chunk at `k` of a `d`-float row.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn chunk_mask(k: usize, d: usize) -> __mmask16 {
    if d - k >= 16 {
        0xFFFF
    } else {
        tail_mask(d - k)
    }
}

/// The dot products of `N` rows with `u` (`d` floats) into `x`, each chunk
/// of `u` loaded once for `N` multiply-adds into independent accumulators
/// (`N <= 8`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dots_n512<const N: usize>(rows: &[*const f32], u: *const f32, d: usize, x: &mut [f32]) {
    let mut r = [std::ptr::null::<f32>(); N];
    r.copy_from_slice(&rows[..N]);
    // two accumulators per row (even and odd chunks), so that a row's
    // multiply-adds form two chains of half the length
    let mut a = [_mm512_setzero_ps(); N];
    let mut b = [_mm512_setzero_ps(); N];
    let mut k = 0;
    // SAFETY (every access): chunk k lies within the d floats of `u` and of
    // each row (the caller's contract); the last chunks touch only floats below d.
    unsafe {
        while k + 32 <= d {
            let u0 = _mm512_loadu_ps(u.add(k));
            let u1 = _mm512_loadu_ps(u.add(k + 16));
            for j in 0..N {
                a[j] = _mm512_fmadd_ps(_mm512_loadu_ps(r[j].add(k)), u0, a[j]);
                b[j] = _mm512_fmadd_ps(_mm512_loadu_ps(r[j].add(k + 16)), u1, b[j]);
            }
            k += 32;
        }
        while k < d {
            let uk = load_first(u.add(k), d - k);
            for (acc, &row) in a.iter_mut().zip(&r) {
                *acc = _mm512_fmadd_ps(load_first(row.add(k), d - k), uk, *acc);
            }
            k += 16;
        }
    }
    for j in 0..N {
        x[j] = _mm512_reduce_add_ps(_mm512_add_ps(a[j], b[j]));
    }
}

/// [`dots_n512`] for four rows.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn dots4_512(r: [*const f32; 4], u: *const f32, d: usize) -> [f32; 4] {
    let mut x = [0.0f32; 4];
    // SAFETY: the caller's contract.
    unsafe { dots_n512::<4>(&r, u, d, &mut x) };
    x
}

/// Four rows at a time against one `u` ([`dots4_512`]).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn dots512(u: *const f32, h: *const f32, d: usize, x: &mut [f32]) {
    let c = x.len();
    let mut j = 0;
    // SAFETY: rows j < c of `h` lie within its c * d floats.
    unsafe {
        while j + 4 <= c {
            let r = [
                h.add(j * d),
                h.add((j + 1) * d),
                h.add((j + 2) * d),
                h.add((j + 3) * d),
            ];
            x[j..j + 4].copy_from_slice(&dots4_512(r, u, d));
            j += 4;
        }
        while j < c {
            x[j] = dot512(h.add(j * d), u, d);
            j += 1;
        }
    }
}

/// One chunk of `u` at a time: loaded once, its gradient accumulated in a
/// register over all rows, stored once.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn window_update512(u: *mut f32, h: *const f32, gin: *mut f32, g: &[f32], d: usize) {
    let mut k = 0;
    // SAFETY (every access): chunk k of row j lies within `h` and `gin`
    // (c * d floats each) and chunk k within `u`; the last chunk touches only floats below d.
    unsafe {
        while k < d {
            let uk = load_first(u.add(k), d - k);
            let mut du = _mm512_setzero_ps();
            for (j, &gj) in g.iter().enumerate() {
                if gj == 0.0 {
                    continue;
                }
                let vg = _mm512_set1_ps(gj);
                let at = j * d + k;
                let q = _mm512_fmadd_ps(vg, uk, load_first(gin.add(at), d - k));
                store_first(gin.add(at), d - k, q);
                du = _mm512_fmadd_ps(vg, load_first(h.add(at), d - k), du);
            }
            store_first(u.add(k), d - k, _mm512_add_ps(uk, du));
            k += 16;
        }
    }
}

/// [`dots512`] for rows anywhere: 2 to 8 rows all in one pass
/// ([`dots_n512`]), so that all of them load at once, where four rows and
/// then the rest one by one waited for the last rows alone. For the wide
/// rows of PV-DM with `dm_concat` (1,100 floats, which the trainers'
/// prefetch does not ask for whole) training measured 1.08x faster, for
/// 100-float rows 1.01-1.02x (CBOW, skip-gram HS; see `benches/RESULTS.md`).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn gather_dots512(rows: &[*const f32], h: *const f32, d: usize, x: &mut [f32]) {
    let c = rows.len().min(x.len());
    let mut j = 0;
    if (2..=8).contains(&c) {
        // SAFETY: every row holds d floats (the caller's contract); the
        // kernel's N is c.
        unsafe { with_row_count!(c, dots_n512(rows, h, d, x)) };
        return;
    }
    // SAFETY: every row holds d floats (the caller's contract).
    unsafe {
        while j + 4 <= c {
            let r = [rows[j], rows[j + 1], rows[j + 2], rows[j + 3]];
            x[j..j + 4].copy_from_slice(&dots4_512(r, h, d));
            j += 4;
        }
        while j < c {
            x[j] = dot512(rows[j], h, d);
            j += 1;
        }
    }
}

/// `acc += Σ_j g[j] row_j` for `N` rows (`N <= 8`): the scales broadcast
/// once into registers, each chunk of `acc` loaded once, the rows added
/// into two accumulators (even and odd rows, so that consecutive
/// multiply-adds do not wait on each other), stored once; the last chunk
/// touches only floats below `d`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn axpy_n512<const N: usize>(rows: &[*const f32], g: &[f32], acc: *mut f32, d: usize) {
    let mut r = [std::ptr::null::<f32>(); N];
    r.copy_from_slice(&rows[..N]);
    let mut vg = [_mm512_setzero_ps(); N];
    for j in 0..N {
        vg[j] = _mm512_set1_ps(g[j]);
    }
    let mut k = 0;
    // SAFETY (every access): chunk k lies within the d floats of `acc` and
    // of each row (the caller's contract); the last chunk touches only floats below d.
    unsafe {
        // whole chunks unmasked: a masked store cannot forward its data to
        // a later load, which then waits until the store reaches the cache,
        // and `acc` (CBOW's context sum) is read right after
        while k + 16 <= d {
            let mut s0 = _mm512_loadu_ps(acc.add(k));
            let mut s1 = _mm512_setzero_ps();
            for j in 0..N {
                let v = _mm512_loadu_ps(r[j].add(k));
                if j % 2 == 0 {
                    s0 = _mm512_fmadd_ps(vg[j], v, s0);
                } else {
                    s1 = _mm512_fmadd_ps(vg[j], v, s1);
                }
            }
            _mm512_storeu_ps(acc.add(k), _mm512_add_ps(s0, s1));
            k += 16;
        }
        if k < d {
            let mut s0 = load_first(acc.add(k), d - k);
            let mut s1 = _mm512_setzero_ps();
            for j in 0..N {
                let v = load_first(r[j].add(k), d - k);
                if j % 2 == 0 {
                    s0 = _mm512_fmadd_ps(vg[j], v, s0);
                } else {
                    s1 = _mm512_fmadd_ps(vg[j], v, s1);
                }
            }
            store_first(acc.add(k), d - k, _mm512_add_ps(s0, s1));
        }
    }
}

/// The arguments of [`MulAdd::frozen_step_raw`] but the gradient.
#[cfg(target_arch = "x86_64")]
type FrozenStepArgs<'a> = (
    *const f32,
    [&'a [u32]; 2],
    f32,
    *mut f32,
    &'a [*const f32],
    usize,
);

/// [`MulAdd::frozen_step_raw`] for rows of `C` 16-float chunks (the last
/// masked to `d`): `h` lives in registers throughout; the scores are taken
/// four rows at a time (independent chains), reduced, turned into gradient
/// scales by `grad`, and the rows (now in L1) added to each chunk of the
/// row before one store. Both halves are instantiated for each row count
/// ([`score_rows512`], [`axpy_n512`]): with a run-time count the
/// scores' accumulators lived on the stack and the update's scales were
/// broadcast again for every chunk (8% of PV-DBOW's `infer_vector`).
/// (Keeping the row's chunks in registers as well measured no faster: the
/// registers spill.)
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn frozen_step512<const C: usize, F: FnOnce(&mut [f32])>(
    (ctx, ctx_ids, h_scale, row, outs, d): FrozenStepArgs<'_>,
    grad: F,
) {
    let n = outs.len().min(8);
    let mut masks = [0xFFFFu16; C];
    masks[C - 1] = chunk_mask((C - 1) * 16, d);
    let mut h = [_mm512_setzero_ps(); C];
    // SAFETY (every access): chunk c lies within the d floats of `row`, of
    // each context row and of each output row (the caller's contract); the
    // last chunk is masked to d.
    unsafe {
        for c in 0..C {
            h[c] = _mm512_maskz_loadu_ps(masks[c], row.add(16 * c));
        }
        for &id in ctx_ids[0].iter().chain(ctx_ids[1]) {
            let p = ctx.add(id as usize * d);
            for c in 0..C {
                h[c] = _mm512_add_ps(h[c], _mm512_maskz_loadu_ps(masks[c], p.add(16 * c)));
            }
        }
        if h_scale != 1.0 {
            let s = _mm512_set1_ps(h_scale);
            for hc in h.iter_mut() {
                *hc = _mm512_mul_ps(*hc, s);
            }
        }
        let mut x = [0.0f32; 8];
        let mut j = 0;
        while j < n {
            // a constant row count, so that the accumulators stay in
            // registers (with a variable one they live on the stack and
            // every multiply-add waits on a store and a reload)
            let (o, xs) = (&outs[j..], &mut x[j..]);
            j += match n - j {
                1 => score_rows512::<C, 1>(&h, &masks, o, xs),
                2 => score_rows512::<C, 2>(&h, &masks, o, xs),
                3 => score_rows512::<C, 3>(&h, &masks, o, xs),
                _ => score_rows512::<C, 4>(&h, &masks, o, xs),
            };
        }
        grad(&mut x[..n]);
        // the gradient into the row: the gathered axpy's kernel, with a
        // constant row count (the scales broadcast once, the rows unrolled)
        with_row_count!(n, axpy_n512(outs, &x, row, d));
    }
}

/// The scores `x[i] = rows[i] · h` of `K` rows of `C` chunks against `h`
/// held in registers, `K` independent chains; returns `K`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn score_rows512<const C: usize, const K: usize>(
    h: &[__m512; C],
    masks: &[u16; C],
    rows: &[*const f32],
    x: &mut [f32],
) -> usize {
    let mut a = [_mm512_setzero_ps(); K];
    // SAFETY (every access): chunk c lies within the d floats of each row
    // (the caller's contract); the last chunk is masked to d.
    unsafe {
        for c in 0..C {
            for i in 0..K {
                let r = _mm512_maskz_loadu_ps(masks[c], rows[i].add(16 * c));
                a[i] = _mm512_fmadd_ps(r, h[c], a[i]);
            }
        }
    }
    for i in 0..K {
        x[i] = _mm512_reduce_add_ps(a[i]);
    }
    K
}

/// `acc += Σ_j g[j] row_j` for rows anywhere, up to 8 per pass
/// ([`axpy_n512`]).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn gather_axpy512(rows: &[*const f32], g: &[f32], acc: *mut f32, d: usize) {
    let c = rows.len().min(g.len());
    for (r, gs) in rows[..c].chunks(8).zip(g[..c].chunks(8)) {
        // SAFETY: every row and `acc` hold d floats (the caller's contract);
        // `r` and `gs` have the same length, the kernel's N.
        unsafe { with_row_count!(r.len(), axpy_n512(r, gs, acc, d)) }
    }
}

/// [`MulAdd::gather_acc_update_raw`], up to 8 rows per pass
/// ([`acc_update_n512`]); more rows (never, with blocks of [`GATHER`]
/// rows) pass after pass, which sums each element in the same order.
///
/// [`GATHER`]: crate::hogwild::GATHER
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn gather_acc_update512(
    rows: &[*mut f32],
    g: &[f32],
    x: *const f32,
    acc: *mut f32,
    d: usize,
) {
    let c = rows.len().min(g.len());
    for (r, gs) in rows[..c].chunks(8).zip(g[..c].chunks(8)) {
        // SAFETY: the caller's contract; `r` and `gs` have the same length,
        // the kernel's N.
        unsafe { with_row_count!(r.len(), acc_update_n512(r, gs, x, acc, d)) }
    }
}

/// `acc += Σ_j g[j] row_j` and `row_j += g[j] x` for `N` rows (`N <= 8`):
/// each 16-float chunk of `acc` and of `x` is loaded once, meets every row
/// in order (one multiply-add into the chunk of `acc`, one into the row,
/// which is stored), and is stored once; row by row, the chunk of `acc`
/// would be stored and reloaded per row. With `N` a constant the scales
/// are broadcast once and the row loop is unrolled (1.03-1.05x training
/// speed in CBOW and skip-gram HS against a run-time row count).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn acc_update_n512<const N: usize>(
    rows: &[*mut f32],
    g: &[f32],
    x: *const f32,
    acc: *mut f32,
    d: usize,
) {
    let r: [*mut f32; N] = std::array::from_fn(|j| rows[j]);
    let vg: [__m512; N] = std::array::from_fn(|j| _mm512_set1_ps(g[j]));
    let mut k = 0;
    // SAFETY (every access): chunk k of `acc`, `x` and each row (d floats
    // each, the caller's contract); whole chunks while k + 32 <= d, then the
    // last chunk touches only floats below d. The rows are disjoint from each other and from
    // `acc` and `x`.
    unsafe {
        // Two chunks at a time, as in `gather_acc_update256`: two chains into
        // `acc`, each element still summed in row order.
        while k + 32 <= d {
            let mut a0 = _mm512_loadu_ps(acc.add(k));
            let mut a1 = _mm512_loadu_ps(acc.add(k + 16));
            let x0 = _mm512_loadu_ps(x.add(k));
            let x1 = _mm512_loadu_ps(x.add(k + 16));
            for j in 0..N {
                let p = r[j].add(k);
                let v0 = _mm512_loadu_ps(p);
                let v1 = _mm512_loadu_ps(p.add(16));
                a0 = _mm512_fmadd_ps(vg[j], v0, a0);
                a1 = _mm512_fmadd_ps(vg[j], v1, a1);
                _mm512_storeu_ps(p, _mm512_fmadd_ps(vg[j], x0, v0));
                _mm512_storeu_ps(p.add(16), _mm512_fmadd_ps(vg[j], x1, v1));
            }
            _mm512_storeu_ps(acc.add(k), a0);
            _mm512_storeu_ps(acc.add(k + 16), a1);
            k += 32;
        }
        while k < d {
            let mut a = load_first(acc.add(k), d - k);
            let xk = load_first(x.add(k), d - k);
            for j in 0..N {
                let p = r[j].add(k);
                let v = load_first(p, d - k);
                a = _mm512_fmadd_ps(vg[j], v, a);
                store_first(p, d - k, _mm512_fmadd_ps(vg[j], xk, v));
            }
            store_first(acc.add(k), d - k, a);
            k += 16;
        }
    }
}

/// Sum of the 8 lanes of `v`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn hsum256(v: __m256) -> f32 {
    let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let h = _mm_add_ps(q, _mm_movehl_ps(q, q));
    _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot256(a: *const f32, b: *const f32, n: usize) -> f32 {
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    let mut s;
    // SAFETY (every access): whole vectors only while i + width <= n, then
    // single floats below n.
    unsafe {
        while i + 16 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.add(i + 8)),
                _mm256_loadu_ps(b.add(i + 8)),
                s1,
            );
            i += 16;
        }
        if i + 8 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
            i += 8;
        }
        if i + 4 <= n {
            let p = _mm_mul_ps(_mm_loadu_ps(a.add(i)), _mm_loadu_ps(b.add(i)));
            s0 = _mm256_add_ps(s0, _mm256_zextps128_ps256(p));
            i += 4;
        }
        s = hsum256(_mm256_add_ps(s0, s1));
        while i < n {
            s = a.add(i).read().mul_add(b.add(i).read(), s);
            i += 1;
        }
    }
    s
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy256(a: f32, x: *const f32, y: *mut f32, n: usize) {
    let va = _mm256_set1_ps(a);
    let mut i = 0;
    // SAFETY (every access): whole vectors only while i + 8 <= n, then
    // single floats below n.
    unsafe {
        while i + 8 <= n {
            let v = _mm256_fmadd_ps(va, _mm256_loadu_ps(x.add(i)), _mm256_loadu_ps(y.add(i)));
            _mm256_storeu_ps(y.add(i), v);
            i += 8;
        }
        if i + 4 <= n {
            let a4 = _mm256_castps256_ps128(va);
            let v = _mm_fmadd_ps(a4, _mm_loadu_ps(x.add(i)), _mm_loadu_ps(y.add(i)));
            _mm_storeu_ps(y.add(i), v);
            i += 4;
        }
        while i < n {
            let q = y.add(i);
            q.write(a.mul_add(x.add(i).read(), q.read()));
            i += 1;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn acc_update256(g: f32, x: *const f32, row: *mut f32, acc: *mut f32, n: usize) {
    let vg = _mm256_set1_ps(g);
    let mut i = 0;
    // SAFETY (every access): as in `axpy256`.
    unsafe {
        while i + 8 <= n {
            let r = _mm256_loadu_ps(row.add(i));
            let s = _mm256_fmadd_ps(vg, r, _mm256_loadu_ps(acc.add(i)));
            _mm256_storeu_ps(acc.add(i), s);
            _mm256_storeu_ps(
                row.add(i),
                _mm256_fmadd_ps(vg, _mm256_loadu_ps(x.add(i)), r),
            );
            i += 8;
        }
        if i + 4 <= n {
            let g4 = _mm256_castps256_ps128(vg);
            let r = _mm_loadu_ps(row.add(i));
            _mm_storeu_ps(acc.add(i), _mm_fmadd_ps(g4, r, _mm_loadu_ps(acc.add(i))));
            _mm_storeu_ps(row.add(i), _mm_fmadd_ps(g4, _mm_loadu_ps(x.add(i)), r));
            i += 4;
        }
        while i < n {
            let v = row.add(i).read();
            acc.add(i).write(g.mul_add(v, acc.add(i).read()));
            row.add(i).write(g.mul_add(x.add(i).read(), v));
            i += 1;
        }
    }
}

/// The dot products of four rows with `u` (`d` floats): each 8-float chunk
/// of `u` is loaded once for four multiply-adds into independent
/// accumulators, and the four horizontal sums are done together.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots4_256(r: [*const f32; 4], u: *const f32, d: usize) -> [f32; 4] {
    // two accumulators per row (even and odd chunks): two chains of half
    // the length, which the next example's scores wait for in training
    let mut a = [_mm256_setzero_ps(); 4];
    let mut b = [_mm256_setzero_ps(); 4];
    let mut k = 0;
    // SAFETY (every access): whole vectors only while k + 8 <= d, then
    // single floats below d, of `u` and of each row (d floats each, the
    // caller's contract).
    unsafe {
        while k + 16 <= d {
            let u0 = _mm256_loadu_ps(u.add(k));
            let u1 = _mm256_loadu_ps(u.add(k + 8));
            for j in 0..4 {
                a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(r[j].add(k)), u0, a[j]);
                b[j] = _mm256_fmadd_ps(_mm256_loadu_ps(r[j].add(k + 8)), u1, b[j]);
            }
            k += 16;
        }
        if k + 8 <= d {
            let uk = _mm256_loadu_ps(u.add(k));
            for (acc, &row) in a.iter_mut().zip(&r) {
                *acc = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(k)), uk, *acc);
            }
            k += 8;
        }
        for j in 0..4 {
            a[j] = _mm256_add_ps(a[j], b[j]);
        }
        // lanes: (a0+a1) pairs, then (a2+a3) pairs, then the halves
        let s01 = _mm256_hadd_ps(a[0], a[1]);
        let s23 = _mm256_hadd_ps(a[2], a[3]);
        let s = _mm256_hadd_ps(s01, s23);
        let q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), q);
        while k < d {
            let uk = u.add(k).read();
            for (o, &row) in out.iter_mut().zip(&r) {
                *o = row.add(k).read().mul_add(uk, *o);
            }
            k += 1;
        }
        out
    }
}

/// The dot products of the `c = x.len()` consecutive rows at `h` with `u`,
/// four rows at a time ([`dots4_256`]).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots256(u: *const f32, h: *const f32, d: usize, x: &mut [f32]) {
    let c = x.len();
    let mut j = 0;
    // SAFETY: rows j < c of `h` lie within its c * d floats.
    unsafe {
        while j + 4 <= c {
            let r = [
                h.add(j * d),
                h.add((j + 1) * d),
                h.add((j + 2) * d),
                h.add((j + 3) * d),
            ];
            x[j..j + 4].copy_from_slice(&dots4_256(r, u, d));
            j += 4;
        }
        while j < c {
            x[j] = dot256(h.add(j * d), u, d);
            j += 1;
        }
    }
}

/// The window update with one 8-float chunk of `u` at a time: loaded once,
/// its gradient summed in a register over all rows, stored once. The tail
/// takes one 4-float step and then single floats.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn window_update256(u: *mut f32, h: *const f32, gin: *mut f32, g: &[f32], d: usize) {
    let mut k = 0;
    // SAFETY (every access): whole vectors only while k + width <= d, then
    // single floats below d; chunk k of row j lies within `h` and `gin`
    // (c * d floats each) and chunk k within `u` (the caller's contract).
    unsafe {
        while k + 8 <= d {
            let uk = _mm256_loadu_ps(u.add(k));
            let mut du = _mm256_setzero_ps();
            for (j, &gj) in g.iter().enumerate() {
                if gj == 0.0 {
                    continue;
                }
                let vg = _mm256_set1_ps(gj);
                let at = j * d + k;
                let q = _mm256_fmadd_ps(vg, uk, _mm256_loadu_ps(gin.add(at)));
                _mm256_storeu_ps(gin.add(at), q);
                du = _mm256_fmadd_ps(vg, _mm256_loadu_ps(h.add(at)), du);
            }
            _mm256_storeu_ps(u.add(k), _mm256_add_ps(uk, du));
            k += 8;
        }
        if k + 4 <= d {
            let uk = _mm_loadu_ps(u.add(k));
            let mut du = _mm_setzero_ps();
            for (j, &gj) in g.iter().enumerate() {
                if gj == 0.0 {
                    continue;
                }
                let vg = _mm_set1_ps(gj);
                let at = j * d + k;
                _mm_storeu_ps(gin.add(at), _mm_fmadd_ps(vg, uk, _mm_loadu_ps(gin.add(at))));
                du = _mm_fmadd_ps(vg, _mm_loadu_ps(h.add(at)), du);
            }
            _mm_storeu_ps(u.add(k), _mm_add_ps(uk, du));
            k += 4;
        }
        while k < d {
            let uk = u.add(k).read();
            let mut du = 0.0f32;
            for (j, &gj) in g.iter().enumerate() {
                if gj == 0.0 {
                    continue;
                }
                let at = j * d + k;
                let q = gin.add(at);
                q.write(gj.mul_add(uk, q.read()));
                du = gj.mul_add(h.add(at).read(), du);
            }
            u.add(k).write(uk + du);
            k += 1;
        }
    }
}

/// The dot products of `N` rows anywhere with `h` (`d` floats) in one
/// pass: each chunk of `h` is loaded once for `N` multiply-adds into `N`
/// independent accumulators, which stay in registers (`N <= 8`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dots_n256<const N: usize>(rows: &[*const f32], h: *const f32, d: usize, x: &mut [f32]) {
    let mut r = [std::ptr::null::<f32>(); N];
    r.copy_from_slice(&rows[..N]);
    let mut a = [_mm256_setzero_ps(); N];
    let mut k = 0;
    // SAFETY (every access): whole vectors only while k + width <= d, then
    // single floats below d, of `h` and of each row (d floats each, the
    // caller's contract).
    unsafe {
        if N <= 4 {
            // up to four rows: a second accumulator per row (odd chunks)
            // still fits the 16 registers, and halves each row's chain
            let mut b = [_mm256_setzero_ps(); N];
            while k + 16 <= d {
                let h0 = _mm256_loadu_ps(h.add(k));
                let h1 = _mm256_loadu_ps(h.add(k + 8));
                for j in 0..N {
                    a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(r[j].add(k)), h0, a[j]);
                    b[j] = _mm256_fmadd_ps(_mm256_loadu_ps(r[j].add(k + 8)), h1, b[j]);
                }
                k += 16;
            }
            for j in 0..N {
                a[j] = _mm256_add_ps(a[j], b[j]);
            }
        }
        while k + 8 <= d {
            let hk = _mm256_loadu_ps(h.add(k));
            for j in 0..N {
                a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(r[j].add(k)), hk, a[j]);
            }
            k += 8;
        }
        if k + 4 <= d {
            let hk = _mm_loadu_ps(h.add(k));
            for j in 0..N {
                let p = _mm_mul_ps(_mm_loadu_ps(r[j].add(k)), hk);
                a[j] = _mm256_add_ps(a[j], _mm256_zextps128_ps256(p));
            }
            k += 4;
        }
        for j in 0..N {
            x[j] = hsum256(a[j]);
        }
        while k < d {
            let hk = h.add(k).read();
            for j in 0..N {
                x[j] = r[j].add(k).read().mul_add(hk, x[j]);
            }
            k += 1;
        }
    }
}

/// [`dot256`] for rows anywhere, up to 8 per pass ([`dots_n256`]).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn gather_dots256(rows: &[*const f32], h: *const f32, d: usize, x: &mut [f32]) {
    let c = rows.len().min(x.len());
    // four rows per pass: each row then gets two accumulators (see
    // `dots_n256`), where eight rows would have one
    for (r, out) in rows[..c].chunks(4).zip(x[..c].chunks_mut(4)) {
        // SAFETY: every row and `h` hold d floats (the caller's contract);
        // `r` and `out` have the same length, the kernel's N.
        unsafe { with_row_count!(r.len(), dots_n256(r, h, d, out)) }
    }
}

/// `acc += Σ_j g[j] row_j` for `N` rows (`N <= 8`): the scales broadcast
/// once into registers, each chunk of `acc` loaded once, the rows added
/// into two accumulators (even and odd rows, so that consecutive
/// multiply-adds do not wait on each other), stored once.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn axpy_n256<const N: usize>(rows: &[*const f32], g: &[f32], acc: *mut f32, d: usize) {
    let mut r = [std::ptr::null::<f32>(); N];
    r.copy_from_slice(&rows[..N]);
    let mut vg = [_mm256_setzero_ps(); N];
    for j in 0..N {
        vg[j] = _mm256_set1_ps(g[j]);
    }
    let mut k = 0;
    // SAFETY (every access): whole vectors only while k + width <= d, then
    // single floats below d, of `acc` and of each row (the caller's
    // contract).
    unsafe {
        while k + 8 <= d {
            let mut s0 = _mm256_loadu_ps(acc.add(k));
            let mut s1 = _mm256_setzero_ps();
            for j in 0..N {
                let v = _mm256_loadu_ps(r[j].add(k));
                if j % 2 == 0 {
                    s0 = _mm256_fmadd_ps(vg[j], v, s0);
                } else {
                    s1 = _mm256_fmadd_ps(vg[j], v, s1);
                }
            }
            _mm256_storeu_ps(acc.add(k), _mm256_add_ps(s0, s1));
            k += 8;
        }
        if k + 4 <= d {
            let mut s0 = _mm_loadu_ps(acc.add(k));
            let mut s1 = _mm_setzero_ps();
            for j in 0..N {
                let v = _mm_loadu_ps(r[j].add(k));
                let gj = _mm256_castps256_ps128(vg[j]);
                if j % 2 == 0 {
                    s0 = _mm_fmadd_ps(gj, v, s0);
                } else {
                    s1 = _mm_fmadd_ps(gj, v, s1);
                }
            }
            _mm_storeu_ps(acc.add(k), _mm_add_ps(s0, s1));
            k += 4;
        }
        while k < d {
            let mut a = acc.add(k).read();
            for j in 0..N {
                a = g[j].mul_add(r[j].add(k).read(), a);
            }
            acc.add(k).write(a);
            k += 1;
        }
    }
}

/// `acc += Σ_j g[j] row_j` for rows anywhere, up to 8 per pass
/// ([`axpy_n256`]): row by row, each chunk of `acc` would be stored and
/// loaded again for every row, one store-to-load wait per row.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn gather_axpy256(rows: &[*const f32], g: &[f32], acc: *mut f32, d: usize) {
    let c = rows.len().min(g.len());
    for (r, gs) in rows[..c].chunks(8).zip(g[..c].chunks(8)) {
        // SAFETY: every row and `acc` hold d floats (the caller's contract);
        // `r` and `gs` have the same length, the kernel's N.
        unsafe { with_row_count!(r.len(), axpy_n256(r, gs, acc, d)) }
    }
}

/// [`MulAdd::gather_acc_update_raw`] with AVX2, up to 8 rows per pass
/// ([`acc_update_n256`]), as [`gather_acc_update512`].
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn gather_acc_update256(
    rows: &[*mut f32],
    g: &[f32],
    x: *const f32,
    acc: *mut f32,
    d: usize,
) {
    let c = rows.len().min(g.len());
    for (r, gs) in rows[..c].chunks(8).zip(g[..c].chunks(8)) {
        // SAFETY: the caller's contract; `r` and `gs` have the same length,
        // the kernel's N.
        unsafe { with_row_count!(r.len(), acc_update_n256(r, gs, x, acc, d)) }
    }
}

/// [`acc_update_n512`] with AVX2: two 8-float chunks per pass while 16
/// floats remain, then one 8-float chunk, one 4-wide step and single
/// floats (the tails of [`acc_update256`]); the scales broadcast once.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn acc_update_n256<const N: usize>(
    rows: &[*mut f32],
    g: &[f32],
    x: *const f32,
    acc: *mut f32,
    d: usize,
) {
    let r: [*mut f32; N] = std::array::from_fn(|j| rows[j]);
    let vg: [__m256; N] = std::array::from_fn(|j| _mm256_set1_ps(g[j]));
    let mut k = 0;
    // SAFETY (every access): whole vectors only while k + width <= d, then
    // single floats below d, of `acc`, `x` and each row (d floats each, the
    // caller's contract); the rows are disjoint from each other and from
    // `acc` and `x`.
    unsafe {
        // Two chunks at a time: two independent chains of multiply-adds into
        // `acc` instead of one, each element still summed in row order (so
        // the result is the same, bit for bit).
        while k + 16 <= d {
            let mut a0 = _mm256_loadu_ps(acc.add(k));
            let mut a1 = _mm256_loadu_ps(acc.add(k + 8));
            let x0 = _mm256_loadu_ps(x.add(k));
            let x1 = _mm256_loadu_ps(x.add(k + 8));
            for j in 0..N {
                let p = r[j].add(k);
                let v0 = _mm256_loadu_ps(p);
                let v1 = _mm256_loadu_ps(p.add(8));
                a0 = _mm256_fmadd_ps(vg[j], v0, a0);
                a1 = _mm256_fmadd_ps(vg[j], v1, a1);
                _mm256_storeu_ps(p, _mm256_fmadd_ps(vg[j], x0, v0));
                _mm256_storeu_ps(p.add(8), _mm256_fmadd_ps(vg[j], x1, v1));
            }
            _mm256_storeu_ps(acc.add(k), a0);
            _mm256_storeu_ps(acc.add(k + 8), a1);
            k += 16;
        }
        while k + 8 <= d {
            let mut a = _mm256_loadu_ps(acc.add(k));
            let xk = _mm256_loadu_ps(x.add(k));
            for j in 0..N {
                let p = r[j].add(k);
                let v = _mm256_loadu_ps(p);
                a = _mm256_fmadd_ps(vg[j], v, a);
                _mm256_storeu_ps(p, _mm256_fmadd_ps(vg[j], xk, v));
            }
            _mm256_storeu_ps(acc.add(k), a);
            k += 8;
        }
        if k + 4 <= d {
            let mut a = _mm_loadu_ps(acc.add(k));
            let xk = _mm_loadu_ps(x.add(k));
            for j in 0..N {
                let vg = _mm_set1_ps(g[j]);
                let p = r[j].add(k);
                let v = _mm_loadu_ps(p);
                a = _mm_fmadd_ps(vg, v, a);
                _mm_storeu_ps(p, _mm_fmadd_ps(vg, xk, v));
            }
            _mm_storeu_ps(acc.add(k), a);
            k += 4;
        }
        while k < d {
            let mut a = acc.add(k).read();
            let xk = x.add(k).read();
            for j in 0..N {
                let p = r[j].add(k);
                let v = p.read();
                a = g[j].mul_add(v, a);
                p.write(g[j].mul_add(xk, v));
            }
            acc.add(k).write(a);
            k += 1;
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::linalg::{accumulate_and_update, axpy, dot_with, window_step, Unfused};

    /// The tail loads and stores give what the masked forms give, for every
    /// remainder, and write nothing past it.
    #[test]
    fn partial_loads_and_stores_are_the_masked_ones() {
        if !std::is_x86_feature_detected!("avx512f") {
            return;
        }
        #[target_feature(enable = "avx512f")]
        fn run(r: usize, src: &[f32; 16], dst: &mut [f32; 17]) -> ([f32; 16], [f32; 16]) {
            let (mut a, mut b) = ([0.0f32; 16], [0.0f32; 16]);
            // SAFETY: 16 floats readable at `src`, 17 writable at `dst`
            // (r <= 16 are touched); AVX-512F checked by the caller.
            unsafe {
                _mm512_storeu_ps(a.as_mut_ptr(), load_first(src.as_ptr(), r));
                let m = if r >= 16 { 0xFFFF } else { tail_mask(r) };
                _mm512_storeu_ps(b.as_mut_ptr(), _mm512_maskz_loadu_ps(m, src.as_ptr()));
                store_first(dst.as_mut_ptr(), r, _mm512_loadu_ps(src.as_ptr()));
            }
            (a, b)
        }
        let src: [f32; 16] = std::array::from_fn(|i| i as f32 + 1.0);
        for r in 1..=16 {
            let mut dst = [-1.0f32; 17];
            // SAFETY: AVX-512F checked above.
            let (got, want) = unsafe { run(r, &src, &mut dst) };
            assert_eq!(got, want, "load of {r}");
            assert_eq!(&dst[..r], &src[..r], "store of {r}");
            assert!(
                dst[r..].iter().all(|&v| v == -1.0),
                "store of {r} went past it"
            );
        }
    }

    /// Each SIMD kernel against the portable one, on lengths around every
    /// width boundary, where the tails are.
    fn check<M: MulAdd>() {
        for n in [
            0usize, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 300,
        ] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let (d, want) = (dot_with::<M>(&a, &b), dot_with::<Unfused>(&a, &b));
            assert!(
                (d - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "n={n}: {d} vs {want}"
            );
            // one float past the end, which the kernels must not touch
            let (mut y, mut yw) = (b.clone(), b.clone());
            y.push(7.0);
            axpy::<M>(0.5, &a, &mut y[..n]);
            axpy::<Unfused>(0.5, &a, &mut yw);
            assert_eq!(y[n], 7.0);
            let (mut row, mut acc) = (b.clone(), vec![0.25f32; n + 1]);
            let (mut roww, mut accw) = (b.clone(), vec![0.25f32; n]);
            row.push(7.0);
            accumulate_and_update::<M>(0.3, &a, &mut row[..n], &mut acc[..n]);
            accumulate_and_update::<Unfused>(0.3, &a, &mut roww, &mut accw);
            assert_eq!((row[n], acc[n]), (7.0, 0.25));
            for i in 0..n {
                assert!((y[i] - yw[i]).abs() < 1e-6, "axpy n={n} i={i}");
                assert!((row[i] - roww[i]).abs() < 1e-6, "row n={n} i={i}");
                assert!((acc[i] - accw[i]).abs() < 1e-6, "acc n={n} i={i}");
            }
        }
    }

    /// The window step against the portable one, for 1 to 9 rows (both
    /// sides of the 4-row blocks) of lengths around the widths, with a gradient that skips one row and sees every dot
    /// product once, in order.
    fn check_window<M: MulAdd>() {
        for d in [1usize, 3, 4, 5, 8, 12, 13, 16, 17, 100, 128, 130] {
            for c in 1..10 {
                let u: Vec<f32> = (0..d).map(|i| (i as f32 * 0.3).sin()).collect();
                let h: Vec<f32> = (0..c * d).map(|i| (i as f32 * 0.07).cos()).collect();
                let run = |simd: bool| {
                    let mut u1 = u.clone();
                    u1.push(7.0);
                    let mut gin = vec![0.5f32; c * d + 1];
                    let mut g = vec![0.0f32; c];
                    let mut seen = Vec::new();
                    let grad = |x: f32| {
                        seen.push(x);
                        if seen.len() == 2 {
                            0.0
                        } else {
                            0.1 * x - 0.05
                        }
                    };
                    if simd {
                        window_step::<M, _>(&mut u1[..d], &h, &mut gin[..c * d], &mut g, grad);
                    } else {
                        window_step::<Unfused, _>(
                            &mut u1[..d],
                            &h,
                            &mut gin[..c * d],
                            &mut g,
                            grad,
                        );
                    }
                    assert_eq!((u1[d], gin[c * d]), (7.0, 0.5), "wrote past the end");
                    (u1, gin, seen)
                };
                let ((u1, gin, seen), (uw, ginw, seenw)) = (run(true), run(false));
                let close = |a: &[f32], b: &[f32]| {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
                };
                assert!(close(&seen, &seenw), "dots d={d} c={c}");
                assert!(close(&u1, &uw), "u d={d} c={c}");
                assert!(close(&gin, &ginw), "gin d={d} c={c}");
                if c > 1 {
                    assert!(
                        gin[d..2 * d].iter().all(|&v| v == 0.5),
                        "row with g = 0 untouched"
                    );
                }
            }
        }
    }

    /// The gathered kernels against the portable ones, for 1 to 9 rows at
    /// scattered places.
    fn check_gather<M: MulAdd>() {
        for d in [1usize, 5, 16, 17, 100, 130, 257, 1100] {
            let data: Vec<f32> = (0..12 * d).map(|i| (i as f32 * 0.13).sin()).collect();
            let h: Vec<f32> = (0..d).map(|i| (i as f32 * 0.29).cos()).collect();
            for c in 1..10 {
                let rows: Vec<*const f32> =
                    (0..c).map(|j| data[(j * 5 % 12) * d..].as_ptr()).collect();
                let g: Vec<f32> = (0..c).map(|j| 0.1 * j as f32 - 0.3).collect();
                let (mut x, mut xw) = (vec![0.0f32; c], vec![0.0f32; c]);
                let (mut acc, mut accw) = (vec![0.5f32; d + 1], vec![0.5f32; d]);
                // SAFETY: every row pointer has d floats after it in `data`
                // (rows start at most 11 * d in); `acc` and `h` hold d.
                unsafe {
                    M::gather_dots_raw(&rows, h.as_ptr(), d, &mut x);
                    Unfused::gather_dots_raw(&rows, h.as_ptr(), d, &mut xw);
                    M::gather_axpy_raw(&rows, &g, acc.as_mut_ptr(), d);
                    Unfused::gather_axpy_raw(&rows, &g, accw.as_mut_ptr(), d);
                }
                assert_eq!(acc[d], 0.5, "wrote past the end");
                for j in 0..c {
                    assert!(
                        (x[j] - xw[j]).abs() <= 1e-5 * (1.0 + xw[j].abs()),
                        "d={d} c={c}"
                    );
                }
                assert!(acc[..d]
                    .iter()
                    .zip(&accw)
                    .all(|(a, b)| (a - b).abs() < 1e-5));
            }
        }
    }

    /// The gathered output-row update against the same kernel's row-by-row
    /// update: bit for bit (the claim of `gather_acc_update_raw`), for 1 to
    /// 8 rows of lengths around the widths, without writing past any row.
    fn check_gather_update<M: MulAdd>() {
        for d in [1usize, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 33, 100, 300] {
            for c in 1..=8usize {
                let x: Vec<f32> = (0..d).map(|i| (i as f32 * 0.29).sin()).collect();
                let start: Vec<Vec<f32>> = (0..c)
                    .map(|j| {
                        let mut r: Vec<f32> =
                            (0..d).map(|i| ((i + 7 * j) as f32 * 0.13).cos()).collect();
                        r.push(9.0); // guard
                        r
                    })
                    .collect();
                let g: Vec<f32> = (0..c).map(|j| 0.07 * j as f32 - 0.2).collect();
                let (mut rows, mut roww) = (start.clone(), start);
                let (mut acc, mut accw) = (vec![0.5f32; d + 1], vec![0.5f32; d + 1]);
                let ptrs: Vec<*mut f32> = rows.iter_mut().map(|r| r.as_mut_ptr()).collect();
                // SAFETY: each row holds d + 1 floats, `acc` and `x` at
                // least d; the rows are separate vectors.
                unsafe {
                    M::gather_acc_update_raw(&ptrs, &g, x.as_ptr(), acc.as_mut_ptr(), d);
                    for (r, &gj) in roww.iter_mut().zip(&g) {
                        M::acc_update_raw(gj, x.as_ptr(), r.as_mut_ptr(), accw.as_mut_ptr(), d);
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&acc), bits(&accw), "acc d={d} c={c}");
                for j in 0..c {
                    assert_eq!(bits(&rows[j]), bits(&roww[j]), "row {j} d={d} c={c}");
                    assert_eq!(rows[j][d], 9.0, "wrote past row {j}");
                }
                assert_eq!(acc[d], 0.5, "wrote past acc");
            }
        }
    }

    /// The fused frozen step against the same example taken by parts with
    /// the portable kernels: for 0 to 4 context rows, 1 to 8 output rows and
    /// lengths around every chunk boundary (and the widest it fuses), with a
    /// gradient that sees every score once, in order; never writing past the
    /// row, and declining rows wider than 128 floats.
    fn check_frozen_step<M: MulAdd>() {
        for d in [1usize, 5, 15, 16, 17, 31, 33, 100, 128, 129] {
            let data: Vec<f32> = (0..14 * d).map(|i| (i as f32 * 0.13).sin()).collect();
            let start: Vec<f32> = (0..d).map(|i| (i as f32 * 0.29).cos()).collect();
            for c in 0..=4usize {
                for n in 1..=8usize {
                    // context rows 12 and 13 of `data`, split over both halves
                    let ids: Vec<u32> = (0..c).map(|j| 12 + (j % 2) as u32).collect();
                    let halves = [&ids[..c / 2], &ids[c / 2..]];
                    let ctx: Vec<*const f32> = ids
                        .iter()
                        .map(|&i| data[i as usize * d..].as_ptr())
                        .collect();
                    let outs: Vec<*const f32> =
                        (0..n).map(|j| data[(j * 5 % 12) * d..].as_ptr()).collect();
                    let scale = 1.0 / (c + 1) as f32;
                    let grad = |x: f32, k: usize| 0.1 * x - 0.02 * k as f32;
                    let mut row = start.clone();
                    row.push(7.0);
                    let mut seen = Vec::new();
                    // SAFETY: every pointer and context row has d floats after
                    // it in `data` (rows start at most 13 * d in); `row` holds
                    // d + 1.
                    let fused = unsafe {
                        M::frozen_step_raw(
                            data.as_ptr(),
                            halves,
                            scale,
                            row.as_mut_ptr(),
                            &outs,
                            d,
                            |g| {
                                for (k, gk) in g.iter_mut().enumerate() {
                                    seen.push(*gk);
                                    *gk = grad(*gk, k);
                                }
                            },
                        )
                    };
                    if !fused {
                        assert!(d > 128, "declined d={d}");
                        assert_eq!(row[..d], start[..], "declined but wrote");
                        continue;
                    }
                    assert_eq!(row[d], 7.0, "wrote past the row");
                    // by parts: h = (row + Σ ctx) * scale; x = outs · h; row += Σ g outs
                    let mut h = start.clone();
                    let mut x = vec![0.0f32; n];
                    let mut want = start.clone();
                    // SAFETY: as above; `h` and `want` hold d floats.
                    unsafe {
                        Unfused::gather_axpy_raw(&ctx, &vec![1.0; c], h.as_mut_ptr(), d);
                        h.iter_mut().for_each(|v| *v *= scale);
                        Unfused::gather_dots_raw(&outs, h.as_ptr(), d, &mut x);
                        let g: Vec<f32> = x.iter().enumerate().map(|(k, &v)| grad(v, k)).collect();
                        Unfused::gather_axpy_raw(&outs, &g, want.as_mut_ptr(), d);
                    }
                    let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * (1.0 + b.abs());
                    assert!(
                        seen.len() == n && seen.iter().zip(&x).all(|(&a, &b)| close(a, b)),
                        "scores d={d} c={c} n={n}: {seen:?} vs {x:?}"
                    );
                    assert!(
                        row[..d].iter().zip(&want).all(|(&a, &b)| close(a, b)),
                        "row d={d} c={c} n={n}"
                    );
                }
            }
        }
    }

    #[test]
    fn avx512_kernels_match_the_portable_ones() {
        if is_x86_feature_detected!("avx512f") {
            check::<Avx512>();
            check_window::<Avx512>();
            check_gather::<Avx512>();
            check_gather_update::<Avx512>();
            check_frozen_step::<Avx512>();
        }
    }

    #[test]
    fn avx2_kernels_match_the_portable_ones() {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            check::<Avx2>();
            check_window::<Avx2>();
            check_gather::<Avx2>();
            check_gather_update::<Avx2>();
        }
    }
}
