//! Classification metrics as scikit-learn defines them: accuracy, balanced accuracy, macro F1,
//! log loss (from predicted probabilities) and the confusion matrix. Labels are class indices
//! (`Dataset::y`); where scikit-learn uses "the labels present in y_true or y_pred", so do these.

#[cfg(test)]
mod tests;

use ndarray::{Array2, ArrayView2};

/// Fraction of exact matches (`accuracy_score`). NaN for empty input.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> f64 {
    assert_eq!(y_true.len(), y_pred.len(), "y_true and y_pred lengths");
    let hits = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
    hits as f64 / y_true.len() as f64
}

/// Counts `[true class, predicted class]` over classes `0..n_classes` (`confusion_matrix` with
/// `labels=range(n_classes)`). Panics on a label >= `n_classes`.
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Array2<u64> {
    assert_eq!(y_true.len(), y_pred.len(), "y_true and y_pred lengths");
    let mut m = Array2::zeros((n_classes, n_classes));
    for (&t, &p) in y_true.iter().zip(y_pred) {
        m[[t, p]] += 1;
    }
    m
}

/// The confusion matrix over every label up to the largest seen, and which labels are present
/// in either vector (scikit-learn's default label set).
fn confusion_present(y_true: &[usize], y_pred: &[usize]) -> (Array2<u64>, Vec<usize>) {
    let n = y_true.iter().chain(y_pred).max().map_or(0, |m| m + 1);
    let m = confusion_matrix(y_true, y_pred, n);
    let present = (0..n)
        .filter(|&c| m.row(c).sum() > 0 || m.column(c).sum() > 0)
        .collect();
    (m, present)
}

/// Mean recall over the classes present in `y_true` (`balanced_accuracy_score`; a class only
/// predicted, never true, does not count).
pub fn balanced_accuracy(y_true: &[usize], y_pred: &[usize]) -> f64 {
    let (m, present) = confusion_present(y_true, y_pred);
    let recalls: Vec<f64> = present
        .iter()
        .filter(|&&c| m.row(c).sum() > 0)
        .map(|&c| m[[c, c]] as f64 / m.row(c).sum() as f64)
        .collect();
    recalls.iter().sum::<f64>() / recalls.len() as f64
}

/// Unweighted mean over the labels present in `y_true` or `y_pred` of F1 = 2TP / (2TP + FP + FN)
/// (`f1_score(average="macro")`, `zero_division` 0).
pub fn f1_macro(y_true: &[usize], y_pred: &[usize]) -> f64 {
    let (m, present) = confusion_present(y_true, y_pred);
    let f1: Vec<f64> = present
        .iter()
        .map(|&c| {
            let tp = m[[c, c]] as f64;
            let fn_ = m.row(c).sum() as f64 - tp;
            let fp = m.column(c).sum() as f64 - tp;
            let denominator = 2.0 * tp + fp + fn_;
            if denominator > 0.0 {
                2.0 * tp / denominator
            } else {
                0.0
            }
        })
        .collect();
    f1.iter().sum::<f64>() / f1.len() as f64
}

/// Mean negative log-likelihood of the true classes (`log_loss` with `labels` = the probability
/// columns): `proba[i, c]` is the predicted probability of class `c` for sample `i`, clipped to
/// `[eps, 1 - eps]` (f64 machine epsilon) as scikit-learn does.
pub fn log_loss(y_true: &[usize], proba: ArrayView2<f64>) -> f64 {
    assert_eq!(y_true.len(), proba.nrows(), "y_true and proba rows");
    let eps = f64::EPSILON;
    let total: f64 = y_true
        .iter()
        .enumerate()
        .map(|(i, &c)| -proba[[i, c]].clamp(eps, 1.0 - eps).ln())
        .sum();
    total / y_true.len() as f64
}
