//! Times our LogisticRegression fit (C=1, max_iter 100, tol 1e-4) on the digits training split
//! of scikit-learn's `train_test_split(test_size=0.25, random_state=0)`, whose indices the
//! reference file `tests/reference/digits.json` holds: the median of RUNS fits (default 5).
//!
//! Prints one line: `ours <median seconds> <test accuracy> <iterations> <converged>`.
//! Usage: `cargo run --release --example bench_logreg [RUNS]`.

use std::time::Instant;

use triton_batch::ml::dataset::digits;
use triton_batch::ml::linear::LogisticRegression;
use triton_batch::ml::metrics::accuracy;

fn indices(value: &serde_json::Value) -> Vec<usize> {
    value
        .as_array()
        .expect("an index array")
        .iter()
        .map(|v| v.as_u64().expect("an index") as usize)
        .collect()
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/digits.json");
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let data = digits();
    let train = data.select(&indices(&reference["train"]));
    let test = data.select(&indices(&reference["test"]));
    let estimator = LogisticRegression::default();

    let mut times = Vec::with_capacity(runs);
    let mut model = estimator.fit_dataset(&train)?; // warm-up
    for _ in 0..runs {
        let start = Instant::now();
        model = estimator.fit_dataset(&train)?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let acc = accuracy(&test.y, &model.predict(test.x.view()));
    println!(
        "ours {median:.6} {acc:.4} {} {}",
        model.n_iter(),
        model.converged()
    );
    Ok(())
}
