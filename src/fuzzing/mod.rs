//! Entry points for the fuzz targets (`fuzz/`, run by `scripts/fuzz`) and for the tests that
//! replay what they found (`fuzz/regressions/`): each hands one input, as bytes, to the code that
//! reads that kind of input for the command line, and checks what a user would see: a result, or
//! an error of one line. A panic, an abort, a hang or memory out of proportion here is a bug.

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::jobfile::{self, JobText, Kind};
use crate::jobfile::{forest::ForestJob, gridsearch::GridSearchJob, montecarlo::MonteCarloJob};
use crate::results::ResultFile;
use crate::runner::{tasklog::TaskLog, JobKind, LoggedTask};

type Output<J> = <J as JobKind>::Output;

/// Panics (which the fuzzer reports) when an error would not print as one line, or says
/// nothing.
fn one_line<T>(outcome: anyhow::Result<T>) {
    if let Err(err) = outcome {
        let line = crate::error_line(&err);
        assert!(
            !line.contains('\n') && !line.trim().is_empty(),
            "an error that does not print as one line: {line:?}"
        );
    }
}

/// Caps the memory a job or reader may plan for (TRITON_BATCH_MEMORY_MB) below the fuzzer's own
/// limit, so that an input declaring gigabytes is refused by the size checks, as on a small Pi.
fn cap_memory() {
    static CAP: std::sync::Once = std::sync::Once::new();
    CAP.call_once(|| std::env::set_var("TRITON_BATCH_MEMORY_MB", "512"));
}

/// This process's scratch file with `extension`, holding `data`: readers that take a path.
fn scratch(data: &[u8], extension: &str) -> PathBuf {
    cap_memory();
    let path = std::env::temp_dir().join(format!(
        "triton-batch-fuzz-{}.{extension}",
        std::process::id()
    ));
    std::fs::write(&path, data).expect("writing the fuzz input to a scratch file");
    path
}

/// A job file of any kind, validated as `validate` and the job commands do.
pub fn jobfile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    cap_memory();
    let job = JobText {
        path: PathBuf::from("fuzz.toml"),
        text: text.to_owned(),
    };
    one_line(validate(&job));
}

fn validate(job: &JobText) -> anyhow::Result<()> {
    let sizes = match jobfile::kind_of(job)? {
        Kind::MonteCarlo => MonteCarloJob::from_text(job, None)?.sizes(),
        Kind::GridSearch => GridSearchJob::from_text(job, &Default::default())?.sizes(),
        Kind::Forest => ForestJob::from_text(job, &Default::default())?.sizes(),
    };
    let _ = jobfile::sizes::human(sizes.memory);
    Ok(())
}

/// A hostfile, planned into scaling steps as `hosts` does.
pub fn hostfile(data: &[u8]) {
    one_line(crate::scaling::hosts(&scratch(data, "txt"), None));
}

/// `simulate --nodes` text.
pub fn nodes(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    one_line(
        crate::simulate::nodes::Cluster::parse(text)
            .map(|cluster| cluster.ranks_specs().len())
            .map_err(anyhow::Error::from),
    );
}

/// A CSV data file, as training data and as rows to predict.
pub fn csv(data: &[u8]) {
    let path = scratch(data, "csv");
    one_line(crate::datafile::load(&path).map_err(anyhow::Error::from));
    one_line(crate::datafile::load_samples(&path, 4).map_err(anyhow::Error::from));
}

/// An HDF5 file (its first byte chooses the reader): training data, a saved model used for a
/// prediction, a result file shown by `show`, or a journal as `--resume` reads it.
pub fn hdf5(data: &[u8]) {
    let Some((&reader, bytes)) = data.split_first() else {
        return;
    };
    let path = scratch(bytes, "h5");
    match reader % 4 {
        0 => one_line(crate::datafile::load(&path).map_err(anyhow::Error::from)),
        1 => one_line(predict_zeros(&path)),
        2 => one_line(crate::report::show(&path, &Default::default())),
        _ => one_line(journal(&path)),
    }
}

fn predict_zeros(path: &Path) -> anyhow::Result<()> {
    let model = crate::model::open(path)?;
    // Rows as wide as the model says, when that is a width a data file could have.
    if model.n_features() > 100_000 {
        return Ok(());
    }
    let x = Array2::zeros((3, model.n_features()));
    crate::model::run_model(&model, &x).map(|_| ())
}

/// What `--resume` reads from a journal: the job's attributes, every table, a forest's sums.
fn journal(path: &Path) -> anyhow::Result<()> {
    let file = ResultFile::open_read(path)?;
    for attr in ["job_toml", "seed", "job_fingerprint", "job_kind"] {
        let _ = file.attr(attr);
    }
    for name in file.table_names()? {
        let _ = file.read_table(&name)?;
    }
    if let Ok(bytes) = file.read_bytes("forest_votes") {
        crate::ml::forest::ForestVotes::from_bytes(&bytes)?;
    }
    Ok(())
}

/// A task log (`<out>.tasks`) as `--resume` reads it, its records decoded as each job kind's.
pub fn tasklog(data: &[u8]) {
    let path = scratch(data, "tasks");
    one_line(task_log(&path));
}

fn task_log(path: &Path) -> anyhow::Result<()> {
    let Some(reopened) = TaskLog::reopen(path, "fuzz")? else {
        return Ok(());
    };
    for record in &reopened.records {
        let _ = rmp_serde::from_slice::<LoggedTask<Output<GridSearchJob>>>(record);
        let _ = rmp_serde::from_slice::<LoggedTask<Output<MonteCarloJob>>>(record);
        if let Ok(task) = rmp_serde::from_slice::<LoggedTask<Output<ForestJob>>>(record) {
            crate::ml::forest::ForestVotes::from_bytes(&task.output.votes)?;
        }
    }
    Ok(())
}
