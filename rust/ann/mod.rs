//! Approximate nearest-neighbour search: an HNSW graph over the rows of a
//! float32 matrix, for queries that must not scan every row.
//!
//! The graph ([`graph`]) is written here, after usearch's was measured to
//! spend twice hnswlib's time per visited node on the same graph (its layout
//! and bookkeeping, not its arithmetic; benches/RESULTS.md). Its serialised
//! form is the in-memory form, so a memory-mapped file is searched in place
//! and N worker processes share its pages; a file is checked when opened, so
//! a damaged one is refused instead of followed.
//!
//! Keys in the graph are row numbers `0..n`; mapping them to words or tags
//! is the caller's business.
//!
//! # Metrics
//!
//! * [`Metric::Dot`]: similarity `a · b`.
//! * [`Metric::Cosine`]: rows are divided by their norm before insertion (a
//!   zero row stays zero) and the query likewise, then the graph is searched
//!   by inner product: for unit vectors `a · b = cos(a, b)`, and the search
//!   does no per-distance division (what hnswlib's "cosine" does too).
//!
//! # Concurrency
//!
//! A search takes its scratch (visit marks, heaps) from a pool and returns
//! it, so any number of threads may query one index at once, each with its
//! own scratch; the graph is only read.

mod graph;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::{Error, Result};
use graph::{Bytes, Layout, ScratchPool};

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

/// An HNSW index over the rows of a float32 matrix (keys `0..n`).
pub struct Hnsw {
    bytes: Bytes,
    layout: Layout,
    ef_search: AtomicUsize,
    scratch: ScratchPool,
}

/// `v / |v|`, or `v` itself when its norm is 0 or not finite (the rule
/// exact search normalises its queries by).
fn unit(v: &[f32]) -> Vec<f32> {
    crate::kv::unit(ndarray::ArrayView1::from(v))
}

fn check_ef(ef: usize) -> Result<()> {
    if !(1..=1 << 20).contains(&ef) {
        return Err(Error::Parameter {
            name: "ef_search",
            message: format!("ef_search must be between 1 and {}, got {ef}", 1 << 20),
        });
    }
    Ok(())
}

impl Hnsw {
    fn wrap(bytes: Bytes, layout: Layout) -> Self {
        Self {
            bytes,
            ef_search: AtomicUsize::new(layout.ef_search.clamp(1, 1 << 20)),
            scratch: ScratchPool::new(layout.n),
            layout,
        }
    }

    /// An index over `bytes` (its own buffer or a mapped file) once the
    /// header and every list in it have been checked.
    fn checked(bytes: Bytes, metric: Metric) -> Result<Self> {
        let layout = Layout::read(bytes.get())?;
        if layout.metric != metric {
            return Err(Error::InvalidArgument(format!(
                "the index was built for metric {:?}, the file's metadata says {metric:?}",
                layout.metric
            )));
        }
        layout.validate(&layout.parts(bytes.get())?)?;
        Ok(Self::wrap(bytes, layout))
    }

    /// Builds the graph over every row of `vectors` on `pool`. Non-finite
    /// values are refused.
    pub fn build(
        vectors: ArrayView2<'_, f32>,
        metric: Metric,
        params: HnswParams,
        pool: &rayon::ThreadPool,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Self> {
        params.check()?;
        let dim = vectors.ncols();
        if dim == 0 {
            return Err(Error::InvalidArgument(
                "vectors must have at least one column".into(),
            ));
        }
        if let Some(row) = vectors
            .outer_iter()
            .position(|r| r.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::InvalidArgument(format!(
                "vectors row {row} has a NaN or infinite value; the index needs finite vectors"
            )));
        }
        let (bytes, layout) = graph::build(
            vectors,
            metric,
            params.m,
            params.ef_construction,
            params.ef_search,
            pool,
            stop,
        )?;
        Ok(Self::wrap(bytes, layout))
    }

    /// Number of indexed rows.
    pub fn len(&self) -> usize {
        self.layout.n
    }

    /// True when no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vector width.
    pub fn dim(&self) -> usize {
        self.layout.dim
    }

    /// The metric the index ranks by.
    pub fn metric(&self) -> Metric {
        self.layout.metric
    }

    /// Edges per node on the upper levels (level 0 keeps twice as many).
    pub fn m(&self) -> usize {
        self.layout.m
    }

