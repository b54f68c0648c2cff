//! Exact top-k search that reads a quarter of the bytes: an int8 copy of the
//! unit-normalised rows for a first pass, then exact float32 re-scoring of
//! the few rows that can still be in the top k.
//!
//! A single query over a large matrix is bound by memory bandwidth, so
//! reading 1 byte per value instead of 4 is what makes it faster; exactness
//! comes from a per-row error bound.
//!
//! Row `i` is stored as codes `c_ij = round(u_ij / s_i)` with
//! `s_i = max_j |u_ij| / 127` (`u_i` the unit row), the query likewise as
//! `p_j = round(q_j / t)`. Writing `u_ij = s_i (c_ij + e_ij)` and
//! `q_j = t (p_j + f_j)` with `|e|, |f| <= 1/2`,
//!
//! ```text
//! cos_i = s_i t sum_j (c_ij + e_ij)(p_j + f_j)
//!       = a_i + s_i t sum_j (c_ij f_j + e_ij p_j + e_ij f_j),   a_i = s_i t sum_j c_ij p_j
//! |cos_i - a_i| <= s_i t (A_i / 2 + P / 2 + d / 4) =: b_i,      A_i = sum_j |c_ij|, P = sum_j |p_j|
//! ```
//!
//! so `a_i - b_i <= cos_i <= a_i + b_i`. Let `tau` be the k-th largest lower
//! bound: at least k rows score `>= tau`, hence every row of the true top k
//! has an upper bound `>= tau`. Those candidates are re-scored with the same
//! float32 kernel as the plain scan, so the answer is identical to it.

use std::ops::Range;

use multiversion::multiversion;
use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::{dots, unit, TopK};
use crate::{Error, Result};

/// Extra slack on every bound, covering float32 rounding in the exact scores.
const SLACK: f32 = 1e-5;
const BLOCK_ROWS: usize = 4096;

/// The int8 copy of a matrix's unit rows, with per-row scales.
#[derive(Debug, Clone)]
pub struct QuantIndex {
    dim: usize,
    codes: Vec<i8>,
    scale: Vec<f32>,
    /// `s_i * A_i / 2`.
    half_abs: Vec<f32>,
}

/// `out[i] = sum_j codes[i, j] * q[j]` for the rows of `codes` (length `q.len()`).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn dots_i8(codes: &[i8], q: &[i8], out: &mut [i32]) {
    let dim = q.len();
    const L: usize = 32;
    let main = dim / L * L;
    for (o, row) in out.iter_mut().zip(codes.chunks_exact(dim)) {
        let mut acc = [0i32; L];
        let mut c = 0;
        while c < main {
            let (x, y) = (&row[c..c + L], &q[c..c + L]);
            for k in 0..L {
                acc[k] += (x[k] as i16 * y[k] as i16) as i32;
            }
            c += L;
        }
        let mut s: i32 = acc.iter().sum();
        for j in main..dim {
            s += row[j] as i32 * q[j] as i32;
        }
        *o = s;
    }
}

fn quantize(u: &[f32], out: &mut [i8]) -> (f32, f32) {
    let m = u.iter().fold(0.0f32, |a, &x| a.max(x.abs()));
    if m == 0.0 || !m.is_finite() {
        out.fill(0);
        return (0.0, 0.0);
    }
    let s = m / 127.0;
    let mut abs_sum = 0i64;
    for (o, &x) in out.iter_mut().zip(u) {
        let c = (x / s).round().clamp(-127.0, 127.0) as i8;
        abs_sum += (c as i64).abs();
        *o = c;
    }
    (s, abs_sum as f32)
}

impl QuantIndex {
    /// Builds the index of `vectors` (C-contiguous) with their row `norms`.
    pub fn build(
        vectors: ArrayView2<f32>,
        norms: &[f32],
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Self> {
        let (n, dim) = vectors.dim();
        let data = vectors.as_slice().ok_or_else(|| {
            Error::invalid(
                "vectors must be a C-contiguous float32 array (use numpy.ascontiguousarray)",
            )
        })?;
        if norms.len() != n {
            return Err(Error::invalid(
                "norms do not match the matrix; call fill_norms(force=True)",
            ));
        }
        let mut codes = vec![0i8; n * dim];
        let mut scale = vec![0.0f32; n];
        let mut half_abs = vec![0.0f32; n];
        if dim > 0 {
            let mut work = || {
                codes
                    .par_chunks_mut(dim * 1024)
                    .zip(scale.par_chunks_mut(1024))
                    .zip(half_abs.par_chunks_mut(1024))
                    .zip(data.par_chunks(dim * 1024))
                    .zip(norms.par_chunks(1024))
                    .for_each(|((((c, s), h), rows), nr)| {
                        let mut u = vec![0.0f32; dim];
                        for i in 0..nr.len() {
                            let row = &rows[i * dim..(i + 1) * dim];
                            let inv = if nr[i] > 0.0 { 1.0 / nr[i] } else { 0.0 };
                            for (uj, &x) in u.iter_mut().zip(row) {
                                *uj = x * inv;
                            }
                            let (si, a) = quantize(&u, &mut c[i * dim..(i + 1) * dim]);
                            s[i] = si;
                            h[i] = si * a * 0.5;
                        }
                    })
            };
            match pool {
                Some(p) => p.install(work),
                None => work(),
            }
        }
        Ok(Self {
            dim,
            codes,
            scale,
            half_abs,
        })
    }

    /// Number of rows indexed.
    pub fn len(&self) -> usize {
        self.scale.len()
    }

    /// Whether the index has no rows.
    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
    }

