//! Tests of result files: real HDF5 files in a temporary directory, written and read back.

use super::*;

fn all_types_schema() -> Schema {
    Schema::new()
        .str("model", 8)
        .f64("price")
        .i64("paths")
        .str("tag", 3)
        .f64("err")
}

fn row(model: &str, price: f64, paths: i64, tag: &str, err: f64) -> Row {
    vec![
        Value::Str(model.into()),
        Value::F64(price),
        Value::I64(paths),
        Value::Str(tag.into()),
        Value::F64(err),
    ]
}

fn assert_same(a: &Value, b: &Value) {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) if x.is_nan() && y.is_nan() => {}
        _ => assert_eq!(a, b),
    }
}

#[test]
fn results_round_trip_all_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h5");
    let table = Table {
        schema: all_types_schema(),
        rows: vec![
            row("bs", 10.5, 1000, "", f64::NAN),
            row("heston-long", -0.0, -7, "abcdef", 1.2e-5),
            row("é→x", f64::INFINITY, i64::MIN, "a\0b", -1e300),
        ],
    };
    {
        let file = ResultFile::create(&path).unwrap();
        file.write_table("blocks", &table).unwrap();
    }
    let file = ResultFile::open_read(&path).unwrap();
    let back = file.read_table("blocks").unwrap();
    assert_eq!(back.schema, table.schema);
    assert_eq!(back.len(), 3);
    let expected = [
        row("bs", 10.5, 1000, "", f64::NAN),
        row("heston-l", -0.0, -7, "abc", 1.2e-5),
        row("??x", f64::INFINITY, i64::MIN, "a?b", -1e300),
    ];
    for (got, want) in back.rows.iter().zip(&expected) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_same(g, w);
        }
    }
    assert_eq!(back.f64_column("paths").unwrap()[0], 1000.0);
    assert_eq!(back.i64_column("paths").unwrap()[2], i64::MIN);
    assert_eq!(back.str_column("model").unwrap()[0], "bs");
    assert!(back.f64_column("model").is_err());
    assert!(back.f64_column("nope").is_err());
    assert_eq!(file.table_names().unwrap(), vec!["blocks".to_string()]);
    assert!(file.has_table("blocks"));
    assert!(!file.has_table("nope"));
}

#[test]
fn results_append_batches_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h5");
    let schema = Schema::new().i64("task").f64("seconds").str("host", 16);
    let mk = |t: i64| {
        vec![
            Value::I64(t),
            Value::I64(t * 2), // an integer into an f64 column is fine
            Value::Str(format!("node{t}")),
        ]
    };
    {
        let file = ResultFile::create(&path).unwrap();
        let mut w = file.create_table("journal", &schema).unwrap();
        assert_eq!(w.len(), 0);
        w.append(&[mk(0)]).unwrap();
        w.append(&(1..100).map(mk).collect::<Vec<_>>()).unwrap();
        w.append(&[]).unwrap();
        w.append(&[mk(100), mk(101)]).unwrap();
        assert_eq!(w.len(), 102);
        // A bad row is rejected and nothing of its batch is written.
        let err = w.append(&[mk(102), vec![Value::I64(1)]]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("journal") && msg.contains("expected 3 values"),
            "{msg}"
        );
        let err = w
            .append(&[vec![
                Value::F64(1.5),
                Value::F64(1.0),
                Value::Str("h".into()),
            ]])
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("column `task` is i64"),
            "{err:#}"
        );
        assert_eq!(w.len(), 102);
    }
    {
        let file = ResultFile::open_rw(&path).unwrap();
        let mut w = file.append_table("journal").unwrap();
        assert_eq!(w.schema(), &schema);
        assert_eq!(w.len(), 102);
        w.append(&(102..130).map(mk).collect::<Vec<_>>()).unwrap();
    }
    let table = ResultFile::open_read(&path)
        .unwrap()
        .read_table("journal")
        .unwrap();
    assert_eq!(table.len(), 130);
    for (t, r) in table.rows.iter().enumerate() {
        let t = t as i64;
        assert_eq!(
            r,
            &vec![
                Value::I64(t),
                Value::F64((t * 2) as f64),
                Value::Str(format!("node{t}"))
            ]
        );
    }
}

