//! Approximate nearest-neighbour search: an HNSW graph over the rows of a
//! float32 matrix, for queries that must not scan every row.
//!
//! The graph code is not written here: it is [usearch]'s (a maintained
//! single-header C++ HNSW with a Rust crate; compared with `hnsw_rs`,
//! `instant-distance` and `hora` in benches/RESULTS.md, "Serving (issue 15)").
//! It was chosen for three properties the serving path needs: concurrent
//! insertion (the build runs on the caller's rayon pool), a serialised form
//! that can be *viewed* in place (a memory-mapped file serves queries with no
//! copy, and N worker processes share its pages), and a pluggable distance.
//!
//! # Distance kernel
//!
//! usearch's own SIMD kernels (its NumKong backend, cargo feature
//! `ann-simd`) compile for a quarter of an hour, so the default build would
//! fall back to its portable loops (SSE2 on x86-64). Instead every index gets
//! embedrs' runtime-dispatched dot product ([`crate::kv::dots`], one copy per
//! instruction set, AVX-512/AVX2/NEON picked at run time) through usearch's
//! custom-metric hook. The hook keeps the index's metric kind (inner
//! product), so a saved file still says "IP" and is read back by usearch
//! anywhere; loading or viewing one resets the metric to usearch's builtin,
//! and the kernel is installed again right after.
//!
//! Keys in the graph are row numbers `0..n`; mapping them to words or tags
//! is the caller's business.
//!
//! # Metrics
//!
//! * [`Metric::Dot`]: similarity `a · b`. usearch's inner-product distance is
//!   `1 - a · b`, so the similarity is `1 - distance`, exactly.
//! * [`Metric::Cosine`]: rows are divided by their norm before insertion (a
//!   zero row stays zero) and the query likewise, then the graph is searched
//!   by inner product: for unit vectors `a · b = cos(a, b)`, and the search
//!   does no per-distance division (what hnswlib's "cosine" does too).
//!
//! # Concurrency
//!
//! usearch keeps one search context per "thread slot" and fails a call that
//! finds no free slot. [`Hnsw`] reserves [`Hnsw::slots`] slots and admits at
//! most that many calls at once through a counting gate (excess callers wait,
//! they never fail), so any number of Python threads may query one index.

use std::path::Path;
use std::sync::{Condvar, Mutex};

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::{Error, Result};

/// The similarity an index ranks by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity (rows and queries normalised to unit length).
    Cosine,
    /// Inner product of the raw vectors.
    Dot,
}

impl Metric {
    /// Parses the Python-facing name (`"cosine"` or `"dot"`).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cosine" => Ok(Self::Cosine),
            "dot" => Ok(Self::Dot),
            other => Err(Error::InvalidArgument(format!(
                "metric must be 'cosine' or 'dot', got {other:?}"
            ))),
        }
    }
}

/// Graph parameters, named as in hnswlib and faiss.
#[derive(Clone, Copy, Debug)]
pub struct HnswParams {
    /// Edges per node (`M`).
    pub m: usize,
    /// Candidate list size while inserting.
    pub ef_construction: usize,
    /// Candidate list size while searching (at least `k` is used).
    pub ef_search: usize,
}

impl HnswParams {
    fn check(&self) -> Result<()> {
        fn bad(name: &'static str, lo: usize, hi: usize, v: usize) -> Result<()> {
            Err(Error::Parameter {
                name,
                message: format!("{name} must be between {lo} and {hi}, got {v}"),
            })
        }
        if !(2..=2048).contains(&self.m) {
            return bad("m", 2, 2048, self.m);
        }
        if !(1..=1 << 20).contains(&self.ef_construction) {
            return bad("ef_construction", 1, 1 << 20, self.ef_construction);
        }
        if !(1..=1 << 20).contains(&self.ef_search) {
            return bad("ef_search", 1, 1 << 20, self.ef_search);
        }
        Ok(())
    }
}

