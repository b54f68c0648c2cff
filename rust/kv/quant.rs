//! Exact top-k search that reads a quarter of the bytes: an int8 copy of the
//! unit-normalised rows for a first pass, then exact float32 re-scoring of
//! the few rows that can still be in the top k.
//!
//! A single query over a large matrix is bound by memory bandwidth, so
//! reading 1 byte per value instead of 4 is what makes it faster; exactness
//! comes from a per-row error bound.
//!
//! Row `i` is stored as codes `c_ij = round(u_ij / s_i)` with
//! `s_i = max_j |u_ij| / 127` (`u_i` the unit row), so `u_ij = s_i (c_ij + e_ij)`
//! with `|e_ij| <= 1/2`; the index keeps `s_i` and `r_i = s_i ||e_i||`, the
//! norm of the row's rounding error. The unit query is coded in two int8
//! parts against one scale `t = max_j |q_j| / 127`: `p_j = round(q_j / t)`
//! and `p'_j = round(254 (q_j / t - p_j))`, so that
//! `q_j = t (p_j + p'_j / 254 + g_j)` with `|g_j| <= 1/508`. The kernel
//! scores both parts in one read of the codes. Writing `h = p + p' / 254`,
//!
//! ```text
//! cos_i = s_i t sum_j (c_ij + e_ij)(h_j + g_j)
//!       = a_i + s_i t (c_i.g + e_i.h + e_i.g),     a_i = s_i t (c_i.p + c_i.p' / 254)
//! |cos_i - a_i| <= s_i t (|c_i| |g| + |e_i| |h| + |e_i| |g|)         (Cauchy-Schwarz)
//!               <= t |g| (1 + r_i) + r_i t (|h| + |g|) =: b_i       (|c_i| <= 1 / s_i + |e_i|)
//! ```
//!
//! (norms Euclidean). The rounding errors of a row and a query are not
//! worst-case aligned, so this bound is several times tighter than summing
//! `|c_ij| |f_j|` term by term, and the second query part makes the query's
//! own error negligible: on word vectors the rows left to re-score fall
//! five- to tenfold.
//!
//! so `a_i - b_i <= cos_i <= a_i + b_i`. Let `tau` be the k-th largest lower
//! bound: at least k rows score `>= tau`, hence every row of the true top k
//! has an upper bound `>= tau`. Those candidates are re-scored with the same
//! float32 kernel as the plain scan, so the answer is identical to it.
//!
//! One pass over the codes does the first step: it keeps the k best lower
//! bounds seen so far and, at each row, notes the row if its upper bound
//! reaches the k-th of them. That threshold only rises towards `tau`, so
//! the noted rows include every final candidate (and, in practice, a few
//! dozen more); no second sweep over the rows is needed.
//!
//! The codes are stored in blocks of 16 rows for the kernel of
//! [`super::int8`] (AVX-512 VNNI where the CPU has it). A batch of queries
//! ([`QuantIndex::top_k_batch`]) reads each block once for all of them.

use std::io::Write;
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::int8::{dots_u8, pack_block, query_offset, BLOCK, QUAD_BYTES};
use super::{dots, share, unit, TopK};
use crate::{Error, Result};

/// Extra slack on every bound, covering float32 rounding in the exact scores.
const SLACK: f32 = 1e-5;
/// Blocks of rows scored per kernel call (1,024 rows).
const CHUNK_BLOCKS: usize = 64;
/// Queries scored per kernel call in a batch (their sums, two code parts
/// each, stay in L1). The second part doubles the kernel's work, which a
/// batch (bound by the kernel, not by reading the codes) feels: 100 queries
/// on 30k x 100 random vectors take 6.4 ms against 5.4 ms with one part. On
/// trained word vectors, where the re-scoring dominates, two parts take
/// 21.2 ms against 32.1 ms, so batches use two parts as well.
const QUERY_GROUP: usize = 4;
/// Work (rows x dimensions) from which a single query's first pass is split
/// across all the pool's threads (rayon, a few parts per thread).
const PARALLEL_MIN_WORK: usize = 1 << 23;
/// Work from which, below [`PARALLEL_MIN_WORK`], a single query shares its
/// rows with one pool thread ([`share`]), which never makes it wait for a
/// busy pool. (30,000 x 100 on a shared 2-core machine: 180 us on one
/// thread, 260 us through a rayon split across two.)
const PAIR_MIN_WORK: usize = 1 << 19;

/// The int8 copy of a matrix's unit rows, with per-row scales, laid out in
/// blocks of 16 rows for the kernel of [`super::int8`].
#[derive(Debug, Clone)]
pub struct QuantIndex {
    dim: usize,
    /// Groups of four dimensions per row (the last one zero-padded).
    quads: usize,
    rows: usize,
    /// `rows.div_ceil(16)` blocks of `quads * 64` unsigned codes.
    codes: Arc<Codes>,
    /// `s_i`, zero for the padding rows of the last block.
    scale: Arc<Vec<f32>>,
    /// `r_i = s_i ||e_i||`: the norm of the row's rounding error, in the
    /// unit row's scale.
    err: Arc<Vec<f32>>,
}

/// The codes, built in memory or read in place from a saved index file
/// ([`QuantIndex::save`]): every process mapping the file shares its pages.
#[derive(Debug)]
enum Codes {
    Owned(Vec<u8>),
    Mapped {
        map: memmap2::Mmap,
        start: usize,
        len: usize,
    },
}

impl Deref for Codes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Owned(v) => v,
            Self::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }
}

