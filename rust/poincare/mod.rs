//! Poincaré embeddings (Nickel & Kiela, 2017) trained with Riemannian SGD.
//!
//! * [`manifold`]: the Poincaré distance, its gradient, the Riemannian
//!   rescaling and the projection inside the ball (derivations in its docs).
//! * [`loss`]: the softmax loss of one relation against sampled negatives.
//! * [`lorentz`]: the hyperboloid model, where training may take its steps.
//! * [`negatives`]: the relation graph and negative sampling (uniform or by
//!   node frequency).
//! * [`train`]: epochs, batches and parallel workers.
//! * [`eval`]: ranks for reconstruction and link-prediction evaluation.
//!
//! Numerical safety: distances use `ln_1p` and never return NaN; gradients
//! are zero where undefined (coinciding points); every update is followed by
//! a projection to norm `<= 1 - epsilon`, and non-finite updates are dropped.

pub mod eval;
pub mod lorentz;
pub mod loss;
pub mod manifold;
pub mod negatives;
pub mod train;

pub use manifold::{distance, Real};
pub use negatives::{Graph, Sampling};
pub use train::{train, Geometry, Phase, RadiusWarmup, TrainConfig, TrainReport};
