//! What a finished run recorded that the model needs: one cost per task (the seconds its journal
//! rows carry, the journal named by the file's `job_kind`) and the threads it ran on (those of its
//! rank in the `ranks` table), each task's predicted cost (`task_costs`, which the dynamic
//! schedule ordered by; equal for files written before it existed), the run's `wall_seconds` and
//! its `ranks` table, whose busiest rank tells how much of the wall time was not task work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::jobfile::{forest::ForestJob, gridsearch::GridSearchJob, montecarlo::MonteCarloJob};
use crate::results::{ResultFile, Value};
use crate::runner::{JobKind, TASK_COSTS};
use crate::runtime::costs::TaskCost;

/// Each job kind and the journal table its tasks are recorded in.
const JOURNALS: [(&str, &str); 3] = [
    (MonteCarloJob::KIND, MonteCarloJob::JOURNAL_TABLE),
    (GridSearchJob::KIND, GridSearchJob::JOURNAL_TABLE),
    (ForestJob::KIND, ForestJob::JOURNAL_TABLE),
];

/// A result file that cannot be simulated from.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(
        "`{}` has no `{attr}` attribute: simulate reads the result file of a finished run \
         (not a .partial journal or another HDF5 file)",
        path.display()
    )]
    NotAFinishedRun { path: PathBuf, attr: &'static str },
    #[error("`{}`: job_kind `{kind}` is not one of {}", path.display(), known_kinds())]
    UnknownKind { path: PathBuf, kind: String },
    #[error("`{}`: the journal `{table}` records no tasks", path.display())]
    NoTasks { path: PathBuf, table: &'static str },
}

fn known_kinds() -> String {
    JOURNALS.map(|(kind, _)| kind).join(", ")
}

/// The costs and timings of one recorded run.
#[derive(Debug, Clone)]
pub struct Recording {
    pub path: PathBuf,
    pub kind: String,
    pub journal: &'static str,
    /// Seconds of each recorded task, in task-id order.
    pub costs: Vec<f64>,
    /// The task ids, in the same order.
    pub tasks: Vec<usize>,
    /// Threads each task ran on (its rank's `--threads`), in the same order.
    pub threads: Vec<usize>,
    /// Each task's predicted cost, in the same order.
    pub predicted: Vec<TaskCost>,
    pub wall_seconds: f64,
    /// Ranks of the recorded run.
    pub ranks: usize,
    /// Busy seconds of the recorded run's busiest rank.
    pub busiest_seconds: f64,
    /// Tasks the recorded run itself ran (fewer than `costs` after a `--resume`).
    pub tasks_run: usize,
}

impl Recording {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let file = ResultFile::open_read(path)?;
        let attrs = file.attrs()?;
        let attr = |name: &'static str| {
            attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value)
                .ok_or_else(|| RecordingError::NotAFinishedRun {
                    path: path.to_path_buf(),
                    attr: name,
                })
        };
        let kind = attr("job_kind")?.to_string();
        let (_, journal) = JOURNALS
            .into_iter()
            .find(|(k, _)| *k == kind)
            .ok_or_else(|| RecordingError::UnknownKind {
                path: path.to_path_buf(),
                kind: kind.clone(),
            })?;
        let wall_seconds = match attr("wall_seconds")? {
            Value::F64(seconds) => *seconds,
            other => anyhow::bail!(
                "`{}`: wall_seconds is {other}, not a number of seconds",
                path.display()
            ),
        };

        let table = file.read_table(journal)?;
        // A grid-search task writes one row per fit, each carrying the task's seconds.
        let runs: BTreeMap<i64, (f64, i64)> = table
            .i64_column("task")?
            .into_iter()
            .zip(
                table
                    .f64_column("seconds")?
                    .into_iter()
                    .zip(table.i64_column("rank")?),
            )
            .collect();
        if runs.is_empty() {
            return Err(RecordingError::NoTasks {
                path: path.to_path_buf(),
                table: journal,
            }
            .into());
        }

        let ranks = file.read_table("ranks")?;
        let busy = ranks.f64_column("busy_seconds")?;
        let tasks_run = ranks.i64_column("tasks")?.iter().sum::<i64>();
        // Files from before `--threads` have no column: one thread. A rank that ran nothing
        // records 0; so would a task of a resumed run whose rank is not in this run's table.
        let rank_threads = ranks.i64_column("threads").unwrap_or_default();
        let threads_of = |rank: i64| {
            usize::try_from(rank)
                .ok()
                .and_then(|r| rank_threads.get(r))
                .and_then(|&t| usize::try_from(t).ok())
                .filter(|&t| t > 0)
                .unwrap_or(1)
        };
        let predicted: BTreeMap<i64, TaskCost> = match file.has_table(TASK_COSTS) {
            true => {
                let table = file.read_table(TASK_COSTS)?;
                let units = table.f64_column("units")?;
                let classes = table.i64_column("class")?;
                table
                    .i64_column("task")?
                    .into_iter()
                    .zip(classes.into_iter().zip(units))
                    .map(|(task, (class, units))| {
                        let class = usize::try_from(class).unwrap_or(0);
                        (task, TaskCost { class, units })
                    })
                    .collect()
            }
            false => BTreeMap::new(),
        };
        Ok(Recording {
            path: path.to_path_buf(),
            kind,
            journal,
            costs: runs.values().map(|&(seconds, _)| seconds).collect(),
            tasks: runs
                .keys()
                .map(|&t| usize::try_from(t).unwrap_or(0))
                .collect(),
            threads: runs.values().map(|&(_, rank)| threads_of(rank)).collect(),
            predicted: runs
                .keys()
                .map(|t| predicted.get(t).copied().unwrap_or(TaskCost::EQUAL))
                .collect(),
            wall_seconds,
            ranks: busy.len(),
            busiest_seconds: busy.iter().copied().fold(0.0, f64::max),
            tasks_run: usize::try_from(tasks_run).unwrap_or(0),
        })
    }

    /// Wall time that was not task work on the busiest rank: MPI start, reading the job,
    /// generating or reading the data, the final reduction and writing. Taken as the same on any
    /// cluster.
    pub fn overhead(&self) -> f64 {
        (self.wall_seconds - self.busiest_seconds).max(0.0)
    }

    pub fn cpu_seconds(&self) -> f64 {
        self.costs.iter().sum()
    }
}
