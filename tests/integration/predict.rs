//! Saved models end to end: a forest saved with `--save-model` across ranks predicts exactly what
//! its job reported, a crash while saving resumes, a grid search's refit model predicts its test
//! score, and bad models or data are refused with one line before any output is written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::common::*;
use triton_batch::datafile::load_hdf5;
use triton_batch::results::{ResultFile, Table, Value};

const TRAIN_ROWS: usize = 450;

fn forest_job(dir: &Path) -> PathBuf {
    job_file(
        dir,
        "forest.toml",
        &format!(
            r#"
[data]
source = "file"
path = "{}"
test_path = "{}"

[forest]
n_estimators = 40
max_features = "sqrt"
oob_score = true
seed = 3
block_trees = 4
"#,
            dir.join("train.csv").display(),
            dir.join("test.csv").display()
        ),
    )
}

/// The reference data split into `train.csv` and `test.csv` (label column `y`), `test.h5` (`X`
/// and `y`) and `test-unlabelled.csv` (features only).
fn write_data(dir: &Path) {
    let data = load_hdf5(repo().join("tests/reference/gridsearch_data.h5")).unwrap();
    let d = data.x.ncols();
    let header: Vec<String> = (0..d).map(|j| format!("f{j}")).collect();
    let csv = |rows: std::ops::Range<usize>, labelled: bool| {
        let mut text = header.join(",");
        text.push_str(if labelled { ",y\n" } else { "\n" });
        for i in rows {
            let cells: Vec<String> = data.x.row(i).iter().map(|v| format!("{v:e}")).collect();
            text.push_str(&cells.join(","));
            if labelled {
                write!(text, ",{}", data.classes[data.y[i]]).unwrap();
            }
            text.push('\n');
        }
        text
    };
    let n = data.x.nrows();
    std::fs::write(dir.join("train.csv"), csv(0..TRAIN_ROWS, true)).unwrap();
    std::fs::write(dir.join("test.csv"), csv(TRAIN_ROWS..n, true)).unwrap();
    std::fs::write(dir.join("test-unlabelled.csv"), csv(TRAIN_ROWS..n, false)).unwrap();
    let h5 = ResultFile::create(&dir.join("test.h5")).unwrap();
    let x: Vec<f64> = data
        .x
        .rows()
        .into_iter()
        .skip(TRAIN_ROWS)
        .flatten()
        .copied()
        .collect();
    h5.append_array("X", &x, d).unwrap();
    let y: Vec<i64> = data.y[TRAIN_ROWS..]
        .iter()
        .map(|&c| data.classes[c].parse().unwrap())
        .collect();
    h5.append_array("y", &y, 1).unwrap();
}

fn table(path: &Path, name: &str) -> Table {
    ResultFile::open_read(path)
        .unwrap()
        .read_table(name)
        .unwrap()
}

fn attr_f64(path: &Path, name: &str) -> f64 {
    ResultFile::open_read(path)
        .unwrap()
        .attr(name)
        .unwrap()
        .as_f64()
        .unwrap()
}

/// The columns two prediction tables share (`y_pred`, `proba_*`), row by row.
fn predicted_columns(table: &Table) -> Vec<Vec<Value>> {
    let keep: Vec<usize> = (0..table.schema.len())
        .filter(|&j| {
            let name = &table.schema.columns[j].name;
            name == "y_pred" || name.starts_with("proba_")
        })
        .collect();
    table
        .rows
        .iter()
        .map(|row| keep.iter().map(|&j| row[j].clone()).collect())
        .collect()
}

fn predict(dir: &Path, model: &Path, data: &str, out: &str) -> Run {
    triton(
        &[
            "predict",
            path_str(model),
            path_str(&dir.join(data)),
            "--out",
            path_str(&dir.join(out)),
        ],
        60,
    )
}

fn run_forest(dir: &Path, np: usize, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let job = forest_job(dir);
    let out = dir.join(format!("{name}.h5"));
    let model = dir.join(format!("{name}-model.h5"));
    let mut args = vec![
        "forest",
        path_str(&job),
        "--out",
        path_str(&out),
        "--save-model",
        path_str(&model),
        "--predictions",
        "--quiet",
    ];
    args.extend(extra);
    mpirun_env(np, &args, 120, env)
}

#[test]
fn a_saved_forest_predicts_what_its_job_reported() {
    let dir = tempdir();
    let dir = dir.path();
    write_data(dir);
    run_forest(dir, 2, "np2", &[], &[]).assert_success();
    run_forest(dir, 3, "np3", &["--schedule", "static"], &[]).assert_success();
    let job_predictions = predicted_columns(&table(&dir.join("np2.h5"), "predictions"));
    let test_accuracy = table(&dir.join("np2.h5"), "summary")
        .f64_column("test_accuracy")
        .unwrap()[0];

    for model in ["np2-model.h5", "np3-model.h5"] {
        let model = dir.join(model);
        assert_eq!(table(&model, "trees").len(), 40);
        for (data, out) in [("test.h5", "p-h5.h5"), ("test.csv", "p-csv.h5")] {
            let run = predict(dir, &model, data, out);
            run.assert_success();
            assert!(run.stdout().contains("accuracy"), "{}", run.stdout());
            let out = dir.join(out);
            assert_eq!(
                predicted_columns(&table(&out, "predictions")),
                job_predictions
            );
            assert_eq!(
                attr_f64(&out, "accuracy").to_bits(),
                test_accuracy.to_bits()
            );
        }
    }
    let run = predict(
        dir,
        &dir.join("np2-model.h5"),
        "test-unlabelled.csv",
        "p-nolabel.h5",
    );
    run.assert_success();
    let unlabelled = table(&dir.join("p-nolabel.h5"), "predictions");
    assert!(unlabelled.column("y_true").is_none());
    assert_eq!(predicted_columns(&unlabelled), job_predictions);
}

