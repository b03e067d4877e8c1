//! C-support vector classification (scikit-learn's `SVC`, libsvm's C-SVC) on dense f64 data.
//!
//! - [`SvcParams`] holds scikit-learn's parameters and defaults; [`SvcParams::build`] validates
//!   them into an [`Svc`], which fits an [`SvcModel`] (`decision_function`, `predict`,
//!   `predict_proba`, support vectors, dual coefficients, intercept), all serde-serializable.
//! - Training: one-vs-one over the sorted classes; each pair is solved by SMO with second-order
//!   working-set selection, shrinking and an LRU kernel-row cache bounded by `cache_size`
//!   (`solver`, `cache`, `kernel`); Platt scaling by internal 5-fold CV when `probability`.
//! - Sharing work in a grid search: [`SvcWorkspace`] keeps, per training set, the kernel-row
//!   caches and the last solution of each binary problem, so that candidates with the same kernel
//!   and gamma reuse cached kernel rows and start from the previous optimum (see its docs).
//!
//! Files: `params` (parameters, validation, errors), `kernel` (kernel values, vectorised),
//! `cache` (LRU kernel-row cache), `solver` (SMO), `lanes` (the solver's vector loops),
//! `probability` (Platt scaling, coupling), `model` (fitted model, prediction), `workspace`
//! (sharing between fits), `tests` (against scikit-learn's reference answers).

mod cache;
mod kernel;
mod lanes;
mod model;
mod params;
mod probability;
mod solver;
mod spread;
#[cfg(test)]
mod tests;
mod workspace;

use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

pub use kernel::KernelSpec;
pub use model::SvcModel;
pub use params::{DecisionShape, Gamma, Kernel, SvcParams, SvmError};
pub use workspace::SvcWorkspace;

use crate::ml::ClassWeight;
use cache::KernelCache;
use kernel::FeatureMajor;
use model::{decisions, PairGroups};
use probability::fit_sigmoid;
use solver::{solve, Solution, SolverSettings, Start};

/// A validated SVC estimator (from [`SvcParams::build`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Svc {
    pub(crate) params: SvcParams,
}

impl Svc {
    /// The parameters it was built from.
    pub fn params(&self) -> &SvcParams {
        &self.params
    }

    /// Fits on the rows of `x` with labels `y` (indices into `classes`, which are sorted as
    /// scikit-learn sorts them). Classes without samples are left out of the model.
    pub fn fit(
        &self,
        x: ArrayView2<f64>,
        y: &[usize],
        classes: &[String],
    ) -> Result<SvcModel, SvmError> {
        let prep = Prepared::new(x, y, classes)?;
        fit_prepared(&self.params, x, &prep, None)
    }

    /// [`fit`](Self::fit) on a [`Dataset`](crate::ml::Dataset).
    pub fn fit_dataset(&self, data: &crate::ml::Dataset) -> Result<SvcModel, SvmError> {
        self.fit(data.x.view(), &data.y, &data.classes)
    }
}

/// Training data checked and grouped by class.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    classes: Vec<String>,
    /// Classes with samples (indices into `classes`), ascending.
    present: Vec<usize>,
    /// Rows of each present class, ascending.
    members: Vec<Vec<usize>>,
    d: usize,
    /// Variance over all entries of X (for gamma = "scale").
    var: f64,
}

impl Prepared {
    pub(crate) fn new(
        x: ArrayView2<f64>,
        y: &[usize],
        classes: &[String],
    ) -> Result<Prepared, SvmError> {
        let (n, d) = x.dim();
        if n != y.len() {
            return Err(SvmError::Data(format!(
                "X has {n} rows but y has {} labels",
                y.len()
            )));
        }
        if n == 0 || d == 0 {
            return Err(SvmError::Data(format!("X is empty ({n} x {d})")));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(SvmError::Data("X contains NaN or infinity".into()));
        }
        let mut by_class = vec![Vec::new(); classes.len()];
        for (row, &label) in y.iter().enumerate() {
            by_class
                .get_mut(label)
                .ok_or_else(|| {
                    SvmError::Data(format!(
                        "label {label} at row {row} is not an index into the {} classes",
                        classes.len()
                    ))
                })?
                .push(row);
        }
        let present: Vec<usize> = (0..classes.len())
            .filter(|&c| !by_class[c].is_empty())
            .collect();
        if present.len() < 2 {
            return Err(SvmError::Data(format!(
                "the labels hold {} class(es); SVC needs at least 2",
                present.len()
            )));
        }
        let members = present.iter().map(|&c| by_class[c].clone()).collect();
        let count = (n * d) as f64;
        let mean = x.iter().sum::<f64>() / count;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
        Ok(Prepared {
            classes: classes.to_vec(),
            present,
            members,
            d,
            var,
        })
    }

    fn n_pairs(&self) -> usize {
        let k = self.present.len();
        k * (k - 1) / 2
    }

