//! The hyperboloid (Lorentz) model of hyperbolic space, for training.
//!
//! The Poincaré ball and the upper sheet of the hyperboloid
//! `H = {x ∈ R^{n+1} : ⟨x, x⟩_L = −1, x_0 > 0}`, with the Lorentz product
//! `⟨x, y⟩_L = −x_0 y_0 + Σ_{i≥1} x_i y_i`, are isometric:
//!
//! ```text
//! ball → H:  x = ((1 + |p|²), 2 p) / (1 − |p|²)
//! H → ball:  p = x_{1..n} / (1 + x_0)
//! ```
//!
//! so a distance computed in either model is the same number. Nickel & Kiela
//! (2018) train in `H` because its Riemannian SGD step is the exact
//! exponential map, with no conformal factor `(1 − |p|²)² / 4` that shrinks
//! towards zero (and loses digits) where most nodes of a deep hierarchy sit:
//! a leaf near the edge of the ball moves as freely as a node near its centre.
//! Training uses this module when `TrainConfig::geometry` is
//! [`super::train::Geometry::Hyperboloid`]; the model keeps its vectors in the
//! ball, converted on the way in and out.
//!
//! # Distance and gradient
//!
//! `d(x, y) = arcosh(−⟨x, y⟩_L)`. With both points on `H`,
//! `−⟨x − y, x − y⟩_L = 2 (−⟨x, y⟩_L − 1)`, so `δ = −⟨x, y⟩_L − 1` is computed
//! as `(|x_s − y_s|² − (x_0 − y_0)²) / 2` (`x_s` the spatial part), which keeps
//! its digits when the points are close and far from the origin, where the
//! product itself is a difference of two large numbers. Then
//! `d = arcosh(1 + δ)` and, with `r = sqrt(δ (δ + 2))`,
//!
//! ```text
//! ∂d/∂x = (y_0, −y_s) / r,     ∂d/∂y = (x_0, −x_s) / r
//! ```
//!
//! (zero where `x = y`, as in the ball).
//!
//! # The step
//!
//! For a Euclidean gradient `g` at `x`, the Riemannian gradient is
//! `h = J g + ⟨x, J g⟩_L x` with `J = diag(−1, 1, …, 1)` (the metric's inverse,
//! then the projection onto the tangent space at `x`); the step is the
//! exponential map `x ← cosh(t) x + sinh(t) v / t` of `v = −h`, `t = |v|_L`,
//! with `t` clipped to [`MAX_STEP`] as in the reference implementation. The
//! result is put back on `H` (`x_0 = sqrt(1 + |x_s|²)`, which also repairs a
//! row two Hogwild workers wrote at once) and kept within the radius that
//! corresponds to the ball's margin `ε`, so the ball coordinates stay
//! `|p| ≤ 1 − ε` on the way out.

use super::manifold::MIN_CONFORMAL;

/// Longest geodesic step of one row per batch (Nickel & Kiela's reference
/// code clips the tangent vector's norm at 1).
pub const MAX_STEP: f64 = 1.0;

/// `sinh` of the largest distance from the origin: the hyperboloid image of
/// the ball's `|p| ≤ 1 − ε` is `|x_s| ≤ 2 (1 − ε) / (1 − (1 − ε)²)`.
pub fn max_spatial_norm(epsilon: f64) -> f64 {
    let r = 1.0 - epsilon;
    2.0 * r / (1.0 - r * r).max(MIN_CONFORMAL)
}

/// Writes the hyperboloid point of ball point `p` into `x` (`x.len() == p.len() + 1`).
pub fn from_ball(p: &[f64], x: &mut [f64]) {
    let s: f64 = p.iter().map(|a| a * a).sum();
    let a = (1.0 - s).max(MIN_CONFORMAL);
    for (xi, pi) in x[1..].iter_mut().zip(p) {
        *xi = 2.0 * pi / a;
    }
    lift(x);
}

/// Writes the ball point of hyperboloid point `x` into `p` (`x.len() == p.len() + 1`).
pub fn to_ball(x: &[f64], p: &mut [f64]) {
    let d = 1.0 + x[0];
    for (pi, xi) in p.iter_mut().zip(&x[1..]) {
        *pi = xi / d;
    }
}

