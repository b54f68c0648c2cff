//! Allocation sized by users: checked arithmetic and fallible allocation.
//!
//! Rust aborts the process when an ordinary allocation fails, and a size
//! computed as `rows * cols` can overflow. Any buffer whose size comes from
//! outside (a file header, a `topn`, a corpus) is therefore sized with
//! [`elements`] and allocated with [`zeroed`] or [`reserve`], which turn both
//! failures into an [`Error`] the caller can report: `InvalidArgument` for a
//! size that cannot be represented, `OutOfMemory` for one the machine cannot
//! provide.
//!
//! It also holds the crate's one cache-prefetch primitive, [`prefetch`]
//! (with [`prefetch_span`]), which the trainers use to hide the latency of
//! random row access.

use crate::{Error, Result};

/// Asks the CPU to start loading the cache line that holds `p` into every
/// cache level. A hint only: no effect on results, nothing happens off
/// x86-64. Any address may be given (a prefetch reads no data, never
/// faults, and forms no reference), so callers may point past their data.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch instruction neither reads data into the program
    // nor faults, whatever the address; the pointer is never dereferenced.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`prefetch`] with the intent to write (`prefetchw`): the line arrives
/// in exclusive state, so the write that follows needs no second request
/// to take it from the other cores. Processors without the instruction
/// execute it as a no-op.
#[inline(always)]
pub(crate) fn prefetch_write<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as for `prefetch`: the instruction loads nothing into the
    // program, writes no data and never faults, whatever the address.
    unsafe {
        std::arch::asm!(
            "prefetchw [{0}]",
            in(reg) p,
            options(nostack, preserves_flags, readonly)
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`prefetch_write`] for each 64-byte step of the `n` values starting at
/// `p` (a matrix row about to be updated).
#[inline(always)]
pub(crate) fn prefetch_span_write<T>(p: *const T, n: usize) {
    prefetch_lines::<T, true>(p, n)
}

/// [`prefetch`] for each 64-byte step of the `n` values starting at `p`
/// (a matrix row about to be read).
#[inline(always)]
pub(crate) fn prefetch_span<T>(p: *const T, n: usize) {
    prefetch_lines::<T, false>(p, n)
}

/// One prefetch per 64-byte step of the `n` values at `p`, for writing
/// when `WRITE`.
#[inline(always)]
fn prefetch_lines<T, const WRITE: bool>(p: *const T, n: usize) {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    let base = p as *const u8;
    let mut off = 0;
    while off < bytes {
        if WRITE {
            prefetch_write(base.wrapping_add(off));
        } else {
            prefetch(base.wrapping_add(off));
        }
        off += 64;
    }
}

/// `rows * cols`, or an `InvalidArgument` error naming `what` on overflow
/// (also when the byte size `rows * cols * size_of::<T>()` overflows).
pub fn elements<T>(rows: usize, cols: usize, what: impl FnOnce() -> String) -> Result<usize> {
    rows.checked_mul(cols)
        .filter(|n| n.checked_mul(std::mem::size_of::<T>().max(1)).is_some())
        .filter(|n| n.saturating_mul(std::mem::size_of::<T>().max(1)) <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{}: {rows} x {cols} elements do not fit in memory on this machine",
                what()
            ))
        })
}

/// Reserves room for `additional` more elements in `v`, or fails with
/// `OutOfMemory` naming `what`.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize, what: impl FnOnce() -> String) -> Result<()> {
    v.try_reserve(additional)
        .map_err(|_| oom::<T>(additional, what))
}

/// A vector of `n` default (zero) values, or `OutOfMemory` naming `what`.
pub fn zeroed<T: Default + Clone>(n: usize, what: impl FnOnce() -> String) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom::<T>(n, what))?;
    v.resize(n, T::default());
    Ok(v)
}

