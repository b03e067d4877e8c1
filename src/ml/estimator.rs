//! The estimators a grid search can fit, behind one type: parameters built from a job file's TOML
//! values (scikit-learn's names; an unknown name or invalid value is refused before any fit), and
//! fitted models that predict, give probabilities and serialise for `triton-batch predict`.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::ml::forest::{Forest, ForestParams, RandomForest};
use crate::ml::linear::{LogisticModel, LogisticRegression};
use crate::ml::svm::{SvcModel, SvcParams};
use crate::ml::{Dataset, MlError};

/// The estimator kinds, as job files name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimatorKind {
    Svc,
    LogisticRegression,
    RandomForest,
}

impl EstimatorKind {
    pub const NAMES: &'static str = "\"svc\", \"logistic_regression\", \"random_forest\"";

    pub fn from_name(name: &str) -> Result<Self, MlError> {
        match name {
            "svc" => Ok(EstimatorKind::Svc),
            "logistic_regression" => Ok(EstimatorKind::LogisticRegression),
            "random_forest" => Ok(EstimatorKind::RandomForest),
            other => Err(MlError::UnknownKind(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EstimatorKind::Svc => "svc",
            EstimatorKind::LogisticRegression => "logistic_regression",
            EstimatorKind::RandomForest => "random_forest",
        }
    }
}

/// Validated parameters of one estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EstimatorParams {
    Svc(SvcParams),
    LogisticRegression(LogisticRegression),
    RandomForest(ForestParams),
}

impl EstimatorParams {
    /// Builds and validates parameters from TOML values with scikit-learn's names.
    pub fn from_toml(kind: EstimatorKind, values: &toml::Table) -> Result<Self, MlError> {
        let value = toml::Value::Table(values.clone());
        let message =
            |e: toml::de::Error| MlError::Parameters(e.message().trim().replace('\n', " "));
        match kind {
            EstimatorKind::Svc => {
                let params: SvcParams = value.try_into().map_err(message)?;
                params.validate()?;
                Ok(EstimatorParams::Svc(params))
            }
            EstimatorKind::LogisticRegression => {
                let params: LogisticRegression = value.try_into().map_err(message)?;
                params.validate()?;
                Ok(EstimatorParams::LogisticRegression(params))
            }
            EstimatorKind::RandomForest => {
                let params: ForestParams = value.try_into().map_err(message)?;
                Ok(EstimatorParams::RandomForest(params))
            }
        }
    }

    /// Fits on `train`; an error is the fit's own message (scored NaN by a grid search).
    pub fn fit(&self, train: &Dataset) -> Result<Fitted, MlError> {
        Ok(match self {
            EstimatorParams::Svc(p) => Fitted::Svc(p.build()?.fit_dataset(train)?),
            EstimatorParams::LogisticRegression(p) => {
                Fitted::LogisticRegression(p.fit_dataset(train)?)
            }
            EstimatorParams::RandomForest(p) => Fitted::RandomForest(RandomForest::fit(p, train)?),
        })
    }
}

/// A fitted model of any kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Fitted {
    Svc(SvcModel),
    LogisticRegression(LogisticModel),
    RandomForest(Forest),
}

impl Fitted {
    pub fn kind(&self) -> EstimatorKind {
        match self {
            Fitted::Svc(_) => EstimatorKind::Svc,
            Fitted::LogisticRegression(_) => EstimatorKind::LogisticRegression,
            Fitted::RandomForest(_) => EstimatorKind::RandomForest,
        }
    }

    /// The classes (indices into the training data's classes) that `predict_proba`'s columns
    /// stand for, in column order: those seen in training.
    pub fn proba_classes(&self) -> Vec<usize> {
        match self {
            Fitted::Svc(m) => m.fitted_classes().to_vec(),
            Fitted::LogisticRegression(m) => m.classes().to_vec(),
            Fitted::RandomForest(m) => (0..m.classes().len()).collect(),
        }
    }

    /// Predicted class indices (into the training data's classes).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>, MlError> {
        Ok(match self {
            Fitted::Svc(m) => m.predict(x)?,
            Fitted::LogisticRegression(m) => m.predict(x),
            Fitted::RandomForest(m) => m.predict(x)?,
        })
    }

    /// Class probabilities, one column per class of the model; `None` where the model has none
    /// (an SVC fitted without `probability = true`).
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        Ok(match self {
            Fitted::Svc(m) if m.has_probability() => Some(m.predict_proba(x)?),
            Fitted::Svc(_) => None,
            Fitted::LogisticRegression(m) => Some(m.predict_proba(x)),
            Fitted::RandomForest(m) => Some(m.predict_proba(x)?),
        })
    }

    /// Support vectors in total, for SVC models.
    pub fn n_support(&self) -> Option<usize> {
        match self {
            Fitted::Svc(m) => Some(m.n_support().iter().sum()),
            Fitted::LogisticRegression(_) | Fitted::RandomForest(_) => None,
        }
    }

    /// A warning the fit carries (e.g. no convergence within max_iter).
    pub fn warning(&self) -> Option<String> {
        match self {
            Fitted::Svc(m) if !m.converged() => {
                Some("SVC stopped at max_iter before reaching tol".into())
            }
            Fitted::Svc(_) => None,
            Fitted::LogisticRegression(m) => m.warning().map(str::to_string),
            Fitted::RandomForest(m) => m.warning(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::svm::SvmError;

    /// Errors are typed; their messages are the estimator's own, as a job-file error shows them.
    #[test]
    fn errors_are_typed_with_the_estimators_messages() {
        let err = EstimatorKind::from_name("svm").unwrap_err();
        assert_eq!(err, MlError::UnknownKind("svm".into()));
        assert_eq!(
            err.to_string(),
            "unknown estimator kind \"svm\"; allowed: \"svc\", \"logistic_regression\", \"random_forest\""
        );
        let table = |text: &str| toml::from_str::<toml::Table>(text).unwrap();
        let err = EstimatorParams::from_toml(EstimatorKind::Svc, &table("C = -1.0")).unwrap_err();
        let MlError::Svm(inner @ SvmError::InvalidParameter { name: "C", .. }) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(err.to_string(), inner.to_string());
        let err = EstimatorParams::from_toml(EstimatorKind::LogisticRegression, &table("Cc = 1"))
            .unwrap_err();
        assert!(
            matches!(&err, MlError::Parameters(m) if m.contains("Cc") && !m.contains('\n')),
            "{err:?}"
        );
        let err =
            EstimatorParams::from_toml(EstimatorKind::RandomForest, &table("n_estimators = 0"))
                .unwrap_err();
        assert!(err.to_string().contains("n_estimators"), "{err}");
    }
}
