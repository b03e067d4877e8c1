//! `triton-batch simulate` against real runs: replayed on its own layout, a recorded run comes
//! back exactly (its wall time, and which rank ran which task in which order), for one rank under
//! the dynamic schedule (largest predicted task first, refined as tasks finish), two ranks under
//! the static one and one rank of two threads; the thread model scales other thread counts; bad
//! `--nodes` values and files that are not finished runs are refused in one line.
//!
//! Nothing here compares a prediction with a separate timed run (machine load would decide such
//! a test): `scripts/check-simulate` does that on a quiet machine.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use triton_batch::results::{ResultFile, Schema, Table, Value};

/// SVC tasks of three sizes and kernels (an rbf C-chain of three C values, two poly fits alone,
/// one sigmoid fit) on 3 folds: 12 tasks whose predicted costs differ, a second or two on one
/// rank.
const JOB: &str = r#"
[data]
source = "make_classification"
n_samples = 1500
random_state = 0

[estimator]
kind = "svc"
gamma = "auto"

[[grid]]
kernel = ["rbf"]
C = [0.1, 1.0, 10.0]

[[grid]]
kernel = ["poly"]
C = [0.1, 1.0]

[[grid]]
kernel = ["sigmoid"]
C = [0.5]

[cv]
folds = 3
"#;

fn wall_seconds(path: &Path) -> f64 {
    match ResultFile::open_read(path).unwrap().attr("wall_seconds") {
        Ok(Value::F64(seconds)) => seconds,
        other => panic!("{}: wall_seconds {other:?}", path.display()),
    }
}

fn table(path: &Path, name: &str) -> Table {
    ResultFile::open_read(path)
        .unwrap()
        .read_table(name)
        .unwrap()
}

fn predictions(path: &Path) -> Table {
    table(path, "predictions")
}

fn simulate(recorded: &Path, nodes: &[&str], out: &Path) -> Run {
    let mut args = vec!["simulate", path_str(recorded), "--out", path_str(out)];
    for n in nodes {
        args.extend(["--nodes", n]);
    }
    let run = triton(&args, 60);
    run.assert_success();
    run
}

fn assert_close(predicted: f64, measured: f64, tolerance: f64, what: &str) {
    let error = (predicted - measured) / measured;
    assert!(
        error.abs() <= tolerance,
        "{what}: predicted {predicted:.3} s, measured {measured:.3} s ({:+.1}%, limit {:.0}%)",
        100.0 * error,
        100.0 * tolerance
    );
}

/// Per rank, the tasks it ran in the order it started them: from a run's journal (one row per
/// fit; a task's rows share its start) or from simulate's `schedule` table (one cluster and
/// schedule).
fn runs_per_rank(journal: &Table) -> BTreeMap<i64, Vec<i64>> {
    let tasks = journal.i64_column("task").unwrap();
    let ranks = journal.i64_column("rank").unwrap();
    let starts = journal.f64_column("start_seconds").unwrap();
    let mut rows: Vec<(i64, f64, i64)> = (0..tasks.len())
        .map(|i| (ranks[i], starts[i], tasks[i]))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    rows.dedup_by_key(|&mut (rank, _, task)| (rank, task));
    let mut per_rank: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (rank, _, task) in rows {
        per_rank.entry(rank).or_default().push(task);
    }
    per_rank
}

fn simulated(schedule: &Table, cluster: i64, which: &str) -> Table {
    let clusters = schedule.i64_column("cluster").unwrap();
    let names = schedule.str_column("schedule").unwrap();
    let rows = schedule
        .rows
        .iter()
        .enumerate()
        .filter(|&(i, _)| clusters[i] == cluster && names[i] == which)
        .map(|(_, row)| row.clone())
        .collect();
    Table {
        schema: schedule.schema.clone(),
        rows,
    }
}

fn busy_per_rank(ranks: &Table) -> Vec<f64> {
    ranks.f64_column("busy_seconds").unwrap()
}

fn simulated_busy(schedule: &Table, ranks: usize) -> Vec<f64> {
    let rank = schedule.i64_column("rank").unwrap();
    let seconds = schedule.f64_column("seconds").unwrap();
    let mut busy = vec![0.0; ranks];
    for (r, s) in rank.iter().zip(seconds) {
        busy[*r as usize] += s;
    }
    busy
}

