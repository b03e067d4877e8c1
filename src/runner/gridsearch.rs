//! The grid-search job's adapter to the run: the search plan's tasks (`ml::search::SearchPlan`)
//! on the scheduler, one journal row per fit in the table `splits` (a test and a train score per
//! metric), and the plan's per-candidate summary laid out as scikit-learn's `cv_results` columns
//! (one set per metric), the `best` table (by the refit metric) and the refit model.

use std::time::Instant;

use crate::jobfile::gridsearch::GridSearchJob;
use crate::ml::estimator::Fitted;
use crate::ml::search::halving::{best_of_last, HalvingSchedule};
use crate::ml::search::{
    best_candidate, params_json, scores, Candidate, CandidateSummary, ParamValue, SearchPlan,
    SplitNumbers, SplitOutcome, SplitScores,
};
use crate::model::{SavedModel, BEST_MODEL};
use crate::results::{ColumnType, ResultFile, Row, Schema, Table, Value};
use crate::runner::JobKind;
use crate::runtime::failure;
use crate::runtime::scheduler::{TaskCost, Tasks};

/// Longest error text kept in the `splits` table.
const ERROR_CHARS: usize = 200;
const PARAMS_CHARS: usize = 400;

impl Tasks for GridSearchJob {
    type Output = Vec<SplitOutcome>;

    fn run(&self, task: usize) -> anyhow::Result<Vec<SplitOutcome>> {
        Ok(self
            .plan
            .run_task(&self.train, task, failure::injected_fit_failure)?)
    }

    fn cost(&self, task: usize) -> TaskCost {
        let (class, units) = self.plan.task_cost(task, self.train.x.ncols());
        TaskCost { class, units }
    }
}

impl JobKind for GridSearchJob {
    const KIND: &'static str = "gridsearch";
    const JOURNAL_TABLE: &'static str = "splits";
    type Output = Vec<SplitOutcome>;
    type Worker<'a> = &'a Self;

    fn worker(&self) -> anyhow::Result<&Self> {
        Ok(self)
    }

    fn seed(&self) -> u64 {
        self.seed
    }

    fn fingerprint(&self) -> String {
        format!(
            "data {}, return_train_score {}",
            self.data_origin, self.plan.return_train_score
        )
    }

    fn estimated_sizes(&self) -> crate::jobfile::sizes::Sizes {
        self.sizes()
    }

    fn n_tasks(&self) -> usize {
        self.plan.task_id_bound()
    }

    fn planned_tasks(&self) -> usize {
        self.plan.planned_tasks()
    }

    fn in_phases(&self) -> bool {
        self.plan.halving.is_some()
    }

    /// The fits of every halving iteration reached: an iteration's survivors once the journal
    /// holds every fit of the one before.
    fn phase_tasks(&self, journal: &Table) -> anyhow::Result<Vec<usize>> {
        let scores = split_scores(journal, &self.plan)?;
        let iterations = self
            .plan
            .halving_iterations(|i, c, f| scores.test_score(i, c, f));
        Ok(iterations
            .iter()
            .enumerate()
            .flat_map(|(iteration, candidates)| {
                candidates.iter().flat_map(move |&c| {
                    (0..self.plan.folds.len()).map(move |f| self.plan.halving_task(iteration, c, f))
                })
            })
            .collect())
    }

    /// One test and one train column per metric: `test_score`, `train_score` for one metric,
    /// `test_<name>`, `train_<name>` for a list (scikit-learn's `cross_validate` names).
    fn output_schema(&self) -> Schema {
        let mut schema = Schema::new();
        if self.plan.halving.is_some() {
            schema = schema.i64("iter").i64("n_resources");
        }
        let schema = schema
            .i64("candidate")
            .i64("fold")
            .str("params", PARAMS_CHARS)
            .f64("fit_time")
            .f64("score_time");
        score_names(&self.plan, "test")
            .chain(score_names(&self.plan, "train"))
            .fold(schema, Schema::f64)
            .i64("n_support")
            .str("error", ERROR_CHARS)
    }

