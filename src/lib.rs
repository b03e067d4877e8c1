//! triton-batch: batch jobs (Monte Carlo pricing, grid search, random forests) spread over the ranks
//! of an MPI job, with results written to HDF5 tables that pandas and `triton-batch show` read.
//!
//! The library holds all logic so that tests call it directly; `main.rs` only parses, runs and
//! reports. MPI lives in `runtime`; algorithms (`mc`) know nothing of it.

pub mod cli;
pub mod datafile;
pub mod files;
pub mod fuzzing;
pub mod jobfile;
pub mod mc;
pub mod ml;
pub mod model;
pub mod par;
pub mod report;
pub mod results;
pub mod rng;
pub mod runner;
pub mod runtime;
pub mod scaling;
pub mod simulate;

use std::process::ExitCode;

/// An error as the command line prints it: the whole chain on one line, with any control
/// character that quoted user text brings (a newline in a data file's cell, say) escaped.
pub fn error_line(err: &anyhow::Error) -> String {
    format!("{err:#}")
        .trim_end()
        .chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

use cli::{Cli, Command};

/// Runs one command line; the `ExitCode` is what the process should exit with.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Montecarlo(args) => runner::execute(&args.run.options(), |text| {
            Ok(jobfile::montecarlo::MonteCarloJob::from_text(
                text, args.seed,
            )?)
        }),
        Command::Gridsearch(args) => {
            let overrides = jobfile::gridsearch::Overrides {
                data: args.data.clone(),
                refit: !args.no_refit,
                return_train_score: args.return_train_score,
            };
            runner::execute(&args.run.options(), |text| {
                jobfile::gridsearch::GridSearchJob::from_text(text, &overrides)
            })
        }
        Command::Forest(args) => {
            let overrides = jobfile::forest::Overrides {
                data: args.data.clone(),
                predictions: args.predictions,
                save_model: args.save_model.clone(),
            };
            runner::execute(&args.run.options(), |text| {
                jobfile::forest::ForestJob::from_text(text, &overrides)
            })
        }
        Command::Predict(args) => {
            let options = model::PredictOptions {
                model: args.model,
                data: args.data,
                out: args.out,
            };
            println!("{}", model::predict(&options)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Show(args) => {
            let options = report::ShowOptions {
                table: args.table,
                all: args.all,
                sort: args.sort,
                head: 5,
            };
            print!("{}", report::show(&args.file, &options)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => {
            let options = report::scaling::ReportOptions {
                job: args.job,
                plot: args.plot,
            };
            print!("{}", report::scaling::report(&args.file, &options)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Plot(args) => {
            let options = report::plot::PlotOptions {
                out: args.out,
                x: args.x,
                y: args.y,
                timeline: args.timeline,
            };
            println!(
                "wrote {}",
                report::plot::plot(&args.file, &options)?.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Hosts(args) => {
            print!(
                "{}",
                scaling::hosts(&args.hostfile, args.ranks_per_host.map(usize::from))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::RecordRun(args) => {
            let record = scaling::runs::RunRecord {
                result: args.result,
                job: args.job,
                into: args.into,
                host_names: args.host_names,
                repeat: args.repeat,
                wall_seconds: args.wall_seconds,
            };
            println!("{}", scaling::runs::record_run(&record)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => {
            print!(
                "{}",
                simulate::run(&args.file, &args.nodes, args.out.as_deref())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => {
            let text = jobfile::JobText::read(&args.job)?;
            match jobfile::kind_of(&text)? {
                jobfile::Kind::MonteCarlo => {
                    let job = jobfile::montecarlo::MonteCarloJob::from_text(&text, None)?;
                    println!(
                        "{}: valid montecarlo job ({} paths in {} blocks)",
                        args.job.display(),
                        job.paths,
                        job.n_blocks()
                    );
                    validated_sizes(&text, job.sizes())?;
                }
                jobfile::Kind::Forest => {
                    let overrides = jobfile::forest::Overrides::default();
                    let job = jobfile::forest::ForestJob::from_text(&text, &overrides)?;
                    println!(
                        "{}: valid forest job ({} trees in {} blocks, data {} with {} training rows)",
                        args.job.display(),
                        job.params.n_estimators,
                        job.n_blocks(),
                        job.data_origin,
                        job.train.x.nrows()
                    );
                    validated_sizes(&text, job.sizes())?;
                }
                jobfile::Kind::GridSearch => {
                    let overrides = jobfile::gridsearch::Overrides::default();
                    let job = jobfile::gridsearch::GridSearchJob::from_text(&text, &overrides)?;
                    println!(
                        "{}: valid gridsearch job ({} candidates x {} folds in {} tasks, data {} with {} training rows)",
                        args.job.display(),
                        job.plan.candidates.len(),
                        job.plan.folds.len(),
                        runner::JobKind::n_tasks(&job),
                        job.data_origin,
                        job.train.x.nrows()
                    );
                    validated_sizes(&text, job.sizes())?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `validate`'s second line: the estimated peak memory per rank and result size against this
/// machine's available memory and the free space where the result would go by default
/// (`results/`, or the current folder while there is none). A result that cannot fit is refused.
fn validated_sizes(text: &jobfile::JobText, sizes: jobfile::sizes::Sizes) -> anyhow::Result<()> {
    use jobfile::sizes::{check_disk, disk_free, human, memory_available};
    let folder = std::path::Path::new("results");
    let out = match folder.is_dir() {
        true => folder.join(format!("{}.h5", text.name())),
        false => std::path::PathBuf::from(format!("{}.h5", text.name())),
    };
    let limit = |value: Option<u64>, what: &str| {
        value.map_or(String::new(), |v| format!(" ({} {what})", human(v)))
    };
    println!(
        "  estimated peak memory per rank {}{}; result file {}{}",
        human(sizes.memory),
        limit(memory_available(), "available"),
        human(sizes.result),
        limit(
            disk_free(jobfile::sizes::folder_of(&out)),
            &format!("free in `{}`", jobfile::sizes::folder_of(&out).display())
        ),
    );
    check_disk(
        &out,
        sizes.result,
        "the result file",
        "free some space or choose another --out",
    )
}
