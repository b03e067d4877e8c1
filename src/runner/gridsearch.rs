//! The grid-search job: tasks are groups of (candidate, fold) fits, the journal table `splits`
//! has one row per fit, and the summary `cv_results` is built from it in candidate order with
//! scikit-learn's columns; then the best candidate is refit on all training data.
//!
//! SVC candidates that differ only in C on the same fold form one task, fitted in increasing C
//! with one kernel cache and each fit warm-started from the previous solution. The grouping is a
//! function of the job alone, so results do not depend on the rank count or schedule.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::jobfile::gridsearch::{GridSearchJob, Metric};
use crate::ml::estimator::{EstimatorParams, Fitted};
use crate::ml::metrics;
use crate::ml::search::{mean_std, params_json, rank_min, ParamValue};
use crate::ml::svm::{Kernel, SvcWorkspace};
use crate::ml::Dataset;
use crate::model::{SavedModel, BEST_MODEL};
use crate::results::{ResultFile, Row, Schema, Table, Value};
use crate::runner::JobKind;
use crate::runtime::failure;
use crate::runtime::scheduler::Tasks;

/// Longest error text kept in the `splits` table.
const ERROR_CHARS: usize = 200;
const PARAMS_CHARS: usize = 400;

/// One fit of one candidate on one fold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitOutcome {
    pub candidate: usize,
    pub fold: usize,
    pub fit_time: f64,
    pub score_time: f64,
    /// NaN when the fit failed (scikit-learn's error_score = nan).
    pub test_score: f64,
    /// NaN unless train scores were asked for.
    pub train_score: f64,
    /// Support vectors of an SVC, -1 for other estimators.
    pub n_support: i64,
    pub error: String,
}

impl GridSearchJob {
    /// The tasks: lists of (candidate, fold), fixed by the job.
    pub fn task_groups(&self) -> &[Vec<(usize, usize)>] {
        self.groups.get_or_init(|| self.group_fits())
    }

    fn group_fits(&self) -> Vec<Vec<(usize, usize)>> {
        let mut groups: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
        for fold in 0..self.folds.len() {
            for (candidate, params) in self.params.iter().enumerate() {
                let key = match params {
                    // SVCs that differ only in C share kernel rows and warm starts.
                    EstimatorParams::Svc(svc) => {
                        let mut without_c = svc.clone();
                        without_c.c = 0.0;
                        serde_json::to_string(&without_c).expect("params serialise")
                    }
                    _ => format!("candidate {candidate}"),
                };
                groups.entry((fold, key)).or_default().push(candidate);
            }
        }
        let mut tasks: Vec<Vec<(usize, usize)>> = groups
            .into_iter()
            .map(|((fold, _), mut members)| {
                members.sort_by(|&a, &b| self.c_of(a).total_cmp(&self.c_of(b)).then(a.cmp(&b)));
                members.into_iter().map(|c| (c, fold)).collect()
            })
            .collect();
        tasks.sort_by_key(|group| group.iter().map(|&(c, f)| (f, c)).min());
        tasks
    }

    fn c_of(&self, candidate: usize) -> f64 {
        match &self.params[candidate] {
            EstimatorParams::Svc(svc) => svc.c,
            _ => 0.0,
        }
    }

    fn fold_data(&self, fold: usize) -> (Dataset, Dataset) {
        let (train, test) = &self.folds[fold];
        (self.train.select(train), self.train.select(test))
    }

    fn score(&self, model: &Fitted, data: &Dataset) -> Result<f64, String> {
        score(self.metric, model, data)
    }

