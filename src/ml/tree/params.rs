//! Tree hyper-parameters with scikit-learn's names, defaults and ranges. Values deserialise from
//! TOML or JSON the way scikit-learn reads them: an integer count or a float fraction for sample
//! counts and `max_features`, strings for the named choices. Deserialising validates, and a
//! hand-built value is validated again when fitted, so a bad value is refused with an error naming
//! the parameter.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::TreeError;

/// Impurity measure of a node. `"log_loss"` is scikit-learn's other name for entropy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    #[default]
    Gini,
    #[serde(alias = "log_loss")]
    Entropy,
}

/// How many features each split considers (`max_features`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    /// `max(1, floor(sqrt(n_features)))`.
    Sqrt,
    /// `max(1, floor(log2(n_features)))`.
    Log2,
    /// Every feature (scikit-learn's `None`; spelt `"all"` or `"none"` in job files).
    All,
    /// Exactly this many (at most `n_features`).
    Count(usize),
    /// `max(1, floor(fraction * n_features))`, fraction in (0, 1].
    Fraction(f64),
}

/// A number of samples given as a count or as a fraction of the training rows
/// (`min_samples_split`, `min_samples_leaf`, `max_samples`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleCount {
    Count(usize),
    Fraction(f64),
}

/// `DecisionTreeClassifier`'s parameters (splitter "best"), with its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct TreeParams {
    pub criterion: Criterion,
    /// `None`: grow until the leaves are pure or other limits stop it.
    pub max_depth: Option<usize>,
    pub min_samples_split: SampleCount,
    pub min_samples_leaf: SampleCount,
    pub min_weight_fraction_leaf: f64,
    pub max_features: MaxFeatures,
    /// `Some(k)`: best-first growth to at most k leaves.
    pub max_leaf_nodes: Option<usize>,
    pub min_impurity_decrease: f64,
    /// Seed of `DecisionTree::fit` (`None` is seed 0: runs are reproducible).
    pub random_state: Option<u64>,
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams {
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: SampleCount::Count(2),
            min_samples_leaf: SampleCount::Count(1),
            min_weight_fraction_leaf: 0.0,
            max_features: MaxFeatures::All,
            max_leaf_nodes: None,
            min_impurity_decrease: 0.0,
            random_state: None,
        }
    }
}

impl<'de> Deserialize<'de> for TreeParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let params = TreeParams::deserialize(deserializer)?;
        params.validate().map_err(de::Error::custom)?;
        Ok(params)
    }
}

impl Serialize for TreeParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TreeParams::serialize(self, serializer)
    }
}

/// The parameters turned into numbers for one fit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    pub criterion: Criterion,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub min_weight_leaf: f64,
    pub max_features: usize,
    pub max_leaf_nodes: Option<usize>,
    pub min_impurity_decrease: f64,
}

