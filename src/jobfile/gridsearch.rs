//! The grid-search job file (`[data]`, `[estimator]`, `[search]`, `[grid]` or `[[grid]]`, `[cv]`,
//! `[scoring]`) and its validation into a `GridSearchJob`: the candidates (the full grid, or a
//! randomized search's draws), every candidate's parameters built and checked, the data loaded,
//! and the folds drawn, all before any fit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::data::{DataSpec, Loaded};
use super::sizes::{self, DataShape, Sizes};
use super::{JobError, JobText};
use crate::ml::cv::StratifiedKFold;
use crate::ml::dataset::check_folds;
use crate::ml::estimator::{EstimatorKind, EstimatorParams};
use crate::ml::search::halving::{
    CandidateCount, HalvingParams, HalvingSchedule, MinResources, SearchData,
};
use crate::ml::search::sampler::{self, Distribution, Sampled, SampledGrid};
use crate::ml::search::{
    candidates, grid_size, searched_names, Candidate, Grid, Metric, Metrics, ParamValue, SearchPlan,
};
use crate::ml::{ClassWeight, Dataset};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridSearchFile {
    data: toml::Table,
    estimator: toml::Table,
    grid: GridSpec,
    #[serde(default)]
    search: SearchSection,
    #[serde(default)]
    cv: CvSection,
    #[serde(default)]
    scoring: ScoringSection,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum GridSpec {
    One(BTreeMap<String, toml::Value>),
    Many(Vec<BTreeMap<String, toml::Value>>),
}

/// The most candidates a search may have (a full grid, or n_iter draws): each is held, with its
/// parameters, on every rank.
const MAX_FULL_GRID: usize = 10_000_000;

/// `[search]`: how candidates are chosen from `[grid]`, and a halving search's schedule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchSection {
    strategy: Option<String>,
    n_iter: Option<i64>,
    random_state: Option<i64>,
    n_candidates: Option<toml::Value>,
    factor: Option<toml::Value>,
    resource: Option<String>,
    min_resources: Option<toml::Value>,
    max_resources: Option<toml::Value>,
    aggressive_elimination: Option<bool>,
}

/// What `[search]` asks for, its keys checked against the strategy.
enum Strategy {
    Grid,
    Random,
    /// `n_candidates` set: HalvingRandomSearchCV; otherwise HalvingGridSearchCV.
    Halving {
        params: HalvingParams,
        n_candidates: Option<CandidateCount>,
    },
}

const RANDOM_KEYS: [&str; 2] = ["n_iter", "random_state"];
const HALVING_KEYS: [&str; 7] = [
    "random_state",
    "n_candidates",
    "factor",
    "resource",
    "min_resources",
    "max_resources",
    "aggressive_elimination",
];

