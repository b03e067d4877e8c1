//! Entry point: parse the command line, run it, report an error chain and set the exit code.

use std::io::Write;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = triton_batch::cli::Cli::parse();
    match triton_batch::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // One write, so that mpirun's own messages on the same stream cannot split the line.
            let line = format!("triton-batch: error: {}\n", triton_batch::error_line(&err));
            let _ = std::io::stderr().write_all(line.as_bytes());
            std::process::ExitCode::from(2)
        }
    }
}
