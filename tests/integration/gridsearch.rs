//! The grid search end to end through the real binary and mpirun: scikit-learn's folds, scores
//! and best candidate on the same data file, with one metric and with several; identical tables
//! on any rank count and after a resume; fits that fail scored NaN; bad grids and bad `[scoring]`
//! refused before any compute.

use crate::common::same::*;
use crate::common::*;
use serde_json::Value as Json;
use std::path::Path;
use triton_batch::datafile::load_hdf5;
use triton_batch::ml::cv::StratifiedKFold;
use triton_batch::results::{ResultFile, Value};

/// scikit-learn's GridSearchCV of scripts/reference/gridsearch.py, on the same data file.
const JOB: &str = r#"
[data]
source = "file"
path = "tests/reference/gridsearch_data.h5"

[estimator]
kind = "svc"
gamma = "scale"

[[grid]]
C = [0.1, 1.0, 10.0]
kernel = ["rbf", "sigmoid"]

[[grid]]
C = [1.0]
kernel = ["poly"]
degree = [2, 3]

[cv]
folds = 3
"#;

/// `gridsearch <job> --quiet --out <out>`.
fn search_args<'a>(job: &'a Path, out: &'a Path) -> [&'a str; 5] {
    [
        "gridsearch",
        path_str(job),
        "--quiet",
        "--out",
        path_str(out),
    ]
}

