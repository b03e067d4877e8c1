//! The life of a job run, shared by every job kind: rank 0 reads and validates the job and opens
//! the output journal before any compute; the validated job goes to every rank; tasks run on the
//! scheduler and each output is appended to the journal as it arrives; rank 0 then reduces the
//! journal in task-id order into summary tables and renames the journal into place.
//!
//! The journal is `<out>.partial`: a crash keeps every finished task there, `--resume` picks it up,
//! and the final file is only ever replaced by a rename, so a failed run never damages it. Each
//! task reaches the task log `<out>.tasks` before the journal; a resume rebuilds the journal
//! from the log, so a kill in the middle of an HDF5 write loses nothing (see `tasklog`).

pub mod forest;
pub mod gridsearch;
pub mod montecarlo;
pub(crate) mod tasklog;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{de::DeserializeOwned, Serialize};

use crate::files;
use crate::jobfile::JobText;
use crate::par::{Pool, ThreadCount};
use crate::results::{ResultFile, Row, Schema, Table, Value};
use crate::runtime::progress::{Progress, ProgressChoice};
use crate::runtime::scheduler::Tasks;
use crate::runtime::scheduler::{self, Completed, Schedule};
use crate::runtime::{failure, Cluster, LostRank};
use tasklog::{Reopened, TaskLog};

/// How to run a job: what the command line says, in the library's own types.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The job file (TOML).
    pub job: PathBuf,
    /// Result file [default: results/<job file name>.h5].
    pub out: Option<PathBuf>,
    /// Skip tasks already recorded by the same job in the output file or its journal.
    pub resume: bool,
    pub schedule: Schedule,
    /// `None` is `--quiet`.
    pub progress: ProgressChoice,
    /// A rank silent for this long is lost.
    pub node_timeout: Duration,
    /// Threads inside each rank (`--threads`).
    pub threads: ThreadCount,
}

/// What a job kind adds to the shared run: its tasks, its journal rows and its reduction.
pub trait JobKind: Serialize + DeserializeOwned + Clone + Sync {
    /// `job_kind` attribute and subcommand name.
    const KIND: &'static str;
    /// Name of the table that records one row per finished task.
    const JOURNAL_TABLE: &'static str;
    /// What one task sends back to rank 0.
    type Output: Serialize + DeserializeOwned + Send;
    /// What runs this rank's tasks: the job it received plus this rank's working state
    /// (prepared data, caches), which never travels with the job.
    type Worker<'a>: Tasks<Output = Self::Output>
    where
        Self: 'a;

    fn worker(&self) -> anyhow::Result<Self::Worker<'_>>;

    fn seed(&self) -> u64;
    /// What else besides the job text and seed decides the results (e.g. a `--data` file);
    /// stored with the run and compared on resume.
    fn fingerprint(&self) -> String {
        String::new()
    }
    /// Task ids run from 0 to this bound.
    fn n_tasks(&self) -> usize;
    /// How many tasks a complete run runs (fewer than `n_tasks` for a job in phases).
    fn planned_tasks(&self) -> usize {
        self.n_tasks()
    }
    /// Whether the tasks come in phases, each known once the previous one is done (a halving
    /// search); otherwise every task of `0..n_tasks` is run.
    fn in_phases(&self) -> bool {
        false
    }
    /// A job in phases: the tasks of every phase reached, given the journal so far (sorted by
    /// task id).
    fn phase_tasks(&self, _journal: &Table) -> anyhow::Result<Vec<usize>> {
        Ok((0..self.n_tasks()).collect())
    }
    /// Estimated peak memory per rank, result size and model file size.
    fn estimated_sizes(&self) -> crate::jobfile::sizes::Sizes;
    /// A model file the run writes besides the result (`--save-model`).
    fn model_path(&self) -> Option<&Path> {
        None
    }
    /// Refuses a result path that clashes with another file the job writes.
    fn check_output(&self, _out: &Path) -> anyhow::Result<()> {
        Ok(())
    }
    /// Columns after the common `task, rank, host, seconds, start_seconds`.
    fn output_schema(&self) -> Schema;
    /// A task's journal rows (one or more), written together when the task completes.
    fn output_rows(&self, output: &Self::Output) -> Vec<Row>;
    /// Rank 0's running reduction of outputs too large to keep row by row (a forest's vote
    /// sums); `()` for kinds that reduce from the journal rows alone.
    type Running: RunningReduction<Self> + Send;

