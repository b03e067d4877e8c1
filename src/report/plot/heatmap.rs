//! The grid-search chart: `mean_test_score` of `cv_results` (with several metrics, the refit
//! metric's `mean_test_<name>`) as a heatmap over two searched parameters (default the first two
//! `param_*` columns), the other parameters held at the best candidate's values, with a colour
//! scale, the best cell outlined and NaN scores in grey.
//! Every parameter is a categorical axis: numbers in ascending order, text in grid order.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figure::{
    self, axis_font, categories, category_label, decimals, label_font, Figure, CELL,
};
use super::{PlotError, PlotOptions};
use crate::results::{ResultFile, Value};

/// Cells narrower than this many categories across (or taller than this many up) get their
/// score written in them; beyond that the text would not fit.
const MAX_LABELLED: usize = 16;
const NAN_GREY: RGBColor = RGBColor(170, 170, 170);
const SCALE_STEPS: usize = 100;

/// A heatmap ready to draw.
#[derive(Debug)]
pub struct Heatmap {
    title: String,
    subtitle: String,
    x_name: String,
    y_name: String,
    x_labels: Vec<String>,
    y_labels: Vec<String>,
    /// Row-major from the bottom row: `cells[j * nx + i]`; `None` where no candidate has those
    /// values, NaN where its fits failed.
    cells: Vec<Option<f64>>,
    best: (usize, usize),
    score_name: String,
}

/// A candidate lacks a parameter (in a list of grids) when its cell is NaN or empty text.
fn unset(v: &Value) -> bool {
    match v {
        Value::F64(x) => x.is_nan(),
        Value::Str(s) => s.is_empty(),
        Value::I64(_) | Value::Bool(_) => false,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    (unset(a) && unset(b)) || a == b
}

fn label(v: &Value) -> String {
    match unset(v) {
        true => "unset".into(),
        false => v.to_string(),
    }
}

/// The distinct values of `values`: numbers ascending, text in order of appearance, unset last.
fn distinct(values: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !out.iter().any(|o| same(o, &v)) {
            out.push(v);
        }
    }
    out.sort_by(|a, b| match (a, b) {
        (Value::F64(x), Value::F64(y)) => x.total_cmp(y),
        _ => unset(a).cmp(&unset(b)),
    });
    out
}

/// The parameters across and up the heatmap: `--x` and `--y` (with or without `param_`),
/// else the first searched parameters; `None` up when only one was searched (a single row).
fn axes(
    params: &[String],
    opts: &PlotOptions,
    path: &std::path::Path,
) -> anyhow::Result<(String, Option<String>)> {
    let allowed = || params.join(", ");
    let chosen = |flag: &'static str, name: &Option<String>| match name {
        None => Ok(None),
        Some(name) => {
            let bare = name.strip_prefix("param_").unwrap_or(name);
            match params.iter().any(|p| p == bare) {
                true => Ok(Some(bare.to_string())),
                false => Err(PlotError::UnknownParameter {
                    file: path.to_path_buf(),
                    flag,
                    name: name.clone(),
                    allowed: allowed(),
                }),
            }
        }
    };
    let (x, y) = (chosen("--x", &opts.x)?, chosen("--y", &opts.y)?);
    if let (Some(x), Some(y)) = (&x, &y) {
        if x == y {
            return Err(PlotError::SameParameter {
                file: path.to_path_buf(),
                name: x.clone(),
                allowed: allowed(),
            }
            .into());
        }
    }
    let first_but = |other: Option<&String>| params.iter().find(|p| Some(*p) != other).cloned();
    let x = x
        .or_else(|| first_but(y.as_ref()))
        .ok_or_else(|| anyhow::anyhow!("{}: cv_results has no param_* columns", path.display()))?;
    let y = y.or_else(|| first_but(Some(&x)));
    Ok((x, y))
}