#[test]
fn results_attrs_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h5");
    let toml = "[job]\nkind = \"montecarlo\"\n\n[model]\nsigma = 0.2\n";
    {
        let file = ResultFile::create(&path).unwrap();
        file.set_attr("seed", &Value::I64(-42)).unwrap();
        file.set_attr("wall_seconds", &Value::F64(1.25)).unwrap();
        file.set_attr("job_toml", &Value::Str(toml.into())).unwrap();
        file.set_attr("hosts", &Value::Str("a".into())).unwrap();
        // Overwrite with another type.
        file.set_attr("hosts", &Value::I64(3)).unwrap();
        file.set_attr("hosts", &Value::Str("pi1,pi2 ✓".into()))
            .unwrap();
        assert!(file.set_attr("bad", &Value::Str("a\0b".into())).is_err());
    }
    let file = ResultFile::open_read(&path).unwrap();
    assert_eq!(file.attr("seed").unwrap(), Value::I64(-42));
    assert_eq!(file.attr("job_toml").unwrap(), Value::Str(toml.into()));
    let attrs = file.attrs().unwrap();
    let names: Vec<&str> = attrs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "hosts",
            "job_toml",
            "seed",
            "triton_batch_version",
            "wall_seconds"
        ]
    );
    assert_eq!(attrs[0].1, Value::Str("pi1,pi2 ✓".into()));
    assert_eq!(attrs[3].1, Value::Str(env!("CARGO_PKG_VERSION").into()));
    assert_eq!(attrs[4].1, Value::F64(1.25));
    let err = file.attr("missing").unwrap_err();
    assert!(format!("{err:#}").contains("missing"));
}

#[test]
fn results_foreign_attr_types() {
    // Attributes written by other tools: fixed-length strings, small ints, unsigned, bool,
    // f32 and arrays.
    use hdf5::types::FixedAscii;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        let s = FixedAscii::<10>::from_ascii("fixed").unwrap();
        f.new_attr::<FixedAscii<10>>()
            .create("fixed")
            .unwrap()
            .write_scalar(&s)
            .unwrap();
        f.new_attr::<i16>()
            .create("i16")
            .unwrap()
            .write_scalar(&-3i16)
            .unwrap();
        f.new_attr::<u64>()
            .create("u64")
            .unwrap()
            .write_scalar(&u64::MAX)
            .unwrap();
        f.new_attr::<bool>()
            .create("flag")
            .unwrap()
            .write_scalar(&true)
            .unwrap();
        f.new_attr::<f32>()
            .create("f32")
            .unwrap()
            .write_scalar(&0.5f32)
            .unwrap();
        f.new_attr::<i32>()
            .shape(3)
            .create("arr")
            .unwrap()
            .write(&[1, 2, 3])
            .unwrap();
    }
    let file = ResultFile::open_read(&path).unwrap();
    let attrs: Vec<(String, Value)> = file.attrs().unwrap();
    assert_eq!(
        attrs,
        vec![
            ("arr".into(), Value::Str("[1, 2, 3]".into())),
            ("f32".into(), Value::F64(0.5)),
            ("fixed".into(), Value::Str("fixed".into())),
            ("flag".into(), Value::Bool(true)),
            ("i16".into(), Value::I64(-3)),
            ("u64".into(), Value::I64(i64::MAX)),
        ]
    );
}

