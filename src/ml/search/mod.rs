//! Hyper-parameter search as scikit-learn's GridSearchCV does it: the candidates of a parameter
//! grid (or a list of grids) in scikit-learn's order, the plan of a search (what a task is, and
//! running one on the training data: `plan`), scoring with one metric or several (`scoring`), and
//! the summary of per-split scores into `cv_results` columns (`summary`); a randomized search's
//! candidates (`sampler`). No MPI and no files here.

pub mod halving;
mod plan;
pub mod sampler;
mod scoring;
mod summary;

pub use plan::{SearchPlan, SplitOutcome, TaskFits};
pub use scoring::{scores, Metric, Metrics, MetricsError};
pub use summary::{best_candidate, CandidateSummary, SplitNumbers, SplitScores};

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One hyper-parameter value as a job file gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl ParamValue {
    /// The value as a JSON value, for the `params` column.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Bool(b) => serde_json::Value::Bool(*b),
            ParamValue::Int(i) => serde_json::Value::from(*i),
            ParamValue::Float(f) => serde_json::Value::from(*f),
            ParamValue::Str(s) => serde_json::Value::String(s.clone()),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn to_toml(&self) -> toml::Value {
        match self {
            ParamValue::Bool(b) => toml::Value::Boolean(*b),
            ParamValue::Int(i) => toml::Value::Integer(*i),
            ParamValue::Float(f) => toml::Value::Float(*f),
            ParamValue::Str(s) => toml::Value::String(s.clone()),
        }
    }
}

impl fmt::Display for ParamValue {
    /// Python's spelling, as scikit-learn users read parameter values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(true) => write!(f, "True"),
            ParamValue::Bool(false) => write!(f, "False"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x:?}"),
            ParamValue::Str(s) => write!(f, "{s}"),
        }
    }
}

/// One candidate: parameter name to value, names sorted.
pub type Candidate = BTreeMap<String, ParamValue>;

/// One grid: each parameter name with the list of values it takes.
pub type Grid = BTreeMap<String, Vec<ParamValue>>;

/// The candidates of a list of grids in scikit-learn's ParameterGrid order: grid by grid, names
/// sorted, the cartesian product with the last name varying fastest.
pub fn candidates(grids: &[Grid]) -> Vec<Candidate> {
    let size = grid_size(grids).expect("a grid searched in full has a countable size");
    (0..size)
        .map(|index| grid_candidate(grids, index))
        .collect()
}

/// How many candidates `grids` hold (`len(ParameterGrid(grids))`), or None past `usize`.
pub fn grid_size(grids: &[Grid]) -> Option<usize> {
    grids.iter().try_fold(0usize, |total, grid| {
        let product = grid
            .values()
            .try_fold(1usize, |product, values| product.checked_mul(values.len()))?;
        total.checked_add(product)
    })
}

/// Candidate `index` of `grids` in ParameterGrid order (`ParameterGrid(grids)[index]`), without
/// listing the others.
pub fn grid_candidate(grids: &[Grid], mut index: usize) -> Candidate {
    for grid in grids {
        let size: usize = grid.values().map(Vec::len).product();
        if index >= size {
            index -= size;
            continue;
        }
        let mut candidate = Candidate::new();
        for (name, values) in grid.iter().rev() {
            candidate.insert(name.clone(), values[index % values.len()].clone());
            index /= values.len();
        }
        return candidate;
    }
    panic!("candidate index past the grids' size")
}

/// The names searched by any grid, sorted: one `param_<name>` column each.
pub fn searched_names<V>(grids: &[BTreeMap<String, V>]) -> Vec<String> {
    let mut names: Vec<String> = grids.iter().flat_map(|g| g.keys().cloned()).collect();
    names.sort();
    names.dedup();
    names
}

/// A candidate as the JSON object of the `params` column, e.g. `{"C": 0.5, "kernel": "rbf"}`.
pub fn params_json(candidate: &Candidate) -> String {
    let object: serde_json::Map<String, serde_json::Value> = candidate
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// Mean and population standard deviation (numpy's default, as cv_results uses).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

/// Ranks like scipy's rankdata(-scores, method="min"): the best is 1, ties share the lowest rank,
/// NaN scores rank after every number.
pub fn rank_min(scores: &[f64]) -> Vec<i64> {
    let better = |a: f64, b: f64| match (a.is_nan(), b.is_nan()) {
        (true, true) | (false, true) => false,
        (true, false) => true,
        (false, false) => b > a,
    };
    scores
        .iter()
        .map(|&s| 1 + scores.iter().filter(|&&other| better(s, other)).count() as i64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(entries: &[(&str, Vec<ParamValue>)]) -> Grid {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn candidates_follow_scikit_learn_order() {
        use ParamValue::*;
        let g = grid(&[
            ("shrinking", vec![Bool(true), Bool(false)]),
            ("C", vec![Float(0.1), Float(1.0)]),
            ("kernel", vec![Str("rbf".into()), Str("poly".into())]),
        ]);
        let c = candidates(&[g]);
        assert_eq!(c.len(), 8);
        let json: Vec<String> = c.iter().map(params_json).collect();
        assert_eq!(json[0], r#"{"C":0.1,"kernel":"rbf","shrinking":true}"#);
        assert_eq!(json[1], r#"{"C":0.1,"kernel":"rbf","shrinking":false}"#);
        assert_eq!(json[2], r#"{"C":0.1,"kernel":"poly","shrinking":true}"#);
        assert_eq!(json[7], r#"{"C":1.0,"kernel":"poly","shrinking":false}"#);
    }

    #[test]
    fn a_list_of_grids_is_searched_grid_by_grid() {
        use ParamValue::*;
        let a = grid(&[
            ("kernel", vec![Str("rbf".into())]),
            ("C", vec![Float(1.0), Float(2.0)]),
        ]);
        let b = grid(&[
            ("kernel", vec![Str("poly".into())]),
            ("degree", vec![Int(2), Int(3)]),
        ]);
        let c = candidates(&[a.clone(), b.clone()]);
        assert_eq!(c.len(), 4);
        assert_eq!(c[2]["degree"], Int(2));
        assert_eq!(searched_names(&[a, b]), vec!["C", "degree", "kernel"]);
    }

    #[test]
    fn ranks_use_min_method_with_nan_last() {
        assert_eq!(
            rank_min(&[0.8, 0.9, 0.8, f64::NAN, 0.7]),
            vec![2, 1, 2, 5, 4]
        );
        assert_eq!(rank_min(&[f64::NAN, f64::NAN]), vec![1, 1]);
    }

    #[test]
    fn std_is_the_population_one() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.118_033_988_749_895).abs() < 1e-15);
    }
}