/// Sets `x_0` so that `x` lies on the hyperboloid.
#[inline]
fn lift(x: &mut [f64]) {
    let s: f64 = x[1..].iter().map(|a| a * a).sum();
    x[0] = (1.0 + s).sqrt();
}

/// `−⟨x, y⟩_L − 1` for two points on the hyperboloid, from their difference.
#[inline]
fn delta(x: &[f64], y: &[f64]) -> f64 {
    let d0 = x[0] - y[0];
    let s: f64 = x[1..]
        .iter()
        .zip(&y[1..])
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    ((s - d0 * d0) * 0.5).max(0.0)
}

/// Hyperbolic distance between two hyperboloid points.
pub fn distance(x: &[f64], y: &[f64]) -> f64 {
    let dl = delta(x, y);
    (dl + (dl * (dl + 2.0)).sqrt()).ln_1p()
}

/// Distance `d(x, y)`; writes `∂d/∂x` into `gx` and `∂d/∂y` into `gy`
/// (Euclidean gradients in the ambient coordinates, zero where `x = y`).
pub fn distance_with_grads(x: &[f64], y: &[f64], gx: &mut [f64], gy: &mut [f64]) -> f64 {
    let dl = delta(x, y);
    let root = (dl * (dl + 2.0)).sqrt();
    let d = (dl + root).ln_1p();
    if !(root > 0.0 && root.is_finite() && d.is_finite()) {
        gx.fill(0.0);
        gy.fill(0.0);
        return if d.is_finite() { d } else { f64::MAX };
    }
    let c = 1.0 / root;
    gx[0] = c * y[0];
    gy[0] = c * x[0];
    for i in 1..x.len() {
        gx[i] = -c * y[i];
        gy[i] = -c * x[i];
    }
    d
}

/// The Riemannian SGD step `x ← exp_x(−(J g + ⟨x, J g⟩_L x))` for the summed
/// (learning-rate scaled) Euclidean gradient `g`, then back on the
/// hyperboloid within spatial norm `max_norm`. `x` is left unchanged when the
/// step is not finite. `v` is scratch of `x`'s length.
pub fn step(x: &mut [f64], g: &[f64], max_norm: f64, v: &mut [f64]) {
    let n = x.len();
    let (x, g, v) = (&mut x[..n], &g[..n], &mut v[..n]);
    // With h = J g: <x, h>_L = x_0 g_0 + Σ x_i g_i, and the descent direction
    // v = -(h + <x, h>_L x) is v_0 = g_0 - <x, h>_L x_0, v_i = -(g_i + <x, h>_L x_i).
    let mut xh = x[0] * g[0];
    for i in 1..n {
        xh += x[i] * g[i];
    }
    v[0] = g[0] - xh * x[0];
    let mut vv = -v[0] * v[0];
    for i in 1..n {
        v[i] = -(g[i] + xh * x[i]);
        vv += v[i] * v[i];
    }
    let t_full = vv.max(0.0).sqrt();
    if !t_full.is_finite() {
        return;
    }
    if t_full > 0.0 {
        let t = t_full.min(MAX_STEP);
        // cosh and sinh from one `exp_m1`, accurate for tiny steps too
        let m = t.exp_m1();
        let inv = m / (1.0 + m); // 1 - e^{-t}
        let (c, s) = (1.0 + 0.5 * m * inv, 0.5 * (m + inv) / t_full);
        for i in 1..n {
            x[i] = c * x[i] + s * v[i];
        }
    }
    // x_0 follows from the spatial part (which also repairs a torn Hogwild row)
    keep_within(x, max_norm);
}

