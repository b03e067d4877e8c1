//! A whole fitted forest (its trees and class names) for a saved model or a grid-search
//! estimator, and `RandomForest::fit`, which grows the trees one after the other. Probabilities
//! are summed with the same fixed-point rule as `ForestVotes`, so a forest predicts exactly what
//! votes summed over its trees give.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::grow::ForestTrainer;
use super::params::ForestParams;
use super::votes::{
    argmax_rows, fixed_mean, fixed_values, importances_from_sums, to_fixed, ForestVotes, OobScore,
};
use crate::ml::tree::{rows_f32, DecisionTree, PackedTree, TreeError};
use crate::ml::Dataset;

/// A fitted random forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ForestRepr", into = "ForestRepr")]
pub struct Forest {
    classes: Vec<String>,
    n_features: usize,
    trees: Vec<DecisionTree>,
    oob_score: Option<OobScore>,
}

/// The serialised form; loading checks it with `Forest::new`.
#[derive(Serialize, Deserialize)]
struct ForestRepr {
    classes: Vec<String>,
    n_features: usize,
    trees: Vec<DecisionTree>,
    oob_score: Option<OobScore>,
}

impl TryFrom<ForestRepr> for Forest {
    type Error = TreeError;
    fn try_from(r: ForestRepr) -> Result<Self, TreeError> {
        let mut forest = Forest::new(r.classes, r.n_features, r.trees)?;
        forest.oob_score = r.oob_score;
        Ok(forest)
    }
}

impl From<Forest> for ForestRepr {
    fn from(f: Forest) -> Self {
        ForestRepr {
            classes: f.classes,
            n_features: f.n_features,
            trees: f.trees,
            oob_score: f.oob_score,
        }
    }
}

impl Forest {
    /// Assembles trees (e.g. loaded from a file with `DecisionTree::from_arrays`), checking that
    /// every tree has `n_features` features and one value per class.
    pub fn new(
        classes: Vec<String>,
        n_features: usize,
        trees: Vec<DecisionTree>,
    ) -> Result<Self, TreeError> {
        if trees.is_empty() {
            return Err(TreeError::InvalidModel(
                "a forest needs at least one tree".into(),
            ));
        }
        if classes.is_empty() {
            return Err(TreeError::InvalidModel(
                "a forest needs at least one class".into(),
            ));
        }
        for (i, tree) in trees.iter().enumerate() {
            if tree.n_features() != n_features {
                return Err(TreeError::InvalidModel(format!(
                    "tree {i} was fitted on {} features, the forest on {n_features}",
                    tree.n_features()
                )));
            }
            if tree.n_classes() != classes.len() {
                return Err(TreeError::InvalidModel(format!(
                    "tree {i} has {} classes, the forest {}",
                    tree.n_classes(),
                    classes.len()
                )));
            }
        }
        Ok(Forest {
            classes,
            n_features,
            trees,
            oob_score: None,
        })
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn trees(&self) -> &[DecisionTree] {
        &self.trees
    }

    /// The out-of-bag score when the forest was fitted with `oob_score = true`.
    pub fn oob_score(&self) -> Option<OobScore> {
        self.oob_score
    }

    /// A warning the fit carries: training rows left out of the OOB score.
    pub fn warning(&self) -> Option<String> {
        self.oob_score.and_then(|o| o.warning())
    }

    /// Mean of the trees' class fractions per row (`n_rows x n_classes`).
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TreeError> {
        if x.ncols() != self.n_features {
            return Err(TreeError::InvalidData(format!(
                "rows have {} features but the forest was fitted on {}",
                x.ncols(),
                self.n_features
            )));
        }
        let k = self.classes.len();
        let d = self.n_features;
        let n = x.nrows();
        let rows = rows_f32(x, d)?;
        let mut sums = vec![0i128; n * k];
        let mut leaves = Vec::with_capacity(n);
        for tree in &self.trees {
            PackedTree::new(tree).leaves(&rows, d, &mut leaves);
            let values = fixed_values(tree);
            for (&leaf, sum) in leaves.iter().zip(sums.chunks_exact_mut(k)) {
                let leaf = leaf as usize;
                for (s, v) in sum.iter_mut().zip(&values[leaf * k..(leaf + 1) * k]) {
                    *s += v;
                }
            }
        }
        let n_trees = self.trees.len() as u64;
        Ok(Array2::from_shape_vec(
            (n, k),
            sums.iter().map(|&s| fixed_mean(s, n_trees)).collect(),
        )
        .expect("n_rows x n_classes sums"))
    }

    /// The most probable class index per row (ties to the lowest index).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>, TreeError> {
        Ok(argmax_rows(&self.predict_proba(x)?))
    }

    /// The most probable class label per row.
    pub fn predict_labels(&self, x: ArrayView2<f64>) -> Result<Vec<String>, TreeError> {
        Ok(self
            .predict(x)?
            .into_iter()
            .map(|c| self.classes[c].clone())
            .collect())
    }

    /// Accuracy on a labelled dataset.
    pub fn score(&self, data: &Dataset) -> Result<f64, TreeError> {
        let predicted = self.predict(data.x.view())?;
        if predicted.len() != data.y.len() || predicted.is_empty() {
            return Err(TreeError::InvalidData(format!(
                "{} rows but {} labels",
                predicted.len(),
                data.y.len()
            )));
        }
        let correct = predicted
            .iter()
            .zip(&data.y)
            .filter(|(p, y)| p == y)
            .count();
        Ok(correct as f64 / predicted.len() as f64)
    }

    /// Mean of the per-tree normalised importances (trees with a split), normalised to sum 1.
    pub fn feature_importances(&self) -> Vec<f64> {
        let mut sums = vec![0i128; self.n_features];
        let mut n = 0;
        for tree in self.trees.iter().filter(|t| t.n_nodes() > 1) {
            for (s, v) in sums.iter_mut().zip(tree.feature_importances()) {
                *s += to_fixed(v);
            }
            n += 1;
        }
        importances_from_sums(&sums, n)
    }
}

/// scikit-learn's `RandomForestClassifier` as a plain estimator.
pub struct RandomForest;

impl RandomForest {
    /// Grows trees `0..n_estimators` one after the other with seed `random_state` (0 if unset);
    /// with `oob_score` the forest keeps its out-of-bag score.
    pub fn fit(params: &ForestParams, data: &Dataset) -> Result<Forest, TreeError> {
        let trainer = ForestTrainer::new(params, data)?;
        let seed = params.random_state.unwrap_or(0);
        let n = data.x.nrows();
        let d = data.x.ncols();
        let mut votes = params
            .oob_score
            .then(|| ForestVotes::new(n, 0, data.classes.len(), d));
        let empty = Array2::<f64>::zeros((0, d));
        let mut trees = Vec::with_capacity(params.n_estimators);
        for i in 0..params.n_estimators {
            let fitted = trainer.grow_tree(i, seed)?;
            if let Some(votes) = votes.as_mut() {
                votes.add_tree(&fitted, data.x.view(), empty.view())?;
            }
            trees.push(fitted.tree);
        }
        let mut forest = Forest::new(data.classes.clone(), d, trees)?;
        if let Some(votes) = votes {
            forest.oob_score = Some(votes.oob_score(&data.y)?);
        }
        Ok(forest)
    }
}
