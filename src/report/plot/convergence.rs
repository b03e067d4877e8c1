//! The Monte Carlo chart: the price estimate and its 95% confidence band after each block of
//! paths, against the paths simulated so far, with the final price as a horizontal line.
//!
//! The `blocks` journal holds every block's sums, so the running estimate is the final
//! reduction applied to each prefix of the blocks in task-id order (`mc::estimate` on the summed
//! prefix): exact for every estimator, and its last point is the final price bit for bit. The
//! pricing comes from the job text stored in the file.

use anyhow::{bail, Context};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{self, axis_font, dashed_mark, decimals, label_font, thousands, Figure};
use crate::jobfile::montecarlo::MonteCarloJob;
use crate::jobfile::JobText;
use crate::mc::{self, BlockSums, Estimator};
use crate::results::{ResultFile, Value};
use crate::runner::montecarlo::journal_blocks;

const ESTIMATE: RGBColor = RGBColor(31, 90, 170);
const FINAL: RGBColor = RGBColor(200, 30, 30);

/// One point of the running estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    paths: u64,
    price: f64,
    ci_low: f64,
    ci_high: f64,
}

/// A Monte Carlo convergence chart ready to draw.
#[derive(Debug)]
pub struct Convergence {
    title: String,
    subtitle: String,
    points: Vec<Point>,
    /// The `estimate` table's price and 95% interval.
    final_price: (f64, f64, f64),
}

impl Convergence {
    pub fn from_file(file: &ResultFile, job: &str) -> anyhow::Result<Self> {
        let path = file.path();
        let blocks = super::table(file, "blocks", "montecarlo")?;
        let estimate = super::table(file, "estimate", "montecarlo")?;
        let Ok(Value::Str(text)) = file.attr("job_toml") else {
            bail!(
                "{}: no `job_toml` attribute, which every montecarlo result has",
                path.display()
            );
        };
        let pricing = MonteCarloJob::from_text(
            &JobText {
                path: path.to_path_buf(),
                text,
            },
            None,
        )
        .with_context(|| format!("reading the job stored in {}", path.display()))?
        .pricing;

        let mut sums = BlockSums::default();
        let points = journal_blocks(&blocks)?
            .iter()
            .map(|block| {
                sums.add(block);
                let e = mc::estimate(&pricing, &sums);
                Point {
                    paths: e.paths,
                    price: e.price,
                    ci_low: e.ci_low,
                    ci_high: e.ci_high,
                }
            })
            .collect();

        let get = |name: &str| estimate.f64_column(name).map(|c| c[0]);
        let final_price = (get("price")?, get("ci_low")?, get("ci_high")?);
        let (estimator, note) = match pricing.estimator {
            Estimator::Plain => ("plain", ""),
            Estimator::Antithetic => ("antithetic", "; a sample is a pair's mean"),
            Estimator::ControlVariate => (
                "control-variate",
                "; the control's coefficient refitted at each block",
            ),
        };
        let option = &pricing.option;
        Ok(Convergence {
            title: format!(
                "{job}: Monte Carlo price after each of {} blocks ({estimator} estimator)",
                blocks.len()
            ),
            subtitle: format!(
                "{} {}, {} model, strike {}: estimate and 95% interval from the blocks so far, in task order{note}",
                option.payoff.name(),
                option.option_type.name(),
                pricing.model.name(),
                option.strike,
            ),
            points,
            final_price,
        })
    }
}

impl Figure for Convergence {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let body = figure::header(area, &self.title, &self.subtitle)?;
        let band: Vec<&Point> = self
            .points
            .iter()
            .filter(|p| p.ci_low.is_finite() && p.ci_high.is_finite())
            .collect();
        let (price, ci_low, ci_high) = self.final_price;
        let values = band
            .iter()
            .flat_map(|p| [p.ci_low, p.ci_high])
            .chain(self.points.iter().map(|p| p.price))
            .chain([price])
            .filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let pad = match hi > lo {
            true => (hi - lo) * 0.05,
            false => 1e-3_f64.max(price.abs() * 1e-3),
        };
        let max_paths = self.points.last().map_or(1, |p| p.paths) as f64;

        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(0.0..max_paths, (lo - pad)..(hi + pad))?;
        let x_label = |v: &f64| thousands(v.round() as u64);
        let places = decimals(hi - lo + 2.0 * pad);
        let y_label = |v: &f64| format!("{v:.places$}");
        chart
            .configure_mesh()
            .x_desc("paths simulated")
            .y_desc("option price")
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(label_font())
            .axis_desc_style(axis_font())
            .light_line_style(WHITE)
            .draw()?;

