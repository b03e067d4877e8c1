//! The digits data (1797 8×8 images, pixel values 0–16, classes 0–9), identical to
//! scikit-learn's `load_digits()`: taken from smartcore's copy, which the reference test checks
//! against a SHA-256 of scikit-learn's array.

use ndarray::Array2;

use super::Dataset;

/// scikit-learn's `load_digits()`: x is 1797 × 64 (row-major 8×8 images, values 0–16), classes
/// `"0"`..`"9"` so that `y[i]` is the digit itself.
pub fn digits() -> Dataset {
    let raw = smartcore::dataset::digits::load_dataset();
    let (n, d) = (raw.num_samples, raw.num_features);
    let x = Array2::from_shape_vec((n, d), raw.data.iter().map(|&v| f64::from(v)).collect())
        .expect("smartcore's digits are n × d");
    let y = raw.target.iter().map(|&t| t as usize).collect();
    Dataset {
        x,
        y,
        classes: (0..10).map(|c| c.to_string()).collect(),
    }
}
