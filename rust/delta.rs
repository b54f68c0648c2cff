//! Sparse row deltas between model replicas (distributed training).
//!
//! A replica trains its copy `w` of a matrix and keeps `base`, what the other
//! replicas have been told of it. [`take_delta`] finds the rows where `w`
//! differs from `base`, encodes their difference for the wire (float32 or
//! IEEE half precision) and makes the replica adopt the encoded values, so
//! that `w == base` afterwards and the next delta holds exactly the rows the
//! next chunk of training touches. [`add_rows`] applies the combined deltas
//! of all replicas. One pass over the matrix each, where the
//! NumPy expressions they replace made four to six (and a full-size
//! temporary), and half precision converted 8 values per instruction where
//! the CPU has F16C; see `embedrs.distributed._sync`.

use crate::{Error, Result};

/// A delta value as it travels: `f32` itself, or `u16` holding the bits of
/// an IEEE 754 binary16 value (NumPy's `float16`).
pub trait Wire: Copy + Default + Send + Sync + 'static {
    /// `dst[i]` = the encodable value nearest `src[i]` (ties to even).
    fn encode_row(src: &[f32], dst: &mut [Self]);
    /// `dst[i] += sign * src[i]` (the encoded values are exact in `f32`).
    fn add_row(dst: &mut [f32], src: &[Self], sign: f32);
    /// Whether every value of `v` is finite (neither infinite nor NaN).
    fn all_finite(v: &[Self]) -> bool;
}

impl Wire for f32 {
    fn encode_row(src: &[f32], dst: &mut [Self]) {
        dst.copy_from_slice(src);
    }
    fn add_row(dst: &mut [f32], src: &[Self], sign: f32) {
        for (x, &v) in dst.iter_mut().zip(src) {
            *x += sign * v;
        }
    }
    fn all_finite(v: &[Self]) -> bool {
        // no early exit, so that the test vectorises
        v.iter().fold(true, |ok, x| ok & x.is_finite())
    }
}

impl Wire for u16 {
    fn encode_row(src: &[f32], dst: &mut [Self]) {
        #[cfg(target_arch = "x86_64")]
        if has_f16c() {
            // SAFETY: the CPU has F16C and AVX, checked above.
            unsafe { f16c::encode(src, dst) };
            return;
        }
        for (h, &x) in dst.iter_mut().zip(src) {
            *h = f32_to_f16(x);
        }
    }
    fn add_row(dst: &mut [f32], src: &[Self], sign: f32) {
        #[cfg(target_arch = "x86_64")]
        if has_f16c() {
            // SAFETY: as in `encode_row`.
            unsafe { f16c::add_decoded(dst, src, sign) };
            return;
        }
        for (x, &h) in dst.iter_mut().zip(src) {
            *x += sign * f16_to_f32(h);
        }
    }
    fn all_finite(v: &[Self]) -> bool {
        // the exponent field all ones: an infinity or a NaN
        v.iter().fold(true, |ok, &h| ok & (h & 0x7c00 != 0x7c00))
    }
}

/// Whether this CPU converts half precision in hardware (F16C, with AVX).
#[cfg(target_arch = "x86_64")]
fn has_f16c() -> bool {
    std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("f16c")
}

/// The conversions with the F16C instructions (8 values per instruction);
/// the same results as [`f32_to_f16`] and [`f16_to_f32`].
#[cfg(target_arch = "x86_64")]
mod f16c {
    use std::arch::x86_64::*;

