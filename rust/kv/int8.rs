//! Integer dot products of int8 row codes with int8 queries, in a layout
//! made for AVX-512 VNNI.
//!
//! Rows are stored in blocks of [`BLOCK`] = 16. A block holds, for each group
//! of four dimensions (a "quad"), 64 bytes: four consecutive codes of each of
//! its 16 rows. Codes are unsigned, `u = c + 128` for a signed code `c`, and
//! rows are zero-padded (`c = 0`, so `u = 128`) to a whole number of quads.
//!
//! With that layout one `vpdpbusd` (u8 x i8, four products summed into each
//! of 16 int32 lanes) takes one quad of a block and the query's four codes
//! for that quad broadcast to every lane, and accumulates the partial dot
//! products of all 16 rows at once: no horizontal sums, and the 16 results
//! come out as one vector. Each loaded block quad is reused for up to four
//! queries ([`dots_u8`] with several queries), and several blocks are in
//! flight at once to hide the instruction's latency.
//!
//! The sums returned are `sum_j u_rj * p_j = sum_j c_rj * p_j + 128 * sum_j p_j`;
//! callers subtract the second term ([`query_offset`]). No step saturates:
//! `|u * p| <= 255 * 128`, so an int32 lane holds at least 65,000 dimensions.
//!
//! CPUs without AVX-512 VNNI run a portable version of the same loops
//! (autovectorised per instruction set by `multiversion`), with identical
//! results: integer sums do not depend on their order.

use multiversion::multiversion;

/// Rows per interleaved block.
pub const BLOCK: usize = 16;
/// Bytes of one quad of one block.
pub const QUAD_BYTES: usize = 4 * BLOCK;

/// `128 * sum_j p_j`: the term that the unsigned row codes add to each sum.
pub fn query_offset(p: &[i8]) -> i32 {
    128 * p.iter().map(|&x| i32::from(x)).sum::<i32>()
}

/// Writes the signed codes `rows` (`BLOCK` rows or fewer, of `dim` codes
/// each, row-major) into one interleaved block of `quads` quads.
pub fn pack_block(rows: &[i8], dim: usize, quads: usize, block: &mut [u8]) {
    assert!(quads * 4 >= dim && block.len() == quads * QUAD_BYTES);
    block.fill(128);
    if dim == 0 {
        return;
    }
    for (r, row) in rows.chunks_exact(dim).take(BLOCK).enumerate() {
        for (j, &c) in row.iter().enumerate() {
            block[(j / 4) * QUAD_BYTES + r * 4 + j % 4] = (i16::from(c) + 128) as u8;
        }
    }
}

/// Raw sums of every row of `codes` (whole blocks of `quads` quads) with
/// each of the `queries` (`m` queries of `4 * quads` signed codes, one after
/// the other): `out[i * rows + r]` for query `i` and row `r`, where
/// `rows = 16 * blocks` and `out.len() == m * rows`.
///
/// ```
/// use embedrs::kv::int8::{dots_u8, pack_block, query_offset};
/// let rows: [i8; 6] = [1, -2, 3, 4, 5, -6]; // two rows of 3 codes
/// let mut block = vec![0u8; 64];
/// pack_block(&rows, 3, 1, &mut block);
/// let q: [i8; 4] = [2, 1, -1, 0]; // padded to a quad
/// let mut out = vec![0i32; 16];
/// dots_u8(&block, 1, &q, &mut out);
/// let off = query_offset(&q);
/// assert_eq!(out[0] - off, 2 - 2 - 3);
/// assert_eq!(out[1] - off, 8 + 5 + 6);
/// assert_eq!(out[2] - off, 0); // padding rows score 0
/// ```
pub fn dots_u8(codes: &[u8], quads: usize, queries: &[i8], out: &mut [i32]) {
    let block_bytes = quads * QUAD_BYTES;
    if quads == 0 {
        out.fill(0);
        return;
    }
    assert_eq!(codes.len() % block_bytes, 0, "codes must be whole blocks");
    assert_eq!(
        queries.len() % (4 * quads),
        0,
        "queries must be whole quads"
    );
    let blocks = codes.len() / block_bytes;
    let m = queries.len() / (4 * quads);
    assert_eq!(out.len(), m * blocks * BLOCK, "out must hold m x rows sums");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vnni") {
        // SAFETY: both features the function is compiled for were detected
        // just above, and the slice lengths it relies on were asserted.
        unsafe { vnni::dots(codes, quads, queries, out) };
        return;
    }
    dots_portable(codes, quads, queries, out);
}

