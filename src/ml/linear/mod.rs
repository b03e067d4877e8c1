//! L2-penalised logistic regression as scikit-learn's `LogisticRegression(solver="lbfgs")` fits
//! it: minimise C · Σ log-loss + ½‖W‖² (intercepts not penalised), as scikit-learn scaled by
//! 1/(C·n) so that `tol` has its meaning (stop when max |gradient| <= tol); one weight vector
//! for two classes, a softmax (multinomial) model for more; L-BFGS (`lbfgs`) from zero. Not
//! converging within `max_iter` is a warning carried by the model, as in scikit-learn.

mod kernels;
pub mod lbfgs;
#[cfg(test)]
mod tests;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::ml::Dataset;

/// A parameter refused, or data a fit cannot use; the message names the parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogisticError {
    #[error("LogisticRegression: C must be a finite number > 0, got {0}")]
    C(f64),
    #[error("LogisticRegression: tol must be a finite number > 0, got {0}")]
    Tol(f64),
    #[error("LogisticRegression: max_iter must be at least 1, got {0}")]
    MaxIter(usize),
    #[error("LogisticRegression: x has {rows} rows but y has {labels} labels")]
    Length { rows: usize, labels: usize },
    #[error("LogisticRegression: x has no rows or no columns (shape {rows} × {cols})")]
    Empty { rows: usize, cols: usize },
    #[error(
        "LogisticRegression: needs samples of at least 2 classes in the data; got {0} class(es)"
    )]
    OneClass(usize),
    #[error("LogisticRegression: x[{row}, {col}] is not finite")]
    NotFinite { row: usize, col: usize },
}

/// The estimator's parameters (scikit-learn's names and defaults: `C=1.0`, `max_iter=100`,
/// `tol=1e-4`; a missing one takes its default when deserialised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticRegression {
    #[serde(rename = "C", alias = "c")]
    pub c: f64,
    pub max_iter: usize,
    pub tol: f64,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression {
            c: 1.0,
            max_iter: 100,
            tol: 1e-4,
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    params: LogisticRegression,
    /// The labels (indices into the data's classes) seen in training, ascending; the model's
    /// outputs refer to these.
    classes: Vec<usize>,
    /// 1 × d for two classes (the weights of `classes[1]`), else K × d.
    coef: Array2<f64>,
    intercept: Array1<f64>,
    n_iter: usize,
    warning: Option<String>,
}

impl LogisticRegression {
    /// The model with these parameters, checked.
    pub fn new(c: f64, max_iter: usize, tol: f64) -> Result<Self, LogisticError> {
        let p = LogisticRegression { c, max_iter, tol };
        p.validate()?;
        Ok(p)
    }

    /// Refuses C <= 0, tol <= 0 (or either not finite) and max_iter = 0.
    pub fn validate(&self) -> Result<(), LogisticError> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(LogisticError::C(self.c));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(LogisticError::Tol(self.tol));
        }
        if self.max_iter < 1 {
            return Err(LogisticError::MaxIter(self.max_iter));
        }
        Ok(())
    }

    /// Fits on a dataset's rows and labels.
    pub fn fit_dataset(&self, data: &Dataset) -> Result<LogisticModel, LogisticError> {
        self.fit(data.x.view(), &data.y)
    }

    /// Fits on rows `x` with labels `y` (any class indices; those present are the model's
    /// classes).
    pub fn fit(&self, x: ArrayView2<f64>, y: &[usize]) -> Result<LogisticModel, LogisticError> {
        self.validate()?;
        let (n, d) = x.dim();
        if n != y.len() {
            return Err(LogisticError::Length {
                rows: n,
                labels: y.len(),
            });
        }
        if n == 0 || d == 0 {
            return Err(LogisticError::Empty { rows: n, cols: d });
        }
        if let Some(k) = x.iter().position(|v| !v.is_finite()) {
            return Err(LogisticError::NotFinite {
                row: k / d,
                col: k % d,
            });
        }
        let mut classes = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        if classes.len() < 2 {
            return Err(LogisticError::OneClass(classes.len()));
        }
        let max_label = *classes.last().expect("two classes");
        let mut code = vec![usize::MAX; max_label + 1];
        for (i, &c) in classes.iter().enumerate() {
            code[c] = i;
        }
        let encoded: Vec<usize> = y.iter().map(|&c| code[c]).collect();

        // one output for two classes, K outputs (softmax) for more
        let outputs = if classes.len() == 2 { 1 } else { classes.len() };
        let x = x.as_standard_layout();
        let x = x.as_slice().expect("standard layout is contiguous");
        let mut problem = Problem::new(x, n, d, &encoded, outputs, 1.0 / (self.c * n as f64));
        let opts = lbfgs::Options {
            memory: 10,
            max_iter: self.max_iter,
            max_fun: 15000,
            gtol: self.tol,
            ftol: 64.0 * f64::EPSILON,
            max_ls: 50,
        };
        let out = lbfgs::minimize(
            |w, g| problem.loss_gradient(w, g),
            vec![0.0; outputs * (d + 1)],
            &opts,
        );
        let coef = Array2::from_shape_vec((outputs, d), out.x[..outputs * d].to_vec())
            .expect("coef has outputs × d values");
        let intercept = Array1::from(out.x[outputs * d..].to_vec());
        let warning = (!out.status.converged()).then(|| {
            format!(
                "lbfgs failed to converge after {} iteration(s) ({}; max |gradient| {:.3e} > \
                 tol {:.1e}): increase max_iter or scale the data",
                out.n_iter,
                match out.status {
                    lbfgs::Status::MaxIterations => "max_iter reached",
                    lbfgs::Status::MaxEvaluations => "too many function evaluations",
                    _ => "the line search failed",
                },
                out.max_abs_grad,
                self.tol
            )
        });
        Ok(LogisticModel {
            params: *self,
            classes,
            coef,
            intercept,
            n_iter: out.n_iter,
            warning,
        })
    }
}

