//! `triton-batch show`: a result file as text. First the file's root attributes, one
//! `name: value` per line (empty ones left out; a multi-line value such as `job_toml` as its line
//! count, or with `--all` in full, indented below the name), then each table (or the one asked for) under `== <table> (<n> rows) ==` as an aligned
//! grid like pandas' `print(df.head())`, optionally sorted by a column. `scaling` reports the
//! scaling runs (`triton-batch report`), `plot` draws result files as charts.

pub(crate) mod grid;
pub mod plot;
pub mod scaling;

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;

use crate::results::{ResultFile, Table, Value, VERSION_ATTR};

pub use grid::format_floats;

/// What `show` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShowOptions {
    /// Only this table (default: every table, in name order).
    pub table: Option<String>,
    /// Every row instead of the first `head`, and multi-line attributes in full.
    pub all: bool,
    /// Sort rows by this column, ascending (stable; NaN last), before taking the head.
    /// Without `table` it applies to the tables that have the column.
    pub sort: Option<String>,
    /// Rows shown per table unless `all`.
    pub head: usize,
}

impl Default for ShowOptions {
    fn default() -> Self {
        ShowOptions {
            table: None,
            all: false,
            sort: None,
            head: 5,
        }
    }
}

/// Renders a result file as text (see the module documentation). A file that is missing, not
/// HDF5 or not a triton-batch result file, an unknown table and an unknown sort column are
/// one-line errors, the last two listing what exists.
pub fn show(path: &Path, opts: &ShowOptions) -> anyhow::Result<String> {
    let file = ResultFile::open_read(path)?;
    let attrs = file.attrs()?;
    if !attrs.iter().any(|(name, _)| name == VERSION_ATTR) {
        bail!(
            "{} is not a triton-batch result file (it has no `{VERSION_ATTR}` attribute)",
            path.display()
        );
    }

    let names = file.table_names()?;
    let selected: Vec<String> = match &opts.table {
        Some(name) if names.contains(name) => vec![name.clone()],
        Some(name) => bail!(
            "no table `{name}` in {}; tables: {}",
            path.display(),
            list(&names)
        ),
        None => names,
    };
    let tables = selected
        .into_iter()
        .map(|name| Ok((file.read_table(&name)?, name)))
        .collect::<anyhow::Result<Vec<(Table, String)>>>()?;

    if let Some(col) = &opts.sort {
        if !tables.iter().any(|(t, _)| t.column(col).is_some()) {
            let columns: Vec<String> = tables
                .iter()
                .map(|(t, name)| format!("{name}: {}", t.schema.names().join(", ")))
                .collect();
            let what = match &opts.table {
                Some(name) => format!("table `{name}`"),
                None => "any table".into(),
            };
            bail!(
                "no column `{col}` in {what} of {}; columns: {}",
                path.display(),
                if columns.is_empty() {
                    "(none)".into()
                } else {
                    columns.join("; ")
                }
            );
        }
    }

    let mut out = String::new();
    for (name, value) in &attrs {
        render_attr(&mut out, name, value, opts.all);
    }
    for (table, name) in &tables {
        let mut indices: Vec<usize> = (0..table.len()).collect();
        if let Some(c) = opts.sort.as_deref().and_then(|col| table.column(col)) {
            indices.sort_by(|&a, &b| compare(&table.rows[a][c], &table.rows[b][c]));
        }
        let shown = if opts.all {
            indices.len()
        } else {
            opts.head.min(indices.len())
        };
        let _ = writeln!(out, "\n== {name} ({} rows) ==", table.len());
        out.push_str(&grid::render(table, &indices[..shown]));
        if shown < indices.len() {
            let _ = writeln!(
                out,
                "[{shown} of {} rows; --all shows every row]",
                indices.len()
            );
        }
    }
    Ok(out)
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// `name: value`; nothing for an empty value; for multi-line text its line count, or with `full`
/// `name:` and the lines indented by four spaces. The job text is what a reader skips on the way
/// to the tables, and what `--all` is for.
fn render_attr(out: &mut String, name: &str, value: &Value, full: bool) {
    let text = value.to_string();
    let text = text.trim_end_matches(['\n', '\r']);
    if text.is_empty() {
        return;
    }
    if text.contains('\n') && !full {
        let lines = text.lines().count();
        let _ = writeln!(out, "{name}: ({lines} lines; --all prints them)");
    } else if text.contains('\n') {
        let _ = writeln!(out, "{name}:");
        for line in text.lines() {
            let line = format!("    {line}");
            let _ = writeln!(out, "{}", line.trim_end());
        }
    } else {
        let _ = writeln!(out, "{name}: {text}");
    }
}

/// Ascending order of one column's values: numbers by value with NaN last, strings by bytes,
/// false before true.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::I64(x), Value::I64(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => match (x.is_nan(), y.is_nan()) {
                (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                (nx, ny) => nx.cmp(&ny),
            },
            // Mixed kinds cannot occur within a column; numbers before strings anyway.
            (x, y) => y.is_some().cmp(&x.is_some()),
        },
    }
}

#[cfg(test)]
mod tests;
