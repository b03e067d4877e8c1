//! Runs cut short by the user, through real mpirun: Ctrl-C (SIGINT) or SIGTERM to mpirun or to a
//! single process ends every rank within 5 s with the saved task count and the `--resume`
//! command, and the resume is bit-identical; a second run on the same `--out` is refused while
//! the first runs, naming its host and pid; a lock left by a killed run blocks nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::processes::*;
use crate::common::same::*;
use crate::common::*;
use triton_batch::files::partial_path;

/// 96 blocks of about 0.1 s each here: several seconds of work on two ranks.
const JOB: &str = r#"
[model]
kind = "gbm"
s0 = 100.0
sigma = 0.2
r = 0.02
q = 0.0

[option]
payoff = "asian_arithmetic"
type = "call"
strike = 100.0
maturity = 4.0
steps = 1460

[simulation]
paths = 960000
estimator = "control_variate"
seed = 5
block_paths = 10000
"#;

/// Waits until the journal of `out` holds at least `n` tasks, while `pid` runs.
fn wait_for_tasks(out: &Path, n: usize, pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while journal_rows(&partial_path(out)) < n {
        assert!(
            is_running(pid),
            "the run ended before its journal held {n} tasks"
        );
        assert!(Instant::now() < deadline, "no {n} tasks in the journal");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

fn run_args<'a>(job: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "montecarlo",
        path_str(job),
        "--out",
        path_str(out),
        "--quiet",
    ]
}

/// The job file and the result of a whole run of it on one rank, to compare with.
fn uninterrupted() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempdir();
    let job = job_file(dir.path(), "mc.toml", JOB);
    let whole = dir.path().join("whole.h5");
    triton(&run_args(&job, &whole), 300).assert_success();
    (dir, job, whole)
}

/// Starts `args` in the background alone (a singleton, no mpirun) and returns it with the
/// binary's pid (the child of `timeout`).
fn start_alone(args: &[&str]) -> (std::process::Child, u32) {
    let mut command = std::process::Command::new("timeout");
    command
        .args(["-k", "10", "300", BIN])
        .args(args)
        .current_dir(repo())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    let outer = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        if let Some(&pid) = children(outer).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "the binary did not start");
        std::thread::sleep(Duration::from_millis(10));
    };
    (child, pid)
}

/// Checks what an interrupted run said: one line with the saved count and one with the resume
/// command, which it returns.
fn check_stopped(stderr: &str, signal_name: &str) -> String {
    let saved: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(&format!("stopped by {signal_name}")))
        .collect();
    assert_eq!(saved.len(), 1, "one line with the saved count:\n{stderr}");
    assert!(
        saved[0].contains(" of 96 tasks are saved in `"),
        "{}",
        saved[0]
    );
    let command = stderr
        .lines()
        .find_map(|l| l.strip_prefix("triton-batch: to finish the run: "))
        .unwrap_or_else(|| panic!("no resume command:\n{stderr}"));
    assert!(command.ends_with(" --resume"), "{command}");
    command.to_string()
}

