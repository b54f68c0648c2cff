//! The t-SNE gradient: exact (`O(N^2)`), Barnes-Hut (`O(N log N)`) and
//! FFT-interpolated ([`super::fft`], `O(N)`, 2-D only).
//!
//! With a Student-t kernel of `a` degrees of freedom (scikit-learn uses
//! `a = max(n_components - 1, 1)`),
//!
//! ```text
//! u_ij = 1 / (1 + |y_i - y_j|^2 / a),    w_ij = u_ij^((a + 1) / 2),
//! q_ij = w_ij / Z,                       Z = sum_{k != l} w_kl,
//! C    = KL(P || Q) = sum_ij p_ij log(p_ij / q_ij).
//! ```
//!
//! Since `dw/d(d^2) = -(a + 1) / (2a) * w * u` and every distance appears
//! twice in the sum,
//!
//! ```text
//! dC/dy_i = (2 (a + 1) / a) * sum_j (p_ij - q_ij) u_ij (y_i - y_j)
//!         = c * [ sum_j p_ij u_ij (y_i - y_j)  -  (1/Z) sum_j w_ij u_ij (y_i - y_j) ].
//! ```
//!
//! The first (attractive) sum runs over the sparse `P`. The second
//! (repulsive) one and `Z` are approximated with the tree of [`super::tree`]:
//! a cell whose side `s` and distance `d` to the query satisfy
//! `s / d < angle` acts as a single point of mass `count` at its centre of
//! mass. With `angle = 0` only leaves are used, which is exact.
//!
//! Rows are processed in fixed-size chunks in parallel and the chunk sums of
//! `Z` and of the KL terms are added in chunk order, so results do not depend
//! on the number of threads.

use multiversion::multiversion;
use rayon::prelude::*;

use super::affinity::SparseP;
use super::fft::FftGradient;
use super::tree::SpTree;

/// Points per parallel chunk.
const CHUNK: usize = 256;

/// The Student-t kernel with `a` degrees of freedom.
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    /// Degrees of freedom `a`.
    pub dof: f64,
    inv_dof: f64,
    expo: f64,
}

impl Kernel {
    /// The kernel with `dof` degrees of freedom.
    pub fn new(dof: f64) -> Self {
        Kernel {
            dof,
            inv_dof: 1.0 / dof,
            expo: (dof + 1.0) / 2.0,
        }
    }

    /// `(u, w)` for a squared distance.
    #[inline(always)]
    pub fn eval(&self, d2: f64) -> (f64, f64) {
        let u = 1.0 / (1.0 + d2 * self.inv_dof);
        let w = if self.expo == 1.0 {
            u
        } else if self.expo == 1.5 {
            u * u.sqrt()
        } else {
            u.powf(self.expo)
        };
        (u, w)
    }

    /// The constant `c = 2 (a + 1) / a` in front of the gradient.
    pub fn coef(&self) -> f64 {
        2.0 * (self.dof + 1.0) / self.dof
    }
}

/// Attractive force on each point (`sum_j p_ij u_ij (y_i - y_j)`, times
/// `exaggeration`) written into `out`, and, when asked, the partial KL sum
/// `sum p_ij log(p_ij / w_ij)` (add `log Z * sum p` for the divergence).
///
/// This is the reference for any output dimension (the exact gradient uses
/// it); the Barnes-Hut and FFT gradients call [`attractive_fixed`], the same
/// sums for a dimension known at compile time.
fn attractive(
    y: &[f64],
    dim: usize,
    p: &SparseP,
    exaggeration: f64,
    kernel: Kernel,
    out: &mut [f64],
    with_error: bool,
) -> f64 {
    let chunks: Vec<f64> = out
        .par_chunks_mut(CHUNK * dim)
        .enumerate()
        .map(|(c, out)| {
            let mut err = 0.0;
            for (r, f) in out.chunks_exact_mut(dim).enumerate() {
                let i = c * CHUNK + r;
                f.fill(0.0);
                let yi = &y[i * dim..(i + 1) * dim];
                for t in p.indptr[i]..p.indptr[i + 1] {
                    let j = p.indices[t] as usize;
                    let yj = &y[j * dim..(j + 1) * dim];
                    let mut d2 = 0.0;
                    for d in 0..dim {
                        let diff = yi[d] - yj[d];
                        d2 += diff * diff;
                    }
                    let (u, w) = kernel.eval(d2);
                    let pij = p.values[t] as f64 * exaggeration;
                    let s = pij * u;
                    for d in 0..dim {
                        f[d] += s * (yi[d] - yj[d]);
                    }
                    if with_error && pij > 0.0 {
                        err += pij * (pij.max(f64::MIN_POSITIVE) / w.max(f64::MIN_POSITIVE)).ln();
                    }
                }
            }
            err
        })
        .collect();
    chunks.iter().sum()
}

