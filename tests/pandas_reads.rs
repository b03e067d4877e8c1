//! Users read result files from pandas: this test runs a job under mpirun and reads the file with
//! `pandas.read_hdf` and h5py, in a venv it creates (or the one named by TRITON_BATCH_PYTHON).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use triton_batch::results::ResultFile;

/// A Python with h5py, pandas and PyTables (which `pandas.read_hdf` needs).
fn python() -> PathBuf {
    if let Ok(python) = std::env::var("TRITON_BATCH_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = repo().join("target/py-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(status.success(), "creating {}", venv.display());
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "h5py",
            "pandas",
            "tables",
        ])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "installing h5py, pandas and tables into {}",
        venv.display()
    );
    python
}

#[test]
fn pandas_read_hdf_reads_every_table() {
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
    let output = Command::new(python())
        .arg(repo().join("tests/read_results.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ours = ResultFile::open_read(&out)
        .unwrap()
        .read_table("estimate")
        .unwrap();
    let price = ours.f64_column("price").unwrap()[0];
    assert_eq!(seen["price"].as_f64().unwrap().to_bits(), price.to_bits());
    assert_eq!(
        seen["h5py_price"].as_f64().unwrap().to_bits(),
        price.to_bits()
    );
    assert_eq!(seen["model"], "seed");
    assert_eq!(seen["model_is_str"], true);
    assert_eq!(seen["block_tasks"], serde_json::json!([0, 1]));
    assert_eq!(seen["ranks_tasks"], 2);
    assert_eq!(seen["job_kind"], "montecarlo");
    assert_eq!(seen["seed"], 0);
    assert_eq!(seen["n_ranks"], 2);
    let columns: Vec<&str> = seen["estimate_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
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
            columns.contains(&column),
            "pandas sees no `{column}` in {columns:?}"
        );
    }
}
