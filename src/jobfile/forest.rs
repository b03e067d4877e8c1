//! The forest job file (`[data]` and `[forest]`) and its validation into a `ForestJob`: the data
//! loaded, the forest parameters checked against it (e.g. max_features against the number of
//! features) before any tree is grown.

use serde::{Deserialize, Serialize};

use super::data::{DataSpec, Loaded};
use super::{JobError, JobText};
use crate::ml::forest::{ForestParams, ForestTrainer};
use crate::ml::Dataset;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForestFile {
    data: toml::Table,
    forest: toml::Table,
}

/// Command-line choices that change a forest run.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data: Option<std::path::PathBuf>,
    pub predictions: bool,
    pub save_model: Option<std::path::PathBuf>,
}

/// A validated forest job: what every rank needs to grow any block of trees.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForestJob {
    pub data_origin: String,
    pub train: Dataset,
    /// Test rows (none: an empty set, votes on the training data's out-of-bag rows only).
    pub test: Dataset,
    pub params: ForestParams,
    pub seed: u64,
    pub block_trees: usize,
    pub predictions: bool,
    /// `--save-model`: ranks send their trees to rank 0, which writes them to this file.
    pub save_model: Option<std::path::PathBuf>,
}

/// Trees per task when the job does not say: about 64 blocks, at most 100 trees each, so blocks
/// balance across a few dozen ranks and a lost block costs seconds.
fn default_block_trees(n_estimators: usize) -> usize {
    (n_estimators / 64).clamp(1, 100)
}

impl ForestJob {
    /// Reads and validates a job file and loads its data (rank 0).
    pub fn from_text(job: &JobText, overrides: &Overrides) -> anyhow::Result<Self> {
        if let Some(path) = &overrides.save_model {
            crate::files::check_output_folder("--save-model", path)?;
        }
        let file: ForestFile = job.parse()?;
        let invalid = |message: String| JobError::invalid(&job.path, message);
        let mut spec = DataSpec::from_table(&file.data).map_err(invalid)?;
        if let Some(path) = &overrides.data {
            spec = spec.with_file(path);
        }
        let mut forest = file.forest.clone();
        let seed = take_integer(&mut forest, "seed", 0).map_err(invalid)?;
        let block_trees = take_integer(&mut forest, "block_trees", 0).map_err(invalid)?;
        let params: ForestParams = toml::Value::Table(forest)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(format!("[forest] {}", e.message().trim())))?;
        let Loaded {
            train,
            test,
            origin,
        } = spec.load()?;
        ForestTrainer::new(&params, &train).map_err(|e| invalid(format!("[forest] {e}")))?;
        let test = test.unwrap_or_else(|| train.select(&[]));
        let block_trees = match block_trees {
            0 => default_block_trees(params.n_estimators),
            n => n as usize,
        };
        Ok(ForestJob {
            data_origin: origin,
            train,
            test,
            params,
            seed,
            block_trees,
            predictions: overrides.predictions,
            save_model: overrides.save_model.clone(),
        })
    }

    pub fn n_blocks(&self) -> usize {
        self.params.n_estimators.div_ceil(self.block_trees)
    }

    /// Tree indices of block `block`.
    pub fn block_trees(&self, block: usize) -> std::ops::Range<usize> {
        let start = block * self.block_trees;
        start..(start + self.block_trees).min(self.params.n_estimators)
    }
}

fn take_integer(table: &mut toml::Table, key: &str, default: u64) -> Result<u64, String> {
    match table.remove(key) {
        None => Ok(default),
        Some(toml::Value::Integer(n)) if n >= 0 => Ok(n as u64),
        Some(other) => Err(format!(
            "[forest] {key} must be a whole number >= 0, got {other}"
        )),
    }
}
