//! The HNSW graph itself (Malkov & Yashunin, 2016): its flat serialised
//! layout, the concurrent build, and the search.
//!
//! # Layout
//!
//! One byte buffer, the same in memory and on disk, so a memory-mapped file
//! is searched in place:
//!
//! ```text
//! header (128 bytes)   magic, version, metric, n, dim, m, ef_construction,
//!                      ef_search, entry point, top level, upper blocks
//! vectors              n x dim f32 (unit rows for cosine)
//! level 0              n x (1 + 2m) u32: count, then up to 2m neighbours
//! upper_start          n u32: first upper block of each node
//! levels               n u8: each node's top level
//! upper                blocks x (1 + m) u32: levels 1..=top of each node
//! ```
//!
//! Every section starts on a 64-byte boundary. Loading checks every count,
//! neighbour, level and block number against the header
//! ([`Layout::validate`]), so a damaged file is refused with an error rather
//! than followed, and the search indexes slices with bounds checks anyway.
//!
//! # Why not a crate
//!
//! The index was usearch's until its per-visit cost was measured at about
//! twice hnswlib's on the same graph (same number of distances per query;
//! benches/RESULTS.md, "Index, second pass"): each neighbour cost a pointer
//! load, a read of the neighbour's node for a removed-entry check and a
//! hash-set probe, with no prefetch. Here a visited neighbour costs one
//! tag in a flat array and its vector, and the vectors of a node's unvisited
//! neighbours are prefetched together before their distances are computed.
//!
//! # Build
//!
//! Nodes are inserted in parallel on the caller's rayon pool, as hnswlib
//! does: neighbour lists live in atomics during the build; a writer takes the
//! node's lock, readers do not (a list read while it is rewritten may mix old
//! and new entries, every one of them a valid node, which costs at most a
//! wasted distance). A node whose level tops the graph's holds the growth
//! lock through its insertion and then becomes the entry point. Levels are
//! drawn from a hash of the node number, so they do not depend on timing.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use multiversion::multiversion;
use ndarray::ArrayView2;

use super::Metric;
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"EMBRSHNS";
const VERSION: u32 = 1;
const HEADER: usize = 128;
/// Levels above this are clamped (the chance of drawing one with m = 2 is
/// below 2^-30 per node).
const MAX_LEVEL: usize = 30;

fn round64(x: usize) -> usize {
    x.div_ceil(64) * 64
}

/// Sizes and byte offsets of the sections, derived from the header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub n: usize,
    pub dim: usize,
    pub m: usize,
    pub metric: Metric,
    pub ef_construction: usize,
    pub ef_search: usize,
    pub entry: usize,
    pub top: usize,
    pub blocks: usize,
    vectors: usize,
    level0: usize,
    upper_start: usize,
    levels: usize,
    upper: usize,
    pub total: usize,
}

impl Layout {
    pub fn m0(&self) -> usize {
        2 * self.m
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        n: usize,
        dim: usize,
        m: usize,
        metric: Metric,
        ef_construction: usize,
        ef_search: usize,
        entry: usize,
        top: usize,
        blocks: usize,
    ) -> Option<Self> {
        let vectors = HEADER;
        let level0 = round64(vectors.checked_add(n.checked_mul(dim)?.checked_mul(4)?)?);
        let upper_start = round64(level0.checked_add(n.checked_mul(1 + 2 * m)?.checked_mul(4)?)?);
        let levels = round64(upper_start.checked_add(n.checked_mul(4)?)?);
        let upper = round64(levels.checked_add(n)?);
        let total = round64(upper.checked_add(blocks.checked_mul(1 + m)?.checked_mul(4)?)?);
        Some(Self {
            n,
            dim,
            m,
            metric,
            ef_construction,
            ef_search,
            entry,
            top,
            blocks,
            vectors,
            level0,
            upper_start,
            levels,
            upper,
            total,
        })
    }

