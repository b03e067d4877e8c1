//! `triton-batch plot`: draws a result file as an SVG or PNG chart chosen by its `job_kind`
//! attribute: a grid search's mean test score as a heatmap over two parameters (`heatmap`), or a
//! halving search's by iteration (`halving`), a
//! forest's feature importances as bars (`importances`), a Monte Carlo price converging over its
//! blocks (`convergence`); with `--timeline`, any of them as a task stream per rank (`timeline`).
//! `figure` holds what the charts share; `scaling` draws the chart of `triton-batch report`.

mod convergence;
mod figure;
mod halving;
mod heatmap;
mod importances;
pub(crate) mod scaling;
mod timeline;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::results::{ResultFile, Table, Value};

pub use figure::{Format, FIGURE_SIZE};

/// The job kinds `plot` draws, as named by the `job_kind` attribute.
const KINDS: &str = "gridsearch, forest, montecarlo";

/// A user's mistake in what to plot or where; each message names the file or flag and what
/// would be accepted.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{flag} {}: unsupported plot format {}; use a .svg or .png file name", path.display(), extension(path))]
    Format { flag: &'static str, path: PathBuf },
    #[error("no font for the plot's text ({reason}); install Debian's fonts-dejavu-core (scripts/setup does)")]
    NoFont { reason: String },
    #[error("{}: no `job_kind` attribute, so not a job result; plot draws results of {KINDS} (for results/scaling.h5 use `triton-batch report --plot FILE.svg`)", file.display())]
    NoKind { file: PathBuf },
    #[error("{}: cannot plot job kind `{kind}`; plot draws results of {KINDS}", file.display())]
    UnknownKind { file: PathBuf, kind: String },
    #[error("{}: no table `{table}`, which a complete {kind} result has; tables: {tables}", file.display())]
    MissingTable {
        file: PathBuf,
        table: &'static str,
        kind: &'static str,
        tables: String,
    },
    #[error("{}: {flag} `{name}` is not a searched parameter; parameters: {allowed}", file.display())]
    UnknownParameter {
        file: PathBuf,
        flag: &'static str,
        name: String,
        allowed: String,
    },
    #[error("{}: --x and --y both name `{name}`; choose two of: {allowed}", file.display())]
    SameParameter {
        file: PathBuf,
        name: String,
        allowed: String,
    },
    #[error("{}: --x and --y apply to grid-search results only; this is a {kind} result", file.display())]
    AxesNotApplicable { file: PathBuf, kind: String },
}

fn extension(path: &Path) -> String {
    match path.extension() {
        Some(ext) => format!("`.{}`", ext.to_string_lossy()),
        None => "(no extension)".into(),
    }
}

/// What `plot` draws and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlotOptions {
    /// The chart file [default: the input with extension `.svg`].
    pub out: Option<PathBuf>,
    /// Grid search: the parameter across the heatmap (name with or without `param_`).
    pub x: Option<String>,
    /// Grid search: the parameter up the heatmap.
    pub y: Option<String>,
    /// Draw the run's tasks per rank over time instead of the result.
    pub timeline: bool,
}

/// Draws the chart of result file `path` and returns the file written.
pub fn plot(path: &Path, opts: &PlotOptions) -> anyhow::Result<PathBuf> {
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| path.with_extension("svg"));
    Format::of(&out, "--out")?;
    let file = ResultFile::open_read(path)?;
    let kind = match file.attr("job_kind") {
        Ok(Value::Str(kind)) => kind,
        _ => {
            return Err(PlotError::NoKind {
                file: path.to_path_buf(),
            }
            .into())
        }
    };
    if kind != "gridsearch" && (opts.x.is_some() || opts.y.is_some()) {
        return Err(PlotError::AxesNotApplicable {
            file: path.to_path_buf(),
            kind,
        }
        .into());
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if opts.timeline {
        let (kind, journal, what, part): (_, _, _, fn(&Table, usize) -> String) =
            match kind.as_str() {
                "gridsearch" => ("gridsearch", "splits", "search tasks", timeline::kernel_of),
                "forest" => ("forest", "blocks", "tree blocks", |_, _| {
                    "tree block".into()
                }),
                "montecarlo" => ("montecarlo", "blocks", "path blocks", |_, _| {
                    "path block".into()
                }),
                _ => {
                    return Err(PlotError::UnknownKind {
                        file: path.to_path_buf(),
                        kind,
                    }
                    .into())
                }
            };
        let journal = table(&file, journal, kind)?;
        let chart = timeline::Timeline::from_journal(&journal, &name, what, part)?;
        figure::render(&chart, &out, "--out")?;
        return Ok(out);
    }
    match kind.as_str() {
        "gridsearch" if is_halving(&file)? => {
            if opts.x.is_some() || opts.y.is_some() {
                return Err(PlotError::AxesNotApplicable {
                    file: path.to_path_buf(),
                    kind: "halving search (drawn by iteration)".into(),
                }
                .into());
            }
            let cv = table(&file, "cv_results", "gridsearch")?;
            let best = match file.has_table("best") {
                true => Some(file.read_table("best")?.i64_column("best_index")?[0] as usize),
                false => None,
            };
            let chart = halving::Halving::from_table(&cv, "mean_test_score", best, &name)?;
            figure::render(&chart, &out, "--out")?;
        }
        "gridsearch" => {
            let heatmap = heatmap::Heatmap::from_file(&file, &name, opts)?;
            figure::render(&heatmap, &out, "--out")?;
        }
        "forest" => {
            let bars = importances::Importances::from_table(
                &table(&file, "feature_importances", "forest")?,
                &name,
            )?;
            figure::render(&bars, &out, "--out")?;
        }
        "montecarlo" => {
            let chart = convergence::Convergence::from_file(&file, &name)?;
            figure::render(&chart, &out, "--out")?;
        }
        _ => {
            return Err(PlotError::UnknownKind {
                file: path.to_path_buf(),
                kind,
            }
            .into())
        }
    }
    Ok(out)
}

/// Whether a grid-search result is a halving search's (its `cv_results` has an `iter` column).
fn is_halving(file: &ResultFile) -> anyhow::Result<bool> {
    Ok(file.has_table("cv_results")
        && file
            .read_table("cv_results")?
            .schema
            .columns
            .iter()
            .any(|c| c.name == "iter"))
}

/// A table the job kind `kind` always writes, or an error listing the tables there are.
fn table(file: &ResultFile, name: &'static str, kind: &'static str) -> anyhow::Result<Table> {
    if !file.has_table(name) {
        let tables = file.table_names()?;
        return Err(PlotError::MissingTable {
            file: file.path().to_path_buf(),
            table: name,
            kind,
            tables: crate::report::list(&tables),
        }
        .into());
    }
    file.read_table(name)
        .with_context(|| format!("plotting {}", file.path().display()))
}
