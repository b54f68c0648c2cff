//! The relation graph and negative sampling.
//!
//! A negative for a relation `(u, v)` is a node `w` with no relation
//! `(u, w)` in the training data; the `k` negatives of one relation are
//! distinct, and differ from `u` whenever enough other nodes are allowed.
//! gensim's feasibility rule counts `u` itself (`n_nodes - |relations(u)| >= k`)
//! and gensim may draw it at any time; we accept the same inputs but draw `u`
//! only when a graph is so small that `k` negatives need it: as a negative,
//! `u` sits at distance 0 and takes most of the softmax's mass, which slows
//! training without carrying any signal (its gradient is zero). They are drawn uniformly (the paper's choice after burn-in) or
//! in proportion to node frequency, the number of relations a node takes part
//! in (burn-in, and gensim's choice throughout).
//!
//! Sampling is by rejection, which is fast when a node's relations are a
//! small part of the graph. When rejection keeps failing (a node related to
//! almost everything), we fall back to an exact draw over the explicit list
//! of allowed nodes (partial Fisher-Yates, or Efraimidis-Spirakis keys for
//! weighted draws), so sampling always ends.

use crate::error::{Error, Result};
use crate::sampling::{Rng, UnigramTable};

/// How negatives are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// Every allowed node equally likely.
    Uniform,
    /// In proportion to each node's number of relations.
    Frequency,
}

/// Training relations as node indices, with per-node neighbour sets and counts.
#[derive(Clone, Debug)]
pub struct Graph {
    n_nodes: usize,
    pairs: Vec<(u32, u32)>,
    /// Sorted, deduplicated `v` for each `u` with a relation `(u, v)`.
    neighbours: Vec<Vec<u32>>,
    /// Node counts, floored at 1 (the weights of frequency sampling).
    counts: Vec<u64>,
    /// O(1) sampler of `counts` (Walker's alias method).
    frequency: UnigramTable,
}

impl Graph {
    /// Builds the graph of `pairs` over nodes `0..n_nodes`.
    ///
    /// Fails when a pair names a node `>= n_nodes` or there are no pairs.
    pub fn new(n_nodes: usize, pairs: Vec<(u32, u32)>) -> Result<Self> {
        if pairs.is_empty() {
            return Err(Error::invalid(
                "no relations to train on: the relation list is empty",
            ));
        }
        if n_nodes > u32::MAX as usize {
            return Err(Error::invalid("too many nodes (more than 2^32 - 1)"));
        }
        if pairs.len() > u32::MAX as usize {
            return Err(Error::invalid("too many relations (more than 2^32 - 1)"));
        }
        let mut neighbours = vec![Vec::new(); n_nodes];
        let mut counts = vec![0u64; n_nodes];
        for &(u, v) in &pairs {
            if u as usize >= n_nodes || v as usize >= n_nodes {
                return Err(Error::invalid(format!(
                    "relation ({u}, {v}) names a node index outside 0..{n_nodes}"
                )));
            }
            neighbours[u as usize].push(v);
            counts[u as usize] += 1;
            counts[v as usize] += 1;
        }
        for n in &mut neighbours {
            n.sort_unstable();
            n.dedup();
        }
        let counts: Vec<u64> = counts.iter().map(|&c| c.max(1)).collect();
        let frequency = UnigramTable::new(&counts, 1.0, 0)
            .ok_or_else(|| Error::invalid("no nodes to sample negatives from"))?;
        Ok(Graph {
            n_nodes,
            pairs,
            neighbours,
            counts,
            frequency,
        })
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.n_nodes
    }

    /// The relations, in input order.
    pub fn pairs(&self) -> &[(u32, u32)] {
        &self.pairs
    }

    /// True when `(u, w)` is a relation or `w == u`: the rejection sampler skips `w`.
    #[inline]
    pub fn is_excluded(&self, u: u32, w: u32) -> bool {
        u == w || self.neighbours[u as usize].binary_search(&w).is_ok()
    }

    /// Number of nodes allowed as negatives of `u` (gensim's count: `u` itself included).
    pub fn allowed_negatives(&self, u: u32) -> usize {
        self.n_nodes - self.neighbours[u as usize].len()
    }

    /// Checks that every node that starts a relation has `negative` allowed negatives.
    pub fn check_negative(&self, negative: usize) -> Result<()> {
        for &(u, _) in &self.pairs {
            let allowed = self.allowed_negatives(u);
            if allowed < negative {
                return Err(Error::invalid(format!(
                    "Cannot sample {negative} negative nodes from a set of {allowed} negative \
                     nodes for node {u}; lower `negative`"
                )));
            }
        }
        Ok(())
    }

