//! Randomized search against scikit-learn: the candidates `ParameterSampler` yields for each
//! reference space (tests/reference/param_sampler.json, scripts/reference/param_sampler.py), and a
//! randomized search run end to end whose `cv_results` lists those candidates; bad `[search]` and
//! distribution tables refused in one line before any compute.

use std::collections::BTreeMap;

use crate::common::*;
use serde::Deserialize;
use triton_batch::jobfile::gridsearch::sampled;
use triton_batch::ml::search::sampler::{sample, SampledGrid};
use triton_batch::ml::search::{Candidate, ParamValue};
use triton_batch::results::ResultFile;

#[derive(Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    grids: Vec<BTreeMap<String, toml::Value>>,
    n_iter: usize,
    random_state: u32,
    candidates: Vec<Candidate>,
    warned: bool,
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(repo().join("tests/reference/param_sampler.json"))
        .expect("reading tests/reference/param_sampler.json");
    serde_json::from_str(&text).expect("parsing the reference")
}

fn grids(case: &Case) -> Vec<SampledGrid> {
    case.grids
        .iter()
        .map(|grid| {
            grid.iter()
                .map(|(name, value)| (name.clone(), sampled(name, value).unwrap()))
                .collect()
        })
        .collect()
}

/// Equal, but a log-uniform draw may differ in its last place (see `sampler`).
fn same_value(ours: &ParamValue, theirs: &ParamValue, log_uniform: bool) -> bool {
    match (ours, theirs) {
        (ParamValue::Float(a), ParamValue::Float(b)) if log_uniform => {
            (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 1
        }
        (ParamValue::Float(a), ParamValue::Float(b)) => a.to_bits() == b.to_bits(),
        _ => ours == theirs,
    }
}

#[test]
fn sampled_candidates_are_scikit_learns() {
    for case in reference().cases {
        let (drawn, asked) = sample(&grids(&case), case.n_iter, case.random_state).unwrap();
        assert_eq!(asked.is_some(), case.warned, "{}: the warning", case.name);
        assert_eq!(drawn.len(), case.candidates.len(), "{}", case.name);
        for (i, (ours, theirs)) in drawn.iter().zip(&case.candidates).enumerate() {
            assert_eq!(
                ours.keys().collect::<Vec<_>>(),
                theirs.keys().collect::<Vec<_>>(),
                "{} #{i}",
                case.name
            );
            for (name, value) in ours {
                let log_uniform = case.grids.iter().any(|g| {
                    g.get(name)
                        .and_then(|v| v.get("distribution"))
                        .and_then(|d| d.as_str())
                        == Some("loguniform")
                });
                assert!(
                    same_value(value, &theirs[name], log_uniform),
                    "{} #{i} {name}: ours {value:?}, scikit-learn's {:?}",
                    case.name,
                    theirs[name]
                );
            }
        }
    }
}

const JOB: &str = r#"
[data]
source = "make_classification"
n_samples = 600
random_state = 0

[estimator]
kind = "svc"

[search]
strategy = "random"
n_iter = 40
random_state = 0

[grid]
C = { distribution = "loguniform", low = 0.001, high = 10.0 }
gamma = { distribution = "uniform", loc = 0.01, scale = 0.5 }
degree = { distribution = "randint", low = 2, high = 6 }
kernel = ["rbf", "poly"]

[cv]
folds = 3
"#;

#[test]
fn a_randomized_search_runs_the_sampled_candidates_on_two_ranks() {
    let dir = tempdir();
    let job = job_file(dir.path(), "random.toml", JOB);
    let out = dir.path().join("random.h5");
    mpirun(
        2,
        &[
            "gridsearch",
            path_str(&job),
            "--quiet",
            "--out",
            path_str(&out),
        ],
        300,
    )
    .assert_success();
    let mixed = reference()
        .cases
        .into_iter()
        .find(|c| c.name == "mixed")
        .expect("the reference's mixed case is this job's space");
    let results = ResultFile::open_read(&out)
        .unwrap()
        .read_table("cv_results")
        .unwrap();
    assert_eq!(results.len(), 40);
    let c = results.f64_column("param_C").unwrap();
    // Numbers are f64 columns (NaN where a candidate lacks the parameter).
    let degree = results.f64_column("param_degree").unwrap();
    let kernel = results.str_column("param_kernel").unwrap();
    for (i, theirs) in mixed.candidates.iter().enumerate() {
        let their_c = theirs["C"].as_f64().unwrap();
        assert!((c[i] - their_c).abs() <= their_c * 1e-15, "#{i} C");
        assert_eq!(Some(degree[i]), theirs["degree"].as_f64(), "#{i} degree");
        assert_eq!(
            ParamValue::Str(kernel[i].clone()),
            theirs["kernel"],
            "#{i} kernel"
        );
    }
    let scores = results.f64_column("mean_test_score").unwrap();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{scores:?}");
}

#[test]
fn bad_search_sections_are_refused_in_one_line() {
    let dir = tempdir();
    let out = dir.path().join("existing.h5");
    std::fs::write(&out, b"an earlier result").unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "\"loguniform\", low = 0.001",
            "\"lognormal\", low = 0.001",
            &["C", "unknown distribution \"lognormal\"", "loguniform"],
        ),
        (
            "low = 0.001, high = 10.0",
            "low = 10.0, high = 0.001",
            &["C", "low < high"],
        ),
        (
            "low = 2, high = 6",
            "low = 6, high = 6",
            &["degree", "low < high"],
        ),
        (
            "strategy = \"random\"\nn_iter = 40\nrandom_state = 0",
            "strategy = \"grid\"",
            &["C", "distribution", "strategy = \"random\""],
        ),
        (
            "strategy = \"random\"",
            "strategy = \"bayes\"",
            &["strategy", "bayes", "\"grid\", \"random\""],
        ),
        (
            "n_iter = 40",
            "n_iter = 0",
            &["n_iter", "between 1 and 10000000"],
        ),
        (
            "n_iter = 40",
            "n_iter = 1000000000000",
            &["n_iter", "between 1 and 10000000"],
        ),
        (
            "n_iter = 40\nrandom_state = 0",
            "n_iter = 40\nrandom_state = -1",
            &["random_state", "2**32 - 1"],
        ),
        (
            "loc = 0.01, scale = 0.5",
            "loc = 0.01, sigma = 0.5",
            &["gamma", "uniform takes loc and scale", "sigma"],
        ),
    ];
    for (from, to, words) in cases {
        assert!(JOB.contains(from), "{from}");
        let job = job_file(dir.path(), "bad.toml", &JOB.replacen(from, to, 1));
        let run = triton(&["gridsearch", path_str(&job), "--out", path_str(&out)], 60);
        assert_eq!(run.code(), Some(2), "`{to}`: {}", run.stderr());
        let stderr = run.stderr();
        assert_eq!(stderr.trim_end().lines().count(), 1, "`{to}`:\n{stderr}");
        for word in *words {
            assert!(
                stderr.contains(word),
                "`{to}` error lacks `{word}`: {stderr}"
            );
        }
        assert_eq!(std::fs::read(&out).unwrap(), b"an earlier result");
    }
}

