//! A fitted tree as flat arrays, one entry per node in scikit-learn's node order (depth-first
//! pre-order, or creation order under best-first growth): split feature and threshold, children,
//! class fractions, impurity and sample counts. `TreeArrays` is the exchange form with
//! scikit-learn's conventions (children -1 and feature/threshold -2 at leaves) for HDF5 files;
//! loading checks that the arrays form one tree, so prediction cannot index out of bounds or loop.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::TreeError;

/// `children_left`/`children_right` of a leaf in `TreeArrays` (scikit-learn's `TREE_LEAF`).
pub const NO_CHILD: i64 = -1;
/// `feature` of a leaf in `TreeArrays` (scikit-learn's `TREE_UNDEFINED`).
pub const LEAF_FEATURE: i64 = -2;
/// `threshold` of a leaf in `TreeArrays`.
pub const LEAF_THRESHOLD: f64 = -2.0;

/// Marks "no child" in the internal `u32` child arrays.
pub(crate) const NONE: u32 = u32::MAX;

/// A fitted classification tree. A sample goes left at a node when its feature value, rounded to
/// `f32`, is at most the node's threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TreeArrays", into = "TreeArrays")]
pub struct DecisionTree {
    pub(crate) n_features: usize,
    pub(crate) n_classes: usize,
    /// Split feature per node (`NONE` at leaves).
    pub(crate) feature: Vec<u32>,
    pub(crate) threshold: Vec<f64>,
    pub(crate) left: Vec<u32>,
    pub(crate) right: Vec<u32>,
    /// Weighted class fractions, `n_nodes * n_classes`, row-major.
    pub(crate) value: Vec<f64>,
    pub(crate) impurity: Vec<f64>,
    pub(crate) n_node_samples: Vec<u32>,
    pub(crate) weighted_n_node_samples: Vec<f64>,
}

/// A tree's arrays in scikit-learn's `tree_` layout, for files and other languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeArrays {
    pub n_features: usize,
    pub n_classes: usize,
    pub children_left: Vec<i64>,
    pub children_right: Vec<i64>,
    pub feature: Vec<i64>,
    pub threshold: Vec<f64>,
    /// `n_nodes x n_classes` weighted class fractions.
    pub value: Array2<f64>,
    pub impurity: Vec<f64>,
    pub n_node_samples: Vec<i64>,
    pub weighted_n_node_samples: Vec<f64>,
}

impl DecisionTree {
    pub fn n_nodes(&self) -> usize {
        self.feature.len()
    }