/// A zeroed buffer of `len` bytes for large data read at random, such as an
/// approximate-search graph with its rows: an anonymous memory map (page
/// aligned), which on Linux asks for transparent huge pages before any page
/// is touched. Each random row read then costs one TLB entry per 2 MiB
/// instead of one per 4 KiB; on a 1M x 100 index that alone cut the median
/// query time by 1.16-1.23x (see `benches/RESULTS.md`). Where huge pages are off or
/// unavailable the hint is ignored and the buffer works the same.
/// `OutOfMemory` naming `what` if the map cannot be made.
pub fn huge_zeroed(len: usize, what: impl FnOnce() -> String) -> Result<memmap2::MmapMut> {
    // a zero-length map is an error on some systems: map one byte, use none
    let map = memmap2::MmapMut::map_anon(len.max(1)).map_err(|_| oom::<u8>(len, what))?;
    #[cfg(target_os = "linux")]
    if len >= HUGE_PAGE_MIN {
        // a hint: a kernel without transparent huge pages refuses it, and
        // the buffer is the same either way. (Asking the same for a
        // read-only map of an index file changed nothing measurable: this
        // kernel maps the page cache's large folios with or without it.)
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    Ok(map)
}

/// Buffers smaller than this are not worth a huge page (one is 2 MiB on
/// x86-64), as in NumPy's own use of the same hint.
#[cfg(target_os = "linux")]
const HUGE_PAGE_MIN: usize = 4 << 20;

fn oom<T>(n: usize, what: impl FnOnce() -> String) -> Error {
    let bytes = (n as u128) * (std::mem::size_of::<T>() as u128);
    Error::OutOfMemory(format!(
        "{}: cannot allocate {n} elements ({:.1} GiB)",
        what(),
        bytes as f64 / (1u64 << 30) as f64
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let e = elements::<f32>(1 << 62, 1 << 62, || "header".into()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        assert!(e.to_string().starts_with("header:"));
        assert!(elements::<f32>(usize::MAX / 2, 1, || "x".into()).is_err());
        assert_eq!(elements::<f32>(1000, 3, || "x".into()).unwrap(), 3000);
    }

    /// Prefetches are hints: any address, mapped or not, leaves the data
    /// and the program alone (the write-intent form included, which must
    /// not change the bytes it asks for).
    #[test]
    fn prefetches_of_any_address_change_nothing() {
        let data: Vec<f32> = (0..300).map(|i| i as f32).collect();
        prefetch_span(data.as_ptr(), data.len());
        prefetch_span_write(data.as_ptr(), data.len());
        for p in [
            std::ptr::null::<f32>(),
            usize::MAX as *const f32,
            64 as *const f32,
        ] {
            prefetch(p);
            prefetch_write(p);
            prefetch_span_write(p, 40);
        }
        assert!(data.iter().enumerate().all(|(i, &v)| v == i as f32));
    }

    #[test]
    fn impossible_allocation_is_out_of_memory() {
        let e = zeroed::<f32>(isize::MAX as usize / 2, || "vectors".into()).unwrap_err();
        assert!(matches!(e, Error::OutOfMemory(_)), "{e:?}");
        let mut v: Vec<u8> = Vec::new();
        assert!(matches!(
            reserve(&mut v, usize::MAX, || "keys".into()),
            Err(Error::OutOfMemory(_))
        ));
        assert_eq!(zeroed::<f32>(4, || "x".into()).unwrap(), vec![0.0; 4]);
    }

    /// Where the system offers transparent huge pages only on request
    /// (`madvise`, the usual default), a large buffer asks for them: the
    /// kernel reports its mapping eligible.
    #[test]
    #[cfg(target_os = "linux")]
    fn large_buffers_ask_for_huge_pages() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        if !mode.is_ok_and(|m| m.contains("[madvise]")) {
            return; // "always" gives them to every buffer, "never" to none
        }
        let eligible = |addr: usize| -> Option<bool> {
            let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
            let mut inside = false;
            for line in smaps.lines() {
                let range = line.split_whitespace().next().unwrap_or("");
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        inside = a <= addr && addr < b;
                        continue;
                    }
                }
                if inside {
                    if let Some(v) = line.strip_prefix("THPeligible:") {
                        return Some(v.trim() == "1");
                    }
                }
            }
            None
        };
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        if !smaps.contains("THPeligible:") {
            return; // a kernel too old to report it
        }
        let big = huge_zeroed(16 << 20, || "index".into()).unwrap();
        let e = eligible(big.as_ptr() as usize).expect("the buffer's mapping in /proc/self/smaps");
        assert!(e, "a 16 MiB buffer should be eligible for huge pages");
    }

    #[test]
    fn huge_buffers_are_zeroed_writable_and_page_aligned() {
        for len in [0usize, 1, 4096, (8 << 20) + 3] {
            let mut m = huge_zeroed(len, || "index".into()).unwrap();
            assert!(m.len() >= len.max(1));
            assert_eq!(m.as_ptr() as usize % 4096, 0);
            assert!(m[..len].iter().all(|&b| b == 0));
            if len > 0 {
                m[len - 1] = 7;
                assert_eq!(m[len - 1], 7);
            }
        }
    }
}
