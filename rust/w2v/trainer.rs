//! The word2vec trainer: a validated configuration, its tables and the
//! model's thread pool, and one method per corpus path, each a thin call of
//! the shared engine with the right example generator and job source.

use std::sync::mpsc::Receiver;
use std::sync::OnceLock;

use super::cbow::Cbow;
use super::config::W2vConfig;
use super::engine::{check_ids, run_epoch, EpochStats, Examples, JobSource, Schedule};
use super::model::{ModelRef, Weights};
use super::pairs::{Pairs, Shuffled};
use super::score::Scorer;
use super::skipgram::SkipGram;
use super::sources::{read_in_order, CheckedChannel, FileRanges};
use super::tables::Tables;
use crate::corpus::{ByteLookup, CorpusText, Job};
use crate::progress::Progress;
use crate::{Error, Result};

/// Trains word2vec weights: owns what does not change between epochs and
/// calls (configuration, tables, the worker threads, the word lookup of
/// the file path). The weights stay with the caller and are lent to each
/// epoch call as [`Weights`].
///
/// ```
/// use embedrs::progress::Progress;
/// use embedrs::w2v::{Schedule, Trainer, W2vConfig, Weights};
/// use embedrs::corpus::Job;
///
/// let words: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
/// let config = W2vConfig { workers: 1, sample: 0.0, ..Default::default() };
/// let trainer = Trainer::new(words, &[4, 3, 2], config).unwrap();
/// let (mut syn0, mut syn1neg) = (vec![0.1f32; 3 * 8], vec![0.0f32; 3 * 8]);
/// let mut job = Job::default();
/// job.ids.extend([0, 1, 2, 0, 1, 0, 2, 1, 0]);
/// job.raw_words = 9;
/// job.end_sentence();
/// let (tx, rx) = std::sync::mpsc::sync_channel(1);
/// tx.send(job).unwrap();
/// drop(tx);
/// let weights = Weights::new(&mut syn0, Some(&mut syn1neg), None, 8).unwrap();
/// let schedule = Schedule { alpha: 0.025, min_alpha: 0.0001, words_before: 0, total_words: 9 };
/// let stats = trainer.train_jobs(weights, 0, schedule, &Progress::new(9), rx).unwrap();
/// assert_eq!(stats.raw_words, 9);
/// assert!(syn1neg.iter().any(|&v| v != 0.0));
/// ```
pub struct Trainer {
    config: W2vConfig,
    tables: Tables,
    words: Vec<String>,
    lookup: OnceLock<ByteLookup>,
    pool: rayon::ThreadPool,
}

