//! Similarity search over a matrix of keyed vectors: row norms, exact
//! top-k cosine search for one query or a batch, on a caller-sized pool.

pub mod int8;
pub(crate) mod kernel;
mod keys;
mod pair;
mod quant;
mod search;
mod topk;

pub use kernel::dots;
pub use keys::KeyIndex;
pub use pair::share;
pub use quant::{fingerprint, QuantIndex};
pub use search::{all_scores, row_norms, top_k, top_k_batch, top_k_live, unit};
pub use topk::TopK;
