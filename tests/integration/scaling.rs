//! scripts/scale.sh end to end on the local hostfile: one row per run in the `runs` table, read
//! back; a bad hostfile refused before anything runs; a failed run keeps the rows before it.

use std::path::Path;

use crate::common::*;
use triton_batch::results::{ResultFile, Table, Value};
use triton_batch::scaling::runs::{job_hash, runs_schema};

/// 24 tasks of a second or less in all.
const JOB: &str = r#"
[model]
kind = "gbm"
s0 = 100.0
sigma = 0.2
r = 0.02
q = 0.0

[option]
payoff = "asian_arithmetic"
type = "call"
strike = 100.0
maturity = 1.0
steps = 365

[simulation]
paths = 12000
estimator = "plain"
seed = 3
block_paths = 500
"#;

const TASKS: i64 = 24;

fn runs(scaling: &Path) -> Table {
    ResultFile::open_read(scaling)
        .unwrap()
        .read_table("runs")
        .unwrap()
}

fn scale(args: &[&str], env: &[(&str, &str)]) -> Run {
    script_env("scale.sh", args, 120, env)
}

#[test]
fn a_local_sweep_writes_one_row_per_rank_count() {
    let dir = tempdir();
    let job = job_file(dir.path(), "tiny-asian.toml", JOB);
    let scaling = dir.path().join("scaling.h5");
    let run = scale(
        &[
            "hostfiles/local.txt",
            path_str(&job),
            "--into",
            path_str(&scaling),
        ],
        &[],
    );
    run.assert_success();

    let file = ResultFile::open_read(&scaling).unwrap();
    assert_eq!(file.attr("kind").unwrap(), Value::Str("scaling".into()));
    let runs = runs(&scaling);
    assert_eq!(runs.schema, runs_schema());
    assert_eq!(runs.i64_column("ranks").unwrap(), [1, 2]);
    assert_eq!(runs.i64_column("hosts").unwrap(), [1, 1]);
    assert_eq!(runs.i64_column("repeat").unwrap(), [1, 1]);
    assert_eq!(runs.i64_column("tasks").unwrap(), [TASKS, TASKS]);
    for (column, want) in [
        ("job", "tiny-asian".to_string()),
        ("job_hash", job_hash(JOB)),
        ("job_kind", "montecarlo".to_string()),
        ("host_names", "localhost".to_string()),
        (
            "triton_batch_version",
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ] {
        assert_eq!(
            runs.str_column(column).unwrap(),
            [want.as_str(); 2],
            "{column}"
        );
    }
    let wall = runs.f64_column("wall_seconds").unwrap();
    let job_seconds = runs.f64_column("job_seconds").unwrap();
    let busy_max = runs.f64_column("busy_max_seconds").unwrap();
    let busy_mean = runs.f64_column("busy_mean_seconds").unwrap();
    for i in 0..2 {
        assert!(
            0.0 < job_seconds[i] && job_seconds[i] < wall[i],
            "run {i}: job {} s within mpirun's {} s",
            job_seconds[i],
            wall[i]
        );
        assert!(0.0 < busy_mean[i] && busy_mean[i] <= busy_max[i] && busy_max[i] < wall[i]);
    }
    for (i, date) in runs.str_column("date").unwrap().iter().enumerate() {
        assert!(date.len() == 20 && date.ends_with('Z'), "row {i}: {date}");
    }
    let results = runs.str_column("result_file").unwrap();
    for (i, ranks) in [1, 2].into_iter().enumerate() {
        let expected = dir
            .path()
            .join("scaling")
            .join(format!("tiny-asian-h1-n{ranks}-r1.h5"));
        assert_eq!(Path::new(&results[i]), expected);
        let result = ResultFile::open_read(&expected).unwrap();
        assert_eq!(result.attr("n_ranks").unwrap(), Value::I64(ranks));
    }

    // `report` reads the sweep back: the 2-rank row's speedup is T(1 rank) / T(2 ranks).
    let report = triton(&["report", path_str(&scaling)], 30);
    report.assert_success();
    let speedup = wall[0] / wall[1];
    let printed = report.stdout();
    let two_ranks = printed
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.get(2) == Some(&"2"))
        .unwrap_or_else(|| panic!("no 2-rank row in:\n{printed}"));
    let printed_speedup: f64 = two_ranks[6].parse().unwrap();
    assert!(
        (printed_speedup - speedup).abs() < 6e-4,
        "printed speedup {printed_speedup}, rows give {speedup}:\n{printed}"
    );
}

