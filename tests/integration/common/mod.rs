//! Helpers for integration tests: run the real binary, alone or under a real `mpirun`, always
//! under `timeout` so that a hung job fails the test instead of hanging it.

#![allow(dead_code)]

pub mod processes;
pub mod python;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_triton-batch");

/// A forest job of 60 trees in 15 blocks of 4 on the grid-search reference data: a few seconds.
pub const SMALL_FOREST: &str = r#"
[data]
source = "file"
path = "tests/reference/gridsearch_data.h5"
test_size = 0.25
random_state = 1

[forest]
n_estimators = 60
max_features = "sqrt"
oob_score = true
seed = 5
block_trees = 4
"#;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The result of one run and how long it took.
pub struct Run {
    pub output: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Our one line on stderr (mpirun adds its own banner about a non-zero exit), asserted to be
    /// the only one; `what` names the run in the failure message.
    pub fn our_only_line(&self, what: &str) -> String {
        let stderr = self.stderr();
        let ours: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("triton-batch"))
            .collect();
        assert_eq!(ours.len(), 1, "{what} gives one line:\n{stderr}");
        ours[0].to_string()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "run failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// A command started in the background; `wait` collects it as a `Run`.
pub struct Running {
    child: std::process::Child,
    session: PathBuf,
    started: Instant,
}

impl Running {
    /// The process started: `timeout`, whose child is mpirun (or the binary).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait(self) -> Run {
        let output = self
            .child
            .wait_with_output()
            .expect("waiting for the command");
        let _ = std::fs::remove_dir_all(&self.session);
        Run {
            output,
            elapsed: self.started.elapsed(),
        }
    }
}

fn start(mut command: Command) -> Running {
    // Open MPI 4.1 can fail "mkdir /tmp/ompi.<host>.0: File exists" when two mpiruns start at the
    // same moment (open-mpi/ompi#8510), as parallel tests do: each run gets its own session folder.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let session = std::env::temp_dir().join(format!(
        "triton-batch-test-ompi-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&session).expect("creating an Open MPI session folder");
    command
        .current_dir(repo())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_orte_tmpdir_base", &session)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let child = command.spawn().expect("starting the command");
    Running {
        child,
        session,
        started,
    }
}

fn run(command: Command) -> Run {
    start(command).wait()
}

/// `triton-batch ARGS` without mpirun (a singleton MPI process).
pub fn triton(args: &[&str], limit_seconds: u64) -> Run {
    triton_env(args, limit_seconds, &[])
}

pub fn triton_env(args: &[&str], limit_seconds: u64, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new("timeout");
    command
        .args(["-k", "10", &limit_seconds.to_string(), BIN])
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    run(command)
}

/// `scripts/NAME ARGS` with extra environment, under a timeout.
pub fn script_env(name: &str, args: &[&str], limit_seconds: u64, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new("timeout");
    command
        .args(["-k", "10", &limit_seconds.to_string()])
        .arg(repo().join("scripts").join(name))
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    run(command)
}

/// `mpirun -np N triton-batch ARGS`, oversubscribed, under a timeout.
pub fn mpirun(np: usize, args: &[&str], limit_seconds: u64) -> Run {
    mpirun_env(np, args, limit_seconds, &[])
}

pub fn mpirun_env(np: usize, args: &[&str], limit_seconds: u64, env: &[(&str, &str)]) -> Run {
    run(mpirun_command(np, args, limit_seconds, env))
}

/// `mpirun_env` started in the background.
pub fn start_mpirun(np: usize, args: &[&str], limit_seconds: u64) -> Running {
    start(mpirun_command(np, args, limit_seconds, &[]))
}

fn mpirun_command(np: usize, args: &[&str], limit_seconds: u64, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new("timeout");
    command.args([
        "-k",
        "10",
        &limit_seconds.to_string(),
        "mpirun",
        "--oversubscribe",
    ]);
    for (k, v) in env {
        command.args(["-x", &format!("{k}={v}")]);
    }
    command.args(["-np", &np.to_string(), BIN]).args(args);
    command
}

/// A fresh temporary folder for one test's files.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a temporary folder")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Writes a job file into `dir` and returns its path.
pub fn job_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a job file");
    path
}

pub mod same;

/// Rows of the `blocks` journal `journal` so far (0 while it is not readable yet).
pub fn journal_rows(journal: &Path) -> usize {
    triton_batch::results::ResultFile::open_read(journal)
        .and_then(|f| f.read_table("blocks"))
        .map(|t| t.rows.len())
        .unwrap_or(0)
}
