//! Sharing one short job between the calling thread and one pool thread,
//! without ever waiting for a thread that has not started.
//!
//! A single query over a mid-sized matrix takes a few hundred microseconds.
//! Handing half of it to a pool thread halves that when a second core is
//! free (and each core then keeps its half of the rows in its own L2
//! cache), but on a busy machine the pool thread may not run for
//! milliseconds. [`run_pair`] therefore offers the second half to the pool
//! and does the first half itself; whoever comes first to the second half
//! takes it. The caller only waits for a second half that a pool thread has
//! already begun, so a query is never slower than on one thread by more
//! than the cost of the offer.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The offered half and, once a pool thread has run it, its result.
struct Offer<F, T> {
    job: Mutex<Option<F>>,
    result: Mutex<Option<std::thread::Result<T>>>,
    done: Condvar,
}

/// Runs `mine` on the calling thread and `theirs` on a thread of `pool` or,
/// if none has started it by the time `mine` returns, on the calling thread
/// too. Returns both results. A panic in either is resumed on the caller.
///
/// ```
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// let (a, b) = embedrs::kv::run_pair(&pool, || 1 + 1, || 2 * 2);
/// assert_eq!((a, b), (2, 4));
/// ```
pub fn run_pair<A, T, F>(pool: &rayon::ThreadPool, mine: A, theirs: F) -> (T, T)
where
    A: FnOnce() -> T,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let offer = Arc::new(Offer {
        job: Mutex::new(Some(theirs)),
        result: Mutex::new(None),
        done: Condvar::new(),
    });
    let helper = Arc::clone(&offer);
    pool.spawn(move || {
        let job = take(&helper.job);
        if let Some(job) = job {
            let r = panic::catch_unwind(AssertUnwindSafe(job));
            *helper.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
            helper.done.notify_one();
        }
    });
    let a = mine();
    if let Some(job) = take(&offer.job) {
        return (a, job());
    }
    let mut result = offer.result.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(r) = result.take() {
            match r {
                Ok(b) => return (a, b),
                Err(payload) => panic::resume_unwind(payload),
            }
        }
        result = offer
            .done
            .wait(result)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

fn take<F>(slot: &Mutex<Option<F>>) -> Option<F> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn both_halves_run_exactly_once() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        for i in 0..200 {
            let r = Arc::clone(&runs);
            let (a, b) = run_pair(
                &pool,
                || i,
                move || {
                    r.fetch_add(1, Ordering::Relaxed);
                    i * 2
                },
            );
            assert_eq!((a, b), (i, 2 * i));
        }
        assert_eq!(runs.load(Ordering::Relaxed), 200);
    }

    #[test]
    fn a_busy_pool_does_not_hold_the_caller() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        pool.spawn(move || {
            let _ = rx.recv(); // the only pool thread is blocked
        });
        let (a, b) = run_pair(&pool, || 1, || 2);
        assert_eq!((a, b), (1, 2));
        tx.send(()).unwrap();
    }

    #[test]
    fn a_panic_in_the_offered_half_reaches_the_caller() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for _ in 0..20 {
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                run_pair(&pool, || 1, || -> i32 { panic!("offered half failed") })
            }));
            assert!(r.is_err());
        }
    }
}
