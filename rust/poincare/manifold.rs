//! Geometry of the Poincaré ball: distance, its gradient, and the
//! Riemannian SGD step with projection back inside the ball.
//!
//! All arithmetic runs in `f64` on thread-local buffers; the shared storage
//! may be `f32` or `f64` (see [`Real`]).
//!
//! # The distance and its gradient
//!
//! For `u`, `v` inside the unit ball, with `a = 1 - |u|²`, `b = 1 - |v|²` and
//! `s = |u - v|²`,
//!
//! ```text
//! d(u, v) = arcosh(1 + δ),     δ = 2 s / (a b)
//! ```
//!
//! We evaluate `arcosh(1 + δ) = ln(1 + δ + sqrt(δ (δ + 2)))` with `ln_1p`,
//! which stays accurate when `δ` is tiny (close points), where the textbook
//! `arcosh(γ)` loses every digit. Differentiating `γ = 1 + δ`:
//!
//! ```text
//! ∂γ/∂u = 4/(a b) · ((s + a)/a · u − v)
//! ∂d/∂γ = 1 / sqrt(γ² − 1) = 1 / sqrt(δ (δ + 2))
//! ∂d/∂u = c · ((s + a)/a · u − v),   c = 4 / (a b sqrt(δ (δ + 2)))
//! ```
//!
//! and symmetrically for `v` with `b`. When `u = v` the gradient is a 0/0
//! limit whose direction is undefined; we return zero there (as gensim does),
//! and the formula is bounded everywhere else (`|∂d/∂u| → 2/sqrt(a b)` as
//! `v → u`). `a` and `b` are floored at [`MIN_CONFORMAL`] so that a point on
//! or outside the sphere (never produced by training, but possible in user
//! data) still gives finite numbers.
//!
//! # Riemannian SGD
//!
//! The Poincaré metric is conformal, `g_x = (2 / (1 − |x|²))² g_E`, so the
//! Riemannian gradient is the Euclidean one times `(1 − |x|²)² / 4`. A step
//! is `x ← proj(x − lr · (1 − |x|²)²/4 · ∇_E)`, where `proj` rescales any
//! point of norm `≥ 1 − ε` to norm `1 − ε`.

/// Smallest value used for the conformal factors `1 - |x|²`.
pub const MIN_CONFORMAL: f64 = 1e-15;

/// Storage element of an embedding matrix: `f32` or `f64`.
///
/// Computation always happens in `f64`; this trait only converts.
pub trait Real: Copy + Send + Sync + Default + 'static {
    /// Widens to `f64`.
    fn to_f64(self) -> f64;
    /// Narrows from `f64` (round to nearest).
    fn from_f64(x: f64) -> Self;
    /// The smallest ball margin that survives rounding to this type.
    const MIN_EPSILON: f64;
}

impl Real for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    const MIN_EPSILON: f64 = 1e-12;
}

impl Real for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    const MIN_EPSILON: f64 = 1e-6;
}

#[inline]
fn sq_norm(x: &[f64]) -> f64 {
    x.iter().map(|a| a * a).sum()
}