/// A counting gate: at most `limit` holders at once, the rest wait.
struct Gate {
    free: Mutex<usize>,
    cv: Condvar,
}

struct Pass<'a>(&'a Gate);

impl Gate {
    fn new(limit: usize) -> Self {
        Self {
            free: Mutex::new(limit),
            cv: Condvar::new(),
        }
    }

    fn enter(&self) -> Pass<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.cv.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Pass(self)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.cv.notify_one();
    }
}

/// Where a viewed index's bytes live: a read-only memory map of a file.
/// Must outlive the usearch index that points into it (field order in
/// [`Hnsw`] drops the index first).
struct Backing {
    map: memmap2::Mmap,
    start: usize,
    len: usize,
}

/// Replaces `index`'s distance with `1 - a · b` computed by embedrs'
/// runtime-dispatched kernel. Call once per `usearch::Index` (a second call
/// would leak the first closure inside the crate) and after any
/// `load_from_buffer` / `view_from_buffer`, which reset the metric.
fn use_dispatched_kernel(index: &mut usearch::Index) {
    let dim = index.dimensions();
    index.change_metric::<f32>(Box::new(move |a: *const f32, b: *const f32| {
        // SAFETY: usearch calls the metric with two vectors of the index's
        // `dim` float32 values each: a stored row (its own 64-byte aligned
        // allocation, or a memory-mapped file checked 4-byte aligned by
        // `view_file`) or the caller's query (a `&[f32]` of length `dim`,
        // checked by `search`). Both live for the duration of the call and
        // are only read.
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(a, dim),
                std::slice::from_raw_parts(b, dim),
            )
        };
        let mut d = [0.0f32];
        crate::kv::dots(a, b, &mut d);
        1.0 - d[0]
    }));
}

/// An HNSW index over the rows of a float32 matrix (keys `0..n`).
pub struct Hnsw {
    // Declared before `backing`: dropped first, while the bytes it may point
    // into are still mapped.
    index: usearch::Index,
    metric: Metric,
    gate: Gate,
    slots: usize,
    backing: Option<Backing>,
}

fn native(e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("HNSW index: {e}"))
}

/// `v / |v|`, or `v` itself when its norm is 0 or not finite (the rule
/// exact search normalises its queries by).
fn unit(v: &[f32]) -> Vec<f32> {
    crate::kv::unit(ndarray::ArrayView1::from(v))
}

