//! The Doc2Vec trainer: word2vec's configuration, tables and thread pool,
//! one generator chosen by `dm`/`dm_concat`, the two corpus paths, and
//! inference on a frozen model.

use std::sync::mpsc::Receiver;
use std::sync::OnceLock;

use super::dbow::Dbow;
use super::dm::{DmConcat, DmMean};
use crate::corpus::{ByteLookup, CorpusText, Job, SentenceReader, MAX_SENTENCE_LEN};
use crate::hogwild::SharedMatrix;
use crate::progress::Progress;
use crate::sampling::Rng;
use crate::w2v::engine::{check_ids, run_epoch, train_job, EpochStats, JobSource, Schedule};
use crate::w2v::init::fnv1a;
use crate::w2v::model::{ModelRef, Weights};
use crate::w2v::sources::{read_in_order, CheckedChannel, FileRanges};
use crate::w2v::worker::Worker;
use crate::w2v::{Tables, W2vConfig};
use crate::{Error, Result};

/// Doc2Vec's parameters: word2vec's (`w2v.cbow_mean` is `dm_mean`;
/// `w2v.sg` is unused) and the document ones, gensim's names.
#[derive(Clone, Debug, PartialEq)]
pub struct D2vConfig {
    /// The shared parameters.
    pub w2v: W2vConfig,
    /// PV-DM (true) or PV-DBOW (false).
    pub dm: bool,
    /// PV-DM with concatenated instead of summed/averaged input.
    pub dm_concat: bool,
    /// Tag vectors per document in the concatenated input.
    pub dm_tag_count: usize,
    /// PV-DBOW also trains word vectors by skip-gram.
    pub dbow_words: bool,
    /// PV-DM with the concatenated input: consecutive positions of a
    /// document that share one draw of noise words (1: a fresh draw for
    /// each, gensim's rule). The concatenated input's output rows are
    /// `(dm_tag_count + 2·window)` vectors wide (4.4 KB at 100 dimensions,
    /// window 5), so training is bound by loading them; a shared draw loads
    /// fewer distinct rows. The default, 4, is `Doc2Vec`'s in Python too.
    pub concat_negative_reuse: usize,
}

impl Default for D2vConfig {
    fn default() -> Self {
        D2vConfig {
            w2v: W2vConfig::default(),
            dm: true,
            dm_concat: false,
            dm_tag_count: 1,
            dbow_words: false,
            concat_negative_reuse: 4,
        }
    }
}

impl D2vConfig {
    /// Checks every parameter (see [`W2vConfig::validate`]).
    pub fn validate(mut self) -> Result<Self> {
        self.w2v = self.w2v.validate()?;
        if self.dm && self.dm_concat && self.dm_tag_count == 0 {
            return Err(Error::parameter(
                "dm_tag_count",
                "dm_tag_count must be an integer >= 1 with dm_concat=1",
            ));
        }
        if self.concat_negative_reuse == 0 {
            return Err(Error::parameter(
                "concat_negative_reuse",
                "concat_negative_reuse must be an integer >= 1 (1: a fresh draw of noise words \
                 for every position)",
            ));
        }
        Ok(self)
    }

    /// Entries of an output row for vectors of `dim`: `dim`, or
    /// `(dm_tag_count + 2·window)·dim` with the concatenated input.
    pub fn layer1_size(&self, dim: usize) -> usize {
        if self.dm && self.dm_concat {
            (self.dm_tag_count + 2 * self.w2v.window) * dim
        } else {
            dim
        }
    }
}

/// The weights of a trained model, only read during inference (any number
/// of threads may infer at once; nothing is written to them).
pub struct Frozen<'a> {
    /// Word vectors, row-major, `dim` columns.
    pub syn0: &'a [f32],
    /// Negative-sampling output layer, if the model has one.
    pub syn1neg: Option<&'a [f32]>,
    /// Hierarchical-softmax output layer, if the model has one.
    pub syn1: Option<&'a [f32]>,
    /// Vector size.
    pub dim: usize,
}

/// Trains Doc2Vec weights and infers vectors for new documents.
pub struct Doc2VecTrainer {
    config: D2vConfig,
    tables: Tables,
    words: Vec<String>,
    lookup: OnceLock<ByteLookup>,
    null_word: Option<u32>,
    pool: rayon::ThreadPool,
}