impl Heatmap {
    /// Reads `cv_results` of a grid-search result and lays out the heatmap `opts` asks for.
    pub fn from_file(file: &ResultFile, job: &str, opts: &PlotOptions) -> anyhow::Result<Self> {
        let cv = super::table(file, "cv_results", "gridsearch")?;
        let params: Vec<String> = cv
            .schema
            .names()
            .iter()
            .filter_map(|n| n.strip_prefix("param_"))
            .map(str::to_string)
            .collect();
        let path = file.path();
        let (x, y) = axes(&params, opts, path)?;

        let metric = match file.attr("metric") {
            Ok(Value::Str(m)) => Some(m),
            _ => None,
        };
        // One metric's columns end in `score`; with several, each metric's in its name, and the
        // `metric` attribute names the refit metric (it is missing only if every candidate failed).
        let suffix = match (cv.column("mean_test_score"), &metric) {
            (Some(_), _) => "score",
            (None, Some(metric)) => metric.as_str(),
            (None, None) => anyhow::bail!(
                "{}: cv_results has no mean_test_score and the file names no refit metric (no `metric` attribute: did every candidate fail?)",
                path.display()
            ),
        };
        let scores = cv.f64_column(&format!("mean_test_{suffix}"))?;
        let ranks = cv.i64_column(&format!("rank_test_{suffix}"))?;
        // scikit-learn's best_index_: the first candidate ranked best.
        let best = (0..ranks.len())
            .min_by_key(|&c| ranks[c])
            .ok_or_else(|| anyhow::anyhow!("{}: cv_results has no rows", path.display()))?;
        let column = |p: &str| {
            cv.column(&format!("param_{p}"))
                .expect("parameter names come from the columns")
        };
        let value = |c: usize, p: &str| cv.rows[c][column(p)].clone();
        let others: Vec<&String> = params
            .iter()
            .filter(|p| **p != x && Some(*p) != y.as_ref())
            .collect();
        // A candidate that lacks another parameter (a list of grids) is not varied over it.
        let shown: Vec<usize> = (0..cv.len())
            .filter(|&c| {
                others.iter().all(|q| {
                    let v = value(c, q);
                    unset(&v) || same(&v, &value(best, q))
                })
            })
            .collect();
        let x_values = distinct(shown.iter().map(|&c| value(c, &x)));
        let y_values = match &y {
            Some(y) => distinct(shown.iter().map(|&c| value(c, y))),
            None => vec![Value::Str(String::new())],
        };
        let position = |values: &[Value], v: &Value| {
            values
                .iter()
                .position(|o| same(o, v))
                .expect("every shown value has a category")
        };
        let cell_of = |c: usize| {
            let i = position(&x_values, &value(c, &x));
            let j = y.as_ref().map_or(0, |y| position(&y_values, &value(c, y)));
            (i, j)
        };
        let nx = x_values.len();
        let mut cells = vec![None; nx * y_values.len()];
        for &c in &shown {
            let (i, j) = cell_of(c);
            // Two candidates can share a cell only if one lacks a parameter the other has at the
            // best value; the first, in grid order, is shown.
            cells[j * nx + i].get_or_insert(scores[c]);
        }

        let best_cell = cell_of(best);
        let metric = metric.unwrap_or_else(|| "score".into());
        let title = match &y {
            Some(y) => format!("{job}: mean cross-validated {metric} by {x} and {y}"),
            None => format!("{job}: mean cross-validated {metric} by {x}"),
        };
        let mut notes = Vec::new();
        let fixed: Vec<String> = others
            .iter()
            .filter(|q| !unset(&value(best, q)))
            .map(|q| format!("{q}={}", label(&value(best, q))))
            .collect();
        if !fixed.is_empty() {
            notes.push(format!(
                "other parameters as in the best candidate: {}",
                fixed.join(", ")
            ));
        }
        notes.push(format!(
            "best outlined in red: {:.4} (candidate {best})",
            scores[best]
        ));
        if cells.iter().any(|c| c.is_some_and(f64::is_nan)) {
            notes.push("grey: NaN (a fit failed)".into());
        }
        if cells.iter().any(Option::is_none) {
            notes.push("blank: no such candidate".into());
        }
        Ok(Heatmap {
            title,
            subtitle: notes.join("  ·  "),
            x_labels: x_values.iter().map(label).collect(),
            y_labels: match y {
                Some(_) => y_values.iter().map(label).collect(),
                None => vec![String::new()],
            },
            x_name: x,
            y_name: y.unwrap_or_default(),
            cells,
            best: best_cell,
            score_name: format!("mean test {metric}"),
        })
    }

    /// The colour scale's range: the finite scores shown, widened if they are all equal.
    fn range(&self) -> (f64, f64) {
        let finite = self
            .cells
            .iter()
            .flatten()
            .copied()
            .filter(|s| s.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(s), hi.max(s))
        });
        if lo > hi {
            (0.0, 1.0)
        } else if lo == hi {
            let pad = 1e-3_f64.max(lo.abs() * 1e-3);
            (lo - pad, hi + pad)
        } else {
            (lo, hi)
        }
    }
}

fn colour(score: f64, (lo, hi): (f64, f64)) -> RGBColor {
    ViridisRGB.get_color_normalized(score, lo, hi)
}

/// Black text on light cells, white on dark ones.
fn text_colour(fill: RGBColor) -> &'static RGBColor {
    let luma = 0.299 * fill.0 as f64 + 0.587 * fill.1 as f64 + 0.114 * fill.2 as f64;
    if luma < 140.0 {
        &WHITE
    } else {
        &BLACK
    }
}

impl Figure for Heatmap {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let body = figure::header(area, &self.title, &self.subtitle)?;
        let (width, _) = body.dim_in_pixel();
        let (main, bar) = body.split_horizontally(width.saturating_sub(190));
        let (nx, ny) = (self.x_labels.len(), self.y_labels.len());
        let range = self.range();
        let (margin, x_label_area) = (20, 70);

