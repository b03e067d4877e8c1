//! Threads inside one rank (`--threads N`): a rayon pool per rank, installed around the work of
//! a task, and the rules every parallel loop of the library follows.
//!
//! - Work goes parallel only inside a pool of more than one thread ([`threads`]); outside any
//!   pool (unit tests, `predict`) and with `--threads 1` every loop runs its serial code unchanged,
//!   so one thread costs nothing.
//! - Work is cut into pieces whose bounds depend on the data only, never on the thread count, and
//!   per-piece results are combined in piece order, so results are bit-identical for any count.
//!   Only loops whose result is the same for any bounds (element-wise updates, maxima with their
//!   index) may size pieces by the thread count.
//! - No MPI here: the pool's threads only compute (MPI stays on the thread that owns it).

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

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
    /// (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`, 1 when not under Open MPI), at least 1. The
    /// node's cores, not the cores mpirun bound the rank to.
    pub fn resolve(self) -> usize {
        match self {
            ThreadCount::One => 1,
            ThreadCount::Fixed(n) => n,
            ThreadCount::Auto => {
                let cores = node_cpus();
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
                cpus_for(n);
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

/// The CPUs of the node this process may use (its cgroup's cpuset and CPU quota), whatever CPUs
/// mpirun bound it to: `auto` means the node's cores, so it lets the rank run on all of them.
fn node_cpus() -> usize {
    binding::run_on_every_cpu();
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Lets the calling thread, and the pool threads it starts next, run on every CPU of the node when
/// it is bound to fewer CPUs than `threads`. Open MPI binds each rank to one core by default when
/// it starts two ranks or fewer (`--bind-to core`): a rank's threads would all share that core. A
/// binding with room for the threads (`--map-by slot:PE=N`) is kept.
fn cpus_for(threads: usize) {
    if binding::bound_cpus().is_some_and(|bound| bound < threads) {
        binding::run_on_every_cpu();
    }
}

#[cfg(target_os = "linux")]
mod binding {
    use std::mem::{size_of, zeroed};

    /// How many CPUs the calling thread is bound to.
    pub fn bound_cpus() -> Option<usize> {
        // SAFETY: an all-zero cpu_set_t is an empty set, which sched_getaffinity fills in.
        let mut set = unsafe { zeroed::<libc::cpu_set_t>() };
        let read = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        // SAFETY: CPU_COUNT only reads the set.
        (read == 0).then(|| unsafe { libc::CPU_COUNT(&set) } as usize)
    }

    /// Binds the calling thread to every CPU; the kernel keeps those of the process's cpuset. A
    /// failure leaves the binding as it was, which only costs speed.
    pub fn run_on_every_cpu() {
        // SAFETY: CPU_SET stays within the set's CPU_SETSIZE bits; sched_setaffinity reads the
        // set of the size it is told.
        unsafe {
            let mut every = zeroed::<libc::cpu_set_t>();
            for cpu in 0..libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut every);
            }
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &every);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod binding {
    pub fn bound_cpus() -> Option<usize> {
        None
    }

    pub fn run_on_every_cpu() {}
}

/// One malloc arena for the whole process. A task runs on whichever pool thread picks it up, and
/// glibc gives each thread its own arena, which keeps what a task freed (its kernel cache, some
/// 200 MB) for that thread only: the next task, on another thread, would allocate its cache
/// anew. Measured on the notebook's grid: 439 MB peak for one rank of 2 threads, against 251 MB
/// for a rank of one thread. The hot loops hardly allocate, so sharing one arena costs nothing.
/// Call it before any other thread starts (MPI's included): threads already running keep theirs.
pub fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// A team of the pool's threads held for one long run of short parallel loops (an SVM solve:
/// two or three scans of some 10,000 entries per iteration, thousands of iterations). Rayon
/// lets an idle thread go to sleep after a few microseconds, and waking it for every scan cost
/// more than the scan saved; a team's helpers instead spin (then yield) between loops, for as
/// long as `work` runs, and [`run_pieces`] hands them each loop's pieces. Outside `work`, or with
/// one thread, nothing changes.
pub fn with_team<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    let threads = threads();
    if threads < 2 || TEAM.with(|t| !t.get().is_null()) {
        return work();
    }
    let team = Team {
        threads,
        ..Team::default()
    };
    rayon::in_place_scope(|scope| {
        for thread in 1..threads {
            let team = &team;
            scope.spawn(move |_| team.help(thread));
        }
        // Stops the helpers however `work` ends: the scope waits for them.
        struct Release<'a>(&'a Team);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                TEAM.with(|t| t.set(std::ptr::null()));
                self.0.stop.store(true, Ordering::Release);
            }
        }
        let _release = Release(&team);
        TEAM.with(|t| t.set(&team));
        work()
    })
}