        let outline: Vec<(f64, f64)> = band
            .iter()
            .map(|p| (p.paths as f64, p.ci_high))
            .chain(band.iter().rev().map(|p| (p.paths as f64, p.ci_low)))
            .collect();
        let band_style = ESTIMATE.mix(0.2).filled();
        chart
            .draw_series([Polygon::new(outline, band_style)])?
            .label("95% confidence interval")
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 24, y + 6)], band_style));
        let line = ESTIMATE.stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                self.points.iter().map(|p| (p.paths as f64, p.price)),
                line,
            ))?
            .label("running estimate")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], line));
        let dashed = FINAL.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, price), (max_paths, price)],
                10,
                6,
                dashed,
            ))?
            .label(format!(
                "final price {price:.4}  [{ci_low:.4}, {ci_high:.4}]"
            ))
            .legend(move |at| dashed_mark(at, dashed));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(label_font())
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Schema, Table};
    use crate::rng::task_rng;

    const JOB: &str = r#"
[model]
kind = "gbm"
s0 = 100.0
sigma = 0.2
r = 0.02
q = 0.0

[option]
payoff = "asian_arithmetic"
type = "call"
strike = 100.0
maturity = 1.0
steps = 12

[simulation]
paths = 4000
estimator = "control_variate"
seed = 3
block_paths = 500
"#;

    #[test]
    fn plot_running_estimate_ends_at_the_final_price() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mc.h5");
        let job = MonteCarloJob::from_text(
            &JobText {
                path: path.clone(),
                text: JOB.into(),
            },
            None,
        )
        .unwrap();
        let block = |task: usize| {
            let mut rng = task_rng(job.seed, task as u64);
            mc::simulate_block(&job.pricing, &mut rng, job.block_size(task))
        };
        let file = ResultFile::create(&path).unwrap();
        file.set_attr("job_toml", &JOB.into()).unwrap();
        // The journal, in the order the blocks happened to finish.
        let schema = BlockSums::field_names()
            .iter()
            .fold(Schema::new().i64("task"), |s, name| s.f64(name));
        let rows = [5, 2, 7, 0, 1, 6, 3, 4]
            .into_iter()
            .map(|task| {
                let mut row = vec![Value::I64(task as i64)];
                row.extend(block(task).to_values().into_iter().map(Value::F64));
                row
            })
            .collect();
        file.write_table("blocks", &Table { schema, rows }).unwrap();
        let blocks: Vec<BlockSums> = (0..job.n_blocks()).map(block).collect();
        let end = mc::reduce(&job.pricing, &blocks);
        let estimate = Table {
            schema: Schema::new().f64("price").f64("ci_low").f64("ci_high"),
            rows: vec![vec![
                end.price.into(),
                end.ci_low.into(),
                end.ci_high.into(),
            ]],
        };
        file.write_table("estimate", &estimate).unwrap();

        let chart = Convergence::from_file(&file, "mc").unwrap();
        let paths: Vec<u64> = chart.points.iter().map(|p| p.paths).collect();
        assert_eq!(paths, (1..=8).map(|k| 500 * k).collect::<Vec<u64>>());
        let first = mc::reduce(&job.pricing, &blocks[..1]);
        assert_eq!(chart.points[0].price.to_bits(), first.price.to_bits());
        let last = chart.points.last().unwrap();
        assert_eq!(
            (last.price, last.ci_low, last.ci_high),
            (end.price, end.ci_low, end.ci_high),
            "the last running point is the final estimate, bit for bit"
        );
        assert!(
            chart.title.contains("control-variate estimator"),
            "{}",
            chart.title
        );
        let png = dir.path().join("mc.png");
        figure::render(&chart, &png, "--out").unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    }
}
