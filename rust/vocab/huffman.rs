//! Huffman coding of the vocabulary for hierarchical softmax.
//!
//! Built exactly as gensim 4 builds it (`_build_heap`,
//! `_assign_binary_codes`): a binary heap of the words in id order, ordered
//! by count alone, from which the two smallest are popped and their parent
//! pushed, `n - 1` times. Ties between equal counts are broken by where the
//! heap happens to hold them, so the heap operations below are those of
//! Python's `heapq` step for step: then a model trained by gensim, loaded
//! here and given the same counts, gets the very tree its `syn1` rows were
//! trained for (and `score` gives gensim's numbers). Inner node `k` (0-based,
//! creation order) is row `k` of `syn1`; the root is the last, `n - 2`; the
//! first popped child is the `0` branch.

use crate::{Error, Result};

/// For each word: the inner nodes on its path, root first, with the branch
/// taken at each.
///
/// Stored flat, one `u32` per step (the node in the low 31 bits, the branch
/// bit in the top one), the words' paths one after another: a trainer reads
/// a word's whole path from one place (one or two cache lines), where a
/// vector per word cost it two dependent cache misses per array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HuffmanCodes {
    /// Word `w`'s steps are `steps[offsets[w]..offsets[w + 1]]`.
    offsets: Vec<u32>,
    steps: Vec<u32>,
}

/// The bits of a step that hold its inner node.
const NODE_BITS: u32 = 0x7fff_ffff;

impl HuffmanCodes {
    /// Number of words.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when there are no words.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Word `w`'s path, root first, packed: decode each step with
    /// [`HuffmanCodes::node`] and [`HuffmanCodes::branch`]. Panics if `w`
    /// is not a word.
    #[inline(always)]
    pub fn path(&self, w: usize) -> &[u32] {
        let (a, b) = (self.offsets[w] as usize, self.offsets[w + 1] as usize);
        &self.steps[a..b]
    }

    /// The inner node (row of `syn1`) of a step of [`HuffmanCodes::path`].
    #[inline(always)]
    pub fn node(step: u32) -> u32 {
        step & NODE_BITS
    }

    /// The branch bit (0 or 1) of a step of [`HuffmanCodes::path`].
    #[inline(always)]
    pub fn branch(step: u32) -> u8 {
        (step >> 31) as u8
    }

    /// Word `w`'s branch bits, root first.
    pub fn codes(&self, w: usize) -> Vec<u8> {
        self.path(w).iter().map(|&s| Self::branch(s)).collect()
    }

    /// Word `w`'s inner nodes, root first.
    pub fn points(&self, w: usize) -> Vec<u32> {
        self.path(w).iter().map(|&s| Self::node(s)).collect()
    }

    /// Starts loading word `w`'s path into cache (a hint; see
    /// [`crate::mem::prefetch`]). Out-of-range words are ignored.
    #[inline(always)]
    pub fn prefetch_path(&self, w: usize) {
        if let Some(&a) = self.offsets.get(w) {
            crate::mem::prefetch(self.steps.as_ptr().wrapping_add(a as usize));
        }
    }
}

/// Builds Huffman codes for `counts` (any order; zero counts allowed).
///
/// ```
/// let h = embedrs::vocab::huffman_codes(&[5, 3, 1, 1]).unwrap();
/// assert_eq!(h.path(0).len(), 1); // most frequent word sits next to the root
/// ```
pub fn huffman_codes(counts: &[u64]) -> Result<HuffmanCodes> {
    let n = counts.len();
    if n == 0 {
        return Err(Error::invalid(
            "cannot build a Huffman tree for an empty vocabulary",
        ));
    }
    if n == 1 {
        // A single word: one inner node, the word is its left child.
        return Ok(HuffmanCodes {
            offsets: vec![0, 1],
            steps: vec![0],
        });
    }
    // Nodes: words 0..n, inner nodes n..2n-1 in creation order.
    let mut count = vec![0u64; 2 * n - 1];
    count[..n].copy_from_slice(counts);
    let mut heap = Heap {
        items: (0..n).collect(),
        count: &mut count,
    };
    heap.heapify();
    let mut children = vec![(0usize, 0usize); n - 1];
    for (i, kids) in children.iter_mut().enumerate() {
        let first = heap.pop();
        let second = heap.pop();
        let node = n + i;
        heap.count[node] = heap.count[first].saturating_add(heap.count[second]);
        heap.push(node);
        *kids = (first, second);
    }
    // Each word's path: up from its leaf to the root through the parents,
    // then reversed (root first, as gensim records it walking down).
    if 2 * n - 1 > NODE_BITS as usize {
        return Err(Error::invalid(format!(
            "a vocabulary of {n} words is too large for hierarchical softmax"
        )));
    }
    let mut parent = vec![(0u32, 0u8); 2 * n - 2];
    for (i, &(first, second)) in children.iter().enumerate() {
        parent[first] = (i as u32, 0);
        parent[second] = (i as u32, 1);
    }
    let root = 2 * n - 2;
    let mut offsets = Vec::with_capacity(n + 1);
    let mut steps: Vec<u32> = Vec::new();
    offsets.push(0u32);
    for w in 0..n {
        let start = steps.len();
        let mut node = w;
        while node != root {
            let (up, bit) = parent[node];
            steps.push(up | (bit as u32) << 31);
            node = n + up as usize;
        }
        steps[start..].reverse();
        let end = u32::try_from(steps.len()).map_err(|_| {
            Error::invalid(format!(
                "the Huffman paths of {n} words are too long to index (over 2^32 steps)"
            ))
        })?;
        offsets.push(end);
    }
    Ok(HuffmanCodes { offsets, steps })
}

