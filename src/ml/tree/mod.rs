//! CART decision-tree classifiers grown as scikit-learn's `DecisionTreeClassifier` grows them:
//! Gini or entropy impurity, exact best split over the sorted values of each candidate feature
//! (thresholds at the midpoint of consecutive distinct values), features drawn without replacement
//! per node (drawing on past `max_features` while the drawn ones are constant), sample weights
//! (a bootstrap is a vector of counts), depth-first growth or best-first growth when
//! `max_leaf_nodes` is set, and importances as normalised weighted impurity decrease. As in
//! scikit-learn, feature values are compared in single precision (`f32`) while thresholds are
//! `f64` midpoints. Nodes are stored as flat arrays (`DecisionTree`, `TreeArrays`).

mod build;
mod data;
mod model;
mod params;

pub use build::fit_weighted;
pub use data::TrainingSet;
pub use model::{argmax, DecisionTree, TreeArrays, LEAF_FEATURE, LEAF_THRESHOLD, NO_CHILD};
pub(crate) use model::{rows_f32, PackedTree};
pub use params::{Criterion, MaxFeatures, SampleCount, TreeParams};

/// Why a tree or forest could not be built, loaded or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TreeError {
    /// A hyper-parameter is out of its range; `name` is scikit-learn's name for it.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// The training or prediction data cannot be used (shape, non-finite values, labels).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A stored model is truncated, inconsistent or was made for other data.
    #[error("invalid model: {0}")]
    InvalidModel(String),
}

impl TreeError {
    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        TreeError::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

impl DecisionTree {
    /// Fits a tree on a dataset with unit weights; features are drawn from
    /// `task_rng(random_state.unwrap_or(0), 0)`.
    pub fn fit(params: &TreeParams, data: &crate::ml::Dataset) -> Result<DecisionTree, TreeError> {
        params.validate()?;
        let set = TrainingSet::new(data)?;
        let mut rng = crate::rng::task_rng(params.random_state.unwrap_or(0), 0);
        fit_weighted(params, &set, None, &mut rng)
    }
}

#[cfg(test)]
mod tests;
