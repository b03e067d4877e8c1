//! SVC speed on one data file (written by scripts/bench-estimators): fit time, accuracy, support
//! vectors and prediction time per case, one line each, for the script to tabulate.
//!
//! Usage: bench_svc DATA.h5 CASE... [--repeat N] [--rss]
//!   CASE = KERNEL:C:shrinking|noshrinking, e.g. rbf:1:shrinking
//!   --rss  after the fits, print the peak resident set size of this process (VmHWM)
//!   --grid FOLDS  instead of cases: the grid of jobs/seed-svc.toml (8 C in 0.001..10,
//!          rbf/poly/sigmoid, shrinking on/off) on FOLDS stratified folds of the training rows,
//!          fitted one after the other with and without an SvcWorkspace (env: GRID_KERNELS=rbf,..,
//!          GRID_SHARED=1|0, GRID_FOLDS_RUN=n, GRID_PROBA=1, GRID_GAMMA=auto).
//! DATA.h5 holds x_train, y_train, x_test, y_test (labels 0/1 as i64).

use std::time::Instant;

use anyhow::{bail, Context, Result};
use ndarray::{Array2, ArrayView2, Axis};
use triton_batch::ml::svm::{Gamma, Kernel, SvcParams, SvcWorkspace};

type Split = (Array2<f64>, Vec<usize>, Array2<f64>, Vec<usize>);

fn read(path: &str) -> Result<Split> {
    let file = hdf5::File::open(path).with_context(|| format!("opening {path}"))?;
    let x2 = |name: &str| -> Result<Array2<f64>> { Ok(file.dataset(name)?.read_2d::<f64>()?) };
    let y1 = |name: &str| -> Result<Vec<usize>> {
        Ok(file
            .dataset(name)?
            .read_raw::<i64>()?
            .into_iter()
            .map(|v| v as usize)
            .collect())
    };
    Ok((x2("x_train")?, y1("y_train")?, x2("x_test")?, y1("y_test")?))
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU time of this thread in seconds (Linux schedstat), to see through a busy machine.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

fn accuracy(pred: &[usize], y: &[usize]) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

fn grid(xtr: ArrayView2<f64>, ytr: &[usize], classes: &[String], folds: usize) -> Result<()> {
    // Stratified folds as scikit-learn's StratifiedKFold(shuffle=False) for 2 classes.
    let mut fold_of = vec![0usize; ytr.len()];
    for c in 0..2 {
        let members: Vec<usize> = (0..ytr.len()).filter(|&i| ytr[i] == c).collect();
        let mut start = 0;
        for f in 0..folds {
            let size = members.len() / folds + usize::from(f < members.len() % folds);
            for &i in &members[start..start + size] {
                fold_of[i] = f;
            }
            start += size;
        }
    }
    // The seed notebook's grid (jobs/seed-svc.toml).
    let cs = [0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0];
    let kernels: Vec<Kernel> = std::env::var("GRID_KERNELS")
        .unwrap_or_else(|_| "rbf,poly,sigmoid".into())
        .split(',')
        .map(|k| Kernel::from_name(k).expect("kernel"))
        .collect();
    let modes: Vec<bool> = match std::env::var("GRID_SHARED").as_deref() {
        Ok("1") => vec![true],
        Ok("0") => vec![false],
        _ => vec![true, false],
    };
    let folds_run = std::env::var("GRID_FOLDS_RUN").map_or(folds, |v| v.parse().expect("folds"));
    for shared in modes {
        let t_all = Instant::now();
        let mut fits = 0;
        for f in 0..folds_run {
            let train: Vec<usize> = (0..ytr.len()).filter(|&i| fold_of[i] != f).collect();
            let test: Vec<usize> = (0..ytr.len()).filter(|&i| fold_of[i] == f).collect();
            let x = xtr.select(Axis(0), &train);
            let y: Vec<usize> = train.iter().map(|&i| ytr[i]).collect();
            let xt = xtr.select(Axis(0), &test);
            let yt: Vec<usize> = test.iter().map(|&i| ytr[i]).collect();
            for &kernel in &kernels {
                let mut ws = SvcWorkspace::new(x.view(), &y, classes)?;
                for &c in &cs {
                    for shrinking in [true, false] {
                        let svc = SvcParams {
                            c,
                            kernel,
                            shrinking,
                            probability: std::env::var("GRID_PROBA").is_ok_and(|v| v == "1"),
                            gamma: if std::env::var("GRID_GAMMA").is_ok_and(|v| v == "auto") {
                                Gamma::Auto
                            } else {
                                Gamma::Scale
                            },
                            ..SvcParams::default()
                        }
                        .build()?;
                        let t = Instant::now();
                        let model = if shared {
                            ws.fit(&svc)?
                        } else {
                            svc.fit(x.view(), &y, classes)?
                        };
                        let fit_s = t.elapsed().as_secs_f64();
                        let acc = accuracy(&model.predict(xt.view())?, &yt);
                        println!(
                            "grid shared={shared} fold={f} kernel={kernel} C={c} shrinking={shrinking} fit={fit_s:.3} acc={acc:.4} nsv={} iter={}",
                            model.n_support().iter().sum::<usize>(),
                            model.n_iter()[0]
                        );
                        fits += 1;
                    }
                }
            }
        }
        println!(
            "grid_total shared={shared} fits={fits} seconds={:.2}",
            t_all.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        bail!("usage: bench_svc DATA.h5 CASE... [--repeat N] [--rss] | DATA.h5 --grid FOLDS");
    }
    let (xtr, ytr, xte, yte) = read(&args[0])?;
    let rss_loaded = peak_rss_mb();
    let classes = vec!["0".to_string(), "1".to_string()];
    let mut repeat = 1;
    let mut rss = false;
    let mut cases = Vec::new();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--repeat" => repeat = it.next().context("--repeat N")?.parse()?,
            "--rss" => rss = true,
            "--grid" => {
                let folds = it.next().context("--grid FOLDS")?.parse()?;
                return grid(xtr.view(), &ytr, &classes, folds);
            }
            case => cases.push(case.to_string()),
        }
    }
    for case in &cases {
        let parts: Vec<&str> = case.split(':').collect();
        if parts.len() != 3 {
            bail!("case {case:?} is not KERNEL:C:shrinking|noshrinking");
        }
        let svc = SvcParams {
            kernel: Kernel::from_name(parts[0])?,
            c: parts[1].parse()?,
            shrinking: parts[2] == "shrinking",
            ..SvcParams::default()
        }
        .build()?;
        for _ in 0..repeat {
            let (t, c0) = (Instant::now(), cpu_seconds());
            let model = svc.fit(xtr.view(), &ytr, &classes)?;
            let (fit_s, fit_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
            let (t, c0) = (Instant::now(), cpu_seconds());
            let pred = model.predict(xte.view())?;
            let (pred_s, pred_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
            println!(
                "ours case={case} fit={fit_s:.4} predict={pred_s:.4} fit_cpu={fit_cpu:.4} predict_cpu={pred_cpu:.4} acc={:.4} nsv={} iter={}",
                accuracy(&pred, &yte),
                model.n_support().iter().sum::<usize>(),
                model.n_iter()[0]
            );
        }
    }
    if rss {
        println!(
            "ours peak_rss_mb={:.1} rss_before_fit_mb={rss_loaded:.1}",
            peak_rss_mb()
        );
    }
    Ok(())
}