    fn header(&self) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        let metric: u32 = match self.metric {
            Metric::Cosine => 0,
            Metric::Dot => 1,
        };
        h[12..16].copy_from_slice(&metric.to_le_bytes());
        let fields = [
            self.n,
            self.dim,
            self.m,
            self.ef_construction,
            self.ef_search,
            self.entry,
            self.top,
            self.blocks,
        ];
        for (i, v) in fields.iter().enumerate() {
            h[16 + 8 * i..24 + 8 * i].copy_from_slice(&(*v as u64).to_le_bytes());
        }
        h
    }

    /// The layout a buffer's header describes, checked against its length.
    pub fn read(bytes: &[u8]) -> Result<Self> {
        let bad =
            |m: String| Error::InvalidArgument(format!("not a valid embedrs HNSW index: {m}"));
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(bad("the header is missing".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| -> Result<usize> {
            usize::try_from(u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()))
                .map_err(|_| bad(format!("header field at {o} is too large")))
        };
        let version = u32_at(8);
        if version != VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        let metric = match u32_at(12) {
            0 => Metric::Cosine,
            1 => Metric::Dot,
            k => return Err(bad(format!("unknown metric code {k}"))),
        };
        let f = |i: usize| u64_at(16 + 8 * i);
        let (n, dim, m, efc, efs, entry, top, blocks) =
            (f(0)?, f(1)?, f(2)?, f(3)?, f(4)?, f(5)?, f(6)?, f(7)?);
        if dim == 0 || !(2..=2048).contains(&m) || top > MAX_LEVEL {
            return Err(bad(format!(
                "header says dim {dim}, m {m}, top level {top}"
            )));
        }
        let me = Self::new(n, dim, m, metric, efc, efs, entry, top, blocks)
            .ok_or_else(|| bad("section sizes overflow".into()))?;
        if me.total != bytes.len() {
            return Err(bad(format!(
                "{} bytes, the header describes {}",
                bytes.len(),
                me.total
            )));
        }
        Ok(me)
    }

    /// Typed views of the sections of `bytes` (which must be this layout's
    /// buffer, 4-byte aligned).
    pub fn parts<'a>(&self, bytes: &'a [u8]) -> Result<Parts<'a>> {
        let cast = |a: usize, b: usize| {
            bytemuck::try_cast_slice::<u8, u32>(&bytes[a..b]).map_err(|e| {
                Error::InvalidArgument(format!("HNSW index bytes are not aligned: {e:?}"))
            })
        };
        let vectors = bytemuck::try_cast_slice::<u8, f32>(
            &bytes[self.vectors..self.vectors + self.n * self.dim * 4],
        )
        .map_err(|e| Error::InvalidArgument(format!("HNSW index bytes are not aligned: {e:?}")))?;
        Ok(Parts {
            m: self.m,
            vectors,
            level0: cast(self.level0, self.level0 + self.n * (1 + self.m0()) * 4)?,
            upper_start: cast(self.upper_start, self.upper_start + self.n * 4)?,
            levels: &bytes[self.levels..self.levels + self.n],
            upper: cast(self.upper, self.upper + self.blocks * (1 + self.m) * 4)?,
        })
    }

    /// Checks that following the graph in `p` stays inside it: every count
    /// within its list, every neighbour a node, every node's levels inside
    /// the upper section, the entry point on the top level.
    pub fn validate(&self, p: &Parts<'_>) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(format!("damaged HNSW index: {m}")));
        let n = self.n as u64;
        if self.n == 0 {
            return Ok(());
        }
        if self.entry >= self.n || p.levels[self.entry] as usize != self.top {
            return bad(format!(
                "entry point {} is not on the top level",
                self.entry
            ));
        }
        let lists = |data: &[u32], width: usize, cap: usize| -> Option<usize> {
            data.chunks_exact(width).position(|l| {
                l[0] as usize > cap || l[1..=l[0] as usize].iter().any(|&x| u64::from(x) >= n)
            })
        };
        if let Some(i) = lists(p.level0, 1 + self.m0(), self.m0()) {
            return bad(format!("level-0 list of node {i} is out of range"));
        }
        if let Some(b) = lists(p.upper, 1 + self.m, self.m) {
            return bad(format!("upper block {b} is out of range"));
        }
        for i in 0..self.n {
            let l = p.levels[i] as usize;
            let s = p.upper_start[i] as usize;
            if l > self.top || (l > 0 && s + l > self.blocks) {
                return bad(format!("node {i} has level {l} and upper block {s}"));
            }
        }
        // a search on level l only follows nodes that have a list there
        for i in 0..self.n {
            let s = p.upper_start[i] as usize;
            for l in 1..=p.levels[i] as usize {
                let w = 1 + self.m;
                let list = &p.upper[(s + l - 1) * w..(s + l) * w];
                if let Some(&j) = list[1..=list[0] as usize]
                    .iter()
                    .find(|&&j| (p.levels[j as usize] as usize) < l)
                {
                    return bad(format!(
                        "node {i} links node {j} on level {l}, above its top"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Typed views of one index buffer.
pub(super) struct Parts<'a> {
    m: usize,
    vectors: &'a [f32],
    level0: &'a [u32],
    upper_start: &'a [u32],
    levels: &'a [u8],
    upper: &'a [u32],
}

/// Where the list of `node` on `level` lies: `(level, range)` in the
/// level-0 section when `level` is 0, else in the upper section.
#[inline]
fn slot(m: usize, upper_start: &[u32], node: u32, level: usize) -> (usize, std::ops::Range<usize>) {
    let node = node as usize;
    if level == 0 {
        let w = 1 + 2 * m;
        (0, node * w..(node + 1) * w)
    } else {
        let w = 1 + m;
        let b = upper_start[node] as usize + level - 1;
        (level, b * w..(b + 1) * w)
    }
}

/// Where a search reads neighbour lists from: the finished graph, or the
/// atomics of a graph being built.
trait Links: Sync {
    /// Copies the neighbours of `node` on `level` into `out`.
    fn links(&self, node: u32, level: usize, out: &mut Vec<u32>);

    /// Starts loading the list [`Links::links`] will read for `node` (a
    /// cache hint; nothing by default).
    #[inline]
    fn prefetch_links(&self, _node: u32, _level: usize) {}
}

impl Links for Parts<'_> {
    #[inline]
    fn links(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        let list = match slot(self.m, self.upper_start, node, level) {
            (0, r) => &self.level0[r],
            (_, r) => &self.upper[r],
        };
        out.clear();
        out.extend_from_slice(&list[1..=list[0] as usize]);
    }

    #[inline]
    fn prefetch_links(&self, node: u32, level: usize) {
        // level 0 only: the upper levels are few nodes, visited briefly
        if level == 0 {
            let w = 1 + 2 * self.m;
            let at = (node as usize).saturating_mul(w);
            if let Some(list) = self.level0.get(at..at.saturating_add(w)) {
                crate::mem::prefetch_span(list.as_ptr(), list.len());
            }
        }
    }
}

/// A node and its distance to the query (smaller is nearer).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Near {
    d: f32,
    id: u32,
}

impl Eq for Near {}

impl Ord for Near {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.d.total_cmp(&o.d).then(self.id.cmp(&o.id))
    }
}

impl PartialOrd for Near {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Visit marks for one search: node `i` was visited when `tags[i] == cur`.
/// Reset costs nothing but an increment (a full clear every 65,535 uses).
struct Visited {
    tags: Vec<u16>,
    cur: u16,
}

impl Visited {
    fn new(n: usize) -> Self {
        Self {
            tags: vec![0; n],
            cur: 0,
        }
    }

    fn reset(&mut self) {
        self.cur = self.cur.wrapping_add(1);
        if self.cur == 0 {
            self.tags.fill(0);
            self.cur = 1;
        }
    }

    /// Marks `i`; true when it was not marked yet.
    #[inline]
    fn first(&mut self, i: u32) -> bool {
        let t = &mut self.tags[i as usize];
        let fresh = *t != self.cur;
        *t = self.cur;
        fresh
    }
}

/// Per-search scratch, pooled so concurrent searches never share one and a
/// warm service allocates nothing per query.
struct Scratch {
    visited: Visited,
    links: Vec<u32>,
    fresh: Vec<u32>,
    dists: Vec<f32>,
    cand: BinaryHeap<std::cmp::Reverse<Near>>,
    best: BinaryHeap<Near>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Self {
            visited: Visited::new(n),
            links: Vec::new(),
            fresh: Vec::new(),
            dists: Vec::new(),
            cand: BinaryHeap::new(),
            best: BinaryHeap::new(),
        }
    }
}

pub(super) struct ScratchPool {
    n: usize,
    free: Mutex<Vec<Scratch>>,
}

impl ScratchPool {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            free: Mutex::new(Vec::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        let got = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut s = got.unwrap_or_else(|| Scratch::new(self.n));
        let r = f(&mut s);
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(s);
        r
    }
}

/// `out[j] = -(q · row ids[j])`: the distances of a batch of nodes, their
/// rows prefetched first so the cache misses overlap. Compiled per
/// instruction set and picked at run time, like [`crate::kv::dots`].
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+avx",
    "aarch64+neon"
))]
fn distances(q: &[f32], vectors: &[f32], ids: &[u32], out: &mut Vec<f32>) {
    let dim = q.len();
    // Whole rows (up to 16 lines), 8 rows ahead. Measured on 79k x 100 word
    // vectors, ef 40, one process alternating with hnswlib: 8 rows x whole
    // row 1.36-1.38x hnswlib's queries/s; 2-4 rows 1.2-1.45x; the first 2
    // lines only 1.0-1.14x; no prefetch 0.96x; all at once 1.0-1.14x.
    let span = dim.min(256);
    for &i in ids.iter().take(8) {
        crate::mem::prefetch_span(vectors[i as usize * dim..].as_ptr(), span);
    }
    out.clear();
    for (j, &i) in ids.iter().enumerate() {
        if let Some(&next) = ids.get(j + 8) {
            crate::mem::prefetch_span(vectors[next as usize * dim..].as_ptr(), span);
        }
        let row = &vectors[i as usize * dim..(i as usize + 1) * dim];
        out.push(-crate::linalg::dot(q, row));
    }
}

