//! Lost nodes never hang a job, on one host through real mpirun: a rank stopped with SIGSTOP
//! (silent, with no error and no closed socket, as a node that lost power or its link looks to
//! the others) is lost after --node-timeout. A stopped worker: the job completes without it,
//! bit-identical, exit status 4, the loss recorded. A stopped rank 0: the others leave (status 5)
//! and --resume completes the job. A task longer than the timeout is not a lost node.

use std::path::Path;
use std::time::Duration;

use crate::common::processes::*;
use crate::common::same::*;
use crate::common::*;
use triton_batch::results::{ResultFile, Value};

/// 48 blocks of about 0.1 s each here: long enough to stop a rank while it holds work.
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
paths = 480000
estimator = "control_variate"
seed = 11
block_paths = 10000
"#;

fn rank_of(pid: u32) -> Option<usize> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|&b| b == 0)
        .filter_map(|var| std::str::from_utf8(var).ok())
        .find_map(|var| var.strip_prefix("OMPI_COMM_WORLD_RANK="))
        .and_then(|rank| rank.parse().ok())
}

/// The pids of the ranks under the mpirun that `timeout` (pid `outer`) started, by rank.
fn ranks_of(outer: u32, np: usize) -> Vec<u32> {
    for _ in 0..600 {
        let ranks: Vec<(usize, u32)> = children(outer)
            .into_iter()
            .flat_map(children)
            .filter_map(|pid| Some((rank_of(pid)?, pid)))
            .collect();
        if ranks.len() == np {
            let mut pids = vec![0; np];
            for (rank, pid) in ranks {
                pids[rank] = pid;
            }
            return pids;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the {np} ranks did not start");
}

/// Starts the job on 3 ranks, stops `victim` once the journal exists and work is under way,
/// and returns the run and the ranks' pids. The victim is ended on every path (SIGKILL works
/// on a stopped process), though mpirun is expected to have ended it.
fn run_and_stop(job: &Path, out: &Path, victim: usize, extra: &[&str]) -> (Run, Vec<u32>) {
    let mut args = vec![
        "montecarlo",
        job.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--node-timeout",
        "3",
        "--quiet",
    ];
    args.extend(extra);
    let running = start_mpirun(3, &args, 60);
    let pids = ranks_of(running.pid(), 3);
    let journal = format!("{}.partial", out.display());
    while !Path::new(&journal).exists() && is_running(pids[0]) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &pids[victim].to_string()])
        .status();
    let run = running.wait();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pids[victim].to_string()])
        .status();
    assert!(stop.is_ok_and(|s| s.success()), "stopping rank {victim}");
    (run, pids)
}

fn assert_none_left(pids: &[u32], run: &Run) {
    // mpirun has returned; give the kernel a moment to finish its kills.
    std::thread::sleep(Duration::from_millis(500));
    let left: Vec<u32> = pids.iter().copied().filter(|&p| is_running(p)).collect();
    assert!(
        left.is_empty(),
        "ranks left running: {left:?}\n{}",
        run.stderr()
    );
}

/// The job file and the result of a whole run of it on one rank, to compare with.
fn uninterrupted() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempdir();
    let job = job_file(dir.path(), "mc.toml", JOB);
    let whole = dir.path().join("whole.h5");
    let out = ["--out", path_str(&whole), "--quiet"];
    triton(&[&["montecarlo", path_str(&job)][..], &out].concat(), 300).assert_success();
    (dir, job, whole)
}