impl Hnsw {
    /// The most calls served at once; more wait for a free slot.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn empty(dim: usize, p: HnswParams) -> Result<usearch::Index> {
        p.check()?;
        if dim == 0 {
            return Err(Error::InvalidArgument(
                "vectors must have at least one column".into(),
            ));
        }
        let opts = usearch::IndexOptions {
            dimensions: dim,
            metric: usearch::MetricKind::IP,
            quantization: usearch::ScalarKind::F32,
            connectivity: p.m,
            expansion_add: p.ef_construction,
            expansion_search: p.ef_search,
            multi: false,
        };
        let mut index = usearch::Index::new(&opts).map_err(native)?;
        use_dispatched_kernel(&mut index);
        Ok(index)
    }

    fn wrap(index: usearch::Index, metric: Metric, slots: usize, backing: Option<Backing>) -> Self {
        Self {
            index,
            metric,
            gate: Gate::new(slots),
            slots,
            backing,
        }
    }

    /// Builds the graph over every row of `vectors` on `pool`, with room for
    /// `slots` concurrent calls afterwards. Non-finite values are refused.
    pub fn build(
        vectors: ArrayView2<'_, f32>,
        metric: Metric,
        params: HnswParams,
        slots: usize,
        pool: &rayon::ThreadPool,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Self> {
        let (n, dim) = vectors.dim();
        let index = Self::empty(dim, params)?;
        if let Some(row) = vectors
            .outer_iter()
            .position(|r| r.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::InvalidArgument(format!(
                "vectors row {row} has a NaN or infinite value; the index needs finite vectors"
            )));
        }
        let slots = slots.max(pool.current_num_threads()).max(1);
        index
            .reserve_capacity_and_threads(n.max(1), slots)
            .map_err(native)?;
        let me = Self::wrap(index, metric, slots, None);
        pool.install(|| {
            (0..n).into_par_iter().try_for_each(|i| {
                if stop() {
                    return Err(Error::Interrupted);
                }
                let row = vectors.row(i);
                let row = row
                    .as_slice()
                    .expect("a C-contiguous matrix has contiguous rows");
                let _pass = me.gate.enter();
                match metric {
                    Metric::Cosine => me.index.add(i as u64, &unit(row)),
                    Metric::Dot => me.index.add(i as u64, row),
                }
                .map_err(native)
            })
        })?;
        Ok(me)
    }

    /// Number of indexed rows.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// True when no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vector width.
    pub fn dim(&self) -> usize {
        self.index.dimensions()
    }

    /// The metric the index ranks by.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Edges per node.
    pub fn m(&self) -> usize {
        self.index.connectivity()
    }

    /// Current search candidate list size.
    pub fn ef_search(&self) -> usize {
        self.index.expansion_search()
    }

    /// Changes the search candidate list size (takes effect for later calls).
    pub fn set_ef_search(&self, ef: usize) -> Result<()> {
        if !(1..=1 << 20).contains(&ef) {
            return Err(Error::Parameter {
                name: "ef_search",
                message: format!("ef_search must be between 1 and {}, got {ef}", 1 << 20),
            });
        }
        self.index.change_expansion_search(ef);
        Ok(())
    }

    /// True when the index reads a memory-mapped file in place.
    pub fn is_view(&self) -> bool {
        self.backing.is_some()
    }

    /// Serialised size in bytes.
    pub fn serialized_len(&self) -> usize {
        self.index.serialized_length()
    }

    /// The `k` best `(row, similarity)` pairs for `query`, best first (fewer
    /// when the index holds fewer rows).
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(u64, f32)>> {
        if query.len() != self.dim() {
            return Err(Error::InvalidArgument(format!(
                "query has {} values, the index holds vectors of {}",
                query.len(),
                self.dim()
            )));
        }
        if query.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidArgument(
                "query has a NaN or infinite value".into(),
            ));
        }
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let q;
        let query = match self.metric {
            Metric::Cosine => {
                q = unit(query);
                &q[..]
            }
            Metric::Dot => query,
        };
        let found = {
            let _pass = self.gate.enter();
            self.index.search(query, k).map_err(native)?
        };
        Ok(found
            .keys
            .iter()
            .zip(&found.distances)
            .map(|(&key, &d)| (key, 1.0 - d))
            .collect())
    }

    /// [`Hnsw::search`] for every row of `queries`, in parallel on `pool`.
    pub fn search_batch(
        &self,
        queries: ArrayView2<'_, f32>,
        k: usize,
        pool: &rayon::ThreadPool,
    ) -> Result<Vec<Vec<(u64, f32)>>> {
        pool.install(|| {
            (0..queries.nrows())
                .into_par_iter()
                .map(|i| queries.row(i))
                .map(|q| match q.as_slice() {
                    Some(s) => self.search(s, k),
                    None => self.search(&q.to_vec(), k),
                })
                .collect()
        })
    }

    /// The serialised index (usearch's format), to be stored by the caller.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut buf = crate::mem::zeroed::<u8>(self.serialized_len(), || "the HNSW index".into())?;
        self.index.save_to_buffer(&mut buf).map_err(native)?;
        Ok(buf)
    }

    fn restored(bytes: &[u8]) -> Result<(usearch::Index, usize)> {
        let meta = usearch::Index::metadata_from_buffer(bytes).map_err(native)?;
        if meta.metric != usearch::MetricKind::IP
            || meta.quantization != usearch::ScalarKind::F32
            || meta.multi
            || meta.dimensions == 0
        {
            return Err(Error::InvalidArgument(
                "not an embedrs HNSW index (unexpected metric, scalar type or layout)".into(),
            ));
        }
        let opts = usearch::IndexOptions {
            dimensions: meta.dimensions as usize,
            metric: usearch::MetricKind::IP,
            quantization: usearch::ScalarKind::F32,
            connectivity: 0,
            expansion_add: 0,
            expansion_search: 0,
            multi: false,
        };
        let index = usearch::Index::new(&opts).map_err(native)?;
        Ok((index, meta.count_present as usize))
    }

    /// An index read from `bytes` (a copy: `bytes` may be dropped after).
    pub fn from_bytes(bytes: &[u8], metric: Metric, slots: usize) -> Result<Self> {
        let (mut index, count) = Self::restored(bytes)?;
        index.load_from_buffer(bytes).map_err(native)?;
        use_dispatched_kernel(&mut index);
        let slots = slots.max(1);
        index
            .reserve_capacity_and_threads(count.max(1), slots)
            .map_err(native)?;
        Ok(Self::wrap(index, metric, slots, None))
    }

    /// An index that reads bytes `start..start + len` of the file at `path`
    /// in place through a read-only memory map (no copy; pages are loaded on
    /// demand and shared with every process mapping the same file).
    pub fn view_file(
        path: &Path,
        start: usize,
        len: usize,
        metric: Metric,
        slots: usize,
    ) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // SAFETY: the map is read-only. The file may be replaced by an
        // atomic save (a rename: this map keeps the old inode), but not
        // truncated in place by embedrs; a third party truncating it while
        // mapped would fault the process, the documented risk of every
        // memory map (numpy.memmap included).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let end = start.checked_add(len).filter(|&e| e <= map.len());
        if !start.is_multiple_of(std::mem::align_of::<u64>()) {
            return Err(Error::Format {
                path: path.to_path_buf(),
                message: format!("HNSW index bytes start at offset {start}, not a multiple of 8"),
            });
        }
        if end.is_none() {
            return Err(Error::Format {
                path: path.to_path_buf(),
                message: format!(
                    "HNSW index bytes {start}..{} lie outside the file ({} bytes)",
                    start.saturating_add(len),
                    map.len()
                ),
            });
        }
        let backing = Backing { map, start, len };
        let bytes = &backing.map[backing.start..backing.start + backing.len];
        let (mut index, count) = Self::restored(bytes)?;
        // SAFETY: `bytes` points into `backing.map`, which is moved into the
        // returned `Hnsw` next to `index` and dropped after it (field order),
        // so the buffer outlives every use of the view; the map is read-only
        // and never written by this process.
        unsafe { index.view_from_buffer(bytes) }.map_err(native)?;
        use_dispatched_kernel(&mut index);
        let slots = slots.max(1);
        index
            .reserve_capacity_and_threads(count.max(1), slots)
            .map_err(native)?;
        Ok(Self::wrap(index, metric, slots, Some(backing)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn data(n: usize, dim: usize) -> Array2<f32> {
        // deterministic pseudo-random values in [-1, 1)
        let mut s = 0x2545_f491_4f6c_dd1du64;
        Array2::from_shape_fn((n, dim), |_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
    }

    fn params() -> HnswParams {
        HnswParams {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
        }
    }

    #[test]
    fn finds_each_row_itself_with_cosine_one() {
        let v = data(500, 16);
        let pool = crate::thread_pool(2).unwrap();
        let h = Hnsw::build(v.view(), Metric::Cosine, params(), 4, &pool, &|| false).unwrap();
        // searched exhaustively, so the check is about the scores and ids,
        // not about how concurrent inserts happened to link the graph
        h.set_ef_search(512).unwrap();
        assert_eq!(h.len(), 500);
        for i in [0usize, 7, 499] {
            let r = h.search(v.row(i).as_slice().unwrap(), 3).unwrap();
            assert_eq!(r[0].0, i as u64);
            assert!((r[0].1 - 1.0).abs() < 1e-4, "{r:?}");
        }
    }

    #[test]
    fn dot_scores_are_inner_products_and_bytes_round_trip() {
        let v = data(200, 8);
        let pool = crate::thread_pool(1).unwrap();
        let h = Hnsw::build(v.view(), Metric::Dot, params(), 1, &pool, &|| false).unwrap();
        let q = v.row(3).to_vec();
        let r = h.search(&q, 5).unwrap();
        for (row, s) in &r {
            let exact: f32 = v.row(*row as usize).dot(&v.row(3));
            assert!((exact - s).abs() < 1e-4, "{exact} vs {s}");
        }
        let back = Hnsw::from_bytes(&h.to_bytes().unwrap(), Metric::Dot, 2).unwrap();
        assert_eq!(back.search(&q, 5).unwrap(), r);
    }

    #[test]
    fn saved_file_keeps_the_ip_kind_and_a_view_uses_the_kernel() {
        let v = data(300, 24);
        let pool = crate::thread_pool(2).unwrap();
        // A search list as long as the index makes every search visit the
        // whole (connected) graph, so the self-match below cannot depend on
        // how two concurrent inserts happened to link the last rows.
        let exhaustive = HnswParams {
            ef_search: 512,
            ..params()
        };
        let h = Hnsw::build(v.view(), Metric::Cosine, exhaustive, 2, &pool, &|| false).unwrap();
        let bytes = h.to_bytes().unwrap();
        // the custom metric is stored as the inner product it computes
        let meta = usearch::Index::metadata_from_buffer(&bytes).unwrap();
        assert_eq!(meta.metric, usearch::MetricKind::IP);
        let path =
            std::env::temp_dir().join(format!("embedrs-ann-view-{}.bin", std::process::id()));
        let mut file = vec![0u8; 64];
        file.extend_from_slice(&bytes);
        std::fs::write(&path, &file).unwrap();
        let view = Hnsw::view_file(&path, 64, bytes.len(), Metric::Cosine, 2).unwrap();
        assert!(view.is_view());
        let loaded = Hnsw::from_bytes(&bytes, Metric::Cosine, 2).unwrap();
        view.set_ef_search(512).unwrap();
        loaded.set_ef_search(512).unwrap();
        for i in [0usize, 150, 299] {
            let q = v.row(i).to_vec();
            let want = h.search(&q, 5).unwrap();
            assert_eq!(want[0].0, i as u64);
            assert_eq!(view.search(&q, 5).unwrap(), want);
            assert_eq!(loaded.search(&q, 5).unwrap(), want);
            // scores are cosines computed by the kernel (exact to rounding)
            let un = |r: usize| {
                let x = v.row(r);
                let n = x.dot(&x).sqrt();
                x.mapv(|a| a / n)
            };
            for (row, s) in &want {
                let exact = un(*row as usize).dot(&un(i));
                assert!((exact - s).abs() < 1e-5, "{exact} vs {s}");
            }
        }
        // a start that is not 8-byte aligned is refused, not read unaligned
        assert!(Hnsw::view_file(&path, 60, bytes.len(), Metric::Cosine, 1).is_err());
        drop(view);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn refuses_bad_input() {
        let pool = crate::thread_pool(1).unwrap();
        let mut v = data(10, 4);
        let h = Hnsw::build(v.view(), Metric::Cosine, params(), 1, &pool, &|| false).unwrap();
        assert!(h.search(&[1.0, 2.0], 3).is_err());
        assert!(h.search(&[f32::NAN, 0.0, 0.0, 0.0], 3).is_err());
        v[[2, 1]] = f32::INFINITY;
        assert!(Hnsw::build(v.view(), Metric::Cosine, params(), 1, &pool, &|| false).is_err());
        let bad = HnswParams { m: 1, ..params() };
        assert!(Hnsw::build(data(3, 2).view(), Metric::Dot, bad, 1, &pool, &|| false).is_err());
        assert!(Hnsw::from_bytes(b"not an index at all", Metric::Dot, 1).is_err());
    }
}
