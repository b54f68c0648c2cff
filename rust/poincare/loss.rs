//! The training loss of one relation and its gradients.
//!
//! For a relation `(u, v)` and sampled negatives `v'_1 … v'_k` (nodes `w`
//! with no relation `(u, w)`), Nickel & Kiela (2017) minimise the softmax
//! cross-entropy over distances:
//!
//! ```text
//! L = −log( e^{−d(u, v_0)} / Σ_{i=0..k} e^{−d(u, v_i)} ) + λ |v_0|²
//!   = d_0 + log Σ_i e^{−d_i} + λ |v_0|²          (v_0 = v, v_i = v'_i)
//! ```
//!
//! where `λ` is gensim's `regularization_coeff`. With `p_i` the softmax of
//! `−d`, `∂L/∂d_i = [i = 0] − p_i`, so
//!
//! ```text
//! ∇_u L   = Σ_i ([i = 0] − p_i) ∂d_i/∂u
//! ∇_{v_i} L = ([i = 0] − p_i) ∂d_i/∂v_i  (+ 2 λ v_0 for i = 0)
//! ```
//!
//! The log-sum-exp is shifted by `min d_i`, so no term overflows. The loss
//! value returned leaves out the regularisation term, as gensim reports it.

use super::lorentz;
use super::manifold::distance_with_grads;

/// Scratch buffers for [`relation_loss`], reused across calls by one worker.
#[derive(Clone, Debug, Default)]
pub struct LossScratch {
    dists: Vec<f64>,
    du: Vec<f64>,
    dv: Vec<f64>,
}

/// Loss of one relation and its Euclidean gradients, in the Poincaré ball.
///
/// * `u`: the row of the first node (length `dim`).
/// * `vs`: `1 + k` rows back to back (positive first, then negatives).
/// * `grad_u` (length `dim`) and `grad_vs` (same shape as `vs`) receive the gradients.
///
/// Returns the loss without its regularisation term.
pub fn relation_loss(
    u: &[f64],
    vs: &[f64],
    regularization_coeff: f64,
    grad_u: &mut [f64],
    grad_vs: &mut [f64],
    scratch: &mut LossScratch,
) -> f64 {
    relation_loss_in::<Ball>(u, vs, regularization_coeff, grad_u, grad_vs, scratch)
}

/// A model of hyperbolic space the loss is computed in: its distance with
/// gradients, and the gradient of the penalty `λ |v|²` (`|v|` the norm of the
/// point in the Poincaré ball).
pub(crate) trait Model {
    /// Distance `d(u, v)`, writing `∂d/∂u` into `gu` and `∂d/∂v` into `gv`.
    fn distance_with_grads(u: &[f64], v: &[f64], gu: &mut [f64], gv: &mut [f64]) -> f64;
    /// Adds the gradient of `coeff · |v|²_ball` at `v` to `grad`.
    fn add_penalty_gradient(v: &[f64], coeff: f64, grad: &mut [f64]);
}

/// The Poincaré ball (coordinates `p`, `|p| < 1`).
pub(crate) struct Ball;

impl Model for Ball {
    #[inline]
    fn distance_with_grads(u: &[f64], v: &[f64], gu: &mut [f64], gv: &mut [f64]) -> f64 {
        distance_with_grads(u, v, gu, gv)
    }
    #[inline]
    fn add_penalty_gradient(v: &[f64], coeff: f64, grad: &mut [f64]) {
        for (g, x) in grad.iter_mut().zip(v) {
            *g += 2.0 * coeff * x;
        }
    }
}

/// The hyperboloid (coordinates `x`, `⟨x, x⟩_L = −1`; see [`super::lorentz`]).
pub(crate) struct Hyperboloid;

impl Model for Hyperboloid {
    #[inline]
    fn distance_with_grads(u: &[f64], v: &[f64], gu: &mut [f64], gv: &mut [f64]) -> f64 {
        lorentz::distance_with_grads(u, v, gu, gv)
    }
    /// `|p|² = (x_0 − 1) / (x_0 + 1)` depends on `x_0` alone; its derivative
    /// is `2 / (x_0 + 1)²`.
    #[inline]
    fn add_penalty_gradient(v: &[f64], coeff: f64, grad: &mut [f64]) {
        grad[0] += 2.0 * coeff / ((v[0] + 1.0) * (v[0] + 1.0));
    }
}

/// [`relation_loss`] in model `M` (rows of `u.len()` coordinates).
pub(crate) fn relation_loss_in<M: Model>(
    u: &[f64],
    vs: &[f64],
    regularization_coeff: f64,
    grad_u: &mut [f64],
    grad_vs: &mut [f64],
    scratch: &mut LossScratch,
) -> f64 {
    let dim = u.len();
    let n = vs.len() / dim;
    scratch.dists.clear();
    scratch.du.resize(n * dim, 0.0);
    scratch.dv.resize(n * dim, 0.0);
    for i in 0..n {
        let v = &vs[i * dim..(i + 1) * dim];
        let d = M::distance_with_grads(
            u,
            v,
            &mut scratch.du[i * dim..(i + 1) * dim],
            &mut scratch.dv[i * dim..(i + 1) * dim],
        );
        scratch.dists.push(d);
    }
    let m = scratch.dists.iter().cloned().fold(f64::INFINITY, f64::min);
    let z: f64 = scratch.dists.iter().map(|d| (m - d).exp()).sum();
    let loss = scratch.dists[0] - m + z.ln();
    grad_u.fill(0.0);
    for i in 0..n {
        let p = (m - scratch.dists[i]).exp() / z;
        let w = if i == 0 { 1.0 - p } else { -p };
        let du = &scratch.du[i * dim..(i + 1) * dim];
        let dv = &scratch.dv[i * dim..(i + 1) * dim];
        let gv = &mut grad_vs[i * dim..(i + 1) * dim];
        for j in 0..dim {
            grad_u[j] += w * du[j];
            gv[j] = w * dv[j];
        }
    }
    if regularization_coeff != 0.0 {
        M::add_penalty_gradient(&vs[..dim], regularization_coeff, &mut grad_vs[..dim]);
    }
    loss
}