/// [`attractive`] for a `D`-dimensional map, the hot loop of the Barnes-Hut
/// and FFT gradients. A row's non-zeros are taken `LANES` at a time: their
/// coordinate differences are gathered first (the reads of `y_j` are random,
/// and gathering them apart lets the loads overlap), then the kernel values
/// and force terms of the whole block are computed lane by lane, which the
/// compiler vectorises (one division per lane, the loop's bottleneck).
/// Per-lane partial sums are added at the end of each row, so the sums are
/// those of [`attractive`] up to rounding and do not depend on the threads.
/// The KL terms, needed every `CHECK_EVERY` iterations only, take a second
/// pass over the row.
fn attractive_fixed<const D: usize>(
    y: &[f64],
    p: &SparseP,
    exaggeration: f64,
    kernel: Kernel,
    out: &mut [f64],
    with_error: bool,
) -> f64 {
    let chunks: Vec<f64> = out
        .par_chunks_mut(CHUNK * D)
        .enumerate()
        .map(|(c, out)| {
            let first = c * CHUNK;
            #[cfg(target_arch = "x86_64")]
            if D == 2 && avx2_fma() {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                unsafe { attract_rows2_avx2(y, p, exaggeration, 1.0 / kernel.dof, first, out) };
                return if with_error {
                    kl_rows::<D>(y, p, exaggeration, kernel, first, out.len() / D)
                } else {
                    0.0
                };
            }
            attract_rows::<D>(y, p, exaggeration, kernel, first, out, with_error)
        })
        .collect();
    chunks.iter().sum()
}

/// Non-zeros per block of [`attractive_fixed`].
const LANES: usize = 8;

/// [`attractive_fixed`] for the rows `first..` that fill `out`.
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn attract_rows<const D: usize>(
    y: &[f64],
    p: &SparseP,
    exaggeration: f64,
    kernel: Kernel,
    first: usize,
    out: &mut [f64],
    with_error: bool,
) -> f64 {
    let inv_dof = 1.0 / kernel.dof;
    for (r, f) in out.chunks_exact_mut(D).enumerate() {
        let i = first + r;
        let mut yi = [0.0; D];
        yi.copy_from_slice(&y[i * D..(i + 1) * D]);
        let (a, b) = (p.indptr[i], p.indptr[i + 1]);
        let (cols, vals) = (&p.indices[a..b], &p.values[a..b]);
        let mut acc = [[0.0f64; LANES]; D];
        let mut cc = cols.chunks_exact(LANES);
        let mut vc = vals.chunks_exact(LANES);
        for (t, (js, ps)) in (&mut cc).zip(&mut vc).enumerate() {
            // The rows two blocks ahead (possibly the next row's): start
            // loading their `y_j` now, the loop's only random reads.
            let ahead = a + (t + 2) * LANES;
            if let Some(next) = p.indices.get(ahead..ahead + LANES) {
                for &j in next {
                    prefetch(y, j as usize * D);
                }
            }
            let js: &[u32; LANES] = js.try_into().expect("chunks_exact(LANES)");
            let ps: [f64; LANES] = std::array::from_fn(|k| ps[k] as f64);
            attract_block::<D>(&yi, y, js, &ps, inv_dof, &mut acc);
        }
        let (rj, rp) = (cc.remainder(), vc.remainder());
        if !rj.is_empty() {
            // Unused lanes point at `i` itself with p = 0: they add nothing.
            let mut js = [i as u32; LANES];
            let mut ps = [0.0f64; LANES];
            js[..rj.len()].copy_from_slice(rj);
            for (d, &v) in ps.iter_mut().zip(rp) {
                *d = v as f64;
            }
            attract_block::<D>(&yi, y, &js, &ps, inv_dof, &mut acc);
        }
        for d in 0..D {
            f[d] = acc[d].iter().sum::<f64>() * exaggeration;
        }
    }
    if with_error {
        kl_rows::<D>(y, p, exaggeration, kernel, first, out.len() / D)
    } else {
        0.0
    }
}

