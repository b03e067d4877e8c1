//! Reading a user's labelled data: CSV (header row; the label column is `y`, else the last
//! column) and HDF5 (dataset `X`, n×d of any integer or float type, and `y`, n integer or string
//! labels). Every refusal names the file and the row (CSV) or dataset (HDF5).

use std::ffi::c_void;
use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::Datatype;
use hdf5_sys::h5d::H5Dread;
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::h5s::H5S_ALL;
use ndarray::Array2;

use super::{Dataset, DatasetError};

/// Loads a CSV file with a header row. The label column is the one named `y` (after trimming),
/// else the last column; every other column is a numeric feature. Cells are trimmed; quoted cells
/// are allowed. Refused with the file, row and column named: a row with another number of cells
/// than the header, a feature cell that is not a number, a NaN or infinite value, an empty label;
/// and a file without data rows or with fewer than two classes.
pub fn load_csv(path: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
    let path = path.as_ref();
    let (x, labels) = read_csv(path, |header| {
        Some(
            header
                .iter()
                .position(|h| h == "y")
                .unwrap_or(header.len() - 1),
        )
    })?;
    let (labels, column) = labels.expect("the label column rule always picks a column");
    Dataset::from_labels(
        x,
        &labels,
        &format!("{}, column `{column}`", path.display()),
    )
}

/// Rows to predict: their features and, when the file has them, their labels.
#[derive(Debug, Clone)]
pub struct Samples {
    pub x: Array2<f64>,
    pub labels: Option<Vec<String>>,
}

/// Loads rows to predict from a `.csv` or HDF5 file for a model of `n_features` features. Labels
/// are optional: HDF5 `y` if present; in CSV the column named `y`, else the last column when there
/// is one more column than the model has features. The number of features is left for the caller
/// to check against the model.
pub fn load_samples(path: impl AsRef<Path>, n_features: usize) -> Result<Samples, DatasetError> {
    let path = path.as_ref();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let (x, labels) = read_csv(path, |header| {
            header
                .iter()
                .position(|h| h == "y")
                .or((header.len() == n_features + 1).then(|| header.len() - 1))
        })?;
        return Ok(Samples {
            x,
            labels: labels.map(|(labels, _)| labels),
        });
    }
    let h5 = open_hdf5(path)?;
    let file = path.display().to_string();
    let x = read_features(&h5, &file)?;
    let labels = match h5.link_exists("y") {
        true => Some(read_labels(&h5, &file, x.nrows())?),
        false => None,
    };
    Ok(Samples { x, labels })
}

/// Features and, if `label_column` picks one from the header, labels with that column's name.
type CsvRows = (Array2<f64>, Option<(Vec<String>, String)>);