#[test]
fn ctrl_c_to_mpirun_ends_every_rank_and_resume_completes_identically() {
    let (dir, job, whole) = uninterrupted();
    for (np, name) in [(2, "INT"), (2, "TERM")] {
        let out = dir.path().join(format!("stopped-{name}.h5"));
        let args = run_args(&job, &out);
        let running = start_mpirun(np, &args, 120);
        let mpirun_pid = loop {
            if let Some(&pid) = children(running.pid()).first() {
                break pid;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        wait_for_tasks(&out, 5, mpirun_pid);
        let processes = descendants(mpirun_pid);
        let sent = Instant::now();
        signal(mpirun_pid, name);
        let run = running.wait();
        // Every process of the job (mpirun, its ranks and helpers) ends within 5 s.
        let mut left = processes;
        while !left.is_empty() && sent.elapsed() < Duration::from_secs(5) {
            left.retain(|&p| is_running(p));
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = sent.elapsed();
        assert!(
            left.is_empty() && took < Duration::from_secs(5),
            "left running after {took:?}: {left:?}\n{}",
            run.stderr()
        );
        let stderr = run.stderr();
        // mpirun reports the signal with its own status, and passes SIGTERM to the ranks
        // whichever it got; rank 0's lines are what count.
        assert_ne!(run.code(), Some(0), "{stderr}");
        let command = check_stopped(&stderr, "SIGTERM: ");
        assert!(
            command.starts_with(&format!("mpirun -np {np} ")),
            "{command}"
        );
        assert!(
            command.contains(&format!("montecarlo {}", path_str(&job))),
            "{command}"
        );
        let saved = journal_rows(&partial_path(&out));
        assert!((5..96).contains(&saved), "{saved} tasks saved");
        assert!(
            stderr.contains(&format!(
                "{saved} of 96 tasks are saved in `{}.partial`",
                out.display()
            )),
            "{stderr}"
        );

        let resumed = [&args[..], &["--resume"]].concat();
        mpirun(np, &resumed, 120).assert_success();
        assert_same_estimate(&whole, &out);
        assert!(!PathBuf::from(format!("{}.lock", out.display())).exists());
    }
}

#[test]
fn ctrl_c_to_a_single_process_saves_the_journal_and_resume_completes() {
    let (dir, job, whole) = uninterrupted();
    let out = dir.path().join("alone.h5");
    let args = run_args(&job, &out);
    let (child, pid) = start_alone(&args);
    wait_for_tasks(&out, 3, pid);
    let sent = Instant::now();
    signal(pid, "INT");
    let output = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let command = check_stopped(&stderr, "SIGINT: ");
    assert!(
        command.starts_with(BIN),
        "no mpirun for one process: {command}"
    );
    assert!(!PathBuf::from(format!("{}.lock", out.display())).exists());

    triton(&[&args[..], &["--resume"]].concat(), 300).assert_success();
    assert_same_estimate(&whole, &out);
}

#[test]
fn a_second_run_on_the_same_out_is_refused_while_the_first_runs() {
    let (dir, job, whole) = uninterrupted();
    let out = dir.path().join("busy.h5");
    let args = run_args(&job, &out);
    let (first, pid) = start_alone(&args);
    wait_for_tasks(&out, 2, pid);
    let lock = PathBuf::from(format!("{}.lock", out.display()));
    assert!(lock.exists());

    for second in [args.clone(), [&args[..], &["--resume"]].concat()] {
        let run = mpirun(2, &second, 60);
        assert_eq!(run.code(), Some(2), "{}", run.stderr());
        let stderr = run.stderr();
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("triton-batch"))
            .collect();
        assert_eq!(lines.len(), 1, "one line:\n{stderr}");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert!(
            lines[0].contains(&format!(
                "is being written by another run (pid {pid} on {}",
                host.trim()
            )),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("choose another --out"), "{}", lines[0]);
    }
    let run = first.wait_with_output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_same_estimate(&whole, &out);
    assert!(!lock.exists(), "the lock is removed at the end");
}

#[test]
fn a_lock_left_by_a_killed_run_blocks_nothing() {
    let (dir, job, whole) = uninterrupted();
    let out = dir.path().join("killed.h5");
    let args = run_args(&job, &out);
    let (child, pid) = start_alone(&args);
    wait_for_tasks(&out, 3, pid);
    signal(pid, "KILL");
    let _ = child.wait_with_output();
    let lock = PathBuf::from(format!("{}.lock", out.display()));
    let text = std::fs::read_to_string(&lock).expect("the killed run's lock file is left");
    assert!(text.trim().ends_with(&format!(" {pid}")), "{text}");

    mpirun(2, &[&args[..], &["--resume"]].concat(), 120).assert_success();
    assert_same_estimate(&whole, &out);
    assert!(!lock.exists());
}
