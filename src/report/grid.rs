//! Text grids in the style of pandas' `print(df)`: an index column, column names as headers,
//! numbers right-aligned and formatted per column as pandas does (6 decimals with trailing zeros
//! trimmed alike down the column, scientific notation when a column holds tiny or huge values),
//! booleans right-aligned, strings left-aligned. Wide tables are never truncated.

use crate::results::{ColumnType, Table, Value};

/// pandas' `display.precision`.
const DIGITS: usize = 6;

/// Renders the rows `indices` of `table`, each labelled with its index.
pub fn render(table: &Table, indices: &[usize]) -> String {
    let mut lines: Vec<String> = vec![String::new(); indices.len() + 1];

    // Index column: labels left-aligned, no header.
    let labels: Vec<String> = indices.iter().map(ToString::to_string).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    lines[0] = " ".repeat(width);
    for (line, label) in lines[1..].iter_mut().zip(&labels) {
        *line = format!("{label:<width$}");
    }

    for (c, column) in table.schema.columns.iter().enumerate() {
        let values: Vec<&Value> = indices.iter().map(|&r| &table.rows[r][c]).collect();
        let header = column.name.as_str();
        if let ColumnType::Str(_) = column.ty {
            // " value" left-aligned; the header lines up with the values.
            let cells: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            let width = cells
                .iter()
                .map(|s| s.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0);
            push_cell(&mut lines[0], &format!(" {}", pad_right(header, width)));
            for (line, cell) in lines[1..].iter_mut().zip(&cells) {
                push_cell(line, &format!(" {}", pad_right(cell, width)));
            }
        } else {
            // Numbers carry pandas' sign space (" 1", "-1"), as does their header; all
            // right-aligned.
            let cells =
                if column.ty == ColumnType::F64 && values.iter().all(|v| v.as_f64().is_some()) {
                    let xs: Vec<f64> = values.iter().map(|v| v.as_f64().unwrap()).collect();
                    format_floats(&xs)
                } else {
                    values.iter().map(|v| format_other(v)).collect()
                };
            let header = format!(" {header}");
            let width = cells
                .iter()
                .map(|s| s.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0);
            push_cell(&mut lines[0], &pad_left(&header, width));
            for (line, cell) in lines[1..].iter_mut().zip(&cells) {
                push_cell(line, &pad_left(cell, width));
            }
        }
    }

    let mut out = String::new();
    for line in lines {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn push_cell(line: &mut String, cell: &str) {
    line.push(' ');
    line.push_str(cell);
}

fn pad_left(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{}{s}", " ".repeat(width.saturating_sub(n)))
}

fn pad_right(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

/// An integer as pandas prints it (`f"{x: d}"`), or anything else as text (booleans right-aligned
/// as `True`/`False`, as pandas prints a bool column).
fn format_other(v: &Value) -> String {
    match v {
        Value::I64(i) if *i >= 0 => format!(" {i}"),
        Value::I64(i) => i.to_string(),
        Value::F64(x) => format_floats(&[*x]).remove(0),
        Value::Str(s) => format!(" {s}"),
        Value::Bool(_) => format!(" {v}"),
    }
}

/// A float column as pandas formats it: `f"{x: .6f}"` for every value, then trailing zeros
/// trimmed from all of them while they all end in 0 (keeping one decimal); or `f"{x: .6e}"` if
/// a value is nonzero but below 1e-6 in magnitude, or if some value exceeds 1e6 and the fixed
/// form runs longer than 12 characters. NaN prints as `NaN`.
pub fn format_floats(xs: &[f64]) -> Vec<String> {
    let fixed = trim_zeros(xs.iter().map(|&x| fixed(x)).collect());
    let too_long = fixed.iter().map(String::len).max().unwrap_or(0) > DIGITS + 6;
    let has_large = xs.iter().any(|x| x.abs() > 1e6);
    let has_small = xs
        .iter()
        .any(|x| x.abs() < 10f64.powi(-(DIGITS as i32)) && x.abs() > 0.0);
    if has_small || (too_long && has_large) {
        xs.iter().map(|&x| scientific(x)).collect()
    } else {
        fixed
    }
}

fn special(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("NaN".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { " inf" } else { "-inf" }.into())
    } else {
        None
    }
}

fn sign_space(s: String) -> String {
    if s.starts_with('-') {
        s
    } else {
        format!(" {s}")
    }
}

fn fixed(x: f64) -> String {
    special(x).unwrap_or_else(|| sign_space(format!("{x:.DIGITS$}")))
}

/// Python's `f"{x: .6e}"`: a two-digit (at least) signed exponent.
fn scientific(x: f64) -> String {
    if let Some(s) = special(x) {
        return s;
    }
    let s = format!("{x:.DIGITS$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    sign_space(format!("{mantissa}e{sign}{:02}", exp.abs()))
}

/// A plain decimal like " 12.50" or "-0.1" (not NaN, inf or scientific).
fn is_decimal(s: &str) -> bool {
    let s = s.trim_start();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    match s.split_once('.') {
        Some((int, frac)) => {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// pandas' `_trim_zeros_float`.
fn trim_zeros(mut values: Vec<String>) -> Vec<String> {
    loop {
        let mut numbers = values.iter().filter(|s| is_decimal(s)).peekable();
        if numbers.peek().is_none() || !numbers.all(|s| s.ends_with('0')) {
            break;
        }
        for s in values.iter_mut().filter(|s| is_decimal(s)) {
            s.pop();
        }
    }
    for s in values.iter_mut() {
        if is_decimal(s) && s.ends_with('.') {
            s.push('0');
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(xs: &[f64]) -> Vec<String> {
        format_floats(xs)
    }

    #[test]
    fn report_floats_like_pandas() {
        assert_eq!(f(&[0.81955, 450.046474]), [" 0.819550", " 450.046474"]);
        assert_eq!(f(&[0.5, 1.25]), [" 0.50", " 1.25"]);
        assert_eq!(f(&[1.0, 2.0]), [" 1.0", " 2.0"]);
        assert_eq!(f(&[10.0, -20.0]), [" 10.0", "-20.0"]);
        assert_eq!(f(&[1.2e-5]), [" 0.000012"]);
        assert_eq!(f(&[1.2e-7, 1.0]), [" 1.200000e-07", " 1.000000e+00"]);
        assert_eq!(f(&[1e7, 0.123456]), [" 1.000000e+07", " 1.234560e-01"]);
        assert_eq!(f(&[1234567.5]), [" 1234567.5"]);
        assert_eq!(f(&[f64::NAN, 0.5]), ["NaN", " 0.5"]);
        assert_eq!(f(&[f64::NAN]), ["NaN"]);
        assert_eq!(
            f(&[f64::INFINITY, f64::NEG_INFINITY, 0.0]),
            [" inf", "-inf", " 0.0"]
        );
        assert_eq!(f(&[1e300, 0.5]), [" 1.000000e+300", " 5.000000e-01"]);
    }
}
