//! Successive halving end to end against scikit-learn (tests/reference/halving.json, written by
//! scripts/reference/halving.py): a HalvingGridSearchCV on two classes and a HalvingRandomSearchCV
//! on three, each with its iterations, rows per iteration, row subsamples, survivors in their
//! order, scores within one test sample and best candidate; the same tables to the bit on 1 and 3
//! ranks and after a kill in the middle of an iteration; bad `[search]` values refused in one line
//! before any compute.

use crate::common::python::assert_same_bits;
use crate::common::same::table;
use crate::common::*;
use serde::Deserialize;
use serde_json::Value as Json;
use triton_batch::datafile::load_hdf5;
use triton_batch::ml::cv::StratifiedKFold;
use triton_batch::ml::search::halving::HalvingSchedule;
use triton_batch::results::{ResultFile, Value};

#[derive(Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    data: String,
    job: JobParts,
    n_iterations: i64,
    n_candidates: Vec<i64>,
    n_resources: Vec<i64>,
    min_resources: i64,
    max_resources: i64,
    n_remaining_candidates: i64,
    iter: Vec<i64>,
    row_resources: Vec<i64>,
    params: Vec<String>,
    splits: Vec<Vec<f64>>,
    rank_test_score: Vec<i64>,
    subsamples_fold0: Vec<Subsample>,
    best_index: i64,
    best_params: String,
}

#[derive(Deserialize)]
struct JobParts {
    search: String,
    grid: String,
}

