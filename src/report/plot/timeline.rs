//! `plot --timeline`: a run drawn as Dask's dashboard draws its task stream: one row per rank
//! (labelled with its host), one bar per task from its start to its end on that rank's clock,
//! coloured by the part of the job it belongs to (a grid search's kernel, or the block kind), so
//! that idle gaps and a slow rank's late tail show at a glance. It reads the journal's
//! `start_seconds` and `seconds` columns; a resumed journal holds each run's tasks on that run's
//! own clock.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{self, axis_font, label_font, Figure};
use crate::results::{Table, Value};

/// One task's bar.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    rank: usize,
    start: f64,
    end: f64,
    part: usize,
}

/// A run's tasks ready to draw.
#[derive(Debug)]
pub struct Timeline {
    title: String,
    /// "rank R (host)", by rank.
    rows: Vec<String>,
    /// The legend's names, in first-seen order; a bar's `part` indexes them.
    parts: Vec<String>,
    bars: Vec<Bar>,
}

impl Timeline {
    /// Reads the journal `journal` (`splits` or `blocks`): a task's rows share its rank, start
    /// and duration, so the first row of each task makes its bar. `part_of` names a row's part.
    pub fn from_journal(
        journal: &Table,
        job: &str,
        what: &str,
        part_of: impl Fn(&Table, usize) -> String,
    ) -> anyhow::Result<Self> {
        let tasks = journal.i64_column("task")?;
        let ranks = journal.i64_column("rank")?;
        let hosts = journal.str_column("host")?;
        let seconds = journal.f64_column("seconds")?;
        let starts = journal.f64_column("start_seconds")?;
        let mut first_row_of_task = BTreeMap::new();
        for (row, &task) in tasks.iter().enumerate() {
            first_row_of_task.entry(task).or_insert(row);
        }
        let mut hosts_by_rank = BTreeMap::new();
        let mut parts: Vec<String> = vec![];
        let mut bars = vec![];
        for &row in first_row_of_task.values() {
            let rank = usize::try_from(ranks[row]).unwrap_or(0);
            hosts_by_rank
                .entry(rank)
                .or_insert_with(|| hosts[row].clone());
            let name = part_of(journal, row);
            let part = match parts.iter().position(|p| *p == name) {
                Some(part) => part,
                None => {
                    parts.push(name);
                    parts.len() - 1
                }
            };
            bars.push(Bar {
                rank,
                start: starts[row],
                end: starts[row] + seconds[row],
                part,
            });
        }
        let n_rows = hosts_by_rank.keys().next_back().map_or(0, |&r| r + 1);
        let rows = (0..n_rows)
            .map(|rank| match hosts_by_rank.get(&rank) {
                Some(host) => format!("rank {rank} ({host})"),
                None => format!("rank {rank} (no task)"),
            })
            .collect();
        Ok(Timeline {
            title: format!("{job}: {} {what} on {n_rows} ranks", bars.len()),
            rows,
            parts,
            bars,
        })
    }

    /// The seconds from the first start to the last end over every rank.
    fn span(&self) -> f64 {
        self.bars.iter().map(|b| b.end).fold(0.0, f64::max)
    }

    /// Each rank's share of the span spent idle (no task running), by rank.
    fn idle_shares(&self) -> Vec<f64> {
        let span = self.span().max(f64::MIN_POSITIVE);
        (0..self.rows.len())
            .map(|rank| {
                let busy: f64 = self
                    .bars
                    .iter()
                    .filter(|b| b.rank == rank)
                    .map(|b| b.end - b.start)
                    .sum();
                (1.0 - busy / span).max(0.0)
            })
            .collect()
    }
}

/// The part of a grid-search split: its kernel (or the estimator when it has none).
pub fn kernel_of(journal: &Table, row: usize) -> String {
    let Some(params) = journal.get(row, "params").and_then(Value::as_str) else {
        return "fit".into();
    };
    let parsed: serde_json::Value = serde_json::from_str(params).unwrap_or_default();
    match parsed.get("kernel").and_then(|k| k.as_str()) {
        Some(kernel) => format!("kernel {kernel}"),
        None => "fit".into(),
    }
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(49, 104, 142),
    RGBColor(230, 126, 34),
    RGBColor(53, 183, 121),
    RGBColor(192, 57, 43),
    RGBColor(142, 68, 173),
    RGBColor(127, 127, 127),
];

