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

use crossbeam_utils::CachePadded;

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
/// long as `work` runs, and [`run_pieces`] and [`each_share`] hand them each loop's work.
/// Outside `work`, or with one thread, nothing changes.
pub fn with_team<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    let threads = threads();
    if threads < 2 || TEAM.with(|t| !t.get().is_null()) {
        return work();
    }
    let team = Team::new(threads);
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
    let pieces = out.len();
    let (data, results) = (Disjoint::new(data), Disjoint::new(&mut out));
    run_pieces(pieces, &|c| {
        let start = c * piece;
        // SAFETY: the chunks are disjoint ranges of `data` and each index runs once.
        unsafe {
            let chunk = data.range(start..start + piece.min(len - start));
            results.range(c..c + 1)[0] = work(c, chunk);
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

/// What one share of [`each_share`] reports: three words (a value's bits, an index, ...).
pub type Words = [u64; 3];

/// Runs `work(share, shares)` once for each share of the calling thread's team (`shares` is the
/// team's thread count; share 0 runs on the caller), or of the pool, or once as the only share;
/// the shares' reports in share order. For loops too short for [`run_pieces`]: a team hands
/// `work` itself to its helpers, in the line that announces the loop, so a helper starts its
/// share after one transfer of that line, and reports in a line of its own. Hence `work` is
/// copied: `Copy`, of at most [`SHARE_JOB_BYTES`] bytes (a mutable slice goes in a [`Disjoint`]).
/// Shares must be independent.
pub fn each_share<F>(work: F) -> Vec<Words>
where
    F: Fn(usize, usize) -> Words + Copy + Sync,
{
    let team = TEAM.with(Cell::get);
    if !team.is_null() {
        // SAFETY: the pointer is set only while `with_team` holds the team, on this thread.
        let team = unsafe { &*team };
        if team.threads() <= SLOTS {
            return team.each_share(work);
        }
    }
    let shares = threads();
    map_pieces(shares, |share| work(share, shares))
}

/// A mutable slice that the parts of a parallel loop split among them, each taking its own
/// range: `Copy`, so that a job of [`each_share`] that carries it can be copied to the helpers.
#[derive(Clone, Copy)]
pub struct Disjoint<'a, T> {
    start: *mut T,
    len: usize,
    data: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: it hands out ranges of the slice, which the callers keep disjoint.
unsafe impl<T: Send> Send for Disjoint<'_, T> {}
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    pub fn new(data: &'a mut [T]) -> Self {
        Disjoint {
            start: data.as_mut_ptr(),
            len: data.len(),
            data: std::marker::PhantomData,
        }
    }

    /// The items `range` of the slice.
    ///
    /// # Safety
    /// No other reference to any of them is alive while the result is.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range(&self, range: std::ops::Range<usize>) -> &'a mut [T] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: within the slice (asserted); exclusive as the caller promises.
        unsafe { std::slice::from_raw_parts_mut(self.start.add(range.start), range.len()) }
    }
}

thread_local! {
    static TEAM: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
}

/// Slots a loop's pieces are claimed in: at most one bit each of a claim word.
const SLOTS: usize = 32;

/// Looks a thread done with its share spends on waiting for the others before it takes an
/// unclaimed slot of theirs (a thread that is late, or off its core): long enough for a thread
/// at work to report, so that no one reads another's claims in a loop that runs as it should.
const LOOKS_BEFORE_TAKING: u32 = 256;

/// A team of the pool's threads held for one long run of short parallel loops (see
/// [`with_team`]). Every loop costs each thread a few transfers of cache lines between cores
/// (about 0.2 µs each on the machines measured, on loops of 5–10 µs), so the lines are kept
/// apart by who writes them:
///
/// - `head`, written by the caller: the loop's epoch and slot count in one word (so a thread
///   that reads one reads the other of the same loop), its job and piece count, or for a loop
///   of shares the job itself.
/// - one `Seat` per thread: which of its home slots are claimed in which loop, written by the
///   thread itself (one compare-exchange per loop) or by one taking a slot from a late owner;
///   and its report: how many slots the thread ran in which loop, and its share's result,
///   written by it alone.
///
/// A loop of P pieces has S = min(P, 32) slots, each a run of consecutive pieces; thread t of
/// T owns slots ⌈t·S/T⌉ to ⌈(t+1)·S/T⌉, so a loop over the same data gives each thread the same part
/// of it loop after loop, and that part stays in its core's cache. A thread claims its own slots
/// at once, runs them and reports; then it waits, and after a while takes any slot still
/// unclaimed, one at a time (the caller runs any slot no helper claimed). A claim names its
/// loop's epoch and fails once a later loop has written the seat, and a loop ends only when
/// all its slots are claimed and run, so no thread can run a slot of a loop that has ended.
/// A loop of shares ([`each_share`]) is a loop of T slots, one per thread, in which only the
/// caller takes a late thread's slot. Epochs are 32-bit and wrap; they are compared by their
/// difference, which is right while no word is 2^31 loops older than the loop: a team lives
/// for one solve, and the notebook's solves run some 10^5 loops (2^31 loops of 1 µs would be
/// 36 minutes of one solve).
struct Team {
    head: CachePadded<Head>,
    seats: Box<[Seat]>,
    stop: AtomicBool,
    /// A helper's share of a loop of shares panicked (the caller then panics too).
    poisoned: AtomicBool,
}

/// Bytes of a job of [`each_share`] copied into the head, which fill its 128 bytes (as
/// `CachePadded` aligns it) with the state, the job's call and a generic loop's job.
pub const SHARE_JOB_BYTES: usize = 96;

/// The slot count a head states for a loop of [`each_share`] (one share a thread).
const SHARES: u32 = u32::MAX;

/// In this order, so that the state and a loop of shares' job start the same line (the head
/// fills two).
#[derive(Default)]
#[repr(C)]
struct Head {
    /// epoch << 32 | slots ([`SHARES`] for a loop of shares).
    state: AtomicU64,
    /// A loop of shares: the address of [`run_share`] for its job's type, and the job's bytes.
    share_call: AtomicUsize,
    share_job: ShareJob,
    job: AtomicPtr<&'static (dyn Fn(usize) + Sync)>,
    pieces: AtomicUsize,
}

/// The bytes of the job of a loop of shares: written by the caller before it announces the loop,
/// read by a helper only once it has claimed its share, so never while written.
struct ShareJob(std::cell::UnsafeCell<std::mem::MaybeUninit<[u8; SHARE_JOB_BYTES]>>);

impl Default for ShareJob {
    fn default() -> Self {
        ShareJob(std::cell::UnsafeCell::new(std::mem::MaybeUninit::uninit()))
    }
}

// SAFETY: see the type's note: the head's state orders the writes before the reads.
unsafe impl Sync for ShareJob {}

#[derive(Default)]
struct Seat {
    /// epoch << 32 | the claimed bits of this thread's home slots in that loop.
    claims: CachePadded<AtomicU64>,
    report: CachePadded<Report>,
}

/// What a thread says of a loop, in a line of its own that only it writes.
#[derive(Default)]
struct Report {
    /// epoch << 32 | how many slots this thread ran in that loop.
    ran: AtomicU64,
    /// The thread's share's report, in a loop of shares.
    words: [AtomicU64; 3],
}

/// Runs share `share` of `shares` of the job of type `F` at `job`.
///
/// # Safety
/// `job` holds the bytes of a live `F` (copied from one by [`Team::each_share`]).
unsafe fn run_share<F: Fn(usize, usize) -> Words>(
    job: *const u8,
    share: usize,
    shares: usize,
) -> Words {
    // SAFETY: as the caller promises; unaligned, as the bytes are.
    let work: F = unsafe { std::ptr::read_unaligned(job.cast::<F>()) };
    work(share, shares)
}

type ShareCall = unsafe fn(*const u8, usize, usize) -> Words;

/// A word of a loop: its epoch in the high half, what it says of the loop in the low half.
fn word(epoch: u32, low: u32) -> u64 {
    (epoch as u64) << 32 | low as u64
}

fn epoch_of(word: u64) -> u32 {
    (word >> 32) as u32
}

/// How loop `epoch` stands to loop `of` (wrapping).
fn order(epoch: u32, of: u32) -> std::cmp::Ordering {
    (epoch.wrapping_sub(of) as i32).cmp(&0)
}

/// The slots of a loop of `pieces` pieces.
fn slots(pieces: usize) -> u32 {
    pieces.min(SLOTS) as u32
}

/// The bits of the home slots of thread `thread` of `threads` in a loop of `slots` slots.
fn home_bits(thread: usize, threads: usize, slots: u32) -> u32 {
    let bits_below = |slot: usize| match slot {
        SLOTS => u32::MAX,
        _ => (1u32 << slot) - 1,
    };
    // Rounded up, so that the caller (thread 0), which starts first, owns the first slot.
    let first = |t: usize| (t * slots as usize).div_ceil(threads);
    bits_below(first(thread + 1)) & !bits_below(first(thread))
}

impl Team {
    fn new(threads: usize) -> Team {
        Team {
            head: CachePadded::default(),
            seats: (0..threads).map(|_| Seat::default()).collect(),
            stop: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
        }
    }

    fn threads(&self) -> usize {
        self.seats.len()
    }

    fn run(&self, pieces: usize, work: &(dyn Fn(usize) + Sync)) {
        let epoch = epoch_of(self.head.state.load(Ordering::Relaxed)).wrapping_add(1);
        // SAFETY: the helpers call `work` only for slots of this epoch, and this function
        // returns (or unwinds) only after every slot of it is run or can no longer be claimed
        // (`Finish`), so the borrow outlives every call.
        let work: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
        let job = &work as *const _ as *mut _;
        self.head.job.store(job, Ordering::Relaxed);
        self.head.pieces.store(pieces, Ordering::Relaxed);
        let slots = slots(pieces);
        self.head.state.store(word(epoch, slots), Ordering::Release);
        let mut finish = Finish::new(self, epoch, slots);
        let home = self.claim(epoch, 0, home_bits(0, self.threads(), slots), true);
        self.run_slots(home, &finish.ran);
        self.take_late_while(epoch, slots, 0, &finish.ran, || !finish.all_ran());
        wait_until(|| finish.all_ran());
        finish.complete = true;
    }

    /// Claims in loop `epoch` the free slots among `home`, seat `owner`'s: all of them, or the
    /// first only. The bits claimed; none once the loop has ended (then every one of its slots is
    /// claimed, or a later loop has written the seat).
    fn claim(&self, epoch: u32, owner: usize, home: u32, all: bool) -> u32 {
        let claims = &self.seats[owner].claims;
        let mut seen = claims.load(Ordering::Acquire);
        loop {
            let taken = match order(epoch_of(seen), epoch) {
                std::cmp::Ordering::Less => 0,
                std::cmp::Ordering::Equal => seen as u32,
                std::cmp::Ordering::Greater => return 0,
            };
            let free = home & !taken;
            if free == 0 {
                return 0;
            }
            let want = if all {
                free
            } else {
                free & free.wrapping_neg()
            };
            match claims.compare_exchange_weak(
                seen,
                word(epoch, taken | want),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return want,
                Err(now) => seen = now,
            }
        }
    }

    /// Claims one slot of loop `epoch` that another thread than `thief` owns and has not
    /// claimed.
    fn take_late(&self, epoch: u32, slots: u32, thief: usize) -> u32 {
        let threads = self.threads();
        (1..threads)
            .map(|k| (thief + k) % threads)
            .map(|owner| self.claim(epoch, owner, home_bits(owner, threads, slots), false))
            .find(|&bits| bits != 0)
            .unwrap_or(0)
    }

    /// Waits while `waiting()` says so; once it has waited a while, takes and runs the unclaimed
    /// slots of loop `epoch` that other threads than `thief` own, one at a time, until all are
    /// claimed.
    fn take_late_while(
        &self,
        epoch: u32,
        slots: u32,
        thief: usize,
        ran: &Tally,
        waiting: impl Fn() -> bool,
    ) {
        let mut backoff = Backoff::default();
        while waiting() {
            if backoff.looks >= LOOKS_BEFORE_TAKING {
                match self.take_late(epoch, slots, thief) {
                    0 => return,
                    taken => self.run_slots(taken, ran),
                }
            }
            backoff.snooze();
        }
    }

    /// Runs the slots `claimed` (claimed by the calling thread in the loop the head holds) and
    /// counts them in `ran`, even when `work` panics.
    fn run_slots(&self, claimed: u32, ran: &Tally) {
        if claimed == 0 {
            return;
        }
        let _count = CountOnDrop(ran, claimed.count_ones());
        // SAFETY: the claimed loop's job and piece count, stored before its head state (which
        // the caller acquired), stay as they are until every claimed slot of the loop is run.
        let work = unsafe { *self.head.job.load(Ordering::Relaxed) };
        let pieces = self.head.pieces.load(Ordering::Relaxed);
        let slots = slots(pieces) as usize;
        let mut bits = claimed;
        while bits != 0 {
            let slot = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            (slot * pieces / slots..(slot + 1) * pieces / slots).for_each(work);
        }
    }

    fn help(&self, thread: usize) {
        let mut seen = 0;
        loop {
            wait_until(|| {
                self.stop.load(Ordering::Acquire)
                    || epoch_of(self.head.state.load(Ordering::Acquire)) != seen
            });
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            let state = self.head.state.load(Ordering::Acquire);
            let (epoch, slots) = (epoch_of(state), state as u32);
            seen = epoch;
            if slots == SHARES {
                self.help_share(thread, epoch);
                continue;
            }
            let ran = Tally {
                count: Cell::new(0),
                report: Some((&self.seats[thread].report.ran, epoch)),
            };
            let home = self.claim(
                epoch,
                thread,
                home_bits(thread, self.threads(), slots),
                true,
            );
            self.run_slots(home, &ran);
            // Late threads' slots, if the next loop is slow to come.
            self.take_late_while(epoch, slots, thread, &ran, || {
                epoch_of(self.head.state.load(Ordering::Acquire)) == epoch
            });
        }
    }

    /// Announces `work` as a loop of shares, runs share 0 and waits for the helpers' reports;
    /// runs a late helper's share itself once it has waited a while (see [`each_share`]).
    fn each_share<F>(&self, work: F) -> Vec<Words>
    where
        F: Fn(usize, usize) -> Words + Copy + Sync,
    {
        const { assert!(std::mem::size_of::<F>() <= SHARE_JOB_BYTES) };
        let threads = self.threads();
        let epoch = epoch_of(self.head.state.load(Ordering::Relaxed)).wrapping_add(1);
        // SAFETY: `F` fits (asserted above), and no helper reads the bytes now: every share of
        // the last loop has run. `Copy`, so the bytes are a valid `F` for as long as `work`
        // lives, which is until every share of this loop has run (below, and `Finish` when
        // unwinding).
        unsafe { std::ptr::write_unaligned(self.head.share_job.0.get().cast::<F>(), work) };
        let call: ShareCall = run_share::<F>;
        self.head.share_call.store(call as usize, Ordering::Relaxed);
        self.head
            .state
            .store(word(epoch, SHARES), Ordering::Release);
        let slots = threads as u32;
        let mut finish = Finish::new(self, epoch, slots);
        let run_here = |share: usize| {
            let _count = CountOnDrop(&finish.ran, 1);
            work(share, threads)
        };
        // Share 0 is the caller's alone: it claims it only once run (a compare-exchange now
        // would wait for the announcement to reach the helpers), so that `Finish`, unwinding
        // from a panic after it, does not close it again; unwinding from one inside it, `Finish`
        // closes it then.
        let mut reports = Vec::with_capacity(threads);
        reports.push(work(0, threads));
        self.claim(epoch, 0, home_bits(0, threads, slots), true);
        finish.ran.add(1);
        reports.resize(threads, [0; 3]);
        // Every helper's share.
        let mut pending = u32::MAX >> (SLOTS - threads) & !1;
        let mut backoff = Backoff::default();
        while pending != 0 {
            let share = pending.trailing_zeros() as usize;
            let report = &self.seats[share].report;
            if report.ran.load(Ordering::Acquire) == word(epoch, 1) {
                reports[share] = report.words.each_ref().map(|w| w.load(Ordering::Relaxed));
                pending &= pending - 1;
            } else if backoff.looks >= LOOKS_BEFORE_TAKING
                && self.claim(epoch, share, home_bits(share, threads, slots), true) != 0
            {
                reports[share] = run_here(share);
                pending &= pending - 1;
            } else {
                backoff.snooze();
            }
        }
        finish.complete = true;
        assert!(
            !self.poisoned.load(Ordering::Relaxed),
            "a thread of the team panicked"
        );
        reports
    }

    /// Runs this thread's share of loop `epoch` (a loop of shares) unless the caller took it.
    fn help_share(&self, thread: usize, epoch: u32) {
        let threads = self.threads();
        if self.claim(
            epoch,
            thread,
            home_bits(thread, threads, threads as u32),
            true,
        ) == 0
        {
            return;
        }
        /// Reports the share as run however it ends, so that the caller never waits for it.
        struct Reported<'a>(&'a Team, &'a Report, u32);
        impl Drop for Reported<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.poisoned.store(true, Ordering::Relaxed);
                }
                self.1.ran.store(word(self.2, 1), Ordering::Release);
            }
        }
        let report = &self.seats[thread].report;
        let _reported = Reported(self, report, epoch);
        // SAFETY: the caller stored the address of `run_share::<F>` and the bytes of a live `F`
        // before the head state that announced this loop, and changes neither until every share
        // of it has run; this one is claimed, so it has not.
        let words = unsafe {
            let call = std::mem::transmute::<usize, ShareCall>(
                self.head.share_call.load(Ordering::Relaxed),
            );
            call(self.head.share_job.0.get().cast::<u8>(), thread, threads)
        };
        for (stored, word) in report.words.iter().zip(words) {
            stored.store(word, Ordering::Relaxed);
        }
    }
}