    /// `dst[i] = f16(src[i])` over the shorter of the two.
    ///
    /// # Safety
    /// The CPU must have F16C and AVX.
    #[target_feature(enable = "avx,f16c")]
    pub(super) unsafe fn encode(src: &[f32], dst: &mut [u16]) {
        let n = src.len().min(dst.len());
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n, so the 8 floats read and the 8 halves
            // written are inside `src` and `dst`; unaligned loads/stores.
            unsafe {
                let v = _mm256_loadu_ps(src.as_ptr().add(i));
                let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
                _mm_storeu_si128(dst.as_mut_ptr().add(i).cast::<__m128i>(), h);
            }
            i += 8;
        }
        for j in i..n {
            dst[j] = super::f32_to_f16(src[j]);
        }
    }

    /// `dst[i] += sign * f32(src[i])` over the shorter of the two.
    ///
    /// # Safety
    /// The CPU must have F16C and AVX.
    #[target_feature(enable = "avx,f16c")]
    pub(super) unsafe fn add_decoded(dst: &mut [f32], src: &[u16], sign: f32) {
        let n = src.len().min(dst.len());
        let s = _mm256_set1_ps(sign);
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n: the 8 halves read and the 8 floats read
            // and written are inside `src` and `dst`; unaligned accesses.
            unsafe {
                let h = _mm_loadu_si128(src.as_ptr().add(i).cast::<__m128i>());
                let v = _mm256_cvtph_ps(h);
                let p = dst.as_mut_ptr().add(i);
                // multiply, then add: the same two roundings as the scalar tail
                _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), _mm256_mul_ps(s, v)));
            }
            i += 8;
        }
        for j in i..n {
            dst[j] += sign * super::f16_to_f32(src[j]);
        }
    }
}

/// `x` rounded to the nearest binary16 (ties to even; overflow to infinity;
/// NaN stays NaN), as its bits.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        // infinity, or NaN (kept quiet and non-zero)
        return sign
            | 0x7c00
            | if man != 0 {
                0x0200 | (man >> 13) as u16
            } else {
                0
            };
    }
    let e = exp - 127 + 15; // the binary16 exponent field
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // subnormal or zero in binary16: shift the full significand down
        if e < -10 {
            return sign;
        }
        let full = man | 0x0080_0000;
        let shift = (14 - e) as u32; // 13 for the mantissa width, 1 - e for the exponent
        let mut h = full >> shift;
        let rest = full & ((1u32 << shift) - 1);
        let half = 1u32 << (shift - 1);
        if rest > half || (rest == half && (h & 1) == 1) {
            h += 1;
        }
        return sign | h as u16;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) {
        h += 1; // a carry into the exponent is the right result (up to infinity)
    }
    sign | h as u16
}

/// The binary16 value with bits `h`, as an `f32` (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x03ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // subnormal: normalise
            let shift = m.leading_zeros() - 21; // bring the top bit to position 10
            let m = (m << shift) & 0x03ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

fn check(len: usize, dim: usize, what: &str) -> Result<usize> {
    if dim == 0 || !len.is_multiple_of(dim) {
        return Err(Error::invalid(format!(
            "{what} has {len} elements, not rows of {dim}"
        )));
    }
    Ok(len / dim)
}

/// The rows where `w` differs from `base` (both `n x dim`, row-major), and
/// their differences `w - base` encoded as `T`, row after row. With `adopt`,
/// each such row of `base` then becomes `base + decode(encoded)` and `w`
/// takes the same values, so `w == base` everywhere on return; without it
/// neither matrix is written (a replica whose next step overwrites those
/// rows with the combined round anyway).
pub fn take_delta<T: Wire>(
    w: &mut [f32],
    base: &mut [f32],
    dim: usize,
    adopt: bool,
) -> Result<(Vec<i32>, Vec<T>)> {
    let n = check(w.len(), dim, "the weights")?;
    // zeroed allocations: the pages no changed row reaches are never touched
    let mut rows = vec![0i32; n];
    let mut values = vec![T::default(); n * dim];
    let k = take_delta_into(w, base, dim, adopt, &mut rows, &mut values)?;
    rows.truncate(k);
    rows.shrink_to_fit();
    values.truncate(k * dim);
    values.shrink_to_fit();
    Ok((rows, values))
}

