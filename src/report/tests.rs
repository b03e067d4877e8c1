//! Tests of `show` on real result files.

use super::*;
use crate::results::Schema;

fn opts() -> ShowOptions {
    ShowOptions::default()
}

/// A file with a multi-line attribute, an empty one, a 2-row table and a 7-row table.
fn sample(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("r.h5");
    let file = ResultFile::create(&path).unwrap();
    file.set_attr("job_fingerprint", &Value::Str(String::new()))
        .unwrap();
    file.set_attr(
        "job_toml",
        &Value::Str("[job]\nkind = \"mc\"\n\npaths = 10\n".into()),
    )
    .unwrap();
    file.set_attr("seed", &Value::I64(7)).unwrap();
    file.set_attr("wall_seconds", &Value::F64(0.5)).unwrap();
    file.write_table(
        "estimate",
        &Table {
            schema: Schema::new().str("model", 8).f64("price").i64("paths"),
            rows: vec![
                vec!["bs".into(), Value::F64(10.5), Value::I64(1000)],
                vec!["heston".into(), Value::F64(9.25), Value::I64(20000)],
            ],
        },
    )
    .unwrap();
    let prices = [3.0, f64::NAN, 1.0, 2.5, -4.0, 2.5, 0.819550];
    let mut blocks = Table::new(Schema::new().i64("block").f64("price").str("host", 8));
    for (i, p) in prices.iter().enumerate() {
        blocks
            .push(vec![
                Value::I64(i as i64),
                Value::F64(*p),
                Value::Str(format!("n{}", i % 2)),
            ])
            .unwrap();
    }
    file.write_table("blocks", &blocks).unwrap();
    path
}

fn version_line() -> String {
    format!("triton_batch_version: {}", env!("CARGO_PKG_VERSION"))
}

#[test]
fn report_show_small_table_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let o = ShowOptions {
        table: Some("estimate".into()),
        ..opts()
    };
    let text = show(&path, &o).unwrap();
    let table = [
        "",
        "== estimate (2 rows) ==",
        "   model   price  paths",
        "0  bs      10.50   1000",
        "1  heston   9.25  20000",
    ];
    let after_job = ["seed: 7", &version_line(), "wall_seconds: 0.5"];
    let expected = [
        &["job_toml: (4 lines; --all prints them)"],
        &after_job[..],
        &table,
    ]
    .concat();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "\n{text}");

    // --all prints the job text in full; the empty fingerprint never shows.
    let o = ShowOptions { all: true, ..o };
    let text = show(&path, &o).unwrap();
    let job = [
        "job_toml:",
        "    [job]",
        "    kind = \"mc\"",
        "",
        "    paths = 10",
    ];
    let expected = [&job[..], &after_job[..], &table].concat();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "\n{text}");
}

#[test]
fn report_show_all_tables_head_and_sort() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let text = show(&path, &opts()).unwrap();
    let blocks = text.find("== blocks (7 rows) ==").unwrap();
    let estimate = text.find("== estimate (2 rows) ==").unwrap();
    assert!(blocks < estimate, "tables in name order\n{text}");
    let grid: Vec<&str> = text[blocks..estimate].lines().collect();
    assert_eq!(
        grid,
        [
            "== blocks (7 rows) ==",
            "   block  price  host",
            "0      0    3.0  n0",
            "1      1    NaN  n1",
            "2      2    1.0  n0",
            "3      3    2.5  n1",
            "4      4   -4.0  n0",
            "[5 of 7 rows; --all shows every row]",
            "",
        ],
        "\n{text}"
    );

    let o = ShowOptions {
        table: Some("blocks".into()),
        sort: Some("price".into()),
        ..opts()
    };
    let text = show(&path, &o).unwrap();
    let grid: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("==")).collect();
    assert_eq!(
        grid,
        [
            "== blocks (7 rows) ==",
            "   block    price  host",
            "4      4 -4.00000  n0",
            "6      6  0.81955  n0",
            "2      2  1.00000  n0",
            "3      3  2.50000  n1",
            "5      5  2.50000  n1",
            "[5 of 7 rows; --all shows every row]",
        ],
        "\n{text}"
    );

    let o = ShowOptions {
        table: Some("blocks".into()),
        sort: Some("host".into()),
        all: true,
        ..opts()
    };
    let text = show(&path, &o).unwrap();
    let order: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("   block"))
        .skip(1)
        .map(|l| &l[..1])
        .collect();
    assert_eq!(order, ["0", "2", "4", "6", "1", "3", "5"]);

    // --sort without a table sorts the tables that have the column; NaN last.
    let o = ShowOptions {
        sort: Some("price".into()),
        all: true,
        ..opts()
    };
    let text = show(&path, &o).unwrap();
    let last_block = text.lines().rfind(|l| l.contains("  n")).unwrap();
    assert!(
        last_block.starts_with("1 ") && last_block.contains("NaN"),
        "\n{text}"
    );
    assert!(
        text.contains("1  heston   9.25  20000\n0  bs      10.50   1000"),
        "\n{text}"
    );
}

#[test]
fn report_show_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let err = show(
        &path,
        &ShowOptions {
            table: Some("nope".into()),
            ..opts()
        },
    )
    .unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "no table `nope` in {}; tables: blocks, estimate",
            path.display()
        )
    );
    let o = ShowOptions {
        table: Some("estimate".into()),
        sort: Some("host".into()),
        ..opts()
    };
    let err = show(&path, &o).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "no column `host` in table `estimate` of {}; columns: estimate: model, price, paths",
            path.display()
        )
    );
    let err = show(
        &path,
        &ShowOptions {
            sort: Some("zzz".into()),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("any table"), "{err:#}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not hdf5").unwrap();
    let err = show(&text, &opts()).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!("{} is not an HDF5 file", text.display())
    );

    let plain = dir.path().join("plain.h5");
    hdf5::File::create(&plain).unwrap();
    let err = show(&plain, &opts()).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "{} is not a triton-batch result file (it has no `triton_batch_version` attribute)",
            plain.display()
        )
    );
    assert!(!format!("{err:#}").contains('\n'));
}

#[test]
fn report_show_empty_table_and_attrs_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.h5");
    let file = ResultFile::create(&path).unwrap();
    let text = show(&path, &opts()).unwrap();
    assert_eq!(text, format!("{}\n", version_line()));
    file.create_table("journal", &Schema::new().i64("task").str("host", 4))
        .unwrap();
    let text = show(&path, &opts()).unwrap();
    assert_eq!(
        text,
        format!(
            "{}\n\n== journal (0 rows) ==\n  task  host\n",
            version_line()
        )
    );
}

#[test]
fn report_grid_prints_booleans_as_pandas_does() {
    let table = Table {
        schema: Schema::new().bool("shrinking").str("kernel", 8),
        rows: vec![
            vec![Value::Bool(true), "rbf".into()],
            vec![Value::Bool(false), "poly".into()],
        ],
    };
    assert_eq!(
        grid::render(&table, &[0, 1]),
        "   shrinking  kernel\n0       True  rbf\n1      False  poly\n"
    );
    // Sorting by a bool column puts false first.
    assert_eq!(
        compare(&Value::Bool(false), &Value::Bool(true)),
        Ordering::Less
    );
}
