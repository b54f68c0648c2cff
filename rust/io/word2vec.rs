//! The word2vec C formats, text and binary, as the word2vec tool and gensim
//! write them.
//!
//! Both start with a header line `COUNT DIMENSION\n`. Then, per vector:
//! * text: `key v1 v2 ... vD` on one line (a trailing space, as the C tool
//!   writes, is allowed);
//! * binary: `key ` (the key's bytes, then one space) followed by `D`
//!   little-endian `f32` values; the C tool adds a `\n` after each vector,
//!   gensim does not, so newlines in front of a key are skipped.
//!
//! Reading follows gensim's rules (a header count larger than `limit` is cut
//! to `limit`; data after the declared count is ignored and reported; text
//! values are parsed as `float` then rounded to `f32`, as NumPy does) and
//! rejects what gensim would silently turn into a broken model: every error
//! names the line (text) or byte offset (binary). Files ending in `.gz` are
//! decompressed on the fly. Text lines are parsed in parallel, a block of
//! lines at a time, so memory stays bounded for any file size.
//!
//! Vectors are read into, and written from, `f32` or `f64` matrices (the
//! [`Element`] types; gensim's `datatype=`): text values keep their full
//! `f64` precision in an `f64` matrix (written as `str(numpy.float64(x))`,
//! as gensim does), while the binary format stores `f32` values whatever the
//! matrix type, as the C tool and gensim do (`f64` rows are rounded to `f32`
//! on writing and widened exactly on reading).
//!
//! Writing goes to a temporary file in the target directory that is renamed
//! over the target only once complete, so an interrupted save never leaves a
//! truncated file in place of a good one.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::floatfmt::{write_f32, write_f64};
use crate::progress::Progress;
use crate::{Error, Result};

/// Element type of the matrices read and written: `f32` or `f64`.
///
/// Sealed: the two implementations are the only ones.
pub trait Element: Copy + Default + Send + Sync + private::Sealed + 'static {
    /// A parsed text value (`f64`), rounded to this type.
    fn from_f64(v: f64) -> Self;
    /// A binary-format value (`f32`), widened exactly to this type.
    fn from_f32(v: f32) -> Self;
    /// The value stored in the binary format (rounded to `f32`).
    fn to_f32(self) -> f32;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
    /// Appends the value as NumPy's `str()` of this type prints it.
    fn write_text(self, out: &mut Vec<u8>);
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl Element for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_f32(v: f32) -> Self {
        v
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
    fn write_text(self, out: &mut Vec<u8>) {
        write_f32(out, self);
    }
}

impl Element for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
    fn write_text(self, out: &mut Vec<u8>) {
        write_f64(out, self);
    }
}

/// What to do with key bytes that are not valid UTF-8 (Python's `errors=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnicodeErrors {
    /// Fail, naming the place.
    Strict,
    /// Drop the invalid bytes.
    Ignore,
    /// Replace each invalid sequence with U+FFFD.
    Replace,
    /// Return the raw bytes; the caller decodes them (other encodings).
    Raw,
}

/// Options of [`read`], named as in gensim's `load_word2vec_format`.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Binary (`true`) or text format.
    pub binary: bool,
    /// Read at most this many vectors.
    pub limit: Option<usize>,
    /// Text file without the `COUNT DIMENSION` header line.
    pub no_header: bool,
    /// Handling of keys that are not UTF-8.
    pub unicode_errors: UnicodeErrors,
    /// Accept NaN and infinite values instead of failing.
    pub allow_nonfinite: bool,
    /// Threads for parsing text (0 = all cores).
    pub threads: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            binary: false,
            limit: None,
            no_header: false,
            unicode_errors: UnicodeErrors::Strict,
            allow_nonfinite: false,
            threads: 0,
        }
    }
}

/// Keys as read: decoded, or raw bytes for [`UnicodeErrors::Raw`].
#[derive(Debug)]
pub enum Keys {
    /// UTF-8 keys.
    Text(Vec<String>),
    /// Undecoded keys.
    Raw(Vec<Vec<u8>>),
}

/// The content of a word2vec file.
#[derive(Debug)]
pub struct Word2VecData<T = f32> {
    /// One key per row of `vectors`, in file order (duplicates kept).
    pub keys: Keys,
    /// The vectors, one row per key.
    pub vectors: Array2<T>,
    /// The count declared by the header (lines counted when there is none).
    pub declared_count: usize,
    /// Whether the file holds more data after the declared vectors.
    pub trailing_data: bool,
}

fn open_read(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(f),
        ))
    } else {
        Box::new(BufReader::with_capacity(4 << 20, f))
    })
}

