//! The forest job file (`[data]` and `[forest]`) and its validation into a `ForestJob`: the data
//! loaded, the forest parameters checked against it (e.g. max_features against the number of
//! features) before any tree is grown.

use serde::{Deserialize, Serialize};

use super::data::{DataSpec, Loaded};
use super::sizes::{self, DataShape, Sizes};
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
        let block_trees = match block_trees {
            0 => default_block_trees(params.n_estimators),
            n => n as usize,
        };
        if let Some(shape) = DataShape::planned(&spec) {
            let (memory, what) = forest_memory(&params, &shape, block_trees);
            sizes::check_memory(memory, &what).map_err(invalid)?;
        }
        let Loaded {
            train,
            test,
            origin,
        } = spec.load()?;
        ForestTrainer::new(&params, &train).map_err(|e| invalid(format!("[forest] {e}")))?;
        let (memory, what) =
            forest_memory(&params, &DataShape::of(&train, test.as_ref()), block_trees);
        sizes::check_memory(memory, &what).map_err(invalid)?;
        let test = test.unwrap_or_else(|| train.select(&[]));
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

    /// Peak memory per rank, result size and model file size (with `--save-model`).
    pub fn sizes(&self) -> Sizes {
        let shape = DataShape::of(&self.train, Some(&self.test));
        let blocks = self.n_blocks() as u64;
        let predictions = match self.predictions {
            true => shape.test_rows.saturating_mul(8 * (3 + shape.classes)),
            false => 0,
        };
        let model = match self.save_model {
            Some(_) => (self.params.n_estimators as u64)
                .saturating_mul(sizes::tree_bytes(&self.params, &shape).saturating_add(40)),
            None => 0,
        };
        Sizes {
            memory: forest_memory(&self.params, &shape, self.block_trees).0,
            result: blocks
                .saturating_mul(8 * 6 + 64)
                .saturating_add(predictions)
                .saturating_add(100_000),
            model,
        }
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

/// A forest job's peak memory per rank and what it is made of.
fn forest_memory(params: &ForestParams, shape: &DataShape, block_trees: usize) -> (u64, String) {
    let blocks = (params.n_estimators as u64).div_ceil(block_trees.max(1) as u64);
    let memory = sizes::common_memory(Some(shape), blocks).saturating_add(sizes::forest_memory(
        params,
        shape,
        block_trees as u64,
    ));
    let what = format!(
        "data of {} rows x {} features, {} blocks of {block_trees} trees",
        shape.rows + shape.test_rows,
        shape.features,
        blocks
    );
    (memory, what)
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