#[test]
fn recorded_runs_replay_exactly_on_their_own_layout() {
    let dir = tempdir();
    let job = job_file(dir.path(), "grid.toml", JOB);
    let file = |name: &str| dir.path().join(name);
    let run = |np: usize, schedule: &str, threads: &str, out: &str| {
        let out = file(out);
        let args = [
            "gridsearch",
            path_str(&job),
            "--quiet",
            "--no-refit",
            "--schedule",
            schedule,
            "--threads",
            threads,
            "--out",
            path_str(&out),
        ];
        mpirun(np, &args, 180).assert_success();
    };
    run(1, "dynamic", "1", "np1.h5");
    run(2, "static", "1", "np2-static.h5");
    run(1, "dynamic", "2", "np1-threads2.h5");

    // One rank, dynamic: the order it ran the tasks in is simulate's, task for task.
    let report = simulate(
        &file("np1.h5"),
        &["local:1x1.0", "local:2"],
        &file("predicted.h5"),
    );
    assert!(
        report
            .stdout()
            .contains("task costs: journal `splits`, 12 tasks"),
        "{}",
        report.stdout()
    );
    assert!(report.stdout().contains("fixed overhead: "));
    let table_ = predictions(&file("predicted.h5"));
    assert_eq!(
        table_.str_column("nodes").unwrap(),
        ["local:1x1", "local:2x1"]
    );
    assert_eq!(table_.i64_column("ranks").unwrap(), [1, 2]);
    let recorded = wall_seconds(&file("np1.h5"));
    assert_close(
        table_.f64_column("static_seconds").unwrap()[0],
        recorded,
        1e-9,
        "np 1 static replay",
    );
    assert_close(
        table_.f64_column("dynamic_seconds").unwrap()[0],
        recorded,
        1e-9,
        "np 1 dynamic replay",
    );
    let journal = table(&file("np1.h5"), "splits");
    let real = runs_per_rank(&journal);
    let schedule = table(&file("predicted.h5"), "schedule");
    assert_eq!(
        runs_per_rank(&simulated(&schedule, 0, "dynamic")),
        real,
        "np 1 dynamic: task order"
    );
    // Largest predicted first: the first task is an rbf chain of three fits.
    let costs = table(&file("np1.h5"), "task_costs");
    let units = costs.f64_column("units").unwrap();
    let largest = units.iter().copied().fold(0.0, f64::max);
    assert_eq!(units[real[&0][0] as usize], largest, "{:?}", real[&0]);

    // Two ranks, static: the same shares, each rank's busy time to the last bit of the sums.
    simulate(&file("np2-static.h5"), &["local:2"], &file("replay.h5"));
    let replay = predictions(&file("replay.h5"))
        .f64_column("static_seconds")
        .unwrap()[0];
    assert_close(
        replay,
        wall_seconds(&file("np2-static.h5")),
        1e-9,
        "np 2 static replay",
    );
    let schedule = simulated(&table(&file("replay.h5"), "schedule"), 0, "static");
    assert_eq!(
        runs_per_rank(&schedule),
        runs_per_rank(&table(&file("np2-static.h5"), "splits")),
        "np 2 static: tasks per rank"
    );
    let recorded_busy = busy_per_rank(&table(&file("np2-static.h5"), "ranks"));
    for (simulated, recorded) in simulated_busy(&schedule, 2).iter().zip(&recorded_busy) {
        assert_close(*simulated, *recorded, 1e-9, "np 2 static busy seconds");
    }
}

#[test]
fn a_threaded_run_replays_exactly_and_other_thread_counts_scale_by_the_model() {
    let dir = tempdir();
    let job = job_file(dir.path(), "grid.toml", JOB);
    let recorded = dir.path().join("threads2.h5");
    let args = [
        "gridsearch",
        path_str(&job),
        "--quiet",
        "--no-refit",
        "--threads",
        "2",
        "--out",
        path_str(&recorded),
    ];
    mpirun(1, &args, 180).assert_success();
    assert_eq!(
        table(&recorded, "ranks").i64_column("threads").unwrap(),
        [2]
    );
    let out = dir.path().join("predicted.h5");
    let report = simulate(&recorded, &["local:1x1x2", "local:1x1x1"], &out);
    assert!(report.stdout().contains("threads: a task on T threads"));
    let table_ = predictions(&out);
    assert_eq!(
        table_.str_column("nodes").unwrap(),
        ["local:1x1x2", "local:1x1"]
    );
    let dynamic = table_.f64_column("dynamic_seconds").unwrap();
    let wall = wall_seconds(&recorded);
    assert_close(dynamic[0], wall, 1e-9, "threads 2 replay");
    let schedule = table(&out, "schedule");
    assert_eq!(
        runs_per_rank(&simulated(&schedule, 0, "dynamic")),
        runs_per_rank(&table(&recorded, "splits")),
        "threads 2: task order"
    );
    // One thread instead of two: every task 1 / 0.55 as long (Amdahl, parallel fraction 0.9).
    let busy = busy_per_rank(&table(&recorded, "ranks"))[0];
    let overhead = wall - busy;
    assert_close(
        dynamic[1] - overhead,
        busy / 0.55,
        1e-9,
        "threads 1 from a 2-thread recording",
    );
}

