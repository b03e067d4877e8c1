//! Entry point: parse the command line, run it, report an error chain and set the exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = triton_batch::cli::Cli::parse();
    match triton_batch::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("triton-batch: error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