    fn output_rows(&self, output: &Vec<SplitOutcome>) -> Vec<Row> {
        output
            .iter()
            .map(|s| {
                let mut row = match &self.plan.halving {
                    Some(schedule) => vec![
                        Value::I64(s.iteration as i64),
                        Value::I64(schedule.n_resources[s.iteration] as i64),
                    ],
                    None => vec![],
                };
                row.extend([
                    Value::I64(s.candidate as i64),
                    Value::I64(s.fold as i64),
                    Value::Str(params_json(&self.plan.candidates[s.candidate])),
                    Value::F64(s.fit_time),
                    Value::F64(s.score_time),
                ]);
                row.extend(
                    s.test_scores
                        .iter()
                        .chain(&s.train_scores)
                        .map(|&v| Value::F64(v)),
                );
                row.extend([Value::I64(s.n_support), Value::Str(s.error.clone())]);
                row
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
        let scores = split_scores(journal, &self.plan)?;
        let rows = self.result_rows(&scores);
        let summaries = scores.summarise(&rows);
        file.write_table("cv_results", &self.cv_results(&rows, &summaries))?;
        if let Some(schedule) = &self.plan.halving {
            write_halving_attributes(file, schedule, &rows)?;
        }
        let refit_metric = self.plan.metrics.refit_index();
        let best = match &self.plan.halving {
            Some(_) => best_of_last_iteration(&rows, &summaries),
            None => best_candidate(&summaries, refit_metric),
        };
        let Some(best) = best else {
            eprintln!("triton-batch: every candidate failed; no best candidate, no refit");
            return Ok(());
        };
        let candidate = rows[best].1;
        let refit = if self.refit {
            Some(self.refit(candidate)?)
        } else {
            None
        };
        let best_score = summaries[best].test[refit_metric].1;
        let best_table = self.best_table((best, candidate), best_score, refit.as_ref());
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

/// The journal's score columns of `set` ("test" or "train"), one per metric.
fn score_names<'a>(plan: &'a SearchPlan, set: &'a str) -> impl Iterator<Item = String> + 'a {
    plan.metrics
        .suffixes()
        .into_iter()
        .map(move |suffix| format!("{set}_{suffix}"))
}

/// Per (iteration, candidate, fold) numbers read back from the journal.
fn split_scores(journal: &Table, plan: &SearchPlan) -> anyhow::Result<SplitScores> {
    let n_metrics = plan.metrics.list().len();
    let mut scores = SplitScores::new(plan.candidates.len(), plan.folds.len(), n_metrics);
    let candidate = journal.i64_column("candidate")?;
    let fold = journal.i64_column("fold")?;
    let iteration = match plan.halving {
        Some(_) => journal.i64_column("iter")?,
        None => vec![0; journal.rows.len()],
    };
    let columns = |set| {
        score_names(plan, set)
            .map(|name| journal.f64_column(&name))
            .collect::<Result<Vec<_>, _>>()
    };
    let (test_scores, train_scores) = (columns("test")?, columns("train")?);
    let fit_time = journal.f64_column("fit_time")?;
    let score_time = journal.f64_column("score_time")?;
    for row in 0..journal.rows.len() {
        let numbers = SplitNumbers {
            test_scores: test_scores.iter().map(|c| c[row]).collect(),
            train_scores: train_scores.iter().map(|c| c[row]).collect(),
            fit_time: fit_time[row],
            score_time: score_time[row],
        };
        let place = [iteration[row], candidate[row], fold[row]].map(|i| usize::try_from(i).ok());
        let [Some(i), Some(c), Some(f)] = place else {
            anyhow::bail!("journal row {row} is outside the grid");
        };
        scores
            .record((i, c, f), numbers)
            .ok_or_else(|| anyhow::anyhow!("journal row {row} is outside the grid"))?;
    }
    Ok(scores)
}

/// The row of the best candidate of a halving search: the first best mean test score of its last
/// iteration (scikit-learn's `best_index_`).
fn best_of_last_iteration(
    rows: &[(usize, usize)],
    summaries: &[CandidateSummary],
) -> Option<usize> {
    let last = rows.last()?.0;
    let first = rows.iter().position(|&(i, _)| i == last)?;
    let means: Vec<f64> = summaries[first..].iter().map(|s| s.test[0].1).collect();
    Some(first + best_of_last(&means))
}

/// scikit-learn's attributes of a halving search, per iteration where they are lists.
fn write_halving_attributes(
    file: &ResultFile,
    schedule: &HalvingSchedule,
    rows: &[(usize, usize)],
) -> anyhow::Result<()> {
    let counts = |values: &[usize]| values.iter().map(|&v| v as i64).collect::<Vec<i64>>();
    file.set_attr_i64s("n_candidates", &counts(&schedule.n_candidates))?;
    file.set_attr_i64s("n_resources", &counts(&schedule.n_resources))?;
    let last = rows.last().map_or(0, |r| r.0);
    let remaining = schedule.survivors_count(rows.iter().filter(|r| r.0 == last).count());
    for (name, value) in [
        ("n_iterations", schedule.n_iterations()),
        ("n_required_iterations", schedule.n_required_iterations),
        ("n_possible_iterations", schedule.n_possible_iterations),
        ("n_remaining_candidates", remaining),
        ("min_resources", schedule.min_resources),
        ("max_resources", schedule.max_resources),
    ] {
        file.set_attr(name, &Value::I64(value as i64))?;
    }
    file.set_attr("factor", &Value::F64(schedule.factor))
}

/// The refit of the best candidate on all training data.
struct Refit {
    model: Fitted,
    seconds: f64,
    test_score: f64,
}

impl GridSearchJob {
    /// The rows of `cv_results`, as (iteration, candidate): every candidate of a full search, or
    /// each halving iteration's candidates in its order.
    fn result_rows(&self, scores: &SplitScores) -> Vec<(usize, usize)> {
        self.plan
            .halving_iterations(|i, c, f| scores.test_score(i, c, f))
            .into_iter()
            .enumerate()
            .flat_map(|(i, candidates)| candidates.into_iter().map(move |c| (i, c)))
            .collect()
    }

    fn cv_results(&self, rows: &[(usize, usize)], summaries: &[CandidateSummary]) -> Table {
        let plan = &self.plan;
        let mut schema = Schema::new()
            .f64("mean_fit_time")
            .f64("std_fit_time")
            .f64("mean_score_time")
            .f64("std_score_time");
        let param_columns: Vec<ParamColumn> = plan
            .names
            .iter()
            .map(|name| ParamColumn::new(name, &plan.candidates))
            .collect();
        for column in &param_columns {
            schema = column.add_to(schema);
        }
        schema = schema.str("params", PARAMS_CHARS);
        // Per metric as scikit-learn orders them: the test splits, mean, std and rank, then the
        // train splits, mean and std.
        let score_columns = |schema: Schema, set: &str, suffix: &str| {
            let schema = (0..plan.folds.len())
                .fold(schema, |s, k| s.f64(format!("split{k}_{set}_{suffix}")));
            schema
                .f64(format!("mean_{set}_{suffix}"))
                .f64(format!("std_{set}_{suffix}"))
        };
        for suffix in plan.metrics.suffixes() {
            schema = score_columns(schema, "test", suffix).i64(format!("rank_test_{suffix}"));
            if plan.return_train_score {
                schema = score_columns(schema, "train", suffix);
            }
        }
        let scores = |(values, mean, std): &(Vec<f64>, f64, f64)| -> Vec<Value> {
            values
                .iter()
                .chain([mean, std])
                .map(|&v| Value::F64(v))
                .collect()
        };
        if plan.halving.is_some() {
            schema = schema.i64("iter").i64("n_resources");
        }
        let rows = summaries
            .iter()
            .zip(rows)
            .map(|(summary, &(iteration, candidate))| {
                let candidate = &plan.candidates[candidate];
                let (fit_mean, fit_std) = summary.fit_time;
                let (score_mean, score_std) = summary.score_time;
                let mut row: Row = [fit_mean, fit_std, score_mean, score_std]
                    .into_iter()
                    .map(Value::F64)
                    .collect();
                row.extend(param_columns.iter().map(|p| p.value(candidate)));
                row.push(Value::Str(params_json(candidate)));
                for m in 0..summary.test.len() {
                    row.extend(scores(&summary.test[m]));
                    row.push(Value::I64(summary.rank_test[m]));
                    if plan.return_train_score {
                        row.extend(scores(&summary.train[m]));
                    }
                }
                if let Some(schedule) = &plan.halving {
                    row.push(Value::I64(iteration as i64));
                    row.push(Value::I64(schedule.n_resources[iteration] as i64));
                }
                row
            })
            .collect();
        Table { schema, rows }
    }

    fn refit(&self, best: usize) -> anyhow::Result<Refit> {
        let started = Instant::now();
        let model = self.plan.params[best]
            .fit(&self.train)
            .map_err(|e| anyhow::anyhow!("refitting the best candidate: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let test_score = match &self.test {
            Some(test) => scores(&[self.plan.metrics.refit()], &model, test)?[0],
            None => f64::NAN,
        };
        Ok(Refit {
            model,
            seconds,
            test_score,
        })
    }

    /// The `best` table of the best `(row of cv_results, candidate)`.
    fn best_table(
        &self,
        (best, candidate): (usize, usize),
        best_score: f64,
        refit: Option<&Refit>,
    ) -> Table {
        let schema = Schema::new()
            .i64("best_index")
            .str("best_params", PARAMS_CHARS)
            .f64("best_score")
            .f64("refit_time")
            .f64("test_score")
            .str("metric", 24)
            .i64("n_train")
            .i64("n_test");
        let row = vec![
            Value::I64(best as i64),
            Value::Str(params_json(&self.plan.candidates[candidate])),
            Value::F64(best_score),
            Value::F64(refit.map_or(f64::NAN, |r| r.seconds)),
            Value::F64(refit.map_or(f64::NAN, |r| r.test_score)),
            Value::Str(self.plan.metrics.refit().name().into()),
            Value::I64(self.train.x.nrows() as i64),
            Value::I64(self.test.as_ref().map_or(0, |t| t.x.nrows()) as i64),
        ];
        Table {
            schema,
            rows: vec![row],
        }
    }
}

/// A `param_<name>` column: numbers as f64 (NaN where a candidate lacks the parameter), booleans
/// as bool when every candidate has one (scikit-learn's `cv_results_` holds booleans), anything
/// else as text in Python's spelling (empty where lacking).
struct ParamColumn {
    name: String,
    ty: ColumnType,
}

impl ParamColumn {
    fn new(name: &str, candidates: &[Candidate]) -> Self {
        let values: Vec<&ParamValue> = candidates.iter().filter_map(|c| c.get(name)).collect();
        let ty = if values.iter().all(|v| v.as_f64().is_some()) {
            ColumnType::F64
        } else if values.len() == candidates.len()
            && values.iter().all(|v| matches!(v, ParamValue::Bool(_)))
        {
            ColumnType::Bool
        } else {
            ColumnType::Str(32)
        };
        ParamColumn {
            name: name.to_string(),
            ty,
        }
    }

    fn add_to(&self, schema: Schema) -> Schema {
        schema.col(format!("param_{}", self.name), self.ty)
    }

    fn value(&self, candidate: &Candidate) -> Value {
        let value = candidate.get(&self.name);
        match self.ty {
            ColumnType::F64 => Value::F64(value.and_then(ParamValue::as_f64).unwrap_or(f64::NAN)),
            ColumnType::Bool => Value::Bool(matches!(value, Some(ParamValue::Bool(true)))),
            _ => Value::Str(value.map(ToString::to_string).unwrap_or_default()),
        }
    }
}