    /// Writes the summary tables from the journal, whose rows are sorted by task id (a task's own
    /// rows keep the order it gave them), and the running reduction.
    fn finish(
        &self,
        journal: &Table,
        running: Self::Running,
        file: &ResultFile,
        wall_seconds: f64,
    ) -> anyhow::Result<()>;
}

/// A running reduction on rank 0, kept up to date in the journal file as outputs arrive.
pub trait RunningReduction<J: JobKind>: Sized {
    /// The reduction a (resumed) journal holds, and the tasks it covers when that, not the
    /// journal rows, decides what is done.
    fn load(job: &J, file: &ResultFile) -> anyhow::Result<(Self, Option<Vec<usize>>)>;

    /// Folds one task's output into the reduction (and the journal file).
    fn absorb(&mut self, job: &J, output: &J::Output, file: &ResultFile) -> anyhow::Result<()>;
}

/// No running reduction: the journal rows are all there is.
impl<J: JobKind> RunningReduction<J> for () {
    fn load(_: &J, _: &ResultFile) -> anyhow::Result<((), Option<Vec<usize>>)> {
        Ok(((), None))
    }

    fn absorb(&mut self, _: &J, _: &J::Output, _: &ResultFile) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Runs a job of kind `J` on this rank; `validate` reads the job on rank 0 only.
pub fn execute<J: JobKind + Send>(
    args: &RunOptions,
    validate: impl FnOnce(&JobText) -> anyhow::Result<J> + Send,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Before MPI starts its threads, which would each get an arena of their own.
    crate::par::one_malloc_arena();
    let cluster = Cluster::init(args.node_timeout)?;
    let run = RunInfo {
        size: cluster.size(),
        hosts: cluster.hosts().to_vec(),
    };
    // Reading and validating (making the data) can take a while on a Pi: off the MPI thread.
    let prepared = cluster
        .is_root()
        .then(|| cluster.busy(|| prepare::<J>(&run, args, validate)));
    let shared: Result<J, String> = cluster.share_from_root(
        prepared
            .as_ref()
            .map(|p| {
                p.as_ref()
                    .map(|(job, _)| job.clone())
                    .map_err(|e| format!("{e:#}"))
            })
            .as_ref(),
    );
    let (job, journal) = match (shared, prepared) {
        (Ok(job), prepared) => (
            job,
            prepared.and_then(Result::ok).map(|(_, journal)| journal),
        ),
        // Bad input: rank 0 reports it once and its exit code becomes mpirun's. The other ranks
        // end with success: a non-zero exit there could make mpirun kill rank 0 before it prints.
        (Err(_), Some(Err(err))) => {
            files::release_output_lock();
            return Err(err);
        }
        (Err(_), _) => return Ok(ExitCode::SUCCESS),
    };
    let pool = match Pool::new(args.threads.resolve()) {
        Ok(pool) => pool,
        Err(err) => cluster.abort(&format!("starting the threads: {err:#}"), 1),
    };
    if let Err(err) = run_and_finish(&cluster, &job, journal, args, &pool, started) {
        let err = files::explain_full_disk(err, None);
        cluster.abort(&format!("{err:#}"), 1);
    }
    if cluster.is_root() {
        cluster.end(0);
    }
    Ok(ExitCode::SUCCESS)
}

/// What rank 0 records about the ranks of this run.
struct RunInfo {
    size: usize,
    hosts: Vec<String>,
}

/// Rank 0's state during a run: the open journal and what it already holds.
struct Journal {
    file: ResultFile,
    path: PathBuf,
    out: PathBuf,
    recorded: Vec<usize>,
    log: TaskLog,
    /// The task-log records of an interrupted run, to replay into the rebuilt journal.
    replay: Option<Vec<Vec<u8>>>,
}

/// A finished task as the task log keeps it: what its journal rows and the running reduction
/// are made from.
#[derive(Serialize, serde::Deserialize)]
pub(crate) struct LoggedTask<O> {
    task: usize,
    rank: usize,
    host: String,
    seconds: f64,
    started_seconds: f64,
    pub(crate) output: O,
}

impl<O> LoggedTask<O> {
    fn borrowed(&self) -> LoggedTask<&O> {
        LoggedTask {
            task: self.task,
            rank: self.rank,
            host: self.host.clone(),
            seconds: self.seconds,
            started_seconds: self.started_seconds,
            output: &self.output,
        }
    }
}

fn prepare<J: JobKind>(
    run: &RunInfo,
    args: &RunOptions,
    validate: impl FnOnce(&JobText) -> anyhow::Result<J>,
) -> anyhow::Result<(J, Journal)> {
    let text = JobText::read(&args.job)?;
    let job = validate(&text)?;
    let out = files::output_path(args.out.as_deref(), &format!("{}.h5", text.name()))?;
    job.check_output(&out)?;
    check_disk_space(&job, &out)?;
    files::lock_output(&out, &run.hosts[0])?;
    let journal = open_journal(
        &job,
        &text,
        &out,
        args.resume,
        args.progress == ProgressChoice::None,
        run,
    )
    .map_err(|err| files::explain_full_disk(err, Some(&files::partial_path(&out))))?;
    Ok((job, journal))
}

/// Refuses a run whose result or model file cannot fit in its folder's free space.
pub fn check_disk_space<J: JobKind>(job: &J, out: &Path) -> anyhow::Result<()> {
    use crate::jobfile::sizes::check_disk;
    let sizes = job.estimated_sizes();
    check_disk(
        out,
        sizes.result,
        "the result file",
        "free some space or choose another --out",
    )?;
    if let Some(model) = job.model_path() {
        check_disk(
            model,
            sizes.model,
            "the --save-model file",
            "free some space, choose another folder, or grow fewer trees",
        )?;
    }
    Ok(())
}

fn open_journal<J: JobKind>(
    job: &J,
    text: &JobText,
    out: &Path,
    resume: bool,
    quiet: bool,
    run: &RunInfo,
) -> anyhow::Result<Journal> {
    let path = files::partial_path(out);
    let log_path = files::tasks_path(out);
    let identity = log_identity(job, text);
    if resume && log_path.exists() {
        if let Some(reopened) = TaskLog::reopen(&log_path, &identity)? {
            if !quiet {
                eprintln!("{}", resume_note(&log_path, &reopened, job.planned_tasks()));
            }
            return rebuilt_journal(job, text, out, run, reopened);
        }
    }
    let log = TaskLog::create(&log_path, &identity)?;
    let previous = [&path, &out.to_path_buf()]
        .into_iter()
        .find(|p| resume && p.exists())
        .cloned();
    let file = match previous {
        Some(previous) => {
            check_same_job(&previous, text, job)?;
            if previous != path {
                std::fs::copy(&previous, &path).with_context(|| {
                    format!(
                        "copying `{}` to `{}` to resume",
                        previous.display(),
                        path.display()
                    )
                })?;
            }
            ResultFile::open_rw(&path)?
        }
        None => create_journal(job, text, &path)?,
    };
    write_run_attributes(&file, run)?;
    let recorded = if file.has_table(J::JOURNAL_TABLE) {
        recorded_tasks(&without_blank_rows(&file, J::JOURNAL_TABLE)?, job.n_tasks())?
    } else {
        vec![]
    };
    Ok(Journal {
        file,
        path,
        out: out.to_path_buf(),
        recorded,
        log,
        replay: None,
    })
}

/// What a resume from the task log says before it starts: what it found there.
fn resume_note(log: &Path, reopened: &Reopened, n_tasks: usize) -> String {
    let torn = match reopened.torn_bytes {
        0 => String::new(),
        bytes => format!("; cut off a torn last record of {bytes} bytes"),
    };
    format!(
        "triton-batch: resuming from the task log `{}`: {} of {n_tasks} tasks recorded{torn}",
        log.display(),
        reopened.records.len()
    )
}

/// What the task log's header names: the job whose tasks it records.
fn log_identity<J: JobKind>(job: &J, text: &JobText) -> String {
    format!(
        "{}\nseed {}\n{}\n{}",
        J::KIND,
        job.seed(),
        job.fingerprint(),
        text.text
    )
}

/// A fresh journal (and no partial model file) for the task log's records to be replayed into:
/// whatever HDF5 files the interrupted run left may have been cut mid-write.
fn rebuilt_journal<J: JobKind>(
    job: &J,
    text: &JobText,
    out: &Path,
    run: &RunInfo,
    Reopened { log, records, .. }: Reopened,
) -> anyhow::Result<Journal> {
    if let Some(model) = job.model_path() {
        let partial = files::partial_path(model);
        if partial.exists() {
            std::fs::remove_file(&partial)
                .with_context(|| format!("removing `{}` to rebuild it", partial.display()))?;
        }
    }
    let path = files::partial_path(out);
    let file = create_journal(job, text, &path)?;
    write_run_attributes(&file, run)?;
    Ok(Journal {
        file,
        path,
        out: out.to_path_buf(),
        recorded: vec![],
        log,
        replay: Some(records),
    })
}

fn create_journal<J: JobKind>(job: &J, text: &JobText, path: &Path) -> anyhow::Result<ResultFile> {
    let file = ResultFile::create(path)
        .with_context(|| format!("cannot write the result journal `{}`", path.display()))?;
    let attrs = [
        (
            "triton_batch_version",
            Value::Str(env!("CARGO_PKG_VERSION").into()),
        ),
        ("job_kind", Value::Str(J::KIND.into())),
        ("job_toml", Value::Str(text.text.clone())),
        ("seed", Value::I64(job.seed() as i64)),
        ("job_fingerprint", Value::Str(job.fingerprint())),
    ];
    for (name, value) in &attrs {
        file.set_attr(name, value)?;
    }
    file.create_table(J::JOURNAL_TABLE, &journal_schema(job))?;
    Ok(file)
}

fn journal_schema<J: JobKind>(job: &J) -> Schema {
    let mut schema = Schema::new()
        .i64("task")
        .i64("rank")
        .str("host", 64)
        .f64("seconds")
        .f64("start_seconds");
    schema.columns.extend(job.output_schema().columns);
    schema
}

/// Attributes that describe this run (a resumed run replaces the interrupted run's).
fn write_run_attributes(file: &ResultFile, run: &RunInfo) -> anyhow::Result<()> {
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    file.set_attr("n_ranks", &Value::I64(run.size as i64))?;
    file.set_attr("hosts", &Value::Str(run.hosts.join(",")))?;
    file.set_attr("started_at", &Value::Str(started_at))?;
    file.set_attr("command_line", &Value::Str(command_line))
}

fn check_same_job<J: JobKind>(previous: &Path, text: &JobText, job: &J) -> anyhow::Result<()> {
    let seed = job.seed();
    let file = ResultFile::open_read(previous)?;
    let refuse = |what: &str| {
        anyhow::anyhow!(
            "--resume: `{}` was written by a different job ({what}); run without --resume or choose another --out",
            previous.display()
        )
    };
    match file.attr("job_toml")? {
        Value::Str(old) if old == text.text => {}
        _ => {
            return Err(refuse(&format!(
                "its job text differs from `{}`",
                text.path.display()
            )))
        }
    }
    match file.attr("seed")? {
        Value::I64(old) if old == seed as i64 => {}
        old => return Err(refuse(&format!("seed {old}, not {seed}"))),
    }
    match file.attr("job_fingerprint")? {
        Value::Str(old) if old == job.fingerprint() => Ok(()),
        old => Err(refuse(&format!("{old}, not {}", job.fingerprint()))),
    }
}

/// The journal table without blank rows (an empty `host`: space the file had taken for rows whose
/// data never reached the disk, as when it filled up mid-write), which are removed from the file.
fn without_blank_rows(file: &ResultFile, name: &str) -> anyhow::Result<Table> {
    let mut table = file.read_table(name)?;
    let Some(host) = table.schema.columns.iter().position(|c| c.name == "host") else {
        return Ok(table);
    };
    let before = table.rows.len();
    table
        .rows
        .retain(|row| !matches!(row.get(host), Some(Value::Str(h)) if h.is_empty()));
    if table.rows.len() != before {
        file.write_table(name, &table)?;
        file.flush()?;
    }
    Ok(table)
}

fn recorded_tasks(table: &Table, n_tasks: usize) -> anyhow::Result<Vec<usize>> {
    let mut tasks = table.i64_column("task")?;
    tasks.sort_unstable();
    tasks.dedup();
    tasks
        .into_iter()
        .map(|t| {
            usize::try_from(t)
                .ok()
                .filter(|&t| t < n_tasks)
                .ok_or_else(|| anyhow::anyhow!("the journal names task {t}, outside 0..{n_tasks}"))
        })
        .collect()
}

fn run_and_finish<J: JobKind>(
    cluster: &Cluster,
    job: &J,
    journal: Option<Journal>,
    args: &RunOptions,
    pool: &Pool,
    started: Instant,
) -> anyhow::Result<()> {
    let worker = Threaded {
        tasks: job.worker()?,
        pool,
    };
    let Some(mut journal) = journal else {
        scheduler::run(
            cluster,
            &worker,
            &[],
            args.schedule,
            |_| Ok(()),
            || Ok(vec![]),
        );
        return Ok(());
    };
    let mut rows = journal.file.append_table(J::JOURNAL_TABLE)?;
    let (mut running, covered) = J::Running::load(job, &journal.file)?;
    let done = match journal.replay.take() {
        Some(records) => replay(job, &records, &mut rows, &mut running, &journal.file)?,
        None => covered.unwrap_or(journal.recorded).into_iter().collect(),
    };
    // A job in phases: the tasks of the phases reached that the journal lacks.
    let next_phase = || -> anyhow::Result<Vec<usize>> {
        if !job.in_phases() {
            return Ok(vec![]);
        }
        let table = sorted_by_task(journal.file.read_table(J::JOURNAL_TABLE)?)?;
        let recorded: std::collections::BTreeSet<i64> =
            table.i64_column("task")?.into_iter().collect();
        let needed = job.phase_tasks(&table)?;
        Ok(needed
            .into_iter()
            .filter(|&t| !recorded.contains(&(t as i64)))
            .collect())
    };
    let pending: Vec<usize> = match job.in_phases() {
        true => next_phase()?,
        false => (0..job.n_tasks()).filter(|t| !done.contains(t)).collect(),
    };
    let mut progress = Progress::with_choice(job.planned_tasks(), done.len(), args.progress);
    let mut ranks = RankLoad::new(cluster.hosts());
    let mut journaled = done.len();
    let log_path = files::tasks_path(&journal.out);
    let saved = std::rc::Rc::new(std::cell::Cell::new(journaled));
    cluster.on_interrupt(Some(interrupt_note(
        saved.clone(),
        job.planned_tasks(),
        &journal.path,
        cluster.size(),
    )));
    scheduler::run(
        cluster,
        &worker,
        &pending,
        args.schedule,
        |completed: Completed<J::Output>| {
            let logged = LoggedTask {
                task: completed.task,
                rank: completed.rank,
                host: ranks.record(&completed),
                seconds: completed.seconds,
                started_seconds: completed.started_seconds,
                output: &completed.output,
            };
            journal
                .log
                .append(&crate::runtime::encode(&logged))
                .map_err(|err| files::explain_full_disk(err, Some(&log_path)))?;
            failure::kill_point("log");
            let full_disk = |err| files::explain_full_disk(err, Some(&journal.path));
            rows.append(&journal_rows(job, &logged))
                .map_err(full_disk)?;
            failure::kill_point("journal");
            running
                .absorb(job, &completed.output, &journal.file)
                .map_err(full_disk)?;
            progress.task_done();
            journaled += 1;
            saved.set(journaled);
            failure::injected_after_journaled(journaled)
        },
        next_phase,
    );
    cluster.on_interrupt(None);
    progress.finish();
    drop(rows);
    let wall_seconds = started.elapsed().as_secs_f64();
    // The reduction (a grid search's refit can take minutes on a Pi) runs off the MPI thread.
    cluster.busy(|| {
        let table = sorted_by_task(journal.file.read_table(J::JOURNAL_TABLE)?)?;
        // The refit of a grid search is one fit like the others: on the rank's threads.
        pool.install(|| job.finish(&table, running, &journal.file, wall_seconds))
    })?;
    journal
        .file
        .set_attr("threads", &Value::Str(args.threads.to_string()))?;
    let lost = cluster.lost();
    journal.file.write_table("ranks", &ranks.table(&lost))?;
    journal
        .file
        .write_table(TASK_COSTS, &task_costs_table(&worker, job.n_tasks()))?;
    let lost_ranks: Vec<String> = lost.iter().map(|l| l.rank.to_string()).collect();
    journal
        .file
        .set_attr("lost_ranks", &Value::Str(lost_ranks.join(",")))?;
    journal
        .file
        .set_attr("wall_seconds", &Value::F64(wall_seconds))?;
    journal.file.flush()?;
    drop(journal.file);
    failure::kill_point("finish");
    files::put_in_place(&journal.path, &journal.out)?;
    failure::kill_point("renamed");
    journal.log.remove()?;
    failure::kill_point("removed");
    files::release_output_lock();
    if args.progress != ProgressChoice::None || !lost.is_empty() {
        let note = match lost.len() {
            0 => String::new(),
            _ => format!(
                " (complete without lost rank {}; exit status {})",
                lost_ranks.join(", "),
                crate::runtime::exit::NODE_LOST
            ),
        };
        eprintln!("triton-batch: wrote {}{note}", journal.out.display());
    }
    Ok(())
}

/// A task's journal rows (one per output row), behind the common columns.
fn journal_rows<J: JobKind>(job: &J, task: &LoggedTask<&J::Output>) -> Vec<Row> {
    job.output_rows(task.output)
        .into_iter()
        .map(|output_row| {
            let mut row = vec![
                Value::I64(task.task as i64),
                Value::I64(task.rank as i64),
                Value::Str(task.host.clone()),
                Value::F64(task.seconds),
                Value::F64(task.started_seconds),
            ];
            row.extend(output_row);
            row
        })
        .collect()
}

/// Replays an interrupted run's task-log records into the fresh journal and the running
/// reduction, and returns the tasks they hold.
fn replay<J: JobKind>(
    job: &J,
    records: &[Vec<u8>],
    rows: &mut crate::results::TableWriter,
    running: &mut J::Running,
    file: &ResultFile,
) -> anyhow::Result<std::collections::BTreeSet<usize>> {
    let mut done = std::collections::BTreeSet::new();
    let mut replayed_rows = Vec::new();
    for record in records {
        let task: LoggedTask<J::Output> = rmp_serde::from_slice(record).map_err(|err| {
            anyhow::anyhow!("--resume: a task-log record does not decode ({err}); it was written by another triton-batch build: run without --resume")
        })?;
        anyhow::ensure!(
            task.task < job.n_tasks(),
            "--resume: the task log names task {}, outside 0..{}",
            task.task,
            job.n_tasks()
        );
        if !done.insert(task.task) {
            continue;
        }
        replayed_rows.extend(journal_rows(job, &task.borrowed()));
        running.absorb(job, &task.output, file)?;
    }
    rows.append(&replayed_rows)?;
    Ok(done)
}

/// What rank 0 says when SIGINT or SIGTERM stops the task phase: how many tasks the journal
/// holds and the command that finishes the run.
fn interrupt_note(
    saved: std::rc::Rc<std::cell::Cell<usize>>,
    n_tasks: usize,
    journal: &Path,
    size: usize,
) -> crate::runtime::InterruptNote {
    let journal = journal.display().to_string();
    let command = resume_command(std::env::args().collect(), size);
    Box::new(move || {
        format!(
            "{} of {n_tasks} tasks are saved in `{journal}`\ntriton-batch: to finish the run: {command}",
            saved.get()
        )
    })
}

/// This process's command line with `--resume`, behind `mpirun -np SIZE` when there are several
/// ranks (add your own -hostfile and launcher options), quoted for a POSIX shell.
fn resume_command(args: Vec<String>, size: usize) -> String {
    let quote = |arg: &String| {
        let plain = !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
        if plain {
            arg.clone()
        } else {
            format!("'{}'", arg.replace('\'', "'\\''"))
        }
    };
    let mut words: Vec<String> = args.iter().map(quote).collect();
    if !args.iter().skip(1).any(|a| a == "--resume") {
        words.push("--resume".into());
    }
    let command = words.join(" ");
    match size {
        1 => command,
        n => format!("mpirun -np {n} {command}"),
    }
}

/// A job's worker whose tasks run inside the rank's thread pool.
struct Threaded<'p, W> {
    tasks: W,
    pool: &'p Pool,
}