#[test]
fn results_foreign_compound_table() {
    // A table written with other member types: narrow ints, unsigned, f32, bool, enum,
    // unicode and variable-length strings, a nested array (unknown: "?").
    #[derive(hdf5::H5Type, Clone, Copy, PartialEq, Debug)]
    #[repr(u8)]
    enum Color {
        Red = 1,
        Blue = 7,
    }
    #[derive(hdf5::H5Type, Clone)]
    #[repr(C)]
    struct Rec {
        a: i8,
        b: u16,
        c: f32,
        d: bool,
        e: Color,
        f: hdf5::types::FixedUnicode<6>,
        g: hdf5::types::VarLenUnicode,
        h: [i32; 2],
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        let recs = [
            Rec {
                a: -5,
                b: 65535,
                c: 1.5,
                d: true,
                e: Color::Blue,
                f: "héllo".parse().unwrap(),
                g: "variable".parse().unwrap(),
                h: [1, 2],
            },
            Rec {
                a: 3,
                b: 0,
                c: -0.25,
                d: false,
                e: Color::Red,
                f: "".parse().unwrap(),
                g: "".parse().unwrap(),
                h: [3, 4],
            },
        ];
        f.new_dataset_builder()
            .with_data(&recs)
            .create("foreign")
            .unwrap();
        // Not tables: a 2-D compound, a plain float array, a group.
        f.new_dataset_builder()
            .with_data(&ndarray::arr2(&[[recs[0].clone()], [recs[1].clone()]]))
            .create("grid")
            .unwrap();
        f.new_dataset_builder()
            .with_data(&[1.0f64, 2.0])
            .create("floats")
            .unwrap();
        f.create_group("grp").unwrap();
    }
    let file = ResultFile::open_read(&path).unwrap();
    assert_eq!(file.table_names().unwrap(), vec!["foreign".to_string()]);
    let t = file.read_table("foreign").unwrap();
    assert_eq!(
        t.schema,
        Schema::new()
            .i64("a")
            .i64("b")
            .f64("c")
            .bool("d")
            .i64("e")
            .str("f", 6)
            .str("g", 8)
            .str("h", 1)
    );
    let s = |x: &str| Value::Str(x.into());
    assert_eq!(
        t.rows[0],
        vec![
            Value::I64(-5),
            Value::I64(65535),
            Value::F64(1.5),
            Value::Bool(true),
            Value::I64(7),
            s("héllo"),
            s("variable"),
            s("?")
        ]
    );
    assert_eq!(
        t.rows[1][0..6],
        [
            Value::I64(3),
            Value::I64(0),
            Value::F64(-0.25),
            Value::Bool(false),
            Value::I64(1),
            s("")
        ]
    );
    assert_eq!(t.rows[1][6], s(""));
    // Reading works, appending is refused with a reason.
    drop(file);
    let file = ResultFile::open_rw(&path).unwrap();
    let err = file.append_table("foreign").unwrap_err();
    assert!(format!("{err:#}").contains("column `a`"), "{err:#}");
    let err = file.read_table("grid").unwrap_err();
    assert!(
        format!("{err:#}").contains("no table `grid`; tables: foreign"),
        "{err:#}"
    );
}

#[test]
fn results_create_table_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.h5");
    let file = ResultFile::create(&path).unwrap();
    let old = Table {
        schema: Schema::new().f64("a").f64("b"),
        rows: vec![vec![Value::F64(1.0), Value::F64(2.0)]; 10],
    };
    file.write_table("t", &old).unwrap();
    let new = Table {
        schema: Schema::new().str("name", 4).i64("n"),
        rows: vec![vec![Value::Str("x".into()), Value::I64(5)]],
    };
    file.write_table("t", &new).unwrap();
    assert_eq!(file.read_table("t").unwrap(), new);
    // An empty table reads back empty.
    file.create_table("empty", &Schema::new().i64("n")).unwrap();
    let empty = file.read_table("empty").unwrap();
    assert_eq!(empty.schema, Schema::new().i64("n"));
    assert!(empty.is_empty());
    assert_eq!(
        file.table_names().unwrap(),
        vec!["empty".to_string(), "t".to_string()]
    );
    // Invalid schemas and names are refused.
    assert!(file.create_table("bad", &Schema::new()).is_err());
    assert!(file
        .create_table("bad", &Schema::new().f64("a").i64("a"))
        .is_err());
    assert!(file
        .create_table("bad", &Schema::new().str("s", 0))
        .is_err());
    assert!(file.create_table("a/b", &Schema::new().f64("a")).is_err());
}

#[test]
fn results_open_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("x.txt");
    std::fs::write(&text, "hello, this is not hdf5 at all").unwrap();
    let err = ResultFile::open_read(&text).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!("{} is not an HDF5 file", text.display())
    );
    let err = ResultFile::open_read(&dir.path().join("missing.h5")).unwrap_err();
    assert!(format!("{err:#}").starts_with("cannot open"), "{err:#}");
}

