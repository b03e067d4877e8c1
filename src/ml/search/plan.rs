//! A search's plan: the candidates with their validated estimator parameters, the folds, the
//! metrics, and what one task is, plus running a task on the training data (each fit scored with
//! every metric).
//!
//! SVC candidates that differ only in C on the same fold form one task (a C-chain) when their
//! kernel chains ([`Kernel::chains_across_c`]: all but poly, whose long cold fits gain little from
//! a shared cache and, chained, make the grid's longest task). A chain is fitted in increasing C
//! with one kernel cache, each fit warm-started from the previous C's solution where the kernel
//! warm-starts. Every other candidate and fold is a task of its own. The plan is a function of the
//! job alone, so results never depend on ranks or schedule.
//!
//! A halving search (`halving`) fits every (iteration, candidate, fold) alone, on the iteration's
//! row subsample of the fold; a task id names all three, so any rank can run any task without
//! knowing who advanced (rank 0 decides that between iterations, and only hands out the tasks
//! of the candidates that did).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::halving::HalvingSchedule;
use super::scoring::{scores, Metrics};
use super::{mean_std, Candidate};
use crate::ml::cv::Split;
use crate::ml::estimator::{EstimatorParams, Fitted};
use crate::ml::svm::{Kernel, SvcParams, SvcWorkspace, SvmError};
use crate::ml::Dataset;

/// The (candidate, fold) fits of one task, in fitting order.
pub type TaskFits = Vec<(usize, usize)>;

/// A validated search: everything needed to fit any (candidate, fold).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchPlan {
    /// Searched parameter names, sorted: one `param_<name>` column each.
    pub names: Vec<String>,
    pub candidates: Vec<Candidate>,
    /// Candidate i's estimator parameters (fixed ones merged with the candidate's).
    pub params: Vec<EstimatorParams>,
    /// (train, test) indices into the training data, per fold.
    pub folds: Vec<Split>,
    pub metrics: Metrics,
    pub return_train_score: bool,
    /// A halving search's schedule; `None` for a search of every candidate on all rows.
    pub halving: Option<HalvingSchedule>,
    /// The tasks of a full search, C-chains or single fits (none under halving).
    tasks: Vec<TaskFits>,
}

/// One fit of one candidate on one fold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitOutcome {
    /// The halving iteration (0 for a full search).
    pub iteration: usize,
    pub candidate: usize,
    pub fold: usize,
    pub fit_time: f64,
    pub score_time: f64,
    /// One per metric, in the order of `Metrics::list`; NaN when the fit failed (scikit-learn's
    /// error_score = nan).
    pub test_scores: Vec<f64>,
    /// One per metric; NaN unless train scores were asked for.
    pub train_scores: Vec<f64>,
    /// Support vectors of an SVC, -1 for other estimators.
    pub n_support: i64,
    pub error: String,
}

/// What makes fits share a task: SVCs equal but for C chain together, if their kernel chains.
#[derive(PartialEq)]
enum ChainKey {
    Svc { fold: usize, without_c: SvcParams },
    Alone { fold: usize, candidate: usize },
}

impl SearchPlan {
    pub fn new(
        names: Vec<String>,
        candidates: Vec<Candidate>,
        params: Vec<EstimatorParams>,
        folds: Vec<Split>,
        metrics: Metrics,
        return_train_score: bool,
        halving: Option<HalvingSchedule>,
    ) -> Self {
        let tasks = match halving {
            Some(_) => vec![],
            None => chain_fits(&params, folds.len()),
        };
        SearchPlan {
            names,
            candidates,
            params,
            folds,
            metrics,
            return_train_score,
            halving,
            tasks,
        }
    }

    /// The tasks of a full search, in task-id order.
    pub fn tasks(&self) -> &[TaskFits] {
        &self.tasks
    }

    /// Task ids run from 0 to this bound (under halving, not every id is run).
    pub fn task_id_bound(&self) -> usize {
        match &self.halving {
            Some(schedule) => schedule.n_iterations() * self.candidates.len() * self.folds.len(),
            None => self.tasks.len(),
        }
    }

    /// How many tasks a complete run runs.
    pub fn planned_tasks(&self) -> usize {
        match &self.halving {
            Some(schedule) => schedule.n_candidates.iter().sum::<usize>() * self.folds.len(),
            None => self.tasks.len(),
        }
    }

    /// The id of halving iteration `iteration`'s fit of `candidate` on `fold`.
    pub fn halving_task(&self, iteration: usize, candidate: usize, fold: usize) -> usize {
        (iteration * self.candidates.len() + candidate) * self.folds.len() + fold
    }

    /// A task's halving iteration (0 for a full search) and its fits.
    pub fn task_fits(&self, task: usize) -> (usize, TaskFits) {
        match self.halving {
            Some(_) => {
                let (fold, rest) = (task % self.folds.len(), task / self.folds.len());
                let (candidate, iteration) =
                    (rest % self.candidates.len(), rest / self.candidates.len());
                (iteration, vec![(candidate, fold)])
            }
            None => (0, self.tasks[task].clone()),
        }
    }