/// A key or value as shown in an error message: lossy UTF-8, quoted, cut
/// after 60 characters (a "key" can be a whole file without separators).
struct Shown<'a>(&'a [u8]);

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 60;
        let s = String::from_utf8_lossy(self.0);
        if s.chars().count() > MAX {
            let head: String = s.chars().take(MAX).collect();
            write!(f, "{head:?}... ({} bytes)", self.0.len())
        } else {
            write!(f, "{s:?}")
        }
    }
}

fn decode_key(raw: Vec<u8>, mode: UnicodeErrors, place: impl Fn() -> String) -> Result<KeyOut> {
    match mode {
        UnicodeErrors::Raw => Ok(KeyOut::Raw(raw)),
        _ => match String::from_utf8(raw) {
            Ok(s) => Ok(KeyOut::Text(s)),
            Err(e) => {
                let bytes = e.into_bytes();
                if mode == UnicodeErrors::Strict {
                    let bad = std::str::from_utf8(&bytes)
                        .err()
                        .map_or(0, |e| e.valid_up_to());
                    return Err(Error::invalid(format!(
                        "{}: key {:?} is not valid UTF-8 (bad byte at position {bad} of the key); \
                         pass unicode_errors='replace' or 'ignore', or the file's encoding",
                        place(),
                        Shown(&bytes)
                    )));
                }
                let mut s = String::with_capacity(bytes.len());
                for chunk in bytes.utf8_chunks() {
                    s.push_str(chunk.valid());
                    if !chunk.invalid().is_empty() && mode == UnicodeErrors::Replace {
                        s.push('\u{FFFD}');
                    }
                }
                Ok(KeyOut::Text(s))
            }
        },
    }
}

enum KeyOut {
    Text(String),
    Raw(Vec<u8>),
}

struct KeySink {
    text: Vec<String>,
    raw: Vec<Vec<u8>>,
}

impl KeySink {
    fn push(&mut self, k: KeyOut) {
        match k {
            KeyOut::Text(s) => self.text.push(s),
            KeyOut::Raw(b) => self.raw.push(b),
        }
    }
    fn into_keys(self, mode: UnicodeErrors) -> Keys {
        if mode == UnicodeErrors::Raw {
            Keys::Raw(self.raw)
        } else {
            Keys::Text(self.text)
        }
    }
}

fn parse_header(line: &[u8], path: &Path) -> Result<(usize, usize)> {
    if line.is_empty() {
        return Err(Error::format(
            path,
            "the file is empty; expected a header line 'COUNT DIMENSION' \
             (pass no_header=True for a text file without one)",
        ));
    }
    let text = String::from_utf8_lossy(line);
    let parts: Vec<&str> = text.split_whitespace().collect();
    let nums: Vec<Option<usize>> = parts.iter().map(|p| p.parse().ok()).collect();
    match nums.as_slice() {
        // one row of `d` floats must be addressable, whatever the count
        [Some(_), Some(d)] if crate::mem::elements::<f32>(1, *d, String::new).is_err() => {
            Err(Error::format(
                path,
                format!(
                    "line 1: the header declares vectors of dimension {d}, more than this \
                     machine can address; is the header wrong?"
                ),
            ))
        }
        [Some(n), Some(d)] if *d > 0 => Ok((*n, *d)),
        [Some(_), Some(_)] => Err(Error::format(
            path,
            "line 1: the header declares vectors of dimension 0",
        )),
        _ => Err(Error::format(
            path,
            format!(
                "line 1: expected a header 'COUNT DIMENSION', found {:?} \
                 (pass no_header=True for a text file without one, or binary=True/False to match the file)",
                text.chars().take(80).collect::<String>().trim_end()
            ),
        )),
    }
}

/// Reads a word2vec text or binary file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Word2VecData> {
    read_with_progress(path, opts, &Progress::new(0))
}

/// [`read`] into an `f64` matrix: text values keep their full precision.
pub fn read_f64(path: &Path, opts: &ReadOptions) -> Result<Word2VecData<f64>> {
    read_with_progress(path, opts, &Progress::new(0))
}

/// [`read`], counting vectors read in `progress.done` and stopping with
/// [`Error::Interrupted`] soon after `progress.stop` is set (Ctrl-C).
pub fn read_with_progress<T: Element>(
    path: &Path,
    opts: &ReadOptions,
    progress: &Progress,
) -> Result<Word2VecData<T>> {
    if opts.binary && opts.no_header {
        return Err(Error::invalid(
            "no_header is only available for text-format files",
        ));
    }
    let mut r = open_read(path)?;
    let mut line = Vec::new();
    let (declared, dim, first_line_no) = if opts.no_header {
        count_text_lines(path, opts.limit)?
    } else {
        read_line_capped(&mut *r, &mut line, path, MAX_HEADER_LINE, 1)?;
        let (n, d) = parse_header(&line, path)?;
        (n, d, 2)
    };
    let n = opts.limit.map_or(declared, |l| declared.min(l));
    let reserve_rows = rows_to_reserve(path, n, dim, line.len(), opts.binary)?;
    let pool = crate::thread_pool(if opts.binary { 1 } else { opts.threads })?;
    if opts.binary {
        read_binary(
            &mut *r,
            path,
            n,
            dim,
            declared,
            line.len(),
            reserve_rows,
            opts,
            progress,
        )
    } else {
        read_text(
            &mut *r,
            path,
            n,
            dim,
            declared,
            first_line_no,
            opts,
            &pool,
            progress,
        )
    }
}