/// A finished grid-search run as `jobs` writes it, with chosen numbers: 4 tasks of 1, 2, 3 and 4 s,
/// each with two fit rows repeating its seconds, in arrival order; 1 rank busy 10 s, wall 12 s.
fn write_grid_run(path: &Path) {
    let file = ResultFile::create(path).unwrap();
    file.set_attr("job_kind", &Value::Str("gridsearch".into()))
        .unwrap();
    file.set_attr("wall_seconds", &Value::F64(12.0)).unwrap();
    let splits = Schema::new()
        .i64("task")
        .i64("rank")
        .str("host", 64)
        .f64("seconds")
        .i64("candidate");
    let rows = [2, 0, 3, 1]
        .into_iter()
        .flat_map(|task| {
            (0..2).map(move |fit| {
                vec![
                    Value::I64(task),
                    Value::I64(0),
                    Value::Str("here".into()),
                    Value::F64((task + 1) as f64),
                    Value::I64(2 * task + fit),
                ]
            })
        })
        .collect();
    file.write_table(
        "splits",
        &Table {
            schema: splits,
            rows,
        },
    )
    .unwrap();
    let ranks = Schema::new()
        .i64("rank")
        .str("host", 64)
        .i64("tasks")
        .f64("busy_seconds");
    let row = vec![
        Value::I64(0),
        Value::Str("here".into()),
        Value::I64(4),
        Value::F64(10.0),
    ];
    file.write_table(
        "ranks",
        &Table {
            schema: ranks,
            rows: vec![row],
        },
    )
    .unwrap();
}

#[test]
fn grid_search_tasks_count_once_and_replay_in_closed_form() {
    let dir = tempdir();
    let recorded = dir.path().join("grid.h5");
    write_grid_run(&recorded);
    let out = dir.path().join("predicted.h5");
    let report = simulate(&recorded, &["local:1", "local:2", "slow:2x0.5"], &out);
    let stdout = report.stdout();
    assert!(
        stdout.contains("task costs: journal `splits`, 4 tasks, 10.00 CPU seconds"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "fixed overhead: 2.00 s = recorded wall 12.00 s - busiest rank's busy 10.00 s"
        ),
        "{stdout}"
    );
    let table = predictions(&out);
    // Static, 2 ranks: tasks 0-1 (3 s) and 2-3 (7 s). Dynamic: chunks of one task; at t=0 rank 0
    // takes task 0 and rank 1 task 1, both asking again at once; rank 0 then gets task 2 (1..4)
    // and rank 1 task 3 (2..6). Half speed doubles the makespans. Plus 2 s overhead throughout.
    assert_eq!(
        table.f64_column("static_seconds").unwrap(),
        [12.0, 9.0, 16.0]
    );
    assert_eq!(
        table.f64_column("dynamic_seconds").unwrap(),
        [12.0, 8.0, 14.0]
    );
    assert_eq!(
        table.f64_column("dynamic_speedup").unwrap(),
        [1.0, 1.5, 12.0 / 14.0]
    );
    assert_eq!(table.i64_column("busiest_rank").unwrap(), [0, 1, 1]);
    assert_eq!(
        table.f64_column("busiest_seconds").unwrap(),
        [10.0, 6.0, 12.0]
    );
    assert_eq!(
        table.str_column("idlest_node").unwrap(),
        ["local", "local", "slow"]
    );
    assert_eq!(
        table.f64_column("idlest_seconds").unwrap(),
        [10.0, 4.0, 8.0]
    );
}

#[test]
fn bad_nodes_and_files_that_are_not_runs_are_refused() {
    let dir = tempdir();
    let missing = dir.path().join("missing.h5");
    let run = triton(
        &[
            "simulate",
            path_str(&missing),
            "--nodes",
            "pi4:4x1.0,desktop:8x",
        ],
        30,
    );
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    assert_eq!(
        run.stderr().trim_end(),
        "triton-batch: error: --nodes `pi4:4x1.0,desktop:8x`: bad entry `desktop:8x`: SPEED `` \
         is not a positive number; expected comma-separated name:RANKSxSPEEDxTHREADS, \
         name:RANKSxSPEED or name:RANKS entries, e.g. \"pi4:1x0.33x4,desktop:8x3.5\""
    );

    let other = dir.path().join("other.h5");
    let file = ResultFile::create(&other).unwrap();
    let table = Table {
        schema: Schema::new().f64("x"),
        rows: vec![vec![Value::F64(1.0)]],
    };
    file.write_table("numbers", &table).unwrap();
    drop(file);
    let run = triton(&["simulate", path_str(&other), "--nodes", "local:2"], 30);
    assert_eq!(run.code(), Some(2));
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "has no `job_kind` attribute: simulate reads the result file of a finished run"
        ),
        "{stderr}"
    );
}
