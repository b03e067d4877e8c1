//! Machine learning without MPI and without files: labelled datasets, cross-validation splitters,
//! metrics and the estimators (SVC, logistic regression, trees and forests) that jobs fit.
//! Everything here is a plain function of (arrays, parameters, seed), tested against
//! scikit-learn's answers; data files are read by `crate::datafile`.

pub mod class_weight;
pub mod cv;
pub mod dataset;
pub mod estimator;
pub mod forest;
pub mod linear;
pub mod metrics;
pub mod search;
pub mod svm;
pub mod tree;

pub use class_weight::ClassWeight;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Why an estimator could not be built, fitted or used: the estimator's own error, whose message
/// is shown as it is (a grid search keeps it in its `splits` table).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MlError {
    /// A job file's estimator kind that is not one of [`estimator::EstimatorKind::NAMES`].
    #[error("unknown estimator kind \"{0}\"; allowed: {names}", names = estimator::EstimatorKind::NAMES)]
    UnknownKind(String),
    /// Parameters that do not deserialise (an unknown name, a wrong type): the deserialiser's
    /// message on one line.
    #[error("{0}")]
    Parameters(String),
    #[error(transparent)]
    Svm(#[from] svm::SvmError),
    #[error(transparent)]
    Logistic(#[from] linear::LogisticError),
    #[error(transparent)]
    Tree(#[from] tree::TreeError),
    /// A metric that needs probabilities, on a model that has none.
    #[error("{0} needs a model with probabilities")]
    NoProbabilities(&'static str),
}

/// Labelled data: one row of `x` per sample; `y[i]` indexes `classes`, which are sorted as
/// scikit-learn sorts them (`np.unique`: numerically for integer labels, else as strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub x: Array2<f64>,
    pub y: Vec<usize>,
    pub classes: Vec<String>,
}
