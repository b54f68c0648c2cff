//! Running workers over a corpus: jobs from a channel (the Python iterable
//! path) or byte ranges of a file (`corpus_file`), with the linear
//! learning-rate schedule and progress counters.

use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use rustc_hash::FxHashMap;

use super::worker::{Job, ModelRef, Worker};
use crate::corpus::{CorpusText, SentenceReader};
use crate::progress::Progress;
use crate::{Error, Result};

/// Linear decay of the learning rate from `alpha` to `min_alpha` over all
/// the raw words of a `train` call (all epochs), as gensim does.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Starting learning rate.
    pub alpha: f32,
    /// Final learning rate.
    pub min_alpha: f32,
    /// Raw words already processed in earlier epochs of this call.
    pub words_before: u64,
    /// Raw words expected over the whole call (all epochs).
    pub total_words: u64,
}

impl Schedule {
    /// The learning rate after `done` more raw words of the current epoch.
    #[inline]
    pub fn alpha_at(&self, done: u64) -> f32 {
        let progress = (self.words_before + done) as f64 / self.total_words.max(1) as f64;
        let a = self.alpha as f64 - (self.alpha - self.min_alpha) as f64 * progress;
        a.max(self.min_alpha as f64) as f32
    }
}

/// What one epoch did.
#[derive(Clone, Copy, Debug, Default)]
pub struct EpochStats {
    /// Raw words read (out-of-vocabulary words included).
    pub raw_words: u64,
    /// Words trained on after subsampling.
    pub effective_words: u64,
    /// Summed loss (0 unless computed).
    pub loss: f64,
    /// True when the run was stopped early.
    pub stopped: bool,
}

fn add(a: &Mutex<EpochStats>, raw: u64, eff: u64, loss: f64) {
    let mut s = a.lock().unwrap_or_else(|p| p.into_inner());
    s.raw_words += raw;
    s.effective_words += eff;
    s.loss += loss;
}

/// Trains one epoch on jobs received from `jobs` until the sender hangs up.
///
/// `progress.done` counts raw words of this epoch; the learning rate for a
/// job is taken from it when the job starts. Worker `i` draws its random
/// stream from `(seed, epoch, i)`, so a single worker is reproducible.
/// The workers are the threads of `pool`, which the model owns for its
/// lifetime (one pool per model, not one per epoch).
pub fn train_epoch_jobs(
    model: &ModelRef<'_>,
    pool: &rayon::ThreadPool,
    seed: u64,
    epoch: u64,
    schedule: Schedule,
    progress: &Progress,
    jobs: Receiver<Job>,
) -> Result<EpochStats> {
    let n = pool.current_num_threads();
    let jobs = Mutex::new(jobs);
    let stats = Mutex::new(EpochStats::default());
    let dim = model.syn0.cols();
    pool.scope(|s| {
        for i in 0..n {
            let jobs = &jobs;
            let stats = &stats;
            s.spawn(move |_| {
                let mut w = Worker::new(dim, seed, epoch * 4096 + i as u64);
                loop {
                    let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = next else { break };
                    if progress.should_stop() {
                        continue; // drain so the sender never blocks
                    }
                    let alpha = schedule.alpha_at(progress.done());
                    let (eff, loss) = w.train_job(model, &job, alpha);
                    progress.add(job.raw_words);
                    add(stats, job.raw_words, eff, loss);
                }
            });
        }
    });
    let mut out = stats.into_inner().unwrap_or_else(|p| p.into_inner());
    out.stopped = progress.should_stop();
    Ok(out)
}

/// Builds the byte-string lookup table for a file corpus.
pub fn byte_lookup(words: &[String]) -> FxHashMap<&[u8], u32> {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_bytes(), i as u32))
        .collect()
}

/// Trains one epoch on a corpus file, each worker on its own byte range.
pub fn train_epoch_file(
    model: &ModelRef<'_>,
    text: &CorpusText,
    lookup: &FxHashMap<&[u8], u32>,
    pool: &rayon::ThreadPool,
    seed: u64,
    epoch: u64,
    schedule: Schedule,
    batch_words: usize,
    max_sentence_length: usize,
    progress: &Progress,
) -> Result<EpochStats> {
    if text.bytes().is_empty() {
        return Err(Error::invalid(format!(
            "{}: the corpus file is empty",
            text.path().display()
        )));
    }
    let n = pool.current_num_threads();
    let ranges = text.ranges(n);
    let stats = Mutex::new(EpochStats::default());
    let dim = model.syn0.cols();
    let bytes = text.bytes();
    pool.scope(|s| {
        for (i, r) in ranges.into_iter().enumerate() {
            let stats = &stats;
            s.spawn(move |_| {
                let mut w = Worker::new(dim, seed, epoch * 4096 + i as u64);
                let mut reader = SentenceReader::new(bytes, r, max_sentence_length);
                let mut job = Job::default();
                while !progress.should_stop() && reader.fill_job(&mut job, batch_words, lookup) {
                    let alpha = schedule.alpha_at(progress.done());
                    let (eff, loss) = w.train_job(model, &job, alpha);
                    progress.add(job.raw_words);
                    add(stats, job.raw_words, eff, loss);
                }
            });
        }
    });
    let mut out = stats.into_inner().unwrap_or_else(|p| p.into_inner());
    out.stopped = progress.should_stop();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_decays_linearly_and_floors() {
        let s = Schedule {
            alpha: 0.025,
            min_alpha: 0.0001,
            words_before: 0,
            total_words: 1000,
        };
        assert_eq!(s.alpha_at(0), 0.025);
        assert!((s.alpha_at(500) - 0.01255).abs() < 1e-6);
        assert!((s.alpha_at(1000) - 0.0001).abs() < 1e-7);
        assert!((s.alpha_at(5000) - 0.0001).abs() < 1e-7);
    }
}
