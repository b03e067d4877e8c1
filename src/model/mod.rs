//! Saved models and `triton-batch predict`. Two kinds of file hold a model: a forest saved by
//! `forest --save-model` (an HDF5 file of flat node arrays, one slice per tree, see
//! `forest_file`) and a grid-search result whose `best_model` holds the refit estimator as JSON
//! (`SavedModel`). `open` tells them apart and refuses anything else with one line; loading checks
//! every tree, so a damaged or truncated model fails before any prediction.

mod forest_file;
mod predict;

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::ml::estimator::Fitted;
use crate::results::ResultFile;

pub use forest_file::{ForestModelReader, ForestModelWriter, ForestShape, MODEL_KIND_ATTR};
pub(crate) use predict::run_model;
pub use predict::{predict, PredictOptions};

/// The dataset of a grid-search result that holds the refit model.
pub const BEST_MODEL: &str = "best_model";

/// Marks a `SavedModel`'s JSON.
const SAVED_MODEL_FORMAT: &str = "triton-batch model";

/// A fitted estimator with what prediction needs to know about its training data: the class
/// names (a model's class indices point into them) and the number of features.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedModel {
    format: String,
    pub classes: Vec<String>,
    pub n_features: usize,
    pub model: Fitted,
}

impl SavedModel {
    pub fn new(classes: Vec<String>, n_features: usize, model: Fitted) -> Self {
        SavedModel {
            format: SAVED_MODEL_FORMAT.into(),
            classes,
            n_features,
            model,
        }
    }

    pub fn to_json(&self) -> anyhow::Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    fn from_json(bytes: &[u8], path: &Path) -> anyhow::Result<Self> {
        let model: SavedModel = serde_json::from_slice(bytes).map_err(|e| {
            anyhow::anyhow!(
                "model `{}`: `{BEST_MODEL}` is damaged or from another program ({e})",
                path.display()
            )
        })?;
        anyhow::ensure!(
            model.format == SAVED_MODEL_FORMAT,
            "model `{}`: `{BEST_MODEL}` is not a triton-batch model (format `{}`)",
            path.display(),
            model.format
        );
        Ok(model)
    }
}

/// A model opened for prediction.
pub enum Model {
    Forest(ForestModelReader),
    Estimator(Box<SavedModel>),
}

impl Model {
    pub fn n_features(&self) -> usize {
        match self {
            Model::Forest(forest) => forest.n_features(),
            Model::Estimator(saved) => saved.n_features,
        }
    }

    pub fn classes(&self) -> &[String] {
        match self {
            Model::Forest(forest) => forest.classes(),
            Model::Estimator(saved) => &saved.classes,
        }
    }

    /// What the model is, for messages (e.g. "random forest of 8000 trees").
    pub fn describe(&self) -> String {
        match self {
            Model::Forest(forest) => format!("random forest of {} trees", forest.n_trees()),
            Model::Estimator(saved) => format!("refit {}", saved.model.kind().name()),
        }
    }
}

/// Opens a saved forest or a grid-search result with a refit model.
pub fn open(path: &Path) -> anyhow::Result<Model> {
    let not_a_model = || {
        anyhow::anyhow!(
            "model `{}` is not a triton-batch model: it holds neither a forest saved by \
             `forest --save-model` nor a grid search's refit `{BEST_MODEL}`",
            path.display()
        )
    };
    let file = ResultFile::open_read(path)
        .with_context(|| format!("model `{}` cannot be read", path.display()))?;
    if file.attr(MODEL_KIND_ATTR).is_ok() {
        return Ok(Model::Forest(ForestModelReader::open(file)?));
    }
    let bytes = file.read_bytes(BEST_MODEL).map_err(|_| not_a_model())?;
    Ok(Model::Estimator(Box::new(SavedModel::from_json(
        &bytes, path,
    )?)))
}