/// The full loss (with regularisation), for finite-difference checks.
pub fn relation_loss_value(u: &[f64], vs: &[f64], regularization_coeff: f64) -> f64 {
    let dim = u.len();
    let mut gu = vec![0.0; dim];
    let mut gv = vec![0.0; vs.len()];
    let mut s = LossScratch::default();
    let l = relation_loss(u, vs, regularization_coeff, &mut gu, &mut gv, &mut s);
    l + regularization_coeff * vs[..dim].iter().map(|x| x * x).sum::<f64>()
}

/// Largest absolute difference between the analytic gradients of one
/// relation and central finite differences (step `h`).
pub fn gradient_check(u: &[f64], vs: &[f64], regularization_coeff: f64, h: f64) -> f64 {
    let dim = u.len();
    let mut gu = vec![0.0; dim];
    let mut gv = vec![0.0; vs.len()];
    let mut s = LossScratch::default();
    relation_loss(u, vs, regularization_coeff, &mut gu, &mut gv, &mut s);
    let mut worst: f64 = 0.0;
    let mut uu = u.to_vec();
    for j in 0..dim {
        let x = uu[j];
        uu[j] = x + h;
        let lp = relation_loss_value(&uu, vs, regularization_coeff);
        uu[j] = x - h;
        let lm = relation_loss_value(&uu, vs, regularization_coeff);
        uu[j] = x;
        worst = worst.max(((lp - lm) / (2.0 * h) - gu[j]).abs());
    }
    let mut vv = vs.to_vec();
    for j in 0..vs.len() {
        let x = vv[j];
        vv[j] = x + h;
        let lp = relation_loss_value(u, &vv, regularization_coeff);
        vv[j] = x - h;
        let lm = relation_loss_value(u, &vv, regularization_coeff);
        vv[j] = x;
        worst = worst.max(((lp - lm) / (2.0 * h) - gv[j]).abs());
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::Rng;

    #[test]
    fn hyperboloid_penalty_is_the_gradient_of_the_ball_norm() {
        // |p|^2 of the ball point of x, as a function of x_0 alone
        let ball_sq = |x: &[f64]| {
            let mut p = vec![0.0; x.len() - 1];
            lorentz::to_ball(x, &mut p);
            p.iter().map(|a| a * a).sum::<f64>()
        };
        let mut x = [0.0; 4];
        lorentz::from_ball(&[0.3, -0.5, 0.6], &mut x);
        let mut g = [0.0; 4];
        Hyperboloid::add_penalty_gradient(&x, 0.7, &mut g);
        assert!(g[1..].iter().all(|&v| v == 0.0));
        // Along the manifold (move a spatial coordinate, lift x_0 back onto it), the
        // penalty changes at the rate the gradient gives by the chain rule through x_0.
        let lift =
            |y: &mut [f64; 4]| y[0] = (1.0 + y[1..].iter().map(|a| a * a).sum::<f64>()).sqrt();
        let h = 1e-6;
        for i in 1..4 {
            let (mut a, mut b) = (x, x);
            a[i] += h;
            b[i] -= h;
            lift(&mut a);
            lift(&mut b);
            let fd = 0.7 * (ball_sq(&a) - ball_sq(&b)) / (2.0 * h);
            let chain = g[0] * x[i] / x[0];
            assert!((chain - fd).abs() < 1e-8, "{i}: {chain} {fd}");
        }
    }

    #[test]
    fn loss_gradient_matches_finite_differences() {
        let mut rng = Rng::new(11);
        for dim in [2usize, 5, 10] {
            for reg in [0.0, 1.0] {
                let k = 4;
                let mut draw = || (rng.uniform_f64() - 0.5) * 0.9 / (dim as f64).sqrt();
                let u: Vec<f64> = (0..dim).map(|_| draw()).collect();
                let vs: Vec<f64> = (0..(k + 1) * dim).map(|_| draw()).collect();
                let err = gradient_check(&u, &vs, reg, 1e-6);
                assert!(err < 1e-6, "dim {dim} reg {reg}: max error {err}");
            }
        }
    }

    #[test]
    fn loss_is_softmax_cross_entropy() {
        let u = [0.1, 0.2];
        let vs = [0.1, 0.25, -0.5, 0.0, 0.3, -0.6];
        let mut gu = [0.0; 2];
        let mut gv = [0.0; 6];
        let mut s = LossScratch::default();
        let l = relation_loss(&u, &vs, 0.0, &mut gu, &mut gv, &mut s);
        use crate::poincare::manifold::distance;
        let d: Vec<f64> = (0..3)
            .map(|i| distance(&u, &vs[2 * i..2 * i + 2]))
            .collect();
        let expected = -((-d[0]).exp() / d.iter().map(|x| (-x).exp()).sum::<f64>()).ln();
        assert!((l - expected).abs() < 1e-12);
        // far-apart negatives: no overflow, loss ~ 0
        let vs = [0.1, 0.2, -0.999_99, 0.0, 0.0, 0.999_99];
        let l = relation_loss(&u, &vs, 1.0, &mut gu, &mut gv, &mut s);
        assert!(l.is_finite() && l >= 0.0);
        assert!(gu.iter().chain(&gv).all(|g| g.is_finite()));
    }
}
