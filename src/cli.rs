//! Command-line definitions (clap) and nothing else: every subcommand, flag and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "triton-batch",
    version,
    about = "Batch jobs across a cluster of small machines: launch with `mpirun -hostfile HOSTS triton-batch <job> JOB.toml`",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Price an option by Monte Carlo, path blocks spread over the ranks.
    Montecarlo(MonteCarloArgs),
    /// Search estimator hyper-parameters by cross-validation (scikit-learn's GridSearchCV), fits
    /// spread over the ranks.
    Gridsearch(GridSearchArgs),
    /// Grow a random forest across the cluster: blocks of trees on the ranks, votes reduced.
    Forest(ForestArgs),
    /// Print a result file's attributes and tables as aligned text.
    Show(ShowArgs),
    /// Check a job file without running it.
    Validate(ValidateArgs),
}

/// How tasks are handed to ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    /// Ranks ask rank 0 for chunks that shrink as the queue empties (faster ranks take more).
    Dynamic,
    /// An even, contiguous share of the tasks per rank, fixed up front.
    Static,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// Result file to write [default: results/<job file name>.h5].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip tasks already recorded in the output file (or its .partial journal) by the same job.
    #[arg(long)]
    pub resume: bool,
    /// How tasks are handed to ranks.
    #[arg(long, value_enum, default_value = "dynamic")]
    pub schedule: Schedule,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A triton-batch result file (.h5).
    pub file: PathBuf,
    /// Show only this table.
    pub table: Option<String>,
    /// Print every row instead of the first five.
    #[arg(long)]
    pub all: bool,
    /// Sort rows by this column (ascending) before printing.
    #[arg(long)]
    pub sort: Option<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The job file (TOML); its kind is recognised from its sections.
    pub job: PathBuf,
}

#[derive(Debug, Args)]
pub struct MonteCarloArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Replace the job file's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct GridSearchArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Read the training data from this file (HDF5 with X and y, or CSV) instead of [data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Do not refit the best candidate on all training data.
    #[arg(long)]
    pub no_refit: bool,
    /// Also score each fit on its training folds (train columns in cv_results).
    #[arg(long)]
    pub return_train_score: bool,
}

#[derive(Debug, Args)]
pub struct ForestArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Read the training data from this file (HDF5 with X and y, or CSV) instead of [data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write a `predictions` table: every test row's true and predicted class and probabilities.
    #[arg(long)]
    pub predictions: bool,
}
