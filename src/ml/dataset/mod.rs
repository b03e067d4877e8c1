//! Labelled data for the estimators, from arrays (files are read by `crate::datafile`): the
//! digits data, scikit-learn's `make_classification` generator, label encoding in `np.unique`
//! order, row selection, and the check that every class has at least as many members as the folds
//! a grid search asks for.

mod digits;
mod generate;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use ndarray::{Array2, Axis};

pub use crate::ml::Dataset;
pub use digits::digits;
pub use generate::{make_classification, MakeClassification, MakeClassificationError};

/// Why labelled data cannot be used. `origin` names the data (a file and its label column or
/// dataset, or a generator) so that the message says where to look.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{origin}: {x_rows} rows of features but {y_len} labels")]
    LengthMismatch {
        origin: String,
        x_rows: usize,
        y_len: usize,
    },
    #[error("{origin}: {n_classes} class(es) found ({classes}); a classifier needs at least two")]
    TooFewClasses {
        origin: String,
        n_classes: usize,
        classes: String,
    },
    #[error(
        "class `{class}` has {members} member(s), fewer than the {folds} folds asked for \
         (every class needs at least one sample per fold)"
    )]
    TooFewMembers {
        class: String,
        members: usize,
        folds: usize,
    },
    #[error("{folds} folds asked for; cross-validation needs at least 2")]
    TooFewFolds { folds: usize },
    #[error("{folds} folds asked for but there are only {n_samples} samples")]
    MoreFoldsThanSamples { folds: usize, n_samples: usize },
}

/// Encodes labels as indices into their sorted distinct values, sorted as `np.unique` sorts them:
/// numerically when every label is an integer (then written in canonical form, `"007"` -> `"7"`),
/// else as strings (by code point). Returns `(y, classes)` with `classes[y[i]]` the label of row
/// `i`.
pub fn encode_labels<S: AsRef<str>>(labels: &[S]) -> (Vec<usize>, Vec<String>) {
    let integers: Option<Vec<i128>> = labels
        .iter()
        .map(|s| s.as_ref().trim().parse::<i128>().ok())
        .collect();
    match integers {
        Some(values) if !values.is_empty() => {
            let mut distinct = values.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let y = values
                .iter()
                .map(|v| distinct.binary_search(v).expect("value is present"))
                .collect();
            (y, distinct.iter().map(|v| v.to_string()).collect())
        }
        _ => {
            let mut distinct: Vec<&str> = labels.iter().map(|s| s.as_ref()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let index: HashMap<&str, usize> =
                distinct.iter().enumerate().map(|(i, s)| (*s, i)).collect();
            let y = labels.iter().map(|s| index[s.as_ref()]).collect();
            (y, distinct.iter().map(|s| s.to_string()).collect())
        }
    }
}

impl Dataset {
    /// Builds a dataset from features and raw labels (encoded with [`encode_labels`]) and checks
    /// it: as many labels as rows, finite features, at least two classes. `origin` names the data
    /// in error messages.
    pub fn from_labels<S: AsRef<str>>(
        x: Array2<f64>,
        labels: &[S],
        origin: &str,
    ) -> Result<Dataset, DatasetError> {
        if x.nrows() != labels.len() {
            return Err(DatasetError::LengthMismatch {
                origin: origin.to_string(),
                x_rows: x.nrows(),
                y_len: labels.len(),
            });
        }
        let (y, classes) = encode_labels(labels);
        let data = Dataset { x, y, classes };
        data.check_classes(origin)?;
        Ok(data)
    }

    /// Number of samples (rows).
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// Number of classes (`classes.len()`), including any with no member after a `select`.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Members of each class, indexed like `classes`.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &c in &self.y {
            counts[c] += 1;
        }
        counts
    }

    /// The rows `indices` (in that order, repeats allowed), keeping every class name so that
    /// labels keep their meaning across folds. Panics on an index out of range.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            x: self.x.select(Axis(0), indices),
            y: indices.iter().map(|&i| self.y[i]).collect(),
            classes: self.classes.clone(),
        }
    }

    /// Refuses data with fewer than two distinct classes present.
    pub fn check_classes(&self, origin: &str) -> Result<(), DatasetError> {
        let present: Vec<&str> = self
            .class_counts()
            .iter()
            .zip(&self.classes)
            .filter(|(n, _)| **n > 0)
            .map(|(_, c)| c.as_str())
            .collect();
        if present.len() < 2 {
            return Err(DatasetError::TooFewClasses {
                origin: origin.to_string(),
                n_classes: present.len(),
                classes: present
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(())
    }
}

/// Refuses a stratified `folds`-fold cross-validation of `data` that cannot give every class a
/// member in every test fold: fewer than 2 folds, more folds than samples, or a class (present in
/// the data) with fewer members than `folds`. The grid search calls this before any work.
pub fn check_folds(data: &Dataset, folds: usize) -> Result<(), DatasetError> {
    if folds < 2 {
        return Err(DatasetError::TooFewFolds { folds });
    }
    if folds > data.n_samples() {
        return Err(DatasetError::MoreFoldsThanSamples {
            folds,
            n_samples: data.n_samples(),
        });
    }
    for (class, &members) in data.classes.iter().zip(&data.class_counts()) {
        if members > 0 && members < folds {
            return Err(DatasetError::TooFewMembers {
                class: class.clone(),
                members,
                folds,
            });
        }
    }
    Ok(())
}