    /// Exact top-`k` rows of `range` for `query` (same answer as
    /// [`super::top_k`]); `vectors`/`norms` must be those it was built from.
    pub fn top_k(
        &self,
        vectors: ArrayView2<f32>,
        norms: &[f32],
        query: ArrayView1<f32>,
        range: Range<usize>,
        k: usize,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Vec<(usize, f32)>> {
        let (n, dim) = vectors.dim();
        if n != self.len() || dim != self.dim || norms.len() != n {
            return Err(Error::invalid(
                "the int8 index is stale: it was built for another matrix",
            ));
        }
        if query.len() != dim {
            return Err(Error::invalid(format!(
                "query vector has {} dimensions, the model has {dim}",
                query.len()
            )));
        }
        if range.start > range.end || range.end > n {
            return Err(Error::invalid(format!(
                "row range {}..{} is outside the {n} rows of the matrix",
                range.start, range.end
            )));
        }
        if dim == 0 || range.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let data = vectors
            .as_slice()
            .ok_or_else(|| Error::invalid("vectors must be C-contiguous"))?;
        let q = unit(query);
        let mut q8 = vec![0i8; dim];
        let (t, p_abs) = quantize(&q, &mut q8);
        if t == 0.0 {
            return super::top_k(vectors, norms, query, range, k, pool);
        }
        let qconst = t * (0.5 * p_abs + 0.25 * dim as f32);
        // Pass 1: approximate scores, and the k best lower bounds.
        let mut approx = vec![0.0f32; range.len()];
        let pass1 = |(b, out): (usize, &mut [f32])| -> TopK {
            let first = range.start + b * BLOCK_ROWS;
            let mut ints = vec![0i32; out.len()];
            let codes = &self.codes[first * dim..(first + out.len()) * dim];
            dots_i8(codes, &q8, &mut ints);
            let mut lower = TopK::new(k);
            let mut threshold = f32::NEG_INFINITY;
            for (i, (o, &d)) in out.iter_mut().zip(&ints).enumerate() {
                let r = first + i;
                let s = self.scale[r];
                let a = s * t * d as f32;
                let bound = t * self.half_abs[r] + s * qconst + SLACK;
                *o = a + bound; // keep the upper bound for pass 2
                if a - bound >= threshold {
                    lower.push(r, a - bound);
                    threshold = lower.threshold();
                }
            }
            lower
        };
        let lower = match pool {
            Some(p) if range.len() * dim >= (1 << 20) => p.install(|| {
                approx
                    .par_chunks_mut(BLOCK_ROWS)
                    .enumerate()
                    .map(pass1)
                    .reduce(
                        || TopK::new(k),
                        |mut a, b| {
                            a.merge(b);
                            a
                        },
                    )
            }),
            _ => {
                let mut all = TopK::new(k);
                for item in approx.chunks_mut(BLOCK_ROWS).enumerate() {
                    all.merge(pass1(item));
                }
                all
            }
        };
        let sorted = lower.into_sorted();
        let tau = if sorted.len() < k {
            f32::NEG_INFINITY
        } else {
            sorted[k - 1].1
        };
        // Pass 2: exact scores of every row whose upper bound reaches tau.
        let mut top = TopK::new(k);
        let mut exact = [0.0f32; 1];
        for (i, &upper) in approx.iter().enumerate() {
            let r = range.start + i;
            if upper >= tau {
                dots(&data[r * dim..(r + 1) * dim], &q, &mut exact);
                let nr = norms[r];
                top.push(r, if nr > 0.0 { exact[0] / nr } else { 0.0 });
            }
        }
        Ok(top.into_sorted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{row_norms, top_k};
    use crate::sampling::Rng;
    use ndarray::Array2;

    #[test]
    fn identical_to_exact_scan() {
        let mut rng = Rng::new(9);
        for &(n, d) in &[(3000usize, 50usize), (500, 7), (2000, 130)] {
            // clustered data: many near-ties, the hard case for the bound
            let centers = Array2::from_shape_fn((5, d), |_| rng.uniform() - 0.5);
            let m = Array2::from_shape_fn((n, d), |(i, j)| {
                centers[[i % 5, j]] + 0.05 * (rng.uniform() - 0.5)
            });
            let mut m = m;
            m.row_mut(3).fill(0.0);
            let norms = row_norms(m.view(), None).unwrap();
            let pool = crate::thread_pool(2).unwrap();
            let idx = QuantIndex::build(m.view(), &norms, Some(&pool)).unwrap();
            for qi in [0usize, 1, 7, 3] {
                let q = m.row(qi);
                for (range, k) in [(0..n, 10usize), (100..n / 2, 3), (0..n, 1)] {
                    let want = top_k(m.view(), &norms, q, range.clone(), k, None).unwrap();
                    let got = idx
                        .top_k(m.view(), &norms, q, range.clone(), k, Some(&pool))
                        .unwrap();
                    assert_eq!(got, want, "n={n} d={d} q={qi} range={range:?}");
                }
            }
        }
    }

    #[test]
    fn stale_index_is_refused() {
        let m = Array2::<f32>::ones((4, 3));
        let norms = row_norms(m.view(), None).unwrap();
        let idx = QuantIndex::build(m.view(), &norms, None).unwrap();
        let other = Array2::<f32>::ones((5, 3));
        let n2 = row_norms(other.view(), None).unwrap();
        assert!(idx
            .top_k(other.view(), &n2, other.row(0), 0..5, 2, None)
            .is_err());
    }
}
