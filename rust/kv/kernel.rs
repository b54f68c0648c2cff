//! The inner loop of similarity search: dot products of many rows with one
//! query, compiled for several instruction sets and picked at run time.
//!
//! `multiversion` builds one copy of [`dots`] per listed target (AVX-512,
//! AVX2+FMA, AVX, NEON) plus a portable one, and dispatches on the CPU the
//! first time it is called; the loops are plain Rust that LLVM vectorises
//! for each copy (no `unsafe` here). Four rows are processed together so the
//! query chunk loaded into registers is reused four times, and sixteen
//! independent lanes per row keep the adders busy.

use multiversion::multiversion;

use crate::linalg::{dot, hsum, LANES};

#[inline(always)]
fn dot_lanes(row: &[f32], q: &[f32]) -> f32 {
    dot(row, q)
}

/// `out[i] = dot(row i of data, q)` for the `out.len()` rows of `data`
/// (row length `q.len()`).
///
/// ```
/// let data = [1.0f32, 2.0, 3.0, 4.0];
/// let mut out = [0.0f32; 2];
/// embedrs::kv::dots(&data, &[1.0, 1.0], &mut out);
/// assert_eq!(out, [3.0, 7.0]);
/// ```
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
pub fn dots(data: &[f32], q: &[f32], out: &mut [f32]) {
    let dim = q.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    let n = out.len().min(data.len() / dim);
    let main = dim / LANES * LANES;
    let mut i = 0;
    while i + 4 <= n {
        let r0 = &data[i * dim..(i + 1) * dim];
        let r1 = &data[(i + 1) * dim..(i + 2) * dim];
        let r2 = &data[(i + 2) * dim..(i + 3) * dim];
        let r3 = &data[(i + 3) * dim..(i + 4) * dim];
        let mut a0 = [0.0f32; LANES];
        let mut a1 = [0.0f32; LANES];
        let mut a2 = [0.0f32; LANES];
        let mut a3 = [0.0f32; LANES];
        let mut o = 0;
        while o < main {
            let qq = &q[o..o + LANES];
            let (x0, x1) = (&r0[o..o + LANES], &r1[o..o + LANES]);
            let (x2, x3) = (&r2[o..o + LANES], &r3[o..o + LANES]);
            for k in 0..LANES {
                a0[k] += x0[k] * qq[k];
                a1[k] += x1[k] * qq[k];
                a2[k] += x2[k] * qq[k];
                a3[k] += x3[k] * qq[k];
            }
            o += LANES;
        }
        let mut t = [0.0f32; 4];
        for j in main..dim {
            t[0] += r0[j] * q[j];
            t[1] += r1[j] * q[j];
            t[2] += r2[j] * q[j];
            t[3] += r3[j] * q[j];
        }
        out[i] = t[0] + hsum(&a0);
        out[i + 1] = t[1] + hsum(&a1);
        out[i + 2] = t[2] + hsum(&a2);
        out[i + 3] = t[3] + hsum(&a3);
        i += 4;
    }
    while i < n {
        out[i] = dot_lanes(&data[i * dim..(i + 1) * dim], q);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_for_all_tails() {
        for dim in [1usize, 3, 15, 16, 17, 33, 100, 300] {
            for n in [0usize, 1, 3, 4, 5, 9] {
                let data: Vec<f32> = (0..n * dim).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
                let q: Vec<f32> = (0..dim)
                    .map(|i| ((i * 5) % 11) as f32 * 0.5 - 2.0)
                    .collect();
                let mut out = vec![0.0f32; n];
                dots(&data, &q, &mut out);
                for r in 0..n {
                    let want: f32 = (0..dim).map(|j| data[r * dim + j] * q[j]).sum();
                    assert!((out[r] - want).abs() < 1e-3, "dim {dim} row {r}");
                }
            }
        }
    }
}
