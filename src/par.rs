//! Threads inside one rank (`--threads N`): a rayon pool per rank, installed around the work of
//! a task, and the rules every parallel loop of the library follows.
//!
//! - Work goes parallel only inside a pool of more than one thread ([`threads`]); outside any
//!   pool (unit tests, `predict`) and with `--threads 1` every loop runs its serial code unchanged,
//!   so one thread costs nothing.
//! - Work is cut into pieces whose bounds depend on the data only, never on the thread count, and
//!   per-piece results are combined in piece order, so results are bit-identical for any count.
//! - No MPI here: the pool's threads only compute (MPI stays on the thread that owns it).

use std::fmt;
use std::str::FromStr;

/// Threads of the installed pool; 1 outside any pool, so that code called outside a task (tests,
/// `predict`) never spreads over rayon's global pool behind the caller's back.
#[inline]
pub fn threads() -> usize {
    match rayon::current_thread_index() {
        Some(_) => rayon::current_num_threads(),
        None => 1,
    }
}

/// `--threads`: a count, or `auto` (the node's cores shared among the ranks on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadCount {
    #[default]
    One,
    Fixed(usize),
    Auto,
}

impl ThreadCount {
    /// The count for this rank: `auto` is the cores of its node divided by the ranks there
    /// (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`, 1 when not under Open MPI), at least 1.
    pub fn resolve(self) -> usize {
        match self {
            ThreadCount::One => 1,
            ThreadCount::Fixed(n) => n,
            ThreadCount::Auto => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let local = std::env::var("OMPI_COMM_WORLD_LOCAL_SIZE")
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or(1);
                (cores / local).max(1)
            }
        }
    }
}

impl FromStr for ThreadCount {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(ThreadCount::Auto),
            _ => match text.parse::<usize>() {
                Ok(1) => Ok(ThreadCount::One),
                Ok(n) if (2..=1024).contains(&n) => Ok(ThreadCount::Fixed(n)),
                _ => Err("give a number of threads from 1 to 1024, or auto".into()),
            },
        }
    }
}

impl fmt::Display for ThreadCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadCount::One => write!(f, "1"),
            ThreadCount::Fixed(n) => write!(f, "{n}"),
            ThreadCount::Auto => write!(f, "auto"),
        }
    }
}

/// A rank's threads: no pool for one thread (the task runs on the caller's thread, as before),
/// else a rayon pool of that many threads.
pub struct Pool {
    pool: Option<rayon::ThreadPool>,
    threads: usize,
}

impl Pool {
    pub fn new(threads: usize) -> anyhow::Result<Pool> {
        let pool = match threads {
            0 | 1 => None,
            n => Some({
                one_malloc_arena();
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("triton-batch-{i}"))
                    // Tree growth recurses; give pool threads the main thread's stack.
                    .stack_size(8 << 20)
                    .build()?
            }),
        };
        Ok(Pool {
            pool,
            threads: threads.max(1),
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` with this pool's threads available to the library's parallel loops.
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

/// One malloc arena for the whole process. A task runs on whichever pool thread picks it up, and
/// glibc gives each thread its own arena, which keeps what a task freed (its kernel cache, some
/// 200 MB) for that thread only: the next task, on another thread, would allocate its cache
/// anew. Measured on the notebook's grid: 439 MB peak for one rank of 2 threads, against 251 MB
/// for a rank of one thread. The hot loops hardly allocate, so sharing one arena costs nothing.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before the pool's threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Ranges of `len` items in pieces of `piece` (the last shorter): bounds that depend on the data
/// size only.
pub fn pieces(len: usize, piece: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let piece = piece.max(1);
    (0..len.div_ceil(piece)).map(move |i| i * piece..((i + 1) * piece).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_and_bad_ones_are_refused() {
        assert_eq!("1".parse(), Ok(ThreadCount::One));
        assert_eq!("4".parse(), Ok(ThreadCount::Fixed(4)));
        assert_eq!("auto".parse(), Ok(ThreadCount::Auto));
        for bad in ["0", "many", "-1", ""] {
            assert!(bad.parse::<ThreadCount>().is_err(), "{bad}");
        }
        assert!(ThreadCount::Auto.resolve() >= 1);
    }

    #[test]
    fn threads_is_one_outside_a_pool_and_the_pool_size_inside() {
        assert_eq!(threads(), 1);
        let pool = Pool::new(3).unwrap();
        assert_eq!(pool.install(threads), 3);
        assert_eq!(Pool::new(1).unwrap().install(threads), 1);
    }

    #[test]
    fn pieces_cover_the_range_in_order() {
        let p: Vec<_> = pieces(10, 4).collect();
        assert_eq!(p, vec![0..4, 4..8, 8..10]);
        assert_eq!(pieces(0, 4).count(), 0);
    }
}
