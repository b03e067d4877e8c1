//! `triton-batch simulate`: predicts a job's wall time on other clusters (Pis, a desktop, a mix)
//! from the per-task seconds of a real run. `recording` reads the costs and the run's fixed
//! overhead from its result file, `nodes` parses each `--nodes` cluster (ranks, speeds, threads),
//! `events` replays the scheduler's static and dynamic schedules on it (the dynamic one with the
//! scheduler's own bookkeeping); this file puts them together into one row per cluster, printed
//! as text and optionally written as a `predictions` table (the busiest and idlest ranks are
//! those of the dynamic schedule, the default), with every simulated task's rank and start in a
//! `schedule` table.
//!
//! Predicted wall = the schedule's makespan + the recorded overhead (wall minus the busiest
//! rank's busy time). Threads other than recorded scale a task by Amdahl's law
//! (`events::PARALLEL_FRACTION`). Left out: message latency (small against tasks of a second on a LAN),
//! ranks of one node slowing each other (shared memory bandwidth, hyper-threads), per-rank set-up
//! inside a rank's first task (recorded once, paid by every rank), and an overhead that grows
//! with the cluster (ssh start-up, sending the data to more ranks).

pub mod events;
pub mod nodes;
pub mod recording;

use std::path::Path;

use anyhow::Context;

use crate::report::grid;
use crate::results::{ResultFile, Schema, Table, Value};
use events::{Outcome, Work};
use nodes::Cluster;
use recording::Recording;

/// Both schedules on one cluster.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub cluster: Cluster,
    pub scatter: Outcome,
    pub dynamic: Outcome,
}

impl Prediction {
    pub fn new(recording: &Recording, cluster: Cluster) -> Self {
        let ranks = cluster.ranks_specs();
        let work = Work {
            seconds: &recording.costs,
            threads: &recording.threads,
            predicted: &recording.predicted,
        };
        Prediction {
            scatter: events::static_scatter(&work, &ranks),
            dynamic: events::dynamic(&work, &ranks),
            cluster,
        }
    }

    /// Predicted wall seconds, static and dynamic: makespan + the recorded overhead.
    pub fn walls(&self, recording: &Recording) -> (f64, f64) {
        let overhead = recording.overhead();
        (
            self.scatter.makespan + overhead,
            self.dynamic.makespan + overhead,
        )
    }

    /// A rank under the dynamic schedule: its node's name and its busy seconds.
    fn dynamic_rank(&self, rank: usize) -> (&str, f64) {
        (&self.cluster.node_of(rank).name, self.dynamic.busy[rank])
    }
}

/// Runs `simulate`: the report as text, and the `predictions` table in `out` if given.
pub fn run(file: &Path, nodes: &[String], out: Option<&Path>) -> anyhow::Result<String> {
    let clusters = nodes
        .iter()
        .map(|value| Cluster::parse(value))
        .collect::<Result<Vec<_>, _>>()?;
    let recording = Recording::read(file)?;
    let predictions: Vec<Prediction> = clusters
        .into_iter()
        .map(|cluster| Prediction::new(&recording, cluster))
        .collect();
    let table = predictions_table(&recording, &predictions);
    if let Some(out) = out {
        write_predictions(
            out,
            &recording,
            &table,
            &schedule_table(&recording, &predictions),
        )?;
    }
    let threaded = predictions.iter().any(|p| p.cluster.threaded())
        || recording.threads.iter().any(|&t| t > 1);
    Ok(render(&recording, &table, threaded))
}

fn render(recording: &Recording, table: &Table, threaded: bool) -> String {
    let r = recording;
    let plural = if r.ranks == 1 { "" } else { "s" };
    let mut text = format!(
        "recorded run: {} ({}, {} rank{plural}, wall {:.2} s)\n\
         task costs: journal `{}`, {} tasks, {:.2} CPU seconds\n\
         fixed overhead: {:.2} s = recorded wall {:.2} s - busiest rank's busy {:.2} s (start-up: \
         MPI start, reading the job, generating or reading the data; and the final reduction), \
         added to every prediction\n",
        r.path.display(),
        r.kind,
        r.ranks,
        r.wall_seconds,
        r.journal,
        r.costs.len(),
        r.cpu_seconds(),
        r.overhead(),
        r.wall_seconds,
        r.busiest_seconds,
    );
    if r.tasks_run != r.costs.len() {
        text += &format!(
            "note: the recorded run was resumed and ran {} of the {} tasks, so its wall time and \
             the speedups below cover only part of the job\n",
            r.tasks_run,
            r.costs.len()
        );
    }
    text.push('\n');
    let rows: Vec<usize> = (0..table.len()).collect();
    text += &grid::render(table, &rows);
    text += "\nspeed: work per second of one rank relative to one rank of the recorded run; \
             speedup: recorded wall / predicted wall\n";
    if threaded {
        text += &format!(
            "threads: a task on T threads is taken to run 1 / ({:.2} + {:.2} / T) times as fast \
             as on one (Amdahl's law), relative to the threads it was recorded on\n",
            1.0 - events::PARALLEL_FRACTION,
            events::PARALLEL_FRACTION
        );
    }
    text
}