/// The KL terms `sum p_ij ln(p_ij / w_ij)` of rows `first..first + rows`
/// (needed every `CHECK_EVERY` iterations only, so a separate pass).
fn kl_rows<const D: usize>(
    y: &[f64],
    p: &SparseP,
    exaggeration: f64,
    kernel: Kernel,
    first: usize,
    rows: usize,
) -> f64 {
    let mut err = 0.0;
    for i in first..first + rows {
        let yi = &y[i * D..(i + 1) * D];
        let (a, b) = (p.indptr[i], p.indptr[i + 1]);
        for (&j, &pv) in p.indices[a..b].iter().zip(&p.values[a..b]) {
            let j = j as usize;
            let mut d2 = 0.0;
            for d in 0..D {
                let diff = yi[d] - y[j * D + d];
                d2 += diff * diff;
            }
            let (_, w) = kernel.eval(d2);
            let pij = pv as f64 * exaggeration;
            if pij > 0.0 {
                err += pij * (pij.max(f64::MIN_POSITIVE) / w.max(f64::MIN_POSITIVE)).ln();
            }
        }
    }
    err
}

/// Whether this CPU runs [`attract_rows2_avx2`] (checked once by std).
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// The force part of [`attract_rows`] for 2-D maps in AVX2 registers, four
/// non-zeros at a time. A register holds two points' `(x, y)`; the
/// squared distances of four non-zeros come out of one horizontal add in
/// the order 0, 2, 1, 3, so the affinities are permuted to match, divided
/// in one 4-wide division, and broadcast back pairwise for the
/// multiply-adds. The remaining 0-3 non-zeros of a row run in scalar code.
/// Sums differ from [`attractive`]'s by rounding only.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attract_rows2_avx2(
    y: &[f64],
    p: &SparseP,
    exaggeration: f64,
    inv_dof: f64,
    first: usize,
    out: &mut [f64],
) {
    use std::arch::x86_64::*;
    // Two f64 at `y[2 j..]`, bounds-checked.
    #[inline(always)]
    fn point(y: &[f64], j: u32) -> __m128d {
        let v = &y[2 * j as usize..2 * j as usize + 2];
        // SAFETY: `v` holds two f64, the 16 bytes read.
        unsafe { _mm_loadu_pd(v.as_ptr()) }
    }
    let one = _mm256_set1_pd(1.0);
    let invd = _mm256_set1_pd(inv_dof);
    for (r, f) in out.chunks_exact_mut(2).enumerate() {
        let i = first + r;
        let (xi, yi) = (y[2 * i], y[2 * i + 1]);
        let here = _mm256_setr_pd(xi, yi, xi, yi);
        let (a, b) = (p.indptr[i], p.indptr[i + 1]);
        let (cols, vals) = (&p.indices[a..b], &p.values[a..b]);
        let mut acc0 = _mm256_setzero_pd();
        let mut acc1 = _mm256_setzero_pd();
        let mut cc = cols.chunks_exact(4);
        let mut vc = vals.chunks_exact(4);
        for (t, (js, ps)) in (&mut cc).zip(&mut vc).enumerate() {
            let ahead = a + (t + 4) * 4;
            if let Some(next) = p.indices.get(ahead..ahead + 4) {
                for &j in next {
                    prefetch(y, 2 * j as usize);
                }
            }
            let v01 = _mm256_set_m128d(point(y, js[1]), point(y, js[0]));
            let v23 = _mm256_set_m128d(point(y, js[3]), point(y, js[2]));
            let d01 = _mm256_sub_pd(here, v01);
            let d23 = _mm256_sub_pd(here, v23);
            // [|d0|^2, |d2|^2, |d1|^2, |d3|^2]
            let h = _mm256_hadd_pd(_mm256_mul_pd(d01, d01), _mm256_mul_pd(d23, d23));
            // SAFETY: `ps` holds four f32, the 16 bytes read.
            let pv = _mm256_cvtps_pd(unsafe { _mm_loadu_ps(ps.as_ptr()) });
            let pv = _mm256_permute4x64_pd::<0b11_01_10_00>(pv);
            let q = _mm256_div_pd(pv, _mm256_fmadd_pd(h, invd, one));
            acc0 = _mm256_fmadd_pd(_mm256_permute4x64_pd::<0b10_10_00_00>(q), d01, acc0);
            acc1 = _mm256_fmadd_pd(_mm256_permute4x64_pd::<0b11_11_01_01>(q), d23, acc1);
        }
        let acc = _mm256_add_pd(acc0, acc1);
        let s = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd::<1>(acc));
        let (mut fx, mut fy) = (0.0, 0.0);
        for (&j, &pv) in cc.remainder().iter().zip(vc.remainder()) {
            let (dx, dy) = (xi - y[2 * j as usize], yi - y[2 * j as usize + 1]);
            let q = pv as f64 / (1.0 + (dx * dx + dy * dy) * inv_dof);
            fx += q * dx;
            fy += q * dy;
        }
        let mut lanes = [0.0f64; 2];
        // SAFETY: `lanes` holds two f64, the 16 bytes written.
        unsafe { _mm_storeu_pd(lanes.as_mut_ptr(), s) };
        f[0] = (lanes[0] + fx) * exaggeration;
        f[1] = (lanes[1] + fy) * exaggeration;
    }
}

