//! Machine learning without MPI and without files: labelled datasets, cross-validation splitters,
//! metrics and the estimators (SVC, logistic regression, trees and forests) that jobs fit.
//! Everything here is a plain function of (arrays, parameters, seed), tested against
//! scikit-learn's answers; data files are read by `crate::datafile`.

pub mod cv;
pub mod dataset;
pub mod estimator;
pub mod forest;
pub mod linear;
pub mod metrics;
pub mod search;
pub mod svm;
pub mod tree;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Labelled data: one row of `x` per sample; `y[i]` indexes `classes`, which are sorted as
/// scikit-learn sorts them (`np.unique`: numerically for integer labels, else as strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub x: Array2<f64>,
    pub y: Vec<usize>,
    pub classes: Vec<String>,
}