#[derive(Deserialize)]
struct Subsample {
    train: Vec<usize>,
    test: Vec<usize>,
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(repo().join("tests/reference/halving.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn job_text(case: &Case) -> String {
    format!(
        "[data]\nsource = \"file\"\npath = \"{}\"\n\n[estimator]\nkind = \"svc\"\ngamma = \"scale\"\n\n[search]\n{}\n\n[grid]\n{}\n\n[cv]\nfolds = 3\n",
        case.data, case.job.search, case.job.grid
    )
}

fn search(np: usize, job: &std::path::Path, out: &std::path::Path, env: &[(&str, &str)]) -> Run {
    let args = [
        "gridsearch",
        path_str(job),
        "--quiet",
        "--out",
        path_str(out),
    ];
    mpirun_env(np, &args, 300, env)
}

/// The same parameters: equal strings and integers, floats within a relative 1e-12 (a
/// log-uniform draw may differ in its last place, see `sampler`).
fn same_params(ours: &str, theirs: &str) -> bool {
    let (ours, theirs): (Json, Json) = (
        serde_json::from_str(ours).unwrap(),
        serde_json::from_str(theirs).unwrap(),
    );
    let (Json::Object(ours), Json::Object(theirs)) = (ours, theirs) else {
        return false;
    };
    ours.len() == theirs.len()
        && ours.iter().all(|(k, a)| match (a, theirs.get(k)) {
            (Json::Number(a), Some(Json::Number(b))) => {
                let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                (a - b).abs() <= 1e-12 * b.abs()
            }
            (a, b) => Some(a) == b,
        })
}

fn attr_i64s(file: &ResultFile, name: &str) -> Vec<i64> {
    match file.attr(name).unwrap() {
        Value::Str(text) => text
            .trim_matches(['[', ']'])
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect(),
        Value::I64(i) => vec![i],
        other => panic!("{name}: {other:?}"),
    }
}

fn attr_i64(file: &ResultFile, name: &str) -> i64 {
    match file.attr(name).unwrap() {
        Value::I64(i) => i,
        other => panic!("{name}: {other:?}"),
    }
}

/// Each iteration's row subsample of fold 0 is scikit-learn's, row for row in its order.
#[test]
fn subsamples_are_scikit_learns_rows_in_their_order() {
    for case in reference().cases {
        let data = load_hdf5(repo().join(&case.data)).unwrap();
        let folds = StratifiedKFold {
            n_splits: 3,
            shuffle: None,
        }
        .split(&data.y)
        .unwrap();
        let random_state = case
            .job
            .search
            .lines()
            .find_map(|l| l.strip_prefix("random_state = "))
            .unwrap()
            .parse()
            .unwrap();
        let schedule = HalvingSchedule {
            factor: 3.0,
            random_state,
            n_samples: data.y.len(),
            min_resources: case.min_resources as usize,
            max_resources: case.max_resources as usize,
            n_required_iterations: 0,
            n_possible_iterations: 0,
            n_resources: case.n_resources.iter().map(|&n| n as usize).collect(),
            n_candidates: vec![],
        };
        for (iteration, expected) in case.subsamples_fold0.iter().enumerate() {
            assert_eq!(
                schedule.subsample(&folds[0].0, iteration),
                expected.train,
                "{}: train rows of iteration {iteration}",
                case.name
            );
            assert_eq!(
                schedule.subsample(&folds[0].1, iteration),
                expected.test,
                "{}: test rows of iteration {iteration}",
                case.name
            );
        }
    }
}

/// Iterations, rows per iteration, the candidates of each iteration in scikit-learn's order,
/// scores within one test sample, ranks, the best candidate (from the last iteration) and the
/// schedule's attributes; the same tables to the bit on one rank and on three.
#[test]
fn halving_searches_match_scikit_learn_on_any_rank_count() {
    for case in reference().cases {
        let dir = tempdir();
        let job = job_file(dir.path(), "halving.toml", &job_text(&case));
        let out = dir.path().join("two.h5");
        search(2, &job, &out, &[]).assert_success();
        let cv = table(&out, "cv_results");
        let name = &case.name;
        assert_eq!(cv.i64_column("iter").unwrap(), case.iter, "{name}: iter");
        assert_eq!(
            cv.i64_column("n_resources").unwrap(),
            case.row_resources,
            "{name}: n_resources"
        );
        let params = cv.str_column("params").unwrap();
        assert_eq!(params.len(), case.params.len(), "{name}: rows");
        for (row, (ours, theirs)) in params.iter().zip(&case.params).enumerate() {
            assert!(
                same_params(ours, theirs),
                "{name}: row {row} is {ours}, scikit-learn's {theirs}"
            );
        }
        let data = load_hdf5(repo().join(&case.data)).unwrap();
        let smallest_test = data.y.len() / 3;
        for split in 0..3 {
            let ours = cv.f64_column(&format!("split{split}_test_score")).unwrap();
            for (row, (ours, theirs)) in ours.iter().zip(&case.splits).enumerate() {
                let iteration = case.iter[row] as usize;
                let test_rows = (case.n_resources[iteration] as f64 / data.y.len() as f64
                    * smallest_test as f64) as usize;
                assert!(
                    (ours - theirs[split]).abs() <= 1.0 / test_rows as f64 + 1e-12,
                    "{name}: split {split} of row {row}: {ours} vs scikit-learn {}",
                    theirs[split]
                );
            }
        }
        assert_eq!(
            cv.i64_column("rank_test_score").unwrap(),
            case.rank_test_score,
            "{name}: ranks"
        );
        let best = table(&out, "best");
        assert_eq!(best.i64_column("best_index").unwrap()[0], case.best_index);
        assert!(same_params(
            &best.str_column("best_params").unwrap()[0],
            &case.best_params
        ));
        let file = ResultFile::open_read(&out).unwrap();
        assert_eq!(attr_i64(&file, "n_iterations"), case.n_iterations);
        assert_eq!(attr_i64s(&file, "n_candidates"), case.n_candidates);
        assert_eq!(attr_i64s(&file, "n_resources"), case.n_resources);
        assert_eq!(attr_i64(&file, "min_resources"), case.min_resources);
        assert_eq!(attr_i64(&file, "max_resources"), case.max_resources);
        assert_eq!(
            attr_i64(&file, "n_remaining_candidates"),
            case.n_remaining_candidates
        );
        let splits = table(&out, "splits");
        let planned: i64 = case.n_candidates.iter().sum::<i64>() * 3;
        assert_eq!(
            splits.rows.len() as i64,
            planned,
            "{name}: one fit per split"
        );

        for np in [1, 3] {
            let other = dir.path().join(format!("np{np}.h5"));
            search(np, &job, &other, &[]).assert_success();
            assert_same_bits(&out, &other);
        }
    }
}

/// Killed in the middle of an iteration (and just after one ends), a resumed halving search
/// finishes with the uninterrupted run's tables.
#[test]
fn a_halving_search_killed_mid_iteration_resumes_identically() {
    let case = reference().cases.remove(0);
    assert_eq!(case.n_candidates[0] * 3, 45, "iteration 0 has 45 fits");
    let dir = tempdir();
    let job = job_file(dir.path(), "halving.toml", &job_text(&case));
    let reference = dir.path().join("reference.h5");
    search(2, &job, &reference, &[]).assert_success();
    for moment in ["log@52", "journal@45", "log-torn@20"] {
        let out = dir.path().join("killed.h5");
        let killed = search(2, &job, &out, &[("TRITON_BATCH_TEST_KILL", moment)]);
        assert_ne!(killed.code(), Some(0), "{moment}: the run was not killed");
        let args = [
            "gridsearch",
            path_str(&job),
            "--out",
            path_str(&out),
            "--resume",
        ];
        let resumed = mpirun(2, &args, 300);
        resumed.assert_success();
        assert!(
            resumed.stderr().contains("resuming from the task log"),
            "{moment}: {}",
            resumed.stderr()
        );
        assert_same_bits(&reference, &out);
        std::fs::remove_file(&out).unwrap();
    }
}

/// `[search]` values that make no halving search: one line each, naming the key, before any
/// compute, the existing result untouched.
#[test]
fn bad_halving_values_are_refused_in_one_line() {
    let case = reference().cases.remove(0);
    let base = job_text(&case);
    let dir = tempdir();
    let out = dir.path().join("existing.h5");
    std::fs::write(&out, b"an earlier result").unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        ("factor = 3", "factor = 1", &["[search] factor", "> 1"]),
        ("factor = 3", "factor = \"three\"", &["[search] factor"]),
        (
            "factor = 3",
            "min_resources = 5000",
            &["min_resources = 5000", "2000"],
        ),
        (
            "factor = 3",
            "max_resources = 3000",
            &["max_resources = 3000", "2000 training rows"],
        ),
        (
            "factor = 3",
            "min_resources = \"most\"",
            &["min_resources", "\"exhaust\" or \"smallest\""],
        ),
        (
            "factor = 3",
            "resource = \"n_estimators\"",
            &["resource", "allowed: \"n_samples\""],
        ),
        (
            "factor = 3",
            "n_iter = 5",
            &["n_iter applies to strategy = \"random\""],
        ),
        (
            "factor = 3",
            "n_candidates = \"exhaust\"\nmin_resources = \"exhaust\"",
            &["n_candidates and min_resources cannot both be \"exhaust\""],
        ),
        (
            "strategy = \"halving\"\nfactor = 3\nrandom_state = 0",
            "strategy = \"grid\"\nfactor = 2",
            &["factor applies to strategy = \"halving\""],
        ),
        (
            "[cv]",
            "[scoring]\nmetric = [\"accuracy\", \"f1_macro\"]\nrefit = \"accuracy\"\n\n[cv]",
            &["[scoring] metric", "one metric"],
        ),
    ];
    for (from, to, words) in cases {
        assert!(base.contains(from), "{from}");
        let job = job_file(dir.path(), "bad.toml", &base.replacen(from, to, 1));
        let run = mpirun(
            1,
            &["gridsearch", path_str(&job), "--out", path_str(&out)],
            60,
        );
        assert_eq!(
            run.code(),
            Some(2),
            "`{to}` must be refused:\n{}",
            run.stderr()
        );
        let line = run.our_only_line(&format!("`{to}`"));
        for word in *words {
            assert!(line.contains(word), "`{to}` error lacks `{word}`: {line}");
        }
        assert_eq!(std::fs::read(&out).unwrap(), b"an earlier result");
    }
}