impl Doc2VecTrainer {
    /// A trainer for the vocabulary `words` with `counts` (id order). With
    /// `dm_concat`, the vocabulary must hold the padding word `"\0"`.
    pub fn new(words: Vec<String>, counts: &[u64], config: D2vConfig) -> Result<Self> {
        if words.len() != counts.len() {
            return Err(Error::invalid(format!(
                "{} words but {} counts",
                words.len(),
                counts.len()
            )));
        }
        let config = config.validate()?;
        let null_word = words.iter().position(|w| w == "\0").map(|i| i as u32);
        if config.dm && config.dm_concat && null_word.is_none() {
            return Err(Error::invalid(
                "dm_concat needs the padding word '\\0' in the vocabulary (null_word=1)",
            ));
        }
        let tables = Tables::new(counts, &config.w2v)?;
        let pool = crate::thread_pool(config.w2v.workers)?;
        Ok(Doc2VecTrainer {
            config,
            tables,
            words,
            lookup: OnceLock::new(),
            null_word,
            pool,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &D2vConfig {
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

    /// The checked view of `weights`: document vectors present, output rows
    /// as wide as the configuration says.
    fn model<'a>(&'a self, weights: Weights<'a>, config: &'a W2vConfig) -> Result<ModelRef<'a>> {
        let model = ModelRef::new(config, &self.tables, weights)?;
        if model.docs.is_none() {
            return Err(Error::invalid(
                "Doc2Vec training needs the document vectors",
            ));
        }
        let want = self.config.layer1_size(model.dim());
        if model.layer1 != want {
            return Err(Error::invalid(format!(
                "the output layer has rows of {}, expected {want} for these parameters",
                model.layer1
            )));
        }
        Ok(model)
    }

    /// Runs `source` through the generator of the configuration.
    fn run<S: JobSource<Job>>(
        &self,
        model: &ModelRef<'_>,
        source: &S,
        epoch: u64,
        schedule: Schedule,
        progress: &Progress,
    ) -> Result<EpochStats> {
        let (pool, seed) = (&self.pool, self.config.w2v.seed);
        let c = &self.config;
        match (c.dm, c.dm_concat) {
            (false, _) => run_epoch(
                model,
                &Dbow {
                    words: c.dbow_words,
                },
                source,
                pool,
                seed,
                epoch,
                schedule,
                progress,
            ),
            (true, false) => run_epoch(
                model, &DmMean, source, pool, seed, epoch, schedule, progress,
            ),
            (true, true) => run_epoch(
                model,
                &self.concat(),
                source,
                pool,
                seed,
                epoch,
                schedule,
                progress,
            ),
        }
    }

    fn concat(&self) -> DmConcat {
        DmConcat {
            tag_count: self.config.dm_tag_count,
            null_word: self.null_word.unwrap_or(0),
            negative_reuse: self.config.concat_negative_reuse,
        }
    }

    /// Trains one epoch on tagged documents received from `jobs` (filled
    /// with [`Job::end_document`]) until the sender hangs up; word ids and
    /// tags are checked before a worker trains on them.
    pub fn train_jobs(
        &self,
        weights: Weights<'_>,
        epoch: u64,
        schedule: Schedule,
        progress: &Progress,
        jobs: Receiver<Job>,
    ) -> Result<EpochStats> {
        let model = self.model(weights, &self.config.w2v)?;
        let docs = model.docs.as_ref().map_or(0, |d| d.rows());
        let source = CheckedChannel::new(jobs, model.words(), Some(docs));
        let stats = self.run(&model, &source, epoch, schedule, progress);
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

    /// Trains one epoch on a corpus file with one document per line; the
    /// tag of line `i` (from 0) is row `i` of the document vectors.
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
        let model = self.model(weights, &self.config.w2v)?;
        let source = FileRanges::documents(
            text,
            self.workers(),
            self.lookup(),
            batch_words,
            max_sentence_length,
            model.docs.as_ref().map_or(0, |d| d.rows()),
        );
        let stats = self.run(&model, &source, epoch, schedule, progress);
        match source.into_error() {
            Some(e) => Err(e),
            None => stats,
        }
    }

    /// Trains one epoch on a file read in order by one reader thread, as
    /// the Python feed trains on `TaggedLineDocument(path)`: line `i` is
    /// document `i` (row `i` of the document vectors), its words cut into
    /// documents of at most [`MAX_SENTENCE_LEN`] in-vocabulary words, the
    /// workers taking the reader's jobs as they come under one learning-rate
    /// schedule. Returns the statistics and the number of lines.
    pub fn train_file_in_order(
        &self,
        weights: Weights<'_>,
        text: &CorpusText,
        epoch: u64,
        schedule: Schedule,
        batch_words: usize,
        progress: &Progress,
    ) -> Result<(EpochStats, u64)> {
        let lookup = self.lookup();
        let (stats, _) = read_in_order(
            text,
            usize::MAX,
            self.workers() * 2,
            progress,
            |r, job| r.fill_tagged_lines(job, batch_words.max(1), lookup, MAX_SENTENCE_LEN),
            |rx| self.train_jobs(weights, epoch, schedule, progress, rx),
        )?;
        Ok((stats, SentenceReader::count_lines(text.bytes())))
    }

    /// The vector of a new document of word ids `doc`, trained for `epochs`
    /// passes with the learning rate falling linearly from `alpha` to
    /// `min_alpha` (gensim's `infer_vector`), the model frozen.
    ///
    /// Deterministic: the initial vector and every random draw depend only
    /// on `doc` and `seed`. A document without words returns its initial
    /// vector.
    pub fn infer(
        &self,
        frozen: &Frozen<'_>,
        doc: &[u32],
        seed: u64,
        alpha: f32,
        min_alpha: f32,
        epochs: usize,
    ) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; frozen.dim];
        self.infer_into(frozen, doc, seed, alpha, min_alpha, epochs, &mut out)?;
        Ok(out)
    }

