//! scikit-learn's `make_classification`, the same algorithm and parameters drawn from our own
//! random stream (the same distribution, not numpy's numbers): Gaussian clusters at distinct
//! vertices of a hypercube with side `2 * class_sep`, each given a random covariance through a
//! uniform [-1, 1] matrix A; redundant features as random linear combinations of the informative
//! ones; repeated copies; pure-noise features; `flip_y` random labels; shift and scale; then rows
//! and columns shuffled.

use std::collections::HashSet;

use ndarray::{s, Array1, Array2, Axis};
use rand::seq::SliceRandom;
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::rng::{task_rng, TaskRng};

/// The stream id `make_classification` draws from under `random_state`.
const STREAM: u64 = 0x6d61_6b65_5f63_6c66; // "make_clf"

/// Parameters of [`make_classification`], with scikit-learn's names, meanings and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MakeClassification {
    pub n_samples: usize,
    pub n_features: usize,
    pub n_informative: usize,
    pub n_redundant: usize,
    pub n_repeated: usize,
    pub n_classes: usize,
    pub n_clusters_per_class: usize,
    /// Class proportions, `n_classes` of them or `n_classes - 1` (the last is then 1 - sum).
    /// `None`: balanced.
    pub weights: Option<Vec<f64>>,
    /// Fraction of samples whose class is replaced by a uniformly random one.
    pub flip_y: f64,
    pub class_sep: f64,
    /// Clusters at hypercube vertices (true) or at vertices scaled by random factors (false).
    pub hypercube: bool,
    /// Added to every feature; `None` draws one shift per feature from [-class_sep, class_sep].
    pub shift: Option<f64>,
    /// Multiplies every feature after the shift; `None` draws one per feature from [1, 101].
    pub scale: Option<f64>,
    pub shuffle: bool,
    pub random_state: u64,
}

impl Default for MakeClassification {
    fn default() -> Self {
        MakeClassification {
            n_samples: 100,
            n_features: 20,
            n_informative: 2,
            n_redundant: 2,
            n_repeated: 0,
            n_classes: 2,
            n_clusters_per_class: 2,
            weights: None,
            flip_y: 0.01,
            class_sep: 1.0,
            hypercube: true,
            shift: Some(0.0),
            scale: Some(1.0),
            shuffle: true,
            random_state: 0,
        }
    }
}

/// A `MakeClassification` parameter that scikit-learn would refuse; the message names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("make_classification: {parameter}: {message}")]
pub struct MakeClassificationError {
    pub parameter: &'static str,
    pub message: String,
}

fn invalid(parameter: &'static str, message: String) -> MakeClassificationError {
    MakeClassificationError { parameter, message }
}