/// Longest header line accepted (`COUNT DIMENSION` needs a few dozen bytes).
const MAX_HEADER_LINE: usize = 4096;

/// Longest text line accepted: a vector line needs about 10-20 bytes per
/// value, so this allows dimensions in the millions while keeping a file
/// without newlines from being read into memory whole.
const MAX_TEXT_LINE: usize = 1 << 30;

/// Reads one line of at most `cap` bytes (its `\n` included); a longer line
/// is a format error naming `line_no`.
fn read_line_capped(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    path: &Path,
    cap: usize,
    line_no: usize,
) -> Result<usize> {
    let start = buf.len();
    let got = std::io::Read::take(&mut *r, cap as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|e| Error::io(path, e))?;
    if got > cap && buf.last() != Some(&b'\n') {
        buf.truncate(start);
        return Err(Error::format(
            path,
            format!(
                "line {line_no} is longer than {cap} bytes; is this really a word2vec text file \
                 (or a binary one: pass binary=True)?"
            ),
        ));
    }
    Ok(got)
}

/// Checks a header's sizes and returns how many rows to reserve up front.
///
/// A header can claim any size, so it is never trusted for an allocation:
/// `n * dim` must be addressable (checked arithmetic, else a format error
/// naming the header), and the rows reserved before reading are at most what
/// the file can hold: an uncompressed file of known size holds at most
/// `size / (4 * dim + 2)` binary rows (or `size / (2 * dim)` text rows); a
/// gzip stream's size is unknown, so 1 MiB worth of rows. Beyond that, memory grows
/// with the data actually read, and a file shorter than its header ends in
/// the usual "unexpected end of file" error naming the line or offset.
fn rows_to_reserve(
    path: &Path,
    n: usize,
    dim: usize,
    header_len: usize,
    binary: bool,
) -> Result<usize> {
    if crate::mem::elements::<f32>(n, dim, String::new).is_err() {
        return Err(Error::format(
            path,
            format!(
                "line 1: the header declares {n} vectors of dimension {dim}, more than this \
                 machine can address; is the header wrong?"
            ),
        ));
    }
    let size = match std::fs::metadata(path) {
        Ok(m) if m.is_file() && path.extension().is_none_or(|e| e != "gz") => m.len(),
        // a gzip stream: no known size, so room for 1 MiB of floats at most
        _ => return Ok(n.min((1 << 18) / dim.max(1))),
    };
    let have = size.saturating_sub(header_len as u64);
    let dim = dim as u64;
    let per_row = if binary {
        dim.saturating_mul(4).saturating_add(2)
    } else {
        dim.saturating_mul(2)
    };
    Ok(n.min(usize::try_from(have / per_row.max(1)).unwrap_or(usize::MAX)))
}

/// First pass over a header-less text file: (lines, dimension, 1).
fn count_text_lines(path: &Path, limit: Option<usize>) -> Result<(usize, usize, usize)> {
    let mut r = open_read(path)?;
    let mut line = Vec::new();
    let mut count = 0usize;
    let mut dim = 0usize;
    loop {
        if limit.is_some_and(|l| count >= l) {
            break;
        }
        line.clear();
        if read_line_capped(&mut *r, &mut line, path, MAX_TEXT_LINE, count + 1)? == 0 {
            break;
        }
        if count == 0 {
            let t = trim_end(&line);
            dim = t.split(|&b| b == b' ').count().saturating_sub(1);
            if dim == 0 {
                return Err(Error::format(
                    path,
                    "line 1: no values after the first key; cannot tell the vector dimension",
                ));
            }
        }
        count += 1;
    }
    if count == 0 {
        return Err(Error::format(path, "the file is empty"));
    }
    Ok((count, dim, 1))
}

fn trim_end(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && (b[end - 1].is_ascii_whitespace() || b[end - 1] == 0x0b) {
        end -= 1;
    }
    &b[..end]
}

fn nonfinite_error(place: String, key: &[u8]) -> Error {
    Error::invalid(format!(
        "{place}: the vector of {:?} contains NaN or infinity (pass allow_nonfinite=True to accept it)",
        Shown(key)
    ))
}

