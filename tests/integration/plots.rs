//! `report` and `plot` through the real binary: the scaling report's numbers on a runs table
//! built here, and charts of real grid-search, forest and Monte Carlo runs that parse as SVG
//! (XML with an <svg> root of the figure's size) and PNG (decoded, the figure's size, not blank).

use std::path::{Path, PathBuf};

use crate::common::*;
use triton_batch::report::plot::FIGURE_SIZE;
use triton_batch::results::{ResultFile, Table, Value};
use triton_batch::scaling::runs::{runs_schema, RUNS_TABLE};

/// Checks that `path` is an SVG document of the figure's size with some text in it.
fn check_svg(path: &Path) {
    let text = std::fs::read_to_string(path).expect("reading the SVG");
    let doc = roxmltree::Document::parse(&text).expect("the SVG parses as XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
    let (w, h) = FIGURE_SIZE;
    assert_eq!(root.attribute("width"), Some(w.to_string().as_str()));
    assert_eq!(root.attribute("height"), Some(h.to_string().as_str()));
    assert!(
        root.descendants()
            .filter(|n| n.has_tag_name("text"))
            .count()
            > 5,
        "{} has hardly any text",
        path.display()
    );
}

/// Checks that `path` is a PNG of the figure's size with a drawing on it (not one colour, and
/// a fair share of pixels that are not white).
fn check_png(path: &Path) {
    let decoder = png::Decoder::new(std::fs::File::open(path).expect("opening the PNG"));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("decoding the PNG");
    assert_eq!((info.width, info.height), FIGURE_SIZE, "{}", path.display());
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let inked = pixels
        .iter()
        .filter(|p| p.iter().take(3).any(|&c| c < 200))
        .count();
    assert!(
        inked * 100 > pixels.len(),
        "{}: only {inked} of {} pixels are not near white",
        path.display(),
        pixels.len()
    );
}

/// One `runs` row of job `quick` with the given ranks, wall seconds and busy max/mean seconds.
fn run_row(ranks: i64, wall: f64, busy_max: f64, busy_mean: f64) -> Vec<Value> {
    runs_schema()
        .columns
        .iter()
        .map(|c| match c.name.as_str() {
            "job" => "quick".into(),
            "job_hash" => "0123456789abcdef".into(),
            "job_kind" => "montecarlo".into(),
            "hosts" => Value::I64(1),
            "host_names" => "localhost".into(),
            "ranks" => Value::I64(ranks),
            "repeat" => Value::I64(1),
            "wall_seconds" => Value::F64(wall),
            "job_seconds" => Value::F64(wall - 0.5),
            "tasks" => Value::I64(8),
            "busy_max_seconds" => Value::F64(busy_max),
            "busy_mean_seconds" => Value::F64(busy_mean),
            "date" => "2025-01-01T00:00:00Z".into(),
            "triton_batch_version" => env!("CARGO_PKG_VERSION").into(),
            "result_file" => format!("results/scaling/quick-h1-n{ranks}-r1.h5").into(),
            other => panic!("the runs schema has a column `{other}` this test does not know"),
        })
        .collect()
}

/// A scaling file with two runs of one job: 1 rank in 10 s, 2 ranks in 6 s.
fn scaling_file(dir: &Path) -> PathBuf {
    let path = dir.join("scaling.h5");
    let file = ResultFile::create(&path).unwrap();
    let table = Table {
        schema: runs_schema(),
        rows: vec![run_row(1, 10.0, 9.0, 9.0), run_row(2, 6.0, 3.0, 2.5)],
    };
    file.write_table(RUNS_TABLE, &table).unwrap();
    path
}

#[test]
fn report_speedup_and_efficiency_of_two_runs() {
    let dir = tempdir();
    let scaling = scaling_file(dir.path());
    let svg = dir.path().join("scaling.svg");
    let run = triton(
        &["report", path_str(&scaling), "--plot", path_str(&svg)],
        30,
    );
    run.assert_success();
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    // speedup 10 / 6 = 1.667, efficiency 1.667 / 2 = 0.833, balance 3 / 2.5 = 1.2.
    assert_eq!(
        lines[..4],
        [
            "== quick (montecarlo, job_hash 0123456789abcdef, 2 runs) ==",
            "   hosts  ranks  repeats  wall_seconds  job_seconds  speedup  efficiency  balance",
            "0      1      1        1          10.0          9.5    1.000       1.000      1.0",
            "1      1      2        1           6.0          5.5    1.667       0.833      1.2",
        ],
        "\n{out}"
    );
    assert!(
        out.ends_with(&format!("plot: {}\n", svg.display())),
        "{out}"
    );
    check_svg(&svg);

    let png = dir.path().join("scaling.png");
    triton(
        &[
            "report",
            path_str(&scaling),
            "--job",
            "quick",
            "--plot",
            path_str(&png),
        ],
        30,
    )
    .assert_success();
    check_png(&png);
}

/// Runs `args`, expects exit code 2 and one error line containing every `needle`.
fn assert_one_line_error(args: &[&str], needles: &[&str]) {
    let run = triton(args, 30);
    assert_eq!(run.code(), Some(2), "{args:?}: {}", run.stderr());
    let err = run.stderr();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("triton-batch: error: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{args:?}: `{needle}` not in: {err}");
    }
}

