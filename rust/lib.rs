//! # embedrs
//!
//! A Rust core for production embeddings, exposed to Python as the `embedrs`
//! package (gensim-compatible API) through a thin PyO3 binding behind the
//! `python` feature. The core itself never touches Python: every algorithm
//! works on plain slices and `ndarray` arrays, returns [`Result`], and runs
//! its parallel parts on a rayon pool that the caller sizes.
//!
//! * [`w2v`]: word2vec training (skip-gram, CBOW, negative sampling,
//!   hierarchical softmax, Hogwild across threads).
//! * [`kv`]: similarity search over keyed vectors.
//! * [`io`]: word2vec text/binary formats.
//! * [`poincare`]: Poincaré embeddings with Riemannian SGD.
//! * [`tsne`]: Barnes-Hut t-SNE.
//! * [`phrases`]: collocation detection (gensim's `Phrases`).

pub mod ann;
pub mod corpus;
pub mod d2v;
pub mod delta;
pub mod error;
pub(crate) mod hogwild;
pub mod io;
pub mod kv;
pub mod linalg;
pub(crate) mod mem;
pub mod phrases;
pub mod poincare;
pub mod progress;
pub mod sampling;
pub mod tsne;
pub mod vocab;
pub mod w2v;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};

/// Builds a rayon pool with `threads` workers (0 means one per core).
///
/// Every parallel entry point of the core takes its thread count from the
/// caller and runs inside its own pool, never the global one, so that
/// `workers=` / `n_jobs=` mean what they say.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    let n = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| Error::Runtime(format!("could not start {n} worker threads: {e}")))
}
