//! `triton-batch simulate` against real runs: a 1-rank recording predicts the wall times of real
//! 1- and 2-rank runs, a static run replayed on its own configuration gives back its wall time,
//! and bad `--nodes` values and files that are not finished runs are refused in one line.

mod common;

use std::path::Path;

use common::*;
use triton_batch::results::{ResultFile, Schema, Table, Value};

/// A forest of 1,000 trees in 67 blocks (tasks), about 3.5 s on one rank here: tasks short and
/// even enough that the 2-rank runs are not decided by one late task.
const JOB: &str = r#"
[data]
source = "make_classification"
n_samples = 10000
random_state = 0
test_size = 0.25

[forest]
n_estimators = 1000
max_features = "sqrt"
seed = 0
"#;

fn wall_seconds(path: &Path) -> f64 {
    match ResultFile::open_read(path).unwrap().attr("wall_seconds") {
        Ok(Value::F64(seconds)) => seconds,
        other => panic!("{}: wall_seconds {other:?}", path.display()),
    }
}

fn predictions(path: &Path) -> Table {
    ResultFile::open_read(path)
        .unwrap()
        .read_table("predictions")
        .unwrap()
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

#[test]
fn predictions_match_real_one_and_two_rank_runs() {
    let dir = tempdir();
    let job = job_file(dir.path(), "forest.toml", JOB);
    let file = |name: &str| dir.path().join(name);
    let run = |np: usize, schedule: &str, out: &str| {
        let out = file(out);
        let args = [
            "forest",
            path_str(&job),
            "--quiet",
            "--schedule",
            schedule,
            "--out",
            path_str(&out),
        ];
        mpirun(np, &args, 120).assert_success();
    };
    run(1, "dynamic", "np1.h5");
    run(2, "dynamic", "np2-dynamic.h5");
    run(2, "static", "np2-static.h5");

    let report = simulate(
        &file("np1.h5"),
        &["local:1x1.0", "local:2"],
        &file("predicted.h5"),
    );
    assert!(
        report
            .stdout()
            .contains("task costs: journal `blocks`, 67 tasks"),
        "{}",
        report.stdout()
    );
    assert!(report.stdout().contains("fixed overhead: "));
    let table = predictions(&file("predicted.h5"));
    assert_eq!(
        table.str_column("nodes").unwrap(),
        ["local:1x1", "local:2x1"]
    );
    assert_eq!(table.i64_column("ranks").unwrap(), [1, 2]);
    let (fixed, dynamic) = (
        table.f64_column("static_seconds").unwrap(),
        table.f64_column("dynamic_seconds").unwrap(),
    );

    // The recorded configuration replays exactly: busy time plus overhead is the wall time.
    let recorded = wall_seconds(&file("np1.h5"));
    assert_close(fixed[0], recorded, 1e-9, "np 1 static replay");
    assert_close(dynamic[0], recorded, 1e-9, "np 1 dynamic replay");

    // Against separate real runs the tolerance is loose: CI machines run other jobs, and two
    // ranks on two cores slow each other (shared caches, memory bandwidth, rank 0's coordinator),
    // none of which the model knows. scripts/check-simulate holds the 15% target on a quiet
    // machine with a longer job.
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        assert_close(
            dynamic[1],
            wall_seconds(&file("np2-dynamic.h5")),
            0.35,
            "np 2 dynamic",
        );
        assert_close(
            fixed[1],
            wall_seconds(&file("np2-static.h5")),
            0.35,
            "np 2 static",
        );
    } else {
        eprintln!("one core: 2-rank runs cannot match a 2-rank prediction; comparison skipped");
    }

    // A static run replayed on its own ranks: the busiest rank's busy time + overhead.
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
         is not a positive number; expected comma-separated name:RANKSxSPEED or name:RANKS \
         entries, e.g. \"pi4:4x1.0,desktop:8x3.5\""
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