/// The error for a line too short to hold `dim` values: its values are
/// counted (or the first one that is not a number named) without
/// allocating a row.
fn short_line_error(line: &[u8], dim: usize, line_no: usize) -> String {
    let t = trim_end(line);
    let mut parts = t.split(|&b| b == b' ');
    let key = parts.next().unwrap_or_default();
    let mut found = 0usize;
    for p in parts {
        let s = std::str::from_utf8(p).unwrap_or("\u{FFFD}").trim();
        if s.parse::<f64>().is_err() {
            return format!(
                "line {line_no}: could not parse value {} ({:?}) of key {:?} as a number",
                found + 1,
                Shown(p),
                Shown(key)
            );
        }
        found += 1;
    }
    format!(
        "line {line_no}: expected {dim} values after the key {:?}, found {found} \
         (is this really a text word2vec file with vectors of dimension {dim}?)",
        Shown(key)
    )
}

/// Parses one text line into its key bytes and `row`.
fn parse_text_line<T: Element>(
    line: &[u8],
    row: &mut [T],
    line_no: usize,
    allow_nonfinite: bool,
) -> std::result::Result<Vec<u8>, String> {
    let t = trim_end(line);
    let mut parts = t.split(|&b| b == b' ');
    let key = parts.next().unwrap_or_default().to_vec();
    let dim = row.len();
    let mut i = 0usize;
    for p in parts {
        if i >= dim {
            i += 1;
            continue;
        }
        let s = std::str::from_utf8(p).unwrap_or("\u{FFFD}").trim();
        match s.parse::<f64>() {
            Ok(v) => row[i] = T::from_f64(v),
            Err(_) => {
                return Err(format!(
                    "line {line_no}: could not parse value {} ({:?}) of key {:?} as a number",
                    i + 1,
                    Shown(p),
                    Shown(&key)
                ))
            }
        }
        i += 1;
    }
    if i != dim {
        return Err(format!(
            "line {line_no}: expected {dim} values after the key {:?}, found {i} \
             (is this really a text word2vec file with vectors of dimension {dim}?)",
            Shown(&key)
        ));
    }
    if !allow_nonfinite && row.iter().any(|v| !v.finite()) {
        return Err(nonfinite_error(format!("line {line_no}"), &key).to_string());
    }
    Ok(key)
}

