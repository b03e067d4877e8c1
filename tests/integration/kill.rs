//! A kill at any instant: rank 0 of a 2-rank run ends by SIGKILL, as a power cut ends it, and
//! `--resume` completes the run bit-identically to an uninterrupted one (scripts/same-bits.py on
//! the result and the saved model). The moments are chosen through the test-only switch
//! TRITON_BATCH_TEST_KILL (halfway through a task-log record, between the log and the journal,
//! between the journal and the running sums, between a saved tree's nodes and its index row,
//! before and after the final rename), plus real SIGKILLs at random instants.
//! scripts/kill-resume runs the 30 random kills of the issue.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::processes::*;
use crate::common::python::assert_same_bits;
use crate::common::*;

/// 30 tasks of SVC fits (12 C-chains and 18 poly fits) and the refit.
const GRID: &str = r#"
[data]
source = "make_classification"
n_samples = 1500
random_state = 0
test_size = 0.25

[estimator]
kind = "svc"
gamma = "auto"

[grid]
C = [0.1, 1.0, 10.0]
kernel = ["rbf", "poly", "sigmoid"]
shrinking = [true, false]

[cv]
folds = 3
"#;

/// A job's files in one folder: its job file, result and (for a forest) model.
struct Job {
    dir: tempfile::TempDir,
    kind: &'static str,
    save_model: bool,
}

impl Job {
    fn new(kind: &'static str, text: &str, save_model: bool) -> Self {
        let dir = tempdir();
        job_file(dir.path(), "job.toml", text);
        Job {
            dir,
            kind,
            save_model,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn args(&self, out: &str, resume: bool) -> Vec<String> {
        let mut args = vec![
            self.kind.to_string(),
            self.file("job.toml").display().to_string(),
            "--out".into(),
            self.file(&format!("{out}.h5")).display().to_string(),
        ];
        if self.save_model {
            args.push("--save-model".into());
            args.push(self.file(&format!("{out}-model.h5")).display().to_string());
        }
        if resume {
            args.push("--resume".into());
        }
        args
    }

    fn run(&self, out: &str, resume: bool, env: &[(&str, &str)]) -> Run {
        let args = self.args(out, resume);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        mpirun_env(2, &args, 120, env)
    }

    fn start(&self, out: &str) -> Running {
        let args = self.args(out, false);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        start_mpirun(2, &args, 120)
    }

    /// Removes every file of run `out`.
    fn clear(&self, out: &str) {
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(&format!("{out}.")) || name.starts_with(&format!("{out}-model")) {
                std::fs::remove_file(path).unwrap();
            }
        }
    }

    /// Resumes the killed run `out` and compares it with the uninterrupted `reference`; returns
    /// the resume's messages.
    fn resume_and_compare(&self, out: &str) -> String {
        let resumed = self.run(out, true, &[]);
        resumed.assert_success();
        for suffix in [".h5", "-model.h5"] {
            if suffix == ".h5" || self.save_model {
                assert_same_bits(
                    &self.file(&format!("reference{suffix}")),
                    &self.file(&format!("{out}{suffix}")),
                );
            }
        }
        for leftover in [".h5.tasks", ".h5.partial", "-model.h5.partial"] {
            let path = self.file(&format!("{out}{leftover}"));
            assert!(!path.exists(), "{} is left behind", path.display());
        }
        resumed.stderr()
    }
}

/// Kills rank 0 at `moment` (TRITON_BATCH_TEST_KILL), resumes and compares; returns the resume's
/// messages.
fn killed_at(job: &Job, moment: &str) -> String {
    job.clear("killed");
    let killed = job.run("killed", false, &[("TRITON_BATCH_TEST_KILL", moment)]);
    assert_ne!(killed.code(), Some(0), "{moment}: the run was not killed");
    assert!(
        killed.elapsed < Duration::from_secs(60),
        "{moment}: the other rank took {:?} to end",
        killed.elapsed
    );
    job.resume_and_compare("killed")
}

fn resumed_from_log(stderr: &str, moment: &str) {
    assert!(
        stderr.contains("resuming from the task log"),
        "{moment}: the resume did not use the task log:\n{stderr}"
    );
}

#[test]
fn a_forest_with_save_model_killed_at_each_moment_resumes_identically() {
    let job = Job::new("forest", SMALL_FOREST, true);
    job.run("reference", false, &[]).assert_success();
    // The log's header torn: nothing was recorded, the resume starts afresh.
    let stderr = killed_at(&job, "log-torn@1");
    assert!(!stderr.contains("resuming from the task log"), "{stderr}");
    // The 5th record (4th block) torn halfway: cut off, and that block grown again.
    let stderr = killed_at(&job, "log-torn@5");
    resumed_from_log(&stderr, "log-torn@5");
    assert!(
        stderr.contains("3 of 15 tasks recorded; cut off a torn last record"),
        "{stderr}"
    );
    for moment in ["log@3", "journal@6", "model@10", "model@58"] {
        resumed_from_log(&killed_at(&job, moment), moment);
    }
    // Every block recorded: the resume grows nothing and only finishes.
    for moment in ["finish@1", "renamed@1"] {
        let stderr = killed_at(&job, moment);
        assert!(stderr.contains("15 of 15 tasks recorded"), "{stderr}");
    }
    // Killed once the run was complete (the log removed): the resume keeps result and model.
    let stderr = killed_at(&job, "removed@1");
    assert!(!stderr.contains("resuming from the task log"), "{stderr}");
    let regrown: i64 = crate::common::same::table(&job.file("killed.h5"), "ranks")
        .i64_column("tasks")
        .unwrap()
        .iter()
        .sum();
    assert_eq!(regrown, 0, "the resume of a complete run grows no block");
}

#[test]
fn a_grid_search_killed_at_each_moment_resumes_identically() {
    let job = Job::new("gridsearch", GRID, false);
    job.run("reference", false, &[]).assert_success();
    for moment in ["log-torn@4", "log@2", "journal@9", "finish@1"] {
        resumed_from_log(&killed_at(&job, moment), moment);
    }
}

/// The pid of rank 0 under the `timeout … mpirun` process `root`, once it has started.
fn rank0_under(root: u32) -> Option<u32> {
    descendants(root).into_iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
            env.split(|&b| b == 0)
                .any(|v| v == b"OMPI_COMM_WORLD_RANK=0")
        })
    })
}