    /// Current search candidate list size.
    pub fn ef_search(&self) -> usize {
        self.ef_search.load(Relaxed)
    }

    /// Changes the search candidate list size (takes effect for later calls).
    pub fn set_ef_search(&self, ef: usize) -> Result<()> {
        check_ef(ef)?;
        self.ef_search.store(ef, Relaxed);
        Ok(())
    }

    /// True when the index reads a memory-mapped file in place.
    pub fn is_view(&self) -> bool {
        matches!(self.bytes, Bytes::Mapped { .. })
    }

    /// Serialised size in bytes.
    pub fn serialized_len(&self) -> usize {
        self.layout.total
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
        let query = match self.metric() {
            Metric::Cosine => {
                q = unit(query);
                &q[..]
            }
            Metric::Dot => query,
        };
        let parts = self.layout.parts(self.bytes.get())?;
        Ok(parts.search(&self.layout, &self.scratch, query, k, self.ef_search()))
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

    /// The serialised index, to be stored by the caller.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let src = self.bytes.get();
        let mut buf = crate::mem::zeroed::<u8>(src.len(), || "the HNSW index".into())?;
        buf.copy_from_slice(src);
        Ok(buf)
    }

    /// An index read from `bytes` (a copy: `bytes` may be dropped after),
    /// checked first; `metric` is what the caller's metadata says.
    pub fn from_bytes(bytes: &[u8], metric: Metric) -> Result<Self> {
        Self::checked(Bytes::copy(bytes)?, metric)
    }

    /// An index that reads bytes `start..start + len` of the file at `path`
    /// in place through a read-only memory map (no copy; pages are loaded on
    /// demand and shared with every process mapping the same file). The
    /// graph's lists are checked once when it is opened.
    pub fn view_file(path: &Path, start: usize, len: usize, metric: Metric) -> Result<Self> {
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
        if !start.is_multiple_of(std::mem::align_of::<u64>()) {
            return Err(Error::Format {
                path: path.to_path_buf(),
                message: format!("HNSW index bytes start at offset {start}, not a multiple of 8"),
            });
        }
        if start.checked_add(len).is_none_or(|e| e > map.len()) {
            return Err(Error::Format {
                path: path.to_path_buf(),
                message: format!(
                    "HNSW index bytes {start}..{} lie outside the file ({} bytes)",
                    start.saturating_add(len),
                    map.len()
                ),
            });
        }
        Self::checked(Bytes::Mapped { map, start, len }, metric)
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
        // One build thread, so the graph is the same on every run: with
        // concurrent inserts a node can end with no incoming link (a later
        // neighbour prunes it), and no beam, however wide, reaches it. That is
        // recall, tested by `recall_against_exact_search_is_high`; this test is
        // about the scores and ids.
        let pool = crate::thread_pool(1).unwrap();
        let h = Hnsw::build(v.view(), Metric::Cosine, params(), &pool, &|| false).unwrap();
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
        let h = Hnsw::build(v.view(), Metric::Dot, params(), &pool, &|| false).unwrap();
        let q = v.row(3).to_vec();
        let r = h.search(&q, 5).unwrap();
        for (row, s) in &r {
            let exact: f32 = v.row(*row as usize).dot(&v.row(3));
            assert!((exact - s).abs() < 1e-4, "{exact} vs {s}");
        }
        let back = Hnsw::from_bytes(&h.to_bytes().unwrap(), Metric::Dot).unwrap();
        assert_eq!(back.search(&q, 5).unwrap(), r);
    }