#[allow(clippy::too_many_arguments)]
fn read_text<T: Element>(
    r: &mut dyn BufRead,
    path: &Path,
    n: usize,
    dim: usize,
    declared: usize,
    first_line_no: usize,
    opts: &ReadOptions,
    pool: &rayon::ThreadPool,
    progress: &Progress,
) -> Result<Word2VecData<T>> {
    const BLOCK: usize = 8192;
    // Rows grow with the lines actually read (never with the header's
    // count), and a block's rows are only allocated for lines long enough
    // to hold `dim` values (at least `2 * dim` bytes), so memory stays
    // within about twice the text read.
    let min_line = 2 * dim;
    // A vector line holds a key (at most MAX_BINARY_KEY bytes, as in binary
    // files) and `dim` numbers of a few dozen bytes each: a longer line is not
    // a vector line, and is refused before it fills memory.
    let line_cap = dim
        .saturating_mul(64)
        .saturating_add(MAX_BINARY_KEY)
        .min(MAX_TEXT_LINE);
    let mut data: Vec<T> = Vec::new();
    let mut keys = KeySink {
        text: Vec::with_capacity(n.min(BLOCK)),
        raw: Vec::new(),
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut starts: Vec<usize> = Vec::with_capacity(BLOCK + 1);
    let mut done = 0usize;
    while done < n {
        if progress.should_stop() {
            return Err(Error::Interrupted);
        }
        buf.clear();
        starts.clear();
        let want = BLOCK.min(n - done);
        while starts.len() < want {
            let start = buf.len();
            let line_no = first_line_no + done + starts.len();
            if read_line_capped(r, &mut buf, path, line_cap, line_no)? == 0 {
                break;
            }
            starts.push(start);
        }
        let got = starts.len();
        starts.push(buf.len());
        let short = (0..got).find(|&i| trim_end(&buf[starts[i]..starts[i + 1]]).len() < min_line);
        let ok = short.unwrap_or(got);
        let base_line = first_line_no + done;
        crate::mem::reserve(&mut data, ok * dim, || {
            format!("{}: vectors of lines {base_line}..", path.display())
        })?;
        let old_len = data.len();
        data.resize(old_len + ok * dim, T::default());
        let rows = &mut data[old_len..];
        let parsed: Vec<std::result::Result<Vec<u8>, String>> = pool.install(|| {
            rows.par_chunks_mut(dim)
                .enumerate()
                .map(|(i, row)| {
                    parse_text_line(
                        &buf[starts[i]..starts[i + 1]],
                        row,
                        base_line + i,
                        opts.allow_nonfinite,
                    )
                })
                .collect()
        });
        for (i, p) in parsed.into_iter().enumerate() {
            let raw = p.map_err(|m| Error::format(path, m))?;
            let line_no = base_line + i;
            keys.push(decode_key(raw, opts.unicode_errors, || {
                format!("line {line_no}")
            })?);
        }
        if let Some(i) = short {
            return Err(Error::format(
                path,
                short_line_error(&buf[starts[i]..starts[i + 1]], dim, base_line + i),
            ));
        }
        done += got;
        progress.add(got as u64);
        if got < want {
            return Err(Error::format(
                path,
                format!(
                    "unexpected end of file after line {}: the header declares {declared} vectors \
                     but the file holds only {done} (is the count wrong or the file truncated?)",
                    first_line_no + done - 1
                ),
            ));
        }
    }
    let vectors = Array2::from_shape_vec((n, dim), data)
        .map_err(|e| Error::Runtime(format!("internal shape error: {e}")))?;
    let trailing = has_trailing_data(r, path)?;
    Ok(Word2VecData {
        keys: keys.into_keys(opts.unicode_errors),
        vectors,
        declared_count: declared,
        trailing_data: trailing && opts.limit.is_none_or(|l| l >= declared),
    })
}

/// Whether a binary row's bytes are in fact the text of numbers: every byte
/// one of `0-9 . - + e E`, space or newline, with at least one separator.
/// Real float data passes this with probability about `(14/256)^(4 dim)`
/// (below `1e-10` from `dim = 2` on), so a text file opened with
/// `binary=True` is reported instead of turning into garbage keys.
fn looks_like_text<T: Element>(row: &[T]) -> bool {
    if row.len() < 2 {
        return false;
    }
    let text_byte = |b: u8| b.is_ascii_digit() || b" .-+eE\n\r\t".contains(&b);
    let mut separator = false;
    for v in row {
        for b in v.to_f32().to_le_bytes() {
            if !text_byte(b) {
                return false;
            }
            separator |= b == b' ' || b == b'\n';
        }
    }
    separator
}

/// Whether anything but white space follows the vectors read.
fn has_trailing_data(r: &mut dyn BufRead, path: &Path) -> Result<bool> {
    loop {
        let avail = r.fill_buf().map_err(|e| Error::io(path, e))?;
        if avail.is_empty() {
            return Ok(false);
        }
        if avail.iter().any(|b| !b.is_ascii_whitespace()) {
            return Ok(true);
        }
        let k = avail.len();
        r.consume(k);
    }
}

/// Longest key accepted in a binary file before deciding it is not one.
const MAX_BINARY_KEY: usize = 1 << 20;

fn read_binary<T: Element>(
    r: &mut dyn BufRead,
    path: &Path,
    n: usize,
    dim: usize,
    declared: usize,
    header_len: usize,
    start_rows: usize,
    opts: &ReadOptions,
    progress: &Progress,
) -> Result<Word2VecData<T>> {
    // Values are appended straight from the reader's buffer: no zero-fill
    // of the matrix and a single copy of the data.
    let mut data: Vec<T> = Vec::new();
    crate::mem::reserve(&mut data, start_rows * dim, || {
        format!(
            "{}: {start_rows} vectors of dimension {dim}",
            path.display()
        )
    })?;
    let mut keys = KeySink {
        text: Vec::with_capacity(start_rows),
        raw: Vec::new(),
    };
    let mut offset = header_len as u64;
    let row_bytes = dim * 4;
    for i in 0..n {
        if i % 1024 == 0 {
            if progress.should_stop() {
                return Err(Error::Interrupted);
            }
            progress.add(i.min(1024) as u64);
        }
        let key_offset = offset;
        let mut key = Vec::new();
        // Key: bytes up to the first space; newlines in front are skipped.
        loop {
            let avail = r.fill_buf().map_err(|e| Error::io(path, e))?;
            if avail.is_empty() {
                return Err(Error::format(
                    path,
                    format!(
                        "unexpected end of file at byte offset {offset} while reading the key of entry {} \
                         (the header declares {declared} vectors; is the count wrong or the file truncated?)",
                        i + 1
                    ),
                ));
            }
            let (used, done) = match avail.iter().position(|&b| b == b' ') {
                Some(p) => (p + 1, Some(p)),
                None => (avail.len(), None),
            };
            key.extend_from_slice(&avail[..done.unwrap_or(used)]);
            r.consume(used);
            offset += used as u64;
            if done.is_some() {
                break;
            }
            if key.len() > MAX_BINARY_KEY {
                return Err(Error::format(
                    path,
                    format!(
                        "no space after the key of entry {} starting at byte offset {key_offset} \
                         within {MAX_BINARY_KEY} bytes; is this really a binary word2vec file?",
                        i + 1
                    ),
                ));
            }
        }
        let lead = key.iter().take_while(|&&b| b == b'\n').count();
        key.drain(..lead);
        let row_start = data.len();
        let mut need = row_bytes;
        let mut carry = [0u8; 4];
        let mut carry_len = 0usize;
        while need > 0 {
            let avail = r.fill_buf().map_err(|e| Error::io(path, e))?;
            if avail.is_empty() {
                let got = row_bytes - need;
                return Err(Error::format(
                    path,
                    format!(
                        "unexpected end of file at byte offset {}: entry {} ({:?}) needs {row_bytes} bytes of vector data \
                         but only {got} remain (the header declares {declared} vectors of dimension {dim}; \
                         is the file truncated, or is it a text file?)",
                        offset + got as u64,
                        i + 1,
                        Shown(&key),
                    ),
                ));
            }
            let take = avail.len().min(need);
            let mut chunk = &avail[..take];
            if carry_len > 0 {
                let k = (4 - carry_len).min(chunk.len());
                carry[carry_len..carry_len + k].copy_from_slice(&chunk[..k]);
                carry_len += k;
                chunk = &chunk[k..];
                if carry_len == 4 {
                    data.push(T::from_f32(f32::from_le_bytes(carry)));
                    carry_len = 0;
                }
            }
            let whole = chunk.len() / 4 * 4;
            crate::mem::reserve(&mut data, whole / 4 + 1, || {
                format!("{}: the vector of entry {}", path.display(), i + 1)
            })?;
            data.extend(
                chunk[..whole]
                    .chunks_exact(4)
                    .map(|b| T::from_f32(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            );
            let rest = &chunk[whole..];
            carry[..rest.len()].copy_from_slice(rest);
            carry_len += rest.len();
            r.consume(take);
            need -= take;
        }
        let row = &data[row_start..];
        if i == 0 && looks_like_text(row) {
            return Err(Error::format(
                path,
                format!(
                    "the vector data of entry 1 ({:?}) at byte offset {key_offset} is text, \
                     not little-endian floats: this is a text word2vec file; load it with binary=False",
                    Shown(&key)
                ),
            ));
        }
        if !opts.allow_nonfinite && row.iter().any(|v| !v.finite()) {
            return Err(Error::format(
                path,
                nonfinite_error(format!("entry {} at byte offset {key_offset}", i + 1), &key)
                    .to_string(),
            ));
        }
        offset += row_bytes as u64;
        keys.push(decode_key(key, opts.unicode_errors, || {
            format!("entry {} at byte offset {key_offset}", i + 1)
        })?);
    }
    let vectors = Array2::from_shape_vec((n, dim), data)
        .map_err(|e| Error::Runtime(format!("internal shape error: {e}")))?;
    let trailing = has_trailing_data(r, path)?;
    Ok(Word2VecData {
        keys: keys.into_keys(opts.unicode_errors),
        vectors,
        declared_count: declared,
        trailing_data: trailing && opts.limit.is_none_or(|l| l >= declared),
    })
}

/// Options of [`write`], named as in gensim's `save_word2vec_format`.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Binary (`true`) or text format.
    pub binary: bool,
    /// Write the `COUNT DIMENSION` line.
    pub write_header: bool,
    /// Count to declare in the header (default: the number of keys).
    pub total_vec: Option<usize>,
    /// Append to the file instead of replacing it (not atomic).
    pub append: bool,
    /// Threads for formatting text (0 = all cores).
    pub threads: usize,
}

/// A temporary path next to `path`, unique to this process and moment.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    path.with_file_name(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

/// Writes the rows `order` of `vectors`, labelled by `keys` (same length,
/// prefix already applied), in word2vec format.
pub fn write<T: Element>(
    path: &Path,
    keys: &[String],
    vectors: ArrayView2<T>,
    order: &[usize],
    opts: &WriteOptions,
) -> Result<()> {
    write_with_progress(path, keys, vectors, order, opts, &Progress::new(0))
}

/// [`write`], counting vectors written in `progress.done` and stopping with
/// [`Error::Interrupted`] soon after `progress.stop` is set; the target is
/// then left as it was (or, with `append`, holds the rows written so far).
pub fn write_with_progress<T: Element>(
    path: &Path,
    keys: &[String],
    vectors: ArrayView2<T>,
    order: &[usize],
    opts: &WriteOptions,
    progress: &Progress,
) -> Result<()> {
    if keys.len() != order.len() {
        return Err(Error::invalid(format!(
            "{} keys for {} rows",
            keys.len(),
            order.len()
        )));
    }
    let n = vectors.nrows();
    if let Some(&bad) = order.iter().find(|&&i| i >= n) {
        return Err(Error::invalid(format!(
            "row {bad} is outside the {n} rows of the matrix"
        )));
    }
    if let Some(k) = keys
        .iter()
        .find(|k| k.is_empty() || k.contains(' ') || k.contains('\n'))
    {
        return Err(Error::invalid(format!(
            "key {k:?} cannot be stored in word2vec format: keys must be non-empty and \
             contain no space or newline"
        )));
    }
    let target = if opts.append {
        path.to_path_buf()
    } else {
        temp_path_for(path)
    };
    let res = write_to(&target, path, keys, vectors, order, opts, progress);
    if opts.append {
        return res;
    }
    match res {
        Ok(()) => std::fs::rename(&target, path).map_err(|e| {
            let _ = std::fs::remove_file(&target);
            Error::io(path, e)
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&target);
            Err(e)
        }
    }
}

fn write_to<T: Element>(
    target: &Path,
    shown: &Path,
    keys: &[String],
    vectors: ArrayView2<T>,
    order: &[usize],
    opts: &WriteOptions,
    progress: &Progress,
) -> Result<()> {
    let io = |e| Error::io(shown, e);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(opts.append)
        .truncate(!opts.append)
        .open(target)
        .map_err(io)?;
    let gz = shown.extension().is_some_and(|e| e == "gz");
    let inner: Box<dyn Write> = if gz {
        Box::new(flate2::write::GzEncoder::new(
            file.try_clone().map_err(io)?,
            flate2::Compression::default(),
        ))
    } else {
        Box::new(file.try_clone().map_err(io)?)
    };
    let mut w = BufWriter::with_capacity(1 << 20, inner);
    let dim = vectors.ncols();
    if opts.write_header {
        writeln!(w, "{} {dim}", opts.total_vec.unwrap_or(keys.len())).map_err(io)?;
    }
    let pool = crate::thread_pool(if opts.binary { 1 } else { opts.threads })?;
    const BLOCK: usize = 4096;
    for (kb, ob) in keys.chunks(BLOCK).zip(order.chunks(BLOCK)) {
        if progress.should_stop() {
            return Err(Error::Interrupted);
        }
        progress.add(kb.len() as u64);
        let chunks: Vec<Vec<u8>> = pool.install(|| {
            kb.par_iter()
                .zip(ob.par_iter())
                .map(|(k, &i)| {
                    let row = vectors.row(i);
                    let mut out = Vec::with_capacity(k.len() + 1 + dim * 12);
                    out.extend_from_slice(k.as_bytes());
                    out.push(b' ');
                    if opts.binary {
                        for v in row.iter() {
                            out.extend_from_slice(&v.to_f32().to_le_bytes());
                        }
                    } else {
                        for (j, v) in row.iter().enumerate() {
                            if j > 0 {
                                out.push(b' ');
                            }
                            v.write_text(&mut out);
                        }
                        out.push(b'\n');
                    }
                    out
                })
                .collect()
        });
        for c in chunks {
            w.write_all(&c).map_err(io)?;
        }
    }
    let inner = w.into_inner().map_err(|e| io(e.into_error()))?;
    drop(inner); // finishes the gzip stream, if any
    file.sync_all().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("embedrs-io-{}-{name}", std::process::id()))
    }

    #[test]
    fn round_trip_text_and_binary() {
        let m = array![[1.0f32, -0.5, 1e-5], [0.25, 3.0, -7.5]];
        let keys = vec!["a".to_string(), "é".to_string()];
        for binary in [false, true] {
            let p = tmp(if binary { "rt.bin" } else { "rt.txt" });
            let wo = WriteOptions {
                binary,
                write_header: true,
                total_vec: None,
                append: false,
                threads: 2,
            };
            write(&p, &keys, m.view(), &[1, 0], &wo).unwrap();
            let d = read(
                &p,
                &ReadOptions {
                    binary,
                    ..Default::default()
                },
            )
            .unwrap();
            match d.keys {
                Keys::Text(k) => assert_eq!(k, vec!["a", "é"]),
                Keys::Raw(_) => panic!(),
            }
            assert_eq!(d.vectors.row(0), m.row(1));
            assert_eq!(d.vectors.row(1), m.row(0));
            assert!(!d.trailing_data);
            std::fs::remove_file(&p).unwrap();
        }
    }

    #[test]
    fn f64_text_is_exact_and_binary_is_f32() {
        let m = array![
            [0.1f64, -1.0 / 3.0, 1e-300],
            [0.999_999_999_987, 2.5, -7.25e20]
        ];
        let keys = vec!["x".to_string(), "y".to_string()];
        for binary in [false, true] {
            let p = tmp(if binary { "rt64.bin" } else { "rt64.txt" });
            let wo = WriteOptions {
                binary,
                write_header: true,
                total_vec: None,
                append: false,
                threads: 1,
            };
            write(&p, &keys, m.view(), &[0, 1], &wo).unwrap();
            let opts = ReadOptions {
                binary,
                ..Default::default()
            };
            let d = read_f64(&p, &opts).unwrap();
            let as_f32 = read(&p, &opts).unwrap();
            if binary {
                // the binary format holds f32 values: rounded once, widened exactly
                assert_eq!(d.vectors, m.mapv(|v| f64::from(v as f32)));
            } else {
                assert_eq!(d.vectors, m);
            }
            assert_eq!(as_f32.vectors, m.mapv(|v| v as f32));
            std::fs::remove_file(&p).unwrap();
        }
    }

    #[test]
    fn bad_inputs_name_the_place() {
        let p = tmp("bad.txt");
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"2 3\na 1 2 3\n", "unexpected end of file after line 2"),
            (b"1 3\na 1 2\n", "line 2: expected 3 values"),
            (b"1 2\na 1 nan\n", "line 2: the vector"),
            (b"1 2\na 1 x\n", "line 2: could not parse"),
            (b"1 2\n\xff 1 2\n", "line 2: key"),
            (b"x y\n", "line 1: expected a header"),
        ];
        for (content, want) in cases {
            std::fs::write(&p, content).unwrap();
            let err = read(&p, &ReadOptions::default()).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        let mut bin = b"2 2\na ".to_vec();
        bin.extend_from_slice(&1.0f32.to_le_bytes());
        bin.extend_from_slice(&2.0f32.to_le_bytes());
        bin.extend_from_slice(b"\nb ");
        bin.extend_from_slice(&1.0f32.to_le_bytes());
        std::fs::write(&p, &bin).unwrap();
        let opts = ReadOptions {
            binary: true,
            ..Default::default()
        };
        let err = read(&p, &opts).unwrap_err().to_string();
        assert!(err.contains("byte offset 21"), "{err}");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn hostile_headers_are_errors_not_aborts() {
        let p = tmp("hostile.txt");
        let text: &[(&[u8], &str)] = &[
            (
                b"1000000000000 3\na 1 2 3\n",
                "declares 1000000000000 vectors but the file holds only 1",
            ),
            (
                b"1000 1000000000\na 1 2 3\n",
                "line 2: expected 1000000000 values after the key \"a\", found 3",
            ),
            (
                b"4611686018427387904 4611686018427387904\na 1\n",
                "more than this machine can address",
            ),
            (b"18446744073709551616 3\n", "line 1: expected a header"),
            (
                b"0 9999999999999999994\n",
                "line 1: the header declares vectors of dimension 9999999999999999994",
            ),
        ];
        for binary in [false, true] {
            for (content, want) in text {
                std::fs::write(&p, content).unwrap();
                let opts = ReadOptions {
                    binary,
                    ..Default::default()
                };
                let err = read(&p, &opts).unwrap_err();
                assert!(matches!(err, Error::Format { .. }), "{err:?}");
                let err = err.to_string();
                if binary && want.starts_with("line 2") {
                    // binary: the 1e9-float row is simply missing
                    assert!(err.contains("unexpected end of file"), "{err}");
                } else if binary && want.contains("holds only") {
                    assert!(err.contains("unexpected end of file"), "{err}");
                } else {
                    assert!(
                        err.contains(want),
                        "binary={binary}: {err:?} should contain {want:?}"
                    );
                }
            }
        }
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn text_file_read_as_binary_is_refused() {
        let p = tmp("text-as-bin.txt");
        std::fs::write(&p, b"2 3\nab 0.125 -1.5 2\ncd 1 2 3\n").unwrap();
        let opts = ReadOptions {
            binary: true,
            ..Default::default()
        };
        let err = read(&p, &opts).unwrap_err().to_string();
        assert!(err.contains("load it with binary=False"), "{err}");
        std::fs::remove_file(&p).unwrap();
        // real float data is not mistaken for text
        assert!(!looks_like_text(&[1.0f32, -0.5, 0.25]));
        assert!(looks_like_text(&[
            f32::from_le_bytes(*b"0.12"),
            f32::from_le_bytes(*b"5 -1")
        ]));
    }

    #[test]
    fn a_line_without_end_is_capped() {
        let mut r: &[u8] = b"abcdef";
        let mut buf = Vec::new();
        let err = read_line_capped(&mut r, &mut buf, Path::new("f"), 4, 7).unwrap_err();
        assert!(
            err.to_string().contains("line 7 is longer than 4 bytes"),
            "{err}"
        );
        let mut r: &[u8] = b"abc\nd";
        assert_eq!(
            read_line_capped(&mut r, &mut buf, Path::new("f"), 4, 1).unwrap(),
            4
        );
    }

    #[test]
    fn a_text_line_longer_than_its_dimension_allows_is_refused() {
        let p = tmp("long-line.txt");
        let mut content = b"1 2\na ".to_vec();
        content.extend(std::iter::repeat_n(b"1 ".as_slice(), 600_000).flatten());
        std::fs::write(&p, &content).unwrap();
        let err = read(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("line 2 is longer than"), "{err}");
        std::fs::remove_file(&p).unwrap();
    }
}