/// [`take_delta`] into buffers that hold any delta of the matrix (`rows`
/// at least `n` ids, `values` at least `n * dim` values); returns the number
/// of rows written to their start. A replica that takes a delta every round
/// into the same buffers pays no page faults for fresh ones (12,000 a round
/// for a 265,000-word output layer).
pub fn take_delta_into<T: Wire>(
    w: &mut [f32],
    base: &mut [f32],
    dim: usize,
    adopt: bool,
    rows: &mut [i32],
    values: &mut [T],
) -> Result<usize> {
    let n = check(w.len(), dim, "the weights")?;
    if base.len() != w.len() {
        return Err(Error::invalid(format!(
            "the base copy has {} elements, the weights {}",
            base.len(),
            w.len()
        )));
    }
    if n > i32::MAX as usize {
        return Err(Error::invalid("more rows than an int32 row id can name"));
    }
    if rows.len() < n || values.len() < n * dim {
        return Err(Error::invalid(format!(
            "buffers of {} rows and {} values for a delta of up to {n} rows of {dim}",
            rows.len(),
            values.len()
        )));
    }
    let mut diff = vec![0.0f32; dim];
    let mut k = 0;
    for (i, (wr, br)) in w
        .chunks_exact_mut(dim)
        .zip(base.chunks_exact_mut(dim))
        .enumerate()
    {
        // bitwise, so that a row stays "unchanged" exactly when nobody wrote
        // it; no early exit, so that the comparison vectorises
        let differs = wr
            .iter()
            .zip(br.iter())
            .fold(0u32, |acc, (a, b)| acc | (a.to_bits() ^ b.to_bits()));
        if differs == 0 {
            continue;
        }
        rows[k] = i as i32;
        for ((d, a), b) in diff.iter_mut().zip(wr.iter()).zip(br.iter()) {
            *d = a - b;
        }
        let code = &mut values[k * dim..(k + 1) * dim];
        T::encode_row(&diff, code);
        if adopt {
            T::add_row(br, code, 1.0);
            wr.copy_from_slice(br);
        }
        k += 1;
    }
    Ok(k)
}

fn check_rows(rows: &[i32], n: usize) -> Result<()> {
    if let Some(&bad) = rows.iter().find(|&&r| r < 0 || r as usize >= n) {
        return Err(Error::invalid(format!(
            "row id {bad} is out of range for a matrix of {n} rows"
        )));
    }
    Ok(())
}

/// `m[rows[k]] += sign * values[k]` for each `k` (`values` holds
/// `rows.len()` rows of `dim`; `sign` is 1 or -1; rows may repeat), and, with
/// `mirror` (a matrix of the same shape), each row written is copied there.
pub fn add_rows<T: Wire>(
    m: &mut [f32],
    dim: usize,
    rows: &[i32],
    values: &[T],
    sign: f32,
    mut mirror: Option<&mut [f32]>,
) -> Result<()> {
    let n = check(m.len(), dim, "the matrix")?;
    if values.len() != rows.len() * dim {
        return Err(Error::invalid(format!(
            "{} values for {} rows of {dim}",
            values.len(),
            rows.len()
        )));
    }
    if let Some(other) = &mirror {
        if other.len() != m.len() {
            return Err(Error::invalid(format!(
                "the mirror has {} elements, the matrix {}",
                other.len(),
                m.len()
            )));
        }
    }
    check_rows(rows, n)?;
    for (&r, v) in rows.iter().zip(values.chunks_exact(dim)) {
        let span = r as usize * dim..(r as usize + 1) * dim;
        let row = &mut m[span.clone()];
        T::add_row(row, v, sign);
        if let Some(other) = mirror.as_deref_mut() {
            other[span].copy_from_slice(row);
        }
    }
    Ok(())
}

/// How [`combine`] merges the deltas the replicas sent for one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Their sum (every update any replica made is kept).
    Sum,
    /// Their sum divided by the number of replicas that sent the row.
    Mean,
    /// Their sum `S` scaled by `min(1, sum |d_i|^2 / |S|^2)`: the sum when
    /// the deltas are orthogonal, the mean when they are equal.
    Adaptive,
    /// Their sum divided by `max(s, replicas that sent the row)`, for
    /// replicas that trained at `s` times the learning rate: a row one
    /// replica moved gets its move at the plain rate, a row every replica
    /// moved the average of their moves.
    Scaled(u32),
}

/// The sorted union of the rows in several deltas, and where each lands in it.
#[derive(Debug, Clone)]
pub struct RowUnion {
    /// The rows, ascending.
    pub rows: Vec<i32>,
    /// Position in `rows` of each row of the matrix (unused for the others).
    slot: Vec<u32>,
}

