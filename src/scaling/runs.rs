//! The `runs` table of a scaling file (results/scaling.h5): one row per run of a sweep, made from
//! the run's result file (its attributes and `ranks` table) and what only the caller knows (hosts
//! used, repeat, time around mpirun). Rows are appended and flushed one at a time, so a failed run
//! later in a sweep leaves the earlier rows intact; a new scaling file appears only complete.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

use crate::jobfile::JobText;
use crate::results::{ResultFile, Row, Schema, Value};

/// The table's name in a scaling file.
pub const RUNS_TABLE: &str = "runs";

/// The root attribute `kind` of a scaling file.
pub const SCALING_KIND: &str = "scaling";

/// The columns of `runs`, in order (the contract with `triton-batch report`).
pub fn runs_schema() -> Schema {
    Schema::new()
        .str("job", 64)
        .str("job_hash", 16)
        .str("job_kind", 16)
        .i64("hosts")
        .str("host_names", 256)
        .i64("ranks")
        .i64("repeat")
        .f64("wall_seconds")
        .f64("job_seconds")
        .i64("tasks")
        .f64("busy_max_seconds")
        .f64("busy_mean_seconds")
        .str("date", 32)
        .str("triton_batch_version", 16)
        .str("result_file", 256)
}

/// First 16 hex digits of the SHA-256 of a job file's text.
pub fn job_hash(text: &str) -> String {
    let digest = format!("{:x}", Sha256::digest(text.as_bytes()));
    digest[..16].to_string()
}

/// What the caller of a run knows that the result file does not.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub host_names: Vec<String>,
    pub repeat: i64,
    pub wall_seconds: f64,
}

/// The `runs` row of one finished run.
pub fn run_row(result_path: &Path, job: &JobText, context: &RunContext) -> anyhow::Result<Row> {
    let result = ResultFile::open_read(result_path)?;
    let name = result_path.display();
    let str_attr = |attr: &str| -> anyhow::Result<String> {
        match result.attr(attr)? {
            Value::Str(s) => Ok(s),
            other => bail!("`{name}`: attribute `{attr}` is {other:?}, not a string"),
        }
    };
    let number_attr = |attr: &str| -> anyhow::Result<f64> {
        result
            .attr(attr)?
            .as_f64()
            .with_context(|| format!("`{name}`: attribute `{attr}` is not a number"))
    };
    if str_attr("job_toml")? != job.text {
        bail!(
            "`{name}` was not written by the job `{}` (its job_toml differs from that file's text)",
            job.path.display()
        );
    }
    let ranks = result
        .read_table("ranks")
        .with_context(|| format!("`{name}` is not a finished run"))?;
    let tasks: i64 = ranks.i64_column("tasks")?.iter().sum();
    let busy = ranks.f64_column("busy_seconds")?;
    let busy_max = busy.iter().copied().fold(0.0, f64::max);
    let busy_mean = busy.iter().sum::<f64>() / busy.len().max(1) as f64;
    let date = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)?;
    Ok(vec![
        Value::Str(job.name()),
        Value::Str(job_hash(&job.text)),
        Value::Str(str_attr("job_kind")?),
        Value::I64(context.host_names.len() as i64),
        Value::Str(context.host_names.join(",")),
        Value::I64(number_attr("n_ranks")? as i64),
        Value::I64(context.repeat),
        Value::F64(context.wall_seconds),
        Value::F64(number_attr("wall_seconds")?),
        Value::I64(tasks),
        Value::F64(busy_max),
        Value::F64(busy_mean),
        Value::Str(date),
        Value::Str(env!("CARGO_PKG_VERSION").into()),
        Value::Str(result_path.display().to_string()),
    ])
}

/// Appends `row` to the `runs` table of `into`. A missing file is written whole under a temporary
/// name and renamed into place; an existing one must be a scaling file with this table's columns.
pub fn append_run(into: &Path, row: Row) -> anyhow::Result<()> {
    let schema = runs_schema();
    if into.exists() {
        let file = ResultFile::open_rw(into)?;
        match file.attr("kind") {
            Ok(Value::Str(kind)) if kind == SCALING_KIND => {}
            _ => bail!(
                "`{}` is not a scaling file (no root attribute kind = \"scaling\"); choose another --into",
                into.display()
            ),
        }
        let mut runs = file.append_table(RUNS_TABLE)?;
        if runs.schema() != &schema {
            bail!(
                "`{}`: table `runs` has other columns than this version of triton-batch writes ({}); choose another --into",
                into.display(),
                runs.schema().names().join(", ")
            );
        }
        return runs.append(&[row]);
    }
    let mut partial = into.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    {
        let file = ResultFile::create(&partial)?;
        file.set_attr("kind", &Value::Str(SCALING_KIND.into()))?;
        file.create_table(RUNS_TABLE, &schema)?.append(&[row])?;
    }
    std::fs::rename(&partial, into)
        .with_context(|| format!("renaming `{}` to `{}`", partial.display(), into.display()))
}