fn read_csv(
    path: &Path,
    label_column: impl FnOnce(&[String]) -> Option<usize>,
) -> Result<CsvRows, DatasetError> {
    let file = path.display().to_string();
    let read_error = |e: csv::Error| {
        let at = e
            .position()
            .map(|p| format!("line {}: ", p.line()))
            .unwrap_or_default();
        DatasetError::Read {
            file: file.clone(),
            message: format!("{at}{e}"),
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(read_error)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(read_error)?
        .iter()
        .map(str::to_string)
        .collect();
    let label_col = match header.iter().all(String::is_empty) {
        true => None,
        false => label_column(&header),
    };
    let min_columns = 1 + usize::from(label_col.is_some());
    if header.len() < min_columns || header.iter().all(String::is_empty) {
        return Err(DatasetError::Format {
            file,
            message: format!(
                "the header row must name at least one feature column{} (found {} column(s))",
                if label_col.is_some() {
                    " and a label column"
                } else {
                    ""
                },
                header.len()
            ),
        });
    }
    let n_cols = header.len();

    let mut values: Vec<f64> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut row = 0usize;
    while reader.read_record(&mut record).map_err(read_error)? {
        row += 1;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != n_cols {
            return Err(DatasetError::RaggedRow {
                file,
                row,
                line,
                expected: n_cols,
                found: record.len(),
            });
        }
        for (j, cell) in record.iter().enumerate() {
            if Some(j) == label_col {
                if cell.is_empty() {
                    return Err(DatasetError::EmptyLabel {
                        file,
                        row,
                        line,
                        column: header[j].clone(),
                    });
                }
                labels.push(cell.to_string());
                continue;
            }
            let value: f64 = cell.parse().map_err(|_| DatasetError::NotNumeric {
                file: file.clone(),
                row,
                line,
                column: header[j].clone(),
                cell: cell.to_string(),
            })?;
            if !value.is_finite() {
                return Err(DatasetError::NotFiniteCell {
                    file,
                    row,
                    line,
                    column: header[j].clone(),
                    value: cell.to_string(),
                });
            }
            values.push(value);
        }
    }
    if row == 0 {
        return Err(DatasetError::Format {
            file,
            message: "no data rows after the header".to_string(),
        });
    }
    let n_features = n_cols - usize::from(label_col.is_some());
    let x = Array2::from_shape_vec((row, n_features), values).expect("rows have equal length");
    Ok((x, label_col.map(|j| (labels, header[j].clone()))))
}

/// Loads an HDF5 file with datasets `X` (n×d, any integer or float type) and `y` (n labels:
/// integers, integral floats, or fixed- or variable-length strings; an n×1 array is accepted).
/// Refused with the file and dataset named: a missing or mis-shaped dataset, an unsupported type,
/// NaN or infinite values in `X` (with their row and column), `X` and `y` of different lengths,
/// fewer than two classes.
pub fn load_hdf5(path: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let h5 = open_hdf5(path)?;
    let x = read_features(&h5, &file)?;
    let labels = read_labels(&h5, &file, x.nrows())?;
    Dataset::from_labels(x, &labels, &format!("{file}, dataset `y`"))
}

fn open_hdf5(path: &Path) -> Result<hdf5::File, DatasetError> {
    hdf5::File::open(path).map_err(|e| DatasetError::Read {
        file: path.display().to_string(),
        message: e.to_string(),
    })
}

fn dataset_error(file: &str, dataset: &str, message: String) -> DatasetError {
    DatasetError::Hdf5 {
        file: file.to_string(),
        dataset: dataset.to_string(),
        message,
    }
}

/// Dataset `X`: n×d finite numbers.
fn read_features(h5: &hdf5::File, file: &str) -> Result<Array2<f64>, DatasetError> {
    let fail = |dataset: &str, message: String| dataset_error(file, dataset, message);
    let xds = h5
        .dataset("X")
        .map_err(|e| fail("X", format!("cannot open it ({e})")))?;
    let shape = xds.shape();
    if shape.len() != 2 {
        return Err(fail(
            "X",
            format!("must be 2-D (samples × features), its shape is {shape:?}"),
        ));
    }
    let xtype = xds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| fail("X", format!("unreadable type ({e})")))?;
    if !matches!(
        xtype,
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Float(_)
    ) {
        return Err(fail(
            "X",
            format!("must hold integers or floats, it holds {xtype}"),
        ));
    }
    if shape[0] == 0 || shape[1] == 0 {
        return Err(fail("X", format!("is empty (shape {shape:?})")));
    }
    let raw: Vec<f64> = xds
        .read_raw::<f64>()
        .map_err(|e| fail("X", format!("cannot read it as numbers ({e})")))?;
    let (n, d) = (shape[0], shape[1]);
    if let Some(k) = raw.iter().position(|v| !v.is_finite()) {
        return Err(DatasetError::NotFiniteHdf5 {
            file: file.to_string(),
            row: k / d,
            column: k % d,
            value: raw[k],
        });
    }
    Ok(Array2::from_shape_vec((n, d), raw).expect("shape matches the dataset"))
}

/// Dataset `y`: `n` labels as strings.
fn read_labels(h5: &hdf5::File, file: &str, n: usize) -> Result<Vec<String>, DatasetError> {
    let fail = |dataset: &str, message: String| dataset_error(file, dataset, message);
    let yds = h5
        .dataset("y")
        .map_err(|e| fail("y", format!("cannot open it ({e})")))?;
    let yshape = yds.shape();
    let y_len = match yshape.as_slice() {
        [len] => *len,
        [len, 1] => *len,
        _ => {
            return Err(fail(
                "y",
                format!("must be 1-D (one label per sample), its shape is {yshape:?}"),
            ))
        }
    };
    if y_len != n {
        return Err(DatasetError::LengthMismatch {
            file: file.to_string(),
            x_rows: n,
            y_len,
        });
    }
    let ytype = yds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| fail("y", format!("unreadable type ({e})")))?;
    let labels: Vec<String> = match ytype {
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Boolean => yds
            .read_raw::<i64>()
            .map_err(|e| fail("y", format!("cannot read integer labels ({e})")))?
            .iter()
            .map(i64::to_string)
            .collect(),
        TypeDescriptor::Float(_) => {
            let values = yds
                .read_raw::<f64>()
                .map_err(|e| fail("y", format!("cannot read labels ({e})")))?;
            let mut labels = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                if !v.is_finite() || v.fract() != 0.0 || v.abs() > 9.0e15 {
                    return Err(fail(
                        "y",
                        format!(
                            "row {i}: float label {v} is not an integer \
                             (labels must be integers or strings)"
                        ),
                    ));
                }
                labels.push(format!("{}", *v as i64));
            }
            labels
        }
        TypeDescriptor::VarLenUnicode => yds
            .read_raw::<VarLenUnicode>()
            .map_err(|e| fail("y", format!("cannot read string labels ({e})")))?
            .iter()
            .map(|s| s.as_str().trim().to_string())
            .collect(),
        TypeDescriptor::VarLenAscii => yds
            .read_raw::<VarLenAscii>()
            .map_err(|e| fail("y", format!("cannot read string labels ({e})")))?
            .iter()
            .map(|s| s.as_str().trim().to_string())
            .collect(),
        TypeDescriptor::FixedAscii(len) | TypeDescriptor::FixedUnicode(len) => {
            read_fixed_strings(&yds, &ytype, len, y_len)
                .map_err(|e| fail("y", format!("cannot read string labels ({e})")))?
        }
        other => {
            return Err(fail(
                "y",
                format!("labels must be integers or strings, the dataset holds {other}"),
            ))
        }
    };
    if let Some(i) = labels.iter().position(String::is_empty) {
        return Err(fail("y", format!("row {i}: the label is an empty string")));
    }
    Ok(labels)
}

/// Reads `count` fixed-length strings of `len` bytes (as stored) and strips their padding.
fn read_fixed_strings(
    ds: &hdf5::Dataset,
    descriptor: &TypeDescriptor,
    len: usize,
    count: usize,
) -> hdf5::Result<Vec<String>> {
    let mem_type = Datatype::from_descriptor(descriptor)?;
    let mut buf = vec![0u8; len * count];
    if !buf.is_empty() {
        hdf5::sync::sync(|| {
            // SAFETY: `buf` holds `count` elements of the `len`-byte memory type, one per element
            // of the (whole) file selection.
            hdf5::h5check(unsafe {
                H5Dread(
                    ds.id(),
                    mem_type.id(),
                    H5S_ALL,
                    H5S_ALL,
                    H5P_DEFAULT,
                    buf.as_mut_ptr().cast::<c_void>(),
                )
            })
        })?;
    }
    Ok(buf
        .chunks(len.max(1))
        .take(count)
        .map(|raw| {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).trim().to_string()
        })
        .collect())
}
