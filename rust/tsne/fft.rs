//! The repulsive forces of a 2-D embedding by FFT-accelerated interpolation
//! (Linderman et al. 2019, "Fast interpolation-based t-SNE", FIt-SNE; the
//! `negative_gradient_method="fft"` of openTSNE). Cost `O(N + B^2 log B)`
//! per iteration for `B` boxes per side, memory linear in `N`.
//!
//! With one degree of freedom (2-D output) the kernel is
//! `K(y, y') = 1 / (1 + |y - y'|^2)`, and the repulsive part of the gradient
//! of [`super::gradient`] needs, for every point `i`,
//!
//! ```text
//! R_i = sum_j K_ij^2 (y_i - y_j) = y_i phi1_i - phi23_i,
//! Z   = sum_{i != j} K_ij,
//! phi1_i = sum_j K_ij^2,  phi23_i = sum_j K_ij^2 y_j,  phi4_i = sum_j K_ij^2 |y_j|^2.
//! ```
//!
//! `Z` comes from the same sums: `K = K^2 (1 + |y_i|^2 - 2 y_i.y_j + |y_j|^2)`,
//! so `sum_j K_ij = (1 + |y_i|^2) phi1_i - 2 y_i.phi23_i + phi4_i` (the term
//! `j = i` adds exactly 1, subtracted once per point). Only the total `Z` is
//! needed, and `K^2` is symmetric, so `sum_i phi4_i = sum_j |y_j|^2 phi1_j`:
//!
//! ```text
//! Z = sum_i ((1 + 2 |y_i|^2) phi1_i - 2 y_i.phi23_i) - N.
//! ```
//!
//! The interpolated sums below keep that symmetry exactly (spreading and
//! interpolating use the same weights, and the node kernel is symmetric), so
//! this is the `Z` that spreading a fourth charge `|y_j|^2` would give, up to
//! rounding, for three charges' work instead of four (FIt-SNE and openTSNE
//! spread four). The three sums are `sum_j K^2(y_i - y_j) q_j` for the
//! charges `q_j = 1, y_j`: smooth kernel sums, computed in three steps.
//!
//! 1. **Spread.** The square around the points is cut into `B x B` boxes
//!    with `p = 3` equispaced nodes per box and side (a grid of `3B x 3B`
//!    equispaced nodes). Inside a box, `K^2` as a function of `y_j` is
//!    replaced by its Lagrange interpolant on the box's nodes, which moves
//!    each charge onto the `3 x 3` nodes of its box with the Lagrange weights.
//! 2. **Convolve.** The node charges are convolved with `K^2` evaluated
//!    between nodes. The nodes are equispaced, so the kernel matrix is
//!    (two-level) Toeplitz: embedded in a circulant of twice the size it is
//!    applied with real 2-D FFTs (`realfft` along rows, `rustfft` along
//!    columns).
//! 3. **Interpolate.** The values at a point are interpolated from the
//!    nodes of its box with the same weights (now `K^2` as a function of `y_i`).
//!
//! The interpolation error is that of degree-2 polynomials on a box of side
//! `h`, `O(h^3 max |d^3 K^2|)`; boxes are at most one unit wide (as in
//! openTSNE, `B = max(50, ceil(range))`), where `K^2` varies slowly, and the
//! tests compare with the exact gradient. (Rounding the box width up to a
//! fixed ladder, so that the kernel's transform could be reused between
//! iterations, made boxes up to 7% wider and cost 3% in KL on MNIST 70k; the
//! transform is a small part of an iteration, so it is redone each time.)
//! Coordinates are centred on the grid before forming the charges so that
//! `|y|^2` stays small next to the sums it is combined with. Every sum runs
//! in a fixed order (the three charges are spread in parallel, each by one
//! task), so results do not depend on the number of threads.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

/// Interpolation nodes per box and side.
const P: usize = 3;
/// Fewest boxes per side.
const MIN_BOXES: usize = 50;
/// Most boxes per side (beyond it boxes grow wider than one unit).
const MAX_BOXES: usize = 800;
/// Points per parallel task.
const CHUNK: usize = 1024;
/// Charges spread: 1, y_x, y_y.
const CHARGES: usize = 3;

