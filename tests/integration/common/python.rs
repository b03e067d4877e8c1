//! A Python with h5py, pandas and PyTables, in a venv made once under target/ (or the Python
//! named by TRITON_BATCH_PYTHON), for reading result files as users do and for
//! scripts/same-bits.py.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::repo;

/// A Python with h5py, pandas and PyTables (which `pandas.read_hdf` needs), made once.
pub fn with_h5py() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
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
            ])
            .args(["h5py", "pandas", "tables"])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "installing h5py, pandas and tables into {}",
            venv.display()
        );
        python
    })
}

/// Asserts that two result (or model) files of the same job are the same bit for bit, but for
/// what depends on the run (times, hosts, ranks): scripts/same-bits.py.
pub fn assert_same_bits(expected: &Path, got: &Path) {
    let output = Command::new(with_h5py())
        .arg(repo().join("scripts/same-bits.py"))
        .args([expected, got])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} and {} differ:\n{}{}",
        expected.display(),
        got.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