/// Slots run by one thread in one loop; a helper reports its count in its seat as it goes.
#[derive(Default)]
struct Tally<'a> {
    count: Cell<u32>,
    report: Option<(&'a AtomicU64, u32)>,
}

impl Tally<'_> {
    fn add(&self, slots: u32) {
        self.count.set(self.count.get() + slots);
        if let Some((ran, epoch)) = self.report {
            ran.store(word(epoch, self.count.get()), Ordering::Release);
        }
    }
}

struct CountOnDrop<'a, 'b>(&'a Tally<'b>, u32);

impl Drop for CountOnDrop<'_, '_> {
    fn drop(&mut self) {
        self.0.add(self.1);
    }
}

/// The caller's side of a loop of [`Team::run`]. Dropped while unwinding, it claims the slots
/// nobody has (so no helper starts one later) and waits for the claimed ones.
struct Finish<'a> {
    team: &'a Team,
    epoch: u32,
    slots: u32,
    /// Slots the caller ran (or closed unrun).
    ran: Tally<'a>,
    complete: bool,
}

impl<'a> Finish<'a> {
    fn new(team: &'a Team, epoch: u32, slots: u32) -> Self {
        Finish {
            team,
            epoch,
            slots,
            ran: Tally::default(),
            complete: false,
        }
    }

