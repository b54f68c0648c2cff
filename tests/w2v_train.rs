//! End-to-end training in pure Rust (no Python), through the public
//! [`Trainer`] API: a corpus with planted topics is learnt by skip-gram and
//! CBOW, with negative sampling and hierarchical softmax, from jobs, from a
//! file and from explicit pairs.

use std::sync::mpsc::sync_channel;

use embedrs::corpus::{CorpusText, Job};
use embedrs::linalg::{dot, norm};
use embedrs::progress::Progress;
use embedrs::sampling::Rng;
use embedrs::w2v::{Schedule, Trainer, W2vConfig, Weights};
use embedrs::Error;

const TOPICS: usize = 3;
const PER_TOPIC: usize = 10;

fn corpus(n: usize) -> Vec<Vec<u32>> {
    let mut rng = Rng::new(9);
    (0..n)
        .map(|_| {
            let t = rng.below(TOPICS);
            (0..10)
                .map(|_| (t * PER_TOPIC + rng.below(PER_TOPIC)) as u32)
                .collect()
        })
        .collect()
}

fn accuracy(vectors: &[f32], dim: usize) -> f64 {
    let n = TOPICS * PER_TOPIC;
    let row = |i: usize| &vectors[i * dim..(i + 1) * dim];
    let mut hits = 0;
    for i in 0..n {
        let mut sims: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (dot(row(i), row(j)) / (norm(row(i)) * norm(row(j))), j))
            .collect();
        sims.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
        hits += sims[..3]
            .iter()
            .filter(|(_, j)| j / PER_TOPIC == i / PER_TOPIC)
            .count();
    }
    hits as f64 / (3 * n) as f64
}

fn counts_of(sentences: &[Vec<u32>], n: usize) -> Vec<u64> {
    let mut counts = vec![0u64; n];
    for s in sentences {
        for &w in s {
            counts[w as usize] += 1;
        }
    }
    counts
}

fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i}")).collect()
}

fn schedule(epoch: u64, per_epoch: u64, epochs: u64) -> Schedule {
    Schedule {
        alpha: 0.025,
        min_alpha: 0.0001,
        words_before: epoch * per_epoch,
        total_words: epochs * per_epoch,
    }
}

fn train(sg: bool, hs: bool, negative: usize, workers: usize) -> Vec<f32> {
    let n = TOPICS * PER_TOPIC;
    let dim = 16;
    let sentences = corpus(1000);
    let counts = counts_of(&sentences, n);
    let total: u64 = counts.iter().sum();
    let config = W2vConfig {
        sg,
        hs,
        negative,
        window: 3,
        sample: 0.0,
        compute_loss: true,
        workers,
        ..Default::default()
    };
    let trainer = Trainer::new(words(n), &counts, config).unwrap();
    let mut syn0: Vec<f32> = (0..n * dim)
        .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) / dim as f32)
        .collect();
    let mut syn1neg = vec![0.0f32; n * dim];
    let mut syn1 = vec![0.0f32; n * dim];
    let epochs = 5u64;
    for epoch in 0..epochs {
        let (tx, rx) = sync_channel(4);
        let progress = Progress::new(0);
        let weights = Weights::new(
            &mut syn0,
            (negative > 0).then_some(&mut syn1neg[..]),
            hs.then_some(&mut syn1[..]),
            dim,
        )
        .unwrap();
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                trainer
                    .train_jobs(
                        weights,
                        epoch,
                        schedule(epoch, total, epochs),
                        &progress,
                        rx,
                    )
                    .unwrap()
            });
            for chunk in sentences.chunks(50) {
                let mut job = Job::default();
                for sent in chunk {
                    job.ids.extend_from_slice(sent);
                    job.raw_words += sent.len() as u64;
                    job.end_sentence();
                }
                tx.send(job).unwrap();
            }
            drop(tx);
            let stats = h.join().unwrap();
            assert_eq!(stats.raw_words, total);
            assert_eq!(stats.effective_words, total);
            assert!(stats.loss > 0.0);
        });
    }
    assert!(syn0.iter().all(|v| v.is_finite()));
    syn0
}

#[test]
fn skipgram_negative_sampling_learns_topics() {
    assert!(accuracy(&train(true, false, 5, 2), 16) > 0.9);
}