/// Runs `work(piece)` for every piece in `0..pieces`: on the calling thread's team if it has
/// one, else over the pool, else in order on the calling thread. Pieces must be independent.
pub fn run_pieces(pieces: usize, work: &(dyn Fn(usize) + Sync)) {
    let team = TEAM.with(Cell::get);
    if !team.is_null() {
        // SAFETY: the pointer is set only while `with_team` holds the team, on this thread.
        unsafe { &*team }.run(pieces, work);
    } else if threads() > 1 {
        use rayon::prelude::*;
        (0..pieces).into_par_iter().for_each(work);
    } else {
        (0..pieces).for_each(work);
    }
}

/// `work(chunk index, chunk)` on each chunk of `piece` items of `data` (the last shorter), as
/// [`run_pieces`] runs them; the results in chunk order.
pub fn map_chunks_mut<T: Send, R: Send + Clone + Default>(
    data: &mut [T],
    piece: usize,
    work: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    let (len, piece) = (data.len(), piece.max(1));
    let mut out = vec![R::default(); len.div_ceil(piece)];
    let (data, results) = (SendPtr(data.as_mut_ptr()), SendPtr(out.as_mut_ptr()));
    run_pieces(out.len(), &|c| {
        let start = c * piece;
        // SAFETY: the chunks are disjoint ranges of `data` and each index runs once, while
        // `data` and `out` stay borrowed until every piece has run.
        unsafe {
            let chunk =
                std::slice::from_raw_parts_mut(data.get().add(start), piece.min(len - start));
            *results.get().add(c) = work(c, chunk);
        }
    });
    out
}

/// `work(piece)` for every piece in `0..pieces`, as [`run_pieces`] runs them; the results in
/// piece order.
pub fn map_pieces<R: Send + Clone + Default>(
    pieces: usize,
    work: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    map_chunks_mut(&mut vec![(); pieces], 1, |p, _| work(p))
}

struct SendPtr<T>(*mut T);
// SAFETY: used only to hand disjoint chunks of one slice to the threads of `run_pieces`.
unsafe impl<T: Send> Send for SendPtr<T> {}
unsafe impl<T: Send> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

thread_local! {
    static TEAM: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
}

/// Spins of a waiting thread before it starts yielding its core between looks (about 50 µs): long
/// enough to cover the serial work between two loops of a solve, short enough not to starve
/// another process when the node's cores are oversubscribed.
const SPINS_BEFORE_YIELD: u32 = 20_000;

/// Slots a loop's pieces are claimed in: at most one bit each of the state word.
const SLOTS: usize = 32;

/// The loop being run: its epoch (high 32 bits) and which of its slots are claimed (low 32 bits,
/// one bit each; bits past the loop's slots are set) in one word, so a late helper can never
/// claim a slot of another loop than the one it read. A loop of P pieces has min(P, 32) slots,
/// each a run of consecutive pieces. Each thread claims slots from its own home slot on
/// (thread t of T: slot t·S/T), so a loop over the same data gives each thread the same part of
/// it loop after loop: that part stays in its core's cache, where a shared claim counter handed
/// the parts out in arrival order and moved them between cores every loop.
#[derive(Default)]
struct Team {
    state: AtomicU64,
    job: AtomicPtr<&'static (dyn Fn(usize) + Sync)>,
    pieces: AtomicUsize,
    done: AtomicUsize,
    stop: AtomicBool,
    threads: usize,
}

/// The slots of a loop of `pieces` pieces.
fn slots(pieces: usize) -> usize {
    pieces.min(SLOTS)
}

/// The claim bits of a loop with `slots` slots before any is claimed: those past its slots set.
fn open_mask(slots: usize) -> u32 {
    u32::MAX.checked_shl(slots as u32).unwrap_or(0)
}