/// First bytes of a saved index file.
const MAGIC: &[u8; 8] = b"EMBRSI8\0";
/// Format version written after the magic (2: the rows' error norms in place
/// of version 1's sums of absolute codes).
const VERSION: u32 = 2;
/// Header bytes; the scales follow, then the row norms, then the codes
/// from a multiple of 64.
const HEADER: usize = 64;

/// Byte offsets of a saved index's sections: `(norms, codes, file length)`.
fn layout(rows: usize, dim: usize) -> (usize, usize, usize) {
    let scales = rows.div_ceil(BLOCK) * BLOCK * 4;
    let norms = HEADER + 2 * scales;
    let codes = (norms + 4 * rows).next_multiple_of(64);
    let len = rows.div_ceil(BLOCK) * dim.div_ceil(4) * QUAD_BYTES;
    (norms, codes, codes + len)
}

/// A fingerprint of a matrix's shape and values (not cryptographic: it
/// tells a saved index built from these vectors from one built from others).
pub fn fingerprint(vectors: ArrayView2<f32>, pool: Option<&rayon::ThreadPool>) -> Result<u64> {
    use std::hash::Hasher;
    let (n, dim) = vectors.dim();
    let data = vectors
        .as_slice()
        .ok_or_else(|| Error::invalid("vectors must be a contiguous row-major matrix"))?;
    let part = |values: &[f32]| {
        let mut h = rustc_hash::FxHasher::default();
        let mut pairs = values.chunks_exact(2);
        for p in &mut pairs {
            h.write_u64(u64::from(p[0].to_bits()) | (u64::from(p[1].to_bits()) << 32));
        }
        for x in pairs.remainder() {
            h.write_u32(x.to_bits());
        }
        h.finish()
    };
    // fixed-size parts, so the value does not depend on the thread count
    let parts = |data: &[f32]| -> Vec<u64> { data.par_chunks(1 << 20).map(part).collect() };
    let parts = match pool {
        Some(p) => p.install(|| parts(data)),
        None => parts(data),
    };
    let mut h = rustc_hash::FxHasher::default();
    h.write_u64(n as u64);
    h.write_u64(dim as u64);
    for x in parts {
        h.write_u64(x);
    }
    Ok(h.finish())
}

/// Codes `u` into `out` (`round(u_j / s)`); returns the scale `s` and the
/// norm of the rounding error `||u / s - out||` (rounded up), both zero for a
/// zero or non-finite `u`.
fn quantize(u: &[f32], out: &mut [i8]) -> (f32, f32) {
    let m = u.iter().fold(0.0f32, |a, &x| a.max(x.abs()));
    if m == 0.0 || !m.is_finite() {
        out.fill(0);
        return (0.0, 0.0);
    }
    let s = m / 127.0;
    let mut err2 = 0.0f64;
    for (o, &x) in out.iter_mut().zip(u) {
        let y = x / s;
        let c = y.round().clamp(-127.0, 127.0);
        err2 += (f64::from(y) - f64::from(c)).powi(2);
        *o = c as i8;
    }
    // the f32 division `x / s` is off by half an ulp of `y`: at most
    // 127 * 2^-24 per value, far below the 1e-6 relative margin plus the
    // search's SLACK
    (s, (err2.sqrt() * (1.0 + 1e-6) + 1e-5) as f32)
}

/// One query, coded for the first pass.
#[derive(Clone)]
struct QueryCode {
    /// The unit query, for the exact scores.
    unit: Vec<f32>,
    /// `p_j` then `p'_j`, each padded with zeros to whole quads.
    codes: Vec<i8>,
    t: f32,
    /// What the unsigned row codes add to the integer sums of `p` and `p'`.
    offset: i32,
    offset_fine: i32,
    /// `t (|h| + 2 |g|)` and `t |g|`: `b_i = r_i k_err + k_fixed`.
    k_err: f32,
    k_fixed: f32,
}

/// Scale of the query's second code part.
const FINE: f32 = 254.0;

impl QueryCode {
    /// `None` for a zero or non-finite query (searched in float32 instead).
    fn new(query: ArrayView1<f32>, quads: usize) -> Option<Self> {
        let unit = unit(query);
        let width = quads * 4;
        let mut codes = vec![0i8; 2 * width];
        let dim = unit.len();
        let (t, _) = quantize(&unit, &mut codes[..dim]);
        if t == 0.0 {
            return None;
        }
        let (mut h2, mut g2) = (0.0f64, 0.0f64);
        for j in 0..dim {
            let p = f64::from(codes[j]);
            let f = f64::from(unit[j]) / f64::from(t) - p;
            let fine = (f * f64::from(FINE)).round().clamp(-127.0, 127.0);
            codes[width + j] = fine as i8;
            let h = p + fine / f64::from(FINE);
            h2 += h * h;
            g2 += (f - fine / f64::from(FINE)).powi(2);
        }
        // rounded up, as the rows' error norms
        let (h, g) = (h2.sqrt() * (1.0 + 1e-6), g2.sqrt() * (1.0 + 1e-6) + 1e-6);
        let t64 = f64::from(t);
        Some(Self {
            offset: query_offset(&codes[..width]),
            offset_fine: query_offset(&codes[width..]),
            k_err: (t64 * (h + 2.0 * g)) as f32,
            k_fixed: (t64 * g) as f32,
            unit,
            codes,
            t,
        })
    }
}

/// What the first pass keeps of one query: the k best lower bounds, and
/// every row whose upper bound reached the k-th best lower bound known when
/// it was scored (a superset of the final candidates, as that only rises).
#[derive(Clone)]
struct Pass1 {
    lower: TopK,
    cands: Vec<(usize, f32)>,
}

