//! What a finished run recorded that the model needs: one cost per task (the seconds its journal
//! rows carry, the journal named by the file's `job_kind`), the run's `wall_seconds` and its
//! `ranks` table, whose busiest rank tells how much of the wall time was not task work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::jobfile::{forest::ForestJob, gridsearch::GridSearchJob, montecarlo::MonteCarloJob};
use crate::results::{ResultFile, Value};
use crate::runner::JobKind;

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
    /// Seconds of each recorded task, in task-id order (the order the scheduler hands them out).
    pub costs: Vec<f64>,
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
        let costs: BTreeMap<i64, f64> = table
            .i64_column("task")?
            .into_iter()
            .zip(table.f64_column("seconds")?)
            .collect();
        if costs.is_empty() {
            return Err(RecordingError::NoTasks {
                path: path.to_path_buf(),
                table: journal,
            }
            .into());
        }

        let ranks = file.read_table("ranks")?;
        let busy = ranks.f64_column("busy_seconds")?;
        let tasks_run = ranks.i64_column("tasks")?.iter().sum::<i64>();
        Ok(Recording {
            path: path.to_path_buf(),
            kind,
            journal,
            costs: costs.into_values().collect(),
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
