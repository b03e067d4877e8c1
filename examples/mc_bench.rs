//! Single-thread timing of the Monte Carlo kernels, for `scripts/bench-montecarlo`.
//!
//! Prints `key value` lines:
//! - `seed_plain_us_per_path`: median over repeats of simulate_block on the notebook's seed walk
//!   (s0 100, mu 0.02, sigma 0.2, 1460 prices, Asian arithmetic call K 100, plain estimator);
//! - `normals_rand_distr_us_per_path`: drawing the same 1459 normals with rand_distr's
//!   StandardNormal only (a floor for a path loop built on it);
//! - `gbm_cv_*`: the notebook's Asian call under gbm (K 100, sigma 0.2, r 0.02, q 0, T 4, 1460
//!   fixings) with the control variate: price, standard error, seconds, and seconds to reach a
//!   standard error of 0.01, extrapolated as `t (se / 0.01)^2`.
//!
//! Usage: `mc_bench [seed_paths=20000] [repeats=5] [cv_paths=20000]`.

use std::hint::black_box;
use std::time::Instant;

use rand_distr::{Distribution, StandardNormal};
use triton_batch::mc::{
    reduce, simulate_block, Estimator, Model, OptionSpec, OptionType, Payoff, Pricing,
};
use triton_batch::rng::task_rng;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .map(|a| a.parse().expect("arguments are whole numbers"))
        .unwrap_or(default)
}

fn main() {
    let seed_paths = arg(1, 20_000);
    let repeats = arg(2, 5) as usize;
    let cv_paths = arg(3, 20_000);
    let steps = 1460;

    let seed = Pricing::new(
        Model::seed(100.0, 0.02, 0.2).unwrap(),
        OptionSpec::new(Payoff::AsianArithmetic, OptionType::Call, 100.0, 4.0, steps).unwrap(),
        Estimator::Plain,
    )
    .unwrap();
    // Warm up (tables, page faults, clock).
    black_box(simulate_block(&seed, &mut task_rng(0, 999), 2_000));
    let mut times = Vec::new();
    let mut last = None;
    for r in 0..repeats {
        let mut rng = task_rng(1, r as u64);
        let t = Instant::now();
        let b = black_box(simulate_block(&seed, &mut rng, seed_paths));
        times.push(t.elapsed().as_secs_f64() * 1e6 / seed_paths as f64);
        last = Some(b);
    }
    let est = reduce(&seed, &[last.unwrap()]);
    println!("seed_plain_us_per_path {:.3}", median(times));
    println!("seed_plain_price {:.4} {:.4}", est.price, est.std_error);

    let mut times = Vec::new();
    let n = (seed_paths / 4).max(1);
    for r in 0..repeats {
        let mut rng = task_rng(2, r as u64);
        let t = Instant::now();
        let mut acc = 0.0f64;
        for _ in 0..n {
            for _ in 1..steps {
                let z: f64 = StandardNormal.sample(&mut rng);
                acc += z;
            }
        }
        black_box(acc);
        times.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    println!("normals_rand_distr_us_per_path {:.3}", median(times));

    let cv = Pricing::new(
        Model::gbm(100.0, 0.02, 0.0, 0.2).unwrap(),
        OptionSpec::new(Payoff::AsianArithmetic, OptionType::Call, 100.0, 4.0, steps).unwrap(),
        Estimator::ControlVariate,
    )
    .unwrap();
    let t = Instant::now();
    let b = simulate_block(&cv, &mut task_rng(3, 0), cv_paths);
    let secs = t.elapsed().as_secs_f64();
    let e = reduce(&cv, &[b]);
    println!("gbm_cv_price {:.4} {:.4}", e.price, e.std_error);
    println!("gbm_cv_variance_reduction {:.1}", e.variance_reduction);
    println!("gbm_cv_us_per_path {:.3}", secs * 1e6 / cv_paths as f64);
    println!(
        "gbm_cv_seconds_to_se_0.01 {:.4}",
        secs * (e.std_error / 0.01).powi(2)
    );
}
