//! Scoring a fitted model on labelled data with a metric named as scikit-learn's `scoring` names
//! it (greater is better, so `neg_log_loss` is negated).

use serde::{Deserialize, Serialize};

use crate::ml::estimator::Fitted;
use crate::ml::metrics;
use crate::ml::{Dataset, MlError};

/// The score of a split, as scikit-learn's `scoring` names it (greater is better).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    #[default]
    Accuracy,
    BalancedAccuracy,
    F1Macro,
    NegLogLoss,
}

impl Metric {
    pub fn needs_probabilities(self) -> bool {
        self == Metric::NegLogLoss
    }

    /// The name job files and the `best` table use.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::F1Macro => "f1_macro",
            Metric::NegLogLoss => "neg_log_loss",
        }
    }
}

/// `metric` of `model` on `data`.
pub fn score(metric: Metric, model: &Fitted, data: &Dataset) -> Result<f64, MlError> {
    let x = data.x.view();
    Ok(match metric {
        Metric::Accuracy => metrics::accuracy(&data.y, &model.predict(x)?),
        Metric::BalancedAccuracy => metrics::balanced_accuracy(&data.y, &model.predict(x)?),
        Metric::F1Macro => metrics::f1_macro(&data.y, &model.predict(x)?),
        Metric::NegLogLoss => {
            let proba = model
                .predict_proba(x)?
                .ok_or(MlError::NoProbabilities(metric.name()))?;
            -metrics::log_loss(&data.y, proba.view())
        }
    })
}
