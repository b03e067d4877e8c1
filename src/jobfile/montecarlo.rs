//! The Monte Carlo job file (`[model]`, `[option]`, `[simulation]`) and its validation into a
//! `MonteCarloJob`, whose parts are the checked types of `crate::mc`. The payoff, option type and
//! estimator are read as `mc`'s own enums, whose serde names are the job-file spellings.

use serde::{Deserialize, Serialize};

use super::{JobError, JobText};
use crate::mc::{Estimator, Model, OptionSpec, OptionType, Payoff, Pricing};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonteCarloFile {
    model: ModelSection,
    option: OptionSection,
    simulation: SimulationSection,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ModelKind {
    Seed,
    Gbm,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSection {
    kind: ModelKind,
    s0: f64,
    sigma: f64,
    r: Option<f64>,
    q: Option<f64>,
    mu: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionSection {
    payoff: Payoff,
    #[serde(rename = "type")]
    option_type: OptionType,
    strike: f64,
    maturity: Option<f64>,
    steps: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulationSection {
    paths: i64,
    #[serde(default = "default_estimator")]
    estimator: Estimator,
    #[serde(default)]
    seed: u64,
    block_paths: Option<i64>,
}

fn default_estimator() -> Estimator {
    Estimator::Plain
}

/// Paths per task when the job does not say: small enough for a few dozen blocks per rank on
/// typical jobs, large enough that a block (milliseconds) dwarfs the scheduling round trip.
pub const DEFAULT_BLOCK_PATHS: u64 = 5_000;

/// A validated Monte Carlo job: what every rank needs to simulate any block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonteCarloJob {
    pub pricing: Pricing,
    pub paths: u64,
    pub block_paths: u64,
    pub seed: u64,
}

impl MonteCarloJob {
    /// Reads and validates a job file; `seed` replaces the file's seed when given.
    pub fn from_text(job: &JobText, seed: Option<u64>) -> Result<Self, JobError> {
        let file: MonteCarloFile = job.parse()?;
        let invalid = |message: String| JobError::invalid(&job.path, message);
        let model = model(&file.model).map_err(invalid)?;
        let option = option(&file.option, &file.model.kind).map_err(invalid)?;
        let pricing = Pricing::new(model, option, file.simulation.estimator)
            .map_err(|e| invalid(e.to_string()))?;
        let paths_of = |value: i64, key: &str| {
            let paths = positive(value, key)?;
            pricing
                .check_paths(paths)
                .map_err(|e| format!("{key}: {e}"))
        };
        let paths = paths_of(file.simulation.paths, "[simulation] paths").map_err(invalid)?;
        let block_paths = match file.simulation.block_paths {
            Some(b) => paths_of(b, "[simulation] block_paths").map_err(invalid)?,
            None => DEFAULT_BLOCK_PATHS,
        };
        let job = MonteCarloJob {
            pricing,
            paths,
            block_paths,
            seed: seed.unwrap_or(file.simulation.seed),
        };
        super::sizes::check_memory(
            job.sizes().memory,
            &format!("{} blocks of [simulation] block_paths", job.n_blocks()),
        )
        .map_err(invalid)?;
        Ok(job)
    }

    /// Peak memory per rank and result size: rank 0's bookkeeping and one journal row per block.
    pub fn sizes(&self) -> super::sizes::Sizes {
        let blocks = self.n_blocks() as u64;
        let row = 8 * (4 + 8 + crate::mc::BlockSums::field_names().len() as u64);
        super::sizes::Sizes {
            memory: super::sizes::common_memory(None, blocks),
            result: blocks.saturating_mul(row).saturating_add(100_000),
            model: 0,
        }
    }

    pub fn n_blocks(&self) -> usize {
        self.paths.div_ceil(self.block_paths) as usize
    }

    /// Paths in block `block`: all blocks are full but the last.
    pub fn block_size(&self, block: usize) -> u64 {
        let start = block as u64 * self.block_paths;
        self.block_paths.min(self.paths - start)
    }
}

fn positive(value: i64, key: &str) -> Result<u64, String> {
    if value >= 1 {
        Ok(value as u64)
    } else {
        Err(format!("{key} must be a whole number >= 1, got {value}"))
    }
}

fn model(section: &ModelSection) -> Result<Model, String> {
    let only_for = |key: &str, kind: &str| {
        format!("[model] {key} applies only to kind = \"{kind}\"; remove it or change the kind")
    };
    let built = match section.kind {
        ModelKind::Seed => {
            if section.r.is_some() || section.q.is_some() {
                return Err(only_for(if section.r.is_some() { "r" } else { "q" }, "gbm"));
            }
            Model::seed(section.s0, section.mu.unwrap_or(0.0), section.sigma)
        }
        ModelKind::Gbm => {
            if section.mu.is_some() {
                return Err(only_for("mu", "seed"));
            }
            Model::gbm(
                section.s0,
                section.r.unwrap_or(0.0),
                section.q.unwrap_or(0.0),
                section.sigma,
            )
        }
    };
    built.map_err(|e| format!("[model] {e}"))
}

fn option(section: &OptionSection, kind: &ModelKind) -> Result<OptionSpec, String> {
    let steps = positive(section.steps, "[option] steps")? as usize;
    let maturity = match (kind, section.maturity) {
        (_, Some(t)) => t,
        // The seed walk steps one day at a time; its maturity follows from the step count.
        (ModelKind::Seed, None) => steps as f64 / 365.0,
        (ModelKind::Gbm, None) => {
            return Err("[option] maturity is required for kind = \"gbm\" (years, > 0)".into())
        }
    };
    OptionSpec::new(
        section.payoff,
        section.option_type,
        section.strike,
        maturity,
        steps,
    )
    .map_err(|e| format!("[option] {e}"))
}