#[test]
fn a_bad_hostfile_line_is_refused_before_anything_runs() {
    let dir = tempdir();
    let job = job_file(dir.path(), "tiny-asian.toml", JOB);
    let hostfile = job_file(
        dir.path(),
        "bad.txt",
        "# two hosts\nlocalhost slots=2\npi3 slot=4\n",
    );
    let scaling = dir.path().join("scaling.h5");
    let run = scale(
        &[
            path_str(&hostfile),
            path_str(&job),
            "--into",
            path_str(&scaling),
        ],
        &[],
    );
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    assert!(
        run.stderr().contains(&format!(
            "{}:3: `pi3 slot=4`: unknown key `slot` (allowed: slots, max_slots)",
            hostfile.display()
        )),
        "{}",
        run.stderr()
    );
    assert!(!scaling.exists());
    assert!(!dir.path().join("scaling").exists(), "nothing may run");
}

#[test]
fn repeats_append_and_a_failed_run_keeps_the_rows_before_it() {
    let dir = tempdir();
    let job = job_file(dir.path(), "tiny-asian.toml", JOB);
    let scaling = dir.path().join("scaling.h5");
    let sweep = |extra: &[&str], env: &[(&str, &str)]| {
        let args = [
            &[
                "hostfiles/local.txt",
                path_str(&job),
                "--into",
                path_str(&scaling),
            ][..],
            extra,
        ]
        .concat();
        scale(&args, env)
    };
    sweep(&["--ranks-per-host", "1", "--repeat", "2"], &[]).assert_success();
    assert_eq!(runs(&scaling).i64_column("repeat").unwrap(), [1, 2]);

    // Rank 1 fails: the 1-rank run succeeds and appends its row, the 2-rank run fails.
    let run = sweep(&[], &[("TRITON_BATCH_TEST_FAIL", "error@1")]);
    assert!(!run.output.status.success(), "{}", run.stderr());
    assert!(
        run.stderr().contains("with 2 rank(s) failed"),
        "{}",
        run.stderr()
    );
    let runs = runs(&scaling);
    assert_eq!(runs.i64_column("ranks").unwrap(), [1, 1, 1]);
    assert_eq!(runs.i64_column("repeat").unwrap(), [1, 2, 1]);
    assert_eq!(runs.i64_column("tasks").unwrap(), [TASKS; 3]);
    assert!(!dir.path().join("scaling/tiny-asian-h1-n2-r1.h5").exists());
}

#[test]
fn bad_flags_print_the_usage() {
    for (args, message) in [
        (
            &["hostfiles/local.txt"][..],
            "expected HOSTFILE and JOB.toml",
        ),
        (
            &[
                "hostfiles/local.txt",
                "jobs/local-asian.toml",
                "--repeat",
                "0",
            ],
            "--repeat expects a whole number >= 1, not '0'",
        ),
        (
            &[
                "hostfiles/local.txt",
                "jobs/local-asian.toml",
                "--ranks-per-host",
            ],
            "--ranks-per-host needs a value",
        ),
        (
            &["hostfiles/local.txt", "jobs/local-asian.toml", "--np", "2"],
            "unknown option '--np'",
        ),
    ] {
        let run = scale(args, &[]);
        assert_eq!(run.code(), Some(2), "{args:?}");
        assert!(run.stderr().contains(message), "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains("usage: scripts/scale.sh"), "{args:?}");
    }
}
