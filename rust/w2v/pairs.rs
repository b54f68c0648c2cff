//! Skip-gram negative sampling on explicit (target, context) pairs, for
//! data that is not sentences: items and their tags, users and artists,
//! graph edges. The input row of `target` learns to predict `context`
//! through the output layer, exactly as one skip-gram example.

use super::worker::{ModelRef, Worker};
use super::Schedule;
use crate::progress::Progress;
use crate::{Error, Result};

/// Trains one epoch over `pairs` (shuffled per epoch by a seeded
/// permutation), split across the threads of `pool`.
pub fn train_epoch_pairs(
    model: &ModelRef<'_>,
    pairs: &[(u32, u32)],
    pool: &rayon::ThreadPool,
    seed: u64,
    epoch: u64,
    schedule: Schedule,
    progress: &Progress,
) -> Result<f64> {
    if pairs.len() > u32::MAX as usize {
        return Err(Error::invalid(format!(
            "{} pairs in one call: at most {} are supported; train them in several calls",
            pairs.len(),
            u32::MAX
        )));
    }
    let vocab = u32::try_from(model.syn0.rows()).unwrap_or(u32::MAX);
    if let Some(&(t, c)) = pairs.iter().find(|(t, c)| *t >= vocab || *c >= vocab) {
        return Err(Error::invalid(format!(
            "pair ({t}, {c}) refers to an id outside the vocabulary of {vocab} words"
        )));
    }
    let n = pool.current_num_threads();
    let dim = model.syn0.cols();
    // A seeded shuffle of the pair order for this epoch.
    let mut order: Vec<u32> = (0..pairs.len() as u32).collect();
    let mut rng = crate::sampling::Rng::new(seed ^ (epoch + 1).wrapping_mul(0xA24B_AED4_963E_E407));
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let chunk = order.len().div_ceil(n).max(1);
    let losses = std::sync::Mutex::new(0.0f64);
    pool.scope(|s| {
        for (i, part) in order.chunks(chunk).enumerate() {
            let losses = &losses;
            s.spawn(move |_| {
                let mut w = Worker::new(dim, seed, epoch * 4096 + i as u64);
                let mut loss = 0.0;
                for block in part.chunks(1024) {
                    if progress.should_stop() {
                        break;
                    }
                    let alpha = schedule.alpha_at(progress.done());
                    loss += w.train_pairs(model, pairs, block, alpha);
                    progress.add(block.len() as u64);
                }
                *losses.lock().unwrap_or_else(|p| p.into_inner()) += loss;
            });
        }
    });
    Ok(losses.into_inner().unwrap_or_else(|p| p.into_inner()))
}
