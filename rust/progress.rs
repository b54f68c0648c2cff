//! Progress counters and the stop flag shared between a running job and
//! whoever watches it (the Python binding polls them to log words/sec and
//! to stop on Ctrl-C).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counters a long job updates and its caller reads.
#[derive(Debug, Default)]
pub struct Progress {
    /// Units done so far (words for word2vec, iterations for t-SNE, ...).
    pub done: AtomicU64,
    /// Units expected in all (0 when unknown).
    pub total: AtomicU64,
    /// Set by the caller to ask the job to stop early; jobs check it often.
    pub stop: AtomicBool,
    /// A job-defined secondary counter (e.g. effective words, current epoch).
    pub aux: AtomicU64,
}

impl Progress {
    /// A fresh set of counters with `total` units expected.
    pub fn new(total: u64) -> Self {
        let p = Progress::default();
        p.total.store(total, Ordering::Relaxed);
        p
    }

    /// Adds `n` units done.
    #[inline]
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Units done so far.
    #[inline]
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// True once a stop was requested.
    #[inline]
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Requests the job to stop.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
