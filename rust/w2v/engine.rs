//! The training engine every word2vec-family model runs on: one worker
//! harness, driven by an *example generator*.
//!
//! A model is defined by what one training example is ([`Examples`]):
//! a skip-gram window, a CBOW window, an explicit (target, context) pair,
//! and next a document tag with its words. Everything else is shared and
//! lives here, written once:
//!
//! * the jobs ([`JobSource`]): batches from a channel (the Python iterable
//!   path), byte ranges of a corpus file, or blocks of a shuffled list;
//! * the linear learning-rate [`Schedule`] over a whole `train` call;
//! * progress (raw units done, the epoch) and the cancellation rule of
//!   [`crate::progress`]: once a stop is requested the workers finish their
//!   current job and the epoch returns `Err(Error::Interrupted)`;
//! * per-worker state ([`Worker`]: buffers, a random stream derived from
//!   `(seed, epoch, worker)`, so `workers=1` is reproducible) and the hot-row
//!   cache, on the threads of a pool the model owns;
//! * the choice of instruction set: the job loop is compiled for AVX-512F
//!   and AVX2 with FMA and for baseline x86-64, and the widest the CPU has runs.

use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use super::model::ModelRef;
use super::sgd;
use super::worker::Worker;
use crate::linalg::{MulAdd, Unfused};
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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochStats {
    /// Raw units read (words, out-of-vocabulary ones included; or pairs).
    pub raw_words: u64,
    /// Examples' centre words trained on, after subsampling.
    pub effective_words: u64,
    /// Summed loss (0 unless computed).
    pub loss: f64,
}

impl EpochStats {
    fn add(&mut self, other: EpochStats) {
        self.raw_words += other.raw_words;
        self.effective_words += other.effective_words;
        self.loss += other.loss;
    }
}

/// What a training example is: turns one job into SGD steps on the model.
///
/// Implementations mark `train` `#[inline(always)]`: it is compiled into
/// the engine's per-instruction-set job loops, and a copy compiled outside
/// them would call libm's `fmaf` on the fused path.
pub(crate) trait Examples: Sync {
    /// The unit of work one worker takes at a time.
    type Job: Default + Send;

    /// Raw units the job stands for (drives the schedule and progress).
    fn raw_size(job: &Self::Job) -> u64;

    /// Whether training takes the 256-bit kernels on output rows of at most
    /// [`NARROW_ROWS`] floats where the CPU also has AVX-512 (see
    /// [`train_job`]). True unless the generator's own kernels were measured
    /// faster at 512 bits on such rows (skip-gram's window-batched update).
    const NARROW_ON_256: bool = true;

    /// Trains every example of `job` at learning rate `alpha`; returns
    /// (effective units, loss).
    fn train<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        job: &Self::Job,
        alpha: f32,
    ) -> (u64, f64);
}

/// Where the workers' jobs come from.
pub(crate) trait JobSource<J>: Sync {
    /// A worker's position in the source.
    type Cursor<'s>
    where
        Self: 's;

    /// How many workers to run, given the pool's thread count.
    fn workers(&self, threads: usize) -> usize {
        threads
    }

    /// How the words done in an epoch advance the learning-rate schedule:
    /// the schedule sees `done / progress_share()`. 1 for sources whose
    /// workers share one stream of jobs. A source that gives each worker
    /// its own part of the corpus returns the number of workers, which is
    /// gensim's `corpus_file` schedule: there each worker decays the rate
    /// by its own words only, so within an epoch the rate falls by
    /// `1 / workers` of the epoch's share and jumps at the next epoch.
    fn progress_share(&self) -> u64 {
        1
    }

    /// The cursor of worker `i` of `n`.
    fn cursor(&self, i: usize, n: usize) -> Self::Cursor<'_>;

    /// Fills `job` with the next unit of work; false when there is none.
    fn next<'s>(&'s self, cursor: &mut Self::Cursor<'s>, job: &mut J) -> bool;

    /// The place in the source of the job `next` just gave this cursor,
    /// for sources whose workers take jobs from one queue as they come
    /// (None for sources that give each worker its own part). Such a job
    /// starts a random stream of its own, drawn from `(seed, epoch, its
    /// place)`, so that which thread happens to take it changes nothing:
    /// an epoch that is one job trains the same on every run, as in
    /// gensim, where each job seeds its own stream.
    fn job_index(&self, _cursor: &Self::Cursor<'_>) -> Option<u64> {
        None
    }
}

/// Jobs received from a channel until the sender hangs up (the Python
/// iterable path: the calling thread converts sentences and sends them),
/// numbered in the order they are received.
pub(crate) struct Channel<J>(Mutex<(Receiver<J>, u64)>);