/// The smallest `2^a 3^b 5^c >= n` (fast FFT lengths).
fn smooth_at_least(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for f in [2, 3, 5] {
            while r.is_multiple_of(f) {
                r /= f;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// Plans and buffers for one grid size, reused while the size stays.
struct Plans {
    /// Boxes per side.
    boxes: usize,
    /// Circulant side `2 * P * boxes`.
    len: usize,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
}

/// The FFT gradient's reusable state.
#[derive(Default)]
pub struct FftGradient {
    plans: Option<Plans>,
    /// Per point: the box (x, y) and the 2 x P Lagrange weights.
    boxes: Vec<[u32; 2]>,
    weights: Vec<[f64; 2 * P]>,
    /// Per charge: node values (`(P B)^2`), then the convolved values.
    nodes: Vec<Vec<f64>>,
    /// Transform of the kernel (`len/2 + 1` columns x `len` rows, transposed).
    kernel_hat: Vec<Complex<f64>>,
}

/// Lagrange weights of the `P` equispaced nodes `(k + 1/2) / P` of the unit
/// interval at `t`.
#[inline]
fn lagrange(t: f64) -> [f64; P] {
    let nodes: [f64; P] = std::array::from_fn(|k| (k as f64 + 0.5) / P as f64);
    std::array::from_fn(|k| {
        let mut w = 1.0;
        for l in 0..P {
            if l != k {
                w *= (t - nodes[l]) / (nodes[k] - nodes[l]);
            }
        }
        w
    })
}

impl FftGradient {
    /// An empty state; buffers are sized on first use.
    pub fn new() -> Self {
        FftGradient::default()
    }

    fn plans_for(&mut self, boxes: usize) -> &Plans {
        if self.plans.as_ref().map(|p| p.boxes) != Some(boxes) {
            let len = 2 * P * boxes;
            let mut rp = RealFftPlanner::<f64>::new();
            let mut cp = FftPlanner::<f64>::new();
            self.plans = Some(Plans {
                boxes,
                len,
                r2c: rp.plan_fft_forward(len),
                c2r: rp.plan_fft_inverse(len),
                fwd: cp.plan_fft_forward(len),
                inv: cp.plan_fft_inverse(len),
            });
        }
        self.plans.as_ref().expect("just set")
    }

    /// Repulsive forces `R_i` (row-major `n x 2`, into `rep`) and the
    /// normalisation `Z` (returned) at `y`. Call inside the caller's pool.
    pub fn repulsion(&mut self, y: &[f64], rep: &mut [f64]) -> f64 {
        let n = y.len() / 2;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in y {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let range = (hi - lo).max(1e-12);
        let boxes = smooth_at_least((range.ceil() as usize).clamp(MIN_BOXES, MAX_BOXES));
        let plans = self.plans_for(boxes);
        let (len, boxes) = (plans.len, plans.boxes);
        let side = P * boxes;
        let h = range * (1.0 + 1e-9) / boxes as f64;
        let centre = lo + 0.5 * boxes as f64 * h;

        self.kernel_transform(len, side, h / P as f64);

        // Boxes and weights of every point.
        self.boxes.resize(n, [0; 2]);
        self.weights.resize(n, [0.0; 2 * P]);
        self.boxes
            .par_chunks_mut(CHUNK)
            .zip(self.weights.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (bs, ws))| {
                for (r, (b, w)) in bs.iter_mut().zip(ws.iter_mut()).enumerate() {
                    let i = c * CHUNK + r;
                    for d in 0..2 {
                        let s = (y[2 * i + d] - lo) / h;
                        let k = (s.floor().max(0.0) as usize).min(boxes - 1);
                        b[d] = k as u32;
                        w[d * P..(d + 1) * P].copy_from_slice(&lagrange(s - k as f64));
                    }
                }
            });

        // 1. Spread the charges 1, y_x, y_y (centred), one task each.
        self.nodes.resize_with(CHARGES, Vec::new);
        let (bx, wt) = (&self.boxes, &self.weights);
        self.nodes.par_iter_mut().enumerate().for_each(|(q, grid)| {
            grid.clear();
            grid.resize(side * side, 0.0);
            for i in 0..n {
                let (cx, cy) = (y[2 * i] - centre, y[2 * i + 1] - centre);
                let charge = match q {
                    0 => 1.0,
                    1 => cx,
                    _ => cy,
                };
                let (b, w) = (bx[i], &wt[i]);
                for a in 0..P {
                    let row = (b[0] as usize * P + a) * side + b[1] as usize * P;
                    let wa = w[a] * charge;
                    for c in 0..P {
                        grid[row + c] += wa * w[P + c];
                    }
                }
            }
        });

        // 2. Convolve each grid with K^2 on the node offsets.
        let plans = self.plans.as_ref().expect("planned above");
        let kernel_hat = &self.kernel_hat;
        self.nodes
            .par_iter_mut()
            .for_each(|grid| convolve(plans, side, kernel_hat, grid));

        // 3. Interpolate back and form R_i and the row sums of K.
        let nodes = &self.nodes;
        let zs: Vec<f64> = rep
            .par_chunks_mut(2 * CHUNK)
            .enumerate()
            .map(|(c, out)| {
                let mut z = 0.0;
                for (r, f) in out.chunks_exact_mut(2).enumerate() {
                    let i = c * CHUNK + r;
                    let (b, w) = (bx[i], &wt[i]);
                    let mut phi = [0.0f64; CHARGES];
                    for a in 0..P {
                        let row = (b[0] as usize * P + a) * side + b[1] as usize * P;
                        for cc in 0..P {
                            let wgt = w[a] * w[P + cc];
                            for (q, v) in phi.iter_mut().enumerate() {
                                *v += wgt * nodes[q][row + cc];
                            }
                        }
                    }
                    let (cx, cy) = (y[2 * i] - centre, y[2 * i + 1] - centre);
                    f[0] = cx * phi[0] - phi[1];
                    f[1] = cy * phi[0] - phi[2];
                    // (1 + |c|^2) phi1 + phi4 - 2 c.phi23 - 1, with phi4 summed as
                    // |c|^2 phi1 (see the module docs)
                    z += (1.0 + 2.0 * (cx * cx + cy * cy)) * phi[0]
                        - 2.0 * (cx * phi[1] + cy * phi[2])
                        - 1.0;
                }
                z
            })
            .collect();
        zs.iter().sum()
    }

    /// The 2-D transform of the circulant embedding of `K^2` between nodes
    /// `spacing` apart, into `kernel_hat`.
    fn kernel_transform(&mut self, len: usize, side: usize, spacing: f64) {
        let offset = |a: usize| -> f64 {
            // Circulant index -> signed node offset (index `side` is unused).
            if a < side {
                a as f64 * spacing
            } else {
                (a as f64 - len as f64) * spacing
            }
        };
        let mut full = vec![0.0f64; len * len];
        full.par_chunks_mut(len).enumerate().for_each(|(a, row)| {
            if a == side {
                return;
            }
            let dx = offset(a);
            for (b, v) in row.iter_mut().enumerate() {
                if b == side {
                    continue;
                }
                let dy = offset(b);
                let k = 1.0 / (1.0 + dx * dx + dy * dy);
                *v = k * k;
            }
        });
        let plans = self.plans.as_ref().expect("planned");
        self.kernel_hat = forward(plans, &full, len);
    }
}

/// Real 2-D FFT of a `len x len` array (row-major; rows past `rows_used`
/// are zero and skipped), returned transposed: `len/2 + 1` rows of `len`.
fn forward(plans: &Plans, data: &[f64], rows_used: usize) -> Vec<Complex<f64>> {
    let len = plans.len;
    let half = len / 2 + 1;
    let mut rows = vec![Complex::new(0.0, 0.0); len * half];
    rows.par_chunks_mut(half)
        .zip(data.par_chunks(len))
        .take(rows_used)
        .for_each(|(out, inp)| {
            let mut inp = inp.to_vec();
            plans
                .r2c
                .process(&mut inp, out)
                .expect("buffer sizes match the plan");
        });
    let mut cols = transpose(&rows, len, half);
    cols.par_chunks_mut(len).for_each(|c| plans.fwd.process(c));
    cols
}

/// `grid` (`side x side`) convolved with the kernel whose transform is
/// `kernel_hat`, in place.
fn convolve(plans: &Plans, side: usize, kernel_hat: &[Complex<f64>], grid: &mut [f64]) {
    let len = plans.len;
    let half = len / 2 + 1;
    let mut padded = vec![0.0f64; len * side];
    for (a, row) in grid.chunks_exact(side).enumerate() {
        padded[a * len..a * len + side].copy_from_slice(row);
    }
    let mut cols = forward(plans, &padded, side);
    cols.par_iter_mut()
        .zip(kernel_hat.par_iter())
        .for_each(|(v, k)| *v *= k);
    cols.par_chunks_mut(len).for_each(|c| plans.inv.process(c));
    let rows = transpose(&cols, half, len);
    let scale = 1.0 / (len * len) as f64;
    grid.par_chunks_mut(side)
        .zip(rows.par_chunks(half))
        .for_each(|(out, inp)| {
            let mut inp = inp.to_vec();
            // The imaginary parts of the DC and Nyquist terms are rounding
            // noise of a real signal's transform; c2r insists they are zero.
            inp[0].im = 0.0;
            inp[half - 1].im = 0.0;
            let mut full = vec![0.0; len];
            plans
                .c2r
                .process(&mut inp, &mut full)
                .expect("buffer sizes match the plan");
            for (o, v) in out.iter_mut().zip(&full) {
                *o = v * scale;
            }
        });
}

/// The transpose of a row-major `rows x cols` array, in blocks.
fn transpose<T: Copy + Default + Send + Sync>(a: &[T], rows: usize, cols: usize) -> Vec<T> {
    const B: usize = 32;
    let mut out = vec![T::default(); rows * cols];
    out.par_chunks_mut(B * rows)
        .enumerate()
        .for_each(|(cb, chunk)| {
            let c0 = cb * B;
            let c1 = (c0 + B).min(cols);
            for r0 in (0..rows).step_by(B) {
                for r in r0..(r0 + B).min(rows) {
                    for c in c0..c1 {
                        chunk[(c - c0) * rows + r] = a[r * cols + c];
                    }
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(y: &[f64]) -> (Vec<f64>, f64) {
        let n = y.len() / 2;
        let mut rep = vec![0.0; 2 * n];
        let mut z = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let (dx, dy) = (y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
                let k = 1.0 / (1.0 + dx * dx + dy * dy);
                z += k;
                rep[2 * i] += k * k * dx;
                rep[2 * i + 1] += k * k * dy;
            }
        }
        (rep, z)
    }

    #[test]
    fn interpolation_matches_direct_sums() {
        let pool = crate::thread_pool(2).unwrap();
        let mut rng = crate::sampling::Rng::new(11);
        // Tight, medium and wide layouts (the last one spans > 50 boxes).
        for scale in [1e-3, 5.0, 120.0] {
            let y: Vec<f64> = (0..2 * 700)
                .map(|t| {
                    let c = ((t / 2) % 4) as f64 * scale * 0.2;
                    c + (rng.uniform_f64() - 0.5) * scale
                })
                .collect();
            let (want, zw) = direct(&y);
            let mut got = vec![0.0; y.len()];
            let mut g = FftGradient::new();
            let z = pool.install(|| g.repulsion(&y, &mut got));
            let num: f64 = want.iter().zip(&got).map(|(a, b)| (a - b).powi(2)).sum();
            let den: f64 = want.iter().map(|a| a * a).sum();
            let rel = (num / den).sqrt();
            // Boxes are 1e-5 and 0.1 wide for the first two layouts, about one
            // unit for the sparse wide one, where near pairs (|y_i - y_j| < 1,
            // where K^2 bends most) make the error largest.
            let tol = if scale > 100.0 { 6e-2 } else { 2e-3 };
            assert!(rel < tol, "scale {scale}: relative error {rel}");
            // Z of a sparse wide layout is small (~500 here) next to the terms
            // (1 + |y_i|^2) phi1_i it is formed from, so it is the least
            // accurate output there (~10%); dense maps have far larger Z.
            let ztol = if scale > 100.0 { 0.15 } else { 1e-3 };
            assert!(((z - zw) / zw).abs() < ztol, "scale {scale}: Z {z} vs {zw}");
        }
    }

    #[test]
    fn lagrange_weights_reproduce_quadratics() {
        for t in [0.0, 0.1, 0.5, 0.77, 1.0] {
            let w = lagrange(t);
            let nodes: [f64; P] = std::array::from_fn(|k| (k as f64 + 0.5) / P as f64);
            let f = |x: f64| 2.0 - 3.0 * x + 0.5 * x * x;
            let interp: f64 = (0..P).map(|k| w[k] * f(nodes[k])).sum();
            assert!((interp - f(t)).abs() < 1e-12);
        }
        assert_eq!(smooth_at_least(50), 50);
        assert_eq!(smooth_at_least(49), 50);
        assert_eq!(smooth_at_least(121), 125);
    }
}