impl TreeParams {
    /// Checks every range that does not depend on the data.
    pub fn validate(&self) -> Result<(), TreeError> {
        if self.max_depth == Some(0) {
            return Err(TreeError::param(
                "max_depth",
                "must be at least 1 (or absent for no limit)",
            ));
        }
        match self.min_samples_split {
            SampleCount::Count(k) if k < 2 => {
                return Err(TreeError::param(
                    "min_samples_split",
                    format!("must be an integer of at least 2 or a fraction in (0, 1], got {k}"),
                ))
            }
            SampleCount::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(TreeError::param(
                    "min_samples_split",
                    format!("a fraction must lie in (0, 1], got {f}"),
                ))
            }
            _ => {}
        }
        match self.min_samples_leaf {
            SampleCount::Count(0) => {
                return Err(TreeError::param(
                    "min_samples_leaf",
                    "must be an integer of at least 1 or a fraction in (0, 1), got 0",
                ))
            }
            SampleCount::Fraction(f) if !(f > 0.0 && f < 1.0) => {
                return Err(TreeError::param(
                    "min_samples_leaf",
                    format!("a fraction must lie in (0, 1), got {f}"),
                ))
            }
            _ => {}
        }
        if !(0.0..=0.5).contains(&self.min_weight_fraction_leaf) {
            return Err(TreeError::param(
                "min_weight_fraction_leaf",
                format!(
                    "must lie in [0, 0.5], got {}",
                    self.min_weight_fraction_leaf
                ),
            ));
        }
        match self.max_features {
            MaxFeatures::Count(0) => {
                return Err(TreeError::param(
                    "max_features",
                    "must be at least 1 (or a fraction in (0, 1], \"sqrt\", \"log2\", \"all\")",
                ))
            }
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(TreeError::param(
                    "max_features",
                    format!("a fraction must lie in (0, 1], got {f}"),
                ))
            }
            _ => {}
        }
        if let Some(k) = self.max_leaf_nodes {
            if k < 2 {
                return Err(TreeError::param(
                    "max_leaf_nodes",
                    format!("must be at least 2 (or absent for no limit), got {k}"),
                ));
            }
        }
        if !(self.min_impurity_decrease >= 0.0 && self.min_impurity_decrease.is_finite()) {
            return Err(TreeError::param(
                "min_impurity_decrease",
                format!(
                    "must be a finite number >= 0, got {}",
                    self.min_impurity_decrease
                ),
            ));
        }
        Ok(())
    }

    /// Checks the parameters against data of `n_samples` rows and `n_features` features
    /// (`max_features` may not exceed the features).
    pub fn resolve_check(&self, n_samples: usize, n_features: usize) -> Result<(), TreeError> {
        self.resolve(n_samples, n_features, 1.0).map(|_| ())
    }

    /// Validates and resolves counts and fractions for `n_samples` rows (zero weight included, as
    /// scikit-learn counts them), `n_features` features and a total sample weight.
    pub(crate) fn resolve(
        &self,
        n_samples: usize,
        n_features: usize,
        total_weight: f64,
    ) -> Result<Resolved, TreeError> {
        self.validate()?;
        let min_samples_leaf = match self.min_samples_leaf {
            SampleCount::Count(k) => k,
            SampleCount::Fraction(f) => (f * n_samples as f64).ceil() as usize,
        };
        let min_samples_split = match self.min_samples_split {
            SampleCount::Count(k) => k,
            SampleCount::Fraction(f) => ((f * n_samples as f64).ceil() as usize).max(2),
        }
        .max(2 * min_samples_leaf);
        let max_features = resolve_max_features(self.max_features, n_features)?;
        Ok(Resolved {
            criterion: self.criterion,
            max_depth: self.max_depth.unwrap_or(i32::MAX as usize),
            min_samples_split,
            min_samples_leaf,
            min_weight_leaf: self.min_weight_fraction_leaf * total_weight,
            max_features,
            max_leaf_nodes: self.max_leaf_nodes,
            min_impurity_decrease: self.min_impurity_decrease,
        })
    }
}

/// The number of features a split looks at, as scikit-learn computes `max_features_`.
pub(crate) fn resolve_max_features(
    max_features: MaxFeatures,
    n_features: usize,
) -> Result<usize, TreeError> {
    let d = n_features as f64;
    let k = match max_features {
        MaxFeatures::Sqrt => (d.sqrt() as usize).max(1),
        MaxFeatures::Log2 => (d.log2() as usize).max(1),
        MaxFeatures::All => n_features,
        MaxFeatures::Count(k) => {
            if k > n_features {
                return Err(TreeError::param(
                    "max_features",
                    format!("{k} is more than the {n_features} features of the data"),
                ));
            }
            k
        }
        MaxFeatures::Fraction(f) => ((f * d) as usize).max(1),
    };
    Ok(k.min(n_features.max(1)))
}

// ---------------------------------------------------------------------------------------------
// serde: integers are counts, floats are fractions, strings name choices.
// ---------------------------------------------------------------------------------------------

