//! `triton-batch report`: how each job scales, from the `runs` table that scripts/scale.sh
//! appends to (results/scaling.h5). Runs group by job (name and job hash) and by hosts and
//! ranks; per group the medians over repeats, and against the job's smallest run (fewest ranks)
//! the speedup `T_smallest / T` and the parallel efficiency `speedup / (ranks / ranks_smallest)`.
//! Printed as one aligned table per job, as `show` prints tables; `--plot` also draws them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::grid;
use super::plot::{self, Format};
use crate::results::{ResultFile, Schema, Table, Value};
use crate::scaling::runs::RUNS_TABLE;

/// A user's mistake in what to report on.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: no `{RUNS_TABLE}` table (scripts/scale.sh writes it); tables: {tables}", file.display())]
    NoRuns { file: PathBuf, tables: String },
    #[error("{}: no runs of job `{job}`; jobs: {jobs}", file.display())]
    UnknownJob {
        file: PathBuf,
        job: String,
        jobs: String,
    },
}

/// What `report` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// Only the job of this name.
    pub job: Option<String>,
    /// Also draw the scaling chart into this .svg or .png file.
    pub plot: Option<PathBuf>,
}

/// One job's runs: its name, job hash and kind, and one point per hosts-and-ranks setting,
/// fewest ranks first.
#[derive(Clone, Debug, PartialEq)]
pub struct JobScaling {
    pub job: String,
    pub job_hash: String,
    pub job_kind: String,
    pub points: Vec<Point>,
}

/// The runs of one job on one number of hosts and ranks.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub hosts: i64,
    pub ranks: i64,
    pub repeats: usize,
    /// Median over repeats of the whole mpirun command's seconds.
    pub wall_seconds: f64,
    /// Median over repeats of the job's own seconds (rank 0, start to end).
    pub job_seconds: f64,
    pub speedup: f64,
    pub efficiency: f64,
    /// Median over repeats of the busiest rank's busy time over the mean rank's (1 = even).
    pub balance: f64,
}

impl JobScaling {
    /// The legend name: the job, with its hash when the file holds other versions of it.
    pub fn label(&self, all: &[JobScaling]) -> String {
        match all.iter().filter(|j| j.job == self.job).count() > 1 {
            true => format!(
                "{} ({})",
                self.job,
                &self.job_hash[..self.job_hash.len().min(8)]
            ),
            false => self.job.clone(),
        }
    }
}

/// The median; the mean of the middle two for an even count. NaN for none.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// Groups the `runs` rows by job, then by (ranks, hosts), in that order.
pub fn scaling(runs: &Table) -> anyhow::Result<Vec<JobScaling>> {
    let job = runs.str_column("job")?;
    let hash = runs.str_column("job_hash")?;
    let kind = runs.str_column("job_kind")?;
    let hosts = runs.i64_column("hosts")?;
    let ranks = runs.i64_column("ranks")?;
    let wall = runs.f64_column("wall_seconds")?;
    let job_seconds = runs.f64_column("job_seconds")?;
    let busy_max = runs.f64_column("busy_max_seconds")?;
    let busy_mean = runs.f64_column("busy_mean_seconds")?;

    let mut keys: Vec<(&str, &str)> = job.iter().zip(&hash).map(|(j, h)| (&**j, &**h)).collect();
    keys.sort();
    keys.dedup();
    let jobs = keys
        .into_iter()
        .map(|(name, job_hash)| {
            let rows: Vec<usize> = (0..runs.len())
                .filter(|&r| job[r] == name && hash[r] == job_hash)
                .collect();
            let mut settings: Vec<(i64, i64)> =
                rows.iter().map(|&r| (ranks[r], hosts[r])).collect();
            settings.sort();
            settings.dedup();
            let mut points: Vec<Point> = settings
                .into_iter()
                .map(|(n, h)| {
                    let of = |col: &[f64]| -> Vec<f64> {
                        rows.iter()
                            .filter(|&&r| ranks[r] == n && hosts[r] == h)
                            .map(|&r| col[r])
                            .collect()
                    };
                    let balance: Vec<f64> = of(&busy_max)
                        .into_iter()
                        .zip(of(&busy_mean))
                        .map(|(max, mean)| max / mean)
                        .collect();
                    Point {
                        hosts: h,
                        ranks: n,
                        repeats: balance.len(),
                        wall_seconds: median(of(&wall)),
                        job_seconds: median(of(&job_seconds)),
                        speedup: f64::NAN,
                        efficiency: f64::NAN,
                        balance: median(balance),
                    }
                })
                .collect();
            let (t0, r0) = (points[0].wall_seconds, points[0].ranks as f64);
            for p in &mut points {
                p.speedup = t0 / p.wall_seconds;
                p.efficiency = p.speedup / (p.ranks as f64 / r0);
            }
            JobScaling {
                job: name.to_string(),
                job_hash: job_hash.to_string(),
                job_kind: kind[rows[0]].clone(),
                points,
            }
        })
        .collect();
    Ok(jobs)
}

/// Three decimals are what a timing shows; `show`'s grid then trims zeros alike down a column.
fn rounded(x: f64) -> Value {
    Value::F64((x * 1e3).round() / 1e3)
}