impl Figure for Timeline {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let idle: Vec<String> = self
            .idle_shares()
            .iter()
            .enumerate()
            .map(|(rank, share)| format!("{rank}: {:.0}%", 100.0 * share))
            .collect();
        let body = figure::header(
            area,
            &self.title,
            &format!(
                "one bar per task, start to end on its rank's clock; idle share of the span by rank: {}",
                idle.join(", ")
            ),
        )?;
        // Room on the right for the legend.
        let span = self.span().max(1e-3) * 1.22;
        let n_rows = self.rows.len().max(1);
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(220)
            .build_cartesian_2d(0.0..span, 0.0..n_rows as f64)?;
        let row_label = |v: &f64| {
            let row = n_rows as f64 - v.floor() - 1.0;
            self.rows
                .get(row as usize)
                .filter(|_| v.fract() == 0.5 && row >= 0.0)
                .cloned()
                .unwrap_or_default()
        };
        let places = figure::decimals(span);
        let x_label = |v: &f64| format!("{v:.places$}");
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(2 * n_rows + 1)
            .y_label_formatter(&row_label)
            .x_label_formatter(&x_label)
            .x_desc("seconds on each rank's clock, from when it was ready for tasks")
            .label_style(label_font())
            .axis_desc_style(axis_font())
            .draw()?;
        for (part, name) in self.parts.iter().enumerate() {
            let colour = PALETTE[part % PALETTE.len()];
            chart
                .draw_series(self.bars.iter().filter(|b| b.part == part).map(|b| {
                    // Rank 0 on top.
                    let y = (n_rows - 1 - b.rank) as f64;
                    Rectangle::new([(b.start, y + 0.15), (b.end, y + 0.85)], colour.filled())
                }))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled())
                });
            // A thin white edge keeps back-to-back tasks apart.
            chart.draw_series(self.bars.iter().filter(|b| b.part == part).map(|b| {
                let y = (n_rows - 1 - b.rank) as f64;
                Rectangle::new(
                    [(b.start, y + 0.15), (b.end, y + 0.85)],
                    WHITE.stroke_width(1),
                )
            }))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(label_font())
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Schema;

    fn journal() -> Table {
        let schema = Schema::new()
            .i64("task")
            .i64("rank")
            .str("host", 16)
            .f64("seconds")
            .f64("start_seconds")
            .str("params", 64);
        let row = |task: i64, rank: i64, host: &str, start: f64, kernel: &str| {
            vec![
                Value::I64(task),
                Value::I64(rank),
                Value::Str(host.into()),
                Value::F64(2.0),
                Value::F64(start),
                Value::Str(format!("{{\"C\": 1.0, \"kernel\": \"{kernel}\"}}")),
            ]
        };
        Table {
            schema,
            rows: vec![
                row(1, 1, "pi1", 0.0, "rbf"),
                row(0, 0, "desk", 0.0, "linear"),
                row(0, 0, "desk", 0.0, "linear"),
                row(2, 0, "desk", 2.5, "rbf"),
            ],
        }
    }

    #[test]
    fn one_bar_per_task_on_its_rank_coloured_by_kernel_with_idle_shares() {
        let timeline = Timeline::from_journal(&journal(), "job", "tasks", kernel_of).unwrap();
        assert_eq!(timeline.rows, vec!["rank 0 (desk)", "rank 1 (pi1)"]);
        assert_eq!(timeline.parts, vec!["kernel linear", "kernel rbf"]);
        assert_eq!(timeline.bars.len(), 3, "a task's second row adds no bar");
        assert_eq!(
            timeline.bars[2],
            Bar {
                rank: 0,
                start: 2.5,
                end: 4.5,
                part: 1
            }
        );
        let idle = timeline.idle_shares();
        assert!((idle[0] - (1.0 - 4.0 / 4.5)).abs() < 1e-12, "{idle:?}");
        assert!((idle[1] - (1.0 - 2.0 / 4.5)).abs() < 1e-12, "{idle:?}");
    }
}
