//! CSV data files: a header row, then one sample per row. Cells are trimmed and may be quoted;
//! refusals name the file, the 1-based data row and its file line, and the column.

use std::path::Path;

use ndarray::Array2;

use super::DataFileError;
use crate::ml::Dataset;

/// Loads a CSV file with a header row. The label column is the one named `y` (after trimming),
/// else the last column; every other column is a numeric feature. Cells are trimmed; quoted cells
/// are allowed. Refused with the file, row and column named: a row with another number of cells
/// than the header, a feature cell that is not a number, a NaN or infinite value, an empty label;
/// and a file without data rows or with fewer than two classes.
pub fn load_csv(path: impl AsRef<Path>) -> Result<Dataset, DataFileError> {
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
    Ok(Dataset::from_labels(
        x,
        &labels,
        &format!("{}, column `{column}`", path.display()),
    )?)
}

/// Features and, if `label_column` picks one from the header, labels with that column's name.
pub(super) type CsvRows = (Array2<f64>, Option<(Vec<String>, String)>);

pub(super) fn read_csv(
    path: &Path,
    label_column: impl FnOnce(&[String]) -> Option<usize>,
) -> Result<CsvRows, DataFileError> {
    let file = path.display().to_string();
    let read_error = |e: csv::Error| {
        let at = e
            .position()
            .map(|p| format!("line {}: ", p.line()))
            .unwrap_or_default();
        DataFileError::Read {
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
        return Err(DataFileError::Format {
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
            return Err(DataFileError::RaggedRow {
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
                    return Err(DataFileError::EmptyLabel {
                        file,
                        row,
                        line,
                        column: header[j].clone(),
                    });
                }
                labels.push(cell.to_string());
                continue;
            }
            let value: f64 = cell.parse().map_err(|_| DataFileError::NotNumeric {
                file: file.clone(),
                row,
                line,
                column: header[j].clone(),
                cell: cell.to_string(),
            })?;
            if !value.is_finite() {
                return Err(DataFileError::NotFiniteCell {
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
        return Err(DataFileError::Format {
            file,
            message: "no data rows after the header".to_string(),
        });
    }
    let n_features = n_cols - usize::from(label_col.is_some());
    let x = Array2::from_shape_vec((row, n_features), values).expect("rows have equal length");
    Ok((x, label_col.map(|j| (labels, header[j].clone()))))
}