    #[inline]
    fn draw(&self, sampling: Sampling, rng: &mut Rng) -> u32 {
        match sampling {
            Sampling::Uniform => rng.below(self.n_nodes) as u32,
            Sampling::Frequency => self.frequency.sample(rng),
        }
    }

    /// Appends `k` distinct negatives of `u` to `out` (cleared first).
    ///
    /// Callers must have checked `k <= allowed_negatives(u)` ([`Graph::check_negative`]).
    pub fn sample_negatives(
        &self,
        u: u32,
        k: usize,
        sampling: Sampling,
        rng: &mut Rng,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        let max_tries = 20 * k + 64;
        let mut tries = 0;
        while out.len() < k && tries < max_tries {
            tries += 1;
            let w = self.draw(sampling, rng);
            if !self.is_excluded(u, w) && !out.contains(&w) {
                out.push(w);
            }
        }
        if out.len() < k {
            self.sample_exact(u, k, sampling, rng, out);
        }
    }

    /// Exact draw over the explicit list of allowed nodes.
    fn sample_exact(
        &self,
        u: u32,
        k: usize,
        sampling: Sampling,
        rng: &mut Rng,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        let mut allowed: Vec<u32> = (0..self.n_nodes as u32)
            .filter(|&w| !self.is_excluded(u, w))
            .collect();
        if allowed.len() < k && self.neighbours[u as usize].binary_search(&u).is_err() {
            allowed.push(u); // gensim's rule counts `u` itself (module docs)
        }
        let k = k.min(allowed.len());
        match sampling {
            Sampling::Uniform => {
                for i in 0..k {
                    let j = i + rng.below(allowed.len() - i);
                    allowed.swap(i, j);
                    out.push(allowed[i]);
                }
            }
            Sampling::Frequency => {
                // Efraimidis-Spirakis: the k largest keys r^(1/w) form a
                // weighted sample without replacement.
                let mut keyed: Vec<(f64, u32)> = allowed
                    .iter()
                    .map(|&w| {
                        let weight = self.counts[w as usize] as f64;
                        let r = rng.uniform_f64().max(f64::MIN_POSITIVE);
                        (r.ln() / weight, w)
                    })
                    .collect();
                keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
                out.extend(keyed.iter().take(k).map(|&(_, w)| w));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn star(n: u32) -> Graph {
        // 0 is the root, every other node points to it
        Graph::new(n as usize, (1..n).map(|i| (i, 0)).collect()).unwrap()
    }

    #[test]
    fn negatives_are_distinct_and_allowed() {
        let g = star(50);
        let mut rng = Rng::new(1);
        let mut out = Vec::new();
        for sampling in [Sampling::Uniform, Sampling::Frequency] {
            for u in 1..50 {
                g.sample_negatives(u, 10, sampling, &mut rng, &mut out);
                assert_eq!(out.len(), 10);
                for (i, &w) in out.iter().enumerate() {
                    assert!(w != u && w != 0 && !out[..i].contains(&w));
                }
            }
        }
    }

    #[test]
    fn dense_node_uses_exact_fallback() {
        // node 0 relates to all but itself and 3 nodes: rejection mostly fails
        let mut pairs: Vec<(u32, u32)> = (1..997).map(|i| (0, i)).collect();
        pairs.push((999, 998));
        let g = Graph::new(1000, pairs).unwrap();
        assert_eq!(g.allowed_negatives(0), 4);
        assert!(g.check_negative(4).is_ok());
        assert!(g.check_negative(5).is_err());
        let mut rng = Rng::new(5);
        let mut out = Vec::new();
        for sampling in [Sampling::Uniform, Sampling::Frequency] {
            g.sample_negatives(0, 4, sampling, &mut rng, &mut out);
            let mut s = out.clone();
            s.sort();
            assert_eq!(s, vec![0, 997, 998, 999]);
        }
    }

    #[test]
    fn frequency_sampling_follows_counts() {
        let g = star(11); // node 0 has count 10, the others 1
        let mut rng = Rng::new(2);
        let mut hits = 0;
        for _ in 0..20_000 {
            if g.draw(Sampling::Frequency, &mut rng) == 0 {
                hits += 1;
            }
        }
        let p = hits as f64 / 20_000.0;
        assert!((p - 0.5).abs() < 0.02, "{p}");
    }

    #[test]
    fn bad_graphs_are_errors() {
        assert!(Graph::new(3, vec![]).is_err());
        assert!(Graph::new(3, vec![(0, 3)]).is_err());
    }
}