impl<J> Channel<J> {
    pub(crate) fn new(jobs: Receiver<J>) -> Self {
        Channel(Mutex::new((jobs, 0)))
    }
}

impl<J: Send> JobSource<J> for Channel<J> {
    /// The number of the job this worker last received.
    type Cursor<'s>
        = u64
    where
        Self: 's;

    fn cursor(&self, _: usize, _: usize) -> u64 {
        0
    }

    fn next(&self, cursor: &mut u64, job: &mut J) -> bool {
        let mut queue = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match queue.0.recv() {
            Ok(j) => {
                *cursor = queue.1;
                queue.1 += 1;
                drop(queue);
                *job = j;
                true
            }
            Err(_) => false,
        }
    }

    fn job_index(&self, cursor: &u64) -> Option<u64> {
        Some(*cursor)
    }
}

/// Runs one epoch: `source` feeds the threads of `pool`, each training the
/// examples `gen` makes of its jobs, with the learning rate of `schedule`
/// at the progress reached when the job starts.
///
/// Worker `i` draws its random stream from `(seed, epoch, i)`, or, where
/// the source numbers its jobs ([`JobSource::job_index`]), each job from
/// `(seed, epoch, its number)`.
/// `progress.done` counts raw units of this epoch. Returns
/// `Err(Interrupted)` when a stop was requested.
pub(crate) fn run_epoch<E, S>(
    model: &ModelRef<'_>,
    gen: &E,
    source: &S,
    pool: &rayon::ThreadPool,
    seed: u64,
    epoch: u64,
    schedule: Schedule,
    progress: &Progress,
) -> Result<EpochStats>
where
    E: Examples,
    S: JobSource<E::Job>,
{
    progress.set_epoch(epoch);
    let n = source.workers(pool.current_num_threads()).max(1);
    let share = source.progress_share().max(1);
    let stats = Mutex::new(EpochStats::default());
    let dim = model.layer1;
    pool.scope(|s| {
        for i in 0..n {
            let stats = &stats;
            s.spawn(move |_| {
                let mut w = Worker::new(dim, seed, epoch * 4096 + i as u64);
                w.hot.set_alone(n == 1);
                let mut cursor = source.cursor(i, n);
                let mut job = E::Job::default();
                let mut mine = EpochStats::default();
                while !progress.should_stop() && source.next(&mut cursor, &mut job) {
                    if let Some(k) = source.job_index(&cursor) {
                        w.restart(seed, job_stream(epoch, k));
                    }
                    let alpha = schedule.alpha_at(progress.done() / share);
                    let (effective, loss) = train_job(gen, model, &mut w, &job, alpha);
                    let raw = E::raw_size(&job);
                    progress.add(raw);
                    mine.add(EpochStats {
                        raw_words: raw,
                        effective_words: effective,
                        loss,
                    });
                }
                stats.lock().unwrap_or_else(|p| p.into_inner()).add(mine);
            });
        }
    });
    progress.check()?;
    Ok(stats.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// The random stream of job `k` of `epoch` from a shared queue: apart from
/// the per-worker streams (`epoch * 4096 + i`), which set the top bit
/// clear.
fn job_stream(epoch: u64, k: u64) -> u64 {
    (1 << 63) | (epoch << 40) | (k & ((1 << 40) - 1))
}

/// Output rows of at most this many floats train faster with the 256-bit
/// kernels than with the 512-bit ones, measured on an Intel Xeon with
/// AVX-512 (Sapphire Rapids class), one worker per build, both builds
/// running at once: at 100 floats CBOW NS 1.06-1.08x, CBOW HS 1.03-1.04x,
/// PV-DBOW 1.19x and PV-DM mean 1.12x faster at 256 bits (96 floats: CBOW
/// NS 1.09x); at 112, 200 and 300 floats CBOW and at 1,100 PV-DM concat
/// are faster at 512 bits (1.05x, 1.05x, 1.13x, 1.09x). See
/// `benches/RESULTS.md`, "256-bit kernels for narrow rows".
pub(crate) const NARROW_ROWS: usize = 100;

/// One job through the job loop the CPU and the model's shape call for:
/// the widest the CPU supports, except that training on output rows of at
/// most [`NARROW_ROWS`] floats takes the 256-bit loop where the generator
/// asks for it ([`Examples::NARROW_ON_256`]). Inference (a frozen model)
/// keeps the 512-bit loop, whose fused step has no 256-bit form. Results
/// are deterministic for a given machine and model; the fused copies round
/// differently from the baseline.
pub(crate) fn train_job<E: Examples>(
    gen: &E,
    model: &ModelRef<'_>,
    w: &mut Worker,
    job: &E::Job,
    alpha: f32,
) -> (u64, f64) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("fma")
        && !(E::NARROW_ON_256
            && model.layers.learn
            && model.layers.width() <= NARROW_ROWS
            && std::is_x86_feature_detected!("avx2"))
    {
        // SAFETY: the CPU supports AVX-512F and FMA, checked just above.
        return unsafe { train_job_avx512(gen, model, w, job, alpha) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        return unsafe { train_job_avx2(gen, model, w, job, alpha) };
    }
    gen.train::<Unfused>(model, w, job, alpha)
}

/// [`train_job`] compiled for AVX2 and FMA, with the kernels of [`crate::linalg::Avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn train_job_avx2<E: Examples>(
    gen: &E,
    model: &ModelRef<'_>,
    w: &mut Worker,
    job: &E::Job,
    alpha: f32,
) -> (u64, f64) {
    gen.train::<crate::linalg::Avx2>(model, w, job, alpha)
}

/// [`train_job`] compiled for AVX-512F and FMA, with the kernels of
/// [`crate::linalg::Avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn train_job_avx512<E: Examples>(
    gen: &E,
    model: &ModelRef<'_>,
    w: &mut Worker,
    job: &E::Job,
    alpha: f32,
) -> (u64, f64) {
    gen.train::<crate::linalg::Avx512>(model, w, job, alpha)
}

