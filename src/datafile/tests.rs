//! Data-file tests: CSV and HDF5 loading and every refusal, each naming the file and the row or
//! dataset (files written to a temp dir).

use super::*;
use hdf5::types::{FixedAscii, VarLenUnicode};
use ndarray::{array, Array1};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

#[test]
fn csv_reads_label_column_y_or_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "named.csv",
        "a, y ,b\n1.5,cat,2\n-3,dog,4e1\n0,\"cat\",7\n",
    );
    let data = load_csv(&path).unwrap();
    assert_eq!(data.x, array![[1.5, 2.0], [-3.0, 40.0], [0.0, 7.0]]);
    assert_eq!(data.classes, ["cat", "dog"]);
    assert_eq!(data.y, [0, 1, 0]);

    let path = write(
        dir.path(),
        "last.csv",
        "f1,f2,label\n1,2,10\n3,4,9\n5,6,10\n",
    );
    let data = load_csv(&path).unwrap();
    assert_eq!(data.x.dim(), (3, 2));
    assert_eq!(data.classes, ["9", "10"]);
    assert_eq!(data.y, [1, 0, 1]);
}

fn csv_error(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.csv", text);
    let err = load_csv(&path).unwrap_err().to_string();
    (err, path.display().to_string())
}

#[test]
fn csv_bad_data_is_refused_naming_file_and_row() {
    let (err, file) = csv_error("a,b,y\n1,2,x\n3,4,z\n5,6\n");
    assert!(err.contains(&file), "{err}");
    assert!(
        err.contains("row 3 (line 4)") && err.contains("2 cells"),
        "{err}"
    );

    let (err, file) = csv_error("a,b,y\n1,2,x\n3,abc,z\n");
    assert!(err.contains(&file), "{err}");
    assert!(
        err.contains("row 2 (line 3)") && err.contains("column `b`") && err.contains("`abc`"),
        "{err}"
    );

    let (err, _) = csv_error("a,b,y\n1,2,x\n3,,z\n");
    assert!(
        err.contains("row 2") && err.contains("not a number"),
        "{err}"
    );

    let (err, file) = csv_error("a,b,y\n1,NaN,x\n3,4,z\n");
    assert!(err.contains(&file), "{err}");
    assert!(
        err.contains("row 1 (line 2)") && err.contains("not a finite"),
        "{err}"
    );

    let (err, _) = csv_error("a,b,y\n1,2,x\n3,4,z\n-inf,1,x\n");
    assert!(
        err.contains("row 3 (line 4)") && err.contains("not a finite"),
        "{err}"
    );

    let (err, file) = csv_error("a,b,y\n1,2,x\n3,4,x\n");
    assert!(err.contains(&file) && err.contains("column `y`"), "{err}");
    assert!(err.contains("1 class") && err.contains("`x`"), "{err}");

    let (err, _) = csv_error("a,b,y\n1,2,\n3,4,z\n");
    assert!(err.contains("row 1") && err.contains("label"), "{err}");

    let (err, file) = csv_error("a,b,y\n");
    assert!(err.contains(&file) && err.contains("no data rows"), "{err}");

    let err = load_csv("/nonexistent/data.csv").unwrap_err().to_string();
    assert!(err.contains("/nonexistent/data.csv"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// HDF5
// ---------------------------------------------------------------------------------------------

fn h5_file(dir: &Path, name: &str) -> (PathBuf, hdf5::File) {
    let path = dir.join(name);
    let file = hdf5::File::create(&path).unwrap();
    (path, file)
}

#[test]
fn hdf5_reads_numeric_types_and_string_labels() {
    let dir = tempfile::tempdir().unwrap();

    // int32 X, int64 labels
    let (path, f) = h5_file(dir.path(), "ints.h5");
    let x = array![[1i32, 2], [3, 4], [5, 6]];
    f.new_dataset_builder().with_data(&x).create("X").unwrap();
    f.new_dataset_builder()
        .with_data(&Array1::from(vec![10i64, 2, 10]))
        .create("y")
        .unwrap();
    drop(f);
    let data = load_hdf5(&path).unwrap();
    assert_eq!(data.x, array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    assert_eq!(data.classes, ["2", "10"]);
    assert_eq!(data.y, [1, 0, 1]);

    // float32 X, fixed-length strings
    let (path, f) = h5_file(dir.path(), "fixed.h5");
    let x = array![[0.5f32], [1.5], [2.5], [3.5]];
    f.new_dataset_builder().with_data(&x).create("X").unwrap();
    let labels: Vec<FixedAscii<6>> = ["spam", "ham", "spam", "eggs"]
        .iter()
        .map(|s| FixedAscii::from_ascii(s).unwrap())
        .collect();
    f.new_dataset_builder()
        .with_data(&Array1::from(labels))
        .create("y")
        .unwrap();
    drop(f);
    let data = load_hdf5(&path).unwrap();
    assert_eq!(data.x.column(0).to_vec(), [0.5, 1.5, 2.5, 3.5]);
    assert_eq!(data.classes, ["eggs", "ham", "spam"]);
    assert_eq!(data.y, [2, 1, 2, 0]);

    // uint8 X, variable-length UTF-8 strings
    let (path, f) = h5_file(dir.path(), "varlen.h5");
    let x = array![[1u8, 0], [0, 1], [1, 1]];
    f.new_dataset_builder().with_data(&x).create("X").unwrap();
    let labels: Vec<VarLenUnicode> = ["zebra", "ärger", "zebra"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    f.new_dataset_builder()
        .with_data(&Array1::from(labels))
        .create("y")
        .unwrap();
    drop(f);
    let data = load_hdf5(&path).unwrap();
    assert_eq!(data.classes, ["zebra", "ärger"]);
    assert_eq!(data.y, [0, 1, 0]);
}

fn h5_error(x: Array2<f64>, y: Option<Vec<i32>>) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (path, f) = h5_file(dir.path(), "bad.h5");
    f.new_dataset_builder().with_data(&x).create("X").unwrap();
    if let Some(y) = y {
        f.new_dataset_builder()
            .with_data(&Array1::from(y))
            .create("y")
            .unwrap();
    }
    drop(f);
    let err = load_hdf5(&path).unwrap_err().to_string();
    (err, path.display().to_string())
}

#[test]
fn hdf5_bad_data_is_refused_naming_file_and_dataset() {
    let (err, file) = h5_error(array![[1.0, 2.0], [f64::NAN, 0.0]], Some(vec![0, 1]));
    assert!(err.contains(&file), "{err}");
    assert!(
        err.contains("dataset `X`") && err.contains("row 1, column 0") && err.contains("NaN"),
        "{err}"
    );

    let (err, _) = h5_error(array![[1.0, f64::INFINITY], [0.0, 0.0]], Some(vec![0, 1]));
    assert!(
        err.contains("row 0, column 1") && err.contains("inf"),
        "{err}"
    );

    let (err, file) = h5_error(array![[1.0], [2.0], [3.0]], Some(vec![0, 1]));
    assert!(err.contains(&file), "{err}");
    assert!(err.contains("3 rows") && err.contains("`y` has 2"), "{err}");

    let (err, file) = h5_error(array![[1.0], [2.0]], Some(vec![4, 4]));
    assert!(err.contains(&file) && err.contains("dataset `y`"), "{err}");
    assert!(err.contains("1 class") && err.contains("`4`"), "{err}");

    let (err, file) = h5_error(array![[1.0], [2.0]], None);
    assert!(err.contains(&file) && err.contains("dataset `y`"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let (path, f) = h5_file(dir.path(), "flat.h5");
    f.new_dataset_builder()
        .with_data(&Array1::from(vec![1.0, 2.0]))
        .create("X")
        .unwrap();
    drop(f);
    let err = load_hdf5(&path).unwrap_err().to_string();
    assert!(err.contains("dataset `X`") && err.contains("2-D"), "{err}");

    let err = load_hdf5(dir.path().join("missing.h5"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.h5"), "{err}");
}

#[test]
fn load_picks_the_format_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "upper.CSV", "a,y\n1,x\n2,z\n");
    assert_eq!(load(&path).unwrap().classes, ["x", "z"]);
    let path = write(dir.path(), "data.txt", "a,y\n1,x\n2,z\n");
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("unknown format"),
        "{err}"
    );
}