    /// Rows, ±1 labels of pair (a, b) (positions in `present`): class a first.
    fn pair_rows(&self, a: usize, b: usize) -> (Vec<usize>, Vec<f64>) {
        let rows: Vec<usize> = self.members[a]
            .iter()
            .chain(&self.members[b])
            .copied()
            .collect();
        let mut y = vec![1.0; self.members[a].len()];
        y.resize(rows.len(), -1.0);
        (rows, y)
    }
}

/// C of each present class: C times its class weight. Unknown class_weight labels are refused.
fn class_costs(params: &SvcParams, prep: &Prepared) -> Result<Vec<f64>, SvmError> {
    let n: usize = prep.members.iter().map(Vec::len).sum();
    let k = prep.present.len();
    match &params.class_weight {
        ClassWeight::None => Ok(vec![params.c; k]),
        ClassWeight::BalancedSubsample => Err(params::balanced_subsample_refused()),
        ClassWeight::Balanced => Ok(prep
            .members
            .iter()
            .map(|m| params.c * n as f64 / (k as f64 * m.len() as f64))
            .collect()),
        ClassWeight::Map(map) => {
            for label in map.keys() {
                if !prep.classes.contains(label) {
                    return Err(SvmError::UnknownClassWeightLabel {
                        label: label.clone(),
                        classes: prep.classes.clone(),
                    });
                }
            }
            Ok(prep
                .present
                .iter()
                .map(|&c| params.c * map.get(&prep.classes[c]).copied().unwrap_or(1.0))
                .collect())
        }
    }
}

pub(crate) fn kernel_spec(params: &SvcParams, prep: &Prepared) -> KernelSpec {
    KernelSpec {
        kernel: params.kernel,
        gamma: params.resolve_gamma(prep.d, prep.var),
        degree: params.degree as u32,
        coef0: params.coef0,
    }
}

fn settings(params: &SvcParams) -> SolverSettings {
    SolverSettings {
        tol: params.tol,
        shrinking: params.shrinking,
        max_iter: params.iteration_limit(),
    }
}

/// Which binary problem of a fit: pair `pair`'s own (`fold` None) or the training part of fold
/// `fold` of its probability cross-validation. The same id names the same rows in every fit on
/// the same data (the CV shuffle depends on `random_state` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProblemId {
    pub pair: usize,
    pub fold: Option<usize>,
}

/// Solves one binary problem (id, kernel, rows, ±1 labels, bounds); a workspace supplies one.
pub(crate) type PairSolver<'a> =
    &'a mut dyn FnMut(ProblemId, &KernelSpec, &[usize], &[f64], &[f64]) -> Solution;

/// A cold solve with a fresh cache of `cache_mb`, in libsvm's single-precision values.
fn solve_cold(
    x: ArrayView2<f64>,
    spec: &KernelSpec,
    rows: &[usize],
    y: &[f64],
    c: &[f64],
    settings: SolverSettings,
    cache_mb: f64,
) -> Solution {
    let mut cache = KernelCache::<f32>::new(*spec, x, Some(rows), cache_mb);
    solve(&mut cache, y, c, settings, Start::Cold)
}

/// The whole fit; `pair_solver` (from a workspace) replaces the cold solve of each pair.
pub(crate) fn fit_prepared(
    params: &SvcParams,
    x: ArrayView2<f64>,
    prep: &Prepared,
    pair_solver: Option<PairSolver>,
) -> Result<SvcModel, SvmError> {
    params.validate()?;
    let costs = class_costs(params, prep)?;
    let spec = kernel_spec(params, prep);
    let settings = settings(params);
    let k = prep.present.len();
    let n_pairs = prep.n_pairs();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.random_state);
    let mut pair_solver = pair_solver;

    let mut solutions = Vec::with_capacity(n_pairs);
    let (mut prob_a, mut prob_b) = (Vec::new(), Vec::new());
    let mut p = 0;
    for a in 0..k {
        for b in a + 1..k {
            let (rows, y) = prep.pair_rows(a, b);
            let c: Vec<f64> = y
                .iter()
                .map(|&s| if s > 0.0 { costs[a] } else { costs[b] })
                .collect();
            if params.probability {
                let (pa, pb) = platt(
                    x,
                    p,
                    (&rows, &y, &c),
                    &spec,
                    settings,
                    params,
                    &mut rng,
                    pair_solver.as_mut(),
                );
                prob_a.push(pa);
                prob_b.push(pb);
            }
            let id = ProblemId {
                pair: p,
                fold: None,
            };
            let sol = match pair_solver.as_mut() {
                Some(f) => f(id, &spec, &rows, &y, &c),
                None => solve_cold(x, &spec, &rows, &y, &c, settings, params.cache_size),
            };
            solutions.push((rows, y, sol));
            p += 1;
        }
    }

    // Support vectors: rows with a nonzero α in any pair, grouped by class.
    let n = x.nrows();
    let mut nonzero = vec![false; n];
    for (rows, _, sol) in &solutions {
        for (&r, &al) in rows.iter().zip(&sol.alpha) {
            if al > 0.0 {
                nonzero[r] = true;
            }
        }
    }
    let mut support = Vec::new();
    let mut n_support = Vec::with_capacity(k);
    let mut position = vec![usize::MAX; n];
    for m in &prep.members {
        let before = support.len();
        for &r in m {
            if nonzero[r] {
                position[r] = support.len();
                support.push(r);
            }
        }
        n_support.push(support.len() - before);
    }
    let mut sv_coef = Array2::zeros((k - 1, support.len()));
    let mut p = 0;
    for a in 0..k {
        for b in a + 1..k {
            let (rows, y, sol) = &solutions[p];
            for t in 0..rows.len() {
                if sol.alpha[t] > 0.0 {
                    let line = if y[t] > 0.0 { b - 1 } else { a };
                    sv_coef[[line, position[rows[t]]]] = sol.alpha[t] * y[t];
                }
            }
            p += 1;
        }
    }
    let support_vectors = x.select(Axis(0), &support);
    Ok(SvcModel {
        classes: prep.classes.clone(),
        fitted: prep.present.clone(),
        spec,
        shape: params.decision_function_shape,
        n_features: prep.d,
        support,
        support_vectors,
        n_support,
        sv_coef,
        rho: solutions.iter().map(|s| s.2.rho).collect(),
        prob_a: params.probability.then_some(prob_a),
        prob_b: params.probability.then_some(prob_b),
        n_iter: solutions.iter().map(|s| s.2.n_iter).collect(),
        converged: solutions.iter().all(|s| s.2.converged),
    })
}

