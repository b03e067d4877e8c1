//! The Monte Carlo job: tasks are blocks of paths, each simulated from its own stream
//! (seed, block id); the journal table `blocks` keeps every block's partial sums, and the estimate
//! is reduced from them in block order, so it is the same for any rank count, schedule or resume.

use crate::jobfile::montecarlo::MonteCarloJob;
use crate::mc::{self, BlockSums};
use crate::results::{ResultFile, Row, Schema, Table, Value};
use crate::rng::task_rng;
use crate::runner::JobKind;
use crate::runtime::scheduler::Tasks;

impl Tasks for MonteCarloJob {
    type Output = BlockSums;

    fn run(&self, task: usize) -> anyhow::Result<BlockSums> {
        let mut rng = task_rng(self.seed, task as u64);
        Ok(mc::simulate_block(
            &self.pricing,
            &mut rng,
            self.block_size(task),
        ))
    }
}

impl JobKind for MonteCarloJob {
    const KIND: &'static str = "montecarlo";
    const JOURNAL_TABLE: &'static str = "blocks";
    type Output = BlockSums;
    type Worker<'a> = &'a Self;

    fn worker(&self) -> anyhow::Result<&Self> {
        Ok(self)
    }

    fn seed(&self) -> u64 {
        self.seed
    }

    fn estimated_sizes(&self) -> crate::jobfile::sizes::Sizes {
        self.sizes()
    }

    fn n_tasks(&self) -> usize {
        self.n_blocks()
    }

    fn output_schema(&self) -> Schema {
        BlockSums::field_names()
            .iter()
            .fold(Schema::new(), |schema, name| schema.f64(name))
    }

    fn output_rows(&self, output: &BlockSums) -> Vec<Row> {
        vec![output.to_values().into_iter().map(Value::F64).collect()]
    }

    type Running = ();

    fn finish(
        &self,
        journal: &Table,
        _running: (),
        file: &ResultFile,
        wall_seconds: f64,
    ) -> anyhow::Result<()> {
        let estimate = mc::reduce(&self.pricing, &journal_blocks(journal)?);
        file.write_table("estimate", &estimate_table(self, &estimate, wall_seconds))
    }
}

/// The blocks of a `blocks` journal in task order, as the estimate reduces them; a chart of the
/// running estimate (`report::plot`) reads a finished file's journal with this too.
pub fn journal_blocks(journal: &Table) -> anyhow::Result<Vec<BlockSums>> {
    let columns = BlockSums::field_names()
        .iter()
        .map(|name| journal.f64_column(name))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tasks = journal.i64_column("task")?;
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by_key(|&r| tasks[r]);
    Ok(order
        .into_iter()
        .map(|r| BlockSums::from_values(&columns.iter().map(|c| c[r]).collect::<Vec<_>>()))
        .collect())
}

fn estimate_table(job: &MonteCarloJob, estimate: &mc::Estimate, wall_seconds: f64) -> Table {
    let pricing = &job.pricing;
    let schema = Schema::new()
        .f64("price")
        .f64("std_error")
        .f64("ci_low")
        .f64("ci_high")
        .i64("paths")
        .i64("steps")
        .str("model", 16)
        .str("payoff", 24)
        .str("type", 8)
        .f64("strike")
        .str("estimator", 24)
        .f64("variance_reduction")
        .f64("mean_terminal")
        .f64("wall_seconds");
    let row = vec![
        Value::F64(estimate.price),
        Value::F64(estimate.std_error),
        Value::F64(estimate.ci_low),
        Value::F64(estimate.ci_high),
        Value::I64(estimate.paths as i64),
        Value::I64(pricing.option.steps as i64),
        Value::Str(pricing.model.name().into()),
        Value::Str(pricing.option.payoff.name().into()),
        Value::Str(pricing.option.option_type.name().into()),
        Value::F64(pricing.option.strike),
        Value::Str(pricing.estimator.name().into()),
        Value::F64(estimate.variance_reduction),
        Value::F64(estimate.mean_terminal),
        Value::F64(wall_seconds),
    ];
    Table {
        schema,
        rows: vec![row],
    }
}