        let mut chart = ChartBuilder::on(&main)
            .margin(margin)
            .x_label_area_size(x_label_area)
            .y_label_area_size(130)
            .build_cartesian_2d(categories(nx), categories(ny))?;
        let x_label = |v: &i32| category_label(&self.x_labels, *v);
        let y_label = |v: &i32| category_label(&self.y_labels, *v);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_name.as_str())
            .y_desc(self.y_name.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(label_font())
            .axis_desc_style(axis_font())
            .draw()?;

        let cells = self.cells.iter().enumerate().filter_map(|(k, score)| {
            score.map(|s| (CELL * (k % nx) as i32, CELL * (k / nx) as i32, s))
        });
        let fill = |s: f64| match s.is_nan() {
            true => NAN_GREY,
            false => colour(s, range),
        };
        chart.draw_series(
            cells
                .clone()
                .map(|(i, j, s)| Rectangle::new([(i, j), (i + CELL, j + CELL)], fill(s).filled())),
        )?;
        if nx <= MAX_LABELLED && ny <= MAX_LABELLED {
            let centre = Pos::new(HPos::Center, VPos::Center);
            chart.draw_series(cells.map(|(i, j, s)| {
                let text = match s.is_nan() {
                    true => "NaN".to_string(),
                    false => format!("{s:.3}"),
                };
                let style = label_font().color(text_colour(fill(s))).pos(centre);
                Text::new(text, (i + CELL / 2, j + CELL / 2), style)
            }))?;
        }
        let (bi, bj) = (CELL * self.best.0 as i32, CELL * self.best.1 as i32);
        // A closed path, not a Rectangle: the SVG backend draws rectangles' outlines 1 px wide.
        let corners = [
            (bi, bj),
            (bi + CELL, bj),
            (bi + CELL, bj + CELL),
            (bi, bj + CELL),
        ];
        chart.draw_series([PathElement::new(
            corners.into_iter().chain([corners[0]]).collect::<Vec<_>>(),
            RED.stroke_width(5),
        )])?;

        // The colour scale, its plotting area level with the heatmap's.
        let (lo, hi) = range;
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(margin)
            .margin_bottom(margin + x_label_area)
            .margin_right(10)
            .set_label_area_size(LabelAreaPosition::Right, 110)
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        let places = decimals(hi - lo);
        let tick = |v: &f64| format!("{v:.places$}");
        scale
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(self.score_name.as_str())
            .y_label_formatter(&tick)
            .label_style(label_font())
            .axis_desc_style(axis_font())
            .draw()?;
        let step = (hi - lo) / SCALE_STEPS as f64;
        scale.draw_series((0..SCALE_STEPS).map(|k| {
            let a = lo + step * k as f64;
            Rectangle::new(
                [(0.0, a), (1.0, a + step)],
                colour(a + step / 2.0, range).filled(),
            )
        }))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Schema, Table};

    #[test]
    fn plot_categories_sorted_numbers_and_grid_order_text() {
        let nums = distinct([10.0, 0.1, f64::NAN, 1.0, 0.1].into_iter().map(Value::F64));
        let labels: Vec<String> = nums.iter().map(label).collect();
        assert_eq!(labels, ["0.1", "1.0", "10.0", "unset"]);
        let text = distinct(
            ["rbf", "", "poly", "rbf", "sigmoid"]
                .into_iter()
                .map(Value::from),
        );
        let labels: Vec<String> = text.iter().map(label).collect();
        assert_eq!(labels, ["rbf", "poly", "sigmoid", "unset"]);
    }

    /// cv_results of a list of grids: rbf over C; poly over C and degree. Candidate 3 is best;
    /// candidate 2 failed; poly with C=10 and degree 3 was not searched.
    fn list_of_grids(dir: &std::path::Path) -> ResultFile {
        let file = ResultFile::create(&dir.join("grid.h5")).unwrap();
        file.set_attr("metric", &"accuracy".into()).unwrap();
        let schema = Schema::new()
            .str("param_kernel", 32)
            .f64("param_C")
            .f64("param_degree")
            .f64("mean_test_score")
            .i64("rank_test_score");
        let nan = f64::NAN;
        let rows = [
            ("rbf", 1.0, nan, 0.8, 3),
            ("rbf", 10.0, nan, 0.9, 2),
            ("poly", 1.0, 2.0, nan, 5),
            ("poly", 10.0, 2.0, 0.95, 1),
            ("poly", 1.0, 3.0, 0.7, 4),
        ]
        .into_iter()
        .map(|(k, c, d, score, rank)| {
            vec![k.into(), c.into(), d.into(), score.into(), Value::I64(rank)]
        })
        .collect();
        file.write_table("cv_results", &Table { schema, rows })
            .unwrap();
        file
    }

    fn same_cells(got: &[Option<f64>], want: &[Option<f64>]) {
        let bits = |c: &[Option<f64>]| c.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
        assert_eq!(bits(got), bits(want), "{got:?}");
    }

    #[test]
    fn plot_heatmap_holds_other_parameters_at_the_best() {
        let dir = tempfile::tempdir().unwrap();
        let file = list_of_grids(dir.path());
        let map = Heatmap::from_file(&file, "g", &PlotOptions::default()).unwrap();
        // kernel across, C up; degree at the best's 2, which rbf (without degree) matches.
        assert_eq!((map.x_name.as_str(), map.y_name.as_str()), ("kernel", "C"));
        assert_eq!(map.x_labels, ["rbf", "poly"]);
        assert_eq!(map.y_labels, ["1.0", "10.0"]);
        same_cells(
            &map.cells,
            &[Some(0.8), Some(f64::NAN), Some(0.9), Some(0.95)],
        );
        assert_eq!(map.best, (1, 1));
        assert!(map.subtitle.contains("degree=2.0"), "{}", map.subtitle);
        assert!(map.subtitle.contains("grey: NaN"), "{}", map.subtitle);
        assert_eq!(
            map.title,
            "g: mean cross-validated accuracy by kernel and C"
        );

        let opts = PlotOptions {
            x: Some("C".into()),
            y: Some("param_degree".into()),
            ..PlotOptions::default()
        };
        let map = Heatmap::from_file(&file, "g", &opts).unwrap();
        // kernel at the best's poly: the rbf candidates drop out; (10, 3) was not searched.
        assert_eq!(map.x_labels, ["1.0", "10.0"]);
        assert_eq!(map.y_labels, ["2.0", "3.0"]);
        same_cells(&map.cells, &[Some(f64::NAN), Some(0.95), Some(0.7), None]);
        assert!(
            map.subtitle.contains("blank: no such candidate"),
            "{}",
            map.subtitle
        );
        let svg = dir.path().join("g.svg");
        figure::render(&map, &svg, "--out").unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().contains("NaN"));

        let bad = PlotOptions {
            y: Some("gamma".into()),
            ..PlotOptions::default()
        };
        let err = Heatmap::from_file(&file, "g", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("--y `gamma` is not a searched parameter; parameters: kernel, C, degree"),
            "{err}"
        );
    }

    /// With several metrics the refit metric's columns are drawn (scikit-learn's names).
    #[test]
    fn plot_heatmap_of_several_metrics_shows_the_refit_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = ResultFile::create(&dir.path().join("multi.h5")).unwrap();
        file.set_attr("metric", &"f1_macro".into()).unwrap();
        let schema = Schema::new()
            .f64("param_C")
            .f64("mean_test_accuracy")
            .i64("rank_test_accuracy")
            .f64("mean_test_f1_macro")
            .i64("rank_test_f1_macro");
        let row = |c: f64, accuracy: f64, f1: f64, [by_accuracy, by_f1]: [i64; 2]| {
            let ranks = (Value::I64(by_accuracy), Value::I64(by_f1));
            vec![c.into(), accuracy.into(), ranks.0, f1.into(), ranks.1]
        };
        let rows = vec![row(0.1, 0.9, 0.5, [1, 2]), row(1.0, 0.8, 0.7, [2, 1])];
        file.write_table("cv_results", &Table { schema, rows })
            .unwrap();
        let map = Heatmap::from_file(&file, "multi", &PlotOptions::default()).unwrap();
        same_cells(&map.cells, &[Some(0.5), Some(0.7)]);
        assert_eq!(map.best, (1, 0));
        assert_eq!(map.title, "multi: mean cross-validated f1_macro by C");
    }

    #[test]
    fn plot_heatmap_of_one_parameter_is_one_row() {
        let dir = tempfile::tempdir().unwrap();
        let file = ResultFile::create(&dir.path().join("one.h5")).unwrap();
        let schema = Schema::new()
            .f64("param_C")
            .f64("mean_test_score")
            .i64("rank_test_score");
        let rows = vec![
            vec![10.0.into(), 0.5.into(), Value::I64(2)],
            vec![0.1.into(), 0.75.into(), Value::I64(1)],
        ];
        file.write_table("cv_results", &Table { schema, rows })
            .unwrap();
        let map = Heatmap::from_file(&file, "one", &PlotOptions::default()).unwrap();
        assert_eq!(map.x_labels, ["0.1", "10.0"]);
        assert_eq!(map.y_labels, [""]);
        same_cells(&map.cells, &[Some(0.75), Some(0.5)]);
        assert_eq!(map.best, (0, 0));
        assert_eq!(map.title, "one: mean cross-validated score by C");
    }
}
