//! Partial sums of a forest's votes, the only thing that travels between ranks: test-set class
//! probabilities, out-of-bag probabilities and counts, and per-tree normalised importances, summed
//! over a set of trees.
//!
//! The summation rule: each tree's contribution (a leaf's class fractions, a tree's normalised
//! importances) is rounded once to a multiple of 2^-64 and added as a 128-bit integer. Integer
//! addition is exact, so sums do not depend on the order or grouping of trees: trees 0..k grown in
//! any blocks, on any number of ranks, merged in any order, give bit-identical sums, and the final
//! `f64` values (sum converted once, divided by the number of trees) are bit-identical too. The
//! rounding (at most 2^-65 per tree) is far below `f64` resolution at 1. `Forest` sums the same
//! way, so a saved forest predicts exactly what the votes gave.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::ml::tree::{argmax, rows_f32, DecisionTree, PackedTree, TreeError};

use super::grow::FittedTree;

/// 2^64: one unit of probability in fixed point.
const FIXED_ONE: f64 = 18_446_744_073_709_551_616.0;

/// A contribution in fixed point.
#[inline]
pub(crate) fn to_fixed(v: f64) -> i128 {
    (v * FIXED_ONE).round() as i128
}

/// The mean of `n` contributions whose fixed-point sum is `sum`.
#[inline]
pub(crate) fn fixed_mean(sum: i128, n: u64) -> f64 {
    (sum as f64 / FIXED_ONE) / n as f64
}

/// A tree's node values (class fractions) in fixed point, `n_nodes * n_classes`.
pub(crate) fn fixed_values(tree: &DecisionTree) -> Vec<i128> {
    tree.value.iter().map(|&v| to_fixed(v)).collect()
}

/// The out-of-bag score: accuracy over the training rows that were out of bag for at least one
/// tree. Rows never out of bag are left out (scikit-learn warns about them, then scores them as
/// class 0); `warning` gives the message to show.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OobScore {
    /// Accuracy of the argmax of the averaged out-of-bag probabilities (NaN if no row scored).
    pub score: f64,
    pub n_scored: usize,
    pub n_never_oob: usize,
}

impl OobScore {
    /// A message to show when some rows had no out-of-bag vote.
    pub fn warning(&self) -> Option<String> {
        (self.n_never_oob > 0).then(|| {
            format!(
                "{} of {} training rows were in every tree's bootstrap and have no out-of-bag \
                 vote (too few trees for a reliable OOB estimate); the OOB score leaves them out",
                self.n_never_oob,
                self.n_never_oob + self.n_scored
            )
        })
    }
}

/// Sums of votes over a set of trees (see the module documentation for the summation rule).
/// Build one per block of trees with `new` + `add_tree`, combine with `merge`; the set of tree
/// indices covered is tracked, and adding a tree twice is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestVotes {
    n_train: usize,
    n_test: usize,
    n_classes: usize,
    n_features: usize,
    /// Tree indices covered, as sorted disjoint half-open ranges.
    trees: Vec<(u64, u64)>,
    /// `n_test * n_classes` fixed-point sums of class fractions.
    test_sum: Vec<i128>,
    /// `n_train * n_classes` fixed-point sums over the trees where the row was out of bag.
    oob_sum: Vec<i128>,
    oob_count: Vec<u32>,
    /// Fixed-point sums of per-tree normalised importances (trees with a split only).
    importance_sum: Vec<i128>,
    n_importance_trees: u64,
}

impl ForestVotes {
    /// Empty sums for `n_train` training rows, `n_test` test rows (0 if none), `n_classes`
    /// classes and `n_features` features.
    pub fn new(n_train: usize, n_test: usize, n_classes: usize, n_features: usize) -> Self {
        ForestVotes {
            n_train,
            n_test,
            n_classes,
            n_features,
            trees: Vec::new(),
            test_sum: vec![0; n_test * n_classes],
            oob_sum: vec![0; n_train * n_classes],
            oob_count: vec![0; n_train],
            importance_sum: vec![0; n_features],
            n_importance_trees: 0,
        }
    }