/// Distance of `q` to one node.
fn distance(q: &[f32], vectors: &[f32], id: u32) -> f32 {
    let (dim, i) = (q.len(), id as usize);
    // the same expression as `distances`, so both give the same value
    -crate::linalg::dot(q, &vectors[i * dim..(i + 1) * dim])
}

/// Greedy descent on one upper level: the nearest node reachable from `at`.
fn greedy<L: Links>(
    g: &L,
    vectors: &[f32],
    q: &[f32],
    mut at: Near,
    level: usize,
    s: &mut Scratch,
) -> Near {
    loop {
        g.links(at.id, level, &mut s.links);
        distances(q, vectors, &s.links, &mut s.dists);
        let mut moved = false;
        for (&id, &d) in s.links.iter().zip(&s.dists) {
            if d < at.d {
                at = Near { d, id };
                moved = true;
            }
        }
        if !moved {
            return at;
        }
    }
}

/// Best-first search of one level from `start`, keeping the `ef` nearest;
/// returns them nearest first.
fn search_level<L: Links>(
    g: &L,
    vectors: &[f32],
    q: &[f32],
    start: Near,
    ef: usize,
    level: usize,
    s: &mut Scratch,
) -> Vec<Near> {
    s.visited.reset();
    s.cand.clear();
    s.best.clear();
    s.visited.first(start.id);
    s.cand.push(std::cmp::Reverse(start));
    s.best.push(start);
    while let Some(std::cmp::Reverse(c)) = s.cand.pop() {
        let worst = s.best.peek().map_or(f32::INFINITY, |b| b.d);
        if c.d > worst && s.best.len() >= ef {
            break;
        }
        // the next candidate's list starts loading while this one's
        // neighbours are scored (hnswlib does the same)
        if let Some(std::cmp::Reverse(next)) = s.cand.peek() {
            g.prefetch_links(next.id, level);
        }
        g.links(c.id, level, &mut s.links);
        s.fresh.clear();
        for &id in &s.links {
            if s.visited.first(id) {
                s.fresh.push(id);
            }
        }
        distances(q, vectors, &s.fresh, &mut s.dists);
        for (&id, &d) in s.fresh.iter().zip(&s.dists) {
            let worst = s.best.peek().map_or(f32::INFINITY, |b| b.d);
            if s.best.len() < ef || d < worst {
                let n = Near { d, id };
                s.cand.push(std::cmp::Reverse(n));
                s.best.push(n);
                if s.best.len() > ef {
                    s.best.pop();
                }
            }
        }
    }
    let mut out: Vec<Near> = s.best.drain().collect();
    out.sort_unstable();
    out
}