impl<W: Tasks> Tasks for Threaded<'_, W> {
    type Output = W::Output;

    fn run(&self, task: usize) -> anyhow::Result<W::Output> {
        self.pool.install(|| self.tasks.run(task))
    }

    fn threads(&self) -> usize {
        self.pool.threads()
    }

    fn cost(&self, task: usize) -> scheduler::TaskCost {
        self.tasks.cost(task)
    }
}

/// The table of every task's predicted cost (what the dynamic schedule ordered by), for
/// `simulate` to replay the same order.
pub const TASK_COSTS: &str = "task_costs";

fn task_costs_table<T: Tasks>(tasks: &T, n_tasks: usize) -> Table {
    let schema = Schema::new().i64("task").i64("class").f64("units");
    let rows = (0..n_tasks)
        .map(|task| {
            let cost = tasks.cost(task);
            vec![
                Value::I64(task as i64),
                Value::I64(cost.class as i64),
                Value::F64(cost.units),
            ]
        })
        .collect();
    Table { schema, rows }
}

/// Journal rows in task-id order (stable, so a task's rows keep their order): the order every
/// reduction uses, whatever order the tasks finished in.
fn sorted_by_task(mut table: Table) -> anyhow::Result<Table> {
    let tasks = table.i64_column("task")?;
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by_key(|&i| tasks[i]);
    let mut rows: Vec<Option<Row>> = table.rows.drain(..).map(Some).collect();
    table.rows = order.into_iter().filter_map(|i| rows[i].take()).collect();
    Ok(table)
}