/// A generator that trains sentence by sentence (skip-gram, CBOW).
///
/// The per-sentence step is a trait method rather than a closure because
/// closures cannot be marked `#[inline(always)]`: a closure compiled on its
/// own, outside the engine's FMA-enabled job loops, calls libm's `fmaf` for
/// every multiply-add (measured: several times slower).
pub(crate) trait PerSentence {
    /// Whether the hot-row cache holds `syn1neg` rows too (see
    /// `sgd::HotCache::load`).
    const HOT_NEGATIVES: bool;

    /// How many of the top inner nodes of the Huffman tree the hot-row
    /// cache holds.
    const HOT_INNER_NODES: usize = sgd::HOT_INNER_NODES;

    /// Trains one subsampled sentence of at least two words; returns the loss.
    fn sentence<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        sent: &[u32],
        alpha: f32,
    ) -> f64;
}

/// A generator that trains tagged document by document (Doc2Vec).
pub(crate) trait PerDocument {
    /// Whether the hot-row cache holds `syn1neg` rows too.
    fn hot_negatives(&self) -> bool;

    /// Consecutive examples that share one draw of noise words (1: a fresh
    /// draw for each, gensim's rule).
    fn negative_reuse(&self) -> usize {
        1
    }

    /// Trains one document (its subsampled words, at least one, and its
    /// tags); returns the loss.
    fn document<M: MulAdd>(
        &self,
        model: &ModelRef<'_>,
        w: &mut Worker,
        doc: &[u32],
        tags: &[u32],
        alpha: f32,
    ) -> f64;
}

/// The sentence loop shared by the generators that read running text:
/// subsamples each sentence of `job` (word2vec's rule, with the model's
/// keep probabilities), draws the first noise words, and trains sentences
/// of at least two kept words with `gen`. Returns (kept words, loss).
#[inline(always)]
pub(crate) fn train_sentences<M: MulAdd, G: PerSentence>(
    gen: &G,
    model: &ModelRef<'_>,
    w: &mut Worker,
    job: &crate::corpus::Job,
    alpha: f32,
) -> (u64, f64) {
    let mut effective = 0u64;
    let mut loss = 0.0;
    let mut sent = std::mem::take(&mut w.sent);
    w.set_negative_reuse(1);
    w.hot
        .load(&model.layers, G::HOT_NEGATIVES, G::HOT_INNER_NODES);
    for words in job.sentences() {
        subsample(model, w, words, &mut sent);
        effective += sent.len() as u64;
        if sent.len() < 2 {
            continue;
        }
        w.draw_next(model);
        loss += gen.sentence::<M>(model, w, &sent, alpha);
    }
    w.hot.merge(&model.layers);
    w.sent = sent;
    (effective, loss)
}

/// The document loop shared by the generators that read tagged documents
/// (Doc2Vec): as [`train_sentences`], for every document with at least one
/// kept word, with its tags.
#[inline(always)]
pub(crate) fn train_documents<M: MulAdd, G: PerDocument>(
    gen: &G,
    model: &ModelRef<'_>,
    w: &mut Worker,
    job: &crate::corpus::Job,
    alpha: f32,
) -> (u64, f64) {
    let mut effective = 0u64;
    let mut loss = 0.0;
    let mut sent = std::mem::take(&mut w.sent);
    w.set_negative_reuse(gen.negative_reuse());
    w.hot
        .load(&model.layers, gen.hot_negatives(), sgd::HOT_INNER_NODES);
    for (words, tags) in job.documents() {
        subsample(model, w, words, &mut sent);
        effective += sent.len() as u64;
        if sent.is_empty() {
            continue;
        }
        w.draw_next(model);
        loss += gen.document::<M>(model, w, &sent, tags, alpha);
    }
    w.hot.merge(&model.layers);
    w.sent = sent;
    (effective, loss)
}