impl Trainer {
    /// A trainer for the vocabulary `words` with `counts` (id order).
    pub fn new(words: Vec<String>, counts: &[u64], config: W2vConfig) -> Result<Self> {
        if words.len() != counts.len() {
            return Err(Error::invalid(format!(
                "{} words but {} counts",
                words.len(),
                counts.len()
            )));
        }
        let config = config.validate()?;
        let tables = Tables::new(counts, &config)?;
        let pool = crate::thread_pool(config.workers)?;
        Ok(Trainer {
            config,
            tables,
            words,
            lookup: OnceLock::new(),
            pool,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &W2vConfig {
        &self.config
    }

    /// Number of words.
    pub fn vocab_len(&self) -> usize {
        self.words.len()
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn model<'a>(&'a self, weights: Weights<'a>) -> Result<ModelRef<'a>> {
        ModelRef::new(&self.config, &self.tables, weights)
    }

    fn run<E: Examples, S: JobSource<E::Job>>(
        &self,
        model: &ModelRef<'_>,
        gen: &E,
        source: &S,
        epoch: u64,
        schedule: Schedule,
        progress: &Progress,
    ) -> Result<EpochStats> {
        run_epoch(
            model,
            gen,
            source,
            &self.pool,
            self.config.seed,
            epoch,
            schedule,
            progress,
        )
    }

    fn sentences<S: JobSource<Job>>(
        &self,
        model: &ModelRef<'_>,
        source: &S,
        epoch: u64,
        schedule: Schedule,
        progress: &Progress,
    ) -> Result<EpochStats> {
        if self.config.sg {
            self.run(model, &SkipGram, source, epoch, schedule, progress)
        } else {
            self.run(model, &Cbow, source, epoch, schedule, progress)
        }
    }

    /// Trains one epoch on jobs received from `jobs` until the sender hangs
    /// up (or a stop is requested: then `Err(Interrupted)`, and the
    /// receiver is dropped so a blocked sender wakes up). Ids must be rows
    /// of the weights; a job with an id outside them is refused before
    /// training starts on it.
    pub fn train_jobs(
        &self,
        weights: Weights<'_>,
        epoch: u64,
        schedule: Schedule,
        progress: &Progress,
        jobs: Receiver<Job>,
    ) -> Result<EpochStats> {
        let model = self.model(weights)?;
        let source = CheckedChannel::new(jobs, model.words(), None);
        let stats = self.sentences(&model, &source, epoch, schedule, progress);
        match source.into_error() {
            Some(e) => Err(e),
            None => stats,
        }
    }

    /// The byte-string form of the vocabulary the file readers look tokens
    /// up in, built on first use.
    fn lookup(&self) -> &ByteLookup {
        self.lookup.get_or_init(|| ByteLookup::new(&self.words))
    }

    /// Trains one epoch on a corpus file, each worker on its own byte range
    /// (`batch_words` in-vocabulary words per job; lines longer than
    /// `max_sentence_length` tokens are split).
    pub fn train_file(
        &self,
        weights: Weights<'_>,
        text: &CorpusText,
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
        let model = self.model(weights)?;
        let lookup = self.lookup();
        let source = FileRanges::sentences(
            text,
            self.workers(),
            lookup,
            batch_words,
            max_sentence_length,
        );
        self.sentences(&model, &source, epoch, schedule, progress)
    }

    /// Trains one epoch on a corpus file read in order by one reader thread,
    /// whose jobs the workers take as they come: the iterable path's
    /// semantics (the jobs `LineSentence(path)` would give, one
    /// learning-rate schedule over all workers, every worker busy to the
    /// end) without Python in the loop. Returns the statistics and the
    /// number of sentences read (`LineSentence`'s count).
    pub fn train_file_in_order(
        &self,
        weights: Weights<'_>,
        text: &CorpusText,
        epoch: u64,
        schedule: Schedule,
        batch_words: usize,
        max_sentence_length: usize,
        progress: &Progress,
    ) -> Result<(EpochStats, u64)> {
        let lookup = self.lookup();
        read_in_order(
            text,
            max_sentence_length,
            self.workers() * 2,
            progress,
            |r, job| r.fill_job(job, batch_words.max(1), lookup),
            |rx| self.train_jobs(weights, epoch, schedule, progress, rx),
        )
    }

    /// Trains one epoch of skip-gram negative sampling on explicit
    /// `(target, context)` id pairs (the input row of `target` predicts
    /// `context`), visited in a seeded random order. Returns the loss.
    pub fn train_pairs(
        &self,
        weights: Weights<'_>,
        pairs: &[(u32, u32)],
        epoch: u64,
        schedule: Schedule,
        progress: &Progress,
    ) -> Result<f64> {
        if self.config.negative == 0 {
            return Err(Error::invalid("train_pairs needs negative > 0"));
        }
        // Explicit pairs train negative sampling only, whatever `hs` says.
        let mut weights = weights;
        weights.syn1 = None;
        let config = W2vConfig {
            hs: false,
            ..self.config.clone()
        };
        let model = ModelRef::new(&config, &self.tables, weights)?;
        check_ids(pairs.iter().flat_map(|&(t, c)| [t, c]), model.words())?;
        let order = Shuffled::new(pairs.len(), self.config.seed, epoch)?;
        let stats = self.run(&model, &Pairs { pairs }, &order, epoch, schedule, progress)?;
        Ok(stats.loss)
    }

    /// The log-likelihood of each sentence of `job` under the model
    /// (gensim's `Word2Vec.score`; see [`super::score`]), sentences spread
    /// over the trainer's threads. Needs hierarchical softmax: `syn1` is
    /// its output layer, `syn0` the word vectors (both `words x dim`,
    /// row-major). Never writes the weights.
    pub fn score(&self, syn0: &[f32], syn1: &[f32], job: &Job) -> Result<Vec<f32>> {
        use rayon::prelude::*;
        let Some(huffman) = self.tables.huffman.as_ref() else {
            return Err(Error::Runtime(
                "score() is only implemented for hierarchical softmax: train the model with \
                 hs=1"
                    .into(),
            ));
        };
        let words = self.vocab_len();
        if syn0.is_empty() || !syn0.len().is_multiple_of(words) {
            return Err(Error::invalid(format!(
                "syn0 has {} elements, not rows for {words} words",
                syn0.len()
            )));
        }
        let dim = syn0.len() / words;
        if syn1.len() != syn0.len() {
            return Err(Error::invalid(format!(
                "syn1 has {} elements, syn0 {}: the output layer does not match the vectors",
                syn1.len(),
                syn0.len()
            )));
        }
        check_ids(job.ids.iter().copied(), words)?;
        let scorer = Scorer {
            syn0,
            syn1,
            dim,
            huffman,
            sigmoid: &self.tables.sigmoid,
            window: self.config.window,
            sg: self.config.sg,
            cbow_mean: self.config.cbow_mean,
        };
        let sentences: Vec<&[u32]> = job.sentences().collect();
        Ok(self.pool.install(|| {
            sentences
                .par_iter()
                .map_init(Vec::new, |neu1, s| scorer.sentence(s, neu1))
                .collect()
        }))
    }
}
