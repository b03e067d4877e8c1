//! `--threads`: every job kind gives the same numbers, bit for bit, on 1, 2 and 3 threads and on
//! two ranks of two threads; the count is recorded in the result; bad counts are refused.

use std::path::{Path, PathBuf};

use crate::common::same::*;
use crate::common::*;
use triton_batch::results::{ResultFile, Value};

/// Seed walk, plain estimator: blocks long enough to be cut into pieces (and a short one).
const MC_PLAIN: &str = r#"
[model]
kind = "seed"
s0 = 100.0
mu = 0.02
sigma = 0.2

[option]
payoff = "asian_arithmetic"
type = "call"
strike = 100.0
steps = 200

[simulation]
paths = 2100
estimator = "plain"
seed = 3
block_paths = 1000
"#;

/// GBM with the control variate and antithetic pairs: the other walks of the hot loop.
const MC_CV: &str = r#"
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
maturity = 1.0
steps = 120

[simulation]
paths = 3001
estimator = "control_variate"
seed = 7
block_paths = 1500
"#;

const MC_ANTI: &str = r#"
[model]
kind = "gbm"
s0 = 100.0
sigma = 0.3
r = 0.02
q = 0.01

[option]
payoff = "asian_geometric"
type = "put"
strike = 95.0
maturity = 1.0
steps = 60

[simulation]
paths = 2004
estimator = "antithetic"
seed = 9
block_paths = 1002
"#;

/// Every kernel on a small grid (kernel rows and decision values cut into pieces).
const SVC_SMALL: &str = r#"
[data]
source = "make_classification"
n_samples = 4000
random_state = 0
test_size = 0.25

[estimator]
kind = "svc"
gamma = "auto"

[grid]
C = [0.1, 1.0]
kernel = ["rbf", "poly", "sigmoid"]

[cv]
folds = 3
"#;

/// Folds of 8,667 training rows: long enough for the solver's scans to be spread too.
const SVC_LARGE: &str = r#"
[data]
source = "make_classification"
n_samples = 13000
random_state = 0

[estimator]
kind = "svc"
gamma = "auto"

[grid]
C = [0.5, 1.0]
kernel = ["rbf"]

[cv]
folds = 3
"#;

const FOREST: &str = r#"
[data]
source = "file"
path = "tests/reference/gridsearch_data.h5"
test_size = 0.25
random_state = 1

[forest]
n_estimators = 50
max_features = "sqrt"
oob_score = true
seed = 5
block_trees = 13
"#;

/// Runs `kind JOB` with `--threads` on `np` ranks into `dir/<name>.h5`.
fn run(kind: &str, job: &Path, np: usize, threads: &str, extra: &[&str], name: &str) -> PathBuf {
    let out = job.with_file_name(format!("{name}.h5"));
    let mut args = vec![
        kind,
        path_str(job),
        "--quiet",
        "--threads",
        threads,
        "--out",
        path_str(&out),
    ];
    args.extend_from_slice(extra);
    mpirun(np, &args, 600).assert_success();
    out
}

/// Runs the job on (1 rank × 1, 2, 3 threads) and (2 ranks × 2 threads); `same` compares each
/// result with the single-threaded one.
fn across_threads(kind: &str, name: &str, text: &str, extra: &[&str], same: fn(&Path, &Path)) {
    let dir = tempdir();
    let job = job_file(dir.path(), &format!("{name}.toml"), text);
    let one = run(kind, &job, 1, "1", extra, "t1");
    for (np, threads) in [(1, "2"), (1, "3"), (2, "2")] {
        let file = run(
            kind,
            &job,
            np,
            threads,
            extra,
            &format!("np{np}-t{threads}"),
        );
        same(&one, &file);
        let result = ResultFile::open_read(&file).unwrap();
        assert_eq!(result.attr("threads").unwrap(), Value::Str(threads.into()));
        let ranks = result.read_table("ranks").unwrap();
        let counts = ranks.i64_column("threads").unwrap();
        let tasks = ranks.i64_column("tasks").unwrap();
        for (count, tasks) in counts.iter().zip(tasks) {
            // A rank that ran no task reports no thread count.
            let want = if tasks > 0 {
                threads.parse().unwrap()
            } else {
                0
            };
            assert_eq!(*count, want, "{name} np {np} threads {threads}");
        }
    }
}

#[test]
fn montecarlo_is_identical_on_any_thread_count() {
    for (name, text) in [("plain", MC_PLAIN), ("cv", MC_CV), ("anti", MC_ANTI)] {
        across_threads("montecarlo", name, text, &[], assert_same_estimate);
    }
}

#[test]
fn gridsearch_is_identical_on_any_thread_count() {
    across_threads("gridsearch", "small", SVC_SMALL, &[], assert_same_results);
}

#[test]
fn a_large_svc_fit_is_identical_on_any_thread_count() {
    across_threads(
        "gridsearch",
        "large",
        SVC_LARGE,
        &["--no-refit"],
        assert_same_results,
    );
}

#[test]
fn forest_is_identical_on_any_thread_count() {
    across_threads(
        "forest",
        "forest",
        FOREST,
        &["--predictions"],
        assert_same_forest,
    );
}

#[test]
fn a_thread_count_that_is_not_a_positive_number_is_refused() {
    let dir = tempdir();
    let job = job_file(dir.path(), "mc.toml", MC_PLAIN);
    for kind in ["montecarlo", "gridsearch", "forest"] {
        for bad in ["0", "many", "-2"] {
            let flag = format!("--threads={bad}");
            let run = triton(&[kind, path_str(&job), &flag], 30);
            assert_eq!(run.code(), Some(2), "{kind} {bad}: {}", run.stderr());
            let errors: Vec<String> = run
                .stderr()
                .lines()
                .filter(|l| l.starts_with("error"))
                .map(String::from)
                .collect();
            assert_eq!(errors.len(), 1, "{kind} {bad}: {}", run.stderr());
            assert!(
                errors[0].contains("give a number of threads from 1 to 1024, or auto"),
                "{kind} {bad}: {}",
                run.stderr()
            );
        }
    }
}

#[test]
fn auto_threads_run_and_are_recorded() {
    let dir = tempdir();
    let job = job_file(dir.path(), "mc.toml", MC_PLAIN);
    let file = run("montecarlo", &job, 2, "auto", &[], "auto");
    let result = ResultFile::open_read(&file).unwrap();
    assert_eq!(result.attr("threads").unwrap(), Value::Str("auto".into()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Two ranks on this machine share its cores.
    let want = (cores / 2).max(1) as i64;
    let ranks = result.read_table("ranks").unwrap();
    let counts = ranks.i64_column("threads").unwrap();
    let tasks = ranks.i64_column("tasks").unwrap();
    for (count, tasks) in counts.iter().zip(tasks) {
        if tasks > 0 {
            assert_eq!(*count, want);
        }
    }
}