/// The `k` nearest nodes to `q` (already normalised for cosine), nearest
/// first, searching level 0 with a list of `ef`.
fn knn<L: Links>(
    g: &L,
    vectors: &[f32],
    levels_top: (u32, usize),
    q: &[f32],
    k: usize,
    ef: usize,
    s: &mut Scratch,
) -> Vec<Near> {
    let (entry, top) = levels_top;
    let mut at = Near {
        d: distance(q, vectors, entry),
        id: entry,
    };
    for level in (1..=top).rev() {
        at = greedy(g, vectors, q, at, level, s);
    }
    let mut found = search_level(g, vectors, q, at, ef.max(k), 0, s);
    found.truncate(k);
    found
}

impl Parts<'_> {
    /// The `k` nearest rows of the finished graph described by `lay`.
    pub fn search(
        &self,
        lay: &Layout,
        pool: &ScratchPool,
        q: &[f32],
        k: usize,
        ef: usize,
    ) -> Vec<(u64, f32)> {
        if lay.n == 0 || k == 0 {
            return Vec::new();
        }
        pool.with(|s| knn(self, self.vectors, (lay.entry as u32, lay.top), q, k, ef, s))
            .into_iter()
            .map(|x| (u64::from(x.id), -x.d))
            .collect()
    }
}

