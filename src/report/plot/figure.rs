//! What every chart shares: the output format told by the file extension, the size, the text
//! font, the two-line header, and drawing one figure onto an SVG or a PNG backend.
//!
//! Text goes through plotters' `ttf` engine: fontconfig picks the sans-serif font and FreeType
//! draws it into PNGs (scripts/setup installs libfontconfig1-dev, libfreetype-dev and
//! fonts-dejavu-core). In an SVG the text stays text, drawn by the browser; the font only
//! measures it for the layout.

use std::path::Path;

use anyhow::Context;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordi32;
use plotters::coord::Shift;
use plotters::element::ComposedElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::PlotError;

/// Width and height of every figure, in pixels (PNG) or SVG user units.
pub const FIGURE_SIZE: (u32, u32) = (1200, 700);

/// plotters' name of the default sans-serif family, which fontconfig resolves (to DejaVu Sans
/// on Debian and Raspberry Pi OS).
const FAMILY: &str = "sans-serif";

pub const TITLE_SIZE: u32 = 26;
pub const SUBTITLE_SIZE: u32 = 17;
pub const AXIS_DESC_SIZE: u32 = 20;
pub const LABEL_SIZE: u32 = 16;

/// The file formats a figure can be written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The format named by `path`'s extension (case-insensitive); `flag` names the option that
    /// gave the path, for the error.
    pub fn of(path: &Path, flag: &'static str) -> Result<Format, PlotError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "svg" => Ok(Format::Svg),
            "png" => Ok(Format::Png),
            _ => Err(PlotError::Format {
                flag,
                path: path.to_path_buf(),
            }),
        }
    }
}

/// A chart that draws itself onto any plotters backend.
pub trait Figure {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws `figure` into `path` as SVG or PNG (by its extension) of [`FIGURE_SIZE`].
pub fn render(figure: &impl Figure, path: &Path, flag: &'static str) -> anyhow::Result<()> {
    let format = Format::of(path, flag)?;
    check_font()?;
    let context = || format!("writing the plot {}", path.display());
    match format {
        Format::Svg => {
            let area = SVGBackend::new(path, FIGURE_SIZE).into_drawing_area();
            figure.draw(&area).with_context(context)?;
            area.present().with_context(context)
        }
        Format::Png => {
            let area = BitMapBackend::new(path, FIGURE_SIZE).into_drawing_area();
            figure.draw(&area).with_context(context)?;
            area.present().with_context(context)
        }
    }
}

/// A one-line error unless fontconfig finds a sans-serif font, which plotters needs to measure
/// text (SVG) and to draw it (PNG).
fn check_font() -> Result<(), PlotError> {
    FontDesc::new(FontFamily::SansSerif, LABEL_SIZE.into(), FontStyle::Normal)
        .box_size("0")
        .map(drop)
        .map_err(|e| PlotError::NoFont {
            reason: e.to_string(),
        })
}

/// Fills the figure white, writes a title and a smaller grey subtitle on top (each shrunk to
/// the figure's width if need be), and returns the area below them.
pub fn header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> anyhow::Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE)?;
    let (width, _) = area.dim_in_pixel();
    let grey = RGBColor(70, 70, 70);
    let mut y = 10;
    for (text, size, colour) in [
        (title, TITLE_SIZE, &BLACK),
        (subtitle, SUBTITLE_SIZE, &grey),
    ] {
        let style = |size: u32| {
            TextStyle::from((FAMILY, size).into_font())
                .color(colour)
                .pos(Pos::new(HPos::Center, VPos::Top))
        };
        let mut size = size;
        while size > 10 && area.estimate_text_size(text, &style(size))?.0 + 20 > width {
            size -= 1;
        }
        area.draw(&Text::new(text, (width as i32 / 2, y), style(size)))?;
        y += size as i32 + 8;
    }
    let (_, rest) = area.split_vertically(28 + TITLE_SIZE + SUBTITLE_SIZE);
    Ok(rest)
}

/// Axis description style.
pub fn axis_font() -> TextStyle<'static> {
    (FAMILY, AXIS_DESC_SIZE).into_font().into()
}

/// Tick label style.
pub fn label_font() -> TextStyle<'static> {
    (FAMILY, LABEL_SIZE).into_font().into()
}

/// Width of one category on a categorical axis, in axis units. Plotters formats tick labels of
/// integer axes with custom key points (not of float ones), so category `i` spans
/// `CELL * i..CELL * (i + 1)` with its tick and label at the centre.
pub const CELL: i32 = 10;

/// A categorical axis of `n` categories.
pub fn categories(n: usize) -> WithKeyPoints<RangedCoordi32> {
    let n = n.max(1) as i32;
    let centres = (0..n).map(|i| CELL * i + CELL / 2).collect();
    (0..CELL * n).with_key_points(centres)
}

/// The label of the category whose cell holds `v`.
pub fn category_label(labels: &[String], v: i32) -> String {
    labels.get((v / CELL) as usize).cloned().unwrap_or_default()
}

/// Decimals that tell apart the ticks of an axis spanning `range` (about ten ticks).
pub fn decimals(range: f64) -> usize {
    match range > 0.0 && range.is_finite() {
        true => (-(range / 10.0).log10()).ceil().max(0.0) as usize,
        false => 3,
    }
}

/// Two short strokes side by side, drawn relative to a legend entry's position.
type Dashes<DB> = ComposedElement<(i32, i32), DB, PathElement<(i32, i32)>, PathElement<(i32, i32)>>;

/// A dashed line's legend mark.
pub fn dashed_mark<DB: DrawingBackend>(at: (i32, i32), style: ShapeStyle) -> Dashes<DB> {
    EmptyElement::at(at)
        + PathElement::new([(0, 0), (9, 0)], style)
        + PathElement::new([(15, 0), (24, 0)], style)
}

/// An integer with thousands separated by commas (`400,000`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plot_format_from_extension() {
        assert_eq!(
            Format::of(Path::new("a/b.SVG"), "--out").unwrap(),
            Format::Svg
        );
        assert_eq!(
            Format::of(Path::new("b.png"), "--out").unwrap(),
            Format::Png
        );
        let err = Format::of(Path::new("b.pdf"), "--plot")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--plot b.pdf: unsupported plot format `.pdf`; use a .svg or .png file name"
        );
        let err = Format::of(Path::new("plot"), "--out")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no extension"), "{err}");
    }

    #[test]
    fn plot_tick_decimals() {
        assert_eq!(decimals(1.1), 1);
        assert_eq!(decimals(0.42), 2);
        assert_eq!(decimals(0.3), 2);
        assert_eq!(decimals(100.0), 0);
        assert_eq!(decimals(0.0), 3);
    }

    #[test]
    fn plot_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5_000), "5,000");
        assert_eq!(thousands(400_000), "400,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
