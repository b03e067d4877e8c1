//! Progress on rank 0, where the person who started the job looks: a live one-line bar (tasks
//! done of total, rate, ETA, ranks busy, idle and lost) redrawn in place, or a plain line every
//! few seconds with the same facts for logs and batch systems, or nothing.
//!
//! Under mpirun rank 0's stderr is a pipe to mpirun even when mpirun writes to a terminal, so rank
//! 0 cannot see the terminal itself; mpirun does forward partial lines and carriage returns at
//! once, so a bar drawn into the pipe shows live. `auto` therefore takes the environment variable
//! `TRITON_BATCH_PROGRESS` (`bar`, `lines`, `none`), which `scripts/mpirun` sets to `bar` when its
//! own stderr is a terminal, and falls back to whether rank 0's stderr is a terminal (a run
//! without mpirun). Rank counts come from the scheduler through `report_ranks`; the formatting is
//! pure (`Snapshot`) so tests can check the text.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A plain line at most this often (and only when a task completes).
const LINE_EVERY: Duration = Duration::from_secs(5);
/// The bar is redrawn this often between completions, so ETA and rank counts stay current.
const REDRAW_EVERY: Duration = Duration::from_millis(500);
/// Columns of the bar itself; fixed, so it does not jump as the text beside it changes length.
/// With a typical text the line stays within 80 columns (a wrapped line cannot be redrawn in place).
const BAR_WIDTH: usize = 16;
/// The environment variable `auto` follows (set by `scripts/mpirun`).
pub const PROGRESS_ENV: &str = "TRITON_BATCH_PROGRESS";

/// How progress is shown (`--progress`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressChoice {
    /// `TRITON_BATCH_PROGRESS` if set, else a bar when stderr is a terminal, else lines.
    #[default]
    Auto,
    /// A live bar redrawn in place (`\r`): for a person at a terminal.
    Bar,
    /// A plain line every few seconds: for logs and batch systems.
    Lines,
    /// Nothing.
    None,
}

/// A `--progress` or `TRITON_BATCH_PROGRESS` value that is not one of the four.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a progress display; use auto, bar, lines or none")]
pub struct UnknownChoice(String);

impl std::str::FromStr for ProgressChoice {
    type Err = UnknownChoice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ProgressChoice::Auto),
            "bar" => Ok(ProgressChoice::Bar),
            "lines" => Ok(ProgressChoice::Lines),
            "none" => Ok(ProgressChoice::None),
            other => Err(UnknownChoice(other.to_string())),
        }
    }
}

impl ProgressChoice {
    /// What `Auto` means here: the environment's value, or the terminal test. An unusable
    /// environment value is reported once and ignored.
    fn resolve(self, env: Option<&str>, stderr_is_terminal: bool) -> ProgressChoice {
        if self != ProgressChoice::Auto {
            return self;
        }
        match env.map(str::parse::<ProgressChoice>) {
            Some(Ok(choice)) if choice != ProgressChoice::Auto => choice,
            Some(Err(err)) => {
                eprintln!("triton-batch: {PROGRESS_ENV}: {err}; ignored");
                ProgressChoice::Auto.resolve(None, stderr_is_terminal)
            }
            _ if stderr_is_terminal => ProgressChoice::Bar,
            _ => ProgressChoice::Lines,
        }
    }
}

/// Ranks by state, as the scheduler last reported them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RankCounts {
    /// Working, or waiting for their next chunk.
    pub busy: usize,
    /// Told that no work is left: waiting for the others to finish.
    pub idle: usize,
    /// Given up for lost (their tasks go back to the queue).
    pub lost: usize,
}

/// The latest rank counts. The scheduler's coordinator and the display are one per process and
/// live in different layers (the display is made by the run, the coordinator inside the
/// scheduler), so a process-wide slot joins them without threading a handle through both.
static RANKS: Mutex<Option<RankCounts>> = Mutex::new(None);

/// Called by the scheduler's coordinator (rank 0) whenever ranks change state.
pub fn report_ranks(busy: usize, idle: usize, lost: usize) {
    *RANKS.lock().unwrap_or_else(|e| e.into_inner()) = Some(RankCounts { busy, idle, lost });
}

