//! Scoring a fitted model on labelled data with metrics named as scikit-learn's `scoring` names
//! them (greater is better, so `neg_log_loss` is negated): one metric, or several at once with
//! the one that picks the best candidate (`scoring=[...]`, `refit="name"`), every metric from
//! one prediction per data set.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::ml::estimator::Fitted;
use crate::ml::metrics;
use crate::ml::{Dataset, MlError};

/// The score of a split, as scikit-learn's `scoring` names it (greater is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    BalancedAccuracy,
    F1Macro,
    NegLogLoss,
}

impl Metric {
    const ALL: [Metric; 4] = [
        Metric::Accuracy,
        Metric::BalancedAccuracy,
        Metric::F1Macro,
        Metric::NegLogLoss,
    ];

    pub fn needs_probabilities(self) -> bool {
        self == Metric::NegLogLoss
    }

    /// The name job files, the `cv_results` columns and the `best` table use.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::F1Macro => "f1_macro",
            Metric::NegLogLoss => "neg_log_loss",
        }
    }

    /// The metric scikit-learn's `scoring` calls `name`.
    pub fn from_name(name: &str) -> Result<Metric, MetricsError> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| MetricsError::Unknown(name.to_string()))
    }
}

/// A metric, or a list of metrics with its refit metric, that scikit-learn's GridSearchCV would
/// refuse; the messages use its (and the job file's) names `metric` and `refit`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricsError {
    #[error("\"{0}\" is not a metric; allowed: \"accuracy\", \"balanced_accuracy\", \"f1_macro\", \"neg_log_loss\"")]
    Unknown(String),
    #[error("metric = [] lists no metric; give at least one, e.g. metric = [\"accuracy\", \"f1_macro\"]")]
    Empty,
    #[error("metric lists \"{0}\" twice; list each metric once")]
    Duplicate(&'static str),
    #[error("a list of metrics needs refit, the metric that picks the best candidate (best_index, best_params, best_score and the refit model), e.g. refit = \"{0}\"")]
    NoRefit(&'static str),
    #[error("refit = \"{refit}\" is not one of the listed metrics ({listed}); name one of them")]
    RefitNotListed { refit: &'static str, listed: String },
}

/// The metrics every fit is scored with, and the one that picks the best candidate.
///
/// One metric (scikit-learn's `scoring="accuracy"`) keeps scikit-learn's single-metric column
/// names (`mean_test_score`); a list (`scoring=[...]`, even of one) names the columns after each
/// metric (`mean_test_accuracy`), as scikit-learn does. A list is never empty nor repeats a metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    list: Vec<Metric>,
    refit: usize,
    named: bool,
}

impl Metrics {
    /// One metric, scikit-learn's `scoring="name"`.
    pub fn one(metric: Metric) -> Self {
        Metrics {
            list: vec![metric],
            refit: 0,
            named: false,
        }
    }

    /// Several metrics, scikit-learn's `scoring=[...]` with `refit="name"` (which it requires).
    pub fn several(list: Vec<Metric>, refit: Option<Metric>) -> Result<Self, MetricsError> {
        if list.is_empty() {
            return Err(MetricsError::Empty);
        }
        if let Some((i, _)) = list
            .iter()
            .enumerate()
            .find(|(i, m)| list[..*i].contains(m))
        {
            return Err(MetricsError::Duplicate(list[i].name()));
        }
        let refit = refit.ok_or(MetricsError::NoRefit(list[0].name()))?;
        let refit = list.iter().position(|&m| m == refit).ok_or_else(|| {
            let listed: Vec<String> = list.iter().map(|m| format!("\"{}\"", m.name())).collect();
            MetricsError::RefitNotListed {
                refit: refit.name(),
                listed: listed.join(", "),
            }
        })?;
        Ok(Metrics {
            list,
            refit,
            named: true,
        })
    }

    /// The metrics, in the order given.
    pub fn list(&self) -> &[Metric] {
        &self.list
    }

    /// The position in `list` of the metric that picks the best candidate.
    pub fn refit_index(&self) -> usize {
        self.refit
    }

    /// The metric that picks the best candidate.
    pub fn refit(&self) -> Metric {
        self.list[self.refit]
    }

    pub fn needs_probabilities(&self) -> bool {
        self.list.iter().any(|m| m.needs_probabilities())
    }

    /// What each metric's columns end in: `score` for one metric (`mean_test_score`), else the
    /// metric's name (`mean_test_f1_macro`).
    pub fn suffixes(&self) -> Vec<&'static str> {
        match self.named {
            true => self.list.iter().map(|m| m.name()).collect(),
            false => vec!["score"],
        }
    }
}

/// Every metric of `metrics` of `model` on `data`, in order, from one prediction (and one
/// probability prediction if a metric needs it).
pub fn scores(metrics: &[Metric], model: &Fitted, data: &Dataset) -> Result<Vec<f64>, MlError> {
    let x = data.x.view();
    let predicted = match metrics.iter().any(|m| !m.needs_probabilities()) {
        true => model.predict(x)?,
        false => Vec::new(),
    };
    let proba = match metrics.iter().find(|m| m.needs_probabilities()) {
        Some(metric) => model
            .predict_proba(x)?
            .ok_or(MlError::NoProbabilities(metric.name()))?,
        None => Array2::zeros((0, 0)),
    };
    Ok(metrics
        .iter()
        .map(|metric| match metric {
            Metric::Accuracy => metrics::accuracy(&data.y, &predicted),
            Metric::BalancedAccuracy => metrics::balanced_accuracy(&data.y, &predicted),
            Metric::F1Macro => metrics::f1_macro(&data.y, &predicted),
            Metric::NegLogLoss => -metrics::log_loss(&data.y, proba.view()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_non_empty_without_repeats_and_refits_a_listed_metric() {
        use Metric::*;
        let three =
            Metrics::several(vec![Accuracy, F1Macro, BalancedAccuracy], Some(F1Macro)).unwrap();
        assert_eq!(three.refit(), F1Macro);
        assert_eq!(three.refit_index(), 1);
        assert_eq!(
            three.suffixes(),
            ["accuracy", "f1_macro", "balanced_accuracy"]
        );
        assert_eq!(Metrics::one(F1Macro).suffixes(), ["score"]);
        assert_eq!(
            Metrics::several(vec![Accuracy], Some(Accuracy))
                .unwrap()
                .suffixes(),
            ["accuracy"],
            "a list of one names its columns, as scikit-learn does"
        );
        assert_eq!(
            Metrics::several(vec![], Some(Accuracy)),
            Err(MetricsError::Empty)
        );
        assert_eq!(
            Metrics::several(vec![Accuracy, F1Macro, Accuracy], Some(Accuracy)),
            Err(MetricsError::Duplicate("accuracy"))
        );
        assert_eq!(
            Metrics::several(vec![F1Macro, Accuracy], None),
            Err(MetricsError::NoRefit("f1_macro"))
        );
        let err = Metrics::several(vec![Accuracy, F1Macro], Some(NegLogLoss)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refit = \"neg_log_loss\" is not one of the listed metrics (\"accuracy\", \"f1_macro\"); name one of them"
        );
        assert_eq!(
            Metric::from_name("auc"),
            Err(MetricsError::Unknown("auc".into()))
        );
        assert_eq!(Metric::from_name("f1_macro"), Ok(F1Macro));
    }
}