    #[test]
    fn a_saved_file_is_viewed_in_place_and_answers_as_built() {
        let v = data(300, 24);
        let pool = crate::thread_pool(2).unwrap();
        // A search list as long as the index makes every search visit the
        // whole (connected) graph, so the self-match below cannot depend on
        // how two concurrent inserts happened to link the last rows.
        let exhaustive = HnswParams {
            ef_search: 512,
            ..params()
        };
        let h = Hnsw::build(v.view(), Metric::Cosine, exhaustive, &pool, &|| false).unwrap();
        let bytes = h.to_bytes().unwrap();
        // the file says which metric it was built for, and a caller that
        // disagrees is refused
        assert!(Hnsw::from_bytes(&bytes, Metric::Dot).is_err());
        let path =
            std::env::temp_dir().join(format!("embedrs-ann-view-{}.bin", std::process::id()));
        let mut file = vec![0u8; 64];
        file.extend_from_slice(&bytes);
        std::fs::write(&path, &file).unwrap();
        let view = Hnsw::view_file(&path, 64, bytes.len(), Metric::Cosine).unwrap();
        assert!(view.is_view());
        let loaded = Hnsw::from_bytes(&bytes, Metric::Cosine).unwrap();
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
        assert!(Hnsw::view_file(&path, 60, bytes.len(), Metric::Cosine).is_err());
        drop(view);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn refuses_bad_input() {
        let pool = crate::thread_pool(1).unwrap();
        let mut v = data(10, 4);
        let h = Hnsw::build(v.view(), Metric::Cosine, params(), &pool, &|| false).unwrap();
        assert!(h.search(&[1.0, 2.0], 3).is_err());
        assert!(h.search(&[f32::NAN, 0.0, 0.0, 0.0], 3).is_err());
        v[[2, 1]] = f32::INFINITY;
        assert!(Hnsw::build(v.view(), Metric::Cosine, params(), &pool, &|| false).is_err());
        let bad = HnswParams { m: 1, ..params() };
        assert!(Hnsw::build(data(3, 2).view(), Metric::Dot, bad, &pool, &|| false).is_err());
        assert!(Hnsw::from_bytes(b"not an index at all", Metric::Dot).is_err());
    }

    #[test]
    fn a_damaged_buffer_is_refused_not_followed() {
        let v = data(120, 8);
        let pool = crate::thread_pool(2).unwrap();
        let h = Hnsw::build(v.view(), Metric::Dot, params(), &pool, &|| false).unwrap();
        let good = h.to_bytes().unwrap();
        // the level-0 section follows the 128-byte header and the vectors,
        // on a 64-byte boundary
        let level0 = (128 + 120 * 8 * 4usize).div_ceil(64) * 64;
        let mut bad = good.clone();
        // a neighbour number past the last node
        bad[level0 + 4..level0 + 8].copy_from_slice(&1000u32.to_le_bytes());
        let e = Hnsw::from_bytes(&bad, Metric::Dot)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("damaged"), "{e}");
        // a count larger than the list
        let mut bad = good.clone();
        bad[level0..level0 + 4].copy_from_slice(&99u32.to_le_bytes());
        assert!(Hnsw::from_bytes(&bad, Metric::Dot).is_err());
        // truncated, and a wrong magic
        assert!(Hnsw::from_bytes(&good[..good.len() - 64], Metric::Dot).is_err());
        let mut bad = good.clone();
        bad[0] ^= 1;
        assert!(Hnsw::from_bytes(&bad, Metric::Dot).is_err());
        // the untouched buffer still loads and answers as built
        let back = Hnsw::from_bytes(&good, Metric::Dot).unwrap();
        let q = v.row(5).to_vec();
        assert_eq!(back.search(&q, 4).unwrap(), h.search(&q, 4).unwrap());
    }

    #[test]
    fn recall_against_exact_search_is_high() {
        // clustered points: 40 centres, 2,000 rows of 32 dimensions
        let c = data(40, 32);
        let noise = data(2000, 32);
        let v = Array2::from_shape_fn((2000, 32), |(i, j)| c[[i % 40, j]] + 0.3 * noise[[i, j]]);
        let pool = crate::thread_pool(2).unwrap();
        let h = Hnsw::build(v.view(), Metric::Cosine, params(), &pool, &|| false).unwrap();
        let un = |r: usize| {
            let x = v.row(r);
            x.mapv(|a| a / x.dot(&x).sqrt())
        };
        let mut hits = 0;
        let queries: Vec<usize> = (0..2000).step_by(37).collect();
        for &qi in &queries {
            let q = un(qi);
            let mut exact: Vec<(f32, usize)> = (0..2000).map(|r| (un(r).dot(&q), r)).collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0));
            let want: Vec<usize> = exact[..10].iter().map(|x| x.1).collect();
            let got = h.search(q.as_slice().unwrap(), 10).unwrap();
            hits += got
                .iter()
                .filter(|(r, _)| want.contains(&(*r as usize)))
                .count();
        }
        let recall = hits as f64 / (10 * queries.len()) as f64;
        assert!(recall > 0.95, "recall@10 {recall}");
    }
}