/// A binary min-heap of node ids ordered by `count` alone, with the exact
/// operations of CPython's `heapq` (`heapify`, `heappop`, `heappush` and
/// their `_siftup`/`_siftdown`), so that equal counts end up in the same
/// order as in gensim.
struct Heap<'a> {
    items: Vec<usize>,
    count: &'a mut [u64],
}

impl Heap<'_> {
    fn less(&self, a: usize, b: usize) -> bool {
        self.count[a] < self.count[b]
    }

    fn heapify(&mut self) {
        for i in (0..self.items.len() / 2).rev() {
            self.sift_up(i);
        }
    }

    fn pop(&mut self) -> usize {
        let last = self.items.pop().expect("the heap holds at least two nodes");
        if self.items.is_empty() {
            return last;
        }
        let top = std::mem::replace(&mut self.items[0], last);
        self.sift_up(0);
        top
    }

    fn push(&mut self, node: usize) {
        self.items.push(node);
        self.sift_down(0, self.items.len() - 1);
    }

    /// `heapq._siftdown`: moves the item at `pos` up towards `start`.
    fn sift_down(&mut self, start: usize, mut pos: usize) {
        let item = self.items[pos];
        while pos > start {
            let parent = (pos - 1) >> 1;
            if self.less(item, self.items[parent]) {
                self.items[pos] = self.items[parent];
                pos = parent;
            } else {
                break;
            }
        }
        self.items[pos] = item;
    }

    /// `heapq._siftup`: moves the smaller child up until a leaf is reached,
    /// puts the item there and sifts it back down.
    fn sift_up(&mut self, mut pos: usize) {
        let end = self.items.len();
        let start = pos;
        let item = self.items[pos];
        let mut child = 2 * pos + 1;
        while child < end {
            let right = child + 1;
            if right < end && !self.less(self.items[child], self.items[right]) {
                child = right;
            }
            self.items[pos] = self.items[child];
            pos = child;
            child = 2 * pos + 1;
        }
        self.items[pos] = item;
        self.sift_down(start, pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoding every code from the root must reach distinct leaves, so codes
    /// are prefix-free and every path starts at the root (node n-2).
    #[test]
    fn codes_are_prefix_free_and_rooted() {
        let counts = [40u64, 30, 10, 10, 5, 3, 1, 1];
        let h = huffman_codes(&counts).unwrap();
        let n = counts.len();
        for w in 0..n {
            assert_eq!(h.points(w)[0] as usize, n - 2);
            assert_eq!(h.codes(w).len(), h.points(w).len());
        }
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let (ca, cb) = (h.codes(a), h.codes(b));
                    assert!(
                        !(ca.len() <= cb.len() && cb[..ca.len()] == ca[..]),
                        "{a} prefix of {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn code_lengths_are_optimal() {
        // Counts 1,1,2,4: lengths 3,3,2,1 (weighted length 1*3+1*3+2*2+4*1 = 14).
        let h = huffman_codes(&[4, 2, 1, 1]).unwrap();
        let lens: Vec<usize> = (0..h.len()).map(|w| h.path(w).len()).collect();
        assert_eq!(lens, vec![1, 2, 3, 3]);
        // Kraft equality for a full binary tree.
        let kraft: f64 = lens.iter().map(|&l| 0.5f64.powi(l as i32)).sum();
        assert!((kraft - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tiny_vocabularies() {
        assert!(huffman_codes(&[]).is_err());
        let one = huffman_codes(&[3]).unwrap();
        assert_eq!((one.codes(0), one.points(0)), (vec![0], vec![0]));
        let two = huffman_codes(&[3, 1]).unwrap();
        assert_eq!(two.codes(0).len(), 1);
        assert_ne!(two.codes(0), two.codes(1));
    }
}
