//! End-to-end training in pure Rust (no Python): a corpus with planted
//! topics is learnt by skip-gram and CBOW, with negative sampling and
//! hierarchical softmax, from jobs and from a file.

use std::sync::mpsc::sync_channel;

use embedrs::corpus::CorpusText;
use embedrs::hogwild::SharedMatrix;
use embedrs::linalg::{dot, norm, SigmoidTable};
use embedrs::progress::Progress;
use embedrs::sampling::{keep_probability, Rng, UnigramTable};
use embedrs::vocab::huffman_codes;
use embedrs::w2v::{self, Job, ModelRef, OutputLayers, Schedule};

/// The test's matrices, shared with the Hogwild workers it runs itself.
fn shared(data: &mut [f32], rows: usize, cols: usize) -> SharedMatrix<'_> {
    // SAFETY: nothing but the test's own Hogwild training touches `data`.
    unsafe { SharedMatrix::new(data, rows, cols) }.expect("test buffer of rows * cols")
}

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

fn train(sg: bool, hs: bool, negative: usize, workers: usize) -> Vec<f32> {
    let pool = embedrs::thread_pool(workers).unwrap();
    let n = TOPICS * PER_TOPIC;
    let dim = 16;
    let sentences = corpus(1000);
    let mut counts = vec![0u64; n];
    for s in &sentences {
        for &w in s {
            counts[w as usize] += 1;
        }
    }
    let total: u64 = counts.iter().sum();
    let keep: Vec<f32> = counts
        .iter()
        .map(|&c| keep_probability(c, total, 0.0))
        .collect();
    let noise = UnigramTable::new(&counts, 0.75, 0).unwrap();
    let huff = huffman_codes(&counts).unwrap();
    let sig = SigmoidTable::new();
    let mut syn0: Vec<f32> = (0..n * dim)
        .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) / dim as f32)
        .collect();
    let mut syn1neg = vec![0.0f32; n * dim];
    let mut syn1 = vec![0.0f32; n * dim];
    let epochs = 5u64;
    {
        let model = ModelRef {
            syn0: shared(&mut syn0, n, dim),
            layers: OutputLayers {
                syn1neg: (negative > 0).then(|| shared(&mut syn1neg, n, dim)),
                noise: Some(&noise),
                negative,
                syn1: hs.then(|| shared(&mut syn1, n, dim)),
                huffman: Some(&huff),
                sigmoid: &sig,
                merge_lock: Default::default(),
            },
            sg,
            cbow_mean: true,
            window: 3,
            shrink_windows: true,
            keep_prob: &keep,
            compute_loss: true,
            lock_factors: None,
        };
        for epoch in 0..epochs {
            let (tx, rx) = sync_channel(4);
            let progress = Progress::new(0);
            let schedule = Schedule {
                alpha: 0.025,
                min_alpha: 0.0001,
                words_before: epoch * total,
                total_words: epochs * total,
            };
            std::thread::scope(|s| {
                let h = s.spawn(|| {
                    w2v::train_epoch_jobs(&model, &pool, 1, epoch, schedule, &progress, rx).unwrap()
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
                assert!(stats.loss > 0.0);
            });
        }
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
    let words: Vec<String> = (0..TOPICS * PER_TOPIC).map(|i| format!("w{i}")).collect();
    let lookup = w2v::trainer::byte_lookup(&words);
    let n = words.len();
    let dim = 8;
    let counts = vec![1u64; n];
    let keep = vec![1.0f32; n];
    let noise = UnigramTable::new(&counts, 0.75, 0).unwrap();
    let sig = SigmoidTable::new();
    let mut syn0 = vec![0.01f32; n * dim];
    let mut syn1neg = vec![0.0f32; n * dim];
    let model = ModelRef {
        syn0: shared(&mut syn0, n, dim),
        layers: OutputLayers {
            syn1neg: Some(shared(&mut syn1neg, n, dim)),
            noise: Some(&noise),
            negative: 2,
            syn1: None,
            huffman: None,
            sigmoid: &sig,
            merge_lock: Default::default(),
        },
        sg: false,
        cbow_mean: true,
        window: 2,
        shrink_windows: false,
        keep_prob: &keep,
        compute_loss: false,
        lock_factors: None,
    };
    for workers in [1, 2, 3] {
        let pool = embedrs::thread_pool(workers).unwrap();
        let progress = Progress::new(0);
        let schedule = Schedule {
            alpha: 0.025,
            min_alpha: 0.0001,
            words_before: 0,
            total_words: 5000,
        };
        let stats = w2v::train_epoch_file(
            &model, &c, &lookup, &pool, 1, 0, schedule, 100, 10_000, &progress,
        )
        .unwrap();
        assert_eq!(stats.raw_words, 5000, "workers={workers}");
        assert_eq!(stats.effective_words, 5000);
    }
}