#[test]
fn a_silent_worker_is_lost_and_the_job_completes_without_it() {
    let (dir, job, whole) = uninterrupted();

    // Static shares: the stopped rank surely holds unfinished tasks.
    let out = dir.path().join("lost.h5");
    let (run, pids) = run_and_stop(&job, &out, 2, &["--schedule", "static"]);
    assert_ne!(run.code(), Some(124), "the job hung:\n{}", run.stderr());
    assert_eq!(run.code(), Some(4), "{}", run.stderr());
    let stderr = run.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning: lost rank 2 on "))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning:\n{}", run.stderr());
    assert!(warnings[0].contains(" s into the run"), "{}", warnings[0]);
    assert_none_left(&pids, &run);

    assert_same_estimate(&whole, &out);
    let file = ResultFile::open_read(&out).unwrap();
    assert_eq!(file.attr("lost_ranks").unwrap(), Value::Str("2".into()));
    let ranks = file.read_table("ranks").unwrap();
    assert_eq!(ranks.i64_column("lost").unwrap(), vec![0, 0, 1]);
    let after = ranks.f64_column("lost_after_seconds").unwrap();
    assert!(
        after[0].is_nan() && after[1].is_nan() && after[2] >= 0.0,
        "{after:?}"
    );
    let tasks: i64 = ranks.i64_column("tasks").unwrap().iter().sum();
    assert_eq!(
        tasks, 48,
        "each block counted once, on the rank whose output was kept"
    );
}

#[test]
fn a_silent_rank_0_makes_the_others_leave_and_resume_completes() {
    let (dir, job, whole) = uninterrupted();

    let out = dir.path().join("resumed.h5");
    let (run, pids) = run_and_stop(&job, &out, 0, &[]);
    assert_ne!(run.code(), Some(124), "the job hung:\n{}", run.stderr());
    assert_eq!(run.code(), Some(5), "{}", run.stderr());
    assert!(
        run.stderr().contains("lost rank 0 on ")
            && run.stderr().contains("resumes the job with --resume"),
        "{}",
        run.stderr()
    );
    assert_none_left(&pids, &run);
    assert!(!out.exists());

    let journal = dir.path().join("resumed.h5.partial");
    let recorded = table(&journal, "blocks").rows.len();
    mpirun(
        2,
        &[
            "montecarlo",
            path_str(&job),
            "--out",
            path_str(&out),
            "--quiet",
            "--resume",
        ],
        300,
    )
    .assert_success();
    assert_same_estimate(&whole, &out);
    let computed: i64 = table(&out, "ranks")
        .i64_column("tasks")
        .unwrap()
        .iter()
        .sum();
    assert_eq!(
        computed as usize,
        48 - recorded,
        "the resume ran only the missing blocks"
    );
}

#[test]
fn a_task_longer_than_the_node_timeout_is_not_a_lost_node() {
    let dir = tempdir();
    // Two blocks of about 5 s each, one per rank, against a 2 s timeout.
    let long = JOB
        .replace("paths = 480000", "paths = 960000")
        .replace("block_paths = 10000", "block_paths = 480000");
    let job = job_file(dir.path(), "long.toml", &long);
    let out = dir.path().join("long.h5");
    let run = mpirun(
        2,
        &[
            "montecarlo",
            path_str(&job),
            "--out",
            path_str(&out),
            "--node-timeout",
            "2",
            "--quiet",
        ],
        300,
    );
    run.assert_success();
    assert!(!run.stderr().contains("lost"), "{}", run.stderr());
    let file = ResultFile::open_read(&out).unwrap();
    assert_eq!(file.attr("lost_ranks").unwrap(), Value::Str(String::new()));
    let ranks = file.read_table("ranks").unwrap();
    assert_eq!(ranks.i64_column("lost").unwrap(), vec![0, 0]);
    let longest = table(&out, "blocks")
        .f64_column("seconds")
        .unwrap()
        .into_iter()
        .fold(0.0, f64::max);
    assert!(
        longest > 2.0,
        "a block took {longest} s: the test needs one longer than the timeout"
    );
}

#[test]
fn a_node_timeout_that_is_not_a_positive_number_is_refused() {
    let dir = tempdir();
    let job = job_file(dir.path(), "mc.toml", JOB);
    for bad in ["0", "-3", "soon", "inf"] {
        let flag = format!("--node-timeout={bad}");
        let run = triton(&["montecarlo", path_str(&job), &flag], 30);
        assert_eq!(run.code(), Some(2), "{bad}: {}", run.stderr());
        assert!(
            run.stderr()
                .contains("give a positive number of seconds, e.g. --node-timeout 30"),
            "{bad}: {}",
            run.stderr()
        );
    }
}