    /// The (train, test) rows of `fold` in `iteration`: all of the fold's rows, or the halving
    /// iteration's subsample of them.
    fn fold_rows(&self, iteration: usize, fold: usize) -> (Vec<usize>, Vec<usize>) {
        let (train, test) = &self.folds[fold];
        match &self.halving {
            Some(schedule) => (
                schedule.subsample(train, iteration),
                schedule.subsample(test, iteration),
            ),
            None => (train.clone(), test.clone()),
        }
    }

    /// The candidates of each halving iteration reached so far, in scikit-learn's order: every
    /// candidate first; the next iteration's once every fit of the previous one has a test score
    /// (`test_score(iteration, candidate, fold)`, by the first metric).
    pub fn halving_iterations(
        &self,
        test_score: impl Fn(usize, usize, usize) -> Option<f64>,
    ) -> Vec<Vec<usize>> {
        let Some(schedule) = &self.halving else {
            return vec![(0..self.candidates.len()).collect()];
        };
        let mut iterations = vec![(0..self.candidates.len()).collect::<Vec<usize>>()];
        while iterations.len() < schedule.n_iterations() {
            let iteration = iterations.len() - 1;
            let candidates = &iterations[iteration];
            let means: Option<Vec<f64>> = candidates
                .iter()
                .map(|&c| {
                    let folds: Option<Vec<f64>> = (0..self.folds.len())
                        .map(|f| test_score(iteration, c, f))
                        .collect();
                    folds.map(|scores| mean_std(&scores).0)
                })
                .collect();
            let Some(means) = means else { break };
            iterations.push(schedule.survivors(candidates, &means));
        }
        iterations
    }

    /// Runs task `task` on `train` (the whole training data; the fold picks the rows).
    /// `injected_failure` is the test switch that fails a candidate's fits on purpose.
    pub fn run_task(
        &self,
        train: &Dataset,
        task: usize,
        injected_failure: impl Fn(usize) -> Option<String>,
    ) -> Result<Vec<SplitOutcome>, SvmError> {
        let (iteration, fits) = self.task_fits(task);
        let (train_rows, test_rows) = self.fold_rows(iteration, fits[0].1);
        let (fold_train, fold_test) = (train.select(&train_rows), train.select(&test_rows));
        let mut workspace = match &self.params[fits[0].0] {
            EstimatorParams::Svc(_) => Some(SvcWorkspace::new(
                fold_train.x.view(),
                &fold_train.y,
                &fold_train.classes,
            )?),
            _ => None,
        };
        Ok(fits
            .iter()
            .map(|&(candidate, fold)| {
                let params = &self.params[candidate];
                let fit = || match (params, workspace.as_mut()) {
                    (EstimatorParams::Svc(svc), Some(ws)) => svc
                        .build()
                        .and_then(|svc| ws.fit(&svc))
                        .map(Fitted::Svc)
                        .map_err(|e| e.to_string()),
                    _ => params.fit(&fold_train).map_err(|e| e.to_string()),
                };
                let started = Instant::now();
                let fitted = injected_failure(candidate).map_or_else(fit, Err);
                let fit_time = started.elapsed().as_secs_f64();
                let split = (iteration, candidate, fold);
                self.evaluate(split, (&fold_train, &fold_test), fitted, fit_time)
            })
            .collect())
    }

    /// Task `task`'s predicted cost for the scheduler, from the plan alone: a class of tasks
    /// whose seconds per unit are alike, and the units. SVCs: one class per kernel and shrinking
    /// (kernels differ in cost per kernel entry and in iterations; shrinking off runs longer),
    /// units rows² × features (the kernel entries an SMO solve computes, about) times, per fit of
    /// the chain, 1 + ln(1 + C) (a larger C, a softer margin bound, takes more iterations).
    /// Logistic regression: rows × features × (1 + ln(1 + C)). Random forest: rows × features ×
    /// trees. The scheduler learns each class's seconds per unit as tasks finish, so only the
    /// order within a class, and a first guess across classes, come from here.
    /// A halving search's fit counts the rows of its iteration.
    pub fn task_cost(&self, task: usize, n_features: usize) -> (usize, f64) {
        let (iteration, fits) = self.task_fits(task);
        let fold_rows = self.folds[fits[0].1].0.len();
        let rows = match &self.halving {
            Some(schedule) => {
                schedule.n_resources[iteration] as f64 / schedule.n_samples as f64
                    * fold_rows as f64
            }
            None => fold_rows as f64,
        }
        .max(1.0);
        let size = rows * n_features.max(1) as f64;
        let c_weight = |c: f64| 1.0 + (1.0 + c.max(0.0)).ln();
        match &self.params[fits[0].0] {
            EstimatorParams::Svc(svc) => {
                let kernel = match svc.kernel {
                    Kernel::Linear => 0,
                    Kernel::Poly => 1,
                    Kernel::Rbf => 2,
                    Kernel::Sigmoid => 3,
                };
                let chain: f64 = fits
                    .iter()
                    .map(|&(candidate, _)| match &self.params[candidate] {
                        EstimatorParams::Svc(svc) => c_weight(svc.c),
                        _ => 1.0,
                    })
                    .sum();
                (
                    2 * kernel + usize::from(!svc.shrinking),
                    rows * size * chain,
                )
            }
            EstimatorParams::LogisticRegression(lr) => (8, size * c_weight(lr.c)),
            EstimatorParams::RandomForest(forest) => (9, size * forest.n_estimators.max(1) as f64),
        }
    }

