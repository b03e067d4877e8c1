//! The grid-search job file (`[data]`, `[estimator]`, `[grid]` or `[[grid]]`, `[cv]`,
//! `[scoring]`) and its validation into a `GridSearchJob`: the data loaded, every candidate's
//! parameters built and checked, and the folds drawn, all before any fit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::data::{DataSpec, Loaded};
use super::sizes::{self, DataShape, Sizes};
use super::{JobError, JobText};
use crate::ml::cv::StratifiedKFold;
use crate::ml::dataset::check_folds;
use crate::ml::estimator::{EstimatorKind, EstimatorParams};
use crate::ml::search::{
    candidates, searched_names, Candidate, Grid, Metric, ParamValue, SearchPlan,
};
use crate::ml::{ClassWeight, Dataset};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridSearchFile {
    data: toml::Table,
    estimator: toml::Table,
    grid: GridSpec,
    #[serde(default)]
    cv: CvSection,
    #[serde(default)]
    scoring: ScoringSection,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum GridSpec {
    One(BTreeMap<String, Vec<ParamValue>>),
    Many(Vec<BTreeMap<String, Vec<ParamValue>>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CvSection {
    #[serde(default = "default_folds")]
    folds: i64,
    #[serde(default)]
    shuffle: bool,
    #[serde(default)]
    random_state: u64,
}

impl Default for CvSection {
    fn default() -> Self {
        CvSection {
            folds: default_folds(),
            shuffle: false,
            random_state: 0,
        }
    }
}

fn default_folds() -> i64 {
    5
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoringSection {
    #[serde(default)]
    metric: Metric,
}

/// Command-line choices that change a grid search.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data: Option<std::path::PathBuf>,
    pub refit: bool,
    pub return_train_score: bool,
}

/// A validated grid search: everything every rank needs to fit any (candidate, fold).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridSearchJob {
    pub data_origin: String,
    pub train: Dataset,
    pub test: Option<Dataset>,
    pub kind: EstimatorKind,
    pub plan: SearchPlan,
    pub seed: u64,
    pub refit: bool,
}

impl GridSearchJob {
    /// Peak memory per rank and result size (journal, cv_results and the refit model).
    pub fn sizes(&self) -> Sizes {
        let shape = DataShape::of(&self.train, self.test.as_ref());
        let folds = self.plan.folds.len();
        let candidates = self.plan.candidates.len() as u64;
        let fits = candidates.saturating_mul(folds as u64);
        let journal = fits.saturating_mul(8 * 12 + 64 + 400 + 200);
        let cv_results = candidates.saturating_mul(400 + 8 * (8 + 4 * folds as u64));
        let model = match self.refit {
            true => self
                .plan
                .params
                .iter()
                .map(|p| model_bytes(p, &shape))
                .max()
                .unwrap_or(0),
            false => 0,
        };
        Sizes {
            memory: search_memory(&self.plan.params, &shape, folds).0,
            result: journal
                .saturating_add(cv_results)
                .saturating_add(model)
                .saturating_add(100_000),
            model: 0,
        }
    }

    /// Reads and validates a job file and loads its data (rank 0).
    pub fn from_text(job: &JobText, overrides: &Overrides) -> anyhow::Result<Self> {
        let file: GridSearchFile = job.parse()?;
        let invalid = |message: String| JobError::invalid(&job.path, message);
        let mut spec = DataSpec::from_table(&file.data).map_err(invalid)?;
        if let Some(path) = &overrides.data {
            spec = spec.with_file(path);
        }
        let (kind, fixed) = estimator_section(&file.estimator).map_err(invalid)?;
        let grids = match file.grid {
            GridSpec::One(grid) => vec![grid],
            GridSpec::Many(grids) => grids,
        };
        check_grids(&grids).map_err(invalid)?;
        let candidates = candidates(&grids);
        let params = candidates
            .iter()
            .map(|candidate| candidate_params(kind, &fixed, candidate))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        if file.scoring.metric.needs_probabilities() {
            check_probabilities(&params).map_err(invalid)?;
        }
        if file.cv.folds < 2 {
            return Err(invalid(format!(
                "[cv] folds must be at least 2, got {}",
                file.cv.folds
            ))
            .into());
        }
        let folds = file.cv.folds as usize;
        if let Some(shape) = DataShape::planned(&spec) {
            let (memory, what) = search_memory(&params, &shape, folds);
            sizes::check_memory(memory, &what).map_err(invalid)?;
        }
        let Loaded {
            train,
            test,
            origin,
        } = spec.load()?;
        let (memory, what) = search_memory(&params, &DataShape::of(&train, test.as_ref()), folds);
        sizes::check_memory(memory, &what).map_err(invalid)?;
        check_folds(&train, folds).map_err(|e| invalid(format!("[cv] folds = {folds}: {e}")))?;
        check_class_weights(&params, &train).map_err(invalid)?;
        let splitter = StratifiedKFold {
            n_splits: folds,
            shuffle: file.cv.shuffle.then_some(file.cv.random_state),
        };
        let folds = splitter
            .split(&train.y)
            .map_err(|e| invalid(format!("[cv] {e}")))?;
        Ok(GridSearchJob {
            data_origin: origin,
            train,
            test,
            kind,
            plan: SearchPlan::new(
                searched_names(&grids),
                candidates,
                params,
                folds,
                file.scoring.metric,
                overrides.return_train_score,
            ),
            seed: spec.random_state,
            refit: overrides.refit,
        })
    }
}

fn estimator_section(table: &toml::Table) -> Result<(EstimatorKind, toml::Table), String> {
    let mut fixed = table.clone();
    let kind = match fixed.remove("kind") {
        Some(toml::Value::String(name)) => {
            EstimatorKind::from_name(&name).map_err(|e| format!("[estimator] kind: {e}"))?
        }
        Some(other) => {
            return Err(format!(
                "[estimator] kind must be a string ({}), got {other}",
                EstimatorKind::NAMES
            ))
        }
        None => {
            return Err(format!(
                "[estimator] kind is required: {}",
                EstimatorKind::NAMES
            ))
        }
    };
    // The fixed parameters alone must already make a valid estimator.
    EstimatorParams::from_toml(kind, &fixed).map_err(|e| format!("[estimator] {e}"))?;
    Ok((kind, fixed))
}

fn check_grids(grids: &[Grid]) -> Result<(), String> {
    if grids.is_empty() {
        return Err("[[grid]] is an empty list; give at least one grid".into());
    }
    for grid in grids {
        if let Some((name, _)) = grid.iter().find(|(_, values)| values.is_empty()) {
            return Err(format!(
                "[grid] {name} is an empty list; give at least one value"
            ));
        }
    }
    Ok(())
}

/// The fixed parameters with the candidate's on top, built and checked; an error names the grid
/// key and value that made it invalid.
fn candidate_params(
    kind: EstimatorKind,
    fixed: &toml::Table,
    candidate: &Candidate,
) -> Result<EstimatorParams, String> {
    let mut values = fixed.clone();
    for (name, value) in candidate {
        values.insert(name.clone(), value.to_toml());
    }
    EstimatorParams::from_toml(kind, &values).map_err(|e| {
        let shown: Vec<String> = candidate
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!("[grid] candidate {{{}}}: {e}", shown.join(", "))
    })
}

fn check_probabilities(params: &[EstimatorParams]) -> Result<(), String> {
    let lacking = params
        .iter()
        .any(|p| matches!(p, EstimatorParams::Svc(svc) if !svc.probability));
    if lacking {
        return Err("[scoring] metric = \"neg_log_loss\" needs probabilities: set probability = true in [estimator] for svc".into());
    }
    Ok(())
}

/// A class_weight map may only name classes of the training data (checked before any fit).
fn check_class_weights(params: &[EstimatorParams], train: &Dataset) -> Result<(), String> {
    for p in params {
        if let EstimatorParams::Svc(svc) = p {
            if let ClassWeight::Map(weights) = &svc.class_weight {
                if let Some(label) = weights.keys().find(|l| !train.classes.contains(l)) {
                    return Err(format!(
                        "[estimator] class_weight names class \"{label}\", which the data lacks; its classes are {:?}",
                        train.classes
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A grid search's peak memory per rank (the largest fit of any candidate, on a fold's training
/// rows or, for the refit, all of them) and what it is made of.
fn search_memory(params: &[EstimatorParams], shape: &DataShape, folds: usize) -> (u64, String) {
    let fit_rows = shape.rows;
    let fits = (params.len() as u64).saturating_mul(folds as u64);
    let largest = params
        .iter()
        .map(|p| match p {
            EstimatorParams::Svc(svc) => sizes::svc_memory(svc.cache_size, fit_rows),
            EstimatorParams::LogisticRegression(_) => fit_rows
                .saturating_mul(shape.classes.max(2))
                .saturating_mul(64),
            EstimatorParams::RandomForest(forest) => {
                sizes::forest_memory(forest, shape, forest.n_estimators as u64)
            }
        })
        .max()
        .unwrap_or(0);
    let memory = sizes::common_memory(Some(shape), fits).saturating_add(largest);
    let what = format!(
        "data of {} rows x {} features, {} candidates x {folds} folds",
        shape.rows + shape.test_rows,
        shape.features,
        params.len()
    );
    (memory, what)
}

/// Bytes of a refit model in the result file.
fn model_bytes(params: &EstimatorParams, shape: &DataShape) -> u64 {
    match params {
        EstimatorParams::Svc(_) => shape
            .rows
            .saturating_mul(shape.features.saturating_add(2))
            .saturating_mul(8),
        EstimatorParams::LogisticRegression(_) => shape
            .features
            .saturating_add(1)
            .saturating_mul(shape.classes.max(2))
            .saturating_mul(8),
        EstimatorParams::RandomForest(forest) => {
            (forest.n_estimators as u64).saturating_mul(sizes::tree_bytes(forest, shape))
        }
    }
}
