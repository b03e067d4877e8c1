//! The forest job: tasks are blocks of trees. A rank grows a block, turns it into vote sums
//! (test-set probabilities, out-of-bag probabilities, importances) and drops the trees, so no
//! rank ever holds the forest. Rank 0 merges the sums as they arrive and keeps the running total
//! in the journal (`forest_votes`); the sums are exact integers, so the result is bit-identical
//! for any rank count, schedule or resume.
//!
//! With `--save-model` each block also carries its trees to rank 0, which appends them to the
//! model file as they arrive (see `model::ForestModelWriter`); a resumed run grows again only the
//! blocks whose votes or trees are missing, and counts no block's votes twice.

use serde::{Deserialize, Serialize};

use crate::jobfile::forest::ForestJob;
use crate::ml::forest::{ForestTrainer, ForestVotes};
use crate::ml::metrics;
use crate::ml::tree::TreeArrays;
use crate::model::{ForestModelWriter, ForestShape};
use crate::results::{ResultFile, Row, Schema, Table, Value};
use crate::runner::{JobKind, RunningReduction};
use crate::runtime::scheduler::Tasks;

const VOTES: &str = "forest_votes";

/// One block's vote sums, as bytes (their own exact encoding of 128-bit sums), and its trees when
/// the model is saved.
#[derive(Debug, Serialize, Deserialize)]
pub struct BlockVotes {
    pub first_tree: usize,
    pub n_trees: usize,
    pub votes: Vec<u8>,
    pub trees: Vec<(usize, TreeArrays)>,
}

/// Rank 0's running reduction: the vote sums and the model file being written.
pub struct ForestRun {
    votes: ForestVotes,
    model: Option<ForestModelWriter>,
}

impl ForestJob {
    fn empty_votes(&self) -> ForestVotes {
        ForestVotes::new(
            self.train.x.nrows(),
            self.test.x.nrows(),
            self.train.classes.len(),
            self.train.x.ncols(),
        )
    }
}

/// A rank's forest worker: the job and the training data prepared (sorted) once per rank.
pub struct ForestWorker<'a> {
    job: &'a ForestJob,
    trainer: ForestTrainer,
}

impl Tasks for ForestWorker<'_> {
    type Output = BlockVotes;

    fn run(&self, task: usize) -> anyhow::Result<BlockVotes> {
        let job = self.job;
        let trees = job.block_trees(task);
        let (votes, saved) = if crate::par::threads() > 1 && trees.len() > 1 {
            self.grow_spread(trees.clone())?
        } else {
            self.grow(trees.clone())?
        };
        Ok(BlockVotes {
            first_tree: trees.start,
            n_trees: trees.len(),
            votes: votes.to_bytes(),
            trees: saved,
        })
    }
}

/// Trees of a block with the arrays kept for `--save-model`.
type Grown = (ForestVotes, Vec<(usize, TreeArrays)>);

impl ForestWorker<'_> {
    /// Grows `trees` one after the other into one set of vote sums.
    fn grow(&self, trees: std::ops::Range<usize>) -> anyhow::Result<Grown> {
        let job = self.job;
        let mut votes = job.empty_votes();
        let mut saved = Vec::new();
        for index in trees {
            let tree = self.trainer.grow_tree(index, job.seed)?;
            votes.add_tree(&tree, job.train.x.view(), job.test.x.view())?;
            if job.save_model.is_some() {
                saved.push((index, tree.tree.to_arrays()));
            }
        }
        Ok((votes, saved))
    }

    /// Grows a block's trees on the rank's threads, a fixed piece of trees each, and merges the
    /// pieces in tree order. Every tree draws from its own stream (seed, tree index) and the vote
    /// sums are exact integers, so the block is the same as grown one tree after the other.
    fn grow_spread(&self, trees: std::ops::Range<usize>) -> anyhow::Result<Grown> {
        use rayon::prelude::*;
        let pieces: Vec<_> = crate::par::pieces(trees.len(), TREE_PIECE)
            .map(|r| trees.start + r.start..trees.start + r.end)
            .collect();
        // Adjacent pieces are merged as they finish (rayon's reduce keeps their order), so a
        // rank holds a few pieces' sums at a time, not one per piece.
        pieces
            .into_par_iter()
            .map(|piece| self.grow(piece))
            .try_reduce(
                || (self.job.empty_votes(), Vec::new()),
                |(mut votes, mut saved), (more_votes, more_saved)| {
                    votes.merge(&more_votes)?;
                    saved.extend(more_saved);
                    Ok((votes, saved))
                },
            )
    }
}