    /// Scores one fit of (iteration, candidate, fold) that took `fit_time` seconds with every
    /// metric.
    fn evaluate(
        &self,
        (iteration, candidate, fold): (usize, usize, usize),
        (train, test): (&Dataset, &Dataset),
        fitted: Result<Fitted, String>,
        fit_time: f64,
    ) -> SplitOutcome {
        let started = Instant::now();
        let metrics = self.metrics.list();
        let unscored = || vec![f64::NAN; metrics.len()];
        let scored = fitted.and_then(|model| {
            let score = |data| scores(metrics, &model, data).map_err(|e| e.to_string());
            let test_scores = score(test)?;
            let train_scores = match self.return_train_score {
                true => score(train)?,
                false => unscored(),
            };
            Ok((test_scores, train_scores, model.n_support()))
        });
        let score_time = started.elapsed().as_secs_f64();
        let (test_scores, train_scores, n_support, error) = match scored {
            Ok((test, train, n_support)) => (test, train, n_support, String::new()),
            Err(error) => (unscored(), unscored(), None, error),
        };
        SplitOutcome {
            iteration,
            candidate,
            fold,
            fit_time,
            score_time,
            test_scores,
            train_scores,
            n_support: n_support.map_or(-1, |n| n as i64),
            error,
        }
    }
}

/// The tasks: chains of SVC fits equal but for C (in increasing C) where the kernel chains, every
/// other fit alone; ordered by their first (fold, candidate).
fn chain_fits(params: &[EstimatorParams], n_folds: usize) -> Vec<TaskFits> {
    let mut chains: Vec<(ChainKey, Vec<usize>)> = Vec::new();
    for fold in 0..n_folds {
        for (candidate, p) in params.iter().enumerate() {
            let key = match p {
                EstimatorParams::Svc(svc) if svc.kernel.chains_across_c() => ChainKey::Svc {
                    fold,
                    without_c: SvcParams {
                        c: 0.0,
                        ..svc.clone()
                    },
                },
                _ => ChainKey::Alone { fold, candidate },
            };
            match chains.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(candidate),
                None => chains.push((key, vec![candidate])),
            }
        }
    }
    let c_of = |candidate: usize| match &params[candidate] {
        EstimatorParams::Svc(svc) => svc.c,
        _ => 0.0,
    };
    let mut tasks: Vec<TaskFits> = chains
        .into_iter()
        .map(|(key, mut members)| {
            let fold = match key {
                ChainKey::Svc { fold, .. } | ChainKey::Alone { fold, .. } => fold,
            };
            members.sort_by(|&a, &b| c_of(a).total_cmp(&c_of(b)).then(a.cmp(&b)));
            members.into_iter().map(|c| (c, fold)).collect()
        })
        .collect();
    tasks.sort_by_key(|fits| fits.iter().map(|&(c, f)| (f, c)).min());
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::estimator::EstimatorKind;

    fn params(kind: EstimatorKind, text: &str) -> EstimatorParams {
        EstimatorParams::from_toml(kind, &text.parse().unwrap()).unwrap()
    }

    #[test]
    fn svcs_equal_but_for_c_chain_in_increasing_c_per_fold_but_poly() {
        let svc = |c: f64, kernel: &str| {
            params(
                EstimatorKind::Svc,
                &format!("C = {c:?}\nkernel = \"{kernel}\""),
            )
        };
        let all = vec![
            svc(2.0, "rbf"),
            svc(0.5, "rbf"),
            svc(1.0, "poly"),
            svc(0.1, "rbf"),
            svc(0.1, "poly"),
            svc(0.5, "sigmoid"),
            svc(0.1, "sigmoid"),
        ];
        let tasks = chain_fits(&all, 2);
        assert_eq!(
            tasks,
            vec![
                vec![(3, 0), (1, 0), (0, 0)],
                vec![(2, 0)],
                vec![(4, 0)],
                vec![(6, 0), (5, 0)],
                vec![(3, 1), (1, 1), (0, 1)],
                vec![(2, 1)],
                vec![(4, 1)],
                vec![(6, 1), (5, 1)],
            ]
        );
    }

    #[test]
    fn other_estimators_fit_alone() {
        let lr = |c: f64| params(EstimatorKind::LogisticRegression, &format!("C = {c:?}"));
        let tasks = chain_fits(&[lr(1.0), lr(2.0)], 2);
        assert_eq!(
            tasks,
            vec![vec![(0, 0)], vec![(1, 0)], vec![(0, 1)], vec![(1, 1)]]
        );
    }
}