/// The penalised mean log-loss and its gradient over a flat parameter vector
/// `[W (outputs × d, row-major), b (outputs)]`, as scikit-learn's `LinearModelLoss`:
/// mean(loss_i) + ½·l2·‖W‖² with l2 = 1/(C·n). Outputs are padded to a multiple of 4 columns
/// for the matrix kernels; the padding columns of the weights and pointwise gradients are zero.
struct Problem<'a> {
    /// n × d, row-major
    x: &'a [f64],
    n: usize,
    d: usize,
    y: &'a [usize],
    outputs: usize,
    /// outputs rounded up to a multiple of 4
    width: usize,
    l2: f64,
    /// d × width: Wᵀ, zero-padded
    wt: Vec<f64>,
    /// n × width: raw predictions, then the pointwise gradients dloss/draw
    raw: Vec<f64>,
    /// d × width: Xᵀ G
    gwt: Vec<f64>,
}

impl<'a> Problem<'a> {
    fn new(x: &'a [f64], n: usize, d: usize, y: &'a [usize], outputs: usize, l2: f64) -> Self {
        let width = outputs.div_ceil(4) * 4;
        Problem {
            x,
            n,
            d,
            y,
            outputs,
            width,
            l2,
            wt: vec![0.0; d * width],
            raw: vec![0.0; n * width],
            gwt: vec![0.0; d * width],
        }
    }

    fn loss_gradient(&mut self, w: &[f64], grad: &mut [f64]) -> f64 {
        let (n, d, m, width) = (self.n, self.d, self.outputs, self.width);
        let (coef, bias) = w.split_at(m * d);
        for k in 0..m {
            for j in 0..d {
                self.wt[j * width + k] = coef[k * d + j];
            }
        }
        let x = kernels::Strided {
            data: self.x,
            row_stride: d,
            inner_stride: 1,
        };
        kernels::gemm(n, d, x, &self.wt, width, &mut self.raw);

        let mut loss = 0.0;
        if m == 1 {
            for (row, &yi) in self.raw.chunks_exact_mut(width).zip(self.y) {
                let z = row[0] + bias[0];
                let t = yi as f64;
                // log(1 + exp(z)) - t z, and sigmoid(z) - t, without overflow
                let e = (-z.abs()).exp();
                let softplus = z.max(0.0) + e.ln_1p();
                let p = if z >= 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                };
                loss += softplus - t * z;
                row[0] = p - t;
            }
        } else {
            // shift each row by its maximum, exponentiate everything at once, normalise
            for (row, &yi) in self.raw.chunks_exact_mut(width).zip(self.y) {
                let mut max = f64::NEG_INFINITY;
                for (r, b) in row[..m].iter_mut().zip(bias) {
                    *r += b;
                    max = max.max(*r);
                }
                loss += max - row[yi];
                for r in row[..m].iter_mut() {
                    *r -= max;
                }
            }
            kernels::exp_inplace(&mut self.raw);
            let mut log_prod = 1.0f64;
            let mut log_sum = 0.0;
            for (row, &yi) in self.raw.chunks_exact_mut(width).zip(self.y) {
                let sum: f64 = row[..m].iter().sum();
                // Σ ln(sum_i) as ln of products, in batches that cannot overflow (1 <= sum <= m)
                log_prod *= sum;
                if log_prod > 1e250 {
                    log_sum += log_prod.ln();
                    log_prod = 1.0;
                }
                let inv = 1.0 / sum;
                for r in row[..m].iter_mut() {
                    *r *= inv;
                }
                row[m..].fill(0.0);
                row[yi] -= 1.0;
            }
            loss += log_sum + log_prod.ln();
        }
        let inv_n = 1.0 / n as f64;