impl Pass1 {
    fn new(k: usize) -> Self {
        Self {
            lower: TopK::new(k),
            cands: Vec::with_capacity(4 * k + 64),
        }
    }

    fn merge(&mut self, other: Pass1) {
        self.lower.merge(other.lower);
        self.cands.extend(other.cands);
    }
}

fn merge_all(mut a: Vec<Pass1>, b: Vec<Pass1>) -> Vec<Pass1> {
    for (x, y) in a.iter_mut().zip(b) {
        x.merge(y);
    }
    a
}

impl QuantIndex {
    /// Builds the index of `vectors` (C-contiguous) with their row `norms`.
    pub fn build(
        vectors: ArrayView2<f32>,
        norms: &[f32],
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Self> {
        let (n, dim) = vectors.dim();
        let data = vectors
            .as_slice()
            .ok_or_else(|| Error::invalid("vectors must be a contiguous row-major matrix"))?;
        if norms.len() != n {
            return Err(Error::invalid(
                "norms do not match the matrix; recompute the norms",
            ));
        }
        let quads = dim.div_ceil(4);
        let blocks = n.div_ceil(BLOCK);
        let block_bytes = quads * QUAD_BYTES;
        let mut codes = vec![128u8; blocks * block_bytes];
        let mut scale = vec![0.0f32; blocks * BLOCK];
        let mut err = vec![0.0f32; blocks * BLOCK];
        if dim > 0 {
            let mut work = || {
                codes
                    .par_chunks_mut(block_bytes)
                    .zip(scale.par_chunks_mut(BLOCK))
                    .zip(err.par_chunks_mut(BLOCK))
                    .zip(data.par_chunks(dim * BLOCK))
                    .zip(norms.par_chunks(BLOCK))
                    .for_each_init(
                        || (vec![0.0f32; dim], vec![0i8; BLOCK * dim]),
                        |(u, signed), ((((block, s), h), rows), nr)| {
                            for (i, row) in rows.chunks_exact(dim).enumerate() {
                                let inv = if nr[i] > 0.0 { 1.0 / nr[i] } else { 0.0 };
                                for (uj, &x) in u.iter_mut().zip(row) {
                                    *uj = x * inv;
                                }
                                let (si, e) = quantize(u, &mut signed[i * dim..(i + 1) * dim]);
                                s[i] = si;
                                h[i] = si * e;
                            }
                            pack_block(&signed[..nr.len() * dim], dim, quads, block);
                        },
                    )
            };
            match pool {
                Some(p) => p.install(work),
                None => work(),
            }
        }
        Ok(Self {
            dim,
            quads,
            rows: n,
            codes: Arc::new(Codes::Owned(codes)),
            scale: Arc::new(scale),
            err: Arc::new(err),
        })
    }

    /// Number of rows indexed.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the codes are read in place from a file.
    pub fn is_mapped(&self) -> bool {
        matches!(*self.codes, Codes::Mapped { .. })
    }

    /// Writes the index and the row `norms` it was built with to `path`
    /// atomically (a temporary file in the same folder, renamed over `path`
    /// once complete), tagged with `fingerprint`: the caller's identity of
    /// the vectors (their [`fingerprint`], or of the file they are mapped from).
    pub fn save(&self, path: &Path, fingerprint: u64, norms: &[f32]) -> Result<()> {
        if norms.len() != self.rows {
            return Err(Error::invalid(format!(
                "{} norms for an index of {} rows",
                norms.len(),
                self.rows
            )));
        }
        let tmp = crate::io::word2vec::temp_path_for(path);
        let res = self.write_file(&tmp, fingerprint, norms);
        let res = res.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res
    }

    fn write_file(&self, tmp: &Path, fingerprint: u64, norms: &[f32]) -> Result<()> {
        let io = |e| Error::io(tmp, e);
        let file = std::fs::File::create(tmp).map_err(io)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        for x in [self.dim, self.quads, self.rows, self.codes.len()] {
            head.extend_from_slice(&(x as u64).to_le_bytes());
        }
        head.extend_from_slice(&fingerprint.to_le_bytes());
        head.resize(HEADER, 0);
        w.write_all(&head).map_err(io)?;
        let mut written = HEADER;
        for values in [&self.scale[..], &self.err[..], norms] {
            let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
            w.write_all(&bytes).map_err(io)?;
            written += bytes.len();
        }
        w.write_all(&vec![0u8; written.next_multiple_of(64) - written])
            .map_err(io)?;
        w.write_all(&self.codes).map_err(io)?;
        let file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    }

    /// Opens an index saved by [`QuantIndex::save`], its codes read in place
    /// through a read-only memory map; also returns the byte offset of the
    /// saved row norms (`rows` little-endian `f32`). Refuses a file that is
    /// not one, is cut short, or was built from a matrix of another shape or
    /// `fingerprint` (the answers would be wrong, not unsafe).
    pub fn open(path: &Path, rows: usize, dim: usize, fingerprint: u64) -> Result<(Self, usize)> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only and this process never writes the
        // file; `save` replaces a file by renaming a new one over it, which
        // leaves this map on the old inode. A third party truncating the
        // file in place while it is mapped would fault the process, the
        // documented risk of every memory map (numpy.memmap's included).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let bad = |m: String| Error::format(path, m);
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(bad("not an embedrs int8 index file".into()));
        }
        let word = |i: usize| {
            let at = 16 + 8 * i;
            u64::from_le_bytes(map[at..at + 8].try_into().expect("8 bytes"))
        };
        let version = u32::from_le_bytes(map[8..12].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(bad(format!(
                "int8 index format version {version}, this embedrs reads {VERSION}"
            )));
        }
        let (fdim, quads, frows, codes_len, fp) = (word(0), word(1), word(2), word(3), word(4));
        if (frows, fdim) != (rows as u64, dim as u64) || fp != fingerprint {
            return Err(bad(format!(
                "the int8 index was built from other vectors ({frows} x {fdim}, fingerprint \
                 {fp:016x}; these are {rows} x {dim}, {fingerprint:016x})"
            )));
        }
        let quads_want = dim.div_ceil(4);
        let scales = rows.div_ceil(BLOCK) * BLOCK * 4;
        let (norms_at, start, end) = layout(rows, dim);
        let len = end - start;
        if quads != quads_want as u64 || codes_len != len as u64 || map.len() != end {
            return Err(bad(format!(
                "the int8 index file is {} bytes, {end} expected for {rows} x {dim}",
                map.len()
            )));
        }
        let floats = |at: usize| -> Arc<Vec<f32>> {
            Arc::new(
                map[at..at + scales]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect(),
            )
        };
        let (scale, err) = (floats(HEADER), floats(HEADER + scales));
        let index = Self {
            dim,
            quads: quads_want,
            rows,
            codes: Arc::new(Codes::Mapped { map, start, len }),
            scale,
            err,
        };
        Ok((index, norms_at))
    }

    /// Whether the index has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The float32 rows, after checking that they and `norms` are those the
    /// index was built from and that `range` lies within them.
    fn check<'a>(
        &self,
        vectors: &'a ArrayView2<f32>,
        norms: &[f32],
        query_dim: usize,
        range: &Range<usize>,
    ) -> Result<&'a [f32]> {
        let (n, dim) = vectors.dim();
        if n != self.len() || dim != self.dim || norms.len() != n {
            return Err(Error::invalid(
                "the int8 index is stale: it was built for another matrix",
            ));
        }
        if query_dim != dim {
            return Err(Error::invalid(format!(
                "query vector has {query_dim} dimensions, the model has {dim}"
            )));
        }
        if range.start > range.end || range.end > n {
            return Err(Error::invalid(format!(
                "row range {}..{} is outside the {n} rows of the matrix",
                range.start, range.end
            )));
        }
        vectors
            .as_slice()
            .ok_or_else(|| Error::invalid("vectors must be C-contiguous"))
    }

    /// Exact top-`k` rows of `range` for `query` (same answer as
    /// [`super::top_k`]); `vectors`/`norms` must be those it was built from.
    pub fn top_k(
        &self,
        vectors: ArrayView2<f32>,
        norms: &[f32],
        query: ArrayView1<f32>,
        range: Range<usize>,
        k: usize,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Vec<(usize, f32)>> {
        let data = self.check(&vectors, norms, query.len(), &range)?;
        let k = k.min(range.len());
        if self.dim == 0 || range.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let Some(qc) = QueryCode::new(query, self.quads) else {
            return super::top_k(vectors, norms, query, range, k, pool);
        };
        let work = range.len() * self.dim;
        let mut first = match pool.filter(|p| p.current_num_threads() > 1) {
            Some(p) if work >= PARALLEL_MIN_WORK => self.pass1(&[&qc], &range, k, Some(p)),
            Some(p) if work >= PAIR_MIN_WORK => self.pass1_pair(p, &qc, &range, k),
            _ => self.pass1(&[&qc], &range, k, None),
        };
        let first = first.pop().unwrap_or(Pass1::new(k));
        Ok(self.rescore(data, norms, &qc, first, k))
    }

    /// First pass of one query, its chunks shared between this thread (from
    /// the first) and one pool thread (from the last), see [`share`].
    fn pass1_pair(
        &self,
        pool: &rayon::ThreadPool,
        qc: &QueryCode,
        range: &Range<usize>,
        k: usize,
    ) -> Vec<Pass1> {
        let blocks = range.start / BLOCK..range.end.div_ceil(BLOCK);
        let pieces = blocks.len().div_ceil(CHUNK_BLOCKS);
        // the pool thread's side owns what it reads (shared, not copied)
        let (index, q, r) = (self.clone(), qc.clone(), range.clone());
        let first = share(
            pool,
            pieces,
            move || Pass1::new(k),
            move |i, st: &mut Pass1| {
                let b = blocks.start + i * CHUNK_BLOCKS;
                let chunk = b..(b + CHUNK_BLOCKS).min(blocks.end);
                index.scan_into(&[&q], chunk, &r, std::slice::from_mut(st));
            },
            |mut a, b| {
                a.merge(b);
                a
            },
        );
        vec![first]
    }

    /// Exact top-`k` rows of `range` for every row of `queries` (the same
    /// answers as [`QuantIndex::top_k`] one query at a time): the int8 rows
    /// are read once per batch and each loaded block serves four queries.
    pub fn top_k_batch(
        &self,
        vectors: ArrayView2<f32>,
        norms: &[f32],
        queries: ArrayView2<f32>,
        range: Range<usize>,
        k: usize,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Vec<Vec<(usize, f32)>>> {
        let data = self.check(&vectors, norms, queries.ncols(), &range)?;
        let m = queries.nrows();
        let k = k.min(range.len());
        if self.dim == 0 || range.is_empty() || k == 0 {
            return Ok(vec![Vec::new(); m]);
        }
        let coded: Vec<Option<QueryCode>> = queries
            .outer_iter()
            .map(|q| QueryCode::new(q, self.quads))
            .collect();
        let qs: Vec<&QueryCode> = coded.iter().flatten().collect();
        let mut found: Vec<Vec<(usize, f32)>> = Vec::new();
        if !qs.is_empty() {
            let firsts = self.pass1(&qs, &range, k, pool);
            let rescore =
                |(qc, first): (&&QueryCode, Pass1)| self.rescore(data, norms, qc, first, k);
            found = match pool {
                Some(p) => p.install(|| qs.par_iter().zip(firsts).map(rescore).collect()),
                None => qs.iter().zip(firsts).map(rescore).collect(),
            };
        }
        let mut found = found.into_iter();
        coded
            .iter()
            .zip(queries.outer_iter())
            .map(|(c, q)| match c {
                Some(_) => Ok(found.next().unwrap_or_default()),
                None => super::top_k(vectors, norms, q, range.clone(), k, pool),
            })
            .collect()
    }

    /// First pass over the int8 rows of `range` for every query, split
    /// across `pool` in whole chunks.
    fn pass1(
        &self,
        qs: &[&QueryCode],
        range: &Range<usize>,
        k: usize,
        pool: Option<&rayon::ThreadPool>,
    ) -> Vec<Pass1> {
        let blocks = range.start / BLOCK..range.end.div_ceil(BLOCK);
        let threads = pool.map_or(1, rayon::ThreadPool::current_num_threads);
        let chunks = blocks.len().div_ceil(CHUNK_BLOCKS);
        match pool {
            Some(p) if threads > 1 && chunks > 1 => {
                // A few parts per thread balance one query's load. Every part
                // starts each query with no threshold (so pushes many rows at
                // first), which a batch pays once per query: one part per
                // thread there.
                let parts = if qs.len() > 1 { threads } else { threads * 4 };
                let per = chunks.div_ceil(parts) * CHUNK_BLOCKS;
                let starts: Vec<usize> = blocks.clone().step_by(per).collect();
                p.install(|| {
                    starts
                        .par_iter()
                        .map(|&b| self.scan(qs, b..(b + per).min(blocks.end), range, k))
                        .reduce(|| vec![Pass1::new(k); qs.len()], merge_all)
                })
            }
            _ => self.scan(qs, blocks, range, k),
        }
    }

    /// First pass over `blocks` (only rows in `range` count), on this thread.
    fn scan(
        &self,
        qs: &[&QueryCode],
        blocks: Range<usize>,
        range: &Range<usize>,
        k: usize,
    ) -> Vec<Pass1> {
        let mut state = vec![Pass1::new(k); qs.len()];
        self.scan_into(qs, blocks, range, &mut state);
        state
    }

    /// [`QuantIndex::scan`], continuing from the queries' `state`.
    fn scan_into(
        &self,
        qs: &[&QueryCode],
        blocks: Range<usize>,
        range: &Range<usize>,
        state: &mut [Pass1],
    ) {
        let block_bytes = self.quads * QUAD_BYTES;
        let group = qs.len().min(QUERY_GROUP);
        // both code parts of every query
        let qbytes = 2 * self.quads * 4;
        let pcodes: Vec<i8> = qs.iter().flat_map(|q| q.codes.iter().copied()).collect();
        let mut ints = vec![0i32; 2 * group * CHUNK_BLOCKS * BLOCK];
        let mut b = blocks.start;
        while b < blocks.end {
            let nb = CHUNK_BLOCKS.min(blocks.end - b);
            let first = b * BLOCK;
            let rows = nb * BLOCK;
            let codes = &self.codes[b * block_bytes..(b + nb) * block_bytes];
            let valid = range.start.max(first) - first..range.end.min(first + rows) - first;
            let (scale, err) = (
                &self.scale[first..first + rows],
                &self.err[first..first + rows],
            );
            for ((g, st), pq) in qs
                .chunks(QUERY_GROUP)
                .zip(state.chunks_mut(QUERY_GROUP))
                .zip(pcodes.chunks(QUERY_GROUP * qbytes))
            {
                let out = &mut ints[..2 * g.len() * rows];
                dots_u8(codes, self.quads, pq, out);
                for ((q, st), sums) in g.iter().zip(st).zip(out.chunks_exact(2 * rows)) {
                    let (sums, sums_fine) = sums.split_at(rows);
                    let chunk = Chunk {
                        sums,
                        sums_fine,
                        scale,
                        err,
                        first,
                        valid: valid.clone(),
                    };
                    absorb(q, &chunk, st);
                }
            }
            b += nb;
        }
    }

    /// Second pass: the exact float32 score of every candidate whose upper
    /// bound reaches the k-th best lower bound, with the scan's kernel.
    fn rescore(
        &self,
        data: &[f32],
        norms: &[f32],
        q: &QueryCode,
        first: Pass1,
        k: usize,
    ) -> Vec<(usize, f32)> {
        let sorted = first.lower.into_sorted();
        let tau = if sorted.len() < k {
            f32::NEG_INFINITY
        } else {
            sorted[k - 1].1
        };
        let dim = self.dim;
        let mut top = TopK::new(k);
        let mut exact = [0.0f32; 1];
        for &(r, upper) in &first.cands {
            if upper >= tau {
                dots(&data[r * dim..(r + 1) * dim], &q.unit, &mut exact);
                let nr = norms[r];
                top.push(r, if nr > 0.0 { exact[0] / nr } else { 0.0 });
            }
        }
        top.into_sorted()
    }
}

/// The first-pass results of one query for a run of whole blocks.
struct Chunk<'a> {
    /// Integer sums of the rows `first..first + sums.len()` with the
    /// query's two code parts.
    sums: &'a [i32],
    sums_fine: &'a [i32],
    /// Their `s_i` and `r_i`.
    scale: &'a [f32],
    err: &'a [f32],
    first: usize,
    /// The rows that count, relative to `first`.
    valid: Range<usize>,
}