/// Trees per piece of a block when the block is grown on several threads.
const TREE_PIECE: usize = 4;

impl JobKind for ForestJob {
    const KIND: &'static str = "forest";
    const JOURNAL_TABLE: &'static str = "blocks";
    type Running = ForestRun;
    type Output = BlockVotes;
    type Worker<'a> = ForestWorker<'a>;

    fn worker(&self) -> anyhow::Result<ForestWorker<'_>> {
        Ok(ForestWorker {
            job: self,
            trainer: ForestTrainer::new(&self.params, &self.train)?,
        })
    }

    fn seed(&self) -> u64 {
        self.seed
    }

    fn fingerprint(&self) -> String {
        format!("data {}", self.data_origin)
    }

    fn estimated_sizes(&self) -> crate::jobfile::sizes::Sizes {
        self.sizes()
    }

    fn model_path(&self) -> Option<&std::path::Path> {
        self.save_model.as_deref()
    }

    fn n_tasks(&self) -> usize {
        self.n_blocks()
    }

    fn check_output(&self, out: &std::path::Path) -> anyhow::Result<()> {
        let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or(p.to_path_buf());
        match &self.save_model {
            Some(model) if absolute(model) == absolute(out) => anyhow::bail!(
                "--save-model `{}` is the result file too; give the model its own file",
                model.display()
            ),
            _ => Ok(()),
        }
    }

    fn output_schema(&self) -> Schema {
        Schema::new().i64("first_tree").i64("n_trees")
    }

    fn output_rows(&self, output: &BlockVotes) -> Vec<Row> {
        vec![vec![
            Value::I64(output.first_tree as i64),
            Value::I64(output.n_trees as i64),
        ]]
    }

    fn finish(
        &self,
        _journal: &Table,
        ForestRun { votes, model }: ForestRun,
        file: &ResultFile,
        wall_seconds: f64,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            votes.is_complete(self.params.n_estimators as u64),
            "the vote sums do not cover trees 0..{}",
            self.params.n_estimators
        );
        let test_accuracy = match self.test.x.nrows() {
            0 => f64::NAN,
            _ => metrics::accuracy(&self.test.y, &votes.test_predict()),
        };
        let oob = match self.params.oob_score && self.params.bootstrap {
            true => Some(votes.oob_score(&self.train.y)?),
            false => None,
        };
        if let Some(warning) = oob.and_then(|o| o.warning()) {
            eprintln!("triton-batch: warning: {warning}");
        }
        let n = self.params.n_estimators as f64;
        let summary = Table {
            schema: Schema::new()
                .i64("n_estimators")
                .f64("test_accuracy")
                .f64("oob_score")
                .f64("fit_seconds")
                .f64("trees_per_second")
                .i64("n_train")
                .i64("n_test"),
            rows: vec![vec![
                Value::I64(self.params.n_estimators as i64),
                Value::F64(test_accuracy),
                Value::F64(oob.map_or(f64::NAN, |o| o.score)),
                Value::F64(wall_seconds),
                Value::F64(n / wall_seconds),
                Value::I64(self.train.x.nrows() as i64),
                Value::I64(self.test.x.nrows() as i64),
            ]],
        };
        file.write_table("summary", &summary)?;
        file.write_table(
            "feature_importances",
            &importance_table(&votes.feature_importances()),
        )?;
        if self.predictions && self.test.x.nrows() > 0 {
            file.write_table("predictions", &self.predictions_table(&votes))?;
        }
        if let Some(model) = model {
            let path = model.finish(self.params.n_estimators)?;
            file.set_attr("model_file", &Value::Str(path.display().to_string()))?;
        }
        file.set_attr("data", &Value::Str(self.data_origin.clone()))
    }
}

