//! Jobs that cannot fit: data, tasks or a model file larger than this machine's available
//! memory or the output folder's free space are refused, with the estimate and the limit, by
//! `validate` and by the run commands before any compute; `validate` prints the estimates of
//! every job in `jobs/`.

use crate::common::*;

const HUGE_DATA: &str = r#"
[data]
source = "make_classification"
n_samples = 10000000000
random_state = 0

[forest]
n_estimators = 10
"#;

const HUGE_FOREST: &str = r#"
[data]
source = "make_classification"
n_samples = 400
random_state = 0

[forest]
n_estimators = 1000000000
"#;

const HUGE_SEARCH: &str = r#"
[data]
source = "make_classification"
n_samples = 10000000000
random_state = 0

[estimator]
kind = "svc"

[grid]
C = [1.0]
"#;

const HUGE_MONTECARLO: &str = r#"
[model]
kind = "gbm"
s0 = 100.0
sigma = 0.2
r = 0.02
q = 0.0

[option]
payoff = "european"
type = "call"
strike = 100.0
maturity = 1.0
steps = 1

[simulation]
paths = 9000000000000000000
seed = 1
"#;

fn assert_memory_refusal(run: &Run) {
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("triton-batch"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("needs an estimated "), "{}", lines[0]);
    assert!(
        lines[0].contains(" of memory per rank (")
            && lines[0].contains(" available on this machine (MemAvailable in /proc/meminfo"),
        "{}",
        lines[0]
    );
}

#[test]
fn jobs_too_large_for_memory_are_refused_before_anything_is_made() {
    let dir = tempdir();
    for (name, text, command) in [
        ("data.toml", HUGE_DATA, "forest"),
        ("search.toml", HUGE_SEARCH, "gridsearch"),
        ("paths.toml", HUGE_MONTECARLO, "montecarlo"),
    ] {
        let job = job_file(dir.path(), name, text);
        let run = triton(&["validate", path_str(&job)], 30);
        assert_memory_refusal(&run);
        let out = dir.path().join(format!("{name}.h5"));
        let run = mpirun(2, &[command, path_str(&job), "--out", path_str(&out)], 60);
        assert_memory_refusal(&run);
        assert!(run.elapsed.as_secs() < 30, "refused before compute");
        assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(&format!("{name}.h5"))));
    }
    let job = job_file(dir.path(), "data.toml", HUGE_DATA);
    let stderr = triton(&["validate", path_str(&job)], 30).stderr();
    assert!(
        stderr.contains("data of 10000000000 rows x 20 features"),
        "{stderr}"
    );
}

#[test]
fn a_model_file_larger_than_the_free_space_is_refused_before_compute() {
    let dir = tempdir();
    let job = job_file(dir.path(), "trees.toml", HUGE_FOREST);
    let model = dir.path().join("model.h5");
    let out = dir.path().join("trees.h5");
    let run = mpirun(
        2,
        &[
            "forest",
            path_str(&job),
            "--out",
            path_str(&out),
            "--save-model",
            path_str(&model),
        ],
        60,
    );
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    let stderr = run.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("triton-batch"))
        .unwrap_or_default();
    assert!(
        line.contains(&format!(
            "the --save-model file `{}` would take an estimated ",
            model.display()
        )) && line.contains(" TB, more than the ")
            && line.contains(&format!(" free in `{}`", dir.path().display()))
            && line.ends_with("grow fewer trees"),
        "{line}"
    );
    assert!(!model.exists() && !out.exists());
    assert!(!dir.path().join("trees.h5.partial").exists());
    assert!(!dir.path().join("trees.h5.lock").exists());
}

#[test]
fn validate_prints_memory_and_result_estimates_for_every_job() {
    let mut jobs: Vec<_> = std::fs::read_dir(repo().join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    jobs.sort();
    assert!(jobs.len() >= 5);
    for job in jobs {
        let run = triton(&["validate", path_str(&job)], 120);
        run.assert_success();
        let stdout = run.stdout();
        let estimates = stdout
            .lines()
            .find(|l| l.starts_with("  estimated peak memory per rank "))
            .unwrap_or_else(|| panic!("no estimates for {}:\n{stdout}", job.display()));
        assert!(
            estimates.contains(" available); result file ") && estimates.contains(" free in `"),
            "{estimates}"
        );
    }
}
