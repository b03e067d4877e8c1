//! The chart of `triton-batch report --plot`: two panels against MPI ranks, the median wall time
//! and the speedup with the ideal (linear) speedup, one series per job.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{self, axis_font, dashed_mark, label_font, Figure};
use crate::report::scaling::{JobScaling, Point};

/// Draws the scaling chart of `jobs` into `path` (.svg or .png).
pub fn render(jobs: &[JobScaling], path: &Path) -> anyhow::Result<()> {
    figure::render(&Chart { jobs }, path, "--plot")
}

struct Chart<'a> {
    jobs: &'a [JobScaling],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Panel {
    WallTime,
    Speedup,
}

impl Panel {
    fn value(self, p: &Point) -> f64 {
        match self {
            Panel::WallTime => p.wall_seconds,
            Panel::Speedup => p.speedup,
        }
    }
}

impl Chart<'_> {
    fn points(&self) -> impl Iterator<Item = &Point> {
        self.jobs.iter().flat_map(|j| &j.points)
    }

    /// Each job's run on the fewest ranks, where its ideal speedup line starts (at 1).
    fn starts(&self) -> Vec<i64> {
        let mut starts: Vec<i64> = self
            .jobs
            .iter()
            .filter_map(|j| j.points.first().map(|p| p.ranks))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        starts
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: Panel,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let max_ranks = self.points().map(|p| p.ranks).max().unwrap_or(1);
        let ideal = |r0: i64| max_ranks as f64 / r0 as f64;
        let top = self
            .points()
            .map(|p| panel.value(p))
            .chain(match panel {
                Panel::Speedup => self.starts().into_iter().map(ideal).collect(),
                Panel::WallTime => vec![],
            })
            .filter(|v| v.is_finite())
            .fold(f64::MIN_POSITIVE, f64::max);
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0..max_ranks + 1, 0.0..top * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("MPI ranks")
            .y_desc(match panel {
                Panel::WallTime => "wall time (s)",
                Panel::Speedup => "speedup ×",
            })
            .x_labels((max_ranks + 2).min(12) as usize)
            .label_style(label_font())
            .axis_desc_style(axis_font())
            .light_line_style(WHITE)
            .draw()?;
        if panel == Panel::Speedup {
            // Usually every job starts at 1 rank, and there is one ideal line.
            for (k, r0) in self.starts().into_iter().enumerate() {
                let style = BLACK.stroke_width(2);
                let line = [(r0, 1.0), (max_ranks, ideal(r0))];
                let series = chart.draw_series(DashedLineSeries::new(line, 8, 6, style))?;
                if k == 0 {
                    series
                        .label("ideal (linear) speedup")
                        .legend(move |at| dashed_mark(at, style));
                }
            }
        }
        for (k, job) in self.jobs.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            let points: Vec<(i64, f64)> = job
                .points
                .iter()
                .map(|p| (p.ranks, panel.value(p)))
                .collect();
            let line = colour.stroke_width(3);
            chart
                .draw_series(LineSeries::new(points.clone(), line))?
                .label(job.label(self.jobs))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], line));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 5, colour.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(match panel {
                Panel::WallTime => SeriesLabelPosition::UpperRight,
                Panel::Speedup => SeriesLabelPosition::UpperLeft,
            })
            .label_font(label_font())
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

impl Figure for Chart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let names: Vec<String> = self.jobs.iter().map(|j| j.label(self.jobs)).collect();
        let title = match names.is_empty() {
            true => "Scaling: no runs yet".to_string(),
            false => format!("Scaling of {}", names.join(", ")),
        };
        let body = figure::header(
            area,
            &title,
            "median wall time over repeats (the whole mpirun command); speedup against each job's run on the fewest ranks",
        )?;
        let (width, _) = body.dim_in_pixel();
        let (left, right) = body.split_horizontally(width / 2);
        self.panel(&left, Panel::WallTime)?;
        self.panel(&right, Panel::Speedup)
    }
}