/// The [`RowUnion`] of the `rows` of several deltas over a matrix of `n_rows`.
pub fn row_union(parts: &[&[i32]], n_rows: usize) -> Result<RowUnion> {
    const FREE: u32 = u32::MAX;
    let mut slot = vec![FREE; n_rows];
    let mut rows: Vec<i32> = Vec::new();
    for part in parts {
        check_rows(part, n_rows)?;
        for &r in *part {
            let s = &mut slot[r as usize];
            if *s == FREE {
                *s = 0;
                rows.push(r);
            }
        }
    }
    rows.sort_unstable();
    for (i, &r) in rows.iter().enumerate() {
        slot[r as usize] = i as u32;
    }
    Ok(RowUnion { rows, slot })
}

/// One matrix's deltas from every replica (`(rows, values)` each, `values`
/// holding `rows.len()` rows of `dim`), combined row by row (see
/// [`Combine`]) and encoded as `U` into `out` (`union.rows.len() x dim`,
/// `union` the [`row_union`] of the same rows). Returns whether every
/// encoded value is finite (the driver refuses a round that is not).
///
/// Each output row is summed from the parts in a small buffer, finished
/// (scaled) and encoded while it is in L1: one pass over the deltas, where
/// summing into a full-size `f32` matrix, encoding it and testing it took
/// three (`benches/RESULTS.md`, "The driver's round in one pass"). The rows
/// of each part are visited in ascending order, so the union is merged, not
/// scattered into; parts that are not sorted are visited through a sorted
/// permutation. `threads` workers take contiguous ranges of the union.
/// Rows are summed in part order, so the result does not depend on
/// `threads`.
pub fn combine_into<T: Wire, U: Wire>(
    parts: &[(&[i32], &[T])],
    union: &RowUnion,
    dim: usize,
    mode: Combine,
    out: &mut [U],
    threads: usize,
) -> Result<bool> {
    let n = union.rows.len();
    if out.len() != n * dim {
        return Err(Error::invalid(format!(
            "an output of {} values for {n} rows of {dim}",
            out.len()
        )));
    }
    let mut views = Vec::with_capacity(parts.len());
    for (rows, values) in parts {
        if values.len() != rows.len() * dim {
            return Err(Error::invalid(format!(
                "{} values for {} rows of {dim}",
                values.len(),
                rows.len()
            )));
        }
        // one pass: out-of-range rows and rows of another union both fail here
        let member = |r: i32| {
            usize::try_from(r)
                .ok()
                .and_then(|r| union.slot.get(r))
                .is_some_and(|&i| union.rows.get(i as usize) == Some(&r))
        };
        if let Some(&r) = rows.iter().find(|&&r| !member(r)) {
            return Err(Error::invalid(format!(
                "row id {r} is not in the union of the deltas' rows"
            )));
        }
        views.push(SortedPart::new(rows, values, dim));
    }
    if n == 0 {
        return Ok(true);
    }
    // at least 4,096 rows per thread: below that a thread costs more than it saves
    let threads = threads.clamp(1, n.div_ceil(4096));
    let per = n.div_ceil(threads);
    let finite = std::sync::atomic::AtomicBool::new(true);
    let run = |first: usize, out: &mut [U]| {
        let ok = combine_range(
            &views,
            &union.rows[first..first + out.len() / dim],
            dim,
            mode,
            out,
        );
        if !ok {
            finite.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    };
    std::thread::scope(|scope| {
        let mut chunks = out.chunks_mut(per * dim).enumerate();
        let head = chunks.next();
        for (k, chunk) in chunks {
            let run = &run;
            scope.spawn(move || run(k * per, chunk));
        }
        if let Some((_, chunk)) = head {
            run(0, chunk);
        }
    });
    Ok(finite.into_inner())
}

/// One part of [`combine_into`]'s input, visited in ascending row order.
struct SortedPart<'a, T> {
    rows: &'a [i32],
    values: &'a [T],
    /// Positions of `rows` in ascending row order, where `rows` is not
    /// already ascending.
    order: Option<Vec<u32>>,
    dim: usize,
}

impl<'a, T: Wire> SortedPart<'a, T> {
    fn new(rows: &'a [i32], values: &'a [T], dim: usize) -> Self {
        let sorted = rows.windows(2).all(|w| w[0] <= w[1]);
        let order = (!sorted).then(|| {
            let mut o: Vec<u32> = (0..rows.len() as u32).collect();
            o.sort_by_key(|&k| rows[k as usize]); // stable: repeats keep their order
            o
        });
        SortedPart {
            rows,
            values,
            order,
            dim,
        }
    }