/// One block of `LANES` non-zeros of row `i` (at `yi`): the gathers first,
/// then each step over all lanes at once (straight-line loops over fixed
/// arrays, which LLVM turns into whole-register arithmetic, divisions
/// included), added to the per-lane sums `acc`.
#[inline(always)]
fn attract_block<const D: usize>(
    yi: &[f64; D],
    y: &[f64],
    js: &[u32; LANES],
    ps: &[f64; LANES],
    inv_dof: f64,
    acc: &mut [[f64; LANES]; D],
) {
    let mut diff = [[0.0f64; LANES]; D];
    for k in 0..LANES {
        let j = js[k] as usize;
        let yj = &y[j * D..(j + 1) * D];
        for d in 0..D {
            diff[d][k] = yi[d] - yj[d];
        }
    }
    let mut d2 = [0.0f64; LANES];
    for dd in &diff {
        for k in 0..LANES {
            d2[k] += dd[k] * dd[k];
        }
    }
    let mut s = [0.0f64; LANES];
    for k in 0..LANES {
        s[k] = ps[k] / (1.0 + d2[k] * inv_dof);
    }
    for d in 0..D {
        for k in 0..LANES {
            acc[d][k] += s[k] * diff[d][k];
        }
    }
}

/// Asks the CPU to start loading the cache line holding `v[at]` (a hint:
/// no effect on results; nothing happens past the end).
#[inline(always)]
fn prefetch(v: &[f64], at: usize) {
    if at < v.len() {
        crate::mem::prefetch(v.as_ptr().wrapping_add(at));
    }
}

/// Combines the attractive and repulsive parts into the gradient and returns
/// the KL divergence (NaN when not computed).
fn combine(
    grad: &mut [f64],
    attr: &[f64],
    rep: &[f64],
    z: f64,
    kernel: Kernel,
    err_partial: Option<(f64, f64)>,
) -> f64 {
    let c = kernel.coef();
    let inv_z = 1.0 / z;
    grad.par_iter_mut()
        .zip(attr.par_iter().zip(rep.par_iter()))
        .for_each(|(g, (a, r))| *g = c * (a - r * inv_z));
    match err_partial {
        Some((partial, psum)) => partial + psum * z.ln(),
        None => f64::NAN,
    }
}

/// Reusable buffers for the gradient.
#[derive(Default)]
pub struct Workspace {
    attr: Vec<f64>,
    rep: Vec<f64>,
}