/// One job's points as `show` prints a table.
fn render(job: &JobScaling) -> String {
    let schema = Schema::new()
        .i64("hosts")
        .i64("ranks")
        .i64("repeats")
        .f64("wall_seconds")
        .f64("job_seconds")
        .f64("speedup")
        .f64("efficiency")
        .f64("balance");
    let rows = job
        .points
        .iter()
        .map(|p| {
            vec![
                Value::I64(p.hosts),
                Value::I64(p.ranks),
                Value::from(p.repeats),
                rounded(p.wall_seconds),
                rounded(p.job_seconds),
                rounded(p.speedup),
                rounded(p.efficiency),
                rounded(p.balance),
            ]
        })
        .collect();
    let table = Table { schema, rows };
    let indices: Vec<usize> = (0..table.len()).collect();
    grid::render(&table, &indices)
}

/// The report on the scaling file `path` (see the module documentation), after drawing the
/// chart when `opts.plot` asks for one.
pub fn report(path: &Path, opts: &ReportOptions) -> anyhow::Result<String> {
    if let Some(out) = &opts.plot {
        Format::of(out, "--plot")?;
    }
    let file = ResultFile::open_read(path)?;
    if !file.has_table(RUNS_TABLE) {
        let tables = file.table_names()?;
        return Err(ReportError::NoRuns {
            file: path.to_path_buf(),
            tables: super::list(&tables),
        }
        .into());
    }
    let mut jobs = scaling(&file.read_table(RUNS_TABLE)?)?;
    if let Some(name) = &opts.job {
        if !jobs.iter().any(|j| &j.job == name) {
            let mut names: Vec<String> = jobs.iter().map(|j| j.job.clone()).collect();
            names.dedup();
            return Err(ReportError::UnknownJob {
                file: path.to_path_buf(),
                job: name.clone(),
                jobs: super::list(&names),
            }
            .into());
        }
        jobs.retain(|j| &j.job == name);
    }

    let mut out = String::new();
    for (k, job) in jobs.iter().enumerate() {
        let runs: usize = job.points.iter().map(|p| p.repeats).sum();
        let _ = writeln!(
            out,
            "{}== {} ({}, job_hash {}, {runs} runs) ==",
            if k > 0 { "\n" } else { "" },
            job.job,
            job.job_kind,
            job.job_hash
        );
        out.push_str(&render(job));
    }
    if jobs.is_empty() {
        let _ = writeln!(
            out,
            "{}: the `{RUNS_TABLE}` table has no runs yet",
            path.display()
        );
    }
    let _ = writeln!(
        out,
        "\nwall_seconds, job_seconds: medians over repeats (the mpirun command; the job on rank 0)\n\
         speedup = T(fewest ranks) / T, efficiency = speedup / (ranks / fewest ranks), on wall_seconds\n\
         balance: median of busiest rank's busy seconds / mean rank's (1 = even)"
    );
    if let Some(out_path) = &opts.plot {
        plot::scaling::render(&jobs, out_path)?;
        let _ = writeln!(out, "plot: {}", out_path.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::runs::runs_schema;

    /// A `runs` row with what grouping reads; the rest blank.
    fn row(job: &str, hash: &str, hosts: i64, ranks: i64, wall: f64) -> Vec<Value> {
        runs_schema()
            .columns
            .iter()
            .map(|c| match c.name.as_str() {
                "job" => job.into(),
                "job_hash" => hash.into(),
                "hosts" => Value::I64(hosts),
                "ranks" => Value::I64(ranks),
                "wall_seconds" | "job_seconds" => Value::F64(wall),
                "busy_max_seconds" => Value::F64(2.0),
                "busy_mean_seconds" => Value::F64(1.0),
                _ if c.ty.is_numeric() => Value::I64(0),
                _ => "".into(),
            })
            .collect()
    }

    #[test]
    fn report_groups_by_job_hash_and_ranks() {
        let runs = Table {
            schema: runs_schema(),
            rows: vec![
                row("a", "h1", 1, 2, 4.0),
                row("b", "h3", 1, 2, 1.0),
                row("a", "h1", 1, 2, 6.0),
                row("a", "h1", 1, 1, 9.0),
                row("a", "h2", 1, 1, 8.0),
                row("a", "h1", 2, 4, 3.0),
                row("a", "h1", 1, 2, 5.0),
            ],
        };
        let jobs = scaling(&runs).unwrap();
        let keys: Vec<(&str, &str)> = jobs.iter().map(|j| (&*j.job, &*j.job_hash)).collect();
        assert_eq!(keys, [("a", "h1"), ("a", "h2"), ("b", "h3")]);
        let a = &jobs[0];
        let got: Vec<(i64, i64, usize, f64, f64, f64)> = a
            .points
            .iter()
            .map(|p| {
                (
                    p.hosts,
                    p.ranks,
                    p.repeats,
                    p.wall_seconds,
                    p.speedup,
                    p.efficiency,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, 1, 1, 9.0, 1.0, 1.0),
                (1, 2, 3, 5.0, 1.8, 0.9),
                (2, 4, 1, 3.0, 3.0, 0.75)
            ]
        );
        assert!(a.points.iter().all(|p| p.balance == 2.0));
        assert_eq!(a.label(&jobs), "a (h1)");
        assert_eq!(jobs[2].label(&jobs), "b");
        // Against its own smallest run, on 2 ranks.
        assert_eq!(
            (jobs[2].points[0].speedup, jobs[2].points[0].efficiency),
            (1.0, 1.0)
        );
    }

    #[test]
    fn report_median_odd_even_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }
}
