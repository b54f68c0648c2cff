//! Input affinities: per-point Gaussian bandwidths calibrated to a
//! perplexity, then a symmetric sparse joint distribution `P`.
//!
//! For point `i` with neighbour dissimilarities `d_ij` the conditional
//! distribution is `p_{j|i} = exp(-beta_i d_ij) / sum_l exp(-beta_i d_il)`.
//! Its Shannon entropy (in nats) is
//!
//! ```text
//! H_i = log(sum_l exp(-beta_i d_il)) + beta_i * sum_j p_{j|i} d_ij
//! ```
//!
//! and `beta_i` is found by bisection so that `H_i = log(perplexity)`
//! (doubling/halving until the root is bracketed, as scikit-learn does).
//! Distances are shifted by their row minimum before exponentiating, which
//! leaves `p_{j|i}` and `H_i` unchanged but keeps `exp` from underflowing for
//! inputs with large distances. The joint distribution is
//! `p_ij = (p_{j|i} + p_{i|j}) / sum`, stored as CSR with rows sorted by column.

use rayon::prelude::*;

use super::knn::Neighbors;
use crate::progress::Progress;
use crate::{Error, Result};

/// Bisection steps per point.
const MAX_STEPS: usize = 100;
/// Tolerance on the entropy, in nats.
const TOL: f64 = 1e-5;

/// A symmetric sparse matrix in CSR form.
#[derive(Clone, Debug)]
pub struct SparseP {
    /// Row pointers, `n + 1`.
    pub indptr: Vec<usize>,
    /// Column indices.
    pub indices: Vec<u32>,
    /// Values, in single precision: the optimiser's attractive pass streams
    /// them every iteration (with `indices`), and at a million points that
    /// stream, not the arithmetic, bounds it; every sum over them is taken
    /// in `f64`.
    pub values: Vec<f32>,
}

impl SparseP {
    /// Number of rows.
    pub fn n(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Sum of all values.
    pub fn sum(&self) -> f64 {
        self.values.iter().map(|&v| v as f64).sum()
    }

    /// The matrix with rows and columns renumbered: new index `t` is old
    /// index `order[t]` (`order` is a permutation of `0..n`).
    pub fn permuted(&self, order: &[u32]) -> SparseP {
        let n = self.n();
        let mut inv = vec![0u32; n];
        for (t, &i) in order.iter().enumerate() {
            inv[i as usize] = t as u32;
        }
        let mut indptr = Vec::with_capacity(n + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(self.indices.len());
        let mut values = Vec::with_capacity(self.values.len());
        let mut row: Vec<(u32, f32)> = Vec::new();
        for &i in order {
            let i = i as usize;
            row.clear();
            for t in self.indptr[i]..self.indptr[i + 1] {
                row.push((inv[self.indices[t] as usize], self.values[t]));
            }
            row.sort_by_key(|e| e.0);
            for &(j, v) in &row {
                indices.push(j);
                values.push(v);
            }
            indptr.push(indices.len());
        }
        SparseP {
            indptr,
            indices,
            values,
        }
    }
}

/// Calibrates one row: fills `p` with `p_{j|i}` and returns `beta_i`.
fn calibrate_row(dist: &[f64], desired_entropy: f64, p: &mut [f64]) -> f64 {
    let dmin = dist.iter().cloned().fold(f64::INFINITY, f64::min);
    let (mut beta, mut lo, mut hi) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..MAX_STEPS {
        let mut sum = 0.0;
        let mut sum_dp = 0.0;
        for (pj, &d) in p.iter_mut().zip(dist) {
            let s = d - dmin;
            let e = (-beta * s).exp();
            *pj = e;
            sum += e;
            sum_dp += s * e;
        }
        // sum >= 1 because the nearest neighbour contributes exp(0).
        let entropy = sum.ln() + beta * sum_dp / sum;
        for pj in p.iter_mut() {
            *pj /= sum;
        }
        let diff = entropy - desired_entropy;
        if diff.abs() <= TOL {
            break;
        }
        if diff > 0.0 {
            lo = beta;
            beta = if hi == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + hi) / 2.0
            };
        } else {
            hi = beta;
            beta = if lo == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + lo) / 2.0
            };
        }
    }
    beta
}