fn current_ranks() -> Option<RankCounts> {
    *RANKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The facts one progress line is made of, at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapshot {
    pub total: usize,
    pub done: usize,
    /// Tasks already recorded when this run started (a resume): not part of the rate.
    pub resumed: usize,
    pub elapsed: Duration,
    pub ranks: Option<RankCounts>,
}

impl Snapshot {
    /// Tasks per second completed by this run, once one has completed.
    pub fn rate(&self) -> Option<f64> {
        let finished = self.done.saturating_sub(self.resumed);
        let seconds = self.elapsed.as_secs_f64();
        (finished > 0 && seconds > 0.0).then(|| finished as f64 / seconds)
    }

    /// Time left at this run's rate so far.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total.saturating_sub(self.done);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        self.rate()
            .map(|rate| Duration::from_secs_f64(left as f64 / rate))
    }

    fn rate_text(&self) -> String {
        self.rate().map_or_else(|| "-- tasks/s".into(), rate_text)
    }

    fn eta_text(&self) -> String {
        self.eta().map_or_else(
            || "ETA --".into(),
            |eta| format!("ETA {}", duration_text(eta)),
        )
    }

    fn ranks_text(&self) -> Option<String> {
        self.ranks.map(|r| {
            let mut text = format!("ranks: {} busy, {} idle", r.busy, r.idle);
            if r.lost > 0 {
                text += &format!(", {} lost", r.lost);
            }
            text
        })
    }

    /// A plain line for logs: `triton-batch: 34/80 tasks done (42%), 27 s elapsed, 1.3 tasks/s,
    /// ETA 35 s; ranks: 2 busy, 0 idle`.
    pub fn line(&self) -> String {
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let mut line = format!(
            "triton-batch: {}/{} tasks done ({percent}%), {} elapsed, {}, {}",
            self.done,
            self.total,
            duration_text(self.elapsed),
            self.rate_text(),
            self.eta_text()
        );
        if let Some(ranks) = self.ranks_text() {
            line += &format!("; {ranks}");
        }
        line
    }

    /// The bar line (without `\r`):
    /// `[######..........] 34/80 tasks  1.3 tasks/s  ETA 35 s  ranks: 2 busy, 0 idle`.
    pub fn bar(&self) -> String {
        let mut text = format!(
            "{}/{} tasks  {}  {}",
            self.done,
            self.total,
            self.rate_text(),
            self.eta_text()
        );
        if let Some(ranks) = self.ranks_text() {
            text += &format!("  {ranks}");
        }
        let width = BAR_WIDTH;
        let filled = (self.done * width)
            .checked_div(self.total)
            .unwrap_or(width)
            .min(width);
        format!(
            "[{}{}] {text}",
            "#".repeat(filled),
            ".".repeat(width - filled)
        )
    }

    /// The closing line: `triton-batch: 80/80 tasks done in 52 s, 1.5 tasks/s` (no rate when a
    /// resumed run found every task recorded).
    pub fn summary(&self) -> String {
        let mut line = format!(
            "triton-batch: {}/{} tasks done in {}",
            self.done,
            self.total,
            duration_text(self.elapsed)
        );
        if let Some(rate) = self.rate() {
            line += &format!(", {}", rate_text(rate));
        }
        line
    }
}

/// `2.5 tasks/s`, `0.42 tasks/s` below one a second, and seconds per task below one in ten
/// seconds (`38 s/task`), which reads better than `0.03 tasks/s` for the minute-long fits of a
/// grid search on Pis. The switch sits where rates change slowly, so the text does not flicker.
pub fn rate_text(per_second: f64) -> String {
    if per_second >= 1.0 {
        format!("{per_second:.1} tasks/s")
    } else if per_second >= 0.1 {
        format!("{per_second:.2} tasks/s")
    } else {
        format!("{:.0} s/task", 1.0 / per_second)
    }
}

/// `4.2 s` under 10 s, `35 s`, `4 min 05 s`, `1 h 02 min`: the README's style.
pub fn duration_text(d: Duration) -> String {
    let seconds = d.as_secs_f64();
    if seconds < 9.95 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    match whole {
        0..60 => format!("{whole} s"),
        60..3600 => format!("{} min {:02} s", whole / 60, whole % 60),
        _ => format!("{} h {:02} min", whole / 3600, whole % 3600 / 60),
    }
}

/// Rank 0's progress display for one run.
pub struct Progress {
    mode: Mode,
    counter: Arc<Counter>,
}