    /// Fits and scores one (candidate, fold); `fit` does the fitting (plain or warm-started).
    fn evaluate(
        &self,
        candidate: usize,
        fold: usize,
        train: &Dataset,
        test: &Dataset,
        fit: impl FnOnce() -> Result<Fitted, String>,
    ) -> SplitOutcome {
        let started = Instant::now();
        let fitted = failure::injected_fit_failure(candidate).map_or_else(fit, Err);
        let fit_time = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let scores = fitted.and_then(|model| {
            let test_score = self.score(&model, test)?;
            let train_score = match self.return_train_score {
                true => self.score(&model, train)?,
                false => f64::NAN,
            };
            Ok((test_score, train_score, model.n_support()))
        });
        let score_time = started.elapsed().as_secs_f64();
        let (test_score, train_score, n_support, error) = match scores {
            Ok((test, train, n_support)) => (test, train, n_support, String::new()),
            Err(error) => (f64::NAN, f64::NAN, None, error),
        };
        SplitOutcome {
            candidate,
            fold,
            fit_time,
            score_time,
            test_score,
            train_score,
            n_support: n_support.map_or(-1, |n| n as i64),
            error,
        }
    }
}

/// The job's metric on `data` (greater is better, as scikit-learn's scorers).
pub fn score(metric: Metric, model: &Fitted, data: &Dataset) -> Result<f64, String> {
    let x: ArrayView2<f64> = data.x.view();
    let predict = || model.predict(x).map_err(|e| e.to_string());
    Ok(match metric {
        Metric::Accuracy => metrics::accuracy(&data.y, &predict()?),
        Metric::BalancedAccuracy => metrics::balanced_accuracy(&data.y, &predict()?),
        Metric::F1Macro => metrics::f1_macro(&data.y, &predict()?),
        Metric::NegLogLoss => {
            let proba = model
                .predict_proba(x)
                .map_err(|e| e.to_string())?
                .ok_or("neg_log_loss needs a model with probabilities")?;
            -metrics::log_loss(&data.y, proba.view())
        }
    })
}

impl Tasks for GridSearchJob {
    type Output = Vec<SplitOutcome>;

    fn run(&self, task: usize) -> anyhow::Result<Vec<SplitOutcome>> {
        let group = &self.task_groups()[task];
        let fold = group[0].1;
        let (train, test) = self.fold_data(fold);
        let mut workspace = match &self.params[group[0].0] {
            EstimatorParams::Svc(svc) => {
                let mut ws = SvcWorkspace::new(train.x.view(), &train.y, &train.classes)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                // A sigmoid kernel is not positive semi-definite: the dual is not convex, the
                // solution depends on the starting point, and only a cold start reproduces
                // libsvm's. Every other kernel has one optimum, which warm starts reach sooner.
                ws.set_warm_start(svc.kernel != Kernel::Sigmoid);
                Some(ws)
            }
            _ => None,
        };
        Ok(group
            .iter()
            .map(|&(candidate, fold)| {
                let params = &self.params[candidate];
                self.evaluate(candidate, fold, &train, &test, || {
                    match (params, workspace.as_mut()) {
                        (EstimatorParams::Svc(svc), Some(ws)) => svc
                            .build()
                            .and_then(|svc| ws.fit(&svc))
                            .map(Fitted::Svc)
                            .map_err(|e| e.to_string()),
                        _ => params.fit(&train).map_err(|e| e.to_string()),
                    }
                })
            })
            .collect())
    }
}

impl JobKind for GridSearchJob {
    const KIND: &'static str = "gridsearch";
    const JOURNAL_TABLE: &'static str = "splits";

    fn seed(&self) -> u64 {
        self.seed
    }

    fn fingerprint(&self) -> String {
        format!(
            "data {}, return_train_score {}",
            self.data_origin, self.return_train_score
        )
    }

    fn n_tasks(&self) -> usize {
        self.task_groups().len()
    }

    fn output_schema(&self) -> Schema {
        Schema::new()
            .i64("candidate")
            .i64("fold")
            .str("params", PARAMS_CHARS)
            .f64("fit_time")
            .f64("score_time")
            .f64("test_score")
            .f64("train_score")
            .i64("n_support")
            .str("error", ERROR_CHARS)
    }

