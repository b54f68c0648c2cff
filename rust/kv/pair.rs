//! Sharing one short job between the calling thread and one pool thread,
//! without ever waiting for a thread that is not working on it.
//!
//! A single query over a mid-sized matrix takes a few hundred microseconds.
//! Handing half of it to a pool thread halves that when a second core is
//! free (and each core then keeps its half of the rows in its own L2
//! cache), but on a busy machine the pool thread may not run for
//! milliseconds, or may run slowly beside another process. [`share`]
//! therefore cuts the job into pieces: the caller takes them from the front,
//! a pool thread (once it starts) from the back, one at a time, until they
//! meet. The caller waits at most for the one piece the helper is working on,
//! and not at all for a helper that has not started.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Where the helper stands.
enum Helper<T> {
    NotStarted,
    Running,
    /// Its accumulator (`None` if it took no piece), or its panic.
    Finished(std::thread::Result<Option<T>>),
    /// The caller finished every piece before the helper started.
    Closed,
}

/// The pieces not yet taken (`front..back`) and the helper's state.
struct Board<T> {
    front: usize,
    back: usize,
    helper: Helper<T>,
}

struct Shared<T> {
    board: Mutex<Board<T>>,
    done: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Board<T>> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `work(i, acc)` for every piece `i` in `0..pieces`: the calling
/// thread from piece 0 upwards into its accumulator, one thread of `pool`
/// (if it starts in time) from the last piece downwards into its own, each
/// accumulator starting as `init()`. Returns the two merged with `merge`. A
/// panic in the helper is resumed on the caller.
///
/// ```
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// let sum = embedrs::kv::share(&pool, 10, || 0, |i, acc| *acc += i * i, |a, b| a + b);
/// assert_eq!(sum, 285);
/// ```
pub fn share<T, I, W, M>(pool: &rayon::ThreadPool, pieces: usize, init: I, work: W, merge: M) -> T
where
    T: Send + 'static,
    I: Fn() -> T + Send + Sync + 'static,
    W: Fn(usize, &mut T) + Send + Sync + 'static,
    M: Fn(T, T) -> T + Send + Sync + 'static,
{
    let shared = Arc::new(Shared {
        board: Mutex::new(Board {
            front: 0,
            back: pieces,
            helper: Helper::NotStarted,
        }),
        done: Condvar::new(),
    });
    let job = Arc::new((init, work));
    if pieces > 1 {
        let (shared, job) = (Arc::clone(&shared), Arc::clone(&job));
        pool.spawn(move || help(&shared, &job.0, &job.1));
    }
    let (init, work) = (&job.0, &job.1);
    let mut acc = init();
    loop {
        let mut board = shared.lock();
        if board.front < board.back {
            let i = board.front;
            board.front += 1;
            drop(board);
            work(i, &mut acc);
            continue;
        }
        if matches!(board.helper, Helper::NotStarted) {
            board.helper = Helper::Closed;
            return acc;
        }
        while matches!(board.helper, Helper::Running) {
            board = shared
                .done
                .wait(board)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let theirs = std::mem::replace(&mut board.helper, Helper::Closed);
        drop(board);
        return match theirs {
            Helper::Finished(Ok(Some(b))) => merge(acc, b),
            Helper::Finished(Err(payload)) => panic::resume_unwind(payload),
            _ => acc,
        };
    }
}

/// The pool thread's side of [`share`].
fn help<T, I, W>(shared: &Shared<T>, init: &I, work: &W)
where
    I: Fn() -> T,
    W: Fn(usize, &mut T),
{
    {
        let mut board = shared.lock();
        if matches!(board.helper, Helper::Closed) {
            return;
        }
        board.helper = Helper::Running;
    }
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut acc: Option<T> = None;
        loop {
            let i = {
                let mut board = shared.lock();
                if board.front >= board.back {
                    return acc;
                }
                board.back -= 1;
                board.back
            };
            work(i, acc.get_or_insert_with(init));
        }
    }));
    shared.lock().helper = Helper::Finished(result);
    shared.done.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_piece_runs_exactly_once() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for pieces in [0usize, 1, 2, 3, 17, 64] {
            for _ in 0..50 {
                let runs = Arc::new(AtomicUsize::new(0));
                let r = Arc::clone(&runs);
                let mut got = share(
                    &pool,
                    pieces,
                    Vec::new,
                    move |i, acc: &mut Vec<usize>| {
                        r.fetch_add(1, Ordering::Relaxed);
                        acc.push(i);
                    },
                    |mut a, b| {
                        a.extend(b);
                        a
                    },
                );
                got.sort_unstable();
                assert_eq!(got, (0..pieces).collect::<Vec<_>>());
                assert_eq!(runs.load(Ordering::Relaxed), pieces);
            }
        }
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
        assert_eq!(share(&pool, 8, || 0, |i, acc| *acc += i, |a, b| a + b), 28);
        tx.send(()).unwrap();
    }

    #[test]
    fn a_panic_in_a_piece_reaches_the_caller() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for _ in 0..20 {
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                share(
                    &pool,
                    4,
                    || 0,
                    |i, acc: &mut usize| {
                        assert!(i != 3, "piece 3 failed");
                        *acc += i;
                    },
                    |a, b| a + b,
                )
            }));
            assert!(r.is_err());
        }
    }
}
