//! Growing tree `i` of a forest: its bootstrap and its feature draws come from
//! `task_rng(seed, i)` alone (bootstrap first, then the tree), so a tree is the same whichever
//! rank grows it and whichever other trees that rank grows.
//!
//! Bootstrap as scikit-learn 1.9: `n_samples_bootstrap` draws with replacement, the counts passed
//! to the tree as sample weights. With `class_weight` "balanced" or a map, the draws are made with
//! probability proportional to each sample's class weight and the tree gets the counts; with
//! "balanced_subsample" the draws are uniform and the counts are multiplied by weights balanced on
//! the drawn sample. Without bootstrap every tree sees every row, weighted by its class weight.

use rand::{Rng, RngExt};

use super::params::ForestParams;
use crate::ml::tree::{
    fit_weighted, DecisionTree, SampleCount, TrainingSet, TreeError, TreeParams,
};
use crate::ml::{ClassWeight, Dataset};
use crate::rng::task_rng;

/// One grown tree with what the caller needs for out-of-bag votes.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedTree {
    /// The tree's index in the forest (its random stream is `task_rng(seed, index)`).
    pub index: usize,
    pub tree: DecisionTree,
    /// Training rows never drawn for this tree, ascending (empty without bootstrap).
    pub oob_indices: Vec<u32>,
}

impl FittedTree {
    /// True for the training rows drawn at least once for this tree (all rows without bootstrap).
    pub fn in_bag_mask(&self, n_train: usize) -> Vec<bool> {
        let mut mask = vec![true; n_train];
        for &i in &self.oob_indices {
            mask[i as usize] = false;
        }
        mask
    }
}

/// A forest's training data and parameters, checked and prepared once; grows any tree by index.
/// Preparing sorts each feature once, so a rank that grows many trees should build one trainer.
#[derive(Debug, Clone)]
pub struct ForestTrainer {
    params: ForestParams,
    tree_params: TreeParams,
    set: TrainingSet,
    /// Per-sample class weight (`None`: all 1).
    class_weights: Option<Vec<f64>>,
    n_bootstrap: usize,
}