/// Repulsive force on point `i` (`sum_j w_ij u_ij (y_i - y_j)`, into
/// `force`) and its share of `Z` (returned), by a Barnes-Hut traversal.
#[inline]
fn repulsion<const D: usize>(
    tree: &SpTree<D>,
    y: &[f64],
    i: usize,
    theta2: f64,
    kernel: Kernel,
    stack: &mut Vec<u32>,
    force: &mut [f64; D],
) -> f64 {
    let mut yi = [0.0; D];
    yi.copy_from_slice(&y[i * D..(i + 1) * D]);
    *force = [0.0; D];
    let mut z = 0.0;
    stack.clear();
    stack.push(0);
    while let Some(ci) = stack.pop() {
        let cell = &tree.cells[ci as usize];
        let mut diff = [0.0; D];
        let mut d2 = 0.0;
        for d in 0..D {
            diff[d] = yi[d] - cell.com[d];
            d2 += diff[d] * diff[d];
        }
        if cell.first_child == 0 {
            if cell.count == 1 {
                if cell.point as usize == i {
                    continue;
                }
                let (u, w) = kernel.eval(d2);
                z += w;
                let s = w * u;
                for d in 0..D {
                    force[d] += s * diff[d];
                }
            } else {
                // A leaf of duplicates at the depth limit: visit each point.
                for &j in &tree.perm[cell.start as usize..cell.end as usize] {
                    let j = j as usize;
                    if j == i {
                        continue;
                    }
                    let mut e2 = 0.0;
                    let mut dj = [0.0; D];
                    for d in 0..D {
                        dj[d] = yi[d] - y[j * D + d];
                        e2 += dj[d] * dj[d];
                    }
                    let (u, w) = kernel.eval(e2);
                    z += w;
                    for d in 0..D {
                        force[d] += w * u * dj[d];
                    }
                }
            }
        } else if cell.side * cell.side < theta2 * d2 {
            let (u, w) = kernel.eval(d2);
            let m = cell.count as f64;
            z += m * w;
            let s = m * w * u;
            for d in 0..D {
                force[d] += s * diff[d];
            }
        } else {
            let first = cell.first_child;
            for q in 0..(1u32 << D) {
                if tree.cells[(first + q) as usize].count != 0 {
                    stack.push(first + q);
                }
            }
        }
    }
    z
}

/// The Barnes-Hut gradient of KL(P || Q) at `y` (row-major `n x D`) into
/// `grad`, with the tree in `tree` (rebuilt here). Returns the KL
/// divergence (with the exaggerated `P`, as scikit-learn reports it) when
/// `with_error`, NaN otherwise. Call inside the caller's pool.
///
/// Points are visited in the tree's order (a space-filling order), so that
/// consecutive points walk nearly the same cells and stay in cache.
pub fn barnes_hut<const D: usize>(
    y: &[f64],
    p: &SparseP,
    exaggeration: f64,
    angle: f64,
    kernel: Kernel,
    tree: &mut SpTree<D>,
    ws: &mut Workspace,
    grad: &mut [f64],
    with_error: bool,
) -> f64 {
    let n = y.len() / D;
    ws.attr.resize(n * D, 0.0);
    ws.rep.resize(n * D, 0.0);
    tree.build(y);
    let tree = &*tree;
    let theta2 = angle * angle;
    let parts: Vec<(Vec<[f64; D]>, f64)> = tree
        .perm
        .par_chunks(CHUNK)
        .map(|order| {
            let mut stack: Vec<u32> = Vec::with_capacity(256);
            let mut forces = Vec::with_capacity(order.len());
            let mut zsum = 0.0;
            for &i in order {
                let mut f = [0.0; D];
                zsum += repulsion(tree, y, i as usize, theta2, kernel, &mut stack, &mut f);
                forces.push(f);
            }
            (forces, zsum)
        })
        .collect();
    let mut z = 0.0;
    for (c, (forces, zc)) in parts.iter().enumerate() {
        z += zc;
        for (r, f) in forces.iter().enumerate() {
            let i = tree.perm[c * CHUNK + r] as usize;
            ws.rep[i * D..(i + 1) * D].copy_from_slice(f);
        }
    }
    let z = z.max(f64::MIN_POSITIVE);
    let partial = attractive_fixed::<D>(y, p, exaggeration, kernel, &mut ws.attr, with_error);
    let psum = if with_error {
        p.sum() * exaggeration
    } else {
        0.0
    };
    combine(
        grad,
        &ws.attr,
        &ws.rep,
        z,
        kernel,
        with_error.then_some((partial, psum)),
    )
}