    /// Adds one tree's votes: its class fractions for every row of `test_x`, for the rows of
    /// `train_x` that were out of its bag, and its normalised importances.
    pub fn add_tree(
        &mut self,
        fitted: &FittedTree,
        train_x: ArrayView2<f64>,
        test_x: ArrayView2<f64>,
    ) -> Result<(), TreeError> {
        let tree = &fitted.tree;
        let k = self.n_classes;
        if tree.n_classes() != k || tree.n_features() != self.n_features {
            return Err(TreeError::InvalidData(format!(
                "tree {} has {} classes and {} features, the votes {k} and {}",
                fitted.index,
                tree.n_classes(),
                tree.n_features(),
                self.n_features
            )));
        }
        for (what, x, rows) in [
            ("training", &train_x, self.n_train),
            ("test", &test_x, self.n_test),
        ] {
            if x.nrows() != rows || x.ncols() != self.n_features {
                return Err(TreeError::InvalidData(format!(
                    "{what} rows are {}x{}, the votes expect {rows}x{}",
                    x.nrows(),
                    x.ncols(),
                    self.n_features
                )));
            }
        }
        if let Some(&i) = fitted
            .oob_indices
            .iter()
            .find(|&&i| i as usize >= self.n_train)
        {
            return Err(TreeError::InvalidData(format!(
                "out-of-bag row {i} of tree {} is beyond the {} training rows",
                fitted.index, self.n_train
            )));
        }
        let index = fitted.index as u64;
        insert_range(&mut self.trees, (index, index + 1))?;

        let values = fixed_values(tree);
        let packed = PackedTree::new(tree);
        let d = self.n_features;
        let mut leaves = Vec::new();
        packed.leaves(&rows_f32(test_x, d)?, d, &mut leaves);
        for (&leaf, sum) in leaves.iter().zip(self.test_sum.chunks_exact_mut(k)) {
            let leaf = leaf as usize;
            for (s, v) in sum.iter_mut().zip(&values[leaf * k..(leaf + 1) * k]) {
                *s += v;
            }
        }
        let mut oob_rows = Vec::with_capacity(fitted.oob_indices.len() * d);
        for &i in &fitted.oob_indices {
            oob_rows.extend(train_x.row(i as usize).iter().map(|&v| v as f32));
        }
        packed.leaves(&oob_rows, d, &mut leaves);
        for (&i, &leaf) in fitted.oob_indices.iter().zip(&leaves) {
            let (i, leaf) = (i as usize, leaf as usize);
            let sum = &mut self.oob_sum[i * k..(i + 1) * k];
            for (s, v) in sum.iter_mut().zip(&values[leaf * k..(leaf + 1) * k]) {
                *s += v;
            }
            self.oob_count[i] += 1;
        }
        if tree.n_nodes() > 1 {
            for (s, v) in self
                .importance_sum
                .iter_mut()
                .zip(tree.feature_importances())
            {
                // Only a damaged saved tree (impurities that grow down the tree) gets here.
                *s = s.checked_add(to_fixed(v)).ok_or_else(|| {
                    TreeError::InvalidData(format!(
                        "tree {}: its feature importances are out of range (a damaged tree)",
                        fitted.index
                    ))
                })?;
            }
            self.n_importance_trees += 1;
        }
        Ok(())
    }

    /// Adds another set of sums over other trees (any order gives the same result).
    pub fn merge(&mut self, other: &ForestVotes) -> Result<(), TreeError> {
        other.check()?;
        if (self.n_train, self.n_test, self.n_classes, self.n_features)
            != (
                other.n_train,
                other.n_test,
                other.n_classes,
                other.n_features,
            )
        {
            return Err(TreeError::InvalidData(format!(
                "cannot merge votes of shape (train {}, test {}, classes {}, features {}) into ({}, {}, {}, {})",
                other.n_train, other.n_test, other.n_classes, other.n_features,
                self.n_train, self.n_test, self.n_classes, self.n_features
            )));
        }
        let mut trees = self.trees.clone();
        for &range in &other.trees {
            insert_range(&mut trees, range)?;
        }
        self.trees = trees;
        for (a, b) in self.test_sum.iter_mut().zip(&other.test_sum) {
            *a += b;
        }
        for (a, b) in self.oob_sum.iter_mut().zip(&other.oob_sum) {
            *a += b;
        }
        for (a, b) in self.oob_count.iter_mut().zip(&other.oob_count) {
            *a += b;
        }
        for (a, b) in self.importance_sum.iter_mut().zip(&other.importance_sum) {
            *a += b;
        }
        self.n_importance_trees += other.n_importance_trees;
        Ok(())
    }

    /// Checks that the arrays agree with the shape (after deserialising).
    fn check(&self) -> Result<(), TreeError> {
        let k = self.n_classes;
        let ok = self.test_sum.len() == self.n_test * k
            && self.oob_sum.len() == self.n_train * k
            && self.oob_count.len() == self.n_train
            && self.importance_sum.len() == self.n_features
            && self.trees.windows(2).all(|w| w[0].1 < w[1].0)
            && self.trees.iter().all(|r| r.0 < r.1);
        if ok {
            Ok(())
        } else {
            Err(TreeError::InvalidData(
                "forest votes with inconsistent arrays (truncated or corrupt)".into(),
            ))
        }
    }

    /// Number of trees summed.
    pub fn n_trees(&self) -> u64 {
        self.trees.iter().map(|r| r.1 - r.0).sum()
    }

    /// The tree indices summed, as sorted disjoint half-open ranges.
    pub fn tree_ranges(&self) -> &[(u64, u64)] {
        &self.trees
    }

    /// True when every tree of `trees` is summed.
    pub fn covers(&self, trees: std::ops::Range<usize>) -> bool {
        self.trees
            .iter()
            .any(|&(a, b)| a <= trees.start as u64 && trees.end as u64 <= b)
    }