/// word2vec's subsampling: keeps each word of `words` with its keep
/// probability, into `out`.
#[inline(always)]
fn subsample(model: &ModelRef<'_>, w: &mut Worker, words: &[u32], out: &mut Vec<u32>) {
    out.clear();
    for &id in words {
        let p = model.keep_prob[id as usize];
        if p >= 1.0 || w.rng.uniform() < p {
            out.push(id);
        }
    }
}

/// Refuses ids outside the vocabulary before they reach the workers (whose
/// row accesses would otherwise panic on them).
pub(crate) fn check_ids(ids: impl IntoIterator<Item = u32>, vocab: usize) -> Result<()> {
    let limit = u32::try_from(vocab).unwrap_or(u32::MAX);
    match ids.into_iter().find(|&id| id >= limit) {
        Some(id) => Err(Error::invalid(format!(
            "id {id} refers to no word of the vocabulary of {vocab} words"
        ))),
        None => Ok(()),
    }
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

    /// Records the learning rate of every job it is given (jobs are raw
    /// word counts).
    struct RecordAlpha(Mutex<Vec<f32>>);

    impl Examples for RecordAlpha {
        type Job = u64;

        fn raw_size(job: &u64) -> u64 {
            *job
        }

        fn train<M: MulAdd>(
            &self,
            _: &ModelRef<'_>,
            _: &mut Worker,
            job: &u64,
            alpha: f32,
        ) -> (u64, f64) {
            self.0.lock().unwrap().push(alpha);
            (*job, 0.0)
        }
    }

    /// One worker taking 10 jobs of 100 words, with a given progress share.
    struct Jobs(u64);

    impl JobSource<u64> for Jobs {
        type Cursor<'s> = u32;

        fn workers(&self, _: usize) -> usize {
            1
        }

        fn progress_share(&self) -> u64 {
            self.0
        }

        fn cursor(&self, _: usize, _: usize) -> u32 {
            0
        }

        fn next(&self, cursor: &mut u32, job: &mut u64) -> bool {
            *cursor += 1;
            *job = 100;
            *cursor <= 10
        }
    }

    fn alphas(share: u64) -> Vec<f32> {
        let config = crate::w2v::W2vConfig {
            negative: 1,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let tables = crate::w2v::Tables::new(&[1, 1], &config).unwrap();
        let (mut syn0, mut syn1neg) = (vec![0.0f32; 2], vec![0.0f32; 2]);
        let weights = crate::w2v::Weights::new(&mut syn0, Some(&mut syn1neg), None, 1).unwrap();
        let model = ModelRef::new(&config, &tables, weights).unwrap();
        let rec = RecordAlpha(Mutex::new(Vec::new()));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        // epoch 1 of 2, 1,000 words each
        let schedule = Schedule {
            alpha: 0.1,
            min_alpha: 0.0,
            words_before: 1000,
            total_words: 2000,
        };
        let progress = Progress::new(2000);
        run_epoch(&model, &rec, &Jobs(share), &pool, 1, 1, schedule, &progress).unwrap();
        rec.0.into_inner().unwrap()
    }

    #[test]
    fn a_shared_stream_decays_the_rate_by_all_words_done() {
        let a = alphas(1);
        assert_eq!(a.len(), 10);
        // job k starts after k * 100 of the epoch's 1,000 words
        for (k, &x) in a.iter().enumerate() {
            let want = 0.1 * (1.0 - (1000.0 + 100.0 * k as f32) / 2000.0);
            assert!((x - want).abs() < 1e-6, "job {k}: {x} vs {want}");
        }
    }

    #[test]
    fn per_worker_ranges_decay_the_rate_as_gensim_corpus_file() {
        // two workers' worth of share: the rate moves half as far in the epoch
        let a = alphas(2);
        for (k, &x) in a.iter().enumerate() {
            let want = 0.1 * (1.0 - (1000.0 + 50.0 * k as f32) / 2000.0);
            assert!((x - want).abs() < 1e-6, "job {k}: {x} vs {want}");
        }
    }

    #[test]
    fn ids_outside_the_vocabulary_are_named() {
        assert!(check_ids([0, 2], 3).is_ok());
        let e = check_ids([0, 3], 3).unwrap_err().to_string();
        assert!(e.contains("id 3"), "{e}");
    }
}