/// Neighbour lists of a graph under construction.
struct Building {
    m: usize,
    level0: Vec<AtomicU32>,
    upper: Vec<AtomicU32>,
    upper_start: Vec<u32>,
    levels: Vec<u8>,
    locks: Vec<Mutex<()>>,
}

impl Links for Building {
    #[inline]
    fn links(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        let list = self.list(node, level);
        let count = (list[0].load(Relaxed) as usize).min(list.len() - 1);
        out.clear();
        out.extend(list[1..=count].iter().map(|x| x.load(Relaxed)));
    }
}

impl Building {
    fn list(&self, node: u32, level: usize) -> &[AtomicU32] {
        match slot(self.m, &self.upper_start, node, level) {
            (0, r) => &self.level0[r],
            (_, r) => &self.upper[r],
        }
    }

    /// Replaces the list of `node` on `level` (the caller holds its lock).
    fn set(&self, node: u32, level: usize, ids: &[u32]) {
        let list = self.list(node, level);
        for (slot, &id) in list[1..].iter().zip(ids) {
            slot.store(id, Relaxed);
        }
        list[0].store(ids.len() as u32, Relaxed);
    }
}

/// A level for node `i`: `floor(-ln(u) / ln(m))` with `u` uniform in (0, 1]
/// from a hash of `i` (hnswlib's distribution, reproducible).
fn level_of(i: usize, m: usize) -> usize {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    ((-u.ln() / (m as f64).ln()) as usize).min(MAX_LEVEL)
}

/// hnswlib's neighbour heuristic: walk `cands` nearest first and keep one
/// only when it is nearer to the new node than to every one kept so far
/// (which spreads the edges over directions), up to `m`.
fn select(vectors: &[f32], dim: usize, cands: &[Near], m: usize) -> Vec<u32> {
    // fewer candidates than room: keep them all (hnswlib does the same)
    if cands.len() < m {
        return cands.iter().map(|c| c.id).collect();
    }
    let mut kept: Vec<u32> = Vec::with_capacity(m);
    let mut d = Vec::new();
    for c in cands {
        if kept.len() >= m {
            break;
        }
        let row = &vectors[c.id as usize * dim..(c.id as usize + 1) * dim];
        distances(row, vectors, &kept, &mut d);
        if d.iter().all(|&x| x >= c.d) {
            kept.push(c.id);
        }
    }
    kept
}

/// The graph builder's shared state.
struct Builder<'a> {
    vectors: &'a [f32],
    dim: usize,
    m: usize,
    ef: usize,
    g: Building,
    /// (entry point, top level), changed under `grow`.
    entry: Mutex<(u32, usize)>,
    grow: Mutex<()>,
    pool: ScratchPool,
}

