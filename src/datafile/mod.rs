//! A user's data files, read into arrays for `ml` (which never opens a file): labelled rows for
//! training and testing (`load`, by extension: CSV with a header row, the label column `y` or
//! else the last; HDF5 with datasets `X` and `y`), and rows to predict with optional labels
//! (`load_samples`). Every refusal names the file and the row and column (CSV) or the dataset
//! (HDF5), so a user can find the bad cell.

mod csv_file;
mod hdf5_file;
#[cfg(test)]
mod tests;

use std::path::Path;

use ndarray::Array2;

use crate::ml::dataset::DatasetError;
use crate::ml::Dataset;

pub use csv_file::load_csv;
pub use hdf5_file::load_hdf5;

/// Why a data file could not be read. Every message names the file and where in it the problem
/// is: the 1-based data row and the file line (CSV) or the dataset (HDF5).
#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    #[error(
        "data file `{file}`: unknown format; use .h5/.hdf5 (datasets X and y) or .csv (header row, label column y or last)"
    )]
    UnknownFormat { file: String },
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    #[error("{file}: row {row} (line {line}) has {found} cells but the header has {expected}")]
    RaggedRow {
        file: String,
        row: usize,
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error("{file}: row {row} (line {line}), column `{column}`: `{cell}` is not a number")]
    NotNumeric {
        file: String,
        row: usize,
        line: u64,
        column: String,
        cell: String,
    },
    #[error("{file}: row {row} (line {line}), column `{column}`: {value} is not a finite number")]
    NotFiniteCell {
        file: String,
        row: usize,
        line: u64,
        column: String,
        value: String,
    },
    #[error("{file}: row {row} (line {line}): the label in column `{column}` is empty")]
    EmptyLabel {
        file: String,
        row: usize,
        line: u64,
        column: String,
    },
    #[error("{file}: dataset `{dataset}`: {message}")]
    Hdf5 {
        file: String,
        dataset: String,
        message: String,
    },
    #[error(
        "{file}: dataset `X`, row {row}, column {column} (0-based): {value} is not a finite number"
    )]
    NotFiniteHdf5 {
        file: String,
        row: usize,
        column: usize,
        value: f64,
    },
    #[error("{file}: dataset `X` has {x_rows} rows but dataset `y` has {y_len} labels")]
    LengthMismatch {
        file: String,
        x_rows: usize,
        y_len: usize,
    },
    /// Rows that read fine but do not make a dataset (e.g. a single class).
    #[error(transparent)]
    Dataset(#[from] DatasetError),
}

/// Loads labelled data, HDF5 (`.h5`, `.hdf5`, `.he5`) or CSV (`.csv`) by the file's extension.
pub fn load(path: &Path) -> Result<Dataset, DataFileError> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "h5" | "hdf5" | "he5" => load_hdf5(path),
        "csv" => load_csv(path),
        _ => Err(DataFileError::UnknownFormat {
            file: path.display().to_string(),
        }),
    }
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
pub fn load_samples(path: impl AsRef<Path>, n_features: usize) -> Result<Samples, DataFileError> {
    let path = path.as_ref();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let (x, labels) = csv_file::read_csv(path, |header| {
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
    let h5 = hdf5_file::open_hdf5(path)?;
    let file = path.display().to_string();
    let x = hdf5_file::read_features(&h5, &file)?;
    let labels = match h5.link_exists("y") {
        true => Some(hdf5_file::read_labels(&h5, &file, x.nrows())?),
        false => None,
    };
    Ok(Samples { x, labels })
}