    /// [`Doc2VecTrainer::infer`] for many documents, spread over the
    /// trainer's threads: row `i` of the result (`docs.len() x dim`,
    /// row-major) is the vector of `docs[i]`, the same as `infer` gives.
    pub fn infer_batch(
        &self,
        frozen: &Frozen<'_>,
        docs: &[Vec<u32>],
        seed: u64,
        alpha: f32,
        min_alpha: f32,
        epochs: usize,
        progress: &Progress,
    ) -> Result<Vec<f32>> {
        use rayon::prelude::*;
        let dim = frozen.dim.max(1);
        let what = || format!("inferred vectors for {} documents", docs.len());
        let n = crate::mem::elements::<f32>(docs.len(), dim, what)?;
        let mut out = crate::mem::zeroed::<f32>(n, what)?;
        self.pool.install(|| {
            out.par_chunks_mut(dim)
                .zip(docs.par_iter())
                .try_for_each(|(row, doc)| {
                    progress.check()?;
                    self.infer_into(frozen, doc, seed, alpha, min_alpha, epochs, row)?;
                    progress.add(1);
                    Ok(())
                })
        })?;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn infer_into(
        &self,
        frozen: &Frozen<'_>,
        doc: &[u32],
        seed: u64,
        alpha: f32,
        min_alpha: f32,
        epochs: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let dim = frozen.dim;
        if out.len() != dim {
            return Err(Error::invalid("inference buffer of the wrong size"));
        }
        let hash = fnv1a(
            &doc.iter()
                .flat_map(|id| id.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        // gensim's initial document vector: uniform in [-0.5/d, 0.5/d)
        let mut rng = Rng::new(hash ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for v in out.iter_mut() {
            *v = (rng.uniform() - 0.5) / dim.max(1) as f32;
        }
        let vocab = self.vocab_len();
        check_ids(doc.iter().copied(), vocab)?;
        if doc.is_empty() || epochs == 0 {
            return Ok(());
        }
        let read_only = |data: &'_ [f32], name: &str| -> Result<()> {
            if !data.len().is_multiple_of(vocab) || data.len() / vocab == 0 {
                return Err(Error::invalid(format!(
                    "{name} has {} elements, not rows for {vocab} words",
                    data.len()
                )));
            }
            Ok(())
        };
        read_only(frozen.syn0, "syn0")?;
        let layer1 = self.config.layer1_size(dim);
        let mut weights = Weights::from_shared(
            SharedMatrix::read_only(frozen.syn0, vocab, dim)?,
            frozen
                .syn1neg
                .map(|d| SharedMatrix::read_only(d, vocab, layer1))
                .transpose()?,
            frozen
                .syn1
                .map(|d| SharedMatrix::read_only(d, vocab, layer1))
                .transpose()?,
        );
        weights = weights.with_docs(out)?;
        // Inference trains the tags only: no skip-gram over the words.
        let config = &self.config.w2v;
        let model = self.model(weights, config)?;
        let mut job = Job::default();
        job.ids.extend_from_slice(doc);
        job.raw_words = doc.len() as u64;
        job.end_document(&vec![0; self.tag_count_for_inference()]);
        let mut w = Worker::new(layer1, seed, hash);
        for e in 0..epochs {
            let a = if epochs > 1 {
                alpha - (alpha - min_alpha) * e as f32 / (epochs - 1) as f32
            } else {
                alpha
            };
            match (self.config.dm, self.config.dm_concat) {
                (false, _) => train_job(&Dbow { words: false }, &model, &mut w, &job, a),
                (true, false) => train_job(&DmMean, &model, &mut w, &job, a),
                (true, true) => train_job(&self.concat(), &model, &mut w, &job, a),
            };
        }
        Ok(())
    }

    /// Tags given to a document during inference: all point at the one new
    /// vector (a concatenated input needs `dm_tag_count` of them).
    fn tag_count_for_inference(&self) -> usize {
        if self.config.dm && self.config.dm_concat {
            self.config.dm_tag_count
        } else {
            1
        }
    }
}
