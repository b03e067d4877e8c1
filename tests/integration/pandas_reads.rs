//! Users read result files from pandas: these tests run jobs under mpirun and read the files
//! with `pandas.read_hdf` and h5py, in a venv the test creates (or the Python named by
//! TRITON_BATCH_PYTHON).

use std::path::Path;
use std::process::Command;

use crate::common::*;
use serde_json::{json, Value as Json};
use triton_batch::results::ResultFile;

fn read_with_pandas(path: &Path, tables: &[&str]) -> Json {
    let output = Command::new(python::with_h5py())
        .arg(repo().join("tests/read_results.py"))
        .arg(path)
        .args(tables)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn columns(seen: &Json, table: &str) -> Vec<String> {
    serde_json::from_value(seen["tables"][table]["columns"].clone()).unwrap()
}

#[test]
fn pandas_reads_a_monte_carlo_result() {
    let dir = tempdir();
    let out = dir.path().join("p.h5");
    mpirun(
        2,
        &[
            "montecarlo",
            "jobs/seed-asian.toml",
            "--quiet",
            "--out",
            path_str(&out),
        ],
        120,
    )
    .assert_success();
    let seen = read_with_pandas(&out, &["estimate", "blocks", "ranks"]);
    let ours = ResultFile::open_read(&out)
        .unwrap()
        .read_table("estimate")
        .unwrap();
    let price = ours.f64_column("price").unwrap()[0];
    let estimate = &seen["tables"]["estimate"]["records"][0];
    assert_eq!(
        estimate["price"].as_f64().unwrap().to_bits(),
        price.to_bits()
    );
    assert_eq!(estimate["model"], "seed");
    assert!(seen["tables"]["estimate"]["str_columns"]
        .as_array()
        .unwrap()
        .contains(&json!("payoff")));
    let tasks: Vec<i64> = seen["tables"]["blocks"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task"].as_i64().unwrap())
        .collect();
    assert_eq!(tasks.len(), 2);
    assert_eq!(seen["attrs"]["job_kind"], "montecarlo");
    assert_eq!(seen["attrs"]["seed"], 0);
    assert_eq!(seen["attrs"]["n_ranks"], 2);
    for column in [
        "price",
        "std_error",
        "ci_low",
        "ci_high",
        "paths",
        "steps",
        "model",
        "payoff",
        "estimator",
        "variance_reduction",
        "wall_seconds",
    ] {
        assert!(
            columns(&seen, "estimate").iter().any(|c| c == column),
            "pandas sees no `{column}`"
        );
    }
}

#[test]
fn pandas_reads_cv_results_with_scikit_learn_columns() {
    let dir = tempdir();
    let out = dir.path().join("g.h5");
    mpirun(
        2,
        &[
            "gridsearch",
            "jobs/quick-svc.toml",
            "--quiet",
            "--return-train-score",
            "--out",
            path_str(&out),
        ],
        300,
    )
    .assert_success();
    let seen = read_with_pandas(&out, &["cv_results", "splits", "best", "ranks"]);
    let expected = [
        "mean_fit_time",
        "std_fit_time",
        "mean_score_time",
        "std_score_time",
        "param_C",
        "param_kernel",
        "param_shrinking",
        "params",
        "split0_test_score",
        "split1_test_score",
        "split2_test_score",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "split0_train_score",
        "split1_train_score",
        "split2_train_score",
        "mean_train_score",
        "std_train_score",
    ];
    assert_eq!(columns(&seen, "cv_results"), expected);
    let records = seen["tables"]["cv_results"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 24);
    assert_eq!(
        records[0]["params"],
        r#"{"C":0.01,"kernel":"rbf","shrinking":true}"#
    );
    // A bool column: HDF5's boolean enum, which pandas reads as int8 0/1, so that
    // `df.param_shrinking == True` selects the candidates that shrink (as text it would select none).
    let shrinking = columns(&seen, "cv_results")
        .iter()
        .position(|c| c == "param_shrinking")
        .unwrap();
    assert_eq!(seen["tables"]["cv_results"]["dtypes"][shrinking], "int8");
    for record in records {
        let shrinks = record["params"]
            .as_str()
            .unwrap()
            .contains(r#""shrinking":true"#);
        assert_eq!(record["param_shrinking"], i64::from(shrinks), "{record}");
    }
    assert_eq!(records[2]["param_kernel"], "poly");
    assert_eq!(
        seen["tables"]["splits"]["records"]
            .as_array()
            .unwrap()
            .len(),
        72
    );
    let best = &seen["tables"]["best"]["records"][0];
    let rank_one = records
        .iter()
        .position(|r| r["rank_test_score"] == 1)
        .unwrap();
    assert_eq!(best["best_index"], rank_one as i64);
    assert!(best["test_score"].as_f64().unwrap() > 0.8);
}