impl MakeClassification {
    /// Checks the parameters as scikit-learn does; returns the class weights, completed.
    fn validate(&self) -> Result<Vec<f64>, MakeClassificationError> {
        for (name, value) in [
            ("n_samples", self.n_samples),
            ("n_features", self.n_features),
            ("n_informative", self.n_informative),
            ("n_classes", self.n_classes),
            ("n_clusters_per_class", self.n_clusters_per_class),
        ] {
            if value < 1 {
                return Err(invalid(name, format!("must be at least 1, got {value}")));
            }
        }
        let used = self.n_informative + self.n_redundant + self.n_repeated;
        if used > self.n_features {
            return Err(invalid(
                "n_features",
                format!(
                    "n_informative + n_redundant + n_repeated = {used} exceeds n_features = {}",
                    self.n_features
                ),
            ));
        }
        let clusters = self.n_classes as f64 * self.n_clusters_per_class as f64;
        if (self.n_informative as f64) < clusters.log2() {
            return Err(invalid(
                "n_informative",
                format!(
                    "n_classes ({}) * n_clusters_per_class ({}) must be at most \
                     2**n_informative (2**{})",
                    self.n_classes, self.n_clusters_per_class, self.n_informative
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.flip_y) {
            return Err(invalid(
                "flip_y",
                format!("must be in [0, 1], got {}", self.flip_y),
            ));
        }
        if !self.class_sep.is_finite() {
            return Err(invalid(
                "class_sep",
                format!("must be finite, got {}", self.class_sep),
            ));
        }
        if let Some(shift) = self.shift.filter(|v| !v.is_finite()) {
            return Err(invalid("shift", format!("must be finite, got {shift}")));
        }
        if let Some(scale) = self.scale.filter(|v| !v.is_finite()) {
            return Err(invalid("scale", format!("must be finite, got {scale}")));
        }
        let k = self.n_classes;
        let weights = match &self.weights {
            None => vec![1.0 / k as f64; k],
            Some(w) if w.len() == k => w.clone(),
            Some(w) if w.len() + 1 == k => {
                let mut w = w.clone();
                w.push(1.0 - w.iter().sum::<f64>());
                w
            }
            Some(w) => {
                return Err(invalid(
                    "weights",
                    format!(
                        "{} weights given for {k} classes (give {k} or {})",
                        w.len(),
                        k - 1
                    ),
                ))
            }
        };
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(invalid(
                "weights",
                format!("every weight (and 1 - their sum) must be >= 0, found {w}"),
            ));
        }
        Ok(weights)
    }
}

fn uniform(rng: &mut TaskRng) -> f64 {
    rng.random::<f64>()
}

fn normal(rng: &mut TaskRng) -> f64 {
    rng.sample(StandardNormal)
}

/// `count` distinct integers from `0..population`, as scikit-learn's
/// `sample_without_replacement(method="auto")` draws them: a uniformly random ordered sample when
/// 0.01 < count/population < 0.99 (a permutation's prefix) or count/population <= 0.01 (tracking
/// selection); reservoir sampling (Algorithm R) when count/population >= 0.99, which keeps most
/// values in ascending place and, for count == population, returns `0..population` in order.
/// That last case is what makes scikit-learn's default problem (4 clusters on the 4 vertices of a
/// square) place each class's clusters on one side, never diagonally.
fn sample_without_replacement(population: u64, count: usize, rng: &mut TaskRng) -> Vec<u64> {
    let ratio = count as f64 / population as f64;
    if ratio >= 0.99 {
        let mut out: Vec<u64> = (0..count as u64).collect();
        for i in count as u64..population {
            let j = rng.random_range(0..=i);
            if j < count as u64 {
                out[j as usize] = i;
            }
        }
        return out;
    }
    // Floyd's algorithm for a uniformly random subset, then a random order
    let mut chosen: HashSet<u64> = HashSet::with_capacity(count);
    let mut codes = Vec::with_capacity(count);
    for j in (population - count as u64)..population {
        let t = rng.random_range(0..=j);
        let code = if chosen.contains(&t) { j } else { t };
        chosen.insert(code);
        codes.push(code);
    }
    codes.shuffle(rng);
    codes
}

/// `count` distinct vertices of the `dims`-dimensional unit hypercube, as scikit-learn's
/// `_generate_hypercube`: vertex codes from `sample_without_replacement(2**dims, count)` written
/// as bits, most significant first; beyond 30 dimensions the extra leading dimensions are random
/// bits.
fn hypercube_vertices(count: usize, dims: usize, rng: &mut TaskRng) -> Array2<f64> {
    let low = dims.min(30);
    let codes = sample_without_replacement(1u64 << low, count, rng);
    let mut out = Array2::zeros((count, dims));
    for (i, code) in codes.iter().enumerate() {
        for b in 0..dims - low {
            out[[i, b]] = f64::from(u8::from(rng.random::<bool>()));
        }
        for b in 0..low {
            out[[i, dims - low + b]] = ((code >> (low - 1 - b)) & 1) as f64;
        }
    }
    out
}

/// A random classification problem with scikit-learn's `make_classification` algorithm:
/// `x` is n_samples × n_features, classes are `"0"`, `"1"`, ... Without shuffling, columns are
/// informative, redundant, repeated, then noise. Deterministic in `random_state`.
pub fn make_classification(p: &MakeClassification) -> Result<Dataset, MakeClassificationError> {
    let weights = p.validate()?;
    let mut rng = task_rng(p.random_state, STREAM);
    let (n, d, ni) = (p.n_samples, p.n_features, p.n_informative);
    let n_clusters = p.n_classes * p.n_clusters_per_class;

    let mut per_cluster: Vec<usize> = (0..n_clusters)
        .map(|k| (n as f64 * weights[k % p.n_classes] / p.n_clusters_per_class as f64) as usize)
        .collect();
    let assigned: usize = per_cluster.iter().sum();
    for i in 0..n.saturating_sub(assigned) {
        per_cluster[i % n_clusters] += 1;
    }

    let mut x = Array2::<f64>::zeros((n, d));
    let mut y = vec![0usize; n];

    let mut centroids = hypercube_vertices(n_clusters, ni, &mut rng);
    centroids.mapv_inplace(|v| v * 2.0 * p.class_sep - p.class_sep);
    if !p.hypercube {
        for mut row in centroids.rows_mut() {
            let f = uniform(&mut rng);
            row.mapv_inplace(|v| v * f);
        }
        for mut col in centroids.columns_mut() {
            let f = uniform(&mut rng);
            col.mapv_inplace(|v| v * f);
        }
    }

    x.slice_mut(s![.., ..ni]).mapv_inplace(|_| normal(&mut rng));
    let mut stop = 0;
    for (k, centroid) in centroids.rows().into_iter().enumerate() {
        let start = stop;
        stop += per_cluster[k];
        y[start..stop].fill(k % p.n_classes);
        let a = Array2::from_shape_simple_fn((ni, ni), || 2.0 * uniform(&mut rng) - 1.0);
        let block = x.slice(s![start..stop, ..ni]).dot(&a) + centroid;
        x.slice_mut(s![start..stop, ..ni]).assign(&block);
    }

    if p.n_redundant > 0 {
        let b = Array2::from_shape_simple_fn((ni, p.n_redundant), || 2.0 * uniform(&mut rng) - 1.0);
        let redundant = x.slice(s![.., ..ni]).dot(&b);
        x.slice_mut(s![.., ni..ni + p.n_redundant])
            .assign(&redundant);
    }
    let base = ni + p.n_redundant;
    for r in 0..p.n_repeated {
        let source = ((base - 1) as f64 * uniform(&mut rng) + 0.5) as usize;
        let column = x.column(source).to_owned();
        x.column_mut(base + r).assign(&column);
    }
    let n_random = d - base - p.n_repeated;
    if n_random > 0 {
        x.slice_mut(s![.., d - n_random..])
            .mapv_inplace(|_| normal(&mut rng));
    }

    if p.flip_y > 0.0 {
        let flip: Vec<bool> = (0..n).map(|_| uniform(&mut rng) < p.flip_y).collect();
        for (label, _) in y.iter_mut().zip(&flip).filter(|(_, f)| **f) {
            *label = rng.random_range(0..p.n_classes);
        }
    }

    let shift: Array1<f64> = match p.shift {
        Some(v) => Array1::from_elem(d, v),
        None => Array1::from_shape_simple_fn(d, || (2.0 * uniform(&mut rng) - 1.0) * p.class_sep),
    };
    x += &shift;
    let scale: Array1<f64> = match p.scale {
        Some(v) => Array1::from_elem(d, v),
        None => Array1::from_shape_simple_fn(d, || 1.0 + 100.0 * uniform(&mut rng)),
    };
    x *= &scale;

    if p.shuffle {
        let mut rows: Vec<usize> = (0..n).collect();
        rows.shuffle(&mut rng);
        let mut cols: Vec<usize> = (0..d).collect();
        cols.shuffle(&mut rng);
        x = x.select(Axis(0), &rows).select(Axis(1), &cols);
        y = rows.iter().map(|&i| y[i]).collect();
    }

    Ok(Dataset {
        x,
        y,
        classes: (0..p.n_classes).map(|c| c.to_string()).collect(),
    })
}
