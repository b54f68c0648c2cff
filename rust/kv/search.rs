//! Cosine similarity search over the rows of a keyed-vector matrix.
//!
//! The matrix is never copied or normalised in place: a row's cosine with a
//! unit-length query `q` is `dot(row, q) / norm(row)`, with the row norms
//! computed once ([`row_norms`]) and kept by the caller (gensim's `norms`).
//! Rows whose norm is zero score 0.
//!
//! * [`top_k`] answers one query: each thread scans a contiguous block of
//!   rows into its own [`TopK`], and the blocks are merged. A single query is
//!   bound by reading the matrix from memory, so it only splits across
//!   threads when the scanned range is large enough to pay for it.
//! * [`top_k_batch`] answers many queries in one pass over the matrix: rows
//!   are taken in cache-sized blocks and multiplied with all queries at once
//!   (a small matrix product through `ndarray`'s GEMM, which picks AVX/FMA at
//!   run time), so each row is read from memory once per batch, not once per
//!   query.

use std::ops::Range;

use ndarray::{linalg::general_mat_mul, s, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::{dots, TopK};
use crate::linalg::dot;
use crate::{Error, Result};

/// Work (rows x dimensions) below which a single query runs on the calling
/// thread: splitting smaller scans costs more than it saves.
const PARALLEL_MIN_WORK: usize = 1 << 18;
/// Rows per block in a batched scan (a block of 512 rows x 300 floats is
/// 600 KiB, which stays in L2 while every query is scored against it).
const BATCH_BLOCK_ROWS: usize = 512;

/// The rows of `vectors` as one slice, which must be C-contiguous.
fn contiguous<'a>(vectors: &'a ArrayView2<'_, f32>, what: &str) -> Result<&'a [f32]> {
    vectors
        .as_slice()
        .ok_or_else(|| Error::invalid(format!("{what} must be a contiguous row-major matrix")))
}

fn check_inputs(vectors: &ArrayView2<f32>, norms: &[f32], range: &Range<usize>) -> Result<()> {
    let n = vectors.nrows();
    if norms.len() != n {
        return Err(Error::invalid(format!(
            "norms has {} entries but the matrix has {n} rows; recompute the norms",
            norms.len()
        )));
    }
    if range.start > range.end || range.end > n {
        return Err(Error::invalid(format!(
            "row range {}..{} is outside the {n} rows of the matrix",
            range.start, range.end
        )));
    }
    Ok(())
}

/// Euclidean norm of every row, computed on `pool` (or the calling thread).
pub fn row_norms(vectors: ArrayView2<f32>, pool: Option<&rayon::ThreadPool>) -> Result<Vec<f32>> {
    let dim = vectors.ncols();
    let n = vectors.nrows();
    if dim == 0 {
        return Ok(vec![0.0; n]);
    }
    let data = contiguous(&vectors, "vectors")?;
    let mut out = vec![0.0f32; n];
    let work = |out: &mut [f32]| {
        out.par_chunks_mut(4096)
            .zip(data.par_chunks(4096 * dim))
            .for_each(|(o, rows)| {
                for (oi, row) in o.iter_mut().zip(rows.chunks_exact(dim)) {
                    *oi = norm(row);
                }
            })
    };
    match pool {
        Some(p) if n * dim >= PARALLEL_MIN_WORK => p.install(|| work(&mut out)),
        _ => {
            for (oi, row) in out.iter_mut().zip(data.chunks_exact(dim)) {
                *oi = norm(row);
            }
        }
    }
    Ok(out)
}

/// Returns `query / |query|` (a zero vector stays zero). The norm is
/// summed in `f64`, so queries whose squared values overflow (or underflow)
/// `f32` are still scaled to unit length.
pub fn unit(query: ArrayView1<f32>) -> Vec<f32> {
    let q: Vec<f32> = query.iter().copied().collect();
    let n = q
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    if n > 0.0 && n.is_finite() {
        q.iter().map(|&x| (f64::from(x) / n) as f32).collect()
    } else {
        q
    }
}

/// Euclidean norm of a row: the fast `f32` dot product, or, where that
/// overflows to infinity or underflows to (almost) zero, an `f64` sum. A row
/// of values near `f32::MAX` (a forged or broken file) thus gets its true
/// norm (infinity only if the norm itself exceeds `f32::MAX`), never a norm
/// that would turn its cosines into 1e28.
#[inline]
pub fn norm(row: &[f32]) -> f32 {
    let n = dot(row, row).sqrt();
    if n.is_finite() && n > 1e-18 {
        n
    } else {
        row.iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt() as f32
    }
}

/// `d / norm`, 0 for a zero row, and 0 where a broken row makes the ratio
/// undefined (infinite norm and dot product).
#[inline]
fn cosine(d: f32, norm: f32) -> f32 {
    if norm > 0.0 {
        let c = d / norm;
        if c.is_nan() {
            0.0
        } else {
            c
        }
    } else {
        0.0
    }
}

/// Rows scored per call of the vectorised kernel (a 1 KiB buffer).
const SCAN_ROWS: usize = 256;

/// Scores rows `data` (the first being row `first`) against the unit query
/// `q`. `norms` are those rows' norms; `None` computes each block's norms
/// in the same pass as its dot products (see [`top_k_live`]).
fn scan_block(
    data: &[f32],
    dim: usize,
    norms: Option<&[f32]>,
    first: usize,
    q: &[f32],
    k: usize,
) -> TopK {
    let mut top = TopK::new(k);
    let mut buf = [0.0f32; SCAN_ROWS];
    let mut live = [0.0f32; SCAN_ROWS];
    for (b, rows) in data.chunks(SCAN_ROWS * dim).enumerate() {
        let m = rows.len() / dim;
        let nr: &[f32] = match norms {
            Some(n) => &n[b * SCAN_ROWS..b * SCAN_ROWS + m],
            None => {
                for (o, row) in live.iter_mut().zip(rows.chunks_exact(dim)) {
                    *o = norm(row);
                }
                &live[..m]
            }
        };
        let out = &mut buf[..m];
        dots(rows, q, out);
        let base = first + b * SCAN_ROWS;
        let mut threshold = top.threshold();
        for (i, (&d, &n)) in out.iter().zip(nr).enumerate() {
            let mut c = cosine(d, n);
            if norms.is_none() {
                // a live norm can still lag a concurrent write to its row
                c = c.clamp(-1.0, 1.0);
            }
            if c >= threshold {
                top.push(base + i, c);
                threshold = top.threshold();
            }
        }
    }
    top
}

/// Cosine similarity of `query` with every row in `range` (gensim's
/// `most_similar(topn=None)`); `query` need not be unit length.
pub fn all_scores(
    vectors: ArrayView2<f32>,
    norms: &[f32],
    query: ArrayView1<f32>,
    range: Range<usize>,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<f32>> {
    check_inputs(&vectors, norms, &range)?;
    let dim = vectors.ncols();
    if query.len() != dim {
        return Err(Error::invalid(format!(
            "query vector has {} dimensions, the model has {dim}",
            query.len()
        )));
    }
    let data = contiguous(&vectors, "vectors")?;
    let q = unit(query);
    let rows = &data[range.start * dim..range.end * dim];
    let norms = &norms[range.clone()];
    let mut out = vec![0.0f32; range.len()];
    let fill = |out: &mut [f32]| {
        out.par_chunks_mut(2048)
            .zip(rows.par_chunks(2048 * dim.max(1)))
            .zip(norms.par_chunks(2048))
            .for_each(|((o, r), nr)| {
                dots(r, &q, o);
                for (oi, &n) in o.iter_mut().zip(nr) {
                    *oi = cosine(*oi, n);
                }
            })
    };
    match pool {
        Some(p) if range.len() * dim >= PARALLEL_MIN_WORK => p.install(|| fill(&mut out)),
        _ if dim == 0 => {}
        _ => {
            dots(rows, &q, &mut out);
            for (oi, &n) in out.iter_mut().zip(norms) {
                *oi = cosine(*oi, n);
            }
        }
    }
    Ok(out)
}

/// The `k` rows in `range` most cosine-similar to `query`, best first, as
/// `(row, similarity)`. Ties go to the lower row.
///
/// ```
/// use ndarray::array;
/// use embedrs::kv::{row_norms, top_k};
/// let m = array![[1.0f32, 0.0], [0.0, 2.0], [1.0, 1.0]];
/// let norms = row_norms(m.view(), None).unwrap();
/// let q = array![1.0f32, 0.1];
/// let best = top_k(m.view(), &norms, q.view(), 0..3, 2, None).unwrap();
/// assert_eq!(best.iter().map(|b| b.0).collect::<Vec<_>>(), vec![0, 2]);
/// ```
pub fn top_k(
    vectors: ArrayView2<f32>,
    norms: &[f32],
    query: ArrayView1<f32>,
    range: Range<usize>,
    k: usize,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<(usize, f32)>> {
    check_inputs(&vectors, norms, &range)?;
    search(vectors, Some(norms), query, range, k, pool)
}

/// [`top_k`] for a matrix that other threads are writing (training in
/// progress): no cached norms, each row's norm is computed in the same pass
/// as its dot product, so a cosine never mixes a row with an old norm (a
/// cached norm can lag the row by milliseconds of training and give
/// cosines above 1). Costs about one extra multiply-add per element; the
/// scan stays bound by memory.
pub fn top_k_live(
    vectors: ArrayView2<f32>,
    query: ArrayView1<f32>,
    range: Range<usize>,
    k: usize,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<(usize, f32)>> {
    let n = vectors.nrows();
    if range.start > range.end || range.end > n {
        return Err(Error::invalid(format!(
            "row range {}..{} is outside the {n} rows of the matrix",
            range.start, range.end
        )));
    }
    search(vectors, None, query, range, k, pool)
}

fn search(
    vectors: ArrayView2<f32>,
    norms: Option<&[f32]>,
    query: ArrayView1<f32>,
    range: Range<usize>,
    k: usize,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<(usize, f32)>> {
    let dim = vectors.ncols();
    if query.len() != dim {
        return Err(Error::invalid(format!(
            "query vector has {} dimensions, the model has {dim}",
            query.len()
        )));
    }
    // A `k` beyond the candidates is clamped: it sizes heaps and outputs.
    let k = k.min(range.len());
    if dim == 0 || range.is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    let data = contiguous(&vectors, "vectors")?;
    let q = unit(query);
    let n = range.len();
    let rows = &data[range.start * dim..range.end * dim];
    let norms = norms.map(|nr| &nr[range.clone()]);
    match pool {
        Some(p) if n * dim >= PARALLEL_MIN_WORK && p.current_num_threads() > 1 => {
            // A few blocks per thread balance the load without much merging.
            let blocks = p.current_num_threads() * 4;
            let rows_per = n.div_ceil(blocks).max(1);
            let top = p.install(|| {
                rows.par_chunks(rows_per * dim)
                    .enumerate()
                    .map(|(b, r)| {
                        let nr = norms.map(|nr| &nr[b * rows_per..(b * rows_per + r.len() / dim)]);
                        scan_block(r, dim, nr, range.start + b * rows_per, &q, k)
                    })
                    .reduce(
                        || TopK::new(k),
                        |mut a, b| {
                            a.merge(b);
                            a
                        },
                    )
            });
            Ok(top.into_sorted())
        }
        _ => Ok(scan_block(rows, dim, norms, range.start, &q, k).into_sorted()),
    }
}

/// Answers every row of `queries` at once: for each, the `k` rows in `range`
/// most cosine-similar to it, best first. Same results as calling [`top_k`]
/// once per query, but each matrix row is read from memory once per batch.
pub fn top_k_batch(
    vectors: ArrayView2<f32>,
    norms: &[f32],
    queries: ArrayView2<f32>,
    range: Range<usize>,
    k: usize,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<Vec<(usize, f32)>>> {
    check_inputs(&vectors, norms, &range)?;
    let dim = vectors.ncols();
    let m = queries.nrows();
    if queries.ncols() != dim {
        return Err(Error::invalid(format!(
            "query vectors have {} dimensions, the model has {dim}",
            queries.ncols()
        )));
    }
    if m == 0 {
        return Ok(Vec::new());
    }
    let k = k.min(range.len());
    if dim == 0 || range.is_empty() || k == 0 {
        return Ok(vec![Vec::new(); m]);
    }
    // Unit queries, one per row, for the block products Q . B^T.
    let mut qm = Array2::<f32>::zeros((m, dim));
    for (j, q) in queries.outer_iter().enumerate() {
        qm.row_mut(j).assign(&ArrayView1::from(&unit(q)));
    }
    let n = range.len();
    let threads = pool.map_or(1, |p| p.current_num_threads());
    let parts = if n * dim * m >= PARALLEL_MIN_WORK {
        threads * 2
    } else {
        1
    };
    let rows_per = n.div_ceil(parts).max(1);
    let scan = |lo: usize, hi: usize| -> Vec<TopK> {
        let mut tops = vec![TopK::new(k); m];
        // scores[j, i]: query j against row b0 + i, contiguous per query
        let mut scores = Array2::<f32>::zeros((m, BATCH_BLOCK_ROWS));
        let mut b0 = lo;
        while b0 < hi {
            let b1 = (b0 + BATCH_BLOCK_ROWS).min(hi);
            let block = vectors.slice(s![b0..b1, ..]);
            let mut out = scores.slice_mut(s![.., ..b1 - b0]);
            general_mat_mul(1.0, &qm, &block.t(), 0.0, &mut out);
            let nr = &norms[b0..b1];
            for (top, srow) in tops.iter_mut().zip(out.outer_iter()) {
                let mut threshold = top.threshold();
                for (i, (&d, &n)) in srow.iter().zip(nr).enumerate() {
                    let c = cosine(d, n);
                    if c >= threshold {
                        top.push(b0 + i, c);
                        threshold = top.threshold();
                    }
                }
            }
            b0 = b1;
        }
        tops
    };
    let merge = |mut a: Vec<TopK>, b: Vec<TopK>| {
        for (x, y) in a.iter_mut().zip(b) {
            x.merge(y);
        }
        a
    };
    let starts: Vec<usize> = (range.start..range.end).step_by(rows_per).collect();
    let tops = match pool {
        Some(p) if parts > 1 => p.install(|| {
            starts
                .par_iter()
                .map(|&lo| scan(lo, (lo + rows_per).min(range.end)))
                .reduce(|| vec![TopK::new(k); m], merge)
        }),
        _ => scan(range.start, range.end),
    };
    Ok(tops.into_iter().map(TopK::into_sorted).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::Rng;

    fn random_matrix(n: usize, d: usize, seed: u64) -> Array2<f32> {
        let mut rng = Rng::new(seed);
        Array2::from_shape_fn((n, d), |_| rng.uniform() - 0.5)
    }

    fn brute(m: &Array2<f32>, q: &[f32], k: usize) -> Vec<usize> {
        let qn = dot(q, q).sqrt();
        let mut s: Vec<(usize, f32)> = m
            .outer_iter()
            .enumerate()
            .map(|(i, r)| {
                let r = r.to_vec();
                (i, dot(&r, q) / (dot(&r, &r).sqrt() * qn))
            })
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s.into_iter().take(k).map(|x| x.0).collect()
    }

    #[test]
    fn single_parallel_and_batch_agree_with_brute_force() {
        let m = random_matrix(5000, 64, 1);
        let norms = row_norms(m.view(), None).unwrap();
        let pool = crate::thread_pool(3).unwrap();
        let queries = random_matrix(7, 64, 2);
        let batch = top_k_batch(m.view(), &norms, queries.view(), 0..5000, 5, Some(&pool)).unwrap();
        for (j, q) in queries.outer_iter().enumerate() {
            let want = brute(&m, &q.to_vec(), 5);
            let seq = top_k(m.view(), &norms, q, 0..5000, 5, None).unwrap();
            let par = top_k(m.view(), &norms, q, 0..5000, 5, Some(&pool)).unwrap();
            let ids = |v: &Vec<(usize, f32)>| v.iter().map(|x| x.0).collect::<Vec<_>>();
            assert_eq!(ids(&seq), want);
            assert_eq!(ids(&par), want);
            assert_eq!(ids(&batch[j]), want);
            for (a, b) in seq.iter().zip(&batch[j]) {
                assert!((a.1 - b.1).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn range_and_zero_rows() {
        let mut m = random_matrix(100, 8, 3);
        m.row_mut(10).fill(0.0);
        let norms = row_norms(m.view(), None).unwrap();
        assert_eq!(norms[10], 0.0);
        let q = m.row(20).to_owned();
        let best = top_k(m.view(), &norms, q.view(), 10..30, 3, None).unwrap();
        assert_eq!(best[0].0, 20);
        assert!((best[0].1 - 1.0).abs() < 1e-6);
        assert!(best.iter().all(|b| (10..30).contains(&b.0)));
        let all = all_scores(m.view(), &norms, q.view(), 0..100, None).unwrap();
        assert_eq!(all[10], 0.0);
        assert!(top_k(m.view(), &norms, q.view(), 0..101, 3, None).is_err());
        assert!(top_k(m.view(), &norms[..5], q.view(), 0..10, 3, None).is_err());
    }
}
