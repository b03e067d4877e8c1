//! Failure handling: any error or panic on any rank ends the whole job at once. A panicking rank
//! would otherwise unwind into MPI_Finalize and leave the others waiting forever, so the panic hook
//! and every error path call MPI_Abort on the world communicator after printing the message with
//! the rank and host in front.
//!
//! MPI runs at the `Funneled` level: only the thread that initialised it (the main thread) calls
//! MPI, MPI_Abort included. A failure on another thread (a task, rank 0's reduction) prints its
//! line, leaves its exit code here and parks; the main thread, which polls between messages, sees
//! it within a poll and aborts (`check`). So an abort never waits for a running task to finish.
//! Ending without MPI_Finalize, when a peer is lost and Finalize would wait for it, is `exit_now`.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::thread::ThreadId;

static WHO: OnceLock<String> = OnceLock::new();
static MPI_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// Exit code of a failure on a thread that may not call MPI; 0 while there is none.
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Remembers who this process is and which thread owns MPI, and makes every panic abort the job.
pub(crate) fn install(rank: usize, host: &str) {
    let _ = WHO.set(format!("rank {rank} on {host}"));
    let _ = MPI_THREAD.set(std::thread::current().id());
    std::panic::set_hook(Box::new(|info| {
        let message = match info.payload().downcast_ref::<&str>() {
            Some(text) => text.to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "unknown panic".into()),
        };
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        abort_job(&format!("panic: {message}{place}"), 101);
    }));
}

/// Prints the message as `triton-batch: rank R on HOST: MESSAGE` and aborts every rank: at once
/// on the MPI thread, at the MPI thread's next poll from any other thread (which parks till then).
pub fn abort_job(message: &str, code: i32) -> ! {
    say(message);
    let on_mpi_thread = MPI_THREAD
        .get()
        .is_none_or(|&id| id == std::thread::current().id());
    if !on_mpi_thread {
        let _ = PENDING.compare_exchange(0, code.max(1), Ordering::SeqCst, Ordering::SeqCst);
        loop {
            std::thread::park();
        }
    }
    mpi_abort(code)
}

/// Called by the MPI thread between polls: aborts the job if another thread has failed.
pub(crate) fn check() {
    let code = PENDING.load(Ordering::SeqCst);
    if code != 0 {
        mpi_abort(code);
    }
}

fn mpi_abort(code: i32) -> ! {
    crate::files::release_output_lock();
    // SAFETY: called on the thread that initialised MPI (or before any other thread exists);
    // MPI_Abort on the world communicator is the documented way to end every process of the job
    // and does not return in practice.
    unsafe {
        mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, code);
    }
    std::process::exit(code)
}