impl Builder<'_> {
    fn insert(&self, q: u32) {
        let level = self.g.levels[q as usize] as usize;
        let snapshot = *self.entry.lock().unwrap_or_else(|e| e.into_inner());
        // a node that will top the graph holds the growth lock throughout,
        // so two such nodes cannot both become the entry point
        let _grow =
            (level > snapshot.1).then(|| self.grow.lock().unwrap_or_else(|e| e.into_inner()));
        let (entry, top) = if _grow.is_some() {
            *self.entry.lock().unwrap_or_else(|e| e.into_inner())
        } else {
            snapshot
        };
        let vectors = self.vectors;
        let dim = self.dim;
        let qv = &vectors[q as usize * dim..(q as usize + 1) * dim];
        self.pool.with(|s| {
            let mut at = Near {
                d: distance(qv, vectors, entry),
                id: entry,
            };
            for l in (level + 1..=top).rev() {
                at = greedy(&self.g, vectors, qv, at, l, s);
            }
            for l in (0..=level.min(top)).rev() {
                let mut found = search_level(&self.g, vectors, qv, at, self.ef, l, s);
                found.retain(|x| x.id != q);
                if found.is_empty() {
                    continue;
                }
                let mine = select(vectors, dim, &found, self.m);
                {
                    let _own = self.g.locks[q as usize]
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    self.g.set(q, l, &mine);
                }
                let cap = if l == 0 { 2 * self.m } else { self.m };
                for &e in &mine {
                    self.link_back(e, q, l, cap, s);
                }
                at = found[0];
            }
        });
        if level > top {
            *self.entry.lock().unwrap_or_else(|e| e.into_inner()) = (q, level);
        }
    }

    /// Adds `q` to `e`'s list on `level`, pruning by the heuristic when full.
    fn link_back(&self, e: u32, q: u32, level: usize, cap: usize, s: &mut Scratch) {
        let _lock = self.g.locks[e as usize]
            .lock()
            .unwrap_or_else(|x| x.into_inner());
        self.g.links(e, level, &mut s.links);
        if s.links.contains(&q) {
            return;
        }
        if s.links.len() < cap {
            s.links.push(q);
            self.g.set(e, level, &s.links);
            return;
        }
        let ev = &self.vectors[e as usize * self.dim..(e as usize + 1) * self.dim];
        s.links.push(q);
        distances(ev, self.vectors, &s.links, &mut s.dists);
        let mut cands: Vec<Near> = s
            .links
            .iter()
            .zip(&s.dists)
            .map(|(&id, &d)| Near { d, id })
            .collect();
        cands.sort_unstable();
        let kept = select(self.vectors, self.dim, &cands, cap);
        self.g.set(e, level, &kept);
    }
}

/// An index buffer: owned (built or loaded; in huge pages where the system
/// gives them, see [`crate::mem::huge_zeroed`]) or a file mapped read-only.
pub(super) enum Bytes {
    Owned {
        buf: memmap2::MmapMut,
        len: usize,
    },
    Mapped {
        map: memmap2::Mmap,
        start: usize,
        len: usize,
    },
}