    fn all_ran(&self) -> bool {
        let helpers: u32 = self.team.seats[1..]
            .iter()
            .map(|seat| seat.report.ran.load(Ordering::Acquire))
            .filter(|&ran| epoch_of(ran) == self.epoch)
            .map(|ran| ran as u32)
            .sum();
        helpers + self.ran.count.get() == self.slots
    }
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if self.complete {
            return;
        }
        let threads = self.team.threads();
        for owner in 0..threads {
            let home = home_bits(owner, threads, self.slots);
            let closed = self.team.claim(self.epoch, owner, home, true);
            self.ran.add(closed.count_ones());
        }
        wait_until(|| self.all_ran());
    }
}

/// Spins of a waiting thread before it starts yielding its core between looks (about 50 µs): long
/// enough to cover the serial work between two loops of a solve, short enough not to starve
/// another process when the node's cores are oversubscribed.
const SPINS_BEFORE_YIELD: u32 = 20_000;

/// Yields of a waiting thread, after its spins, before it naps: a team whose thread waits this
/// long is outside the solver's loops (or its cores are oversubscribed), and a lap late costs
/// only speed: the caller runs any slot no helper has claimed.
const YIELDS_BEFORE_NAP: u32 = 2_000;

/// A waiting thread's looks: spins, then yields of its core, then naps.
#[derive(Default)]
struct Backoff {
    looks: u32,
}

