//! Huffman coding of the vocabulary for hierarchical softmax.
//!
//! Built with the classic two-queue method of the word2vec C tool: leaves
//! sorted by descending count are consumed from the right while inner nodes
//! are appended in creation order, so the whole tree takes O(n) after the
//! sort. Inner node `k` (0-based, creation order) is row `k` of `syn1`; the
//! root is the last inner node, `n - 2`.

use crate::{Error, Result};

/// For each word: the branch bits and the inner nodes on its path, root first.
#[derive(Clone, Debug, Default)]
pub struct HuffmanCodes {
    /// `codes[w][k]` is 0/1: the branch taken at the `k`-th node on the path.
    pub codes: Vec<Vec<u8>>,
    /// `points[w][k]`: the inner node (row of `syn1`) at depth `k`.
    pub points: Vec<Vec<u32>>,
}

/// Builds Huffman codes for `counts` (any order; zero counts allowed).
///
/// ```
/// let h = embedrs::vocab::huffman_codes(&[5, 3, 1, 1]).unwrap();
/// assert_eq!(h.codes[0].len(), 1); // most frequent word sits next to the root
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
            codes: vec![vec![0]],
            points: vec![vec![0]],
        });
    }
    // Leaves in descending count order (stable by id).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]));
    // Node ids: leaves 0..n (by `order` position), inner n..2n-1.
    let mut count = vec![u64::MAX; 2 * n - 1];
    for (pos, &w) in order.iter().enumerate() {
        count[pos] = counts[w];
    }
    let mut parent = vec![0usize; 2 * n - 1];
    let mut binary = vec![0u8; 2 * n - 1];
    let mut leaf = n as isize - 1; // next smallest leaf, moving left
    let mut inner = n; // next smallest inner node, moving right
    for a in 0..n - 1 {
        let mut pick = || {
            if leaf >= 0 && (inner >= n + a || count[leaf as usize] < count[inner]) {
                leaf -= 1;
                (leaf + 1) as usize
            } else {
                inner += 1;
                inner - 1
            }
        };
        let m1 = pick();
        let m2 = pick();
        count[n + a] = count[m1].saturating_add(count[m2]);
        parent[m1] = n + a;
        parent[m2] = n + a;
        binary[m2] = 1;
    }
    let root = 2 * n - 2;
    let mut codes = vec![Vec::new(); n];
    let mut points = vec![Vec::new(); n];
    for (pos, &w) in order.iter().enumerate() {
        let mut code = Vec::new();
        let mut point = Vec::new();
        let mut node = pos;
        while node != root {
            code.push(binary[node]);
            node = parent[node];
            point.push((node - n) as u32);
        }
        code.reverse();
        point.reverse();
        codes[w] = code;
        points[w] = point;
    }
    Ok(HuffmanCodes { codes, points })
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
            assert_eq!(h.points[w][0] as usize, n - 2);
            assert_eq!(h.codes[w].len(), h.points[w].len());
        }
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let (ca, cb) = (&h.codes[a], &h.codes[b]);
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
        let lens: Vec<usize> = h.codes.iter().map(|c| c.len()).collect();
        assert_eq!(lens, vec![1, 2, 3, 3]);
        // Kraft equality for a full binary tree.
        let kraft: f64 = lens.iter().map(|&l| 0.5f64.powi(l as i32)).sum();
        assert!((kraft - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tiny_vocabularies() {
        assert!(huffman_codes(&[]).is_err());
        let one = huffman_codes(&[3]).unwrap();
        assert_eq!(one.codes, vec![vec![0]]);
        let two = huffman_codes(&[3, 1]).unwrap();
        assert_eq!(two.codes[0].len(), 1);
        assert_ne!(two.codes[0], two.codes[1]);
    }
}