#[test]
fn cbow_negative_sampling_learns_topics() {
    assert!(accuracy(&train(false, false, 5, 2), 16) > 0.9);
}

#[test]
fn hierarchical_softmax_learns_topics() {
    assert!(accuracy(&train(true, true, 0, 2), 16) > 0.9);
    assert!(accuracy(&train(false, true, 0, 1), 16) > 0.9);
}

#[test]
fn one_worker_is_reproducible() {
    assert_eq!(train(true, false, 5, 1), train(true, false, 5, 1));
    assert_ne!(train(true, false, 5, 1), train(false, false, 5, 1));
}

#[test]
fn file_path_trains_every_token_once_per_epoch() {
    let text: String = corpus(500)
        .iter()
        .map(|s| {
            s.iter()
                .map(|w| format!("w{w}"))
                .collect::<Vec<_>>()
                .join(" ")
                + "\n"
        })
        .collect();
    let c = CorpusText::from_bytes(text.into_bytes());
    let n = TOPICS * PER_TOPIC;
    let dim = 8;
    let mut syn0 = vec![0.01f32; n * dim];
    let mut syn1neg = vec![0.0f32; n * dim];
    for workers in [1, 2, 3] {
        let config = W2vConfig {
            negative: 2,
            window: 2,
            shrink_windows: false,
            sample: 0.0,
            workers,
            ..Default::default()
        };
        let trainer = Trainer::new(words(n), &vec![1u64; n], config).unwrap();
        let weights = Weights::new(&mut syn0, Some(&mut syn1neg), None, dim).unwrap();
        let progress = Progress::new(0);
        let stats = trainer
            .train_file(weights, &c, 0, schedule(0, 5000, 1), 100, 10_000, &progress)
            .unwrap();
        assert_eq!(stats.raw_words, 5000, "workers={workers}");
        assert_eq!(stats.effective_words, 5000);
        assert_eq!(progress.done(), 5000);
    }
}

#[test]
fn file_read_in_order_gives_the_jobs_of_the_channel() {
    // The same sentences sent as jobs (the Python feed's batching: a job
    // closes after the sentence that reaches `batch_words`) and read from
    // the file in order: one worker, so the weights must be identical.
    let sentences = corpus(300);
    let text: String = sentences
        .iter()
        .map(|s| s.iter().map(|w| format!("w{w} ")).collect::<String>() + "oov\n")
        .collect();
    let c = CorpusText::from_bytes(text.into_bytes());
    let n = TOPICS * PER_TOPIC;
    let dim = 8;
    let batch = 64;
    let config = W2vConfig {
        negative: 3,
        window: 3,
        workers: 1,
        ..Default::default()
    };
    let trainer = Trainer::new(words(n), &counts_of(&sentences, n), config).unwrap();
    let run = |from_file: bool| {
        let mut syn0: Vec<f32> = (0..n * dim)
            .map(|i| ((i % 13) as f32 - 6.0) / 50.0)
            .collect();
        let mut syn1neg = vec![0.0f32; n * dim];
        let weights = Weights::new(&mut syn0, Some(&mut syn1neg), None, dim).unwrap();
        let progress = Progress::new(0);
        let sched = schedule(0, 3300, 1);
        let read = if from_file {
            let (stats, read) = trainer
                .train_file_in_order(weights, &c, 0, sched, batch, 10_000, &progress)
                .unwrap();
            assert_eq!(stats.raw_words, 3300);
            read
        } else {
            let (tx, rx) = sync_channel(4);
            let feed = std::thread::spawn({
                let sentences = sentences.clone();
                move || {
                    let mut job = Job::default();
                    for s in &sentences {
                        job.ids.extend_from_slice(s);
                        job.raw_words += s.len() as u64 + 1;
                        job.end_sentence();
                        if job.words() >= batch {
                            tx.send(std::mem::take(&mut job)).unwrap();
                        }
                    }
                    if job.raw_words > 0 {
                        tx.send(job).unwrap();
                    }
                }
            });
            let stats = trainer
                .train_jobs(weights, 0, sched, &progress, rx)
                .unwrap();
            feed.join().unwrap();
            assert_eq!(stats.raw_words, 3300);
            sentences.len() as u64
        };
        (syn0, syn1neg, read)
    };
    let (a0, a1, read) = run(true);
    let (b0, b1, _) = run(false);
    assert_eq!(read, 300);
    assert!(a1.iter().any(|&v| v != 0.0), "nothing was trained");
    assert_eq!(a0, b0);
    assert_eq!(a1, b1);
}

