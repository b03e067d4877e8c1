//! SVC parameters: the plain, serde-friendly [`SvcParams`] (scikit-learn's names and defaults),
//! the kernel and gamma vocabularies (`class_weight` is the shared `crate::ml::ClassWeight`), the
//! error type, and `SvcParams::build`, the only way to get an [`Svc`](super::Svc): every value is
//! checked there, so nothing invalid reaches the solver.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::ml::ClassWeight;

/// Everything that can go wrong in this module.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SvmError {
    /// A parameter outside its domain; names the parameter and what it accepts.
    #[error("invalid SVC parameter `{name}` = {value}: must be {allowed}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// `class_weight` names a label that is not one of the training classes.
    #[error("invalid SVC parameter `class_weight`: label `{label}` is not a class of the training data (classes: {classes:?})")]
    UnknownClassWeightLabel { label: String, classes: Vec<String> },
    /// Training or prediction data that cannot be used (shapes, labels, non-finite values).
    #[error("invalid SVC data: {0}")]
    Data(String),
    /// `predict_proba` on a model fitted with `probability = false`.
    #[error("predict_proba needs a model fitted with probability = true")]
    NoProbability,
}

/// Kernel function, as scikit-learn defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `<x, y>`
    Linear,
    /// `(gamma <x, y> + coef0)^degree`
    Poly,
    /// `exp(-gamma |x - y|^2)`
    Rbf,
    /// `tanh(gamma <x, y> + coef0)`
    Sigmoid,
}

impl Kernel {
    /// Whether a grid's successive fits of this kernel start from the previous C's solution
    /// (`SvcWorkspace`), or cold, as libsvm starts every fit. A warm start ends within tol of the
    /// optimum but elsewhere than libsvm's path does, which is harmless only where the optimum
    /// is sharp: the rbf kernel's matrix has full rank. The sigmoid kernel is not positive
    /// semi-definite (several stationary points), and the poly kernel's matrix is low-rank (20
    /// features at degree 3, coef0 0: 1,540 dimensions for 13,333 rows), so that many solutions
    /// are within tol and libsvm's path decides which one it returns: on the notebook's grid,
    /// warm-started poly fits ended 2 test samples from scikit-learn's in one split of 48, and
    /// cold ones give all 48 exactly, for 1.75x the poly chains' time. The linear kernel keeps
    /// warm starts (unmeasured: its large-C fits are the slowest cold).
    pub fn warm_starts(self) -> bool {
        matches!(self, Kernel::Rbf | Kernel::Linear)
    }

    /// Whether a grid's fits of this kernel that differ only in C share one task (a C-chain, one
    /// kernel cache) rather than run as tasks of their own. Warm-started kernels chain. Of the
    /// cold ones, sigmoid fits are short and live off the shared cache (on the notebook's grid
    /// without probability, 10-17 % slower as tasks of their own), while poly fits are
    /// long (alone, 1-8 % slower in two runs, about the runs' noise) and a poly chain with
    /// shrinking off is the grid's longest task, which a slow node must not draw whole.
    pub fn chains_across_c(self) -> bool {
        self != Kernel::Poly
    }

    /// The accepted names, as scikit-learn spells them.
    pub const ALLOWED: &'static str = "one of \"linear\", \"poly\", \"rbf\", \"sigmoid\"";

    /// Parses scikit-learn's kernel name; anything else is refused.
    pub fn from_name(name: &str) -> Result<Kernel, SvmError> {
        match name {
            "linear" => Ok(Kernel::Linear),
            "poly" => Ok(Kernel::Poly),
            "rbf" => Ok(Kernel::Rbf),
            "sigmoid" => Ok(Kernel::Sigmoid),
            _ => Err(SvmError::InvalidParameter {
                name: "kernel",
                value: format!("{name:?}"),
                allowed: Kernel::ALLOWED,
            }),
        }
    }

    /// scikit-learn's name of this kernel.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Linear => "linear",
            Kernel::Poly => "poly",
            Kernel::Rbf => "rbf",
            Kernel::Sigmoid => "sigmoid",
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Kernel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kernel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Kernel::from_name(&name).map_err(serde::de::Error::custom)
    }
}

/// Kernel coefficient of rbf, poly and sigmoid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gamma {
    /// `1 / (n_features * X.var())`, the variance over all entries of X (1 if it is 0).
    Scale,
    /// `1 / n_features`
    Auto,
    /// A positive number.
    Value(f64),
}

impl Serialize for Gamma {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Gamma::Scale => s.serialize_str("scale"),
            Gamma::Auto => s.serialize_str("auto"),
            Gamma::Value(v) => s.serialize_f64(*v),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GammaRepr {
    Name(String),
    Number(f64),
}

impl<'de> Deserialize<'de> for Gamma {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match GammaRepr::deserialize(d)? {
            GammaRepr::Number(v) => Ok(Gamma::Value(v)),
            GammaRepr::Name(n) if n == "scale" => Ok(Gamma::Scale),
            GammaRepr::Name(n) if n == "auto" => Ok(Gamma::Auto),
            GammaRepr::Name(n) => Err(serde::de::Error::custom(SvmError::InvalidParameter {
                name: "gamma",
                value: format!("{n:?}"),
                allowed: GAMMA_ALLOWED,
            })),
        }
    }
}

const GAMMA_ALLOWED: &str = "\"scale\", \"auto\" or a finite number > 0";

const CLASS_WEIGHT_ALLOWED: &str =
    "\"none\", \"balanced\" or a map from class label to a finite weight > 0";