#[inline]
fn sq_dist(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// `arcosh(1 + delta)` for `delta >= 0`, accurate for tiny `delta`.
#[inline]
fn arcosh_1p(delta: f64) -> f64 {
    let delta = delta.max(0.0);
    (delta + (delta * (delta + 2.0)).sqrt()).ln_1p()
}

/// Poincaré distance between `u` and `v` (same length, inside the ball).
///
/// ```
/// use embedrs::poincare::manifold::distance;
/// let d = distance(&[0.0, 0.0], &[0.5, 0.0]);
/// // d(0, x) = 2 artanh(|x|)
/// assert!((d - 2.0 * 0.5f64.atanh()).abs() < 1e-12);
/// ```
pub fn distance(u: &[f64], v: &[f64]) -> f64 {
    let a = (1.0 - sq_norm(u)).max(MIN_CONFORMAL);
    let b = (1.0 - sq_norm(v)).max(MIN_CONFORMAL);
    let d = arcosh_1p(2.0 * sq_dist(u, v) / (a * b));
    if d.is_finite() {
        d
    } else {
        f64::MAX
    }
}

/// Poincaré distance `d(u, v)`; writes `∂d/∂u` into `gu` and `∂d/∂v` into `gv`.
///
/// The gradient is zero when `u == v` (see the module docs).
pub fn distance_with_grads(u: &[f64], v: &[f64], gu: &mut [f64], gv: &mut [f64]) -> f64 {
    let a = (1.0 - sq_norm(u)).max(MIN_CONFORMAL);
    let b = (1.0 - sq_norm(v)).max(MIN_CONFORMAL);
    let s = sq_dist(u, v);
    let delta = 2.0 * s / (a * b);
    let root = (delta * (delta + 2.0)).sqrt();
    let d = (delta + root).ln_1p();
    let c = 4.0 / (a * b * root);
    if root.is_nan() || root <= 0.0 || !c.is_finite() || !d.is_finite() {
        gu.fill(0.0);
        gv.fill(0.0);
        return if d.is_finite() { d } else { f64::MAX };
    }
    let cu = (s + a) / a;
    let cv = (s + b) / b;
    for i in 0..u.len() {
        gu[i] = c * (cu * u[i] - v[i]);
        gv[i] = c * (cv * v[i] - u[i]);
    }
    d
}

/// The Riemannian rescaling `(1 - |x|²)² / 4` of a Euclidean gradient at `x`.
#[inline]
pub fn riemannian_factor(x: &[f64]) -> f64 {
    let a = (1.0 - sq_norm(x)).max(0.0);
    a * a / 4.0
}

/// Projects `x` inside the ball: rescales it to norm `1 - epsilon` when its
/// norm is `>= 1 - epsilon`. Non-finite coordinates are set to zero first.
pub fn project(x: &mut [f64], epsilon: f64) {
    for v in x.iter_mut() {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    let max_norm = 1.0 - epsilon;
    let n = sq_norm(x).sqrt();
    if n >= max_norm {
        let f = max_norm / n;
        for v in x.iter_mut() {
            *v *= f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd_check(u: &[f64], v: &[f64]) {
        let mut gu = vec![0.0; u.len()];
        let mut gv = vec![0.0; u.len()];
        let d = distance_with_grads(u, v, &mut gu, &mut gv);
        assert!((d - distance(u, v)).abs() < 1e-12);
        let h = 1e-6;
        for i in 0..u.len() {
            let (mut up, mut um) = (u.to_vec(), u.to_vec());
            up[i] += h;
            um[i] -= h;
            let num = (distance(&up, v) - distance(&um, v)) / (2.0 * h);
            assert!(
                (num - gu[i]).abs() < 1e-5 * (1.0 + num.abs()),
                "du[{i}] {num} vs {}",
                gu[i]
            );
            let (mut vp, mut vm) = (v.to_vec(), v.to_vec());
            vp[i] += h;
            vm[i] -= h;
            let num = (distance(u, &vp) - distance(u, &vm)) / (2.0 * h);
            assert!(
                (num - gv[i]).abs() < 1e-5 * (1.0 + num.abs()),
                "dv[{i}] {num} vs {}",
                gv[i]
            );
        }
    }

    #[test]
    fn distance_gradient_matches_finite_differences() {
        fd_check(&[0.1, -0.2, 0.3], &[-0.4, 0.05, 0.2]);
        fd_check(&[0.7, 0.1], &[0.69, 0.12]);
        fd_check(&[0.0, 0.0, 0.0, 0.0], &[0.3, 0.3, 0.3, 0.3]);
        fd_check(&[0.9, 0.0], &[0.0, -0.95]);
        fd_check(&[1e-4, 2e-4], &[-3e-4, 1e-4]);
    }

    #[test]
    fn distance_known_values_and_symmetry() {
        let d = distance(&[0.0, 0.0], &[0.0, 0.9]);
        assert!((d - 2.0 * 0.9f64.atanh()).abs() < 1e-12);
        let (u, v) = ([0.3, -0.1], [-0.2, 0.6]);
        assert!((distance(&u, &v) - distance(&v, &u)).abs() < 1e-14);
        assert_eq!(distance(&u, &u), 0.0);
        // tiny separations keep precision (textbook arcosh would give 0)
        let d = distance(&[0.0], &[1e-12]);
        assert!((d - 2e-12).abs() < 1e-20, "{d}");
    }

    #[test]
    fn degenerate_inputs_stay_finite() {
        let mut gu = [0.0; 2];
        let mut gv = [0.0; 2];
        for (u, v) in [
            ([0.5, 0.5], [0.5, 0.5]),
            ([1.0, 0.0], [0.0, 1.0]),
            ([2.0, 3.0], [-1.0, 0.0]),
            ([1.0 - 1e-16, 0.0], [-1.0 + 1e-16, 0.0]),
            ([0.0, 0.0], [f64::MIN_POSITIVE, 0.0]),
        ] {
            let d = distance_with_grads(&u, &v, &mut gu, &mut gv);
            assert!(d.is_finite() && d >= 0.0, "{u:?} {v:?} -> {d}");
            assert!(gu.iter().chain(&gv).all(|g| g.is_finite()), "{u:?} {v:?}");
        }
        assert_eq!(gu, [0.0, 0.0]);
    }

    #[test]
    fn projection_keeps_points_inside() {
        let mut x = [3.0, 4.0];
        project(&mut x, 1e-5);
        let n = (x[0] * x[0] + x[1] * x[1]).sqrt();
        assert!((n - (1.0 - 1e-5)).abs() < 1e-12);
        let mut y = [0.1, 0.2];
        project(&mut y, 1e-5);
        assert_eq!(y, [0.1, 0.2]);
        let mut z = [f64::NAN, 0.5];
        project(&mut z, 1e-5);
        assert_eq!(z, [0.0, 0.5]);
        assert_eq!(riemannian_factor(&[0.0, 0.0]), 0.25);
    }
}