#[test]
fn n_iter_above_a_lists_only_grid_warns_and_runs_the_grid() {
    let dir = tempdir();
    let text = JOB
        .replace(
            "C = { distribution = \"loguniform\", low = 0.001, high = 10.0 }",
            "C = [0.1, 1.0]",
        )
        .replace(
            "gamma = { distribution = \"uniform\", loc = 0.01, scale = 0.5 }\n",
            "",
        )
        .replace(
            "degree = { distribution = \"randint\", low = 2, high = 6 }\n",
            "",
        );
    let job = job_file(dir.path(), "small.toml", &text);
    let out = dir.path().join("small.h5");
    let run = triton(
        &[
            "gridsearch",
            path_str(&job),
            "--out",
            path_str(&out),
            "--quiet",
        ],
        120,
    );
    run.assert_success();
    assert!(
        run.stderr()
            .contains("the grid has 4 candidates, fewer than [search] n_iter = 40: running 4"),
        "{}",
        run.stderr()
    );
    let results = ResultFile::open_read(&out)
        .unwrap()
        .read_table("cv_results")
        .unwrap();
    assert_eq!(results.len(), 4);
}

#[test]
fn grids_too_large_to_hold_are_refused_before_any_compute() {
    let dir = tempdir();
    let values = format!(
        "[{}]",
        (1..=20)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let lists: String = (0..8).map(|i| format!("p{i} = {values}\n")).collect();
    let huge = |search: &str| {
        format!("[data]\nsource = \"make_classification\"\nn_samples = 100\n\n[estimator]\nkind = \"svc\"\n\n{search}[grid]\n{lists}")
    };
    for (search, words) in [
        (
            "[search]\nstrategy = \"random\"\n\n",
            &["2**32 - 1 candidates", "distributions"][..],
        ),
        ("", &["25600000000 candidates", "strategy = \"random\""][..]),
    ] {
        let job = job_file(dir.path(), "huge.toml", &huge(search));
        let run = triton(&["validate", path_str(&job)], 30);
        assert_eq!(run.code(), Some(2), "{}", run.stderr());
        assert_eq!(
            run.stderr().trim_end().lines().count(),
            1,
            "{}",
            run.stderr()
        );
        for word in words {
            assert!(
                run.stderr().contains(word),
                "`{word}` not in {}",
                run.stderr()
            );
        }
    }
}