/// `class_weight = "balanced_subsample"` refused: it weighs each tree's bootstrap sample.
pub(super) fn balanced_subsample_refused() -> SvmError {
    SvmError::InvalidParameter {
        name: "class_weight",
        value: "\"balanced_subsample\"".into(),
        allowed: "\"none\", \"balanced\" or a map from class label to a finite weight > 0 \
                  (\"balanced_subsample\" weighs the bootstrap samples of a random forest)",
    }
}

/// Shape of `decision_function` with more than two classes (scikit-learn's
/// `decision_function_shape`). Binary problems always give one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionShape {
    /// One column per pair (i, j), i < j, in libsvm's raw form: > 0 favours class i.
    Ovo,
    /// One column per class: votes plus a confidence in (-1/3, 1/3), as scikit-learn.
    #[default]
    Ovr,
}

/// SVC parameters with scikit-learn's names and defaults. Build a validated [`Svc`](super::Svc)
/// with [`SvcParams::build`]. Deserializes from TOML/JSON (`C`, `kernel = "rbf"`,
/// `gamma = "scale"` or a number, `class_weight = "balanced"` or a table, `max_iter = -1`, ...);
/// missing fields take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SvcParams {
    /// Regularisation, > 0 (default 1).
    #[serde(rename = "C", alias = "c")]
    pub c: f64,
    /// Default rbf.
    pub kernel: Kernel,
    /// Degree of poly, >= 0 (default 3).
    pub degree: i64,
    /// Default scale.
    pub gamma: Gamma,
    /// Independent term of poly and sigmoid (default 0).
    pub coef0: f64,
    /// Shrinking heuristic (default true); on and off reach the same optimum.
    pub shrinking: bool,
    /// Fit Platt scaling by internal 5-fold CV, enabling `predict_proba` (default false).
    pub probability: bool,
    /// Stopping tolerance on the maximal violating pair, > 0 (default 1e-3).
    pub tol: f64,
    /// Kernel-row cache in MB, > 0 (default 200).
    pub cache_size: f64,
    /// Default none.
    pub class_weight: ClassWeight,
    /// Iteration limit per binary problem; -1 = unlimited (default), otherwise >= 1.
    pub max_iter: i64,
    /// Default ovr.
    pub decision_function_shape: DecisionShape,
    /// Seed of the probability CV shuffle (default 0).
    pub random_state: u64,
}

impl Default for SvcParams {
    fn default() -> Self {
        SvcParams {
            c: 1.0,
            kernel: Kernel::Rbf,
            degree: 3,
            gamma: Gamma::Scale,
            coef0: 0.0,
            shrinking: true,
            probability: false,
            tol: 1e-3,
            cache_size: 200.0,
            class_weight: ClassWeight::None,
            max_iter: -1,
            decision_function_shape: DecisionShape::Ovr,
            random_state: 0,
        }
    }
}

fn invalid(name: &'static str, value: impl fmt::Display, allowed: &'static str) -> SvmError {
    SvmError::InvalidParameter {
        name,
        value: value.to_string(),
        allowed,
    }
}

impl SvcParams {
    /// Checks every value (class_weight labels are checked again at fit time, against the
    /// training classes) and returns the validated estimator.
    pub fn build(&self) -> Result<super::Svc, SvmError> {
        self.validate()?;
        Ok(super::Svc {
            params: self.clone(),
        })
    }

    /// The checks of [`build`](Self::build), without building.
    pub fn validate(&self) -> Result<(), SvmError> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(invalid("C", self.c, "a finite number > 0"));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(invalid("tol", self.tol, "a finite number > 0"));
        }
        if !(0..=i64::from(u32::MAX)).contains(&self.degree) {
            return Err(invalid("degree", self.degree, "an integer >= 0"));
        }
        if !(self.cache_size.is_finite() && self.cache_size > 0.0) {
            return Err(invalid(
                "cache_size",
                self.cache_size,
                "a finite number of MB > 0",
            ));
        }
        if let Gamma::Value(g) = self.gamma {
            if !(g.is_finite() && g > 0.0) {
                return Err(invalid("gamma", g, GAMMA_ALLOWED));
            }
        }
        if !self.coef0.is_finite() {
            return Err(invalid("coef0", self.coef0, "a finite number"));
        }
        if self.max_iter == 0 || self.max_iter < -1 {
            return Err(invalid(
                "max_iter",
                self.max_iter,
                "-1 (no limit) or an integer >= 1",
            ));
        }
        match &self.class_weight {
            ClassWeight::None | ClassWeight::Balanced => {}
            ClassWeight::BalancedSubsample => return Err(balanced_subsample_refused()),
            ClassWeight::Map(m) => {
                for (label, w) in m {
                    if !(w.is_finite() && *w > 0.0) {
                        return Err(SvmError::InvalidParameter {
                            name: "class_weight",
                            value: format!("{{{label:?}: {w}}}"),
                            allowed: CLASS_WEIGHT_ALLOWED,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The iteration limit as an option (`None` = unlimited).
    pub(crate) fn iteration_limit(&self) -> Option<u64> {
        (self.max_iter > 0).then_some(self.max_iter as u64)
    }

    /// gamma as a number for data with `n_features` columns and overall variance `var`.
    pub(crate) fn resolve_gamma(&self, n_features: usize, var: f64) -> f64 {
        match self.gamma {
            Gamma::Value(g) => g,
            Gamma::Auto => 1.0 / n_features as f64,
            Gamma::Scale => {
                if var != 0.0 {
                    1.0 / (n_features as f64 * var)
                } else {
                    1.0
                }
            }
        }
    }
}
