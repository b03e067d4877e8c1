//! Replays every input the fuzzers found a bug with (`fuzz/regressions/<target>/`), and the seed
//! inputs they start from, through the same entry points.

use std::path::Path;

fn replay(target: &str, entry: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for folder in ["regressions", "seeds"] {
        let Ok(inputs) = std::fs::read_dir(root.join(folder).join(target)) else {
            continue;
        };
        for input in inputs {
            let path = input.unwrap().path();
            eprintln!("{target}: {}", path.display());
            entry(&std::fs::read(&path).unwrap());
        }
    }
}

#[test]
fn job_files() {
    replay("jobfile", super::jobfile);
}

#[test]
fn hostfiles() {
    replay("hostfile", super::hostfile);
}

#[test]
fn nodes_values() {
    replay("nodes", super::nodes);
}

#[test]
fn csv_files() {
    replay("csv", super::csv);
}

#[test]
fn hdf5_files() {
    replay("hdf5", super::hdf5);
}

#[test]
fn task_logs() {
    replay("tasklog", super::tasklog);
}
