//! Command-line definitions (clap) and nothing else: every subcommand, flag and its help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::par::ThreadCount;
use crate::runner::RunOptions;
use crate::runtime::progress::ProgressChoice;
use crate::runtime::scheduler::Schedule;

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
    /// Predict classes and probabilities of a data file's rows with a saved forest
    /// (`forest --save-model`) or a grid search's refit model.
    Predict(PredictArgs),
    /// Print a result file's attributes and tables as aligned text.
    Show(ShowArgs),
    /// Per job in a scaling file: median wall time, speedup, parallel efficiency and load balance
    /// by rank count, against the job's run on the fewest ranks; `--plot` draws them.
    Report(ReportArgs),
    /// Draw a result file as an SVG or PNG chart: a grid search's score heatmap, a forest's feature
    /// importances, or a Monte Carlo price converging over its blocks.
    Plot(PlotArgs),
    /// Check a job file without running it.
    Validate(ValidateArgs),
    /// Predict a job's wall time on other clusters (Pis, a desktop, a mix) from a real run.
    ///
    /// Replays the static and dynamic schedules on the per-task seconds recorded in RESULT.h5,
    /// e.g. `triton-batch simulate results/x.h5 --nodes "pi4:4x0.33,desktop:7x1.0" --nodes
    /// "pi4:16x0.33"`. The recorded run's wall time minus its busiest rank's busy time
    /// (start-up) is added to every prediction.
    Simulate(SimulateArgs),
    /// Check a hostfile and print the mpiruns of a scaling sweep over it (scripts/scale.sh).
    ///
    /// Prints a header comment, then one tab-separated line per mpirun: hosts, ranks, host names
    /// (comma-separated) and mpirun's `--host` value. One host: 1, 2, …, N ranks on it. Several:
    /// the first 1, 2, …, all hosts. A bad line is refused with its file and line number.
    Hosts(HostsArgs),
    /// Append one finished run to the `runs` table of a scaling file (scripts/scale.sh).
    ///
    /// Reads the result file's attributes and `ranks` table and appends one row to `runs`, e.g.
    /// `triton-batch record-run results/scaling/x-h1-n2-r1.h5 --job jobs/x.toml --host-names
    /// localhost --repeat 1 --wall-seconds 3.2`.
    RecordRun(RecordRunArgs),
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
    #[arg(long, default_value = "dynamic", value_name = "dynamic|static")]
    pub schedule: Schedule,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    /// Progress display: auto (TRITON_BATCH_PROGRESS, which scripts/mpirun sets to bar at a
    /// terminal; else bar when stderr is a terminal, else lines), bar, lines or none.
    #[arg(long, default_value = "auto", value_name = "auto|bar|lines|none")]
    pub progress: ProgressChoice,
    /// A rank silent for this long is lost: its tasks run elsewhere (exit status 4), or, if it is
    /// rank 0 (or every other rank), the run ends (status 5; --resume continues from the journal).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub node_timeout: f64,
    /// Threads inside this rank, sharing one copy of the data: a number, or auto (the cores of
    /// the rank's node divided by the ranks on it). Results are the same for any count.
    #[arg(long, default_value = "1", value_name = "N|auto")]
    pub threads: ThreadCount,
}

impl RunArgs {
    /// The library's options for a job run.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            job: self.job.clone(),
            out: self.out.clone(),
            resume: self.resume,
            schedule: self.schedule,
            progress: match self.quiet {
                true => ProgressChoice::None,
                false => self.progress,
            },
            node_timeout: Duration::from_secs_f64(self.node_timeout),
            threads: self.threads,
        }
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(seconds),
        _ => Err("give a positive number of seconds, e.g. --node-timeout 30".into()),
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A triton-batch result file (.h5).
    pub file: PathBuf,
    /// Show only this table.
    pub table: Option<String>,
    /// Print every row instead of the first five, and the job text (`job_toml`) in full.
    #[arg(long)]
    pub all: bool,
    /// Sort rows by this column (ascending) before printing.
    #[arg(long)]
    pub sort: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The scaling file that scripts/scale.sh appends to.
    #[arg(default_value = "results/scaling.h5")]
    pub file: PathBuf,
    /// Report only the job of this name (the job file's name without .toml).
    #[arg(long)]
    pub job: Option<String>,
    /// Also draw wall time and speedup against ranks into this file (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A gridsearch, forest or montecarlo result file (.h5).
    pub file: PathBuf,
    /// The chart file, .svg or .png [default: FILE with extension .svg].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Grid search: the parameter across the heatmap [default: the first searched].
    #[arg(long, value_name = "PARAM")]
    pub x: Option<String>,
    /// Grid search: the parameter up the heatmap [default: the next searched].
    #[arg(long, value_name = "PARAM")]
    pub y: Option<String>,
    /// Draw the run instead of its result: one row per rank, one bar per task from its start to
    /// its end, coloured by kernel or block kind, idle gaps visible.
    #[arg(long, conflicts_with_all = ["x", "y"])]
    pub timeline: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The job file (TOML); its kind is recognised from its sections.
    pub job: PathBuf,
}

#[derive(Debug, Args)]
pub struct HostsArgs {
    /// An Open MPI hostfile: `host [slots=N] [max_slots=N]` per line, `#` comments.
    pub hostfile: PathBuf,
    /// Ranks on each host [default: its slots]; with one host, the sweep runs 1..=N ranks.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub ranks_per_host: Option<u16>,
}

#[derive(Debug, Args)]
pub struct RecordRunArgs {
    /// The run's result file.
    pub result: PathBuf,
    /// The job file that was run (names the job; its text must match the result's `job_toml`).
    #[arg(long)]
    pub job: PathBuf,
    /// The scaling file to append to (created if missing).
    #[arg(long, default_value = "results/scaling.h5")]
    pub into: PathBuf,
    /// Hosts the run used, comma-separated as in the hostfile (their count is the `hosts` column).
    #[arg(long)]
    pub host_names: String,
    /// Which repetition of this configuration this run was (1..R).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Seconds the whole mpirun took, measured around it.
    #[arg(long)]
    pub wall_seconds: f64,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The result file of a finished run (its journal's per-task seconds are the costs).
    pub file: PathBuf,
    /// A cluster: comma-separated `name:RANKSxSPEEDxTHREADS` (or `name:RANKSxSPEED`, one thread,
    /// or `name:RANKS`, speed 1), SPEED being the work per second of one thread relative to one
    /// thread of the recorded run, THREADS each rank's `--threads`. Repeat the flag to compare
    /// clusters (one row each).
    #[arg(long, required = true, value_name = "NODES")]
    pub nodes: Vec<String>,
    /// Also write the predictions to this HDF5 file (tables `predictions` and `schedule`).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    /// Also save the trees to this HDF5 file (they stream to rank 0 as blocks finish), for
    /// `triton-batch predict`.
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A forest saved with `forest --save-model`, or a grid-search result with a refit model.
    pub model: PathBuf,
    /// Rows to predict: HDF5 with `X` (and optionally `y`), or CSV with a header row (label
    /// column `y`, or a last column beyond the model's features, is optional).
    pub data: PathBuf,
    /// Where to write the `predictions` table [default: results/<data name>-predictions.h5].
    #[arg(long)]
    pub out: Option<PathBuf>,
}
