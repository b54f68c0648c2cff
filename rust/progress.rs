//! The one progress record and stop flag shared between a running job and
//! whoever watches it (the Python binding polls it to log progress and to
//! stop on Ctrl-C).
//!
//! Every long job of the core (word2vec and Doc2Vec epochs, Poincaré
//! training, t-SNE, file reads) reports through a [`Progress`], and follows
//! one cancellation rule: it polls [`Progress::should_stop`] often and, once
//! a stop was requested, returns `Err(Error::Interrupted)` (see
//! [`Progress::check`]); whatever it had already written stays written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::{Error, Result};

/// Counters a long job updates and its caller reads.
#[derive(Debug)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
    epoch: AtomicU64,
    /// Bits of the latest metric (an `f64`; NaN while none).
    metric: AtomicU64,
    stop: AtomicBool,
}

/// A consistent-enough copy of a [`Progress`] for reporting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapshot {
    /// Units done so far: raw words for word2vec and Doc2Vec, relations for
    /// Poincaré, iterations for t-SNE.
    pub done: u64,
    /// Units expected in all (0 when unknown).
    pub total: u64,
    /// The epoch (or phase) running, from 0.
    pub epoch: u64,
    /// The latest value of the job's quality metric (t-SNE: KL divergence;
    /// Poincaré: mean loss of the last epoch), if it has one yet.
    pub metric: Option<f64>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new(0)
    }
}

impl Progress {
    /// A fresh record with `total` units expected.
    pub fn new(total: u64) -> Self {
        Progress {
            done: AtomicU64::new(0),
            total: AtomicU64::new(total),
            epoch: AtomicU64::new(0),
            metric: AtomicU64::new(f64::NAN.to_bits()),
            stop: AtomicBool::new(false),
        }
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

    /// Sets the units done (for jobs that count iterations).
    #[inline]
    pub fn set_done(&self, n: u64) {
        self.done.store(n, Ordering::Relaxed);
    }

    /// Records the epoch now running.
    #[inline]
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// Records the latest metric value.
    #[inline]
    pub fn set_metric(&self, value: f64) {
        self.metric.store(value.to_bits(), Ordering::Relaxed);
    }

    /// The record's current values.
    pub fn snapshot(&self) -> Snapshot {
        let metric = f64::from_bits(self.metric.load(Ordering::Relaxed));
        Snapshot {
            done: self.done(),
            total: self.total.load(Ordering::Relaxed),
            epoch: self.epoch.load(Ordering::Relaxed),
            metric: (!metric.is_nan()).then_some(metric),
        }
    }

    /// True once a stop was requested.
    #[inline]
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The cancellation rule: `Err(Interrupted)` once a stop was requested.
    #[inline]
    pub fn check(&self) -> Result<()> {
        if self.should_stop() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Requests the job to stop.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reports_counters_and_metric() {
        let p = Progress::new(10);
        assert_eq!(p.snapshot().metric, None);
        p.add(3);
        p.set_epoch(2);
        p.set_metric(1.5);
        assert_eq!(
            p.snapshot(),
            Snapshot {
                done: 3,
                total: 10,
                epoch: 2,
                metric: Some(1.5)
            }
        );
        assert!(p.check().is_ok());
        p.request_stop();
        assert!(matches!(p.check(), Err(Error::Interrupted)));
    }
}