/// Folds of the probability cross-validation (libsvm's).
pub(crate) const PLATT_FOLDS: usize = 5;

/// Uniform integer in [0, bound) (Lemire's multiply-shift with rejection).
fn below(rng: &mut Xoshiro256PlusPlus, bound: usize) -> usize {
    use rand::Rng;
    let bound = bound as u64;
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(bound);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}

/// Platt scaling of one pair as libsvm: decision values from a shuffled 5-fold CV (each fold
/// trained with the same C per class), then the sigmoid fit. Returns (A, B).
#[allow(clippy::too_many_arguments)]
fn platt(
    x: ArrayView2<f64>,
    pair: usize,
    (rows, y, c): (&[usize], &[f64], &[f64]),
    spec: &KernelSpec,
    settings: SolverSettings,
    params: &SvcParams,
    rng: &mut Xoshiro256PlusPlus,
    mut pair_solver: Option<&mut PairSolver>,
) -> (f64, f64) {
    const FOLDS: usize = PLATT_FOLDS;
    let l = rows.len();
    let mut perm: Vec<usize> = (0..l).collect();
    for i in 0..l {
        let j = i + below(rng, l - i);
        perm.swap(i, j);
    }
    let mut dec = vec![0.0; l];
    for f in 0..FOLDS {
        let (begin, end) = (f * l / FOLDS, (f + 1) * l / FOLDS);
        let train: Vec<usize> = perm[..begin].iter().chain(&perm[end..]).copied().collect();
        let held = &perm[begin..end];
        let n_pos = train.iter().filter(|&&t| y[t] > 0.0).count();
        let n_neg = train.len() - n_pos;
        if n_pos == 0 || n_neg == 0 {
            let v = if n_pos > 0 {
                1.0
            } else if n_neg > 0 {
                -1.0
            } else {
                0.0
            };
            held.iter().for_each(|&t| dec[t] = v);
            continue;
        }
        let sub_rows: Vec<usize> = train.iter().map(|&t| rows[t]).collect();
        let sub_y: Vec<f64> = train.iter().map(|&t| y[t]).collect();
        let sub_c: Vec<f64> = train.iter().map(|&t| c[t]).collect();
        let id = ProblemId {
            pair,
            fold: Some(f),
        };
        let sol = match pair_solver.as_mut() {
            Some(solver) => solver(id, spec, &sub_rows, &sub_y, &sub_c),
            None => solve_cold(
                x,
                spec,
                &sub_rows,
                &sub_y,
                &sub_c,
                settings,
                params.cache_size,
            ),
        };
        let sv: Vec<usize> = (0..train.len()).filter(|&t| sol.alpha[t] > 0.0).collect();
        let sv_rows: Vec<usize> = sv.iter().map(|&t| sub_rows[t]).collect();
        let coef = Array2::from_shape_vec(
            (1, sv.len()),
            sv.iter().map(|&t| sol.alpha[t] * sub_y[t]).collect(),
        )
        .expect("shape");
        let svs = FeatureMajor::from_rows(x, Some(&sv_rows));
        let start = [0, sv.len(), sv.len()];
        let rho = [sol.rho];
        let groups = PairGroups {
            k: 2,
            start: &start,
            coef: &coef,
            rho: &rho,
        };
        let held_rows: Vec<usize> = held.iter().map(|&t| rows[t]).collect();
        let xh = x.select(Axis(0), &held_rows);
        let dv = decisions(spec, &svs, &groups, xh.view());
        for (i, &t) in held.iter().enumerate() {
            dec[t] = dv[[i, 0]];
        }
    }
    let positive: Vec<bool> = y.iter().map(|&s| s > 0.0).collect();
    fit_sigmoid(&dec, &positive)
}