impl ForestTrainer {
    /// Checks `params` against `data` (features, classes) and prepares the data.
    pub fn new(params: &ForestParams, data: &Dataset) -> Result<Self, TreeError> {
        params.validate()?;
        let set = TrainingSet::new(data)?;
        let n = set.n_samples();
        let tree_params = params.tree_params();
        // Data-dependent checks (max_features against n_features) before any tree is grown.
        tree_params.resolve_check(n, set.n_features())?;
        let class_weights = match &params.class_weight {
            ClassWeight::None => None,
            ClassWeight::BalancedSubsample if params.bootstrap => None,
            ClassWeight::Balanced | ClassWeight::BalancedSubsample => {
                let per_class = balanced_weights(set.labels(), set.n_classes());
                Some(
                    set.labels()
                        .iter()
                        .map(|&c| per_class[c as usize])
                        .collect(),
                )
            }
            ClassWeight::Map(map) => {
                let mut per_class = vec![1.0; data.classes.len()];
                for (label, &w) in map {
                    let Some(k) = data.classes.iter().position(|c| c == label) else {
                        return Err(TreeError::param(
                            "class_weight",
                            format!(
                                "class \"{label}\" is not one of the classes {:?}",
                                data.classes
                            ),
                        ));
                    };
                    per_class[k] = w;
                }
                Some(
                    set.labels()
                        .iter()
                        .map(|&c| per_class[c as usize])
                        .collect::<Vec<f64>>(),
                )
            }
        };
        if let Some(w) = &class_weights {
            if w.iter().sum::<f64>().partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return Err(TreeError::param(
                    "class_weight",
                    "every training sample has weight 0",
                ));
            }
        }
        let n_bootstrap = match params.max_samples {
            None => n,
            Some(SampleCount::Count(k)) => k,
            Some(SampleCount::Fraction(f)) => {
                let total = match &class_weights {
                    Some(w) => w.iter().sum::<f64>(),
                    None => n as f64,
                };
                ((f * total) as usize).max(1)
            }
        };
        Ok(ForestTrainer {
            params: params.clone(),
            tree_params,
            set,
            class_weights,
            n_bootstrap,
        })
    }

    pub fn params(&self) -> &ForestParams {
        &self.params
    }

    pub fn training_set(&self) -> &TrainingSet {
        &self.set
    }

    /// Number of draws of each tree's bootstrap.
    pub fn n_bootstrap(&self) -> usize {
        self.n_bootstrap
    }

    /// Grows tree `tree_index` of the forest with master seed `seed`.
    pub fn grow_tree(&self, tree_index: usize, seed: u64) -> Result<FittedTree, TreeError> {
        let mut rng = task_rng(seed, tree_index as u64);
        let n = self.set.n_samples();
        let (weights, oob_indices) = if self.params.bootstrap {
            let counts = self.draw_bootstrap(&mut rng);
            let oob: Vec<u32> = (0..n as u32).filter(|&i| counts[i as usize] == 0).collect();
            let mut weights: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
            if let ClassWeight::BalancedSubsample = self.params.class_weight {
                let labels = self.set.labels();
                let k = self.set.n_classes();
                let mut drawn = vec![0u64; k];
                for (i, &c) in counts.iter().enumerate() {
                    drawn[labels[i] as usize] += c as u64;
                }
                let present = drawn.iter().filter(|&&c| c > 0).count() as f64;
                let total = self.n_bootstrap as f64;
                for (w, &c) in weights.iter_mut().zip(labels) {
                    let d = drawn[c as usize];
                    if d > 0 {
                        *w *= total / (present * d as f64);
                    }
                }
            }
            (Some(weights), oob)
        } else {
            (self.class_weights.clone(), Vec::new())
        };
        let tree = fit_weighted(&self.tree_params, &self.set, weights.as_deref(), &mut rng)?;
        Ok(FittedTree {
            index: tree_index,
            tree,
            oob_indices,
        })
    }

    /// Bootstrap counts per training row: uniform draws, or draws proportional to the class
    /// weights (scikit-learn's `choice(n, size, p=w / w.sum())`: a uniform number located in the
    /// cumulative weights).
    fn draw_bootstrap<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<u32> {
        let n = self.set.n_samples();
        let mut counts = vec![0u32; n];
        match &self.class_weights {
            None => {
                for _ in 0..self.n_bootstrap {
                    counts[rng.random_range(0..n)] += 1;
                }
            }
            Some(w) => {
                let mut cdf = Vec::with_capacity(n);
                let mut acc = 0.0;
                for &x in w {
                    acc += x;
                    cdf.push(acc);
                }
                let total = acc;
                let last_positive = w.iter().rposition(|&x| x > 0.0).unwrap_or(n - 1);
                for _ in 0..self.n_bootstrap {
                    let u = rng.random::<f64>() * total;
                    let i = cdf.partition_point(|&c| c <= u).min(last_positive);
                    counts[i] += 1;
                }
            }
        }
        counts
    }
}

/// Grows tree `tree_index` of the forest `params` describes on `data` with master seed `seed`.
/// Prepares the data on every call; to grow many trees build one `ForestTrainer`.
pub fn grow_tree(
    params: &ForestParams,
    data: &Dataset,
    tree_index: usize,
    seed: u64,
) -> Result<FittedTree, TreeError> {
    ForestTrainer::new(params, data)?.grow_tree(tree_index, seed)
}

/// scikit-learn's "balanced" weights: `n / (n_present_classes * count(class))`; absent classes 0.
fn balanced_weights(labels: &[u32], n_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; n_classes];
    for &c in labels {
        counts[c as usize] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count() as f64;
    let n = labels.len() as f64;
    counts
        .iter()
        .map(|&c| if c > 0 { n / (present * c as f64) } else { 0.0 })
        .collect()
}