        // gradient: Gᵀ X / n + l2 W, and column sums of G / n for the intercepts
        let xt = kernels::Strided {
            data: self.x,
            row_stride: 1,
            inner_stride: d,
        };
        kernels::gemm(d, n, xt, &self.raw, width, &mut self.gwt);
        let (gw, gb) = grad.split_at_mut(m * d);
        for k in 0..m {
            for j in 0..d {
                gw[k * d + j] = self.gwt[j * width + k] * inv_n + self.l2 * coef[k * d + j];
            }
        }
        gb.fill(0.0);
        for row in self.raw.chunks_exact(width) {
            for (g, r) in gb.iter_mut().zip(row) {
                *g += r;
            }
        }
        for g in gb.iter_mut() {
            *g *= inv_n;
        }
        let penalty: f64 = coef.iter().map(|v| v * v).sum();
        loss * inv_n + 0.5 * self.l2 * penalty
    }
}

impl LogisticModel {
    /// The parameters it was fitted with.
    pub fn params(&self) -> &LogisticRegression {
        &self.params
    }

    /// The labels seen in training (ascending); `predict_proba` columns follow this order.
    pub fn classes(&self) -> &[usize] {
        &self.classes
    }

    /// Weights: 1 × d for two classes (those of `classes()[1]`), else K × d (scikit-learn's
    /// `coef_`).
    pub fn coef(&self) -> ArrayView2<'_, f64> {
        self.coef.view()
    }

    /// Intercepts: 1 for two classes, else K (scikit-learn's `intercept_`).
    pub fn intercept(&self) -> ArrayView1<'_, f64> {
        self.intercept.view()
    }

    /// L-BFGS iterations run (scikit-learn's `n_iter_`).
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Whether the solver met its tolerance within `max_iter`.
    pub fn converged(&self) -> bool {
        self.warning.is_none()
    }

    /// scikit-learn's ConvergenceWarning, when the fit did not converge.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// X W' + b: n × 1 for two classes, else n × K (scikit-learn's `decision_function`, whose
    /// binary form is this single column).
    pub fn decision_function(&self, x: ArrayView2<f64>) -> Array2<f64> {
        assert_eq!(
            x.ncols(),
            self.coef.ncols(),
            "LogisticModel: x has {} features, the model was fitted on {}",
            x.ncols(),
            self.coef.ncols()
        );
        let mut raw = x.dot(&self.coef.t());
        raw += &self.intercept;
        raw
    }

    /// Probabilities, n × (number of classes), columns in `classes()` order.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let raw = self.decision_function(x);
        if self.classes.len() == 2 {
            let mut p = Array2::zeros((raw.nrows(), 2));
            for (mut row, z) in p.rows_mut().into_iter().zip(raw.column(0)) {
                let p1 = if *z >= 0.0 {
                    1.0 / (1.0 + (-z).exp())
                } else {
                    let e = z.exp();
                    e / (1.0 + e)
                };
                row[0] = 1.0 - p1;
                row[1] = p1;
            }
            p
        } else {
            let mut p = raw;
            for mut row in p.axis_iter_mut(Axis(0)) {
                let max = row.fold(f64::NEG_INFINITY, |m, v| m.max(*v));
                row.mapv_inplace(|v| (v - max).exp());
                let sum = row.sum();
                row.mapv_inplace(|v| v / sum);
            }
            p
        }
    }

    /// The most probable class of each row (a label from `classes()`; ties go to the first).
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<usize> {
        let raw = self.decision_function(x);
        raw.rows()
            .into_iter()
            .map(|row| {
                if self.classes.len() == 2 {
                    self.classes[usize::from(row[0] > 0.0)]
                } else {
                    let mut best = 0;
                    for (k, v) in row.iter().enumerate() {
                        if *v > row[best] {
                            best = k;
                        }
                    }
                    self.classes[best]
                }
            })
            .collect()
    }
}