    pub fn n_leaves(&self) -> usize {
        self.left.iter().filter(|&&l| l == NONE).count()
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Depth of the deepest leaf (the root alone has depth 0).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.n_nodes()];
        let mut max = 0;
        for node in 0..self.n_nodes() {
            if self.left[node] != NONE {
                for child in [self.left[node], self.right[node]] {
                    depth[child as usize] = depth[node] + 1;
                    max = max.max(depth[node] + 1);
                }
            }
        }
        max
    }

    /// Class fractions of a leaf.
    #[inline]
    pub(crate) fn leaf_value(&self, leaf: usize) -> &[f64] {
        &self.value[leaf * self.n_classes..(leaf + 1) * self.n_classes]
    }

    /// The index of the leaf each row reaches (scikit-learn's `apply`).
    pub fn apply(&self, x: ArrayView2<f64>) -> Result<Vec<usize>, TreeError> {
        Ok(self.leaves(x)?.into_iter().map(|l| l as usize).collect())
    }

    fn leaves(&self, x: ArrayView2<f64>) -> Result<Vec<u32>, TreeError> {
        let rows = rows_f32(x, self.n_features)?;
        let mut leaves = Vec::with_capacity(x.nrows());
        PackedTree::new(self).leaves(&rows, self.n_features, &mut leaves);
        Ok(leaves)
    }

    /// Weighted class fractions of the leaf each row reaches (`n_rows x n_classes`).
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TreeError> {
        let leaves = self.leaves(x)?;
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        for (i, &leaf) in leaves.iter().enumerate() {
            for (o, &v) in out
                .row_mut(i)
                .iter_mut()
                .zip(self.leaf_value(leaf as usize))
            {
                *o = v;
            }
        }
        Ok(out)
    }

    /// The most probable class index per row (ties to the lowest index).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>, TreeError> {
        Ok(self
            .leaves(x)?
            .into_iter()
            .map(|leaf| argmax(self.leaf_value(leaf as usize)))
            .collect())
    }

    /// Weighted impurity decrease per feature, divided by the root's weight and normalised to sum
    /// to 1 (all zero when the root is a leaf), as scikit-learn's `feature_importances_`.
    pub fn feature_importances(&self) -> Vec<f64> {
        let mut importances = vec![0.0; self.n_features];
        for node in 0..self.n_nodes() {
            let (l, r) = (self.left[node], self.right[node]);
            if l == NONE {
                continue;
            }
            let (l, r) = (l as usize, r as usize);
            importances[self.feature[node] as usize] += self.weighted_n_node_samples[node]
                * self.impurity[node]
                - self.weighted_n_node_samples[l] * self.impurity[l]
                - self.weighted_n_node_samples[r] * self.impurity[r];
        }
        let root = self.weighted_n_node_samples[0];
        for v in importances.iter_mut() {
            *v /= root;
        }
        let total: f64 = importances.iter().sum();
        if total > 0.0 {
            for v in importances.iter_mut() {
                *v /= total;
            }
        }
        importances
    }

    /// The tree in scikit-learn's array layout.
    pub fn to_arrays(&self) -> TreeArrays {
        let child = |c: u32| if c == NONE { NO_CHILD } else { c as i64 };
        let n = self.n_nodes();
        TreeArrays {
            n_features: self.n_features,
            n_classes: self.n_classes,
            children_left: self.left.iter().map(|&c| child(c)).collect(),
            children_right: self.right.iter().map(|&c| child(c)).collect(),
            feature: self
                .feature
                .iter()
                .map(|&f| if f == NONE { LEAF_FEATURE } else { f as i64 })
                .collect(),
            threshold: (0..n)
                .map(|i| {
                    if self.left[i] == NONE {
                        LEAF_THRESHOLD
                    } else {
                        self.threshold[i]
                    }
                })
                .collect(),
            value: Array2::from_shape_vec((n, self.n_classes), self.value.clone())
                .expect("value holds n_nodes x n_classes entries"),
            impurity: self.impurity.clone(),
            n_node_samples: self.n_node_samples.iter().map(|&c| c as i64).collect(),
            weighted_n_node_samples: self.weighted_n_node_samples.clone(),
        }
    }

    /// Rebuilds a tree from arrays, checking that they describe one well-formed tree: equal
    /// lengths, a `value` of `n_nodes x n_classes`, children after their parent and each node
    /// reached once, both or neither child, features below `n_features`, finite numbers.
    pub fn from_arrays(a: TreeArrays) -> Result<Self, TreeError> {
        let bad = |m: String| Err(TreeError::InvalidModel(m));
        let n = a.feature.len();
        if n == 0 {
            return bad("a tree has no nodes (truncated model?)".into());
        }
        if n >= NONE as usize {
            return bad(format!("{n} nodes is too many"));
        }
        if a.n_features == 0 || a.n_classes == 0 {
            return bad(format!(
                "a tree needs features and classes, got {} features and {} classes",
                a.n_features, a.n_classes
            ));
        }
        for (name, len) in [
            ("children_left", a.children_left.len()),
            ("children_right", a.children_right.len()),
            ("threshold", a.threshold.len()),
            ("impurity", a.impurity.len()),
            ("n_node_samples", a.n_node_samples.len()),
            ("weighted_n_node_samples", a.weighted_n_node_samples.len()),
            ("value rows", a.value.nrows()),
        ] {
            if len != n {
                return bad(format!(
                    "{name} has {len} entries but feature has {n} (truncated or mixed arrays)"
                ));
            }
        }
        if a.value.ncols() != a.n_classes {
            return bad(format!(
                "value has {} columns but the tree has {} classes",
                a.value.ncols(),
                a.n_classes
            ));
        }
        let mut reached = vec![false; n];
        reached[0] = true;
        let mut feature = Vec::with_capacity(n);
        let mut threshold = Vec::with_capacity(n);
        let mut left = Vec::with_capacity(n);
        let mut right = Vec::with_capacity(n);
        for i in 0..n {
            let (l, r) = (a.children_left[i], a.children_right[i]);
            if l == NO_CHILD && r == NO_CHILD {
                feature.push(NONE);
                threshold.push(LEAF_THRESHOLD);
                left.push(NONE);
                right.push(NONE);
                continue;
            }
            for c in [l, r] {
                if c <= i as i64 || c >= n as i64 {
                    return bad(format!(
                        "node {i} has child {c}, which is not a later node of {n}"
                    ));
                }
                if reached[c as usize] {
                    return bad(format!("node {c} has two parents"));
                }
                reached[c as usize] = true;
            }
            let f = a.feature[i];
            if f < 0 || f >= a.n_features as i64 {
                return bad(format!(
                    "node {i} splits on feature {f}, but the model has {} features",
                    a.n_features
                ));
            }
            if !a.threshold[i].is_finite() {
                return bad(format!("node {i} has threshold {}", a.threshold[i]));
            }
            feature.push(f as u32);
            threshold.push(a.threshold[i]);
            left.push(l as u32);
            right.push(r as u32);
        }
        if let Some(i) = reached.iter().position(|&r| !r) {
            return bad(format!("node {i} is not reached from the root"));
        }
        if a.value.iter().any(|v| !(0.0..=1.0).contains(v)) {
            return bad("value holds a class fraction outside [0, 1]".into());
        }
        for (name, values) in [
            ("impurity", &a.impurity),
            ("weighted_n_node_samples", &a.weighted_n_node_samples),
        ] {
            if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return bad(format!("{name} holds a negative or non-finite number"));
            }
        }
        if a.n_node_samples
            .iter()
            .any(|&c| c < 0 || c > u32::MAX as i64)
        {
            return bad("n_node_samples holds a negative or huge count".into());
        }
        Ok(DecisionTree {
            n_features: a.n_features,
            n_classes: a.n_classes,
            feature,
            threshold,
            left,
            right,
            value: a.value.iter().copied().collect(),
            impurity: a.impurity,
            n_node_samples: a.n_node_samples.iter().map(|&c| c as u32).collect(),
            weighted_n_node_samples: a.weighted_n_node_samples,
        })
    }
}