#[test]
fn real_sigkills_at_random_instants_resume_identically() {
    let job = Job::new(
        "forest",
        &SMALL_FOREST
            .replace("n_estimators = 60", "n_estimators = 400")
            .replace("block_trees = 4", "block_trees = 2"),
        true,
    );
    let started = Instant::now();
    job.run("reference", false, &[]).assert_success();
    let reference = started.elapsed().as_secs_f64();
    // A different instant each run, printed so that a failure can be replayed by hand.
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    for kill in 0..3 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = reference * (0.2 + 0.7 * (state % 1000) as f64 / 1000.0);
        job.clear("killed");
        let running = job.start("killed");
        let root = running.pid();
        let deadline = Instant::now() + Duration::from_secs_f64(at);
        let mut rank0 = None;
        while Instant::now() < deadline {
            rank0 = rank0.or_else(|| rank0_under(root));
            std::thread::sleep(Duration::from_millis(5));
        }
        let Some(rank0) = rank0.filter(|&pid| is_running(pid)) else {
            running.wait();
            eprintln!("kill {kill} at {at:.2} s: the run had ended; skipped");
            continue;
        };
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &rank0.to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -KILL {rank0}");
        let ended = running.wait();
        assert_ne!(ended.code(), Some(0));
        eprintln!(
            "kill {kill}: rank 0 killed {at:.2} s in (an uninterrupted run: {reference:.2} s)"
        );
        job.resume_and_compare("killed");
    }
}
