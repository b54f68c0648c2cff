//! The oracle of the word2vec fuzz targets, shared with the replay test
//! `tests/fuzz_replay.rs` (both include this file with `#[path]`), so that a
//! corpus file is judged the same way in `cargo fuzz run` and in `cargo test`.
//!
//! Input layout: byte 0 picks the [`ReadOptions`], byte 1 is the `limit`
//! when bit 4 of byte 0 asks for one, the rest is the file:
//!
//! | bits of byte 0 | meaning                                                     |
//! |----------------|-------------------------------------------------------------|
//! | 0              | `no_header` (text target; the binary target sets it only   |
//! |                | together with bit 7, to reach the "text only" refusal)     |
//! | 1-2            | `unicode_errors`: strict, ignore, replace, raw             |
//! | 3              | `allow_nonfinite`                                           |
//! | 4              | `limit = Some(byte 1)`                                      |
//! | 5-6            | file: 0 and 3 plain, 1 the rest gzip-compressed as `x.gz`, |
//! |                | 2 the rest written raw as `x.gz` (a corrupt gzip stream)   |
//!
//! What must hold: no panic (a panic is what libFuzzer and the replay test
//! report), no allocation beyond `-rss_limit_mb`, no `Error::Runtime`
//! (reserved for internal errors), no `Error::OutOfMemory` (inputs are a few
//! KiB and reservations are bounded by the file size), and on `Ok`: one key per row, the
//! dimension and count the header declares (`min(count, limit)` rows), the
//! key kind `unicode_errors` asks for, finite values unless allowed, and a
//! lossless round trip through `write` + `read` whenever the writer accepts
//! the keys.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use embedrs::io::word2vec::{read, write, Keys, ReadOptions, UnicodeErrors, WriteOptions};
use embedrs::Error;

/// How the payload is stored on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Plain,
    Gzip,
    CorruptGzip,
}

/// A per-process scratch directory, on tmpfs when there is one.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("embedrs-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch directory");
        d
    })
}

/// Splits an input into options, container and file bytes.
fn decode(data: &[u8], binary: bool) -> Option<(ReadOptions, Container, &[u8])> {
    if data.len() < 2 {
        return None;
    }
    let flags = data[0];
    let no_header = flags & 1 != 0 && (!binary || flags & 0x80 != 0);
    let unicode_errors = match (flags >> 1) & 3 {
        0 => UnicodeErrors::Strict,
        1 => UnicodeErrors::Ignore,
        2 => UnicodeErrors::Replace,
        _ => UnicodeErrors::Raw,
    };
    let opts = ReadOptions {
        binary,
        limit: (flags & 0x10 != 0).then_some(data[1] as usize),
        no_header,
        unicode_errors,
        allow_nonfinite: flags & 8 != 0,
        threads: 1,
    };
    let container = match (flags >> 5) & 3 {
        1 => Container::Gzip,
        2 => Container::CorruptGzip,
        _ => Container::Plain,
    };
    Some((opts, container, &data[2..]))
}

/// The header a reader should see, computed independently of the reader.
fn expected_header(content: &[u8]) -> Option<(usize, usize)> {
    let end = content
        .iter()
        .position(|&b| b == b'\n')
        .map_or(content.len(), |p| p + 1);
    let text = String::from_utf8_lossy(&content[..end]);
    let parts: Vec<&str> = text.split_whitespace().collect();
    match parts.as_slice() {
        [n, d] => Some((n.parse().ok()?, d.parse().ok()?)),
        _ => None,
    }
}

