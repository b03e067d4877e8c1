//! Training data prepared once and shared by every tree grown on it: labels as class indices and,
//! per feature, the samples in ascending order of their single-precision values (with each
//! sample's rank in that order). A node then orders its samples along a feature by their ranks,
//! which are distinct small integers: a bitmap pass for large nodes, a short sort for small ones.
//! Ties in value are ordered by sample index, which changes nothing: no split falls between
//! equal values.

use ndarray::ArrayView2;

use super::TreeError;
use crate::ml::Dataset;

/// A training matrix ready for tree growing. Building it costs one sort per feature; build it
/// once per dataset and grow every tree of a forest on it.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub(crate) n_samples: usize,
    pub(crate) n_features: usize,
    pub(crate) n_classes: usize,
    /// Class index of each sample.
    pub(crate) y: Vec<u32>,
    /// `rank[f * n + i]`: position of sample `i` in feature `f`'s ascending order.
    pub(crate) rank: Vec<u32>,
    /// `order[f * n + r]`: the sample at position `r` of feature `f`'s order.
    pub(crate) order: Vec<u32>,
    /// `values[f * n + r]`: the value (as `f32`) at position `r` of feature `f`'s order.
    pub(crate) values: Vec<f32>,
}

/// Maps an `f32` to a `u32` with the same order (negative zero taken as zero).
#[inline]
pub(crate) fn f32_order_key(v: f32) -> u32 {
    let bits = (v + 0.0).to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

impl TrainingSet {
    /// Prepares a dataset: `y[i]` must index `classes`, every value must be finite as an `f32`.
    pub fn new(data: &Dataset) -> Result<Self, TreeError> {
        Self::from_parts(data.x.view(), &data.y, data.classes.len())
    }

    /// Prepares rows `x` with class indices `y` below `n_classes`.
    pub fn from_parts(
        x: ArrayView2<f64>,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Self, TreeError> {
        let (n, d) = x.dim();
        if n == 0 {
            return Err(TreeError::InvalidData("no training samples".into()));
        }
        if d == 0 {
            return Err(TreeError::InvalidData("no features".into()));
        }
        if y.len() != n {
            return Err(TreeError::InvalidData(format!(
                "{n} rows of features but {} labels",
                y.len()
            )));
        }
        if n >= u32::MAX as usize {
            return Err(TreeError::InvalidData(format!("too many samples ({n})")));
        }
        if n_classes == 0 {
            return Err(TreeError::InvalidData("no classes".into()));
        }
        if let Some(i) = y.iter().position(|&c| c >= n_classes) {
            return Err(TreeError::InvalidData(format!(
                "label {} of sample {i} is not below the number of classes {n_classes}",
                y[i]
            )));
        }
        let mut rank = vec![0u32; n * d];
        let mut order = vec![0u32; n * d];
        let mut values = vec![0f32; n * d];
        let mut keys = vec![0u64; n];
        let mut scratch = vec![0u64; n];
        for f in 0..d {
            for (i, key) in keys.iter_mut().enumerate() {
                let v = x[[i, f]] as f32;
                if !v.is_finite() {
                    return Err(TreeError::InvalidData(format!(
                        "value {} at row {i}, feature {f} is not finite in single precision",
                        x[[i, f]]
                    )));
                }
                *key = ((f32_order_key(v) as u64) << 32) | i as u64;
            }
            radix_sort_high32(&mut keys, &mut scratch);
            let (rank_f, order_f, values_f) = (
                &mut rank[f * n..(f + 1) * n],
                &mut order[f * n..(f + 1) * n],
                &mut values[f * n..(f + 1) * n],
            );
            for (r, &key) in keys.iter().enumerate() {
                let i = key as u32;
                rank_f[i as usize] = r as u32;
                order_f[r] = i;
                values_f[r] = x[[i as usize, f]] as f32;
            }
        }
        Ok(TrainingSet {
            n_samples: n,
            n_features: d,
            n_classes,
            y: y.iter().map(|&c| c as u32).collect(),
            rank,
            order,
            values,
        })
    }

    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Class index of each sample.
    pub fn labels(&self) -> &[u32] {
        &self.y
    }
}

/// Stable LSD radix sort of `keys` on their upper 32 bits, one byte per pass; `scratch` has the
/// same length. Passes where every key shares the byte are skipped.
fn radix_sort_high32(keys: &mut [u64], scratch: &mut [u64]) {
    let mut src_is_keys = true;
    for pass in 0..4 {
        let shift = 32 + 8 * pass;
        let (src, dst): (&[u64], &mut [u64]) = if src_is_keys {
            (&*keys, &mut *scratch)
        } else {
            (&*scratch, &mut *keys)
        };
        let mut counts = [0usize; 256];
        for &k in src {
            counts[((k >> shift) & 0xff) as usize] += 1;
        }
        if counts.contains(&src.len()) {
            continue;
        }
        let mut total = 0;
        for c in counts.iter_mut() {
            let here = *c;
            *c = total;
            total += here;
        }
        for &k in src {
            let b = ((k >> shift) & 0xff) as usize;
            dst[counts[b]] = k;
            counts[b] += 1;
        }
        src_is_keys = !src_is_keys;
    }
    if !src_is_keys {
        keys.copy_from_slice(scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_is_monotone() {
        let vals = [-3.5f32, -1e-30, -0.0, 0.0, 1e-30, 2.0, f32::MAX];
        for w in vals.windows(2) {
            assert!(f32_order_key(w[0]) <= f32_order_key(w[1]), "{w:?}");
        }
        assert_eq!(f32_order_key(-0.0), f32_order_key(0.0));
    }

    #[test]
    fn radix_sort_matches_std_sort() {
        let mut state = 12345u64;
        let mut keys: Vec<u64> = (0..5000)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) << 32) | i
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort();
        let mut scratch = vec![0; keys.len()];
        radix_sort_high32(&mut keys, &mut scratch);
        assert_eq!(keys, expected);
    }
}