/// Puts `x` back on the hyperboloid with its spatial norm at most `max_norm`
/// (non-finite coordinates are set to zero first).
pub fn keep_within(x: &mut [f64], max_norm: f64) {
    let mut s2: f64 = x[1..].iter().map(|a| a * a).sum();
    if !s2.is_finite() {
        for a in x[1..].iter_mut() {
            if !a.is_finite() {
                *a = 0.0;
            }
        }
        s2 = x[1..].iter().map(|a| a * a).sum();
    }
    if s2 > max_norm * max_norm {
        let f = max_norm / s2.sqrt();
        for a in x[1..].iter_mut() {
            *a *= f;
        }
        s2 = x[1..].iter().map(|a| a * a).sum();
    }
    x[0] = (1.0 + s2).sqrt();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poincare::manifold;

    #[test]
    fn conversions_are_isometric_and_invert() {
        let pts: [&[f64]; 4] = [
            &[0.0, 0.0, 0.0],
            &[0.3, -0.2, 0.1],
            &[0.9, 0.1, -0.3],
            &[0.0, 0.999_99, 0.0],
        ];
        for p in pts {
            for q in pts {
                let (mut x, mut y) = ([0.0; 4], [0.0; 4]);
                from_ball(p, &mut x);
                from_ball(q, &mut y);
                let lx = -x[0] * x[0] + x[1..].iter().map(|a| a * a).sum::<f64>();
                assert!((lx + 1.0).abs() < 1e-6 * x[0] * x[0], "{lx}");
                let (db, dh) = (manifold::distance(p, q), distance(&x, &y));
                assert!((db - dh).abs() < 1e-7 * (1.0 + db), "{db} {dh}");
                let mut back = [0.0; 3];
                to_ball(&x, &mut back);
                for (a, b) in back.iter().zip(p) {
                    assert!((a - b).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences_on_the_manifold() {
        // Perturb the spatial part and lift, so both points stay on H.
        let (mut x, mut y) = ([0.0; 4], [0.0; 4]);
        from_ball(&[0.2, -0.4, 0.3], &mut x);
        from_ball(&[-0.5, 0.1, 0.6], &mut y);
        let (mut gx, mut gy) = ([0.0; 4], [0.0; 4]);
        distance_with_grads(&x, &y, &mut gx, &mut gy);
        let h = 1e-6;
        for i in 1..4 {
            let mut a = x;
            a[i] += h;
            lift(&mut a);
            let mut b = x;
            b[i] -= h;
            lift(&mut b);
            let fd = (distance(&a, &y) - distance(&b, &y)) / (2.0 * h);
            // the chain rule through x_0 = sqrt(1 + |x_s|^2): dx_0/dx_i = x_i / x_0
            let an = gx[i] + gx[0] * x[i] / x[0];
            assert!((fd - an).abs() < 1e-6, "{i}: {fd} {an}");
        }
        let mut z = [0.0; 4];
        assert_eq!(distance_with_grads(&x, &x, &mut gx, &mut z), 0.0);
        assert!(gx.iter().all(|&g| g == 0.0));
    }

    #[test]
    fn a_step_moves_along_the_geodesic_towards_the_target() {
        let (mut x, mut y) = ([0.0; 3], [0.0; 3]);
        from_ball(&[0.9, 0.0], &mut x);
        from_ball(&[0.0, 0.9], &mut y);
        let d0 = distance(&x, &y);
        let (mut gx, mut gy) = ([0.0; 3], [0.0; 3]);
        distance_with_grads(&x, &y, &mut gx, &mut gy);
        let lr = 0.25;
        let g: Vec<f64> = gx.iter().map(|a| a * lr).collect();
        let mut v = [0.0; 3];
        step(&mut x, &g, 1e12, &mut v);
        // the Riemannian gradient of a distance has unit length: the step moves by lr
        assert!((distance(&x, &y) - (d0 - lr)).abs() < 1e-9);
        let lx = -x[0] * x[0] + x[1] * x[1] + x[2] * x[2];
        assert!((lx + 1.0).abs() < 1e-9);
        // a huge step is clipped, and the radius is capped
        let g: Vec<f64> = gx.iter().map(|a| -a * 1e9).collect();
        let before = x;
        step(&mut x, &g, 1e12, &mut v);
        assert!((distance(&before, &x) - MAX_STEP).abs() < 1e-6);
        let cap = max_spatial_norm(1e-5);
        for _ in 0..40 {
            step(&mut x, &g, cap, &mut v);
        }
        let mut p = [0.0; 2];
        to_ball(&x, &mut p);
        let n = (p[0] * p[0] + p[1] * p[1]).sqrt();
        assert!(n <= 1.0 - 1e-5 + 1e-12 && n > 1.0 - 2e-5, "{n}");
        let nan = [f64::NAN; 3];
        let keep = x;
        step(&mut x, &nan, cap, &mut v);
        assert_eq!(x, keep);
    }
}