/// What both the caller and the bar's redraw thread read.
struct Counter {
    total: usize,
    resumed: usize,
    done: AtomicUsize,
    started: Instant,
}

impl Counter {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            total: self.total,
            done: self.done.load(Ordering::Relaxed),
            resumed: self.resumed,
            elapsed: self.started.elapsed(),
            ranks: current_ranks(),
        }
    }
}

enum Mode {
    Silent,
    Bar(Mutex<Option<Redraw>>),
    Lines { last: Instant },
}

/// The bar's redraw thread; dropping `stop` wakes it and ends it.
struct Redraw {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// One write per update, so the line is not split by other output on the same stream.
fn write_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn draw_bar(counter: &Counter) {
    write_stderr(&format!("\r{}\x1b[K", counter.snapshot().bar()));
}

impl Progress {
    /// `done` tasks are already recorded (a resumed run) out of `total`; `quiet` shows nothing,
    /// otherwise as `ProgressChoice::Auto`.
    pub fn new(total: usize, done: usize, quiet: bool) -> Self {
        let choice = match quiet {
            true => ProgressChoice::None,
            false => ProgressChoice::Auto,
        };
        Self::with_choice(total, done, choice)
    }

    /// As `new`, shown as `choice` says.
    pub fn with_choice(total: usize, done: usize, choice: ProgressChoice) -> Self {
        let counter = Arc::new(Counter {
            total,
            resumed: done,
            done: AtomicUsize::new(done),
            started: Instant::now(),
        });
        let env = std::env::var(PROGRESS_ENV).ok();
        let mode = match choice.resolve(env.as_deref(), std::io::stderr().is_terminal()) {
            ProgressChoice::None => Mode::Silent,
            ProgressChoice::Bar => {
                let (stop, stopped) = mpsc::channel::<()>();
                let shared = Arc::clone(&counter);
                let thread = std::thread::spawn(move || {
                    draw_bar(&shared);
                    while let Err(mpsc::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(REDRAW_EVERY)
                    {
                        draw_bar(&shared);
                    }
                });
                Mode::Bar(Mutex::new(Some(Redraw { stop, thread })))
            }
            ProgressChoice::Lines | ProgressChoice::Auto => Mode::Lines {
                last: Instant::now(),
            },
        };
        Progress { mode, counter }
    }

    pub fn task_done(&mut self) {
        self.counter.done.fetch_add(1, Ordering::Relaxed);
        match &mut self.mode {
            Mode::Silent => {}
            Mode::Bar(_) => draw_bar(&self.counter),
            Mode::Lines { last } => {
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    write_stderr(&format!("{}\n", self.counter.snapshot().line()));
                }
            }
        }
    }