/// Turns a chunk's integer sums into bounds, keeps the best lower bounds
/// and collects the candidates.
///
/// Rows go sixteen at a time: the bounds of a group are one vector, compared
/// with the threshold into a bit mask, and only the rows whose bit is set
/// are looked at one by one (after the first few groups, hardly any).
fn absorb(q: &QueryCode, chunk: &Chunk, st: &mut Pass1) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F was detected just above.
        unsafe { absorb_avx512(q, chunk, st) };
        return;
    }
    // SAFETY: the portable operations run on any CPU.
    unsafe { absorb_with::<Portable>(q, chunk, st) };
}

/// [`absorb`] with AVX-512F vectors.
///
/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn absorb_avx512(q: &QueryCode, chunk: &Chunk, st: &mut Pass1) {
    // SAFETY: the caller's contract is the one of `Avx512`.
    unsafe { absorb_with::<Avx512>(q, chunk, st) };
}

/// [`absorb`] with the group operations `L`.
///
/// # Safety
/// The CPU supports the instructions `L` uses.
#[inline(always)]
unsafe fn absorb_with<L: GroupOps>(q: &QueryCode, chunk: &Chunk, st: &mut Pass1) {
    let (first, valid) = (chunk.first, &chunk.valid);
    let mut threshold = st.lower.threshold();
    for (g, (((sg, fg), scg), eg)) in chunk
        .sums
        .chunks_exact(BLOCK)
        .zip(chunk.sums_fine.chunks_exact(BLOCK))
        .zip(chunk.scale.chunks_exact(BLOCK))
        .zip(chunk.err.chunks_exact(BLOCK))
        .enumerate()
    {
        let g0 = g * BLOCK;
        if g0 + BLOCK <= valid.start || g0 >= valid.end {
            continue;
        }
        let (Ok(sums), Ok(sums_fine), Ok(scale), Ok(err)) =
            (sg.try_into(), fg.try_into(), scg.try_into(), eg.try_into())
        else {
            continue; // unreachable: chunks_exact(BLOCK)
        };
        let group = Group {
            sums,
            sums_fine,
            scale,
            err,
        };
        // SAFETY: the caller's contract.
        let (lower, upper) = unsafe { L::bounds(q, &group) };
        // rows of this group that lie in `valid`
        let mut inside = u32::MAX >> (32 - BLOCK);
        if g0 < valid.start || g0 + BLOCK > valid.end {
            inside = 0;
            for i in valid.start.max(g0)..valid.end.min(g0 + BLOCK) {
                inside |= 1 << (i - g0);
            }
        }
        let base = first + g0;
        // SAFETY (both calls): the caller's contract.
        let mut hits = unsafe { L::above(&lower, threshold) } & inside;
        while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            hits &= hits - 1;
            if lower[i] >= threshold {
                st.lower.push(base + i, lower[i]);
                threshold = st.lower.threshold();
            }
        }
        let mut hits = unsafe { L::above(&upper, threshold) } & inside;
        while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            hits &= hits - 1;
            st.cands.push((base + i, upper[i]));
        }
    }
}

