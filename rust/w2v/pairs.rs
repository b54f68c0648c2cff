//! Skip-gram negative sampling on explicit (target, context) pairs, for
//! data that is not sentences: items and their tags, users and artists,
//! graph edges. The input row of `target` learns to predict `context`
//! through the output layer, exactly as one skip-gram example.
//!
//! Each epoch visits the pairs in a seeded random order; the order is cut
//! into one contiguous share per worker, handed out in blocks of
//! [`BLOCK`] pairs (the unit of the learning-rate schedule and of progress).

use super::engine::{Examples, JobSource};
use super::model::ModelRef;
use super::skipgram;
use super::worker::Worker;
use crate::linalg::MulAdd;
use crate::sampling::Rng;
use crate::{Error, Result};

/// Pairs per job.
pub(crate) const BLOCK: usize = 1024;

/// The pair example generator: job = indices into `pairs`.
pub(crate) struct Pairs<'p> {
    pub pairs: &'p [(u32, u32)],
}

impl Examples for Pairs<'_> {
    type Job = Vec<u32>;

    fn raw_size(job: &Vec<u32>) -> u64 {
        job.len() as u64
    }

    #[inline(always)]
    fn train<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        job: &Vec<u32>,
        alpha: f32,
    ) -> (u64, f64) {
        let mut loss = 0.0;
        for &k in job {
            let (target, context) = self.pairs[k as usize];
            loss += skipgram::train_pair::<M>(model, w, context, target, alpha);
        }
        (job.len() as u64, loss)
    }
}

/// An epoch's shuffled visiting order, shared out among the workers.
pub(crate) struct Shuffled {
    order: Vec<u32>,
}

impl Shuffled {
    /// The order of `n` pairs for `epoch` (a seeded Fisher-Yates shuffle).
    pub(crate) fn new(n: usize, seed: u64, epoch: u64) -> Result<Self> {
        if n > u32::MAX as usize {
            return Err(Error::invalid(format!(
                "{n} pairs in one call: at most {} are supported; train them in several calls",
                u32::MAX
            )));
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut rng = Rng::new(seed ^ (epoch + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        Ok(Shuffled { order })
    }

    fn share(&self, n: usize) -> usize {
        self.order.len().div_ceil(n.max(1)).max(1)
    }
}

impl JobSource<Vec<u32>> for Shuffled {
    type Cursor<'s> = std::slice::Chunks<'s, u32>;

    fn cursor(&self, i: usize, n: usize) -> Self::Cursor<'_> {
        let share = self.share(n);
        let start = (i * share).min(self.order.len());
        let end = (start + share).min(self.order.len());
        self.order[start..end].chunks(BLOCK)
    }

    fn next<'s>(&'s self, cursor: &mut Self::Cursor<'s>, job: &mut Vec<u32>) -> bool {
        match cursor.next() {
            Some(block) => {
                job.clear();
                job.extend_from_slice(block);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_pair_once() {
        for (n, threads) in [(0, 2), (1, 4), (5000, 3), (2048, 2)] {
            let s = Shuffled::new(n, 7, 1).unwrap();
            let workers = s.workers(threads);
            assert_eq!(workers, threads);
            let mut seen = vec![0u8; n];
            let mut job = Vec::new();
            for i in 0..workers {
                let mut c = s.cursor(i, threads);
                while s.next(&mut c, &mut job) {
                    assert!(job.len() <= BLOCK);
                    for &k in &job {
                        seen[k as usize] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "n={n} threads={threads}");
        }
    }
}