impl TryFrom<TreeArrays> for DecisionTree {
    type Error = TreeError;
    fn try_from(a: TreeArrays) -> Result<Self, TreeError> {
        DecisionTree::from_arrays(a)
    }
}

impl From<DecisionTree> for TreeArrays {
    fn from(t: DecisionTree) -> TreeArrays {
        t.to_arrays()
    }
}

/// A node packed for prediction: 16 bytes, four to a cache line. The threshold is the largest
/// `f32` not above the `f64` threshold, so comparing an `f32` value with it decides exactly as
/// comparing in `f64`. Leaves point to themselves with an infinite threshold, so a row that has
/// reached its leaf stays there.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct PackedNode {
    threshold: f32,
    feature: u32,
    left: u32,
    right: u32,
}

/// Rows traversed together, so that their independent walks overlap in the processor.
const LANES: usize = 8;

/// A tree packed for fast prediction.
pub(crate) struct PackedTree {
    nodes: Vec<PackedNode>,
}

/// The largest `f32` that is at most `x`.
fn f32_at_most(x: f64) -> f32 {
    let t = x as f32;
    if (t as f64) <= x || t.is_nan() {
        return t;
    }
    if t == f32::INFINITY {
        f32::MAX
    } else if t == 0.0 {
        -f32::from_bits(1)
    } else if t > 0.0 {
        f32::from_bits(t.to_bits() - 1)
    } else {
        f32::from_bits(t.to_bits() + 1)
    }
}

impl PackedTree {
    pub(crate) fn new(tree: &DecisionTree) -> Self {
        let nodes = (0..tree.n_nodes())
            .map(|i| {
                if tree.left[i] == NONE {
                    PackedNode {
                        threshold: f32::INFINITY,
                        feature: 0,
                        left: i as u32,
                        right: i as u32,
                    }
                } else {
                    PackedNode {
                        threshold: f32_at_most(tree.threshold[i]),
                        feature: tree.feature[i],
                        left: tree.left[i],
                        right: tree.right[i],
                    }
                }
            })
            .collect();
        PackedTree { nodes }
    }

