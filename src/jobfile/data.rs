//! The `[data]` section shared by grid-search and forest jobs: where the labelled data comes from
//! (`make_classification`, `digits` or a user's HDF5/CSV file), and the optional test data (a
//! seeded stratified holdout or a separate file). Loading happens on rank 0 only.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ml::cv::stratified_train_test_split;
use crate::datafile;
use crate::ml::dataset::{digits, make_classification, MakeClassification};
use crate::ml::Dataset;

/// Where the data comes from, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    MakeClassification(MakeClassification),
    Digits,
    File(PathBuf),
}

/// The test data a refit model is scored on.
#[derive(Debug, Clone, PartialEq)]
pub enum TestData {
    None,
    /// A stratified holdout of this fraction, drawn with the data's `random_state`.
    Holdout {
        test_size: f64,
        seed: u64,
    },
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    pub source: Source,
    pub test: TestData,
}

/// Training data, and test data when the job asks for it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub train: Dataset,
    pub test: Option<Dataset>,
    /// What the data is, for messages and attributes (`make_classification(n_samples=20000, ...)`).
    pub origin: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SourceName {
    MakeClassification,
    Digits,
    File,
}

impl DataSpec {
    /// Checks a `[data]` table. Keys other than `source`, `path`, `test_size` and `test_path` are
    /// make_classification's parameters, with scikit-learn's names.
    pub fn from_table(table: &toml::Table) -> Result<Self, String> {
        let mut rest = table.clone();
        let source: SourceName = take(&mut rest, "source")?.ok_or_else(|| {
            "[data] source is required: \"make_classification\", \"digits\" or \"file\"".to_string()
        })?;
        let path: Option<PathBuf> = take(&mut rest, "path")?;
        let test_size: Option<f64> = take(&mut rest, "test_size")?;
        let test_path: Option<PathBuf> = take(&mut rest, "test_path")?;
        let source = match source {
            SourceName::MakeClassification => {
                if path.is_some() {
                    return Err("[data] path applies only to source = \"file\"".into());
                }
                let params: MakeClassification = toml::Value::Table(rest)
                    .try_into()
                    .map_err(|e: toml::de::Error| format!("[data] {}", e.message().trim()))?;
                Source::MakeClassification(params)
            }
            SourceName::Digits | SourceName::File => {
                if let Some(key) = rest.keys().find(|k| *k != "random_state") {
                    return Err(format!(
                        "[data] {key} is a make_classification parameter; this source takes path, test_size, test_path and random_state"
                    ));
                }
                match (source, path) {
                    (SourceName::File, Some(path)) => Source::File(path),
                    (SourceName::File, None) => {
                        return Err(
                            "[data] source = \"file\" needs path = \"data/x.h5\" (or .csv)".into(),
                        )
                    }
                    (_, Some(_)) => {
                        return Err("[data] path applies only to source = \"file\"".into())
                    }
                    _ => Source::Digits,
                }
            }
        };
        let seed = table
            .get("random_state")
            .and_then(toml::Value::as_integer)
            .unwrap_or(0) as u64;
        let test = match (test_size, test_path) {
            (Some(_), Some(_)) => {
                return Err("[data] give test_size or test_path, not both".into());
            }
            (Some(t), None) if t > 0.0 && t < 1.0 => TestData::Holdout { test_size: t, seed },
            (Some(t), None) => {
                return Err(format!(
                    "[data] test_size must be between 0 and 1 (exclusive), got {t}"
                ))
            }
            (None, Some(path)) => TestData::File(path),
            (None, None) => TestData::None,
        };
        Ok(DataSpec { source, test })
    }

    /// The same spec with the training data read from `path` (the `--data` flag).
    pub fn with_file(mut self, path: &Path) -> Self {
        self.source = Source::File(path.to_path_buf());
        self
    }

    /// Loads or generates the data (rank 0).
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let (all, origin) = match &self.source {
            Source::MakeClassification(p) => (
                make_classification(p).map_err(|e| anyhow::anyhow!("[data] {e}"))?,
                format!(
                    "make_classification(n_samples={}, n_features={}, random_state={})",
                    p.n_samples, p.n_features, p.random_state
                ),
            ),
            Source::Digits => (digits(), "digits".to_string()),
            Source::File(path) => (datafile::load(path)?, path.display().to_string()),
        };
        let (train, test) = match &self.test {
            TestData::None => (all, None),
            TestData::Holdout { test_size, seed } => {
                let split = stratified_train_test_split(&all.y, *test_size, *seed)
                    .map_err(|e| anyhow::anyhow!("[data] test_size: {e}"))?;
                (all.select(&split.0), Some(all.select(&split.1)))
            }
            TestData::File(path) => {
                let test = align_classes(datafile::load(path)?, &all, path)?;
                (all, Some(test))
            }
        };
        Ok(Loaded {
            train,
            test,
            origin,
        })
    }
}

/// Removes `key` from `table` and deserialises it, naming the key on a type error.
fn take<T: serde::de::DeserializeOwned>(
    table: &mut toml::Table,
    key: &str,
) -> Result<Option<T>, String> {
    table
        .remove(key)
        .map(|value| {
            value
                .try_into()
                .map_err(|e: toml::de::Error| format!("[data] {key}: {}", e.message().trim()))
        })
        .transpose()
}

/// Re-labels test data with the training data's class indices; refuses unseen classes or a
/// different number of features.
fn align_classes(test: Dataset, train: &Dataset, path: &Path) -> anyhow::Result<Dataset> {
    if test.x.ncols() != train.x.ncols() {
        anyhow::bail!(
            "test file `{}` has {} features, the training data {}",
            path.display(),
            test.x.ncols(),
            train.x.ncols()
        );
    }
    let mapping = test
        .classes
        .iter()
        .map(|label| {
            train
                .classes
                .iter()
                .position(|c| c == label)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "test file `{}` has class `{label}`, which the training data lacks",
                        path.display()
                    )
                })
        })
        .collect::<anyhow::Result<Vec<usize>>>()?;
    Ok(Dataset {
        y: test.y.iter().map(|&c| mapping[c]).collect(),
        classes: train.classes.clone(),
        x: test.x,
    })
}
