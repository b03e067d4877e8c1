//! Job files: reading TOML text, turning serde's complaints into one-line errors that name the file,
//! line and key, and validating each job kind into checked types. Nothing here runs a job.

pub mod data;
pub mod forest;
pub mod gridsearch;
pub mod montecarlo;
pub mod sizes;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A problem with a job file, reported before any compute starts.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot read job file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("job file `{}`, line {line}, column {column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("job file `{}`: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl JobError {
    pub fn invalid(path: &Path, message: impl std::fmt::Display) -> Self {
        JobError::Invalid {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

/// A job file as read: its exact text (stored in result files, compared on resume) and its path.
#[derive(Debug, Clone)]
pub struct JobText {
    pub path: PathBuf,
    pub text: String,
}

impl JobText {
    pub fn read(path: &Path) -> Result<Self, JobError> {
        let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(JobText {
            path: path.to_path_buf(),
            text,
        })
    }

    /// The job's name: the file name without its extension; it names the default result file.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "job".to_string())
    }

    /// Deserializes the text, reporting syntax errors and unknown keys with line and column.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        toml::from_str(&self.text).map_err(|err| {
            let (line, column) = err
                .span()
                .map(|span| line_and_column(&self.text, span.start))
                .unwrap_or((0, 0));
            JobError::Syntax {
                path: self.path.clone(),
                line,
                column,
                message: err.message().trim().replace('\n', " "),
            }
        })
    }

    /// The top-level table names, to tell a job file's kind.
    pub fn sections(&self) -> Result<Vec<String>, JobError> {
        let table: toml::Table = self.parse()?;
        Ok(table.keys().cloned().collect())
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The kinds of job file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MonteCarlo,
    GridSearch,
    Forest,
}

/// A job file's kind, told by the sections that mark it.
pub fn kind_of(job: &JobText) -> Result<Kind, JobError> {
    let sections = job.sections()?;
    if sections.iter().any(|s| s == "simulation" || s == "model") {
        return Ok(Kind::MonteCarlo);
    }
    if sections.iter().any(|s| s == "grid" || s == "estimator") {
        return Ok(Kind::GridSearch);
    }
    if sections.iter().any(|s| s == "forest") {
        return Ok(Kind::Forest);
    }
    Err(JobError::invalid(
        &job.path,
        format!(
            "cannot tell the job kind from its sections [{}]; a Monte Carlo job has [model], [option] and [simulation]; a grid search [data], [estimator], [grid], [cv]; a forest [data] and [forest]",
            sections.join("], [")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
    }
}
