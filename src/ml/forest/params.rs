//! `RandomForestClassifier`'s parameters with scikit-learn's names and defaults (`n_estimators`
//! 100, `criterion` "gini", `max_features` "sqrt", `bootstrap` true). Deserialising (from a TOML
//! table of a grid-search candidate, JSON, ...) refuses unknown names and validates every range;
//! the checks that need the data (`max_features` against the number of features, `class_weight`
//! keys against the classes) run when a forest is fitted.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::ml::tree::{Criterion, MaxFeatures, SampleCount, TreeError, TreeParams};
use crate::ml::ClassWeight;

/// scikit-learn's `RandomForestClassifier` parameters (no `n_jobs`, `verbose`, `warm_start`:
/// parallelism belongs to the MPI job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct ForestParams {
    pub n_estimators: usize,
    pub criterion: Criterion,
    pub max_depth: Option<usize>,
    pub min_samples_split: SampleCount,
    pub min_samples_leaf: SampleCount,
    pub min_weight_fraction_leaf: f64,
    pub max_features: MaxFeatures,
    pub max_leaf_nodes: Option<usize>,
    pub min_impurity_decrease: f64,
    pub bootstrap: bool,
    pub oob_score: bool,
    /// Seed of `RandomForest::fit` (`None` is seed 0). Jobs pass their own seed to `grow_tree`.
    pub random_state: Option<u64>,
    pub class_weight: ClassWeight,
    /// Bootstrap size: a count, or a fraction in (0, 1] of the rows (`None`: as many as rows).
    pub max_samples: Option<SampleCount>,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_estimators: 100,
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: SampleCount::Count(2),
            min_samples_leaf: SampleCount::Count(1),
            min_weight_fraction_leaf: 0.0,
            max_features: MaxFeatures::Sqrt,
            max_leaf_nodes: None,
            min_impurity_decrease: 0.0,
            bootstrap: true,
            oob_score: false,
            random_state: None,
            class_weight: ClassWeight::None,
            max_samples: None,
        }
    }
}

impl<'de> Deserialize<'de> for ForestParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let params = ForestParams::deserialize(deserializer)?;
        params.validate().map_err(de::Error::custom)?;
        Ok(params)
    }
}

impl Serialize for ForestParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ForestParams::serialize(self, serializer)
    }
}

impl ForestParams {
    /// The parameters each tree is grown with.
    pub fn tree_params(&self) -> TreeParams {
        TreeParams {
            criterion: self.criterion,
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            min_weight_fraction_leaf: self.min_weight_fraction_leaf,
            max_features: self.max_features,
            max_leaf_nodes: self.max_leaf_nodes,
            min_impurity_decrease: self.min_impurity_decrease,
            random_state: self.random_state,
        }
    }

    /// Checks every range that does not depend on the data.
    pub fn validate(&self) -> Result<(), TreeError> {
        if self.n_estimators == 0 {
            return Err(TreeError::param(
                "n_estimators",
                "must be at least 1, got 0",
            ));
        }
        self.tree_params().validate()?;
        match self.max_samples {
            Some(SampleCount::Count(0)) => {
                return Err(TreeError::param(
                    "max_samples",
                    "must be a count of at least 1 or a fraction in (0, 1], got 0",
                ))
            }
            Some(SampleCount::Fraction(f)) if !(f > 0.0 && f <= 1.0) => {
                return Err(TreeError::param(
                    "max_samples",
                    format!("a fraction must lie in (0, 1], got {f}"),
                ))
            }
            Some(_) if !self.bootstrap => {
                return Err(TreeError::param(
                    "max_samples",
                    "cannot be set when bootstrap is false",
                ))
            }
            _ => {}
        }
        if self.oob_score && !self.bootstrap {
            return Err(TreeError::param(
                "oob_score",
                "out-of-bag estimation needs bootstrap = true",
            ));
        }
        if let ClassWeight::Map(map) = &self.class_weight {
            if let Some((class, w)) = map.iter().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
                return Err(TreeError::param(
                    "class_weight",
                    format!("weight {w} of class \"{class}\" is not a finite number >= 0"),
                ));
            }
        }
        Ok(())
    }
}
