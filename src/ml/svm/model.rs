//! [`SvcModel`], a fitted SVC: support vectors and libsvm's one-vs-one coefficients, with
//! scikit-learn's views of them (`dual_coef`, `intercept`, binary sign flip), and prediction:
//! kernel values between blocks of four test rows and the support vectors only, then pairwise
//! decision values, votes, the 'ovr' aggregation and coupled probabilities.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::kernel::{dot, kernel_row, FeatureMajor, KernelSpec};
use super::params::{DecisionShape, SvmError};
use super::probability::{couple, sigmoid};

/// A fitted SVC. Serializes with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvcModel {
    pub(crate) classes: Vec<String>,
    pub(crate) fitted: Vec<usize>,
    pub(crate) spec: KernelSpec,
    pub(crate) shape: DecisionShape,
    pub(crate) n_features: usize,
    pub(crate) support: Vec<usize>,
    pub(crate) support_vectors: Array2<f64>,
    pub(crate) n_support: Vec<usize>,
    /// libsvm's sv_coef: row j − 1 holds the coefficients of class i's SVs in pair (i, j) and row
    /// i those of class j's SVs; values are α_t y_t with y = +1 for the pair's first class.
    pub(crate) sv_coef: Array2<f64>,
    /// libsvm's ρ per pair: raw decision = Σ coef K − ρ, > 0 favours the pair's first class.
    pub(crate) rho: Vec<f64>,
    pub(crate) prob_a: Option<Vec<f64>>,
    pub(crate) prob_b: Option<Vec<f64>>,
    pub(crate) n_iter: Vec<u64>,
    pub(crate) converged: bool,
}

impl SvcModel {
    /// The classes given to fit; `predict` returns indices into this list.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Indices (into `classes`) of the classes present in the training labels, ascending: the
    /// classes the model distinguishes (scikit-learn's `classes_`). Usually all of them.
    pub fn fitted_classes(&self) -> &[usize] {
        &self.fitted
    }

    /// The kernel, gamma resolved.
    pub fn kernel(&self) -> &KernelSpec {
        &self.spec
    }

    /// Training-row indices of the support vectors, grouped by class, ascending within a class
    /// (scikit-learn's `support_`).
    pub fn support_indices(&self) -> &[usize] {
        &self.support
    }

