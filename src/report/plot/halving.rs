//! The chart of a halving search: each candidate's mean test score at each iteration it reached
//! (iterations across, with their rows), one line per candidate, so the candidates that advance
//! stand out from the many dropped after the first, small iterations; the best candidate (from
//! the last iteration) in red.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{
    self, axis_font, categories, category_label, decimals, label_font, Figure, CELL,
};
use crate::results::Table;

const DROPPED: RGBColor = RGBColor(150, 150, 150);
const ADVANCED: RGBColor = RGBColor(31, 90, 170);
const BEST: RGBColor = RGBColor(200, 30, 30);

/// A halving search's scores by iteration, ready to draw.
#[derive(Debug)]
pub struct Halving {
    title: String,
    /// Per iteration: its label (iteration and rows).
    iterations: Vec<String>,
    /// Per candidate (by its `params`): the (iteration, mean test score) points it reached.
    lines: Vec<Vec<(usize, f64)>>,
    /// The line of the best candidate.
    best: Option<usize>,
}

impl Halving {
    /// From `cv_results` (with its `iter` and `n_resources` columns), the mean test score column
    /// `score` and the `best_index` row.
    pub fn from_table(
        cv: &Table,
        score: &str,
        best_index: Option<usize>,
        job: &str,
    ) -> anyhow::Result<Self> {
        let iter = cv.i64_column("iter")?;
        let rows = cv.i64_column("n_resources")?;
        let params = cv.str_column("params")?;
        let scores = cv.f64_column(score)?;
        let n_iterations = iter.iter().max().map_or(0, |&i| i as usize + 1);
        let mut iterations = vec![String::new(); n_iterations];
        let mut names: Vec<&str> = vec![];
        let mut lines: Vec<Vec<(usize, f64)>> = vec![];
        for row in 0..iter.len() {
            let iteration = iter[row] as usize;
            iterations[iteration] = format!("iteration {iteration}: {} rows", rows[row]);
            let line = match names.iter().position(|n| *n == params[row]) {
                Some(line) => line,
                None => {
                    names.push(&params[row]);
                    lines.push(vec![]);
                    lines.len() - 1
                }
            };
            lines[line].push((iteration, scores[row]));
        }
        let best = best_index
            .and_then(|row| params.get(row))
            .and_then(|best| names.iter().position(|n| n == best));
        Ok(Halving {
            title: format!(
                "{job}: successive halving, {} candidates, {score} by iteration",
                lines.len()
            ),
            iterations,
            lines,
            best,
        })
    }
}

impl Figure for Halving {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let subtitle = "one line per candidate through the iterations it reached; grey: dropped after its first iteration";
        let body = figure::header(area, &self.title, subtitle)?;
        let finite = self
            .lines
            .iter()
            .flatten()
            .map(|p| p.1)
            .filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
        let pad = ((hi - lo) * 0.05).max(1e-3);
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(categories(self.iterations.len()), (lo - pad)..(hi + pad))?;
        let x_label = |v: &i32| category_label(&self.iterations, *v);
        let places = decimals(hi - lo + 2.0 * pad);
        let y_label = |v: &f64| format!("{v:.places$}");
        chart
            .configure_mesh()
            .x_desc("iteration (rows per fit)")
            .y_desc("mean test score")
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(label_font())
            .axis_desc_style(axis_font())
            .light_line_style(WHITE)
            .draw()?;
        let at = |iteration: usize| CELL * iteration as i32 + CELL / 2;
        // The best last, so it is drawn on top.
        let mut order: Vec<usize> = (0..self.lines.len())
            .filter(|&l| Some(l) != self.best)
            .collect();
        order.extend(self.best);
        for line in order {
            let points: Vec<(i32, f64)> = self.lines[line]
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|&(i, score)| (at(i), score))
                .collect();
            let color = match (Some(line) == self.best, points.len() > 1) {
                (true, _) => BEST,
                (false, true) => ADVANCED,
                (false, false) => DROPPED,
            };
            let style = color.stroke_width(if color == BEST { 3 } else { 1 });
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Schema, Value};

    #[test]
    fn each_candidate_is_a_line_through_the_iterations_it_reached() {
        let schema = Schema::new()
            .i64("iter")
            .i64("n_resources")
            .str("params", 40)
            .f64("mean_test_score");
        let row = |i: i64, n: i64, p: &str, s: f64| {
            vec![
                Value::I64(i),
                Value::I64(n),
                Value::Str(p.into()),
                Value::F64(s),
            ]
        };
        let cv = Table {
            schema,
            rows: vec![
                row(0, 100, "a", 0.5),
                row(0, 100, "b", 0.7),
                row(0, 100, "c", 0.6),
                row(1, 300, "b", 0.8),
            ],
        };
        let chart = Halving::from_table(&cv, "mean_test_score", Some(3), "job").unwrap();
        assert_eq!(
            chart.iterations,
            vec!["iteration 0: 100 rows", "iteration 1: 300 rows"]
        );
        assert_eq!(chart.lines[1], vec![(0, 0.7), (1, 0.8)]);
        assert_eq!(chart.best, Some(1));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("halving.svg");
        figure::render(&chart, &out, "--out").unwrap();
        assert!(std::fs::read_to_string(&out)
            .unwrap()
            .contains("iteration 1: 300 rows"));
    }
}