impl Backoff {
    fn snooze(&mut self) {
        self.looks = self.looks.saturating_add(1);
        if self.looks < SPINS_BEFORE_YIELD {
            std::hint::spin_loop();
        } else if self.looks < SPINS_BEFORE_YIELD + YIELDS_BEFORE_NAP {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
}

fn wait_until(ready: impl Fn() -> bool) {
    let mut backoff = Backoff::default();
    while !ready() {
        backoff.snooze();
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
                    let (mut data, mut shared) = (vec![0u64; 1000], vec![0u64; 777]);
                    let (runs, mut want_runs) = (AtomicUsize::new(0), 0);
                    let share_runs = AtomicUsize::new(0);
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
                        check_share_loop(round, &mut shared, &share_runs, threads);
                    }
                    let want: Vec<u64> = (0..1000).map(|i| ROUNDS * (i / 64 + 1)).collect();
                    assert_eq!(data, want);
                    assert_eq!(runs.into_inner(), want_runs, "pieces run more than once");
                    assert!(shared.iter().all(|&v| v == ROUNDS), "shares run once each");
                    assert_eq!(share_runs.into_inner(), ROUNDS as usize * threads);
                })
            });
        }
    }

    /// A loop of shares as the solver runs one: each share adds one to its own range of `data`
    /// and reports which share of how many it was, in which round; the reports come in share
    /// order, one a thread.
    fn check_share_loop(round: u64, data: &mut [u64], runs: &AtomicUsize, threads: usize) {
        let len = data.len();
        let data = Disjoint::new(data);
        let reports = each_share(move |share, shares| {
            runs.fetch_add(1, Ordering::Relaxed);
            let range = share * len / shares..(share + 1) * len / shares;
            // SAFETY: the shares' ranges are disjoint.
            unsafe { data.range(range) }
                .iter_mut()
                .for_each(|v| *v += 1);
            [share as u64, shares as u64, round]
        });
        let want: Vec<Words> = (0..threads as u64)
            .map(|share| [share, threads as u64, round])
            .collect();
        assert_eq!(reports, want);
    }

    /// A helper that never comes (its pool thread is busy elsewhere): the others take its slots
    /// and the caller its shares, and every piece and share of every loop still runs once.
    #[test]
    fn a_team_short_of_a_helper_runs_every_piece_once() {
        let pool = Pool::new(3).unwrap();
        let (started, blocker_started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        pool.install(|| {
            rayon::scope(move |scope| {
                scope.spawn(move |_| {
                    started.send(()).unwrap();
                    // Bounded, so that a mistake here cannot hang the tests.
                    let _ = released.recv_timeout(std::time::Duration::from_secs(20));
                });
                blocker_started
                    .recv_timeout(std::time::Duration::from_secs(20))
                    .expect("a pool thread took the blocking job");
                with_team(|| {
                    for round in 0..2_000u64 {
                        let pieces = (round % 40) as usize;
                        let ran: Vec<AtomicUsize> =
                            (0..pieces).map(|_| AtomicUsize::new(0)).collect();
                        map_pieces(pieces, |p| ran[p].fetch_add(1, Ordering::Relaxed));
                        assert!(ran.iter().all(|r| r.load(Ordering::Relaxed) == 1));
                        let mut data = vec![round; 100];
                        check_share_loop(round, &mut data, &AtomicUsize::new(0), 3);
                        assert!(data.iter().all(|&v| v == round + 1));
                    }
                });
                release.send(()).unwrap();
            })
        });
    }

    /// A panic inside a loop of pieces or of shares, on whichever thread, ends the team's work
    /// with that panic instead of leaving a thread waiting or the caller going on with a report
    /// never made.
    #[test]
    fn a_panic_in_a_team_loop_does_not_hang() {
        let pool = Pool::new(2).unwrap();
        for (shares, bad) in [(false, 0), (false, 5), (true, 0), (true, 1)] {
            let ended = pool.install(|| {
                std::panic::catch_unwind(|| {
                    with_team(|| {
                        for round in 0..100 {
                            let slow = move |part: usize| {
                                assert!(round < 50 || part != bad, "part {part}");
                                std::thread::sleep(std::time::Duration::from_micros(100));
                            };
                            if shares {
                                each_share(move |share, _| {
                                    slow(share);
                                    [0; 3]
                                });
                            } else {
                                map_pieces(8, slow);
                            }
                        }
                    })
                })
            });
            assert!(
                ended.is_err(),
                "part {bad} panicked (shares: {shares}), so the work must end in a panic"
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