/// One group of [`BLOCK`] rows: their integer sums with the query's two code
/// parts, `s_i` and `r_i`.
struct Group<'a> {
    sums: &'a [i32; BLOCK],
    sums_fine: &'a [i32; BLOCK],
    scale: &'a [f32; BLOCK],
    err: &'a [f32; BLOCK],
}

/// `(lower, upper)` bounds of a group's rows.
type Bounds = ([f32; BLOCK], [f32; BLOCK]);

/// The vector steps of [`absorb`] on one group of [`BLOCK`] rows.
///
/// # Safety
/// Both functions may only be called on a CPU that supports the
/// instructions of the implementation (any CPU for [`Portable`]).
trait GroupOps {
    /// `(lower, upper)` bounds of the rows, from their integer sums.
    unsafe fn bounds(q: &QueryCode, g: &Group) -> Bounds;
    /// Bit `i` set where `x[i] >= threshold`.
    unsafe fn above(x: &[f32; BLOCK], threshold: f32) -> u32;
}

/// Plain Rust, for any CPU.
struct Portable;

impl GroupOps for Portable {
    #[inline(always)]
    unsafe fn bounds(q: &QueryCode, g: &Group) -> Bounds {
        let mut lower = [0.0f32; BLOCK];
        let mut upper = [0.0f32; BLOCK];
        for i in 0..BLOCK {
            let d = (g.sums[i] - q.offset) as f32;
            let fine = (g.sums_fine[i] - q.offset_fine) as f32;
            let a = g.scale[i] * q.t * (d + fine * (1.0 / FINE));
            let bound = g.err[i] * q.k_err + q.k_fixed + SLACK;
            lower[i] = a - bound;
            upper[i] = a + bound;
        }
        (lower, upper)
    }