/// One row per cluster: predicted walls and speedups, the busiest and idlest rank under the
/// dynamic schedule, and the overhead added.
fn predictions_table(recording: &Recording, predictions: &[Prediction]) -> Table {
    let r = recording;
    let nodes_len = predictions
        .iter()
        .map(|p| p.cluster.to_string().len())
        .fold(1, usize::max);
    let name_len = predictions
        .iter()
        .flat_map(|p| p.cluster.nodes.iter().map(|n| n.name.len()))
        .fold(1, usize::max);
    let schema = Schema::new()
        .str("nodes", nodes_len)
        .i64("ranks")
        .f64("static_seconds")
        .f64("dynamic_seconds")
        .f64("static_speedup")
        .f64("dynamic_speedup")
        .i64("busiest_rank")
        .str("busiest_node", name_len)
        .f64("busiest_seconds")
        .i64("idlest_rank")
        .str("idlest_node", name_len)
        .f64("idlest_seconds")
        .f64("overhead_seconds");
    let rows = predictions
        .iter()
        .map(|p| {
            let (scatter, dynamic) = p.walls(r);
            let mut row = vec![
                Value::Str(p.cluster.to_string()),
                Value::I64(p.cluster.ranks() as i64),
                Value::F64(scatter),
                Value::F64(dynamic),
                Value::F64(r.wall_seconds / scatter),
                Value::F64(r.wall_seconds / dynamic),
            ];
            for rank in [p.dynamic.busiest(), p.dynamic.idlest()] {
                let (node, busy) = p.dynamic_rank(rank);
                row.extend([
                    Value::I64(rank as i64),
                    Value::Str(node.into()),
                    Value::F64(busy),
                ]);
            }
            row.push(Value::F64(r.overhead()));
            row
        })
        .collect();
    Table { schema, rows }
}

/// Every simulated task: which cluster (its row in `predictions`) and schedule, the task id, the
/// rank that runs it, when it starts and how long it takes.
fn schedule_table(recording: &Recording, predictions: &[Prediction]) -> Table {
    let schema = Schema::new()
        .i64("cluster")
        .str("schedule", 8)
        .i64("task")
        .i64("rank")
        .f64("start_seconds")
        .f64("seconds");
    let mut rows = vec![];
    for (cluster, p) in predictions.iter().enumerate() {
        for (name, outcome) in [("static", &p.scatter), ("dynamic", &p.dynamic)] {
            rows.extend(outcome.runs.iter().map(|run| {
                vec![
                    Value::I64(cluster as i64),
                    Value::Str(name.into()),
                    Value::I64(recording.tasks[run.task] as i64),
                    Value::I64(run.rank as i64),
                    Value::F64(run.start),
                    Value::F64(run.seconds),
                ]
            }));
        }
    }
    Table { schema, rows }
}

fn write_predictions(
    out: &Path,
    recording: &Recording,
    table: &Table,
    schedule: &Table,
) -> anyhow::Result<()> {
    let r = recording;
    let file = ResultFile::create(out)
        .with_context(|| format!("--out `{}`: cannot write the predictions", out.display()))?;
    let attrs = [
        ("recorded_file", Value::Str(r.path.display().to_string())),
        ("recorded_job_kind", Value::Str(r.kind.clone())),
        ("journal", Value::Str(r.journal.into())),
        ("tasks", Value::I64(r.costs.len() as i64)),
        ("cpu_seconds", Value::F64(r.cpu_seconds())),
        ("recorded_wall_seconds", Value::F64(r.wall_seconds)),
        ("recorded_ranks", Value::I64(r.ranks as i64)),
    ];
    for (name, value) in &attrs {
        file.set_attr(name, value)?;
    }
    file.write_table("predictions", table)?;
    file.write_table("schedule", schedule)?;
    file.flush()
}