/// Conditional probabilities `p_{j|i}` over each point's neighbours
/// (row-major like `nn`) and the calibrated precisions `beta_i`.
pub fn conditional_probabilities(
    nn: &Neighbors,
    perplexity: f64,
    pool: &rayon::ThreadPool,
) -> Result<(Vec<f64>, Vec<f64>)> {
    if !(perplexity > 0.0 && perplexity.is_finite()) {
        return Err(Error::invalid(format!(
            "perplexity must be a positive number, got {perplexity}"
        )));
    }
    let n = nn.n();
    let k = nn.k;
    let desired = perplexity.ln();
    let mut p = vec![0.0f64; n * k];
    let mut betas = vec![0.0f64; n];
    pool.install(|| {
        p.par_chunks_mut(k)
            .zip(betas.par_iter_mut())
            .enumerate()
            .for_each(|(i, (row, beta))| {
                *beta = calibrate_row(&nn.distances[i * k..(i + 1) * k], desired, row);
            });
    });
    Ok((p, betas))
}

/// The symmetric joint probabilities `P` (summing to 1) from the
/// neighbours `nn` and a perplexity.
pub fn joint_probabilities(
    nn: &Neighbors,
    perplexity: f64,
    pool: &rayon::ThreadPool,
) -> Result<SparseP> {
    joint_probabilities_with(nn, perplexity, pool, &Progress::default())
}

/// [`joint_probabilities`], stopping with [`Error::Interrupted`] between
/// its steps once `progress` asks.
pub fn joint_probabilities_with(
    nn: &Neighbors,
    perplexity: f64,
    pool: &rayon::ThreadPool,
    progress: &Progress,
) -> Result<SparseP> {
    let (cond, _) = conditional_probabilities(nn, perplexity, pool)?;
    progress.check()?;
    Ok(symmetrize(nn, &cond, pool))
}

