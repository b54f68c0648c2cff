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

use super::manifold::distance_with_grads;

/// Scratch buffers for [`relation_loss`], reused across calls by one worker.
#[derive(Clone, Debug, Default)]
pub struct LossScratch {
    dists: Vec<f64>,
    du: Vec<f64>,
    dv: Vec<f64>,
}

/// Loss of one relation and its Euclidean gradients.
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
    let dim = u.len();
    let n = vs.len() / dim;
    scratch.dists.clear();
    scratch.du.resize(n * dim, 0.0);
    scratch.dv.resize(n * dim, 0.0);
    for i in 0..n {
        let v = &vs[i * dim..(i + 1) * dim];
        let d = distance_with_grads(
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
    for j in 0..dim {
        grad_vs[j] += 2.0 * regularization_coeff * vs[j];
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