    #[inline(always)]
    unsafe fn above(x: &[f32; BLOCK], threshold: f32) -> u32 {
        let mut bits = 0u32;
        for (i, &v) in x.iter().enumerate() {
            bits |= u32::from(v >= threshold) << i;
        }
        bits
    }
}

/// AVX-512F: one register holds a group (CPUs with AVX-512F only).
#[cfg(target_arch = "x86_64")]
struct Avx512;

// AVX-512 intrinsics are stable since Rust 1.89 (see `int8::vnni`).
#[cfg(target_arch = "x86_64")]
#[clippy::msrv = "1.89"]
impl GroupOps for Avx512 {
    /// The same operations as [`Portable::bounds`], in the same order (so
    /// the same bounds), sixteen lanes at once.
    #[inline(always)]
    unsafe fn bounds(q: &QueryCode, g: &Group) -> Bounds {
        use std::arch::x86_64::*;
        let mut lower = [0.0f32; BLOCK];
        let mut upper = [0.0f32; BLOCK];
        // SAFETY: the caller guarantees AVX-512F (the trait's contract);
        // every pointer is to a whole 16-lane array.
        unsafe {
            let s = _mm512_loadu_ps(g.scale.as_ptr());
            let e = _mm512_loadu_ps(g.err.as_ptr());
            let sums = _mm512_loadu_si512(g.sums.as_ptr().cast());
            let fine = _mm512_loadu_si512(g.sums_fine.as_ptr().cast());
            let d = _mm512_cvtepi32_ps(_mm512_sub_epi32(sums, _mm512_set1_epi32(q.offset)));
            let f = _mm512_cvtepi32_ps(_mm512_sub_epi32(fine, _mm512_set1_epi32(q.offset_fine)));
            let t = _mm512_set1_ps(q.t);
            let h = _mm512_add_ps(d, _mm512_mul_ps(f, _mm512_set1_ps(1.0 / FINE)));
            let a = _mm512_mul_ps(_mm512_mul_ps(s, t), h);
            let bound = _mm512_add_ps(
                _mm512_add_ps(
                    _mm512_mul_ps(e, _mm512_set1_ps(q.k_err)),
                    _mm512_set1_ps(q.k_fixed),
                ),
                _mm512_set1_ps(SLACK),
            );
            _mm512_storeu_ps(lower.as_mut_ptr(), _mm512_sub_ps(a, bound));
            _mm512_storeu_ps(upper.as_mut_ptr(), _mm512_add_ps(a, bound));
        }
        (lower, upper)
    }