/// `(P + P^T) / sum` for a row-major `n x k` neighbour list.
fn symmetrize(nn: &Neighbors, cond: &[f64], pool: &rayon::ThreadPool) -> SparseP {
    let n = nn.n();
    let k = nn.k;
    // Row sizes before merging: own k entries plus incoming ones.
    let mut counts = vec![k; n];
    for &j in &nn.indices {
        counts[j as usize] += 1;
    }
    let mut start = vec![0usize; n + 1];
    for i in 0..n {
        start[i + 1] = start[i] + counts[i];
    }
    let total = start[n];
    let mut cols = vec![0u32; total];
    let mut vals = vec![0f64; total];
    let mut fill = start[..n].to_vec();
    for i in 0..n {
        for t in 0..k {
            let j = nn.indices[i * k + t] as usize;
            let v = cond[i * k + t];
            cols[fill[i]] = j as u32;
            vals[fill[i]] = v;
            fill[i] += 1;
            cols[fill[j]] = i as u32;
            vals[fill[j]] = v;
            fill[j] += 1;
        }
    }
    // Sort each row by column and merge duplicates, in place and in
    // parallel (a pair (i, j) occurs at most twice in a row: from i's list
    // and from j's). The merged rows are then moved left over the gaps, so
    // the peak is these two arrays, not a second copy of them (at 1M points
    // and k = 90 each copy is over 2 GB).
    let mut merged = vec![0usize; n];
    {
        let mut rows: Vec<(&mut [u32], &mut [f64])> = Vec::with_capacity(n);
        let (mut crest, mut vrest) = (&mut cols[..], &mut vals[..]);
        for i in 0..n {
            let len = start[i + 1] - start[i];
            let (c, cr) = std::mem::take(&mut crest).split_at_mut(len);
            let (v, vr) = std::mem::take(&mut vrest).split_at_mut(len);
            rows.push((c, v));
            (crest, vrest) = (cr, vr);
        }
        pool.install(|| {
            rows.into_par_iter()
                .zip(merged.par_iter_mut())
                .for_each(|((c, v), m)| {
                    let mut pairs: Vec<(u32, f64)> =
                        c.iter().copied().zip(v.iter().copied()).collect();
                    pairs.sort_unstable_by_key(|p| p.0);
                    let mut len = 0;
                    for (j, x) in pairs {
                        if len > 0 && c[len - 1] == j {
                            v[len - 1] += x;
                        } else {
                            c[len] = j;
                            v[len] = x;
                            len += 1;
                        }
                    }
                    *m = len;
                });
        });
    }
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let mut w = 0;
    for i in 0..n {
        let (a, len) = (start[i], merged[i]);
        cols.copy_within(a..a + len, w);
        vals.copy_within(a..a + len, w);
        w += len;
        indptr.push(w);
    }
    cols.truncate(w);
    vals.truncate(w);
    cols.shrink_to_fit();
    vals.shrink_to_fit();
    let sum: f64 = vals.iter().sum();
    let sum = sum.max(f64::MIN_POSITIVE);
    let values: Vec<f32> = vals.par_iter().map(|&v| (v / sum) as f32).collect();
    drop(vals);
    let indices = cols;
    SparseP {
        indptr,
        indices,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_neighbors(n: usize, k: usize, seed: u64) -> Neighbors {
        let mut rng = crate::sampling::Rng::new(seed);
        let mut indices = Vec::new();
        let mut distances = Vec::new();
        for i in 0..n {
            let mut d: Vec<f64> = (0..k).map(|_| rng.uniform_f64() * 50.0 + 0.1).collect();
            d.sort_by(|a, b| a.total_cmp(b));
            distances.extend(d);
            indices.extend((1..=k).map(|t| ((i + t) % n) as u32));
        }
        Neighbors {
            k,
            indices,
            distances,
        }
    }

    #[test]
    fn perplexity_calibration_matches_direct_entropy() {
        let pool = crate::thread_pool(2).unwrap();
        for &perp in &[2.0, 5.0, 30.0] {
            let k = (3.0 * perp) as usize + 1;
            let nn = random_neighbors(200, k, 7);
            let (p, betas) = conditional_probabilities(&nn, perp, &pool).unwrap();
            for i in 0..200 {
                let d = &nn.distances[i * k..(i + 1) * k];
                // Direct computation from beta, without the shift.
                let w: Vec<f64> = d.iter().map(|&x| (-betas[i] * x).exp()).collect();
                let z: f64 = w.iter().sum();
                let mut h = 0.0;
                for (t, wt) in w.iter().enumerate() {
                    let q = wt / z;
                    assert!((q - p[i * k + t]).abs() < 1e-9);
                    if q > 0.0 {
                        h -= q * q.ln();
                    }
                }
                assert!(
                    (h.exp() - perp).abs() / perp < 1e-3,
                    "row {i}: perplexity {} != {perp}",
                    h.exp()
                );
            }
        }
    }

    #[test]
    fn large_distances_do_not_underflow() {
        let nn = Neighbors {
            k: 3,
            indices: vec![1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 2],
            distances: [1e6, 1e6 + 1.0, 1e6 + 2.0].repeat(4),
        };
        let pool = crate::thread_pool(1).unwrap();
        let p = joint_probabilities(&nn, 2.0, &pool).unwrap();
        assert!(p.values.iter().all(|v| v.is_finite() && *v > 0.0));
        assert!((p.sum() - 1.0).abs() < 1e-6); // values are stored in f32
    }

    #[test]
    fn joint_is_symmetric() {
        let pool = crate::thread_pool(2).unwrap();
        let nn = random_neighbors(50, 7, 1);
        let p = joint_probabilities(&nn, 3.0, &pool).unwrap();
        let get = |i: usize, j: usize| -> f64 {
            let r = &p.indices[p.indptr[i]..p.indptr[i + 1]];
            match r.binary_search(&(j as u32)) {
                Ok(t) => p.values[p.indptr[i] + t] as f64,
                Err(_) => 0.0,
            }
        };
        for i in 0..50 {
            for &j in &p.indices[p.indptr[i]..p.indptr[i + 1]] {
                assert!((get(i, j as usize) - get(j as usize, i)).abs() < 1e-15);
            }
        }
        assert!((p.sum() - 1.0).abs() < 1e-6); // values are stored in f32
    }
}