#[test]
fn report_and_plot_refuse_bad_input_in_one_line() {
    let dir = tempdir();
    let scaling = scaling_file(dir.path());
    let s = path_str(&scaling);
    assert_one_line_error(
        &["report", s, "--job", "nope"],
        &["no runs of job `nope`", "jobs: quick"],
    );
    assert_one_line_error(
        &["report", s, "--plot", "chart.pdf"],
        &["--plot chart.pdf", "`.pdf`", ".svg or .png"],
    );
    let other = dir.path().join("other.h5");
    ResultFile::create(&other).unwrap();
    assert_one_line_error(
        &["report", path_str(&other)],
        &["no `runs` table", "tables: (none)"],
    );
    // A scaling file is not a job result.
    assert_one_line_error(
        &["plot", s],
        &["no `job_kind` attribute", "gridsearch, forest, montecarlo"],
    );
    ResultFile::open_rw(&other)
        .unwrap()
        .set_attr("job_kind", &"forest".into())
        .unwrap();
    assert_one_line_error(
        &["plot", path_str(&other)],
        &["no table `feature_importances`", "tables: (none)"],
    );
    ResultFile::open_rw(&other)
        .unwrap()
        .set_attr("job_kind", &"svd".into())
        .unwrap();
    assert_one_line_error(
        &["plot", path_str(&other)],
        &[
            "cannot plot job kind `svd`",
            "gridsearch, forest, montecarlo",
        ],
    );
}

/// Runs `jobs/<job>.toml` of `kind` on 2 ranks into `dir/<job>.h5` and returns that path.
fn real_run(dir: &Path, kind: &str, job: &str) -> PathBuf {
    let h5 = dir.join(format!("{job}.h5"));
    let toml = format!("jobs/{job}.toml");
    let args = [kind, &toml, "--out", path_str(&h5), "--quiet"];
    mpirun(2, &args, 120).assert_success();
    h5
}

#[test]
fn plot_gridsearch_heatmap_of_a_real_run() {
    let dir = tempdir();
    let h5 = real_run(dir.path(), "gridsearch", "quick-svc");
    let run = triton(&["plot", path_str(&h5)], 30);
    run.assert_success();
    let svg = dir.path().join("quick-svc.svg");
    assert_eq!(run.stdout(), format!("wrote {}\n", svg.display()));
    check_svg(&svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in [
        "rbf",
        "poly",
        "sigmoid",
        "10.0",
        "mean test accuracy",
        "shrinking=True",
    ] {
        assert!(text.contains(label), "`{label}` missing from the heatmap");
    }

    let png = dir.path().join("kernel-shrinking.png");
    triton(
        &[
            "plot",
            path_str(&h5),
            "--x",
            "param_kernel",
            "--y",
            "shrinking",
            "--out",
            path_str(&png),
        ],
        30,
    )
    .assert_success();
    check_png(&png);

    assert_one_line_error(
        &["plot", path_str(&h5), "--x", "gamma"],
        &[
            "--x `gamma` is not a searched parameter",
            "parameters: C, kernel, shrinking",
        ],
    );
    assert_one_line_error(
        &["plot", path_str(&h5), "--out", "chart.jpg"],
        &["--out chart.jpg", ".svg or .png"],
    );

    let timeline = dir.path().join("timeline.svg");
    triton(
        &[
            "plot",
            path_str(&h5),
            "--timeline",
            "--out",
            path_str(&timeline),
        ],
        30,
    )
    .assert_success();
    check_svg(&timeline);
    let text = std::fs::read_to_string(&timeline).unwrap();
    for label in [
        "36 search tasks on 2 ranks",
        "rank 0 (",
        "rank 1 (",
        "kernel poly",
    ] {
        assert!(text.contains(label), "`{label}` missing from the timeline");
    }
    // One bar per task plus one legend swatch per kernel, in the kernels' three colours.
    let bars: usize = ["#31688E", "#E67E22", "#35B779"]
        .iter()
        .map(|colour| text.matches(&format!("fill=\"{colour}\"")).count())
        .sum();
    assert_eq!(bars, 36 + 3, "bars and legend swatches");
    let run = triton(&["plot", path_str(&h5), "--timeline", "--x", "C"], 30);
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    assert!(
        run.stderr().contains("'--timeline' cannot be used with"),
        "{}",
        run.stderr()
    );
}

#[test]
fn plot_forest_importances_of_a_real_run() {
    let dir = tempdir();
    let h5 = real_run(dir.path(), "forest", "small-forest");
    let png = dir.path().join("importances.png");
    triton(&["plot", path_str(&h5), "--out", path_str(&png)], 30).assert_success();
    check_png(&png);
    let svg = dir.path().join("importances.svg");
    triton(&["plot", path_str(&h5), "--out", path_str(&svg)], 30).assert_success();
    check_svg(&svg);
    assert_one_line_error(
        &["plot", path_str(&h5), "--x", "C"],
        &["grid-search results only", "forest result"],
    );
}

#[test]
fn plot_montecarlo_convergence_of_a_real_run() {
    let dir = tempdir();
    let h5 = real_run(dir.path(), "montecarlo", "local-asian");
    let svg = dir.path().join("local-asian.svg");
    triton(&["plot", path_str(&h5)], 30).assert_success();
    check_svg(&svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    let price = ResultFile::open_read(&h5)
        .unwrap()
        .read_table("estimate")
        .unwrap()
        .f64_column("price")
        .unwrap()[0];
    assert!(
        text.contains(&format!("final price {price:.4}")),
        "the legend names the final price {price:.4}"
    );
    let png = dir.path().join("local-asian.png");
    triton(&["plot", path_str(&h5), "--out", path_str(&png)], 30).assert_success();
    check_png(&png);
}