/// Per rank in this run: tasks done, busy seconds and peak memory, to see the load balance, and
/// whether the rank was lost (when it went silent).
struct RankLoad {
    hosts: Vec<String>,
    load: Vec<Load>,
}

#[derive(Default, Clone, Copy)]
struct Load {
    tasks: i64,
    busy_seconds: f64,
    peak_rss_mb: f64,
    threads: i64,
}

impl RankLoad {
    fn new(hosts: &[String]) -> Self {
        RankLoad {
            hosts: hosts.to_vec(),
            load: vec![Load::default(); hosts.len()],
        }
    }

    /// Counts the task and returns the host of the rank that ran it.
    fn record<O>(&mut self, completed: &Completed<O>) -> String {
        if let Some(load) = self.load.get_mut(completed.rank) {
            load.tasks += 1;
            load.busy_seconds += completed.seconds;
            load.peak_rss_mb = load.peak_rss_mb.max(completed.peak_rss_mb);
            load.threads = completed.threads as i64;
        }
        self.hosts.get(completed.rank).cloned().unwrap_or_default()
    }

    fn table(&self, lost: &[LostRank]) -> Table {
        let schema = Schema::new()
            .i64("rank")
            .str("host", 64)
            .i64("tasks")
            .f64("busy_seconds")
            .f64("peak_rss_mb")
            .i64("threads")
            .i64("lost")
            .f64("lost_after_seconds");
        let rows = self
            .load
            .iter()
            .enumerate()
            .map(|(rank, load)| {
                let lost = lost.iter().find(|l| l.rank == rank);
                vec![
                    Value::I64(rank as i64),
                    Value::Str(self.hosts[rank].clone()),
                    Value::I64(load.tasks),
                    Value::F64(load.busy_seconds),
                    Value::F64(load.peak_rss_mb),
                    Value::I64(load.threads),
                    Value::I64(lost.is_some() as i64),
                    Value::F64(lost.map_or(f64::NAN, |l| l.silent_after_seconds)),
                ]
            })
            .collect();
        Table { schema, rows }
    }
}