/// Prints `triton-batch: rank R on HOST: MESSAGE` in one write, so that mpirun's own messages on
/// the same stream cannot split the line.
pub(crate) fn say(message: &str) {
    let who = WHO.get().map(String::as_str).unwrap_or("rank ?");
    let line = format!("triton-batch: {who}: {message}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Ends this process with `code` at once, without MPI_Finalize (which waits for every rank of
/// the job, a lost one included) and without running exit handlers that might call into MPI.
pub(crate) fn exit_now(code: i32) -> ! {
    use std::io::Write;
    crate::files::release_output_lock();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit only ends the process; nothing of this process is used after it.
    unsafe { libc::_exit(code) }
}

/// Test-only switch for the failure tests: `TRITON_BATCH_TEST_FAIL=panic@R` (or `error@R`) makes
/// rank R panic (or return an error) when it starts its second task, after one row is recorded.
pub(crate) fn injected(rank: usize, tasks_started: usize) -> anyhow::Result<()> {
    let Ok(spec) = std::env::var("TRITON_BATCH_TEST_FAIL") else {
        return Ok(());
    };
    let Some((mode, target)) = spec.split_once('@') else {
        return Ok(());
    };
    if target.parse() != Ok(rank) || tasks_started != 1 {
        return Ok(());
    }
    match mode {
        "panic" => panic!("injected failure (TRITON_BATCH_TEST_FAIL={spec})"),
        _ => anyhow::bail!("injected failure (TRITON_BATCH_TEST_FAIL={spec})"),
    }
}

/// Test-only switch: `TRITON_BATCH_TEST_FAIL=fit@N` makes every fit of grid-search candidate N
/// fail, to check that failed fits score NaN and the search goes on.
pub fn injected_fit_failure(candidate: usize) -> Option<String> {
    let spec = std::env::var("TRITON_BATCH_TEST_FAIL").ok()?;
    let target = spec.strip_prefix("fit@")?;
    (target.parse() == Ok(candidate)).then(|| format!("injected fit failure ({spec})"))
}

/// Test-only switch: `TRITON_BATCH_TEST_FAIL=journal@K` makes rank 0 fail the run right after its
/// journal holds K tasks, so that a test knows exactly what a resume finds there.
pub(crate) fn injected_after_journaled(journaled: usize) -> anyhow::Result<()> {
    let spec = std::env::var("TRITON_BATCH_TEST_FAIL").unwrap_or_default();
    match spec.strip_prefix("journal@") {
        Some(k) if k.parse() == Ok(journaled) => {
            anyhow::bail!("injected failure after {journaled} journaled tasks ({spec})")
        }
        _ => Ok(()),
    }
}

/// Test-only switch for the kill tests: `TRITON_BATCH_TEST_KILL=MOMENT@K` ends this process with
/// SIGKILL, as a power cut does, the Kth time it reaches MOMENT (counted from 1 in this process):
/// `log-torn` halfway through writing a task-log record (the first record is the log's header),
/// `log` after a task's log record, `journal` after its journal rows, `model` after a saved
/// tree's nodes and before its index row, `finish` after the summary tables and before the
/// rename, `renamed` after the rename and before the task log is removed, `removed` after that
/// (the run is complete).
pub(crate) fn kill_point(moment: &str) {
    if kill_requested(moment) {
        power_cut()
    }
}

/// `kill_point("log-torn")` for a record about to be written: writes the first half of it,
/// syncs, and ends the process.
pub(crate) fn injected_torn_write(file: &mut std::fs::File, record: &[u8]) {
    if kill_requested("log-torn") {
        use std::io::Write;
        let _ = file.write_all(&record[..record.len() / 2]);
        let _ = file.sync_data();
        power_cut()
    }
}

fn kill_requested(moment: &str) -> bool {
    static REACHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Ok(spec) = std::env::var("TRITON_BATCH_TEST_KILL") else {
        return false;
    };
    match spec.split_once('@') {
        Some((wanted, k)) if wanted == moment => {
            let reached = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
            k.parse() == Ok(reached)
        }
        _ => false,
    }
}

fn power_cut() -> ! {
    // SAFETY: sending SIGKILL to this process ends it; nothing runs after it.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL ends the process")
}

/// The signal (SIGINT or SIGTERM) that asked this process to stop; 0 while none has.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// Exit status of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports Ctrl-C).
pub const INTERRUPTED_STATUS: i32 = 130;

extern "C" fn note_signal(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe. The main thread acts on it between messages.
    INTERRUPTED.store(signal, Ordering::SeqCst);
}

/// Replaces the default action of SIGINT (Ctrl-C) and SIGTERM (what mpirun sends every rank when
/// it is stopped) with a flag that the main thread checks between messages, so that rank 0 stops
/// between two journal writes, never in the middle of one.
pub(crate) fn catch_interrupts() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic, an empty mask
        // and SA_RESTART (interrupted system calls resume) is a valid, async-signal-safe setup.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The name of the signal that asked this process to stop, if one has.
pub(crate) fn interrupted() -> Option<&'static str> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ => Some("a signal"),
    }
}