/// The portable kernel: one block and one query at a time.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn dots_portable(codes: &[u8], quads: usize, queries: &[i8], out: &mut [i32]) {
    let block_bytes = quads * QUAD_BYTES;
    let rows = codes.len() / block_bytes * BLOCK;
    for (q, o) in queries
        .chunks_exact(4 * quads)
        .zip(out.chunks_exact_mut(rows.max(1)))
    {
        for (block, ob) in codes
            .chunks_exact(block_bytes)
            .zip(o.chunks_exact_mut(BLOCK))
        {
            let mut acc = [0i32; BLOCK];
            for (quad, p) in block.chunks_exact(QUAD_BYTES).zip(q.chunks_exact(4)) {
                for r in 0..BLOCK {
                    for b in 0..4 {
                        acc[r] += i32::from(quad[r * 4 + b]) * i32::from(p[b]);
                    }
                }
            }
            ob.copy_from_slice(&acc);
        }
    }
}

// AVX-512 intrinsics are stable since Rust 1.89 (as is the `avx512f`
// target feature that rust/w2v already enables).
#[cfg(target_arch = "x86_64")]
#[clippy::msrv = "1.89"]
mod vnni {
    use std::arch::x86_64::{
        __m512i, _mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_setzero_si512,
        _mm512_storeu_si512,
    };

    use super::{BLOCK, QUAD_BYTES};