    fn output_rows(&self, output: &Vec<SplitOutcome>) -> Vec<Row> {
        output
            .iter()
            .map(|s| {
                vec![
                    Value::I64(s.candidate as i64),
                    Value::I64(s.fold as i64),
                    Value::Str(params_json(&self.candidates[s.candidate])),
                    Value::F64(s.fit_time),
                    Value::F64(s.score_time),
                    Value::F64(s.test_score),
                    Value::F64(s.train_score),
                    Value::I64(s.n_support),
                    Value::Str(s.error.clone()),
                ]
            })
            .collect()
    }

    type Running = ();

    fn finish(
        &self,
        journal: &Table,
        _running: (),
        file: &ResultFile,
        _wall_seconds: f64,
    ) -> anyhow::Result<()> {
        let splits = SplitMatrix::from_journal(journal, self.candidates.len(), self.folds.len())?;
        let cv_results = self.cv_results(&splits);
        file.write_table("cv_results", &cv_results)?;
        let mean_scores = cv_results.f64_column("mean_test_score")?;
        let ranks = rank_min(&mean_scores);
        let best = ranks
            .iter()
            .position(|&r| r == 1)
            .filter(|&i| !mean_scores[i].is_nan());
        let Some(best) = best else {
            eprintln!("triton-batch: every candidate failed; no best candidate, no refit");
            return Ok(());
        };
        let refit = if self.refit {
            Some(self.refit(best)?)
        } else {
            None
        };
        let best_table = self.best_table(best, mean_scores[best], refit.as_ref());
        // The same facts as root attributes too, like GridSearchCV's best_* attributes.
        for (column, value) in best_table.schema.columns.iter().zip(&best_table.rows[0]) {
            file.set_attr(&column.name, value)?;
        }
        file.write_table("best", &best_table)?;
        if let Some(refit) = refit {
            let saved = SavedModel::new(
                self.train.classes.clone(),
                self.train.x.ncols(),
                refit.model,
            );
            file.write_bytes(BEST_MODEL, &saved.to_json()?)?;
        }
        file.set_attr("data", &Value::Str(self.data_origin.clone()))
    }
}

/// Per (candidate, fold) outcomes read back from the journal.
struct SplitMatrix {
    test: Vec<Vec<f64>>,
    train: Vec<Vec<f64>>,
    fit_time: Vec<Vec<f64>>,
    score_time: Vec<Vec<f64>>,
}

impl SplitMatrix {
    fn from_journal(journal: &Table, candidates: usize, folds: usize) -> anyhow::Result<Self> {
        let blank = || vec![vec![f64::NAN; folds]; candidates];
        let mut m = SplitMatrix {
            test: blank(),
            train: blank(),
            fit_time: blank(),
            score_time: blank(),
        };
        let candidate = journal.i64_column("candidate")?;
        let fold = journal.i64_column("fold")?;
        let columns = [
            journal.f64_column("test_score")?,
            journal.f64_column("train_score")?,
            journal.f64_column("fit_time")?,
            journal.f64_column("score_time")?,
        ];
        for row in 0..journal.rows.len() {
            let (c, f) = (candidate[row] as usize, fold[row] as usize);
            anyhow::ensure!(
                c < candidates && f < folds,
                "journal row {row} is outside the grid"
            );
            m.test[c][f] = columns[0][row];
            m.train[c][f] = columns[1][row];
            m.fit_time[c][f] = columns[2][row];
            m.score_time[c][f] = columns[3][row];
        }
        Ok(m)
    }
}

/// The refit of the best candidate on all training data.
struct Refit {
    model: Fitted,
    seconds: f64,
    test_score: f64,
}

