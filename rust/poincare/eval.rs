//! Ranking evaluations of an embedding: reconstruction and link prediction.
//!
//! Both evaluations of Nickel & Kiela (2017) (and of gensim's
//! `ReconstructionEvaluation` / `LinkPredictionEvaluation`) reduce to one
//! question, asked for every query node `q` and each of its positives `p`:
//! how many *candidate* nodes are strictly closer to `q` than `p` is? The
//! candidates are all nodes minus a masked set `M(q)`:
//!
//! * reconstruction, gensim's protocol: `M(q)` = the neighbours of `q`
//!   (the node itself stays a candidate, at distance 0);
//! * reconstruction, the paper's protocol: neighbours and `q` itself;
//! * link prediction: held-out and training neighbours (plus `q` itself in
//!   the paper's protocol).
//!
//! The rank of `p` is `1 + #{j ∉ M(q) : d(q, j) < d(q, p)}`; the caller turns
//! ranks into mean rank and average precision.
//!
//! # Memory and time
//!
//! One distance row per query is computed on the fly into a per-worker
//! buffer (never an `n × n` matrix), so memory is `O(n)` per worker; time is
//! `O(n · (dim + |positives(q)|))` per query, parallel over queries.
//!
//! # Why the ranks are gensim's, bit for bit
//!
//! gensim compares `arccosh(γ)` with
//! `γ = 1 + 2 |q − x|² / ((1 − |q|²)(1 − |x|²))`, each factor computed by
//! NumPy. We compare the `γ` values themselves, which is the same order
//! because `arccosh` is increasing, and compute `γ` with NumPy's exact
//! operation sequence: `|q − x|` as `sqrt` of NumPy's pairwise sum of the
//! squared differences (the summation order of `np.add.reduce` along a
//! contiguous row, reproduced by [`numpy_pairwise_sum`]), then squared; the
//! norms `|q|` and `|x|` are supplied by the caller (computed by NumPy, so
//! they carry NumPy's BLAS rounding). Every IEEE operation is then the same
//! as gensim's, so `γ` is identical; the only possible difference is two
//! distinct `γ` rounding to one `arccosh` value (a tie for gensim), which
//! needs two candidates within one ulp of each other's distance.

use rayon::prelude::*;

use super::manifold::Real;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Sum of `a` in the order of NumPy's `pairwise_sum` (float64 `add.reduce`
/// over a contiguous axis): sequential below 8 terms, 8 interleaved partial
/// sums up to 128, halving (at a multiple of 8) above.
pub fn numpy_pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&a[..n2]) + numpy_pairwise_sum(&a[n2..])
    }
}

/// A list of sorted node lists, one per query, in compressed form:
/// the list of query `i` is `items[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Copy, Debug)]
pub struct Lists<'a> {
    /// `n_queries + 1` non-decreasing offsets into `items`, starting at 0.
    pub offsets: &'a [usize],
    /// Node indices.
    pub items: &'a [u32],
}

impl<'a> Lists<'a> {
    fn get(&self, i: usize) -> &'a [u32] {
        &self.items[self.offsets[i]..self.offsets[i + 1]]
    }

    fn check(&self, name: &str, n_queries: usize, n_nodes: usize) -> Result<()> {
        let o = self.offsets;
        if o.len() != n_queries + 1
            || o[0] != 0
            || o[n_queries] != self.items.len()
            || o.windows(2).any(|w| w[0] > w[1])
        {
            return Err(Error::invalid(format!(
                "{name}: offsets must be {} non-decreasing values from 0 to {}",
                n_queries + 1,
                self.items.len()
            )));
        }
        if let Some(&bad) = self.items.iter().find(|&&x| x as usize >= n_nodes) {
            return Err(Error::invalid(format!(
                "{name}: node index {bad} is outside 0..{n_nodes}"
            )));
        }
        Ok(())
    }
}

