//! The forest chart: the `feature_importances` table as bars, most important first (the top
//! [`TOP`] when there are more features), each labelled by its feature index.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{
    self, axis_font, categories, category_label, decimals, label_font, Figure, CELL,
};
use crate::results::Table;

/// Bars drawn at most.
pub const TOP: usize = 20;
const BAR: RGBColor = RGBColor(49, 104, 142);

/// Feature importances ready to draw.
#[derive(Debug)]
pub struct Importances {
    title: String,
    /// (feature index, importance), most important first.
    bars: Vec<(i64, f64)>,
}

impl Importances {
    pub fn from_table(table: &Table, job: &str) -> anyhow::Result<Self> {
        let features = table.i64_column("feature")?;
        let importances = table.f64_column("importance")?;
        let mut bars: Vec<(i64, f64)> = features.into_iter().zip(importances).collect();
        // Ties keep feature order, so the chart is the same on every run.
        bars.sort_by(|a, b| b.1.total_cmp(&a.1));
        let total = bars.len();
        bars.truncate(TOP);
        let which = match total > TOP {
            true => format!("top {TOP} of {total} features"),
            false => format!("all {total} features"),
        };
        Ok(Importances {
            title: format!("{job}: random-forest feature importances, {which}"),
            bars,
        })
    }
}

impl Figure for Importances {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let body = figure::header(
            area,
            &self.title,
            "mean decrease in impurity over the trees, normalised to sum to 1; sorted by importance",
        )?;
        let top = self
            .bars
            .first()
            .map_or(1.0, |b| b.1)
            .max(f64::MIN_POSITIVE);
        let labels: Vec<String> = self.bars.iter().map(|b| b.0.to_string()).collect();
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(categories(self.bars.len()), 0.0..top * 1.1)?;
        let x_label = |v: &i32| category_label(&labels, *v);
        let places = decimals(top * 1.1);
        let y_label = |v: &f64| format!("{v:.places$}");
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_desc("feature index")
            .y_desc("importance")
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(label_font())
            .axis_desc_style(axis_font())
            .draw()?;
        chart.draw_series(self.bars.iter().enumerate().map(|(i, &(_, v))| {
            let x = CELL * i as i32;
            Rectangle::new(
                [(x + CELL / 5, 0.0), (x + CELL - CELL / 5, v)],
                BAR.filled(),
            )
        }))?;
        Ok(())
    }
}
