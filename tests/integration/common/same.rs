//! Result files that must be bit-identical, compared table by table: every column but who ran a
//! task and how long it took. Shared by the tests of each job kind and the cluster tests.

use std::path::Path;

use triton_batch::results::{ResultFile, Table, Value};

pub fn table(path: &Path, name: &str) -> Table {
    ResultFile::open_read(path)
        .unwrap()
        .read_table(name)
        .unwrap()
}

pub fn estimate(path: &Path) -> Table {
    ResultFile::open_read(path)
        .unwrap()
        .read_table("estimate")
        .unwrap()
}

pub fn number(table: &Table, column: &str) -> f64 {
    table.f64_column(column).unwrap()[0]
}

/// Every column of the blocks table but who ran it and how long it took, in task order.
pub fn block_sums(path: &Path) -> Vec<Vec<Value>> {
    let table = ResultFile::open_read(path)
        .unwrap()
        .read_table("blocks")
        .unwrap();
    let keep: Vec<usize> = table
        .schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !["rank", "host", "seconds", "start_seconds"].contains(&c.name.as_str()))
        .map(|(i, _)| i)
        .collect();
    let mut rows: Vec<Vec<Value>> = table
        .rows
        .iter()
        .map(|row| keep.iter().map(|&i| row[i].clone()).collect())
        .collect();
    rows.sort_by_key(|row| match row[0] {
        Value::I64(task) => task,
        _ => panic!("task column is an integer"),
    });
    rows
}

const COMPARED: [&str; 5] = [
    "price",
    "std_error",
    "ci_low",
    "ci_high",
    "variance_reduction",
];

/// Monte Carlo: the estimate and every block's sums.
pub fn assert_same_estimate(a: &Path, b: &Path) {
    let (ta, tb) = (estimate(a), estimate(b));
    for column in COMPARED {
        assert_eq!(
            number(&ta, column).to_bits(),
            number(&tb, column).to_bits(),
            "{column} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
    assert_eq!(block_sums(a), block_sums(b));
}

/// Every column but times, ranks and hosts.
fn results_without_times(path: &Path) -> Vec<(String, Vec<Vec<Value>>)> {
    ["cv_results", "splits", "best"]
        .iter()
        .map(|name| {
            let t = table(path, name);
            let keep: Vec<usize> = t
                .schema
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    !(c.name.contains("time")
                        || ["rank", "host", "seconds", "start_seconds"].contains(&c.name.as_str()))
                })
                .map(|(i, _)| i)
                .collect();
            let mut rows: Vec<Vec<Value>> = t
                .rows
                .iter()
                .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
                .collect();
            if *name == "splits" {
                rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            }
            (name.to_string(), rows)
        })
        .collect()
}

/// Grid search: cv_results, splits and best.
pub fn assert_same_results(a: &Path, b: &Path) {
    let (ra, rb) = (results_without_times(a), results_without_times(b));
    for ((name, rows_a), (_, rows_b)) in ra.iter().zip(&rb) {
        assert_eq!(rows_a.len(), rows_b.len(), "{name}");
        for (x, y) in rows_a.iter().zip(rows_b) {
            let same = x.iter().zip(y).all(|(u, v)| match (u, v) {
                (Value::F64(p), Value::F64(q)) => p.to_bits() == q.to_bits(),
                _ => u == v,
            });
            assert!(
                same,
                "{name} differs between {} and {}:\n{x:?}\n{y:?}",
                a.display(),
                b.display()
            );
        }
    }
}

/// Forest: importances, predictions (runs with `--predictions`), test accuracy and OOB score.
pub fn assert_same_forest(a: &Path, b: &Path) {
    for name in ["feature_importances", "predictions"] {
        assert_eq!(
            table(a, name).rows,
            table(b, name).rows,
            "{name}: {} vs {}",
            a.display(),
            b.display()
        );
    }
    for column in ["test_accuracy", "oob_score"] {
        let (x, y) = (
            table(a, "summary").f64_column(column).unwrap()[0],
            table(b, "summary").f64_column(column).unwrap()[0],
        );
        assert_eq!(x.to_bits(), y.to_bits(), "{column}");
    }
}