/// `triton-batch record-run`: appends the run's row and returns a one-line summary of it.
/// What `record-run` is told about a finished run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The run's result file.
    pub result: PathBuf,
    /// The job file that was run.
    pub job: PathBuf,
    /// The scaling file to append to (created if missing).
    pub into: PathBuf,
    /// Hosts the run used, comma-separated as in the hostfile.
    pub host_names: String,
    /// Which repetition of this configuration this run was (1..R).
    pub repeat: u32,
    /// Seconds the whole mpirun took, measured around it.
    pub wall_seconds: f64,
}

pub fn record_run(args: &RunRecord) -> anyhow::Result<String> {
    if !(args.wall_seconds.is_finite() && args.wall_seconds >= 0.0) {
        bail!(
            "--wall-seconds {}: expected the seconds the run took (a number >= 0)",
            args.wall_seconds
        );
    }
    let host_names: Vec<String> = args
        .host_names
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(String::from)
        .collect();
    if host_names.is_empty() {
        bail!(
            "--host-names `{}`: expected host names separated by commas, e.g. pi1.local,pi2.local",
            args.host_names
        );
    }
    let job = JobText::read(&args.job)?;
    let context = RunContext {
        host_names,
        repeat: i64::from(args.repeat),
        wall_seconds: args.wall_seconds,
    };
    let row = run_row(&args.result, &job, &context)?;
    let summary = summary(&row);
    if let Some(dir) = args.into.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the folder of --into `{}`", args.into.display()))?;
    }
    append_run(&args.into, row)?;
    Ok(format!("{summary} -> {}", args.into.display()))
}

fn summary(row: &Row) -> String {
    let schema = runs_schema();
    let get = |name: &str| &row[schema.index_of(name).expect("a runs column")];
    format!(
        "{} {}: {} host(s) ({}), {} rank(s), repeat {}: {:.2} s (job {:.2} s), {} tasks, busy max/mean {:.2}",
        get("job_kind"),
        get("job"),
        get("hosts"),
        get("host_names"),
        get("ranks"),
        get("repeat"),
        get("wall_seconds").as_f64().unwrap_or(f64::NAN),
        get("job_seconds").as_f64().unwrap_or(f64::NAN),
        get("tasks"),
        get("busy_max_seconds").as_f64().unwrap_or(f64::NAN)
            / get("busy_mean_seconds").as_f64().unwrap_or(f64::NAN),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_hash_is_the_first_16_hex_digits_of_sha256() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223...
        assert_eq!(job_hash("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn rows_append_to_a_new_then_an_existing_scaling_file() {
        let dir = tempfile::tempdir().unwrap();
        let into = dir.path().join("scaling.h5");
        let row = |ranks: i64| -> Row {
            runs_schema()
                .columns
                .iter()
                .map(|c| match (c.name.as_str(), c.ty) {
                    ("ranks", _) => Value::I64(ranks),
                    (_, crate::results::ColumnType::F64) => Value::F64(1.5),
                    (_, crate::results::ColumnType::I64) => Value::I64(1),
                    _ => Value::Str("x".into()),
                })
                .collect()
        };
        append_run(&into, row(1)).unwrap();
        append_run(&into, row(2)).unwrap();
        let file = ResultFile::open_read(&into).unwrap();
        assert_eq!(file.attr("kind").unwrap(), Value::Str("scaling".into()));
        let runs = file.read_table(RUNS_TABLE).unwrap();
        assert_eq!(runs.schema, runs_schema());
        assert_eq!(runs.i64_column("ranks").unwrap(), [1, 2]);
        assert!(!dir.path().join("scaling.h5.partial").exists());
    }

    #[test]
    fn another_kind_of_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let into = dir.path().join("other.h5");
        ResultFile::create(&into).unwrap();
        let err = append_run(&into, vec![]).unwrap_err().to_string();
        assert!(err.contains("is not a scaling file"), "{err}");
    }
}