    /// The position of the `k`-th row in ascending order.
    #[inline]
    fn at(&self, k: usize) -> usize {
        self.order.as_ref().map_or(k, |o| o[k] as usize)
    }

    /// The row of the `k`-th entry in ascending order.
    #[inline]
    fn row(&self, k: usize) -> i32 {
        self.rows[self.at(k)]
    }

    /// The values of the `k`-th entry in ascending order.
    #[inline]
    fn values(&self, k: usize) -> &[T] {
        let i = self.at(k);
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// How many entries come before row `r` in ascending order.
    fn start(&self, r: i32) -> usize {
        match &self.order {
            None => self.rows.partition_point(|&x| x < r),
            Some(o) => o.partition_point(|&k| self.rows[k as usize] < r),
        }
    }
}

/// [`combine_into`] for the consecutive union rows `rows`, into `out`;
/// whether every encoded value is finite.
fn combine_range<T: Wire, U: Wire>(
    parts: &[SortedPart<'_, T>],
    rows: &[i32],
    dim: usize,
    mode: Combine,
    out: &mut [U],
) -> bool {
    let Some(&first) = rows.first() else {
        return true;
    };
    let mut cursor: Vec<usize> = parts.iter().map(|p| p.start(first)).collect();
    let mut acc = vec![0.0f32; dim];
    let mut row = vec![0.0f32; dim];
    let mut finite = true;
    for (&r, dst) in rows.iter().zip(out.chunks_exact_mut(dim)) {
        acc.fill(0.0);
        let mut hits = 0u32;
        let mut squares = 0.0f64;
        for (p, c) in parts.iter().zip(cursor.iter_mut()) {
            while *c < p.rows.len() && p.row(*c) == r {
                hits += 1;
                if mode == Combine::Adaptive {
                    // the decoded values themselves, for |d_i|^2
                    row.fill(0.0);
                    T::add_row(&mut row, p.values(*c), 1.0);
                    squares += sum_of_squares(&row);
                    acc.iter_mut().zip(&row).for_each(|(a, &x)| *a += x);
                } else {
                    T::add_row(&mut acc, p.values(*c), 1.0);
                }
                *c += 1;
            }
        }
        match mode {
            Combine::Sum => {}
            Combine::Scaled(s) => {
                let d = hits.max(s).max(1) as f32;
                acc.iter_mut().for_each(|x| *x /= d);
            }
            Combine::Mean => {
                let h = hits as f32;
                acc.iter_mut().for_each(|x| *x /= h);
            }
            Combine::Adaptive => {
                let whole = sum_of_squares(&acc);
                let scale = if whole > 0.0 { squares / whole } else { 1.0 };
                let factor = scale.min(1.0) as f32;
                acc.iter_mut().for_each(|x| *x *= factor);
            }
        }
        U::encode_row(&acc, dst);
        finite &= U::all_finite(dst);
    }
    finite
}

/// `Σ x²` over `v`, in `f64`, in eight interleaved partial sums (one sum
/// in order is a chain of dependent additions the compiler may not
/// reorder; eight let it use vector registers).
#[inline]
fn sum_of_squares(v: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += f64::from(x) * f64::from(x);
        }
    }
    for (l, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *l += f64::from(x) * f64::from(x);
    }
    lanes.iter().sum()
}

/// [`row_union`] and [`combine_into`] in one call, on one thread: the
/// sorted union of the rows and their combined deltas in `f32`.
pub fn combine<T: Wire>(
    parts: &[(&[i32], &[T])],
    n_rows: usize,
    dim: usize,
    mode: Combine,
) -> Result<(Vec<i32>, Vec<f32>)> {
    let rows: Vec<&[i32]> = parts.iter().map(|p| p.0).collect();
    let union = row_union(&rows, n_rows)?;
    let mut out = vec![0.0f32; union.rows.len() * dim];
    combine_into(parts, &union, dim, mode, &mut out, 1)?;
    Ok((union.rows, out))
}