    /// True when exactly the trees `0..n` are summed.
    pub fn is_complete(&self, n: u64) -> bool {
        if n == 0 {
            self.trees.is_empty()
        } else {
            self.trees == [(0, n)]
        }
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Mean class probabilities of the test rows over the trees (`n_test x n_classes`), as
    /// scikit-learn's `predict_proba` (zeros if no tree was added).
    pub fn test_proba(&self) -> Array2<f64> {
        let n = self.n_trees().max(1);
        Array2::from_shape_vec(
            (self.n_test, self.n_classes),
            self.test_sum.iter().map(|&s| fixed_mean(s, n)).collect(),
        )
        .expect("test sums hold n_test x n_classes entries")
    }

    /// The most probable class of each test row (ties to the lowest class index).
    pub fn test_predict(&self) -> Vec<usize> {
        argmax_rows(&self.test_proba())
    }

    /// Out-of-bag probabilities per training row (mean over the trees where the row was out of
    /// bag; zeros for rows never out of bag) and the number of such trees per row.
    pub fn oob_proba(&self) -> (Array2<f64>, Vec<u32>) {
        let k = self.n_classes;
        let mut out = Array2::zeros((self.n_train, k));
        for (i, &count) in self.oob_count.iter().enumerate() {
            if count > 0 {
                for c in 0..k {
                    out[[i, c]] = fixed_mean(self.oob_sum[i * k + c], count as u64);
                }
            }
        }
        (out, self.oob_count.clone())
    }

    /// The out-of-bag accuracy against the training labels `y` (class indices).
    pub fn oob_score(&self, y: &[usize]) -> Result<OobScore, TreeError> {
        if y.len() != self.n_train {
            return Err(TreeError::InvalidData(format!(
                "{} labels for {} training rows",
                y.len(),
                self.n_train
            )));
        }
        let k = self.n_classes;
        let (mut scored, mut correct) = (0usize, 0usize);
        for (i, &label) in y.iter().enumerate() {
            if self.oob_count[i] == 0 {
                continue;
            }
            scored += 1;
            let n = self.oob_count[i] as u64;
            let proba: Vec<f64> = self.oob_sum[i * k..(i + 1) * k]
                .iter()
                .map(|&s| fixed_mean(s, n))
                .collect();
            if argmax(&proba) == label {
                correct += 1;
            }
        }
        Ok(OobScore {
            score: if scored > 0 {
                correct as f64 / scored as f64
            } else {
                f64::NAN
            },
            n_scored: scored,
            n_never_oob: self.n_train - scored,
        })
    }

    /// Mean of the per-tree normalised importances over the trees with at least one split,
    /// normalised to sum to 1 (zeros if no tree split), as scikit-learn's forest.
    pub fn feature_importances(&self) -> Vec<f64> {
        importances_from_sums(&self.importance_sum, self.n_importance_trees)
    }

    /// The sums as bytes (bincode), e.g. to send to rank 0.
    pub fn to_bytes(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("forest votes are plain serialisable data")
    }

    /// Reads sums written by `to_bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TreeError> {
        let (votes, _): (ForestVotes, usize) =
            bincode::serde::decode_from_slice(bytes, bincode::config::standard())
                .map_err(|e| TreeError::InvalidData(format!("unreadable forest votes: {e}")))?;
        votes.check()?;
        Ok(votes)
    }
}

/// Inserts a half-open range into sorted disjoint ranges, coalescing neighbours; refuses overlap.
fn insert_range(ranges: &mut Vec<(u64, u64)>, new: (u64, u64)) -> Result<(), TreeError> {
    let at = ranges.partition_point(|r| r.1 <= new.0);
    if at < ranges.len() && ranges[at].0 < new.1 {
        return Err(TreeError::InvalidData(format!(
            "trees {}..{} are already counted in these votes",
            new.0.max(ranges[at].0),
            new.1.min(ranges[at].1)
        )));
    }
    ranges.insert(at, new);
    if at + 1 < ranges.len() && ranges[at].1 == ranges[at + 1].0 {
        ranges[at].1 = ranges[at + 1].1;
        ranges.remove(at + 1);
    }
    if at > 0 && ranges[at - 1].1 == ranges[at].0 {
        ranges[at - 1].1 = ranges[at].1;
        ranges.remove(at);
    }
    Ok(())
}

/// The most probable class per row of probabilities (numpy's argmax: ties to the lowest index).
pub(crate) fn argmax_rows(proba: &Array2<f64>) -> Vec<usize> {
    proba
        .rows()
        .into_iter()
        .map(|row| {
            argmax(
                row.as_slice()
                    .expect("rows of a standard-layout array are contiguous"),
            )
        })
        .collect()
}

pub(crate) fn importances_from_sums(sums: &[i128], n_trees: u64) -> Vec<f64> {
    if n_trees == 0 {
        return vec![0.0; sums.len()];
    }
    let mean: Vec<f64> = sums.iter().map(|&s| fixed_mean(s, n_trees)).collect();
    let total: f64 = mean.iter().sum();
    if total > 0.0 {
        mean.iter().map(|v| v / total).collect()
    } else {
        mean
    }
}