impl SearchSection {
    fn given_keys(&self) -> Vec<&'static str> {
        let given = [
            ("n_iter", self.n_iter.is_some()),
            ("random_state", self.random_state.is_some()),
            ("n_candidates", self.n_candidates.is_some()),
            ("factor", self.factor.is_some()),
            ("resource", self.resource.is_some()),
            ("min_resources", self.min_resources.is_some()),
            ("max_resources", self.max_resources.is_some()),
            (
                "aggressive_elimination",
                self.aggressive_elimination.is_some(),
            ),
        ];
        given.iter().filter(|(_, g)| *g).map(|(k, _)| *k).collect()
    }

    fn strategy(&self) -> Result<Strategy, String> {
        let name = self.strategy.as_deref().unwrap_or("grid");
        let allowed: &[&str] = match name {
            "grid" => &[],
            "random" => &RANDOM_KEYS,
            "halving" => &HALVING_KEYS,
            other => {
                return Err(format!(
                    "[search] strategy = \"{other}\" is not a strategy; allowed: \"grid\", \"random\", \"halving\""
                ))
            }
        };
        if let Some(key) = self.given_keys().into_iter().find(|k| !allowed.contains(k)) {
            let belongs = match key {
                "n_iter" => "strategy = \"random\"",
                "random_state" => "strategy = \"random\" or \"halving\"",
                _ => "strategy = \"halving\"",
            };
            return Err(format!(
                "[search] {key} applies to {belongs}, not strategy = \"{name}\"; remove it or change the strategy"
            ));
        }
        Ok(match name {
            "grid" => Strategy::Grid,
            "random" => Strategy::Random,
            _ => Strategy::Halving {
                params: self.halving_params()?,
                n_candidates: self
                    .n_candidates
                    .as_ref()
                    .map(|v| count_or("n_candidates", v, &["exhaust"]))
                    .transpose()?
                    .map(|n| n.map_or(CandidateCount::Exhaust, CandidateCount::Count)),
            },
        })
    }

    fn random_state(&self) -> Result<u32, String> {
        self.random_state.map_or(Ok(0), |seed| {
            u32::try_from(seed).map_err(|_| {
                format!("[search] random_state must be between 0 and 2**32 - 1 (numpy's RandomState), got {seed}")
            })
        })
    }

    fn halving_params(&self) -> Result<HalvingParams, String> {
        let factor = match &self.factor {
            None => 3.0,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(x)) => *x,
            Some(other) => {
                return Err(format!("[search] factor must be a number > 1, got {other}"))
            }
        };
        if !(factor > 1.0 && factor.is_finite()) {
            return Err(format!(
                "[search] factor must be a number > 1 (each iteration keeps 1/factor of the candidates), got {factor}"
            ));
        }
        if let Some(resource) = self.resource.as_deref().filter(|r| *r != "n_samples") {
            return Err(format!(
                "[search] resource = \"{resource}\" is not supported; allowed: \"n_samples\""
            ));
        }
        let min_resources = match &self.min_resources {
            None => None,
            Some(v) => Some(count_or("min_resources", v, &["exhaust", "smallest"])?),
        };
        let min_resources = match (min_resources, self.n_candidates.is_some()) {
            (Some(Ok(n)), _) => MinResources::Count(n),
            (Some(Err("smallest")), _) | (None, true) => MinResources::Smallest,
            (Some(Err(_)), _) | (None, false) => MinResources::Exhaust,
        };
        let max_resources = match &self.max_resources {
            None => None,
            Some(v) => count_or("max_resources", v, &["auto"])?.ok(),
        };
        Ok(HalvingParams {
            factor,
            min_resources,
            max_resources,
            aggressive_elimination: self.aggressive_elimination.unwrap_or(false),
            random_state: self.random_state()?,
        })
    }
}