/// What to rank: queries, their positives, and the nodes left out of the candidates.
#[derive(Clone, Copy, Debug)]
pub struct RankTask<'a> {
    /// Query nodes.
    pub queries: &'a [u32],
    /// Positives of each query; their ranks are returned in this layout.
    pub positives: Lists<'a>,
    /// Nodes of each query that are not candidates (should include its positives).
    pub masked: Lists<'a>,
    /// `|x|` of every node, as the caller's distance computes it.
    pub norms: &'a [f64],
    /// `|q|` of every query, as the caller's distance computes it (NumPy
    /// computes a single vector's norm by a dot product, rows' norms by a
    /// pairwise sum, so the two may differ in the last bit).
    pub query_norms: &'a [f64],
}

/// Ranks of every positive (layout of `task.positives.items`).
///
/// `vectors` is row-major `n_nodes x dim`. Parallel over queries on
/// `workers` threads (0: one per core); `progress` counts queries and can
/// stop the call ([`Error::Interrupted`]).
pub fn rank_positives<T: Real>(
    vectors: &[T],
    dim: usize,
    task: &RankTask<'_>,
    workers: usize,
    progress: &Progress,
) -> Result<Vec<u64>> {
    if dim == 0 || !vectors.len().is_multiple_of(dim) {
        return Err(Error::invalid("vectors must be a non-empty n x dim matrix"));
    }
    let n = vectors.len() / dim;
    let nq = task.queries.len();
    if task.norms.len() != n {
        return Err(Error::invalid(format!(
            "norms hold {} values for {n} nodes",
            task.norms.len()
        )));
    }
    if task.query_norms.len() != nq {
        return Err(Error::invalid(format!(
            "query_norms hold {} values for {nq} queries",
            task.query_norms.len()
        )));
    }
    if let Some(&bad) = task.queries.iter().find(|&&q| q as usize >= n) {
        return Err(Error::invalid(format!(
            "query node {bad} is outside 0..{n}"
        )));
    }
    task.positives.check("positives", nq, n)?;
    task.masked.check("masked", nq, n)?;
    let pool = crate::thread_pool(workers)?;
    let mut ranks = vec![0u64; task.positives.items.len()];
    // Split the output into one mutable slice per query.
    let mut outs: Vec<&mut [u64]> = Vec::with_capacity(nq);
    let mut rest: &mut [u64] = &mut ranks;
    for i in 0..nq {
        let len = task.positives.offsets[i + 1] - task.positives.offsets[i];
        let (head, tail) = rest.split_at_mut(len);
        outs.push(head);
        rest = tail;
    }
    pool.install(|| {
        outs.into_par_iter().enumerate().for_each_init(
            || (vec![0.0f64; n], vec![0.0f64; dim], vec![0.0f64; dim]),
            |(gamma, q, diff), (i, out)| {
                if progress.should_stop() {
                    return;
                }
                let qi = task.queries[i] as usize;
                for (x, v) in q.iter_mut().zip(&vectors[qi * dim..(qi + 1) * dim]) {
                    *x = v.to_f64();
                }
                gamma_row(
                    vectors,
                    dim,
                    q,
                    task.query_norms[i],
                    task.norms,
                    diff,
                    gamma,
                );
                count_closer(gamma, task.positives.get(i), task.masked.get(i), out);
                progress.add(1);
            },
        )
    });
    if progress.should_stop() {
        return Err(Error::Interrupted);
    }
    Ok(ranks)
}

/// `γ(q, x)` for every row `x`, in NumPy's operation order (module docs).
fn gamma_row<T: Real>(
    vectors: &[T],
    dim: usize,
    q: &[f64],
    q_norm: f64,
    norms: &[f64],
    diff: &mut [f64],
    out: &mut [f64],
) {
    let qa = 1.0 - q_norm * q_norm;
    for (j, (g, row)) in out.iter_mut().zip(vectors.chunks_exact(dim)).enumerate() {
        for ((d, &a), b) in diff.iter_mut().zip(q).zip(row) {
            let t = a - b.to_f64();
            *d = t * t;
        }
        let e = numpy_pairwise_sum(diff).sqrt();
        let xa = 1.0 - norms[j] * norms[j];
        *g = 1.0 + 2.0 * ((e * e) / (qa * xa));
    }
}