fn reference() -> Json {
    serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/reference/gridsearch.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn matches_scikit_learn_on_the_same_data() {
    let reference = reference();
    let data = load_hdf5(repo().join("tests/reference/gridsearch_data.h5")).unwrap();
    let folds = StratifiedKFold {
        n_splits: 3,
        shuffle: None,
    }
    .split(&data.y)
    .unwrap();
    let tests: Vec<Vec<usize>> = folds.iter().map(|(_, test)| test.clone()).collect();
    let expected: Vec<Vec<usize>> =
        serde_json::from_value(reference["test_folds"].clone()).unwrap();
    assert_eq!(tests, expected, "folds identical to StratifiedKFold(3)");

    let dir = tempdir();
    let job = job_file(dir.path(), "small.toml", JOB);
    let out = dir.path().join("small.h5");
    mpirun(2, &search_args(&job, &out), 300).assert_success();
    let cv = table(&out, "cv_results");
    let params = cv.str_column("params").unwrap();
    let sk_params: Vec<String> = serde_json::from_value(reference["params"].clone()).unwrap();
    assert_eq!(params.len(), sk_params.len());
    for (ours, theirs) in params.iter().zip(&sk_params) {
        let (a, b): (Json, Json) = (
            serde_json::from_str(ours).unwrap(),
            serde_json::from_str(theirs).unwrap(),
        );
        assert_eq!(a, b, "candidate order as scikit-learn's");
    }
    let sizes: Vec<f64> = serde_json::from_value(reference["fold_sizes"].clone()).unwrap();
    let sk_scores: Vec<Vec<f64>> =
        serde_json::from_value(reference["split_test_scores"].clone()).unwrap();
    for k in 0..3 {
        let ours = cv.f64_column(&format!("split{k}_test_score")).unwrap();
        for (c, score) in ours.iter().enumerate() {
            let diff = (score - sk_scores[c][k]).abs();
            assert!(
                diff <= 1.0 / sizes[k] + 1e-12,
                "candidate {c} fold {k}: {score} vs scikit-learn {}",
                sk_scores[c][k]
            );
        }
    }
    let best = table(&out, "best").i64_column("best_index").unwrap()[0];
    assert_eq!(
        best,
        reference["best_index"].as_i64().unwrap(),
        "same best candidate"
    );
    let attr = ResultFile::open_read(&out)
        .unwrap()
        .attr("best_index")
        .unwrap();
    assert_eq!(attr, Value::I64(best), "best_index is also an attribute");
    let degree = cv.f64_column("param_degree").unwrap();
    assert!(
        degree[0].is_nan() && degree[6] == 2.0,
        "param_degree NaN where a candidate lacks it"
    );
}

#[test]
fn identical_on_any_rank_count_and_after_resume() {
    let dir = tempdir();
    let job = job_file(dir.path(), "small.toml", JOB);
    let out = |n: &str| dir.path().join(n);
    let run = |np: usize, file: &str, extra: &[&str]| {
        let f = out(file);
        let args = [
            &[
                "gridsearch",
                path_str(&job),
                "--quiet",
                "--out",
                path_str(&f),
            ][..],
            extra,
        ]
        .concat();
        mpirun(np, &args, 300)
    };
    run(1, "np1.h5", &[]).assert_success();
    for (np, file, extra) in [
        (2, "np2.h5", &[][..]),
        (4, "np4.h5", &[][..]),
        (2, "static.h5", &["--schedule", "static"][..]),
    ] {
        run(np, file, extra).assert_success();
        assert_same_results(&out("np1.h5"), &out(file));
    }
    let failed = mpirun_env(
        2,
        &[
            "gridsearch",
            path_str(&job),
            "--quiet",
            "--out",
            path_str(&out("resumed.h5")),
        ],
        120,
        &[("TRITON_BATCH_TEST_FAIL", "journal@3")],
    );
    assert_ne!(failed.code(), Some(0));
    assert!(failed.elapsed.as_secs() < 30, "took {:?}", failed.elapsed);
    assert!(failed.stderr().contains("rank 0 on"), "{}", failed.stderr());
    assert!(!out("resumed.h5").exists());
    run(2, "resumed.h5", &["--resume"]).assert_success();
    assert_same_results(&out("np1.h5"), &out("resumed.h5"));
    let tasks_run = |file: &str| -> i64 {
        let ranks = ResultFile::open_read(&out(file))
            .unwrap()
            .read_table("ranks")
            .unwrap();
        ranks.i64_column("tasks").unwrap().iter().sum()
    };
    assert_eq!(
        tasks_run("resumed.h5"),
        tasks_run("np1.h5") - 3,
        "the resume runs only the tasks the journal lacks"
    );
}

/// A fit that fails scores NaN (scikit-learn's error_score = nan), keeps its error text in
/// `splits`, ranks last, and the search goes on.
#[test]
fn failing_fits_score_nan_and_the_run_goes_on() {
    let dir = tempdir();
    let job = job_file(dir.path(), "small.toml", JOB);
    let out = dir.path().join("nan.h5");
    let args = search_args(&job, &out);
    mpirun_env(2, &args, 300, &[("TRITON_BATCH_TEST_FAIL", "fit@2")]).assert_success();
    let cv = table(&out, "cv_results");
    let means = cv.f64_column("mean_test_score").unwrap();
    let ranks = cv.i64_column("rank_test_score").unwrap();
    assert!(means[2].is_nan() && cv.f64_column("split0_test_score").unwrap()[2].is_nan());
    assert_eq!(ranks[2], means.len() as i64, "a NaN candidate ranks last");
    assert!(means
        .iter()
        .enumerate()
        .all(|(i, m)| i == 2 || m.is_finite()));
    let splits = table(&out, "splits");
    let errors = splits.str_column("error").unwrap();
    let candidates = splits.i64_column("candidate").unwrap();
    for (error, candidate) in errors.iter().zip(&candidates) {
        assert_eq!(
            error.contains("injected fit failure"),
            *candidate == 2,
            "{error}"
        );
    }
    assert_ne!(table(&out, "best").i64_column("best_index").unwrap()[0], 2);
}

/// scikit-learn's GridSearchCV(scoring=[...], refit="accuracy", return_train_score=True) of
/// scripts/reference/multimetric.py: JOB on its data file, with its grids and metrics.
fn multi_metric_job() -> String {
    JOB.replacen("gridsearch_data.h5", "multimetric_data.h5", 1)
        .replacen("[\"rbf\", \"sigmoid\"]", "[\"rbf\", \"poly\"]", 1)
        .replacen(
            "C = [1.0]\nkernel = [\"poly\"]\ndegree = [2, 3]",
            "C = [1.0, 10.0]\nkernel = [\"rbf\"]\nclass_weight = [\"balanced\"]",
            1,
        )
        + "\n[scoring]\nmetric = [\"accuracy\", \"f1_macro\", \"balanced_accuracy\"]\nrefit = \"accuracy\"\n"
}

/// Every multi-metric column of `cv_results` (names in scikit-learn's order, per-metric ranks,
/// scores within one test sample) and `best_*` by the refit metric, from one fit per split; the
/// same tables, to the bit, on one rank.
#[test]
fn several_metrics_match_scikit_learn() {
    let reference: Json = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/reference/multimetric.json")).unwrap(),
    )
    .unwrap();
    let dir = tempdir();
    let job = job_file(dir.path(), "multi.toml", &multi_metric_job());
    let out = dir.path().join("multi.h5");
    let run = |np: usize, out: &Path| {
        let args = [&search_args(&job, out)[..], &["--return-train-score"]].concat();
        mpirun(np, &args, 300).assert_success();
    };
    run(2, &out);
    let cv = table(&out, "cv_results");
    let params = cv.str_column("params").unwrap();
    let sk_params: Vec<String> = serde_json::from_value(reference["params"].clone()).unwrap();
    let as_json = |text: &str| serde_json::from_str::<Json>(text).unwrap();
    let ours: Vec<Json> = params.iter().map(|p| as_json(p)).collect();
    let theirs: Vec<Json> = sk_params.iter().map(|p| as_json(p)).collect();
    assert_eq!(ours, theirs, "candidates in scikit-learn's order");

    let sk_columns: Vec<String> =
        serde_json::from_value(reference["score_columns"].clone()).unwrap();
    let names = cv.schema.names();
    let score_columns: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.contains("_test_") || n.contains("_train_"))
        .collect();
    assert_eq!(score_columns, sk_columns);
    assert!(cv.column("mean_test_score").is_none());

    // One test (or train) sample more or less right moves a metric by at most this much.
    let sizes: Vec<f64> = serde_json::from_value(reference["test_fold_sizes"].clone()).unwrap();
    let (test_rows, train_rows) = (sizes[0].min(sizes[1]).min(sizes[2]), 2.0 * sizes[0]);
    for name in &sk_columns {
        let sk = &reference["columns"][name];
        if name.starts_with("rank_") {
            let sk: Vec<i64> = serde_json::from_value(sk.clone()).unwrap();
            assert_eq!(cv.i64_column(name).unwrap(), sk, "{name}");
            continue;
        }
        let sk: Vec<f64> = serde_json::from_value(sk.clone()).unwrap();
        let rows = if name.contains("_train_") {
            train_rows
        } else {
            test_rows
        };
        for (c, (ours, theirs)) in cv.f64_column(name).unwrap().iter().zip(&sk).enumerate() {
            assert!(
                (ours - theirs).abs() <= 1.0 / rows + 1e-12,
                "{name} of candidate {c}: {ours} vs scikit-learn {theirs}"
            );
        }
    }

    let best = table(&out, "best");
    let best_index = best.i64_column("best_index").unwrap()[0];
    assert_eq!(best_index, reference["best_index"].as_i64().unwrap());
    assert_eq!(
        as_json(&best.str_column("best_params").unwrap()[0]),
        as_json(reference["best_params"].as_str().unwrap())
    );
    let best_score = best.f64_column("best_score").unwrap()[0];
    assert_eq!(
        best_score,
        cv.f64_column("mean_test_accuracy").unwrap()[best_index as usize],
        "best_score is the refit metric's mean"
    );
    assert!((best_score - reference["best_score"].as_f64().unwrap()).abs() <= 1.0 / test_rows);
    assert_eq!(best.str_column("metric").unwrap()[0], "accuracy");

    // One fit per split, scored with every metric.
    let splits = table(&out, "splits");
    assert_eq!(splits.len(), params.len() * sizes.len());
    for set in ["test", "train"] {
        for metric in ["accuracy", "f1_macro", "balanced_accuracy"] {
            assert!(splits.column(&format!("{set}_{metric}")).is_some());
        }
    }
    assert!(splits.column("test_score").is_none());

    let alone = dir.path().join("alone.h5");
    run(1, &alone);
    assert_same_results(&out, &alone);
}

