//! Failure handling: any error or panic on any rank ends the whole job at once. A panicking rank
//! would otherwise unwind into MPI_Finalize and leave the others waiting forever, so the panic hook
//! and every error path call MPI_Abort on the world communicator after printing the message with
//! the rank and host in front.

use std::sync::OnceLock;

static WHO: OnceLock<String> = OnceLock::new();

/// Remembers who this process is and makes every panic abort the job.
pub(crate) fn install(rank: usize, host: &str) {
    let _ = WHO.set(format!("rank {rank} on {host}"));
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

/// Prints the message as `triton-batch: rank R on HOST: MESSAGE` and aborts every rank.
pub fn abort_job(message: &str, code: i32) -> ! {
    let who = WHO.get().map(String::as_str).unwrap_or("rank ?");
    // One write, so that mpirun's own messages on the same stream cannot split the line.
    let line = format!("triton-batch: {who}: {message}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    // SAFETY: MPI was initialised before `install` set WHO; MPI_Abort on the world communicator
    // is the documented way to end every process of the job and does not return in practice.
    unsafe {
        mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, code);
    }
    std::process::exit(code)
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