#[test]
fn pairs_learn_topics_and_bad_ids_are_refused() {
    let n = TOPICS * PER_TOPIC;
    let dim = 16;
    let sentences = corpus(600);
    let mut pairs = Vec::new();
    for s in &sentences {
        for (i, &a) in s.iter().enumerate() {
            for &b in &s[i + 1..(i + 3).min(s.len())] {
                pairs.push((a, b));
                pairs.push((b, a));
            }
        }
    }
    let config = W2vConfig {
        sg: true,
        sample: 0.0,
        workers: 2,
        ..Default::default()
    };
    let trainer = Trainer::new(words(n), &counts_of(&sentences, n), config).unwrap();
    let mut syn0: Vec<f32> = (0..n * dim)
        .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) / dim as f32)
        .collect();
    let mut syn1neg = vec![0.0f32; n * dim];
    let per_epoch = pairs.len() as u64;
    for epoch in 0..5 {
        let weights = Weights::new(&mut syn0, Some(&mut syn1neg), None, dim).unwrap();
        let progress = Progress::new(per_epoch);
        trainer
            .train_pairs(
                weights,
                &pairs,
                epoch,
                schedule(epoch, per_epoch, 5),
                &progress,
            )
            .unwrap();
        assert_eq!(progress.done(), per_epoch);
    }
    assert!(accuracy(&syn0, dim) > 0.9);
    let weights = Weights::new(&mut syn0, Some(&mut syn1neg), None, dim).unwrap();
    let e = trainer
        .train_pairs(
            weights,
            &[(0, n as u32)],
            0,
            schedule(0, 1, 1),
            &Progress::new(1),
        )
        .unwrap_err();
    assert!(e.to_string().contains(&format!("id {n}")), "{e}");
}

#[test]
fn a_stop_request_ends_the_epoch_with_interrupted() {
    let n = TOPICS * PER_TOPIC;
    let dim = 8;
    let sentences = corpus(200);
    let trainer = Trainer::new(
        words(n),
        &counts_of(&sentences, n),
        W2vConfig {
            workers: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let mut syn0 = vec![0.01f32; n * dim];
    let mut syn1neg = vec![0.0f32; n * dim];
    let weights = Weights::new(&mut syn0, Some(&mut syn1neg), None, dim).unwrap();
    let progress = Progress::new(0);
    progress.request_stop();
    let (tx, rx) = sync_channel(1);
    let mut job = Job::default();
    job.ids.extend_from_slice(&sentences[0]);
    job.end_sentence();
    let _ = tx.try_send(job);
    drop(tx);
    let r = trainer.train_jobs(weights, 0, schedule(0, 10, 1), &progress, rx);
    assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
}

#[test]
fn mismatched_weights_and_bad_config_are_errors_not_panics() {
    let cfg = W2vConfig::default();
    assert!(Trainer::new(words(3), &[1, 2], cfg.clone()).is_err());
    let e = Trainer::new(
        words(2),
        &[1, 2],
        W2vConfig {
            window: 0,
            ..cfg.clone()
        },
    )
    .err()
    .unwrap();
    assert!(
        matches!(e, Error::Parameter { name: "window", .. }),
        "{e:?}"
    );
    let trainer = Trainer::new(words(2), &[1, 2], cfg).unwrap();
    let (mut a, mut b) = (vec![0.0f32; 6], vec![0.0f32; 6]);
    let weights = Weights::new(&mut a, Some(&mut b), None, 2).unwrap();
    let (_tx, rx) = sync_channel::<Job>(1);
    let e = trainer
        .train_jobs(weights, 0, schedule(0, 1, 1), &Progress::new(1), rx)
        .unwrap_err();
    assert!(e.to_string().contains("expected (2, 2)"), "{e}");
}