/// The gradient for a 2-D embedding with the repulsion interpolated by
/// FFT ([`super::fft`]); same conventions as [`barnes_hut`] (the KL
/// divergence costs only the attractive pass, since `Z` comes with the
/// repulsion). The kernel must have one degree of freedom. Call inside the
/// caller's pool.
pub fn fft(
    y: &[f64],
    p: &SparseP,
    exaggeration: f64,
    kernel: Kernel,
    state: &mut FftGradient,
    ws: &mut Workspace,
    grad: &mut [f64],
    with_error: bool,
) -> f64 {
    debug_assert_eq!(kernel.dof, 1.0);
    let n = y.len() / 2;
    ws.attr.resize(n * 2, 0.0);
    ws.rep.resize(n * 2, 0.0);
    let z = state.repulsion(y, &mut ws.rep).max(f64::MIN_POSITIVE);
    let partial = attractive_fixed::<2>(y, p, exaggeration, kernel, &mut ws.attr, with_error);
    let psum = if with_error {
        p.sum() * exaggeration
    } else {
        0.0
    };
    combine(
        grad,
        &ws.attr,
        &ws.rep,
        z,
        kernel,
        with_error.then_some((partial, psum)),
    )
}

/// The exact gradient (all pairs) for any output dimension `dim`, with the
/// same conventions as [`barnes_hut`]. Call inside the caller's pool.
pub fn exact(
    y: &[f64],
    dim: usize,
    p: &SparseP,
    exaggeration: f64,
    kernel: Kernel,
    ws: &mut Workspace,
    grad: &mut [f64],
    with_error: bool,
) -> f64 {
    let n = y.len() / dim;
    ws.attr.resize(n * dim, 0.0);
    ws.rep.resize(n * dim, 0.0);
    let zs: Vec<f64> = ws
        .rep
        .par_chunks_mut(CHUNK * dim)
        .enumerate()
        .map(|(c, out)| {
            let mut zsum = 0.0;
            for (r, f) in out.chunks_exact_mut(dim).enumerate() {
                let i = c * CHUNK + r;
                f.fill(0.0);
                for j in 0..n {
                    if j == i {
                        continue;
                    }
                    let mut d2 = 0.0;
                    for d in 0..dim {
                        let t = y[i * dim + d] - y[j * dim + d];
                        d2 += t * t;
                    }
                    let (u, w) = kernel.eval(d2);
                    zsum += w;
                    for d in 0..dim {
                        f[d] += w * u * (y[i * dim + d] - y[j * dim + d]);
                    }
                }
            }
            zsum
        })
        .collect();
    let z: f64 = zs.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let partial = attractive(y, dim, p, exaggeration, kernel, &mut ws.attr, with_error);
    let psum = if with_error {
        p.sum() * exaggeration
    } else {
        0.0
    };
    combine(
        grad,
        &ws.attr,
        &ws.rep,
        z,
        kernel,
        with_error.then_some((partial, psum)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsne::knn::Neighbors;

    fn setup(n: usize, dim: usize) -> (Vec<f64>, SparseP) {
        let mut rng = crate::sampling::Rng::new(5);
        let y: Vec<f64> = (0..n * dim)
            .map(|_| rng.uniform_f64() * 6.0 - 3.0)
            .collect();
        let k = 10;
        let mut indices = Vec::new();
        let mut distances = Vec::new();
        for i in 0..n {
            for t in 1..=k {
                indices.push(((i + t * 7) % n) as u32);
                distances.push(rng.uniform_f64() * 3.0 + t as f64);
            }
        }
        let nn = Neighbors {
            k,
            indices,
            distances,
        };
        let pool = crate::thread_pool(2).unwrap();
        let p = crate::tsne::affinity::joint_probabilities(&nn, 3.0, &pool).unwrap();
        (y, p)
    }

    /// Dense reference: KL(P || Q) computed directly from its definition.
    fn kl_direct(y: &[f64], dim: usize, p: &SparseP, kernel: Kernel) -> f64 {
        let n = y.len() / dim;
        let w = |i: usize, j: usize| {
            let d2: f64 = (0..dim)
                .map(|d| (y[i * dim + d] - y[j * dim + d]).powi(2))
                .sum();
            kernel.eval(d2).1
        };
        let mut z = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    z += w(i, j);
                }
            }
        }
        let mut kl = 0.0;
        for i in 0..n {
            for t in p.indptr[i]..p.indptr[i + 1] {
                let j = p.indices[t] as usize;
                let pij = p.values[t] as f64;
                kl += pij * (pij / (w(i, j) / z)).ln();
            }
        }
        kl
    }

    #[test]
    fn fixed_dimension_attraction_equals_the_reference() {
        let pool = crate::thread_pool(2).unwrap();
        for (dim, dof) in [(2, 1.0), (2, 2.0), (3, 2.0), (3, 1.0)] {
            let (y, p) = setup(600, dim);
            let kernel = Kernel::new(dof);
            for with_error in [false, true] {
                let mut want = vec![0.0; y.len()];
                let mut got = vec![0.0; y.len()];
                let (e0, e1) = pool.install(|| {
                    let e0 = attractive(&y, dim, &p, 4.0, kernel, &mut want, with_error);
                    let e1 = match dim {
                        2 => attractive_fixed::<2>(&y, &p, 4.0, kernel, &mut got, with_error),
                        _ => attractive_fixed::<3>(&y, &p, 4.0, kernel, &mut got, with_error),
                    };
                    (e0, e1)
                });
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(scale > 0.0);
                for (w, g) in want.iter().zip(&got) {
                    assert!(
                        (w - g).abs() <= 1e-12 * scale,
                        "dim {dim} dof {dof}: {w} vs {g}"
                    );
                }
                if with_error {
                    assert!((e0 - e1).abs() <= 1e-12 * e0.abs(), "KL terms {e0} vs {e1}");
                    assert!(e0.is_finite() && e0 != 0.0);
                }
                // The portable rows too: on an AVX2 CPU the 2-D case above
                // runs `attract_rows2_avx2` instead.
                let mut portable = vec![0.0; y.len()];
                let e2 = match dim {
                    2 => attract_rows::<2>(&y, &p, 4.0, kernel, 0, &mut portable, with_error),
                    _ => attract_rows::<3>(&y, &p, 4.0, kernel, 0, &mut portable, with_error),
                };
                for (w, g) in want.iter().zip(&portable) {
                    assert!(
                        (w - g).abs() <= 1e-12 * scale,
                        "portable dim {dim}: {w} vs {g}"
                    );
                }
                if with_error {
                    assert!(
                        (e0 - e2).abs() <= 1e-12 * e0.abs(),
                        "portable KL {e0} vs {e2}"
                    );
                }
            }
        }
    }

    #[test]
    fn barnes_hut_at_angle_zero_equals_exact() {
        let pool = crate::thread_pool(2).unwrap();
        for dim in [2usize, 3] {
            let (y, p) = setup(300, dim);
            let kernel = Kernel::new((dim as f64 - 1.0).max(1.0));
            let mut ws = Workspace::default();
            let mut g_exact = vec![0.0; y.len()];
            let mut g_bh = vec![0.0; y.len()];
            let (e_exact, e_bh) = pool.install(|| {
                let e1 = exact(&y, dim, &p, 1.0, kernel, &mut ws, &mut g_exact, true);
                let e2 = if dim == 2 {
                    let mut t = SpTree::<2>::new();
                    barnes_hut(&y, &p, 1.0, 0.0, kernel, &mut t, &mut ws, &mut g_bh, true)
                } else {
                    let mut t = SpTree::<3>::new();
                    barnes_hut(&y, &p, 1.0, 0.0, kernel, &mut t, &mut ws, &mut g_bh, true)
                };
                (e1, e2)
            });
            for (a, b) in g_exact.iter().zip(&g_bh) {
                assert!((a - b).abs() <= 1e-10 * (1.0 + a.abs()), "{a} vs {b}");
            }
            assert!((e_exact - e_bh).abs() < 1e-10);
            assert!((e_exact - kl_direct(&y, dim, &p, kernel)).abs() < 1e-9);
            // Approximate angle stays close.
            let mut g_approx = vec![0.0; y.len()];
            pool.install(|| {
                let mut t = SpTree::<2>::new();
                if dim == 2 {
                    barnes_hut(
                        &y,
                        &p,
                        1.0,
                        0.5,
                        kernel,
                        &mut t,
                        &mut ws,
                        &mut g_approx,
                        false,
                    );
                }
            });
            if dim == 2 {
                let num: f64 = g_exact
                    .iter()
                    .zip(&g_approx)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum();
                let den: f64 = g_exact.iter().map(|a| a * a).sum();
                assert!((num / den).sqrt() < 0.05);
            }
        }
    }

    #[test]
    fn fft_gradient_matches_exact() {
        let pool = crate::thread_pool(2).unwrap();
        let (y, p) = setup(400, 2);
        let kernel = Kernel::new(1.0);
        let mut ws = Workspace::default();
        let (mut g_exact, mut g_fft) = (vec![0.0; y.len()], vec![0.0; y.len()]);
        let mut state = FftGradient::new();
        let (e1, e2) = pool.install(|| {
            (
                exact(&y, 2, &p, 4.0, kernel, &mut ws, &mut g_exact, true),
                fft(&y, &p, 4.0, kernel, &mut state, &mut ws, &mut g_fft, true),
            )
        });
        let num: f64 = g_exact
            .iter()
            .zip(&g_fft)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        let den: f64 = g_exact.iter().map(|a| a * a).sum();
        assert!(
            (num / den).sqrt() < 1e-3,
            "relative error {}",
            (num / den).sqrt()
        );
        assert!(((e1 - e2) / e1).abs() < 1e-4, "KL {e1} vs {e2}");
    }

    #[test]
    fn exact_gradient_matches_finite_differences() {
        let (mut y, p) = setup(40, 2);
        let kernel = Kernel::new(1.0);
        let pool = crate::thread_pool(1).unwrap();
        let mut ws = Workspace::default();
        let mut g = vec![0.0; y.len()];
        pool.install(|| exact(&y, 2, &p, 1.0, kernel, &mut ws, &mut g, false));
        let h = 1e-6;
        for idx in [0usize, 7, 33, 79] {
            let orig = y[idx];
            y[idx] = orig + h;
            let fp = kl_direct(&y, 2, &p, kernel);
            y[idx] = orig - h;
            let fm = kl_direct(&y, 2, &p, kernel);
            y[idx] = orig;
            let fd = (fp - fm) / (2.0 * h);
            assert!(
                (fd - g[idx]).abs() < 1e-6 * (1.0 + fd.abs()),
                "{fd} vs {}",
                g[idx]
            );
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::tsne::knn::Neighbors;
    use std::time::Instant;

    /// `cargo test --release timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn time_gradient_parts() {
        let n = 20000;
        let mut rng = crate::sampling::Rng::new(5);
        let mut y = vec![0.0; n * 2];
        for i in 0..n {
            let c = (i % 10) as f64;
            y[2 * i] = c * 10.0 + (rng.uniform_f64() - 0.5) * 8.0;
            y[2 * i + 1] = (c * 3.0).sin() * 30.0 + (rng.uniform_f64() - 0.5) * 8.0;
        }
        let k = 90;
        let mut indices = Vec::new();
        let mut distances = Vec::new();
        for i in 0..n {
            for t in 1..=k {
                indices.push(((i + t * 10) % n) as u32);
                distances.push(t as f64);
            }
        }
        let nn = Neighbors {
            k,
            indices,
            distances,
        };
        let pool = crate::thread_pool(1).unwrap();
        let p = crate::tsne::affinity::joint_probabilities(&nn, 30.0, &pool).unwrap();
        let kernel = Kernel::new(1.0);
        let mut t = SpTree::<2>::new();
        let mut ws = Workspace::default();
        let mut g = vec![0.0; n * 2];
        pool.install(|| {
            let s = Instant::now();
            for _ in 0..10 {
                t.build(&y);
            }
            println!("build {:?} cells {}", s.elapsed() / 10, t.cells.len());
            let s = Instant::now();
            for _ in 0..10 {
                let mut a = vec![0.0; n * 2];
                attractive(&y, 2, &p, 1.0, kernel, &mut a, false);
            }
            println!("attractive, any dimension {:?}", s.elapsed() / 10);
            let s = Instant::now();
            for _ in 0..10 {
                let mut a = vec![0.0; n * 2];
                attractive_fixed::<2>(&y, &p, 1.0, kernel, &mut a, false);
            }
            println!("attractive, 2-D {:?}", s.elapsed() / 10);
            let s = Instant::now();
            for _ in 0..10 {
                barnes_hut(&y, &p, 1.0, 0.5, kernel, &mut t, &mut ws, &mut g, false);
            }
            println!("total {:?}", s.elapsed() / 10);
        });
    }
}
