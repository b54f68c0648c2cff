//! Bounded selection of the `k` best-scoring rows.
//!
//! [`TopK`] keeps a min-heap of at most `k` entries whose root is the worst
//! entry kept so far, so a candidate costs one comparison unless it beats
//! that root. Ties are broken by the lower row index, which makes results
//! independent of how the rows were split between threads.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One scored row.
#[derive(Clone, Copy, Debug)]
struct Entry {
    score: f32,
    index: usize,
}

impl Entry {
    /// `Ordering::Greater` when `self` ranks better than `other`.
    fn rank_cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.index.cmp(&self.index))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank_cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed so that `BinaryHeap` (a max-heap) keeps the worst entry on top.
    fn cmp(&self, other: &Self) -> Ordering {
        other.rank_cmp(self)
    }
}

/// The `k` best `(row, score)` pairs pushed so far (NaN scores are ignored).
///
/// ```
/// use embedrs::kv::TopK;
/// let mut t = TopK::new(2);
/// for (i, s) in [0.1f32, 0.9, 0.5, 0.9].iter().enumerate() {
///     t.push(i, *s);
/// }
/// assert_eq!(t.into_sorted(), vec![(1, 0.9), (3, 0.9)]);
/// ```
#[derive(Clone, Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    /// An empty selection that will keep at most `k` entries.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    /// Offers row `index` with `score`.
    #[inline]
    pub fn push(&mut self, index: usize, score: f32) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        let e = Entry { score, index };
        if self.heap.len() < self.k {
            self.heap.push(e);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if e.rank_cmp(&worst) == Ordering::Greater {
                *worst = e;
            }
        }
    }

    /// The score a candidate must beat to enter, once the selection is full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |e| e.score)
        }
    }

    /// Adds every entry of `other`.
    pub fn merge(&mut self, other: TopK) {
        for e in other.heap {
            self.push(e.index, e.score);
        }
    }

    /// The kept entries, best first (ties: lower row first).
    pub fn into_sorted(self) -> Vec<(usize, f32)> {
        let mut v: Vec<Entry> = self.heap.into_vec();
        v.sort_by(|a, b| b.rank_cmp(a));
        v.into_iter().map(|e| (e.index, e.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_and_breaks_ties_by_index() {
        let mut t = TopK::new(3);
        for (i, s) in [0.3f32, f32::NAN, 0.7, 0.3, -1.0, 0.7, 0.3]
            .iter()
            .enumerate()
        {
            t.push(i, *s);
        }
        assert_eq!(t.into_sorted(), vec![(2, 0.7), (5, 0.7), (0, 0.3)]);
    }

    #[test]
    fn merge_equals_single_pass() {
        let scores: Vec<f32> = (0..100).map(|i| ((i * 37) % 101) as f32 / 7.0).collect();
        let mut all = TopK::new(10);
        let (mut a, mut b) = (TopK::new(10), TopK::new(10));
        for (i, s) in scores.iter().enumerate() {
            all.push(i, *s);
            if i % 2 == 0 {
                a.push(i, *s)
            } else {
                b.push(i, *s)
            }
        }
        a.merge(b);
        assert_eq!(a.into_sorted(), all.into_sorted());
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(0, 1.0);
        assert!(t.into_sorted().is_empty());
        assert_eq!(TopK::new(1).threshold(), f32::NEG_INFINITY);
    }
}