#[test]
fn a_crash_while_saving_leaves_a_partial_model_that_resume_completes() {
    let dir = tempdir();
    let dir = dir.path();
    write_data(dir);
    // Rank 0 fails right after its journal (and the model) hold 2 blocks.
    let failed = run_forest(
        dir,
        2,
        "run",
        &[],
        &[("TRITON_BATCH_TEST_FAIL", "journal@2")],
    );
    assert_ne!(failed.code(), Some(0), "{}", failed.stderr());
    let model = dir.join("run-model.h5");
    let partial = dir.join("run-model.h5.partial");
    assert!(!model.exists() && partial.exists());

    let run = predict(dir, &partial, "test.h5", "p.h5");
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    assert_eq!(run.stderr().trim().lines().count(), 1, "{}", run.stderr());
    assert!(run.stderr().contains("of the 40"), "{}", run.stderr());

    run_forest(dir, 2, "run", &["--resume"], &[]).assert_success();
    run_forest(dir, 1, "whole", &[], &[]).assert_success();
    predict(dir, &model, "test.h5", "resumed.h5").assert_success();
    predict(dir, &dir.join("whole-model.h5"), "test.h5", "whole.h5").assert_success();
    assert_eq!(
        table(&dir.join("resumed.h5"), "predictions").rows,
        table(&dir.join("whole.h5"), "predictions").rows
    );
}

#[test]
fn a_grid_search_refit_model_predicts_its_test_score() {
    let dir = tempdir();
    let dir = dir.path();
    write_data(dir);
    let job = job_file(
        dir,
        "grid.toml",
        &format!(
            r#"
[data]
source = "file"
path = "{}"
test_path = "{}"

[estimator]
kind = "logistic_regression"

[grid]
C = [0.01, 1.0]

[cv]
folds = 3
"#,
            dir.join("train.csv").display(),
            dir.join("test.csv").display()
        ),
    );
    let result = dir.join("grid.h5");
    mpirun(
        2,
        &[
            "gridsearch",
            path_str(&job),
            "--out",
            path_str(&result),
            "--quiet",
        ],
        120,
    )
    .assert_success();
    let test_score = table(&result, "best").f64_column("test_score").unwrap()[0];
    let run = predict(dir, &result, "test.csv", "p.h5");
    run.assert_success();
    assert!(
        run.stdout().contains("logistic_regression"),
        "{}",
        run.stdout()
    );
    let out = dir.join("p.h5");
    assert_eq!(attr_f64(&out, "accuracy").to_bits(), test_score.to_bits());
    let predictions = table(&out, "predictions");
    assert_eq!(predictions.len(), 150);
    for row in 0..predictions.len() {
        let sum: f64 = ["proba_0", "proba_1"]
            .iter()
            .map(|c| predictions.get(row, c).unwrap().as_f64().unwrap())
            .sum();
        assert!(
            (sum - 1.0).abs() < 1e-12,
            "row {row}: probabilities sum to {sum}"
        );
    }
}

#[test]
fn bad_models_and_data_are_refused_with_one_line() {
    let dir = tempdir();
    let dir = dir.path();
    write_data(dir);
    run_forest(dir, 1, "good", &[], &[]).assert_success();
    let model = dir.join("good-model.h5");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(dir.join("truncated.h5"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.join("notes.txt"), b"not a model").unwrap();
    let header = (0..7)
        .map(|j| format!("f{j}"))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(dir.join("seven.csv"), format!("{header}\n1,2,3,4,5,6,7\n")).unwrap();
    std::fs::write(dir.join("earlier.h5"), b"an earlier result").unwrap();

    for (model, data, word) in [
        (dir.join("notes.txt"), "test.h5", "not an HDF5 file"),
        (dir.join("truncated.h5"), "test.h5", "truncated.h5"),
        (
            dir.join("good.h5"),
            "test.h5",
            "is not a triton-batch model",
        ),
        (
            model.clone(),
            "seven.csv",
            "has 7 feature columns but the model",
        ),
        (model.clone(), "missing.csv", "missing.csv"),
    ] {
        let run = predict(dir, &model, data, "earlier.h5");
        assert_eq!(
            run.code(),
            Some(2),
            "{} {data}: {}",
            model.display(),
            run.stderr()
        );
        let stderr = run.stderr();
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {lines:?}");
        assert!(lines[0].contains(word), "`{word}` in: {}", lines[0]);
        assert_eq!(
            std::fs::read(dir.join("earlier.h5")).unwrap(),
            b"an earlier result"
        );
    }
}