/// Runs the reader on one input and panics on any broken property.
pub fn check(data: &[u8], binary: bool, dir: &Path) {
    let Some((opts, container, payload)) = decode(data, binary) else {
        return;
    };
    let (path, content) = match container {
        Container::Plain => {
            let p = dir.join(if binary { "in.bin" } else { "in.txt" });
            std::fs::write(&p, payload).expect("write scratch input");
            (p, payload.to_vec())
        }
        Container::Gzip => {
            let p = dir.join("in.gz");
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(payload).unwrap();
            std::fs::write(&p, enc.finish().unwrap()).expect("write scratch input");
            (p, payload.to_vec())
        }
        Container::CorruptGzip => {
            let p = dir.join("in.gz");
            std::fs::write(&p, payload).expect("write scratch input");
            // What a tolerant decoder gets out of it, for the header check.
            let mut out = Vec::new();
            let _ = flate2::read::MultiGzDecoder::new(payload).read_to_end(&mut out);
            (p, out)
        }
    };
    let res = read(&path, &opts);
    let data = match res {
        Err(Error::Runtime(m)) => panic!("internal error reported for user input: {m}"),
        // Inputs are a few KiB and reservations are bounded by the file size.
        Err(Error::OutOfMemory(m)) => panic!("out of memory on a {}-byte input: {m}", data.len()),
        Err(_) => return,
        Ok(d) => d,
    };
    assert!(
        !(opts.binary && opts.no_header),
        "binary + no_header must be refused"
    );
    let (rows, cols) = data.vectors.dim();
    let n_keys = match &data.keys {
        Keys::Text(k) => k.len(),
        Keys::Raw(k) => k.len(),
    };
    assert_eq!(rows, n_keys, "one key per row");
    assert!(cols > 0, "dimension 0 accepted");
    match (&data.keys, opts.unicode_errors) {
        (Keys::Raw(_), UnicodeErrors::Raw)
        | (Keys::Text(_), UnicodeErrors::Strict)
        | (Keys::Text(_), UnicodeErrors::Ignore)
        | (Keys::Text(_), UnicodeErrors::Replace) => {}
        (k, m) => panic!("unicode_errors={m:?} gave keys of the other kind: {k:?}"),
    }
    if opts.no_header {
        assert!(
            opts.limit.is_none_or(|l| rows <= l),
            "{rows} rows for limit {:?}",
            opts.limit
        );
        assert_eq!(
            rows, data.declared_count,
            "no_header: rows == lines counted"
        );
    } else if container != Container::CorruptGzip || expected_header(&content).is_some() {
        let (n, d) = expected_header(&content).expect("Ok without a parseable header");
        assert_eq!(cols, d, "dimension differs from the header");
        assert_eq!(
            data.declared_count, n,
            "declared count differs from the header"
        );
        assert_eq!(rows, opts.limit.map_or(n, |l| n.min(l)), "row count");
    }
    if !opts.allow_nonfinite {
        assert!(
            data.vectors.iter().all(|v| v.is_finite()),
            "non-finite value accepted with allow_nonfinite=false"
        );
    }
    round_trip(&data.keys, &data.vectors, &opts, dir);
}

/// Writes what was read and reads it back: keys and values must survive.
fn round_trip(keys: &Keys, vectors: &ndarray::Array2<f32>, opts: &ReadOptions, dir: &Path) {
    let keys: Vec<String> = match keys {
        Keys::Text(k) => k.clone(),
        Keys::Raw(k) => match k.iter().map(|b| String::from_utf8(b.clone())).collect() {
            Ok(k) => k,
            Err(_) => return,
        },
    };
    let order: Vec<usize> = (0..keys.len()).collect();
    let p = dir.join(if opts.binary { "rt.bin" } else { "rt.txt" });
    let wo = WriteOptions {
        binary: opts.binary,
        write_header: true,
        total_vec: None,
        append: false,
        threads: 1,
    };
    match write(&p, &keys, vectors.view(), &order, &wo) {
        Ok(()) => {}
        Err(Error::InvalidArgument(_)) => return, // keys the format cannot hold
        Err(e) => panic!("writing back what was read failed: {e}"),
    }
    if keys.is_empty() {
        return; // a "0 D" file: nothing more to compare
    }
    let ro = ReadOptions {
        binary: opts.binary,
        allow_nonfinite: opts.allow_nonfinite,
        threads: 1,
        ..Default::default()
    };
    let back = read(&p, &ro).unwrap_or_else(|e| panic!("re-reading a written file failed: {e}"));
    match back.keys {
        Keys::Text(k) => assert_eq!(k, keys, "keys changed in the round trip"),
        Keys::Raw(_) => panic!("raw keys without unicode_errors=raw"),
    }
    assert_eq!(
        back.vectors.dim(),
        vectors.dim(),
        "shape changed in the round trip"
    );
    for (a, b) in vectors.iter().zip(back.vectors.iter()) {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "value {a:e} came back as {b:e}"
        );
    }
}
