//! Random forests as scikit-learn's `RandomForestClassifier` (Breiman 2001): bootstrap samples as
//! count weights, trees that draw `max_features` candidate features per split, probabilities
//! averaged over trees, out-of-bag score, mean-decrease-in-impurity importances.
//!
//! Built for an MPI job where trees stay on the rank that grew them and only sums travel:
//! `ForestTrainer::grow_tree(i, seed)` (or `grow_tree`) grows tree `i` from `task_rng(seed, i)`
//! alone, `ForestVotes` sums a block of trees' votes exactly (any grouping and any merge order
//! gives bit-identical results), and `Forest` holds a whole model for saving or for a grid search
//! (`RandomForest::fit`).

mod grow;
mod model;
mod params;
mod votes;

pub use grow::{grow_tree, FittedTree, ForestTrainer};
pub use model::{Forest, RandomForest};
pub use params::ForestParams;
pub(crate) use votes::argmax_rows;
pub use votes::{ForestVotes, OobScore};

/// Errors of forests are those of trees (parameters, data, models).
pub use crate::ml::tree::TreeError as ForestError;

#[cfg(test)]
mod tests;
