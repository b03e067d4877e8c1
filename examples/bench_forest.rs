//! Single-thread timing of random-forest growing and prediction, for `scripts/bench-forest`.
//!
//! Reads an HDF5 file with `X` (n x d), `y` (class indices), `train_idx` and `test_idx` (a split of
//! the rows), then for each of RUNS runs prints `key value` lines:
//! - `fit_per_tree_s`: `RandomForest::fit` with N trees and default parameters (max_features
//!   sqrt, bootstrap) on all rows, seconds divided by N (data preparation included);
//! - `fit_train_per_tree_s`: the same on the train rows only;
//! - `predict_s`: `Forest::predict_proba` of a forest of N trees grown on the train rows, on the
//!   test rows;
//! - `accuracy`: that forest's accuracy on the test rows;
//! - `tree_nodes`: mean node count of the trees grown on all rows.
//!
//! Usage: `bench_forest DATA.h5 [n_trees=50] [runs=3] [seed=0]`.

use std::time::Instant;

use ndarray::{Array2, Axis};
use triton_batch::ml::forest::{ForestParams, RandomForest};
use triton_batch::ml::Dataset;

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .map(|a| {
            a.parse()
                .expect("arguments after the file are whole numbers")
        })
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bench_forest DATA.h5 [n_trees] [runs] [seed]"))?;
    let n_trees = arg(2, 50) as usize;
    let runs = arg(3, 3);
    let seed = arg(4, 0);

    let file = hdf5::File::open(&path)?;
    let x: Array2<f64> = file.dataset("X")?.read_2d()?;
    let y: Vec<i64> = file.dataset("y")?.read_raw()?;
    let train_idx: Vec<i64> = file.dataset("train_idx")?.read_raw()?;
    let test_idx: Vec<i64> = file.dataset("test_idx")?.read_raw()?;
    let n_classes = (*y.iter().max().unwrap_or(&0) + 1) as usize;
    let classes: Vec<String> = (0..n_classes).map(|c| c.to_string()).collect();
    let all = Dataset {
        x: x.clone(),
        y: y.iter().map(|&c| c as usize).collect(),
        classes: classes.clone(),
    };
    let subset = |idx: &[i64]| {
        let idx: Vec<usize> = idx.iter().map(|&i| i as usize).collect();
        Dataset {
            x: x.select(Axis(0), &idx),
            y: idx.iter().map(|&i| y[i] as usize).collect(),
            classes: classes.clone(),
        }
    };
    let (train, test) = (subset(&train_idx), subset(&test_idx));

    let params = ForestParams {
        n_estimators: n_trees,
        random_state: Some(seed),
        ..ForestParams::default()
    };
    for _ in 0..runs {
        let t = Instant::now();
        let forest = RandomForest::fit(&params, &all)?;
        let fit = t.elapsed().as_secs_f64();
        let nodes: usize = forest.trees().iter().map(|t| t.n_nodes()).sum();
        println!("fit_per_tree_s {:.6}", fit / n_trees as f64);
        println!("tree_nodes {:.1}", nodes as f64 / n_trees as f64);

        let t = Instant::now();
        let forest = RandomForest::fit(&params, &train)?;
        println!(
            "fit_train_per_tree_s {:.6}",
            t.elapsed().as_secs_f64() / n_trees as f64
        );
        let t = Instant::now();
        let proba = forest.predict_proba(test.x.view())?;
        let predict = t.elapsed().as_secs_f64();
        std::hint::black_box(&proba);
        println!("predict_s {predict:.6}");
        println!("accuracy {:.6}", forest.score(&test)?);
    }
    Ok(())
}
