//! Progress on rank 0: a bar with rate and ETA when stderr is a terminal, otherwise a plain line
//! every few seconds (logs of batch runs stay readable), nothing with --quiet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const LINE_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    mode: Mode,
    total: usize,
    done: usize,
    started: Instant,
}

enum Mode {
    Silent,
    Bar(ProgressBar),
    Lines { last: Instant },
}

impl Progress {
    /// `done` tasks are already recorded (a resumed run) out of `total`.
    pub fn new(total: usize, done: usize, quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Silent
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64).with_position(done as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} tasks  {per_sec}  ETA {eta}  {elapsed_precise}",
                )
                .expect("static template"),
            );
            bar.reset_eta();
            Mode::Bar(bar)
        } else {
            Mode::Lines {
                last: Instant::now(),
            }
        };
        Progress {
            mode,
            total,
            done,
            started: Instant::now(),
        }
    }

    pub fn task_done(&mut self) {
        self.done += 1;
        match &mut self.mode {
            Mode::Silent => {}
            Mode::Bar(bar) => bar.inc(1),
            Mode::Lines { last } => {
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!(
                        "triton-batch: {}/{} tasks done, {:.1} s elapsed",
                        self.done,
                        self.total,
                        self.started.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }
}
