//! `RandomForestClassifier`'s parameters with scikit-learn's names and defaults (`n_estimators`
//! 100, `criterion` "gini", `max_features` "sqrt", `bootstrap` true). Deserialising (from a TOML
//! table of a grid-search candidate, JSON, ...) refuses unknown names and validates every range;
//! the checks that need the data (`max_features` against the number of features, `class_weight`
//! keys against the classes) run when a forest is fitted.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::ml::tree::{Criterion, MaxFeatures, SampleCount, TreeError, TreeParams};

/// Per-class weights (`class_weight`).
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeight {
    /// `n_samples / (n_classes * count(class))` on the whole training set.
    Balanced,
    /// The same, computed on each tree's bootstrap sample.
    BalancedSubsample,
    /// Weight per class label (`Dataset::classes` names); classes not named weigh 1.
    Map(BTreeMap<String, f64>),
}

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
    pub class_weight: Option<ClassWeight>,
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
            class_weight: None,
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
        if let Some(ClassWeight::Map(map)) = &self.class_weight {
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

/// The shape binary formats (bincode) use.
#[derive(Serialize, Deserialize)]
enum ClassWeightBinary {
    Balanced,
    BalancedSubsample,
    Map(BTreeMap<String, f64>),
}

impl Serialize for ClassWeight {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return match self {
                ClassWeight::Balanced => ClassWeightBinary::Balanced,
                ClassWeight::BalancedSubsample => ClassWeightBinary::BalancedSubsample,
                ClassWeight::Map(m) => ClassWeightBinary::Map(m.clone()),
            }
            .serialize(serializer);
        }
        match self {
            ClassWeight::Balanced => serializer.serialize_str("balanced"),
            ClassWeight::BalancedSubsample => serializer.serialize_str("balanced_subsample"),
            ClassWeight::Map(m) => {
                let mut out = serializer.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    out.serialize_entry(k, v)?;
                }
                out.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for ClassWeight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Ok(match ClassWeightBinary::deserialize(deserializer)? {
                ClassWeightBinary::Balanced => ClassWeight::Balanced,
                ClassWeightBinary::BalancedSubsample => ClassWeight::BalancedSubsample,
                ClassWeightBinary::Map(m) => ClassWeight::Map(m),
            });
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClassWeight;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"balanced\", \"balanced_subsample\" or a table of class label to weight",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ClassWeight, E> {
                match v {
                    "balanced" => Ok(ClassWeight::Balanced),
                    "balanced_subsample" => Ok(ClassWeight::BalancedSubsample),
                    other => Err(E::custom(format!(
                        "class_weight: unknown preset \"{other}\" (expected \"balanced\" or \"balanced_subsample\")"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ClassWeight, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((key, weight)) = access.next_entry::<Label, Weight>()? {
                    map.insert(key.0, weight.0);
                }
                Ok(ClassWeight::Map(map))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A class label key: a string, or an integer written as a string (JSON keys, TOML bare keys).
struct Label(String);

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Label;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a class label")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Label, E> {
                Ok(Label(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Label, E> {
                Ok(Label(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Label, E> {
                Ok(Label(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A weight written as an integer or a float.
struct Weight(f64);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Weight;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Weight, E> {
                Ok(Weight(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Weight, E> {
                Ok(Weight(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Weight, E> {
                Ok(Weight(v as f64))
            }
        }
        deserializer.deserialize_any(V)
    }
}