    #[inline(always)]
    unsafe fn above(x: &[f32; BLOCK], threshold: f32) -> u32 {
        use std::arch::x86_64::*;
        // SAFETY: as in `bounds`.
        unsafe {
            let v = _mm512_loadu_ps(x.as_ptr());
            u32::from(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(
                v,
                _mm512_set1_ps(threshold),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{row_norms, top_k};
    use crate::sampling::Rng;
    use ndarray::Array2;

    /// A uniform random `n x d` matrix, its norms, a 2-thread pool and its index.
    fn random_index(
        rng: &mut Rng,
        n: usize,
        d: usize,
    ) -> (Array2<f32>, Vec<f32>, rayon::ThreadPool, QuantIndex) {
        let m = Array2::from_shape_fn((n, d), |_| rng.uniform() - 0.5);
        let norms = row_norms(m.view(), None).unwrap();
        let pool = crate::thread_pool(2).unwrap();
        let idx = QuantIndex::build(m.view(), &norms, Some(&pool)).unwrap();
        (m, norms, pool, idx)
    }

    #[test]
    fn a_saved_index_maps_back_and_refuses_other_vectors() {
        let mut rng = Rng::new(3);
        let (n, d) = (1037usize, 21usize);
        let (m, norms, pool, idx) = random_index(&mut rng, n, d);
        let fp = fingerprint(m.view(), Some(&pool)).unwrap();
        assert_eq!(fp, fingerprint(m.view(), None).unwrap());
        let dir = std::env::temp_dir().join(format!("embedrs-q8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v.int8");
        assert!(idx.save(&path, fp, &norms[1..]).is_err());
        idx.save(&path, fp, &norms).unwrap();
        let (back, at) = QuantIndex::open(&path, n, d, fp).unwrap();
        assert!(back.is_mapped() && !idx.is_mapped());
        let bytes = std::fs::read(&path).unwrap();
        let stored: Vec<f32> = bytes[at..at + 4 * n]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(stored, norms);
        for qi in [0usize, 500, 1036] {
            let q = m.row(qi);
            let want = idx.top_k(m.view(), &norms, q, 0..n, 7, None).unwrap();
            assert_eq!(
                back.top_k(m.view(), &norms, q, 0..n, 7, None).unwrap(),
                want
            );
        }
        // one value changed: another fingerprint, and the file is refused
        let mut other = m.clone();
        other[[5, 3]] += 1e-3;
        let fp2 = fingerprint(other.view(), None).unwrap();
        assert_ne!(fp, fp2);
        let err = QuantIndex::open(&path, n, d, fp2).unwrap_err().to_string();
        assert!(err.contains("built from other vectors"), "{err}");
        assert!(QuantIndex::open(&path, n + 1, d, fp).is_err());
        // cut short, or not an index at all
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = QuantIndex::open(&path, n, d, fp).unwrap_err().to_string();
        assert!(err.contains("bytes"), "{err}");
        std::fs::write(&path, b"not an index").unwrap();
        assert!(QuantIndex::open(&path, n, d, fp).is_err());
        // no temporary file is left beside it
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn identical_to_exact_scan() {
        let mut rng = Rng::new(9);
        for &(n, d) in &[(3000usize, 50usize), (500, 7), (2000, 130), (12000, 48)] {
            // (12000 x 48 is above PAIR_MIN_WORK: half the rows go to the pool)
            // clustered data: many near-ties, the hard case for the bound
            let centers = Array2::from_shape_fn((5, d), |_| rng.uniform() - 0.5);
            let m = Array2::from_shape_fn((n, d), |(i, j)| {
                centers[[i % 5, j]] + 0.05 * (rng.uniform() - 0.5)
            });
            let mut m = m;
            m.row_mut(3).fill(0.0);
            let norms = row_norms(m.view(), None).unwrap();
            let pool = crate::thread_pool(2).unwrap();
            let idx = QuantIndex::build(m.view(), &norms, Some(&pool)).unwrap();
            for qi in [0usize, 1, 7, 3] {
                let q = m.row(qi);
                for (range, k) in [(0..n, 10usize), (100..n / 2, 3), (0..n, 1)] {
                    let want = top_k(m.view(), &norms, q, range.clone(), k, None).unwrap();
                    let got = idx
                        .top_k(m.view(), &norms, q, range.clone(), k, Some(&pool))
                        .unwrap();
                    assert_eq!(got, want, "n={n} d={d} q={qi} range={range:?}");
                }
            }
        }
    }

    /// Every row's first-pass bounds hold the exact cosine (in f64), for
    /// rows and queries of every shape the codes meet: clustered, spiky (one
    /// large component), tiny, dimensions off whole quads; and the bound is
    /// the tight one: at 100 dimensions its mean half-width here is 0.0039,
    /// asserted under 0.005 (coding the query in one part gives 0.0059; on
    /// word vectors, summing `|c_ij| |f_j|` term by term gave 2.7x the width).
    #[test]
    fn bounds_hold_every_exact_cosine() {
        let mut rng = Rng::new(21);
        for &(n, d) in &[(700usize, 100usize), (300, 7), (400, 33), (200, 1)] {
            let centers = Array2::from_shape_fn((3, d), |_| rng.uniform() - 0.5);
            let m = Array2::from_shape_fn((n, d), |(i, j)| match i % 4 {
                0 => rng.uniform() - 0.5,
                1 => centers[[i % 3, j]] + 0.01 * (rng.uniform() - 0.5),
                2 => {
                    if j == i % d {
                        50.0
                    } else {
                        1e-3 * (rng.uniform() - 0.5)
                    }
                }
                _ => 1e-20 * (rng.uniform() - 0.5),
            });
            let norms = row_norms(m.view(), None).unwrap();
            let idx = QuantIndex::build(m.view(), &norms, None).unwrap();
            let rows = n.div_ceil(BLOCK) * BLOCK;
            let mut widths = Vec::new();
            for qi in 0..12 {
                let q = m.row(qi);
                let qc = QueryCode::new(q, idx.quads).unwrap();
                let mut out = vec![0i32; 2 * rows];
                dots_u8(&idx.codes, idx.quads, &qc.codes, &mut out);
                let (sums, fine) = out.split_at(rows);
                let qn = q.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
                for b in 0..rows / BLOCK {
                    let at = b * BLOCK..(b + 1) * BLOCK;
                    let group = Group {
                        sums: sums[at.clone()].try_into().unwrap(),
                        sums_fine: fine[at.clone()].try_into().unwrap(),
                        scale: idx.scale[at.clone()].try_into().unwrap(),
                        err: idx.err[at.clone()].try_into().unwrap(),
                    };
                    // SAFETY: the portable bounds run on any CPU.
                    let (lower, upper) = unsafe { Portable::bounds(&qc, &group) };
                    for i in 0..BLOCK {
                        let r = b * BLOCK + i;
                        if r >= n || norms[r] == 0.0 {
                            continue;
                        }
                        let dot: f64 = m
                            .row(r)
                            .iter()
                            .zip(q)
                            .map(|(&x, &y)| f64::from(x) * f64::from(y))
                            .sum();
                        let cos = dot / (f64::from(norms[r]) * qn);
                        // without the slack: the derivation itself must hold
                        let slack = f64::from(SLACK) - 1e-6;
                        assert!(
                            f64::from(lower[i]) + slack <= cos
                                && cos <= f64::from(upper[i]) - slack,
                            "n={n} d={d} q={qi} row {r}: {cos} outside {} .. {}",
                            lower[i],
                            upper[i]
                        );
                        if d == 100 && r.is_multiple_of(4) {
                            widths.push(f64::from(upper[i] - lower[i]) / 2.0);
                        }
                    }
                }
            }
            if d == 100 {
                let mean = widths.iter().sum::<f64>() / widths.len() as f64;
                assert!(mean < 0.005, "mean half-width {mean}");
            }
        }
    }

    #[test]
    fn batch_equals_single_queries() {
        let mut rng = Rng::new(11);
        let (n, d) = (2500usize, 37usize);
        let (m, norms, pool, idx) = random_index(&mut rng, n, d);
        // 11 queries (groups of 8 and of 3), one of them zero
        let mut queries = Array2::from_shape_fn((11, d), |_| rng.uniform() - 0.5);
        queries.row_mut(4).fill(0.0);
        for (range, k) in [(0..n, 10usize), (17..2001, 4), (5..9, 10)] {
            for p in [None, Some(&pool)] {
                let got = idx
                    .top_k_batch(m.view(), &norms, queries.view(), range.clone(), k, p)
                    .unwrap();
                assert_eq!(got.len(), 11);
                for (q, g) in queries.outer_iter().zip(&got) {
                    let want = top_k(m.view(), &norms, q, range.clone(), k, None).unwrap();
                    assert_eq!(g, &want, "range {range:?} k {k}");
                }
            }
        }
        let none = idx
            .top_k_batch(
                m.view(),
                &norms,
                queries.slice(ndarray::s![..0, ..]),
                0..n,
                3,
                None,
            )
            .unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn stale_index_is_refused() {
        let m = Array2::<f32>::ones((4, 3));
        let norms = row_norms(m.view(), None).unwrap();
        let idx = QuantIndex::build(m.view(), &norms, None).unwrap();
        let other = Array2::<f32>::ones((5, 3));
        let n2 = row_norms(other.view(), None).unwrap();
        assert!(idx
            .top_k(other.view(), &n2, other.row(0), 0..5, 2, None)
            .is_err());
    }
}