impl RunningReduction<ForestJob> for ForestRun {
    /// The journal's running sums (and the model file's trees, when saving) decide which blocks
    /// are done: a crash between writing a block's row and its sums must not count it twice.
    fn load(job: &ForestJob, file: &ResultFile) -> anyhow::Result<(Self, Option<Vec<usize>>)> {
        let votes = job.journal_votes(file);
        let model = match &job.save_model {
            Some(path) => Some(ForestModelWriter::open_or_create(path, &job.model_shape())?),
            None => None,
        };
        let done = (0..job.n_blocks())
            .filter(|&b| {
                let trees = job.block_trees(b);
                votes.covers(trees.clone())
                    && model
                        .as_ref()
                        .is_none_or(|m| trees.clone().all(|t| m.has_tree(t)))
            })
            .collect();
        Ok((ForestRun { votes, model }, Some(done)))
    }

    fn absorb(
        &mut self,
        _job: &ForestJob,
        output: &BlockVotes,
        file: &ResultFile,
    ) -> anyhow::Result<()> {
        if let Some(model) = &mut self.model {
            model.add_trees(&output.trees)?;
        }
        // A block grown again only for its trees is already in the sums.
        let trees = output.first_tree..output.first_tree + output.n_trees;
        if self.votes.covers(trees) {
            return Ok(());
        }
        self.votes.merge(&ForestVotes::from_bytes(&output.votes)?)?;
        file.write_bytes(VOTES, &self.votes.to_bytes())
    }
}

fn importance_table(importances: &[f64]) -> Table {
    let mut order: Vec<usize> = (0..importances.len()).collect();
    order.sort_by(|&a, &b| importances[b].total_cmp(&importances[a]).then(a.cmp(&b)));
    let mut rank = vec![0; importances.len()];
    for (r, &feature) in order.iter().enumerate() {
        rank[feature] = r as i64 + 1;
    }
    Table {
        schema: Schema::new().i64("feature").f64("importance").i64("rank"),
        rows: importances
            .iter()
            .enumerate()
            .map(|(f, &v)| vec![Value::I64(f as i64), Value::F64(v), Value::I64(rank[f])])
            .collect(),
    }
}

impl ForestJob {
    /// The running sums a journal holds; empty sums when it has none or they are damaged.
    fn journal_votes(&self, file: &ResultFile) -> ForestVotes {
        let Ok(bytes) = file.read_bytes(VOTES) else {
            return self.empty_votes();
        };
        // A crash in the middle of rewriting the sums leaves them unreadable: grow every block
        // again rather than trust them.
        ForestVotes::from_bytes(&bytes).unwrap_or_else(|_| {
            eprintln!("triton-batch: warning: the journal's vote sums are damaged; growing every block again");
            self.empty_votes()
        })
    }

    fn model_shape(&self) -> ForestShape {
        ForestShape {
            classes: self.train.classes.clone(),
            n_features: self.train.x.ncols(),
            n_estimators: self.params.n_estimators,
            job: format!(
                "{} seed {} data {}",
                serde_json::to_string(&self.params).unwrap_or_default(),
                self.seed,
                self.data_origin
            ),
        }
    }

    fn predictions_table(&self, votes: &ForestVotes) -> Table {
        let classes = &self.train.classes;
        let schema = classes.iter().fold(
            Schema::new().i64("row").str("y_true", 32).str("y_pred", 32),
            |s, c| s.f64(format!("proba_{c}")),
        );
        let proba = votes.test_proba();
        let predicted = votes.test_predict();
        let rows = (0..self.test.x.nrows())
            .map(|i| {
                let mut row = vec![
                    Value::I64(i as i64),
                    Value::Str(classes[self.test.y[i]].clone()),
                    Value::Str(classes[predicted[i]].clone()),
                ];
                row.extend(proba.row(i).iter().map(|&p| Value::F64(p)));
                row
            })
            .collect();
        Table { schema, rows }
    }
}