    /// The leaf of each row of `rows` (contiguous rows of `d` values) into `out`.
    pub(crate) fn leaves(&self, rows: &[f32], d: usize, out: &mut Vec<u32>) {
        out.clear();
        let nodes = &self.nodes[..];
        let mut chunks = rows.chunks_exact(d * LANES);
        for chunk in &mut chunks {
            let mut at = [0u32; LANES];
            loop {
                let mut moved = false;
                for (j, a) in at.iter_mut().enumerate() {
                    let node = nodes[*a as usize];
                    let v = chunk[j * d + node.feature as usize];
                    let next = if v <= node.threshold {
                        node.left
                    } else {
                        node.right
                    };
                    moved |= next != *a;
                    *a = next;
                }
                if !moved {
                    break;
                }
            }
            out.extend_from_slice(&at);
        }
        for row in chunks.remainder().chunks_exact(d) {
            let mut a = 0u32;
            loop {
                let node = nodes[a as usize];
                let next = if row[node.feature as usize] <= node.threshold {
                    node.left
                } else {
                    node.right
                };
                if next == a {
                    break;
                }
                a = next;
            }
            out.push(a);
        }
    }
}

/// Index of the largest value, the first one on ties (numpy's argmax).
#[inline]
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (k, &v) in values.iter().enumerate().skip(1) {
        if v > values[best] {
            best = k;
        }
    }
    best
}

/// Rows as contiguous `f32`, after checking the number of columns.
pub(crate) fn rows_f32(x: ArrayView2<f64>, n_features: usize) -> Result<Vec<f32>, TreeError> {
    if x.ncols() != n_features {
        return Err(TreeError::InvalidData(format!(
            "rows have {} features but the model was fitted on {n_features}",
            x.ncols()
        )));
    }
    let mut out = Vec::with_capacity(x.len());
    for row in x.rows() {
        out.extend(row.iter().map(|&v| v as f32));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_threshold_decides_as_the_f64_threshold() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        for _ in 0..20000 {
            let a = f32::from_bits((next() >> 32) as u32 & 0xbfff_ffff);
            let b = f32::from_bits((next() >> 32) as u32 & 0xbfff_ffff);
            if !a.is_finite() || !b.is_finite() {
                continue;
            }
            let thr = a as f64 / 2.0 + b as f64 / 2.0;
            let t = f32_at_most(thr);
            assert!(t as f64 <= thr);
            for v in [a, b, t, f32::from_bits(t.to_bits().wrapping_add(1))] {
                if v.is_finite() {
                    assert_eq!(v <= t, v as f64 <= thr, "{v} {thr}");
                }
            }
        }
        assert_eq!(f32_at_most(1e300), f32::MAX);
        assert_eq!(f32_at_most(-1e300), f32::NEG_INFINITY);
        assert!(f32_at_most(-1e-300) < 0.0);
        assert_eq!(f32_at_most(0.0), 0.0);
    }

    #[test]
    fn packed_traversal_matches_the_arrays() {
        // A hand-made tree: x0 <= 0.5 ? (x1 <= 2.0 ? leaf 3 : leaf 4) : leaf 2.
        let a = TreeArrays {
            n_features: 2,
            n_classes: 2,
            children_left: vec![1, 3, -1, -1, -1],
            children_right: vec![2, 4, -1, -1, -1],
            feature: vec![0, 1, -2, -2, -2],
            threshold: vec![0.5, 2.0, -2.0, -2.0, -2.0],
            value: Array2::from_shape_vec(
                (5, 2),
                vec![0.5, 0.5, 0.5, 0.5, 0.0, 1.0, 1.0, 0.0, 0.3, 0.7],
            )
            .unwrap(),
            impurity: vec![0.5, 0.5, 0.0, 0.0, 0.42],
            n_node_samples: vec![10, 6, 4, 3, 3],
            weighted_n_node_samples: vec![10.0, 6.0, 4.0, 3.0, 3.0],
        };
        let tree = DecisionTree::from_arrays(a).unwrap();
        let rows: Vec<[f64; 2]> = (0..37)
            .map(|i| [(i % 5) as f64 * 0.25, (i % 7) as f64 * 0.5 + 0.25])
            .collect();
        let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
        let expected: Vec<usize> = rows
            .iter()
            .map(|r| {
                if r[0] <= 0.5 {
                    if r[1] <= 2.0 {
                        3
                    } else {
                        4
                    }
                } else {
                    2
                }
            })
            .collect();
        assert_eq!(tree.apply(x.view()).unwrap(), expected);
        let proba = tree.predict_proba(x.view()).unwrap();
        assert_eq!(proba.row(0).to_vec(), vec![1.0, 0.0]);
        assert_eq!(tree.feature_importances().len(), 2);
    }
}