    /// Sums of `R` consecutive blocks (starting at `codes`) with `Q` queries.
    ///
    /// # Safety
    /// The CPU supports AVX-512F and AVX-512 VNNI; `codes` points at `R`
    /// blocks of `quads` quads; each `q[i]` at `4 * quads` readable bytes;
    /// each `out[i]` at `R * BLOCK` writable int32.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn tile<const R: usize, const Q: usize>(
        codes: *const u8,
        quads: usize,
        q: [*const i8; Q],
        out: [*mut i32; Q],
    ) {
        let mut acc: [[__m512i; R]; Q] = [[_mm512_setzero_si512(); R]; Q];
        let block_bytes = quads * QUAD_BYTES;
        for j in 0..quads {
            let mut x = [_mm512_setzero_si512(); R];
            for (r, xr) in x.iter_mut().enumerate() {
                // SAFETY: block r < R, quad j < quads: inside the R blocks.
                *xr = unsafe {
                    _mm512_loadu_si512(codes.add(r * block_bytes + j * QUAD_BYTES).cast())
                };
            }
            for i in 0..Q {
                // SAFETY: bytes 4j..4j+4 of query i, which has 4 * quads bytes.
                let p = unsafe { q[i].add(4 * j).cast::<i32>().read_unaligned() };
                let b = _mm512_set1_epi32(p);
                for r in 0..R {
                    acc[i][r] = _mm512_dpbusd_epi32(acc[i][r], x[r], b);
                }
            }
        }
        for i in 0..Q {
            for r in 0..R {
                // SAFETY: out[i] has room for R * BLOCK int32.
                unsafe { _mm512_storeu_si512(out[i].add(r * BLOCK).cast(), acc[i][r]) };
            }
        }
    }

    /// Every block of `blocks` (starting at block `b`, `R` at a time) with
    /// every query, in groups of up to four.
    ///
    /// # Safety
    /// As [`dots`], and `b + R <= blocks`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn tile_all_queries<const R: usize>(
        codes: &[u8],
        quads: usize,
        queries: &[i8],
        out: &mut [i32],
        b: usize,
    ) {
        let block_bytes = quads * QUAD_BYTES;
        let rows = codes.len() / block_bytes * BLOCK;
        let m = queries.len() / (4 * quads);
        // Pointer arithmetic only; the reads and writes happen in `tile`.
        let c = codes.as_ptr().wrapping_add(b * block_bytes);
        let qp = |i: usize| queries.as_ptr().wrapping_add(i * 4 * quads);
        let outp = out.as_mut_ptr();
        let op = |i: usize| outp.wrapping_add(i * rows + b * BLOCK);
        let mut i = 0;
        // SAFETY (all four calls): the caller's contract gives the features
        // and R whole blocks at block b; queries i..i+Q exist (i + Q <= m)
        // and their sums for rows b*16.. fit in `out` (m x rows), which is
        // borrowed mutably here and written only through `outp`.
        unsafe {
            while i + 4 <= m {
                tile::<R, 4>(
                    c,
                    quads,
                    [qp(i), qp(i + 1), qp(i + 2), qp(i + 3)],
                    [op(i), op(i + 1), op(i + 2), op(i + 3)],
                );
                i += 4;
            }
            match m - i {
                3 => tile::<R, 3>(
                    c,
                    quads,
                    [qp(i), qp(i + 1), qp(i + 2)],
                    [op(i), op(i + 1), op(i + 2)],
                ),
                2 => tile::<R, 2>(c, quads, [qp(i), qp(i + 1)], [op(i), op(i + 1)]),
                1 => tile::<R, 1>(c, quads, [qp(i)], [op(i)]),
                _ => {}
            }
        }
    }

    /// [`super::dots_u8`] with VNNI.
    ///
    /// # Safety
    /// The CPU supports AVX-512F and AVX-512 VNNI; `quads > 0`, `codes` is
    /// whole blocks, `queries` whole queries and `out` holds `m x rows`.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn dots(codes: &[u8], quads: usize, queries: &[i8], out: &mut [i32]) {
        let blocks = codes.len() / (quads * QUAD_BYTES);
        let m = queries.len() / (4 * quads);
        let mut b = 0;
        // SAFETY (both loops): the contract above, and b + R <= blocks.
        unsafe {
            if m <= 2 {
                // one query (its two code parts): four blocks in flight hide
                // vpdpbusd's latency
                while b + 4 <= blocks {
                    tile_all_queries::<4>(codes, quads, queries, out, b);
                    b += 4;
                }
            } else {
                // several: two blocks x four queries = eight accumulators
                while b + 2 <= blocks {
                    tile_all_queries::<2>(codes, quads, queries, out, b);
                    b += 2;
                }
            }
            while b < blocks {
                tile_all_queries::<1>(codes, quads, queries, out, b);
                b += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::Rng;

    fn random_codes(n: usize, rng: &mut Rng) -> Vec<i8> {
        (0..n)
            .map(|_| ((rng.uniform() * 255.0) as i32 - 127).clamp(-127, 127) as i8)
            .collect()
    }

    /// Every row count, dimension and query count against a naive scalar sum,
    /// through the dispatched kernel and the portable one.
    #[test]
    fn matches_naive_sums() {
        let mut rng = Rng::new(5);
        for dim in [1usize, 3, 4, 5, 17, 63, 100, 301] {
            let quads = dim.div_ceil(4);
            for n in [1usize, 15, 16, 17, 40, 70, 100] {
                let rows = random_codes(n * dim, &mut rng);
                let blocks = n.div_ceil(BLOCK);
                let mut codes = vec![0u8; blocks * quads * QUAD_BYTES];
                for (b, block) in codes.chunks_exact_mut(quads * QUAD_BYTES).enumerate() {
                    let part = &rows[b * BLOCK * dim..((b + 1) * BLOCK).min(n) * dim];
                    pack_block(part, dim, quads, block);
                }
                for m in [1usize, 2, 3, 4, 5, 9] {
                    let mut queries = vec![0i8; m * quads * 4];
                    for q in queries.chunks_exact_mut(quads * 4) {
                        q[..dim].copy_from_slice(&random_codes(dim, &mut rng));
                    }
                    let mut fast = vec![0i32; m * blocks * BLOCK];
                    let mut portable = fast.clone();
                    dots_u8(&codes, quads, &queries, &mut fast);
                    dots_portable(&codes, quads, &queries, &mut portable);
                    assert_eq!(fast, portable, "dim {dim} n {n} m {m}");
                    for (i, q) in queries.chunks_exact(quads * 4).enumerate() {
                        let off = query_offset(q);
                        for r in 0..blocks * BLOCK {
                            let want: i32 = if r < n {
                                (0..dim)
                                    .map(|j| i32::from(rows[r * dim + j]) * i32::from(q[j]))
                                    .sum()
                            } else {
                                0
                            };
                            let got = fast[i * blocks * BLOCK + r] - off;
                            assert_eq!(got, want, "dim {dim} n {n} m {m} query {i} row {r}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn extreme_codes_do_not_saturate() {
        let dim = 1000;
        let quads = dim / 4;
        let rows = vec![-127i8; BLOCK * dim];
        let mut codes = vec![0u8; quads * QUAD_BYTES];
        pack_block(&rows, dim, quads, &mut codes);
        let q = vec![-127i8; dim];
        let mut out = vec![0i32; BLOCK];
        dots_u8(&codes, quads, &q, &mut out);
        assert!(out
            .iter()
            .all(|&s| s - query_offset(&q) == 127 * 127 * 1000));
    }
}