    /// Replaces the bar (or ends the lines) with one closing line: tasks, time and rate.
    pub fn finish(&self) {
        match &self.mode {
            Mode::Silent => {}
            Mode::Bar(redraw) => {
                stop(redraw);
                write_stderr(&format!("\r{}\x1b[K\n", self.counter.snapshot().summary()));
            }
            Mode::Lines { .. } => {
                write_stderr(&format!("{}\n", self.counter.snapshot().summary()));
            }
        }
    }
}

/// Ends the redraw thread (if still running) and waits for it, so no redraw follows.
fn stop(redraw: &Mutex<Option<Redraw>>) -> bool {
    let Some(Redraw { stop, thread }) = redraw.lock().unwrap_or_else(|e| e.into_inner()).take()
    else {
        return false;
    };
    drop(stop);
    let _ = thread.join();
    true
}

impl Drop for Progress {
    /// A run that ends early (an error) leaves the bar on its own line, so the error message
    /// that follows starts at the line's beginning.
    fn drop(&mut self) {
        if let Mode::Bar(redraw) = &self.mode {
            if stop(redraw) {
                write_stderr("\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(done: usize, seconds: f64) -> Snapshot {
        Snapshot {
            total: 80,
            done,
            resumed: 0,
            elapsed: Duration::from_secs_f64(seconds),
            ranks: Some(RankCounts {
                busy: 2,
                idle: 0,
                lost: 0,
            }),
        }
    }

    #[test]
    fn durations_read_like_the_readme() {
        let text = |s: f64| duration_text(Duration::from_secs_f64(s));
        assert_eq!(text(0.0), "0.0 s");
        assert_eq!(text(4.24), "4.2 s");
        assert_eq!(text(9.96), "10 s");
        assert_eq!(text(35.4), "35 s");
        assert_eq!(text(59.6), "1 min 00 s");
        assert_eq!(text(245.0), "4 min 05 s");
        assert_eq!(text(3720.0), "1 h 02 min");
    }

    #[test]
    fn rates_switch_to_seconds_per_task_below_one_in_ten_seconds() {
        assert_eq!(rate_text(1.25), "1.2 tasks/s");
        assert_eq!(rate_text(13.0), "13.0 tasks/s");
        assert_eq!(rate_text(0.9), "0.90 tasks/s");
        assert_eq!(rate_text(0.1), "0.10 tasks/s");
        assert_eq!(rate_text(1.0 / 38.4), "38 s/task");
    }

    #[test]
    fn lines_carry_rate_eta_and_ranks() {
        assert_eq!(
            at(34, 27.2).line(),
            "triton-batch: 34/80 tasks done (42%), 27 s elapsed, 1.2 tasks/s, ETA 37 s; \
             ranks: 2 busy, 0 idle"
        );
        let slow = Snapshot {
            total: 18,
            done: 2,
            resumed: 0,
            elapsed: Duration::from_secs(80),
            ranks: Some(RankCounts {
                busy: 14,
                idle: 1,
                lost: 1,
            }),
        };
        assert_eq!(
            slow.line(),
            "triton-batch: 2/18 tasks done (11%), 1 min 20 s elapsed, 40 s/task, \
             ETA 10 min 40 s; ranks: 14 busy, 1 idle, 1 lost"
        );
    }

    #[test]
    fn nothing_done_yet_has_no_rate_and_no_eta() {
        let s = Snapshot {
            ranks: None,
            ..at(0, 3.0)
        };
        assert_eq!(s.rate(), None);
        assert_eq!(
            s.line(),
            "triton-batch: 0/80 tasks done (0%), 3.0 s elapsed, -- tasks/s, ETA --"
        );
    }

    #[test]
    fn a_resumed_run_rates_only_its_own_tasks() {
        let s = Snapshot {
            resumed: 60,
            ..at(70, 10.0)
        };
        assert_eq!(s.rate(), Some(1.0));
        assert_eq!(s.eta(), Some(Duration::from_secs(10)));
        let all_done = Snapshot {
            resumed: 80,
            ..at(80, 1.0)
        };
        assert_eq!(all_done.eta(), Some(Duration::ZERO));
        assert_eq!(
            all_done.summary(),
            "triton-batch: 80/80 tasks done in 1.0 s"
        );
    }

    #[test]
    fn the_bar_has_a_fixed_width_and_fits_80_columns() {
        let bar = at(34, 27.2).bar();
        assert_eq!(
            bar,
            "[######..........] 34/80 tasks  1.2 tasks/s  ETA 37 s  ranks: 2 busy, 0 idle"
        );
        assert!(bar.len() < 80);
        let done = at(80, 52.0).bar();
        assert!(
            done.starts_with(&format!("[{}] 80/80", "#".repeat(16))),
            "{done}"
        );
        let lonely = Snapshot {
            ranks: None,
            ..at(0, 1.0)
        };
        assert!(lonely
            .bar()
            .starts_with(&format!("[{}] 0/80", ".".repeat(16))));
        assert_eq!(
            at(80, 52.0).summary(),
            "triton-batch: 80/80 tasks done in 52 s, 1.5 tasks/s"
        );
    }

    #[test]
    fn auto_follows_the_environment_then_the_terminal() {
        use ProgressChoice::*;
        assert_eq!(Auto.resolve(Some("bar"), false), Bar);
        assert_eq!(Auto.resolve(Some("none"), true), None);
        assert_eq!(Auto.resolve(Some("lines"), true), Lines);
        assert_eq!(Auto.resolve(Option::None, true), Bar);
        assert_eq!(Auto.resolve(Option::None, false), Lines);
        assert_eq!(Auto.resolve(Some("auto"), false), Lines);
        assert_eq!(Auto.resolve(Some("sparkles"), false), Lines);
        assert_eq!(Lines.resolve(Some("bar"), true), Lines);
        assert_eq!("none".parse::<ProgressChoice>().unwrap(), None);
        assert_eq!(
            "fancy".parse::<ProgressChoice>().unwrap_err().to_string(),
            "`fancy` is not a progress display; use auto, bar, lines or none"
        );
    }
}
