//! word2vec training: skip-gram and CBOW with negative sampling and/or
//! hierarchical softmax, trained Hogwild-style by rayon workers.
//!
//! * [`sgd`]: the output layers and their gradient steps.
//! * [`skipgram`], [`cbow`]: the per-sentence loops.
//! * [`pairs`]: skip-gram negative sampling on explicit (target, context) pairs.
//! * [`worker`]: per-thread state, subsampling, jobs.
//! * [`trainer`]: the epoch loops for the iterable and the file paths, and
//!   the learning-rate schedule.
//! * [`init`]: deterministic initial vectors.

pub mod cbow;
pub mod init;
pub mod pairs;
pub mod sgd;
pub mod skipgram;
pub mod trainer;
pub mod worker;

pub use sgd::OutputLayers;
pub use trainer::{train_epoch_file, train_epoch_jobs, EpochStats, Schedule};
pub use worker::{Job, ModelRef, Worker};
