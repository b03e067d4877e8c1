//! HDF5 data files: dataset `X` (n×d, any integer or float type) and `y` (n labels: integers,
//! integral floats, or fixed- or variable-length strings). Refusals name the file and the dataset.

use std::ffi::c_void;
use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::Datatype;
use hdf5_sys::h5d::H5Dread;
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::h5s::H5S_ALL;
use ndarray::Array2;

use super::DataFileError;
use crate::ml::Dataset;

/// Loads an HDF5 file with datasets `X` (n×d, any integer or float type) and `y` (n labels:
/// integers, integral floats, or fixed- or variable-length strings; an n×1 array is accepted).
/// Refused with the file and dataset named: a missing or mis-shaped dataset, an unsupported type,
/// NaN or infinite values in `X` (with their row and column), `X` and `y` of different lengths,
/// fewer than two classes.
pub fn load_hdf5(path: impl AsRef<Path>) -> Result<Dataset, DataFileError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let h5 = open_hdf5(path)?;
    let x = read_features(&h5, &file)?;
    let labels = read_labels(&h5, &file, x.nrows())?;
    Ok(Dataset::from_labels(
        x,
        &labels,
        &format!("{file}, dataset `y`"),
    )?)
}

pub(super) fn open_hdf5(path: &Path) -> Result<hdf5::File, DataFileError> {
    let file = path.display().to_string();
    let h5 = hdf5::File::open(path).map_err(|e| DataFileError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    crate::results::check_global_heaps(path).map_err(|e| DataFileError::Format {
        file,
        message: e.to_string(),
    })?;
    Ok(h5)
}

fn dataset_error(file: &str, dataset: &str, message: String) -> DataFileError {
    DataFileError::Hdf5 {
        file: file.to_string(),
        dataset: dataset.to_string(),
        message,
    }
}

/// Dataset `X`: n×d finite numbers.
pub(super) fn read_features(h5: &hdf5::File, file: &str) -> Result<Array2<f64>, DataFileError> {
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
    crate::results::check_declared_size(&xds).map_err(|e| fail("X", format!("{e:#}")))?;
    let raw: Vec<f64> = xds
        .read_raw::<f64>()
        .map_err(|e| fail("X", format!("cannot read it as numbers ({e})")))?;
    let (n, d) = (shape[0], shape[1]);
    if let Some(k) = raw.iter().position(|v| !v.is_finite()) {
        return Err(DataFileError::NotFiniteHdf5 {
            file: file.to_string(),
            row: k / d,
            column: k % d,
            value: raw[k],
        });
    }
    Ok(Array2::from_shape_vec((n, d), raw).expect("shape matches the dataset"))
}

/// Dataset `y`: `n` labels as strings.
pub(super) fn read_labels(
    h5: &hdf5::File,
    file: &str,
    n: usize,
) -> Result<Vec<String>, DataFileError> {
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
        return Err(DataFileError::LengthMismatch {
            file: file.to_string(),
            x_rows: n,
            y_len,
        });
    }
    crate::results::check_declared_size(&yds).map_err(|e| fail("y", format!("{e:#}")))?;
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
