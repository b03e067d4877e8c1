//! The `[data]` section shared by grid-search and forest jobs: where the labelled data comes from
//! (`make_classification`, `digits` or a user's HDF5/CSV file), and the optional test data (a
//! seeded stratified holdout or a separate file). Loading happens on rank 0 only.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::datafile;
use crate::ml::cv::stratified_train_test_split;
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
    /// `[data] random_state` (default 0): make_classification's seed, the holdout's, and a grid
    /// search's.
    pub random_state: u64,
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
        let random_state = match rest.remove("random_state") {
            None => 0,
            Some(toml::Value::Integer(n)) if n >= 0 => n as u64,
            Some(other) => {
                return Err(format!(
                    "[data] random_state must be a whole number >= 0, got {other}"
                ))
            }
        };
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
                Source::MakeClassification(MakeClassification {
                    random_state,
                    ..params
                })
            }
            SourceName::Digits | SourceName::File => {
                if let Some(key) = rest.keys().next() {
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
        let test = match (test_size, test_path) {
            (Some(_), Some(_)) => {
                return Err("[data] give test_size or test_path, not both".into());
            }
            (Some(t), None) if t > 0.0 && t < 1.0 => TestData::Holdout {
                test_size: t,
                seed: random_state,
            },
            (Some(t), None) => {
                return Err(format!(
                    "[data] test_size must be between 0 and 1 (exclusive), got {t}"
                ))
            }
            (None, Some(path)) => TestData::File(path),
            (None, None) => TestData::None,
        };
        Ok(DataSpec {
            source,
            test,
            random_state,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<DataSpec, String> {
        DataSpec::from_table(&toml::from_str(text).unwrap())
    }

    /// `random_state` is read once, here, for every source; anything but a whole number >= 0 is
    /// refused rather than taken as 0.
    #[test]
    fn random_state_is_a_whole_number() {
        let generated =
            spec("source = 'make_classification'\nn_samples = 50\nrandom_state = 7").unwrap();
        assert_eq!(generated.random_state, 7);
        match generated.source {
            Source::MakeClassification(p) => assert_eq!((p.n_samples, p.random_state), (50, 7)),
            other => panic!("{other:?}"),
        }
        let holdout = spec("source = 'digits'\ntest_size = 0.25\nrandom_state = 3").unwrap();
        assert_eq!(
            holdout.test,
            TestData::Holdout {
                test_size: 0.25,
                seed: 3
            }
        );
        assert_eq!(spec("source = 'digits'").unwrap().random_state, 0);
        for source in ["make_classification", "digits", "file'\npath = 'x.h5"] {
            for (bad, shown) in [
                ("1.5", "1.5"),
                ("-1", "-1"),
                ("'7'", "\"7\""),
                ("true", "true"),
            ] {
                let err = spec(&format!("source = '{source}'\nrandom_state = {bad}"))
                    .map(|_| ())
                    .unwrap_err();
                assert_eq!(
                    err,
                    format!("[data] random_state must be a whole number >= 0, got {shown}"),
                    "{source}"
                );
            }
        }
    }
}