#[test]
fn results_bool_columns_and_attrs_round_trip_and_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.h5");
    let schema = Schema::new().f64("C").bool("shrinking").str("kernel", 8);
    let mk = |c: f64, shrinking: bool| vec![Value::F64(c), Value::Bool(shrinking), "rbf".into()];
    {
        let file = ResultFile::create(&path).unwrap();
        let mut w = file.create_table("cv_results", &schema).unwrap();
        w.append(&[mk(0.1, true), mk(0.1, false)]).unwrap();
        let err = w.append(&[vec![Value::F64(1.0), Value::I64(1), "rbf".into()]]);
        assert!(
            format!("{:#}", err.unwrap_err()).contains("column `shrinking` is bool"),
            "an integer is not a bool"
        );
        file.set_attr("refit", &Value::Bool(true)).unwrap();
    }
    {
        let file = ResultFile::open_rw(&path).unwrap();
        let mut w = file.append_table("cv_results").unwrap();
        assert_eq!(w.schema(), &schema);
        w.append(&[mk(1.0, true)]).unwrap();
    }
    let file = ResultFile::open_read(&path).unwrap();
    let table = file.read_table("cv_results").unwrap();
    assert_eq!(table.schema, schema);
    assert_eq!(
        table.rows,
        vec![mk(0.1, true), mk(0.1, false), mk(1.0, true)]
    );
    assert_eq!(file.attr("refit").unwrap(), Value::Bool(true));
    assert_eq!(Value::Bool(false).to_string(), "False");
    // Stored as HDF5's boolean enum, the type h5py reads as numpy bool.
    let member = file.dataset("cv_results").unwrap().dtype().unwrap();
    let hdf5::types::TypeDescriptor::Compound(compound) = member.to_descriptor().unwrap() else {
        panic!("a table is a compound");
    };
    assert_eq!(compound.fields[1].ty, hdf5::types::TypeDescriptor::Boolean);
}

#[test]
fn results_layout_is_padded() {
    let layout = Layout::of(&Schema::new().str("s", 3).f64("x").str("t", 1));
    assert_eq!(layout.offsets, vec![0, 8, 16]);
    assert_eq!(layout.size, 24);
    let layout = Layout::of(&Schema::new().f64("x").bool("b").i64("i"));
    assert_eq!(layout.offsets, vec![0, 8, 16]);
    assert_eq!(layout.size, 24);
}

#[test]
fn arrays_grow_by_appends_and_read_back_by_row_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arrays.h5");
    let file = ResultFile::create(&path).unwrap();
    assert_eq!(file.append_array("ids", &[1i64, 2, 3], 1).unwrap(), 0);
    assert_eq!(file.append_array("ids", &[4i64, 5], 1).unwrap(), 3);
    let grid: Vec<f64> = (0..6).map(|v| v as f64 / 4.0).collect();
    assert_eq!(file.append_array("grid", &grid[..4], 2).unwrap(), 0);
    assert_eq!(file.append_array("grid", &grid[4..], 2).unwrap(), 2);
    assert!(file.append_array("grid", &grid[..3], 2).is_err());
    drop(file);

    let file = ResultFile::open_read(&path).unwrap();
    assert_eq!(file.array_rows("ids"), 5);
    assert_eq!(file.array_rows("grid"), 3);
    assert_eq!(file.array_rows("absent"), 0);
    assert_eq!(
        file.read_array_rows::<i64>("ids", 2..5).unwrap(),
        vec![3, 4, 5]
    );
    assert_eq!(
        file.read_array_rows::<f64>("grid", 1..3).unwrap(),
        grid[2..].to_vec()
    );
    assert!(file.table_names().unwrap().is_empty());
    assert!(file.read_array_rows::<f64>("grid", 2..9).is_err());
}