impl Team {
    fn run(&self, pieces: usize, work: &(dyn Fn(usize) + Sync)) {
        let epoch = (self.state.load(Ordering::Relaxed) >> 32) + 1;
        // SAFETY: the helpers call `work` only for pieces of this epoch, and this function
        // returns (or unwinds) only after every slot of it is done or can no longer be claimed
        // (`Finish`), so the borrow outlives every call.
        let work: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
        let job = &work as *const _ as *mut _;
        self.job.store(job, Ordering::Relaxed);
        self.pieces.store(pieces, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        let slots = slots(pieces);
        self.state
            .store(epoch << 32 | open_mask(slots) as u64, Ordering::Release);
        let _finish = Finish {
            team: self,
            epoch,
            slots,
        };
        self.claim_and_run(epoch, 0);
    }

    /// Claims slots of loop `epoch`, from thread `thread`'s home slot on, and runs their pieces
    /// until none is left (or another loop has started).
    fn claim_and_run(&self, epoch: u64, thread: usize) {
        loop {
            let state = self.state.load(Ordering::Acquire);
            let free = !(state as u32);
            if state >> 32 != epoch || free == 0 {
                return;
            }
            // The piece count may already be the next loop's; then the state has moved on
            // (closed, see `Finish`) and the exchange below fails.
            let pieces = self.pieces.load(Ordering::Relaxed);
            let slots = slots(pieces);
            let home = (thread * slots / self.threads) as u32;
            let slot = (home + free.rotate_right(home).trailing_zeros()) % SLOTS as u32;
            if self
                .state
                .compare_exchange_weak(
                    state,
                    state | 1 << slot,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                // Counted even when `work` panics, so that no one waits for it forever.
                let _done = Counted(&self.done);
                // SAFETY: this loop's job, stored before its state (which the exchange
                // acquired), stays valid until every claimed slot of the loop is done.
                let work = unsafe { *self.job.load(Ordering::Relaxed) };
                let slot = slot as usize;
                (slot * pieces / slots..(slot + 1) * pieces / slots).for_each(work);
            }
        }
    }

    fn help(&self, thread: usize) {
        let mut seen = 0;
        loop {
            wait_until(|| {
                self.stop.load(Ordering::Acquire)
                    || self.state.load(Ordering::Acquire) >> 32 != seen
            });
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            seen = self.state.load(Ordering::Acquire) >> 32;
            self.claim_and_run(seen, thread);
        }
    }
}

/// Yields of a waiting thread, after its spins, before it naps: a team whose thread waits this
/// long is outside the solver's loops (or its cores are oversubscribed), and a lap late costs
/// only speed: the caller runs any piece no helper has claimed.
const YIELDS_BEFORE_NAP: u32 = 2_000;

/// Ends a loop of [`Team::run`], returning or unwinding: claims the slots nobody has, so no
/// helper starts one later, then waits for the claimed ones.
struct Finish<'a> {
    team: &'a Team,
    epoch: u64,
    slots: usize,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        // Every slot claimed: a helper that read this loop's state before and the next loop's
        // piece count after cannot claim a slot of either.
        let closed = self.epoch << 32 | u32::MAX as u64;
        let state = self.team.state.swap(closed, Ordering::AcqRel);
        let unclaimed = (!(state as u32)).count_ones() as usize;
        let done = &self.team.done;
        done.fetch_add(unclaimed, Ordering::Release);
        wait_until(|| done.load(Ordering::Acquire) == self.slots);
    }
}

struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

fn wait_until(ready: impl Fn() -> bool) {
    let mut looks = 0u32;
    while !ready() {
        looks = looks.saturating_add(1);
        if looks < SPINS_BEFORE_YIELD {
            std::hint::spin_loop();
        } else if looks < SPINS_BEFORE_YIELD + YIELDS_BEFORE_NAP {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
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

    /// Many short loops in a row, as a solve runs them: every piece runs once, results come back
    /// in piece order, and chunks are written where they belong, on 2 and 3 threads; loops of
    /// fewer pieces than slots, as many, and more (several pieces a slot).
    #[test]
    fn a_team_runs_every_piece_of_every_loop_once() {
        const ROUNDS: u64 = 50_000;
        const PIECES: [usize; 10] = [0, 1, 2, 3, 5, 6, SLOTS - 1, SLOTS, SLOTS + 1, 3 * SLOTS + 7];
        for threads in [2, 3] {
            Pool::new(threads).unwrap().install(|| {
                with_team(|| {
                    let mut data = vec![0u64; 1000];
                    let (runs, mut want_runs) = (AtomicUsize::new(0), 0);
                    for round in 0..ROUNDS {
                        let n = PIECES[round as usize % PIECES.len()];
                        for _ in 0..10 {
                            map_pieces(n, |_| runs.fetch_add(1, Ordering::Relaxed));
                        }
                        want_runs += 10 * n;
                        let squares = map_pieces(n, |p| p as u64 * p as u64 + round);
                        let want: Vec<u64> = (0..n as u64).map(|p| p * p + round).collect();
                        assert_eq!(squares, want);
                        map_chunks_mut(&mut data, 64, |c, chunk| {
                            chunk.iter_mut().for_each(|v| *v += c as u64 + 1)
                        });
                    }
                    let want: Vec<u64> = (0..1000).map(|i| ROUNDS * (i / 64 + 1)).collect();
                    assert_eq!(data, want);
                    assert_eq!(runs.into_inner(), want_runs, "pieces run more than once");
                })
            });
        }
    }

    /// A panic inside a loop, on whichever thread, ends the team's work with that panic instead
    /// of leaving a thread waiting.
    #[test]
    fn a_panic_in_a_team_loop_does_not_hang() {
        let pool = Pool::new(2).unwrap();
        for bad in [0, 5] {
            let ended = pool.install(|| {
                std::panic::catch_unwind(|| {
                    with_team(|| {
                        for _ in 0..100 {
                            map_pieces(8, |p| {
                                assert!(p != bad, "piece {p}");
                                std::thread::sleep(std::time::Duration::from_micros(100));
                            });
                        }
                    })
                })
            });
            assert!(
                ended.is_err(),
                "piece {bad} panicked, so the work must end in a panic"
            );
        }
    }

    #[test]
    fn pieces_cover_the_range_in_order() {
        let p: Vec<_> = pieces(10, 4).collect();
        assert_eq!(p, vec![0..4, 4..8, 8..10]);
        assert_eq!(pieces(0, 4).count(), 0);
    }
}
