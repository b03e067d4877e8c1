//! Reduction of block sums into a price estimate with its standard error, 95% interval and
//! variance reduction. Blocks are added in the order given (callers pass task-id order), so the
//! result is reproducible bit for bit whatever ranks produced the blocks.

use serde::{Deserialize, Serialize};

use super::params::{Estimator, Pricing};
use super::simulate::BlockSums;

/// Two-sided 95% normal quantile.
pub const Z95: f64 = 1.959963985;

/// A Monte Carlo price.
///
/// `variance_reduction` compares this estimator with plain Monte Carlo at equal numbers of
/// simulated paths: `(per-path variance of the plain payoff) / (effective per-path variance of this
/// estimator)`. Plain: 1. Antithetic: `var(single-path payoff) / (2 var(pair mean))`, since `n`
/// pairs use `2n` paths and the estimator's variance is `var(pair mean)/n` against
/// `var(payoff)/(2n)` for plain. Control variate: `var(Y) / var(Y - b X)`. Above 1 means fewer
/// paths for the same standard error.
///
/// With fewer than two samples the standard error is NaN; with no samples every value is NaN.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub price: f64,
    pub std_error: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub paths: u64,
    pub variance_reduction: f64,
    /// Mean of the last simulated price over all paths.
    pub mean_terminal: f64,
    /// Standard error of `mean_terminal`, treating paths as independent (conservative under
    /// `antithetic`, whose pairs are negatively correlated).
    pub terminal_std_error: f64,
}

/// Rounding can push a difference of sums slightly below zero; NaN stays NaN.
fn non_negative(v: f64) -> f64 {
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

/// Sample variance from a count, a sum and a sum of squares (NaN below two samples).
fn sample_var(n: f64, sum: f64, sum2: f64) -> f64 {
    if n < 2.0 {
        return f64::NAN;
    }
    non_negative((sum2 - sum * sum / n) / (n - 1.0))
}

/// `a / b` for variances: 1 when both are 0 (nothing to reduce).
fn ratio(a: f64, b: f64) -> f64 {
    if a == 0.0 && b == 0.0 {
        1.0
    } else {
        a / b
    }
}

/// Sums `blocks` in the order given and estimates the price of `p`.
pub fn reduce(p: &Pricing, blocks: &[BlockSums]) -> Estimate {
    let mut t = BlockSums::default();
    for b in blocks {
        t.add(b);
    }
    estimate(p, &t)
}

/// The estimate from already-summed block sums.
pub fn estimate(p: &Pricing, t: &BlockSums) -> Estimate {
    let n = t.n as f64;
    let np = t.paths as f64;
    let mean_y = t.sum_y / n;
    let var_plain = sample_var(np, t.sum_plain, t.sum_plain2);
    let (price, var_sample, variance_reduction) = match p.estimator {
        Estimator::Plain => (mean_y, sample_var(n, t.sum_y, t.sum_y2), 1.0),
        Estimator::Antithetic => {
            let var_pair = sample_var(n, t.sum_y, t.sum_y2);
            (mean_y, var_pair, ratio(var_plain, 2.0 * var_pair))
        }
        Estimator::ControlVariate => {
            let ex = p
                .control_mean()
                .expect("Pricing::new admits control_variate only with a closed-form control");
            let mean_x = t.sum_x / n;
            let sxx = non_negative(t.sum_x2 - t.sum_x * mean_x);
            let sxy = t.sum_xy - t.sum_x * mean_y;
            let syy = non_negative(t.sum_y2 - t.sum_y * mean_y);
            let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            // Residual variance of Y - bX with b estimated (n - 2 degrees of freedom).
            let var_res = if n < 3.0 {
                f64::NAN
            } else {
                non_negative((syy - b * sxy) / (n - 2.0))
            };
            let var_y = syy / (n - 1.0);
            (mean_y - b * (mean_x - ex), var_res, ratio(var_y, var_res))
        }
    };
    let std_error = (var_sample / n).sqrt();
    let mean_terminal = t.sum_terminal / np;
    let terminal_std_error = (sample_var(np, t.sum_terminal, t.sum_terminal2) / np).sqrt();
    Estimate {
        price,
        std_error,
        ci_low: price - Z95 * std_error,
        ci_high: price + Z95 * std_error,
        paths: t.paths,
        variance_reduction,
        mean_terminal,
        terminal_std_error,
    }
}