/// A result file with a string attribute (stored in a global heap collection), its bytes, and
/// where its collection starts.
fn file_with_global_heap(dir: &Path) -> (PathBuf, Vec<u8>, usize) {
    let path = dir.join("strings.h5");
    ResultFile::create(&path)
        .unwrap()
        .set_attr("job_toml", &Value::Str("[job]\nkind = \"forest\"\n".into()))
        .unwrap();
    let bytes = fs::read(&path).unwrap();
    let start = memchr::memmem::find(&bytes, b"GCOL\x01\0\0\0").expect("a global heap collection");
    (path, bytes, start)
}

/// Where the free-space object of the collection at `start` is (8-byte lengths): after every
/// stored object, each a 16-byte header and its data padded to 8 bytes.
fn free_space_object(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 16;
    while u16::from_le_bytes([bytes[at], bytes[at + 1]]) != 0 {
        let size = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
        at += 16 + size.div_ceil(8) * 8;
    }
    at
}

#[test]
fn global_heap_check_reads_written_files_and_refuses_damaged_collections() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes, start) = file_with_global_heap(dir.path());
    check_global_heaps(&path).unwrap();
    let free = free_space_object(&bytes, start);
    let file_size = bytes.len();
    let remaining = file_size - start;
    // (byte to overwrite, its new 8-byte value, the problem named)
    let damages = [
        (
            start + 8,
            100,
            "declares 100 bytes, less than HDF5's minimum of 4096".to_string(),
        ),
        (
            start + 8,
            1 << 40,
            format!("declares 1099511627776 bytes but only {remaining} remain in the file"),
        ),
        // What made libhdf5 1.10 loop for ever (fuzz/regressions/hdf5/global-heap-*-loop*).
        (
            free + 8,
            0,
            format!("has object 0 at byte {} of its 4096 declaring 0 bytes, less than the object's own header", free - start),
        ),
        // What made it copy past the collection.
        (
            start + 24,
            u64::MAX - 3,
            format!("has object 1 at byte 16 of its 4096 declaring {} bytes, which run past the collection's end", u64::MAX - 3),
        ),
        (
            free + 8,
            4096,
            format!("has object 0 at byte {} of its 4096 declaring 4096 bytes, which run past the collection's end", free - start),
        ),
    ];
    for (at, value, problem) in damages {
        let mut damaged = bytes.clone();
        damaged[at..at + 8].copy_from_slice(&u64::to_le_bytes(value));
        let copy = dir.path().join("damaged.h5");
        fs::write(&copy, &damaged).unwrap();
        let err = ResultFile::open_read(&copy).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "{}: damaged HDF5 file: the global heap collection at byte {start} {problem}; \
                 restore the file from a copy or write it again",
                copy.display()
            )
        );
        // Data files (h5py's `str` labels live in global heaps too) are checked the same way.
        let err = crate::datafile::load(&copy).unwrap_err().to_string();
        assert!(err.contains(&problem), "{err}");
    }
    assert_eq!(
        fs::read(&path).unwrap(),
        bytes,
        "the good file is untouched"
    );
    assert_eq!(file_size, fs::metadata(&path).unwrap().len() as usize);
}

#[test]
fn global_heap_check_finds_collections_across_scan_blocks_and_after_a_user_block() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes, start) = file_with_global_heap(dir.path());
    let free = free_space_object(&bytes, start);
    let mut damaged = bytes.clone();
    damaged[free + 8..free + 16].copy_from_slice(&0u64.to_le_bytes());
    // The scanner reads 1 MiB blocks: a collection whose signature straddles two of them.
    let pad = (1 << 20) - 3 - start;
    let mut straddling = damaged.clone();
    straddling.splice(start..start, std::iter::repeat_n(0u8, pad));
    // HDF5 files may start after a user block of 512 bytes or a larger power of two.
    let mut after_user_block = vec![0u8; 2048];
    after_user_block.extend_from_slice(&damaged);
    for (bytes, collection) in [(straddling, start + pad), (after_user_block, start + 2048)] {
        let path = dir.path().join("moved.h5");
        fs::write(&path, &bytes).unwrap();
        match check_global_heaps(&path) {
            Err(GlobalHeapError::Damaged { offset, problem }) => {
                assert_eq!(offset as usize, collection);
                assert!(problem.contains("declaring 0 bytes"), "{problem}");
            }
            other => panic!("expected a damaged collection, got {other:?}"),
        }
    }
}