impl Bytes {
    pub fn get(&self) -> &[u8] {
        match self {
            Bytes::Owned { buf, len } => &buf[..*len],
            Bytes::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }

    /// An owned copy of `bytes`, page aligned.
    pub fn copy(bytes: &[u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(8) {
            return Err(Error::InvalidArgument(
                "not a valid embedrs HNSW index: its length is not a multiple of 8".into(),
            ));
        }
        let mut buf = crate::mem::huge_zeroed(bytes.len(), || "the HNSW index".into())?;
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(Bytes::Owned {
            buf,
            len: bytes.len(),
        })
    }
}

/// Builds the graph over the rows of `vectors` (normalised first for
/// cosine) and returns its buffer and layout.
pub(super) fn build(
    vectors: ArrayView2<'_, f32>,
    metric: Metric,
    m: usize,
    ef_construction: usize,
    ef_search: usize,
    pool: &rayon::ThreadPool,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(Bytes, Layout)> {
    let (n, dim) = vectors.dim();
    if n > u32::MAX as usize - 1 {
        return Err(Error::InvalidArgument(format!(
            "an HNSW index holds at most {} rows, got {n}",
            u32::MAX - 1
        )));
    }
    let levels: Vec<u8> = (0..n).map(|i| level_of(i, m) as u8).collect();
    let mut upper_start = vec![0u32; n];
    let mut blocks = 0usize;
    for i in 0..n {
        upper_start[i] = blocks as u32;
        blocks += levels[i] as usize;
    }
    let too_big = || Error::InvalidArgument(format!("an index of {n} x {dim} is too large"));
    let top0 = levels.first().copied().unwrap_or(0) as usize;
    let lay0 = Layout::new(
        n,
        dim,
        m,
        metric,
        ef_construction,
        ef_search,
        0,
        top0,
        blocks,
    )
    .ok_or_else(too_big)?;
    let mut buf = crate::mem::huge_zeroed(lay0.total, || "the HNSW index".into())?;
    {
        let bytes: &mut [u8] = &mut buf[..lay0.total];
        let rows: &mut [f32] =
            bytemuck::cast_slice_mut(&mut bytes[lay0.vectors..lay0.vectors + n * dim * 4]);
        for (i, dst) in rows.chunks_exact_mut(dim).enumerate() {
            match metric {
                Metric::Cosine => dst.copy_from_slice(&crate::kv::unit(vectors.row(i))),
                Metric::Dot => dst
                    .iter_mut()
                    .zip(vectors.row(i))
                    .for_each(|(d, s)| *d = *s),
            }
        }
    }
    // allocation failures are errors, not aborts (a large `m` asks for a lot)
    fn filled<T>(len: usize, f: impl Fn() -> T) -> Result<Vec<T>> {
        let mut v = Vec::new();
        crate::mem::reserve(&mut v, len, || "the HNSW graph under construction".into())?;
        v.extend((0..len).map(|_| f()));
        Ok(v)
    }
    let atomics = |len: usize| filled(len, || AtomicU32::new(0));
    let (entry, top) = {
        let bytes: &[u8] = &buf[..lay0.total];
        let rows: &[f32] = bytemuck::cast_slice(&bytes[lay0.vectors..lay0.vectors + n * dim * 4]);
        let b = Builder {
            vectors: rows,
            dim,
            m,
            ef: ef_construction.max(1),
            g: Building {
                m,
                level0: atomics(n * (1 + 2 * m))?,
                upper: atomics(blocks * (1 + m))?,
                upper_start,
                levels,
                locks: filled(n, || Mutex::new(()))?,
            },
            entry: Mutex::new((0, top0)),
            grow: Mutex::new(()),
            pool: ScratchPool::new(n),
        };
        // Rows are handed out in order from one counter (hnswlib's
        // ParallelFor), not split into contiguous halves: a matrix sorted by
        // frequency would otherwise grow its rare half into a graph that
        // holds only a few frequent rows, which measurably lowers recall.
        let next = AtomicUsize::new(1);
        let stopped = AtomicBool::new(false);
        pool.scope(|sc| {
            for _ in 0..pool.current_num_threads() {
                sc.spawn(|_| loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= n || stopped.load(Relaxed) {
                        return;
                    }
                    if i.is_multiple_of(256) && stop() {
                        stopped.store(true, Relaxed);
                        return;
                    }
                    b.insert(i as u32);
                });
            }
        });
        if stopped.into_inner() {
            return Err(Error::Interrupted);
        }
        let Builder { g, entry, .. } = b;
        let (entry, top) = entry.into_inner().unwrap_or_else(|e| e.into_inner());
        let bytes: &mut [u8] = &mut buf[..lay0.total];
        let put = |dst: &mut [u8], src: &[AtomicU32]| {
            for (d, s) in dst.chunks_exact_mut(4).zip(src) {
                d.copy_from_slice(&s.load(Relaxed).to_le_bytes());
            }
        };
        put(&mut bytes[lay0.level0..], &g.level0);
        put(&mut bytes[lay0.upper..], &g.upper);
        for (d, s) in bytes[lay0.upper_start..]
            .chunks_exact_mut(4)
            .zip(&g.upper_start)
        {
            d.copy_from_slice(&s.to_le_bytes());
        }
        bytes[lay0.levels..lay0.levels + n].copy_from_slice(&g.levels);
        (entry as usize, top)
    };
    let lay = Layout { entry, top, ..lay0 };
    buf[..HEADER].copy_from_slice(&lay.header());
    Ok((
        Bytes::Owned {
            buf,
            len: lay0.total,
        },
        lay,
    ))
}
