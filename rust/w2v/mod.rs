//! word2vec training: skip-gram and CBOW with negative sampling and/or
//! hierarchical softmax, trained Hogwild-style by rayon workers, and the
//! engine that the other models of the family (explicit pairs, Doc2Vec)
//! run on.
//!
//! * [`config`]: the parameters, validated once ([`W2vConfig`]).
//! * [`tables`]: subsampling, noise and Huffman tables from the counts.
//! * [`model`]: the weights of a call and the checked view of them.
//! * [`engine`]: the worker harness: jobs, learning-rate schedule,
//!   cancellation, progress, per-instruction-set job loops.
//! * [`sgd`]: the output layers and their gradient steps.
//! * `skipgram`, `cbow`, `pairs`: the example generators.
//! * `sources`: the channel and corpus-file job sources (sentences or tagged documents).
//! * [`trainer`]: [`Trainer`], one method per corpus path.
//! * `score`: sentence log-likelihoods under hierarchical softmax.
//! * [`init`]: deterministic initial vectors.
//!
//! Dependencies run one way: generators → engine → model → sgd, tables,
//! config; nothing here imports a generator except the trainer.

mod cbow;
pub mod config;
pub mod engine;
pub mod init;
pub mod model;
mod pairs;
mod score;
pub(crate) mod sgd;
pub(crate) mod skipgram;
pub(crate) mod sources;
pub mod tables;
pub mod trainer;
pub(crate) mod worker;

pub use config::W2vConfig;
pub use engine::{EpochStats, Schedule};
pub use model::{ModelRef, Weights};
pub use tables::Tables;
pub use trainer::Trainer;