/// For each positive `p`, `1 + #{j ∉ masked : γ_j < γ_p}` into `out`.
///
/// Counting runs over all nodes (a branch-free pass per positive), then the
/// masked nodes that were counted are subtracted.
fn count_closer(gamma: &[f64], positives: &[u32], masked: &[u32], out: &mut [u64]) {
    for (o, &p) in out.iter_mut().zip(positives) {
        let gp = gamma[p as usize];
        let all = gamma.iter().filter(|&&g| g < gp).count();
        let in_mask = masked.iter().filter(|&&m| gamma[m as usize] < gp).count();
        *o = (all - in_mask) as u64 + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_orders() {
        let a: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        for n in [0, 1, 7, 8, 9, 16, 17, 128, 129, 300] {
            let s = numpy_pairwise_sum(&a[..n]);
            let plain: f64 = a[..n].iter().sum();
            assert!((s - plain).abs() < 1e-12, "{n}");
        }
        // 8 interleaved partial sums: (1e16 + 1) + ... loses what sequential keeps
        let mut b = vec![0.0; 9];
        b[0] = 1e16;
        b[1] = 1.0;
        b[8] = 1.0;
        assert_eq!(numpy_pairwise_sum(&b), (1e16 + 1.0) + 1.0);
    }

    fn norms(v: &[f64], dim: usize) -> Vec<f64> {
        v.chunks(dim)
            .map(|r| numpy_pairwise_sum(&r.iter().map(|x| x * x).collect::<Vec<_>>()).sqrt())
            .collect()
    }

    #[test]
    fn ranks_count_closer_unmasked_nodes() {
        // 1-D points: distances from node 0 grow with |x|
        let v = vec![0.0, 0.1, -0.2, 0.3, 0.4, -0.5];
        let nr = norms(&v, 1);
        let queries = [0u32, 3];
        let pos_items = [3u32, 5, 0];
        let pos_off = [0usize, 2, 3];
        let mask_items = [3u32, 5, 0, 3];
        let mask_off = [0usize, 2, 4];
        let task = RankTask {
            queries: &queries,
            positives: Lists {
                offsets: &pos_off,
                items: &pos_items,
            },
            masked: Lists {
                offsets: &mask_off,
                items: &mask_items,
            },
            norms: &nr,
            query_norms: &[0.0, 0.3],
        };
        let r = rank_positives(&v, 1, &task, 2, &Progress::new(0)).unwrap();
        // node 0: closer than 3 (0.3) are 0 itself, 1, 2 -> rank 4; closer than 5: 0,1,2,4 (3 masked) -> 5
        // node 3 (q = 0.3), positive 0 at |0.3|-ish: closer unmasked: 4 (0.4) and 1 (0.1)
        let d = |a: f64, b: f64| 1.0 + 2.0 * (a - b) * (a - b) / ((1.0 - a * a) * (1.0 - b * b));
        let expected_last = 1 + [1usize, 2, 4, 5]
            .iter()
            .filter(|&&j| d(0.3, v[j]) < d(0.3, 0.0))
            .count() as u64;
        assert_eq!(r, vec![4, 5, expected_last]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let v = vec![0.0, 0.1];
        let nr = norms(&v, 1);
        let q = [0u32];
        let off = [0usize, 1];
        let bad = [7u32];
        let task = RankTask {
            queries: &q,
            positives: Lists {
                offsets: &off,
                items: &bad,
            },
            masked: Lists {
                offsets: &off,
                items: &bad,
            },
            norms: &nr,
            query_norms: &[0.0],
        };
        assert!(rank_positives(&v, 1, &task, 1, &Progress::new(0)).is_err());
        let short = [0usize];
        let task = RankTask {
            positives: Lists {
                offsets: &short,
                items: &[],
            },
            ..task
        };
        assert!(rank_positives(&v, 1, &task, 1, &Progress::new(0)).is_err());
    }
}