/// `values` encoded as `T`.
pub fn encode<T: Wire>(values: &[f32]) -> Vec<T> {
    let mut out = vec![T::default(); values.len()];
    T::encode_row(values, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_of_squares_is_the_plain_sum_at_every_length() {
        for n in 0..40usize {
            let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
            let plain: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            let got = sum_of_squares(&v);
            assert!(
                (got - plain).abs() <= 1e-12 * plain.max(1.0),
                "n={n}: {got} vs {plain}"
            );
        }
    }

    #[test]
    fn combine_sums_means_and_scales_rows() {
        let (ra, va): (&[i32], &[f32]) = (&[2, 0, 3], &[2.0, 2.0, 1.0, 0.0, 1.0, 0.0]);
        let (rb, vb): (&[i32], &[f32]) = (&[0, 3], &[1.0, 0.0, 0.0, 1.0]);
        let parts = [(ra, va), (rb, vb)];
        let (rows, sum) = combine(&parts, 5, 2, Combine::Sum).unwrap();
        assert_eq!(rows, vec![0, 2, 3]);
        assert_eq!(sum, vec![2.0, 0.0, 2.0, 2.0, 1.0, 1.0]);
        let (_, mean) = combine(&parts, 5, 2, Combine::Mean).unwrap();
        assert_eq!(mean, vec![1.0, 0.0, 2.0, 2.0, 0.5, 0.5]);
        // row 0: equal deltas -> the mean; row 3: orthogonal -> the sum; row 2: one delta
        let (_, adaptive) = combine(&parts, 5, 2, Combine::Adaptive).unwrap();
        assert_eq!(adaptive, vec![1.0, 0.0, 2.0, 2.0, 1.0, 1.0]);
        // replicas at twice the rate: every row's sum halved (row 2 had one
        // sender, rows 0 and 3 two); at four times, divided by four
        let (_, scaled) = combine(&parts, 5, 2, Combine::Scaled(2)).unwrap();
        assert_eq!(scaled, vec![1.0, 0.0, 1.0, 1.0, 0.5, 0.5]);
        let (_, scaled) = combine(&parts, 5, 2, Combine::Scaled(4)).unwrap();
        assert_eq!(scaled, vec![0.5, 0.0, 0.5, 0.5, 0.25, 0.25]);
        // more senders than the scale: their mean
        let (_, capped) = combine(&parts, 5, 2, Combine::Scaled(1)).unwrap();
        assert_eq!(capped, mean);
        // half-precision values decode as in add_rows
        let half: Vec<u16> = encode(va);
        let (_, h) = combine(&[(ra, &half[..])], 5, 2, Combine::Sum).unwrap();
        assert_eq!(h, vec![1.0, 0.0, 2.0, 2.0, 1.0, 0.0]);
        assert!(combine(&[(&[5][..], &[1.0f32, 1.0][..])], 5, 2, Combine::Sum).is_err());
        assert!(combine(&[(ra, &va[..5])], 5, 2, Combine::Sum).is_err());
        let (none, _) = combine::<f32>(&[], 5, 2, Combine::Sum).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn combine_into_is_the_same_on_any_number_of_threads_and_flags_non_finite_rows() {
        // three parts over 20,000 rows of 3 (enough for several threads), one
        // of them unsorted with a repeated row
        let (n, dim) = (20_000usize, 3usize);
        let a: Vec<i32> = (0..n as i32).step_by(2).collect();
        let b: Vec<i32> = (0..n as i32).step_by(3).rev().chain([9, 9]).collect();
        let c: Vec<i32> = vec![n as i32 - 1, 5, 0];
        let vals = |rows: &[i32], k: f32| -> Vec<f32> {
            rows.iter()
                .enumerate()
                .flat_map(|(i, &r)| {
                    (0..dim).map(move |j| ((r as f32 + j as f32) * k + i as f32).sin())
                })
                .collect()
        };
        let (va, vb, vc) = (vals(&a, 0.1), vals(&b, 0.7), vals(&c, 1.3));
        let parts = [(&a[..], &va[..]), (&b[..], &vb[..]), (&c[..], &vc[..])];
        let union = row_union(&[&a, &b, &c], n).unwrap();
        for mode in [
            Combine::Sum,
            Combine::Mean,
            Combine::Adaptive,
            Combine::Scaled(2),
        ] {
            // the reference: each row summed in part order, in f64-free plain loops
            let mut want = vec![0.0f32; union.rows.len() * dim];
            let mut hits = vec![0u32; union.rows.len()];
            for (rows, v) in &parts {
                for (k, &r) in rows.iter().enumerate() {
                    let i = union.slot[r as usize] as usize;
                    hits[i] += 1;
                    for j in 0..dim {
                        want[i * dim + j] += v[k * dim + j];
                    }
                }
            }
            let mut one = vec![0.0f32; want.len()];
            assert!(combine_into(&parts, &union, dim, mode, &mut one, 1).unwrap());
            if mode == Combine::Sum {
                assert_eq!(one, want);
            }
            if let Combine::Scaled(s) = mode {
                for (i, h) in hits.iter().enumerate() {
                    let d = (*h).max(s) as f32;
                    for j in 0..dim {
                        assert_eq!(one[i * dim + j], want[i * dim + j] / d);
                    }
                }
            }
            for threads in [2, 3, 8] {
                let mut many = vec![0.0f32; want.len()];
                assert!(combine_into(&parts, &union, dim, mode, &mut many, threads).unwrap());
                assert_eq!(many, one, "{mode:?} on {threads} threads");
                let mut half = vec![0u16; want.len()];
                assert!(combine_into(&parts, &union, dim, mode, &mut half, threads).unwrap());
                assert_eq!(half, encode::<u16>(&one));
            }
        }
        // a value beyond float16's range, and a NaN, are reported, on any thread
        let big = [0, 1i32];
        let vbig = [1.0f32, 1.0, 1.0, 7e4, 1.0, 1.0];
        let u = row_union(&[&big], 2).unwrap();
        let mut f = vec![0.0f32; 6];
        assert!(combine_into(&[(&big[..], &vbig[..])], &u, dim, Combine::Sum, &mut f, 1).unwrap());
        let mut h = vec![0u16; 6];
        assert!(!combine_into(&[(&big[..], &vbig[..])], &u, dim, Combine::Sum, &mut h, 2).unwrap());
        let mut nan = va.clone();
        nan[dim * (a.len() - 1)] = f32::NAN; // the last row of `a`: the last thread's range
        let ua = row_union(&[&a], n).unwrap();
        let mut out = vec![0.0f32; ua.rows.len() * dim];
        assert!(!combine_into(&[(&a[..], &nan[..])], &ua, dim, Combine::Sum, &mut out, 3).unwrap());
    }

    #[test]
    fn f16_round_trips_every_half_value() {
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan());
            } else {
                assert_eq!(f32_to_f16(x), h, "bits {h:#06x} ({x})");
            }
        }
    }

    #[test]
    fn hardware_and_software_half_conversions_agree() {
        // every half value, each float32 halfway between two halves (and
        // just either side), and the edges; 37 values so that a tail remains
        let mut xs: Vec<f32> = (0..=u16::MAX)
            .map(f16_to_f32)
            .filter(|x| !x.is_nan())
            .collect();
        for h in 0..0x7bffu16 {
            let mid = (f16_to_f32(h) + f16_to_f32(h + 1)) / 2.0;
            xs.extend([
                mid,
                f32::from_bits(mid.to_bits() + 1),
                f32::from_bits(mid.to_bits() - 1),
            ]);
        }
        xs.extend([65519.0, 65520.0, 1e9, -1e9, 1e-9, f32::INFINITY]);
        xs.truncate(xs.len() / 37 * 37 + 5);
        let mut hw = vec![0u16; xs.len()];
        u16::encode_row(&xs, &mut hw);
        let sw: Vec<u16> = xs.iter().map(|&x| f32_to_f16(x)).collect();
        assert_eq!(hw, sw);
        let mut back = vec![0.5f32; xs.len()];
        u16::add_row(&mut back, &hw, -1.0);
        let expect: Vec<f32> = sw.iter().map(|&h| 0.5 - f16_to_f32(h)).collect();
        assert_eq!(back, expect);
    }

    #[test]
    fn f16_rounds_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties to even
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11) + 2f32.powi(-20)), 0x3c01);
        assert_eq!(f32_to_f16(65520.0), 0x7c00); // rounds up past the largest half
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0); // halfway to the smallest subnormal
        assert_eq!(f32_to_f16(2f32.powi(-25) * 1.5), 1);
        assert_eq!(f32_to_f16(-2f32.powi(-24)), 0x8001);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }

    #[test]
    fn take_delta_finds_changed_rows_and_adopts_the_encoded_values() {
        let base0 = vec![0.5f32; 12];
        let mut base = base0.clone();
        let mut w = base.clone();
        w[4] = 0.5 + 1e-4; // row 1
        w[11] = -3.0; // row 3

        // without adopting, the same delta and neither matrix written
        let (w_before, base_before) = (w.clone(), base.clone());
        let lazy = take_delta::<u16>(&mut w, &mut base, 3, false).unwrap();
        assert_eq!((&w, &base), (&w_before, &base_before));
        // into buffers (filled with garbage): the same rows and values at their start
        let (mut rows, mut values) = (vec![7i32; 5], vec![9u16; 15]);
        let k = take_delta_into::<u16>(&mut w, &mut base, 3, false, &mut rows, &mut values);
        assert_eq!(k.unwrap(), 2);
        assert_eq!((&rows[..2], &values[..6]), (&lazy.0[..], &lazy.1[..]));
        let (rows, values) = take_delta::<u16>(&mut w, &mut base, 3, true).unwrap();
        assert_eq!((&rows, &values), (&lazy.0, &lazy.1));
        assert_eq!(rows, vec![1, 3]);
        assert_eq!(values.len(), 6);
        assert_eq!(values[1], f32_to_f16(1e-4));
        assert_eq!(values[0], 0);
        assert_eq!(w, base);
        assert_eq!(base[4], 0.5 + f16_to_f32(f32_to_f16(1e-4)));
        assert_eq!(base[11], -3.0);
        // nothing changed since: an empty delta
        let (rows, values) = take_delta::<f32>(&mut w, &mut base, 3, true).unwrap();
        assert!(rows.is_empty() && values.is_empty());
        // applying the delta to another copy of the old base gives the new base
        let mut other = base0;
        let (rows, values) = {
            let mut w2 = base.clone();
            w2[0] = 1.0;
            take_delta::<f32>(&mut w2, &mut base.clone(), 3, true).unwrap()
        };
        add_rows(&mut other, 3, &rows, &values, 1.0, None).unwrap();
        assert_eq!(other[0], 1.0);
    }

    #[test]
    fn add_rows_checks_its_input() {
        let mut m = vec![0.0f32; 6];
        let values = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        add_rows(&mut m, 2, &[2, 0, 2], &values, 1.0, None).unwrap();
        assert_eq!(m, vec![3.0, 4.0, 0.0, 0.0, 6.0, 8.0]);
        let mut mirror = vec![-1.0f32; 6];
        add_rows(&mut m, 2, &[2], &[1.0f32, 1.0], -1.0, Some(&mut mirror)).unwrap();
        assert_eq!(&m[4..], &[5.0, 7.0]);
        assert_eq!(mirror, vec![-1.0, -1.0, -1.0, -1.0, 5.0, 7.0]);
        assert!(add_rows(&mut m, 2, &[3], &[1.0f32, 1.0], 1.0, None).is_err());
        assert!(add_rows(&mut m, 2, &[-1], &[1.0f32, 1.0], 1.0, None).is_err());
        assert!(add_rows(&mut m, 2, &[0], &[1.0f32], 1.0, None).is_err());
        let short = Some(&mut [0.0f32; 4][..]);
        assert!(add_rows(&mut m, 2, &[0], &[1.0f32, 1.0], 1.0, short).is_err());
        assert!(take_delta::<f32>(&mut m, &mut [0.0; 4], 2, true).is_err());
        let (mut rows, mut values) = (vec![0i32; 2], vec![0.0f32; 3]);
        let short = take_delta_into::<f32>(&mut m, &mut [0.0; 6], 3, true, &mut rows, &mut values);
        assert!(short.is_err());
        assert!(take_delta::<f32>(&mut m, &mut [0.0; 6], 4, true).is_err());
    }
}