    /// The support vectors, one row each, in the order of `support_indices`.
    pub fn support_vectors(&self) -> ArrayView2<'_, f64> {
        self.support_vectors.view()
    }

    /// Number of support vectors per fitted class.
    pub fn n_support(&self) -> &[usize] {
        &self.n_support
    }

    /// scikit-learn's `dual_coef_`, shape (n_classes − 1, n_SV) (sign-flipped for two classes).
    pub fn dual_coef(&self) -> Array2<f64> {
        if self.fitted.len() == 2 {
            self.sv_coef.mapv(|v| -v)
        } else {
            self.sv_coef.clone()
        }
    }

    /// scikit-learn's `intercept_`, one per pair (sign-flipped for two classes).
    pub fn intercept(&self) -> Vec<f64> {
        if self.fitted.len() == 2 {
            self.rho.clone()
        } else {
            self.rho.iter().map(|r| -r).collect()
        }
    }

    /// Solver iterations per pair.
    pub fn n_iter(&self) -> &[u64] {
        &self.n_iter
    }

    /// False if some pair stopped at `max_iter` before reaching `tol`.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Whether `predict_proba` is available.
    pub fn has_probability(&self) -> bool {
        self.prob_a.is_some()
    }

    /// Platt coefficients (A, B) per pair, if fitted with probability.
    pub fn prob_ab(&self) -> Option<(&[f64], &[f64])> {
        Some((self.prob_a.as_deref()?, self.prob_b.as_deref()?))
    }

    /// libsvm's raw pairwise decision values, shape (n, n_pairs), pairs (i, j), i < j over the
    /// fitted classes; > 0 favours class i. (scikit-learn's 'ovo' output for > 2 classes.)
    pub fn decision_function_ovo(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, SvmError> {
        self.check(x)?;
        Ok(self.raw_decisions(x))
    }

    /// scikit-learn's `decision_function`: for two classes one column, > 0 meaning the second
    /// fitted class; otherwise 'ovr' (one column per class) or 'ovo' as the parameters chose.
    pub fn decision_function(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, SvmError> {
        self.check(x)?;
        let dec = self.raw_decisions(x);
        let k = self.fitted.len();
        if k == 2 {
            return Ok(dec.mapv(|v| -v));
        }
        if self.shape == DecisionShape::Ovo {
            return Ok(dec);
        }
        let mut out = Array2::zeros((x.nrows(), k));
        for (t, row) in dec.outer_iter().enumerate() {
            let mut votes = vec![0.0; k];
            let mut conf = vec![0.0; k];
            let mut p = 0;
            for i in 0..k {
                for j in i + 1..k {
                    conf[i] += row[p];
                    conf[j] -= row[p];
                    if row[p] < 0.0 {
                        votes[j] += 1.0;
                    } else {
                        votes[i] += 1.0;
                    }
                    p += 1;
                }
            }
            for c in 0..k {
                out[[t, c]] = votes[c] + conf[c] / (3.0 * (conf[c].abs() + 1.0));
            }
        }
        Ok(out)
    }

    /// Predicted class per row, as an index into `classes`: one-vs-one votes as libsvm (ties to
    /// the lowest class).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>, SvmError> {
        self.check(x)?;
        let dec = self.raw_decisions(x);
        let k = self.fitted.len();
        let mut out = Vec::with_capacity(x.nrows());
        let mut votes = vec![0usize; k];
        for row in dec.outer_iter() {
            votes.iter_mut().for_each(|v| *v = 0);
            let mut p = 0;
            for i in 0..k {
                for j in i + 1..k {
                    if row[p] > 0.0 {
                        votes[i] += 1;
                    } else {
                        votes[j] += 1;
                    }
                    p += 1;
                }
            }
            let mut best = 0;
            for c in 1..k {
                if votes[c] > votes[best] {
                    best = c;
                }
            }
            out.push(self.fitted[best]);
        }
        Ok(out)
    }

    /// Class probabilities, shape (n, n_fitted_classes), rows summing to 1.
    #[allow(clippy::needless_range_loop)]
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, SvmError> {
        let (a, b) = self.prob_ab().ok_or(SvmError::NoProbability)?;
        self.check(x)?;
        let dec = self.raw_decisions(x);
        let k = self.fitted.len();
        let mut out = Array2::zeros((x.nrows(), k));
        let mut r = vec![vec![0.0; k]; k];
        let mut p = vec![0.0; k];
        const MIN_PROB: f64 = 1e-7;
        for (t, row) in dec.outer_iter().enumerate() {
            let mut q = 0;
            for i in 0..k {
                for j in i + 1..k {
                    let v = sigmoid(row[q], a[q], b[q]).clamp(MIN_PROB, 1.0 - MIN_PROB);
                    r[i][j] = v;
                    r[j][i] = 1.0 - v;
                    q += 1;
                }
            }
            couple(k, &r, &mut p);
            for c in 0..k {
                out[[t, c]] = p[c];
            }
        }
        Ok(out)
    }

    fn check(&self, x: ArrayView2<f64>) -> Result<(), SvmError> {
        if x.ncols() != self.n_features {
            return Err(SvmError::Data(format!(
                "X has {} features, the model was fitted with {}",
                x.ncols(),
                self.n_features
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(SvmError::Data("X contains NaN or infinity".into()));
        }
        Ok(())
    }

    fn raw_decisions(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let k = self.fitted.len();
        let svs = FeatureMajor::from_rows(self.support_vectors.view(), None);
        let mut start = vec![0usize; k + 1];
        for c in 0..k {
            start[c + 1] = start[c] + self.n_support[c];
        }
        let groups = PairGroups {
            k,
            start: &start,
            coef: &self.sv_coef,
            rho: &self.rho,
        };
        decisions(&self.spec, &svs, &groups, x)
    }
}

/// The one-vs-one layout of support vectors and coefficients.
pub(crate) struct PairGroups<'a> {
    pub k: usize,
    pub start: &'a [usize],
    pub coef: &'a Array2<f64>,
    pub rho: &'a [f64],
}

/// Rows of `x` per piece when decision values are spread over the rank's threads: fixed, and
/// each row's values are computed alone, so any thread count gives the same values.
const DECISION_PIECE: usize = 16;

/// Raw pairwise decision values of the rows of `x`, shape (n, k(k−1)/2): for each row, its
/// kernel values against every support vector (one vectorised kernel row; the support vectors
/// stay in cache from row to row), then the pairwise sums. Pieces of rows go to the rank's
/// threads.
pub(crate) fn decisions(
    spec: &KernelSpec,
    svs: &FeatureMajor,
    g: &PairGroups,
    x: ArrayView2<f64>,
) -> Array2<f64> {
    let n = x.nrows();
    let n_pairs = g.k * (g.k - 1) / 2;
    let mut out = Array2::zeros((n, n_pairs));
    let coef: Vec<&[f64]> = g
        .coef
        .outer_iter()
        .map(|r| r.to_slice().expect("standard layout"))
        .collect();
    let rows = |first: usize, out: &mut [f64]| {
        let x = x.slice(ndarray::s![first..first + out.len() / n_pairs.max(1), ..]);
        decision_rows(spec, svs, g, &coef, x, out)
    };
    let flat = out.as_slice_mut().expect("standard layout");
    if crate::par::threads() > 1 && n >= 2 * DECISION_PIECE && n_pairs > 0 {
        use rayon::prelude::*;
        flat.par_chunks_mut(DECISION_PIECE * n_pairs)
            .enumerate()
            .for_each(|(i, piece)| rows(i * DECISION_PIECE, piece));
    } else if n_pairs > 0 {
        rows(0, flat);
    }
    out
}

/// The decision values of the rows of `x` into `out` (row-major, `n_pairs` per row).
fn decision_rows(
    spec: &KernelSpec,
    svs: &FeatureMajor,
    g: &PairGroups,
    coef: &[&[f64]],
    x: ArrayView2<f64>,
    out: &mut [f64],
) {
    let mut kv = vec![0.0; svs.n];
    let mut q = vec![0.0; x.ncols()];
    let mut o = 0;
    for row in x.outer_iter() {
        q.iter_mut().zip(row.iter()).for_each(|(o, v)| *o = *v);
        kernel_row(spec, &q, dot(&q, &q), svs, 0, svs.n, &mut kv);
        let mut p = 0;
        for i in 0..g.k {
            for j in i + 1..g.k {
                let (si, ei) = (g.start[i], g.start[i + 1]);
                let (sj, ej) = (g.start[j], g.start[j + 1]);
                let sum = dot_plain(&coef[j - 1][si..ei], &kv[si..ei])
                    + dot_plain(&coef[i][sj..ej], &kv[sj..ej]);
                out[o] = sum - g.rho[p];
                o += 1;
                p += 1;
            }
        }
    }
}

/// Σ a_s b_s with four partial sums.
fn dot_plain(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = a.len() / 4 * 4;
    for s in (0..chunks).step_by(4) {
        for l in 0..4 {
            acc[l] += a[s + l] * b[s + l];
        }
    }
    let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for s in chunks..a.len() {
        sum += a[s] * b[s];
    }
    sum
}