/// A positive whole number (`Ok`), or one of `words` (`Err` holding it).
fn count_or(
    key: &str,
    value: &toml::Value,
    words: &[&'static str],
) -> Result<Result<usize, &'static str>, String> {
    match value {
        toml::Value::Integer(n) if *n >= 1 => Ok(Ok(*n as usize)),
        toml::Value::String(s) => match words.iter().find(|w| **w == s) {
            Some(word) => Ok(Err(*word)),
            None => Err(format!(
                "[search] {key} = \"{s}\" is not allowed; give a whole number >= 1 or {}",
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
        },
        other => Err(format!(
            "[search] {key} must be a whole number >= 1 or {}, got {other}",
            words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

/// The candidates `[search]` and `[grid]` give, in scikit-learn's order, with the searched names
/// and a halving search's schedule. `data` describes the training rows; without it (before the
/// data is loaded) a search that needs it (halving) gives `None`.
fn search_candidates(
    search: &SearchSection,
    grids: &[BTreeMap<String, toml::Value>],
    data: Option<SearchData>,
) -> Result<Option<Searched>, String> {
    if grids.is_empty() {
        return Err("[[grid]] is an empty list; give at least one grid".into());
    }
    let names = searched_names(grids);
    let (candidates, halving) = match search.strategy()? {
        Strategy::Grid => (full_grid(grids)?, None),
        Strategy::Random => (random_draws(search, grids)?, None),
        Strategy::Halving {
            params,
            n_candidates,
        } => {
            let Some(data) = data else { return Ok(None) };
            let candidates = match n_candidates {
                None => full_grid(grids)?,
                Some(count) => {
                    let n = params.candidates_to_draw(count, data)?;
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    draws(grids, "n_candidates", n, params.random_state)?
                }
            };
            let schedule = params.schedule(candidates.len(), data)?;
            (candidates, Some(schedule))
        }
    };
    Ok(Some(Searched {
        names,
        candidates,
        halving,
    }))
}

/// A search's candidates, as `search_candidates` chose them.
struct Searched {
    names: Vec<String>,
    candidates: Vec<Candidate>,
    halving: Option<HalvingSchedule>,
}

/// Every candidate of lists-only grids, in ParameterGrid order.
fn full_grid(grids: &[BTreeMap<String, toml::Value>]) -> Result<Vec<Candidate>, String> {
    let grids = grids
        .iter()
        .map(|grid| {
            grid.iter()
                .map(|(name, value)| match sampled(name, value)? {
                    Sampled::List(values) => Ok((name.clone(), values)),
                    Sampled::Distribution(_) => Err(format!(
                        "[grid] {name} is a distribution, which needs [search] strategy = \"random\" (or \"halving\" with n_candidates); a full grid takes lists"
                    )),
                })
                .collect::<Result<Grid, String>>()
        })
        .collect::<Result<Vec<Grid>, String>>()?;
    match grid_size(&grids) {
        Some(size) if size <= MAX_FULL_GRID => Ok(candidates(&grids)),
        size => Err(format!(
            "[grid] has {} candidates, more than a full grid search can hold ({MAX_FULL_GRID}); use [search] strategy = \"random\" with n_iter",
            size.map_or("over 2**64".to_string(), |n| n.to_string())
        )),
    }
}

/// A randomized search's candidates, as scikit-learn's ParameterSampler draws them.
fn random_draws(
    search: &SearchSection,
    grids: &[BTreeMap<String, toml::Value>],
) -> Result<Vec<Candidate>, String> {
    let n_iter = search.n_iter.unwrap_or(10);
    draws(grids, "n_iter", n_iter, search.random_state()?)
}

/// `n` candidates drawn as ParameterSampler(grids, n, random_state) draws them.
fn draws(
    grids: &[BTreeMap<String, toml::Value>],
    key: &str,
    n_iter: i64,
    random_state: u32,
) -> Result<Vec<Candidate>, String> {
    let n_iter = usize::try_from(n_iter)
        .ok()
        .filter(|n| (1..=MAX_FULL_GRID).contains(n))
        .ok_or_else(|| format!(
            "[search] {key} must be between 1 and {MAX_FULL_GRID} (each candidate is held on every rank), got {n_iter}"
        ))?;
    let grids = grids
        .iter()
        .map(|grid| {
            grid.iter()
                .map(|(name, value)| Ok((name.clone(), sampled(name, value)?)))
                .collect::<Result<SampledGrid, String>>()
        })
        .collect::<Result<Vec<SampledGrid>, String>>()?;
    let (drawn, asked) = sampler::sample(&grids, n_iter, random_state)?;
    if let Some(asked) = asked {
        eprintln!(
            "triton-batch: warning: the grid has {} candidates, fewer than [search] {key} = {asked}: running {} (as scikit-learn does)",
            drawn.len(),
            drawn.len()
        );
    }
    Ok(drawn)
}

/// A `[grid]` entry: a non-empty list of values, or a distribution table.
pub fn sampled(name: &str, value: &toml::Value) -> Result<Sampled, String> {
    match value {
        toml::Value::Array(items) if items.is_empty() => Err(format!(
            "[grid] {name} is an empty list; give at least one value"
        )),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| {
                ParamValue::deserialize(item.clone()).map_err(|_| {
                    format!("[grid] {name}: {item} is not a value (a number, string or boolean)")
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Sampled::List),
        toml::Value::Table(table) => distribution(name, table).map(Sampled::Distribution),
        other => Err(format!(
            "[grid] {name} = {other}: give a list of values, or a distribution table such as {{ distribution = \"loguniform\", low = 0.001, high = 10.0 }}"
        )),
    }
}

/// A distribution table: `distribution` and its parameters, each checked as scipy.stats would.
fn distribution(name: &str, table: &toml::Table) -> Result<Distribution, String> {
    let kind = match table.get("distribution") {
        Some(toml::Value::String(kind)) => kind.as_str(),
        _ => {
            return Err(format!(
                "[grid] {name}: a distribution table needs distribution = \"uniform\", \"loguniform\" or \"randint\""
            ))
        }
    };
    let allowed: &[&str] = match kind {
        "uniform" => &["distribution", "loc", "scale"],
        "loguniform" | "randint" => &["distribution", "low", "high"],
        other => {
            return Err(format!(
                "[grid] {name}: unknown distribution \"{other}\"; allowed: \"uniform\", \"loguniform\", \"randint\""
            ))
        }
    };
    if let Some(key) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "[grid] {name}: {kind} takes {}, not `{key}`",
            allowed[1..].join(" and ")
        ));
    }
    let number = |key: &str, default: Option<f64>| -> Result<f64, String> {
        match table.get(key) {
            Some(toml::Value::Float(x)) => Ok(*x),
            Some(toml::Value::Integer(i)) => Ok(*i as f64),
            Some(other) => Err(format!(
                "[grid] {name}: {key} must be a number, got {other}"
            )),
            None => default.ok_or_else(|| format!("[grid] {name}: {kind} needs {key}")),
        }
    };
    let ordered = |low: f64, high: f64| {
        if low < high {
            Ok(())
        } else {
            Err(format!(
                "[grid] {name}: {kind} needs low < high, got low = {low}, high = {high}"
            ))
        }
    };
    match kind {
        "uniform" => {
            let (loc, scale) = (number("loc", Some(0.0))?, number("scale", Some(1.0))?);
            if !(scale > 0.0 && scale.is_finite() && loc.is_finite()) {
                return Err(format!(
                    "[grid] {name}: uniform needs a finite loc and a scale > 0, got loc = {loc}, scale = {scale}"
                ));
            }
            Ok(Distribution::Uniform { loc, scale })
        }
        "loguniform" => {
            let (low, high) = (number("low", None)?, number("high", None)?);
            ordered(low, high)?;
            if !(low > 0.0 && high.is_finite()) {
                return Err(format!(
                    "[grid] {name}: loguniform needs 0 < low < high < inf, got low = {low}, high = {high}"
                ));
            }
            Ok(Distribution::LogUniform { low, high })
        }
        _ => {
            let whole = |key: &str| match table.get(key) {
                Some(toml::Value::Integer(i)) => Ok(*i),
                Some(other) => Err(format!(
                    "[grid] {name}: randint's {key} must be a whole number, got {other}"
                )),
                None => Err(format!("[grid] {name}: randint needs {key}")),
            };
            let (low, high) = (whole("low")?, whole("high")?);
            ordered(low as f64, high as f64)?;
            Ok(Distribution::RandInt { low, high })
        }
    }
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

/// `[scoring]`: `metric` is one name or a list of names (scikit-learn's `scoring`); `refit` names
/// the listed metric that picks the best candidate.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoringSection {
    metric: Option<toml::Value>,
    refit: Option<String>,
}

impl ScoringSection {
    /// The metrics, as scikit-learn's GridSearchCV(scoring, refit) would accept them.
    fn metrics(&self) -> Result<Metrics, String> {
        let metric = |key: &str, name: &str| {
            Metric::from_name(name).map_err(|e| format!("[scoring] {key}: {e}"))
        };
        let refit = self
            .refit
            .as_deref()
            .map(|name| metric("refit", name))
            .transpose()?;
        let accuracy = toml::Value::String(Metric::Accuracy.name().into());
        match self.metric.as_ref().unwrap_or(&accuracy) {
            toml::Value::String(name) => {
                let one = metric("metric", name)?;
                match refit {
                    Some(other) if other != one => Err(format!(
                        "[scoring] refit = \"{other}\" is not the metric (\"{name}\"); remove refit, or list both: metric = [\"{name}\", \"{other}\"], refit = \"{other}\"",
                        other = other.name()
                    )),
                    _ => Ok(Metrics::one(one)),
                }
            }
            toml::Value::Array(names) => {
                let list = names
                    .iter()
                    .map(|name| match name {
                        toml::Value::String(name) => metric("metric", name),
                        other => Err(format!(
                            "[scoring] metric: {other} is not a metric name; give strings such as \"accuracy\""
                        )),
                    })
                    .collect::<Result<Vec<Metric>, String>>()?;
                Metrics::several(list, refit).map_err(|e| format!("[scoring] {e}"))
            }
            other => Err(format!(
                "[scoring] metric = {other}: give a metric name such as \"accuracy\", or a list such as [\"accuracy\", \"f1_macro\"]"
            )),
        }
    }
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
        // A halving search has a row of cv_results per candidate per iteration, one fit a fold.
        let candidates = match &self.plan.halving {
            Some(schedule) => schedule.n_candidates.iter().sum::<usize>() as u64,
            None => self.plan.candidates.len() as u64,
        };
        let fits = candidates.saturating_mul(folds as u64);
        let metrics = self.plan.metrics.list().len() as u64;
        let journal = fits.saturating_mul(8 * (10 + 2 * metrics) + 64 + 400 + 200);
        let per_metric = 4 + 4 * folds as u64;
        let cv_results = candidates.saturating_mul(400 + 8 * (4 + metrics * per_metric));
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
        let metrics = file.scoring.metrics().map_err(invalid)?;
        if file.search.strategy.as_deref() == Some("halving") && metrics.list().len() > 1 {
            return Err(invalid("[scoring] metric: a halving search ranks by one metric (as scikit-learn's does); give one name, e.g. metric = \"accuracy\"".into()).into());
        }
        if file.cv.folds < 2 {
            return Err(invalid(format!(
                "[cv] folds must be at least 2, got {}",
                file.cv.folds
            ))
            .into());
        }
        let folds = file.cv.folds as usize;
        let checked_params = |candidates: &[Candidate]| {
            let params = candidates
                .iter()
                .map(|candidate| candidate_params(kind, &fixed, candidate))
                .collect::<Result<Vec<_>, _>>()?;
            if metrics.needs_probabilities() {
                check_probabilities(&params)?;
            }
            Ok::<_, String>(params)
        };
        // Every search but a halving one knows its candidates before the data is loaded.
        let early = search_candidates(&file.search, &grids, None).map_err(invalid)?;
        if let Some(shape) = DataShape::planned(&spec) {
            // A halving search's candidates wait for the data; its size alone is checked here.
            let params = match &early {
                Some(searched) => checked_params(&searched.candidates).map_err(invalid)?,
                None => vec![],
            };
            let (memory, what) = search_memory(&params, &shape, folds);
            sizes::check_memory(memory, &what).map_err(invalid)?;
        }
        let Loaded {
            train,
            test,
            origin,
        } = spec.load()?;
        check_folds(&train, folds).map_err(|e| invalid(format!("[cv] folds = {folds}: {e}")))?;
        let searched = match early {
            Some(searched) => searched,
            None => {
                let data = SearchData {
                    n_samples: train.x.nrows(),
                    n_splits: folds,
                    n_classes: train.class_counts().iter().filter(|&&n| n > 0).count(),
                };
                search_candidates(&file.search, &grids, Some(data))
                    .map_err(invalid)?
                    .expect("the data is given")
            }
        };
        let params = checked_params(&searched.candidates).map_err(invalid)?;
        let (memory, what) = search_memory(&params, &DataShape::of(&train, test.as_ref()), folds);
        sizes::check_memory(memory, &what).map_err(invalid)?;
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
                searched.names,
                searched.candidates,
                params,
                folds,
                metrics,
                overrides.return_train_score,
                searched.halving,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(text: &str) -> Result<Metrics, String> {
        toml::from_str::<ScoringSection>(text).unwrap().metrics()
    }

    /// One metric keeps today's meaning (refit may only repeat it); a list needs a listed refit.
    #[test]
    fn scoring_takes_one_metric_or_a_list_with_its_refit() {
        use Metric::*;
        assert_eq!(metrics(""), Ok(Metrics::one(Accuracy)));
        assert_eq!(
            metrics("metric = 'f1_macro'\nrefit = 'f1_macro'"),
            Ok(Metrics::one(F1Macro))
        );
        let list = metrics("metric = ['accuracy', 'f1_macro']\nrefit = 'f1_macro'").unwrap();
        assert_eq!(
            (list.list(), list.refit()),
            (&[Accuracy, F1Macro][..], F1Macro)
        );
        for (text, error) in [
            (
                "refit = 'f1_macro'",
                "[scoring] refit = \"f1_macro\" is not the metric (\"accuracy\"); remove refit, or list both: metric = [\"accuracy\", \"f1_macro\"], refit = \"f1_macro\"",
            ),
            (
                "metric = ['accuracy']\nrefit = 'roc_auc'",
                "[scoring] refit: \"roc_auc\" is not a metric; allowed: \"accuracy\", \"balanced_accuracy\", \"f1_macro\", \"neg_log_loss\"",
            ),
            (
                "metric = ['accuracy', 1]\nrefit = 'accuracy'",
                "[scoring] metric: 1 is not a metric name; give strings such as \"accuracy\"",
            ),
        ] {
            assert_eq!(metrics(text), Err(error.to_string()), "{text}");
        }
    }
}