impl GridSearchJob {
    fn cv_results(&self, splits: &SplitMatrix) -> Table {
        let folds = self.folds.len();
        let mut schema = Schema::new()
            .f64("mean_fit_time")
            .f64("std_fit_time")
            .f64("mean_score_time")
            .f64("std_score_time");
        let param_columns: Vec<ParamColumn> = self
            .names
            .iter()
            .map(|name| ParamColumn::new(name, &self.candidates))
            .collect();
        for column in &param_columns {
            schema = column.add_to(schema);
        }
        schema = schema.str("params", PARAMS_CHARS);
        let score_columns = |schema: Schema, set: &str| {
            let schema = (0..folds).fold(schema, |s, k| s.f64(format!("split{k}_{set}_score")));
            schema
                .f64(format!("mean_{set}_score"))
                .f64(format!("std_{set}_score"))
        };
        schema = score_columns(schema, "test").i64("rank_test_score");
        if self.return_train_score {
            schema = score_columns(schema, "train");
        }
        let means: Vec<f64> = splits.test.iter().map(|s| mean_std(s).0).collect();
        let ranks = rank_min(&means);
        let rows = (0..self.candidates.len())
            .map(|c| {
                let (fit_mean, fit_std) = mean_std(&splits.fit_time[c]);
                let (score_mean, score_std) = mean_std(&splits.score_time[c]);
                let mut row: Row = [fit_mean, fit_std, score_mean, score_std]
                    .into_iter()
                    .map(Value::F64)
                    .collect();
                row.extend(param_columns.iter().map(|p| p.value(&self.candidates[c])));
                row.push(Value::Str(params_json(&self.candidates[c])));
                let scores = |values: &[f64]| -> Vec<Value> {
                    let (mean, std) = mean_std(values);
                    values
                        .iter()
                        .copied()
                        .chain([mean, std])
                        .map(Value::F64)
                        .collect()
                };
                row.extend(scores(&splits.test[c]));
                row.push(Value::I64(ranks[c]));
                if self.return_train_score {
                    row.extend(scores(&splits.train[c]));
                }
                row
            })
            .collect();
        Table { schema, rows }
    }

    fn refit(&self, best: usize) -> anyhow::Result<Refit> {
        let started = Instant::now();
        let model = self.params[best]
            .fit(&self.train)
            .map_err(|e| anyhow::anyhow!("refitting the best candidate: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let test_score = match &self.test {
            Some(test) => self.score(&model, test).map_err(anyhow::Error::msg)?,
            None => f64::NAN,
        };
        Ok(Refit {
            model,
            seconds,
            test_score,
        })
    }

    fn best_table(&self, best: usize, best_score: f64, refit: Option<&Refit>) -> Table {
        let schema = Schema::new()
            .i64("best_index")
            .str("best_params", PARAMS_CHARS)
            .f64("best_score")
            .f64("refit_time")
            .f64("test_score")
            .str("metric", 24)
            .i64("n_train")
            .i64("n_test");
        let metric = serde_json::to_value(self.metric)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let row = vec![
            Value::I64(best as i64),
            Value::Str(params_json(&self.candidates[best])),
            Value::F64(best_score),
            Value::F64(refit.map_or(f64::NAN, |r| r.seconds)),
            Value::F64(refit.map_or(f64::NAN, |r| r.test_score)),
            Value::Str(metric),
            Value::I64(self.train.x.nrows() as i64),
            Value::I64(self.test.as_ref().map_or(0, |t| t.x.nrows()) as i64),
        ];
        Table {
            schema,
            rows: vec![row],
        }
    }
}

/// A `param_<name>` column: numbers as f64 (NaN where a candidate lacks the parameter), anything
/// else as text in Python's spelling (empty where lacking).
struct ParamColumn {
    name: String,
    numeric: bool,
}

impl ParamColumn {
    fn new(name: &str, candidates: &[crate::ml::search::Candidate]) -> Self {
        let numeric = candidates
            .iter()
            .filter_map(|c| c.get(name))
            .all(|v| v.as_f64().is_some());
        ParamColumn {
            name: name.to_string(),
            numeric,
        }
    }

    fn add_to(&self, schema: Schema) -> Schema {
        let column = format!("param_{}", self.name);
        match self.numeric {
            true => schema.f64(column),
            false => schema.str(column, 32),
        }
    }

    fn value(&self, candidate: &crate::ml::search::Candidate) -> Value {
        let value = candidate.get(&self.name);
        match self.numeric {
            true => Value::F64(value.and_then(ParamValue::as_f64).unwrap_or(f64::NAN)),
            false => Value::Str(value.map(ToString::to_string).unwrap_or_default()),
        }
    }
}