const BAD_GRIDS: &[(&str, &str, &[&str])] = &[
    ("C = [0.1, 1.0, 10.0]", "C = [0.1, -1.0]", &["C", "-1"]),
    ("C = [0.1, 1.0, 10.0]", "C = [0.0]", &["C"]),
    (
        "kernel = [\"rbf\", \"sigmoid\"]",
        "kernel = [\"rbf\", \"cubic\"]",
        &["cubic", "kernel"],
    ),
    (
        "kernel = [\"rbf\", \"sigmoid\"]",
        "kernel = []",
        &["kernel", "empty"],
    ),
    (
        "kernel = [\"rbf\", \"sigmoid\"]",
        "kernel = [\"rbf\"]\nn_neighbors = [3]",
        &["n_neighbors"],
    ),
    ("folds = 3", "folds = 1", &["folds", "2"]),
    ("folds = 3", "folds = 400", &["folds"]),
    (
        "kind = \"svc\"",
        "kind = \"knn\"",
        &["knn", "svc", "logistic_regression"],
    ),
    ("gamma = \"scale\"", "gamma = -0.5", &["gamma"]),
    ("degree = [2, 3]", "degree = [-1]", &["degree"]),
    (
        "path = \"tests/reference/gridsearch_data.h5\"",
        "path = \"no/such.h5\"",
        &["no/such.h5"],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = \"neg_log_loss\"\n\n[cv]",
        &["probability"],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = \"auc\"\n\n[cv]",
        &["auc", "accuracy"],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = [\"accuracy\", \"f1_macro\"]\nrefit = \"balanced_accuracy\"\n\n[cv]",
        &[
            "bad.toml",
            "[scoring] refit = \"balanced_accuracy\" is not one of the listed metrics (\"accuracy\", \"f1_macro\")",
        ],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = [\"accuracy\", \"auc\"]\nrefit = \"accuracy\"\n\n[cv]",
        &[
            "bad.toml",
            "[scoring] metric: \"auc\" is not a metric; allowed: \"accuracy\", \"balanced_accuracy\", \"f1_macro\", \"neg_log_loss\"",
        ],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = []\n\n[cv]",
        &["bad.toml", "[scoring] metric = [] lists no metric"],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = [\"f1_macro\", \"accuracy\", \"f1_macro\"]\nrefit = \"accuracy\"\n\n[cv]",
        &["bad.toml", "[scoring] metric lists \"f1_macro\" twice"],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = \"accuracy\"\nrefit = \"f1_macro\"\n\n[cv]",
        &[
            "bad.toml",
            "[scoring] refit = \"f1_macro\" is not the metric (\"accuracy\")",
        ],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = [\"f1_macro\", \"accuracy\"]\n\n[cv]",
        &[
            "bad.toml",
            "[scoring] a list of metrics needs refit",
            "refit = \"f1_macro\"",
        ],
    ),
    (
        "[cv]",
        "[scoring]\nmetric = [\"accuracy\", \"neg_log_loss\"]\nrefit = \"accuracy\"\n\n[cv]",
        &["bad.toml", "probability"],
    ),
    (
        "gamma = \"scale\"",
        "gamma = \"scale\"\nclass_weight = { \"7\" = 2.0 }",
        &["class_weight", "7"],
    ),
    (
        "gamma = \"scale\"",
        "gamma = \"scale\"\nclass_weight = \"balanced_subsample\"",
        &["class_weight", "\"balanced_subsample\"", "random forest"],
    ),
    (
        "source = \"file\"",
        "source = \"file\"\nrandom_state = 1.5",
        &[
            "bad.toml",
            "[data] random_state must be a whole number >= 0, got 1.5",
        ],
    ),
    (
        "source = \"file\"",
        "source = \"file\"\nrandom_state = -3",
        &[
            "bad.toml",
            "[data] random_state must be a whole number >= 0, got -3",
        ],
    ),
];

#[test]
fn bad_grids_are_refused_before_any_compute() {
    let dir = tempdir();
    let out = dir.path().join("existing.h5");
    std::fs::write(&out, b"an earlier result").unwrap();
    for (from, to, words) in BAD_GRIDS {
        assert!(JOB.contains(from), "{from}");
        let job = job_file(dir.path(), "bad.toml", &JOB.replacen(from, to, 1));
        let run = mpirun(
            2,
            &["gridsearch", path_str(&job), "--out", path_str(&out)],
            60,
        );
        assert_ne!(run.code(), Some(0), "`{to}` must fail");
        let line = run.our_only_line(&format!("`{to}`"));
        for word in *words {
            assert!(line.contains(word), "`{to}` error lacks `{word}`: {line}");
        }
        assert!(!line.contains("MPI_ABORT"), "{}", run.stderr());
        assert_eq!(std::fs::read(&out).unwrap(), b"an earlier result");
    }
}