/// The shape binary formats (bincode, which cannot tell integers from floats on its own) use.
#[derive(Serialize, Deserialize)]
enum MaxFeaturesBinary {
    Sqrt,
    Log2,
    All,
    Count(u64),
    Fraction(f64),
}

/// The shape binary formats use.
#[derive(Serialize, Deserialize)]
enum SampleCountBinary {
    Count(u64),
    Fraction(f64),
}

impl Serialize for MaxFeatures {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return match *self {
                MaxFeatures::Sqrt => MaxFeaturesBinary::Sqrt,
                MaxFeatures::Log2 => MaxFeaturesBinary::Log2,
                MaxFeatures::All => MaxFeaturesBinary::All,
                MaxFeatures::Count(k) => MaxFeaturesBinary::Count(k as u64),
                MaxFeatures::Fraction(f) => MaxFeaturesBinary::Fraction(f),
            }
            .serialize(serializer);
        }
        match self {
            MaxFeatures::Sqrt => serializer.serialize_str("sqrt"),
            MaxFeatures::Log2 => serializer.serialize_str("log2"),
            MaxFeatures::All => serializer.serialize_str("all"),
            MaxFeatures::Count(k) => serializer.serialize_u64(*k as u64),
            MaxFeatures::Fraction(f) => serializer.serialize_f64(*f),
        }
    }
}

impl<'de> Deserialize<'de> for MaxFeatures {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Ok(match MaxFeaturesBinary::deserialize(deserializer)? {
                MaxFeaturesBinary::Sqrt => MaxFeatures::Sqrt,
                MaxFeaturesBinary::Log2 => MaxFeatures::Log2,
                MaxFeaturesBinary::All => MaxFeatures::All,
                MaxFeaturesBinary::Count(k) => MaxFeatures::Count(k as usize),
                MaxFeaturesBinary::Fraction(f) => MaxFeatures::Fraction(f),
            });
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaxFeatures;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"sqrt\", \"log2\", \"all\", a positive integer or a fraction in (0, 1]",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MaxFeatures, E> {
                Ok(MaxFeatures::Count(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MaxFeatures, E> {
                if v < 0 {
                    return Err(E::custom(format!("max_features must be positive, got {v}")));
                }
                Ok(MaxFeatures::Count(v as usize))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<MaxFeatures, E> {
                Ok(MaxFeatures::Fraction(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaxFeatures, E> {
                match v {
                    "sqrt" | "auto" => Ok(MaxFeatures::Sqrt),
                    "log2" => Ok(MaxFeatures::Log2),
                    "all" | "none" | "None" => Ok(MaxFeatures::All),
                    other => Err(E::custom(format!(
                        "max_features: unknown value \"{other}\" (expected \"sqrt\", \"log2\", \"all\", an integer or a fraction)"
                    ))),
                }
            }
            fn visit_none<E: de::Error>(self) -> Result<MaxFeatures, E> {
                Ok(MaxFeatures::All)
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaxFeatures, E> {
                Ok(MaxFeatures::All)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Serialize for SampleCount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return match *self {
                SampleCount::Count(k) => SampleCountBinary::Count(k as u64),
                SampleCount::Fraction(f) => SampleCountBinary::Fraction(f),
            }
            .serialize(serializer);
        }
        match self {
            SampleCount::Count(k) => serializer.serialize_u64(*k as u64),
            SampleCount::Fraction(f) => serializer.serialize_f64(*f),
        }
    }
}

impl<'de> Deserialize<'de> for SampleCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Ok(match SampleCountBinary::deserialize(deserializer)? {
                SampleCountBinary::Count(k) => SampleCount::Count(k as usize),
                SampleCountBinary::Fraction(f) => SampleCount::Fraction(f),
            });
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SampleCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer count or a float fraction")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SampleCount, E> {
                Ok(SampleCount::Count(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SampleCount, E> {
                if v < 0 {
                    return Err(E::custom(format!(
                        "a sample count must not be negative, got {v}"
                    )));
                }
                Ok(SampleCount::Count(v as usize))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SampleCount, E> {
                Ok(SampleCount::Fraction(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}
