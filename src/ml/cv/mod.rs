//! Cross-validation splitters: `StratifiedKFold` (without shuffling, exactly scikit-learn's folds;
//! with a seed, scikit-learn's algorithm on our random stream), `KFold` (scikit-learn's: the first
//! n % k folds get one extra sample) and a stratified train/test split. Every split is a list of
//! `(train, test)` index vectors, both ascending.

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::rng::{task_rng, TaskRng};

/// One split: (train indices, test indices), both ascending.
pub type Split = (Vec<usize>, Vec<usize>);

/// The stream ids the splitters draw from under their seed.
const KFOLD_STREAM: u64 = 0x006b_666f_6c64; // "kfold"
const SKFOLD_STREAM: u64 = 0x736b_666f_6c64; // "skfold"
const TTS_STREAM: u64 = 0x0074_7473; // "tts"

/// A request a splitter cannot serve; the message names the parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    #[error("n_splits = {0}: cross-validation needs at least 2 folds")]
    TooFewSplits(usize),
    #[error("n_splits = {n_splits} is greater than the number of samples ({n_samples})")]
    MoreSplitsThanSamples { n_splits: usize, n_samples: usize },
    #[error("n_splits = {n_splits} is greater than the number of members of every class")]
    MoreSplitsThanMembers { n_splits: usize },
    #[error("test_size = {0}: must be in (0, 1)")]
    TestSize(f64),
    #[error(
        "test_size = {test_size} gives {n_train} training and {n_test} test samples; \
         each must be at least the number of classes ({n_classes})"
    )]
    TooSmall {
        test_size: f64,
        n_train: usize,
        n_test: usize,
        n_classes: usize,
    },
}

/// Folds that keep each class's proportion. `shuffle: None` is scikit-learn's
/// `StratifiedKFold(n_splits)` exactly; `Some(seed)` shuffles which fold each class member goes to
/// (scikit-learn's `shuffle=True` algorithm, drawn from our stream for `seed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StratifiedKFold {
    pub n_splits: usize,
    pub shuffle: Option<u64>,
}

impl StratifiedKFold {
    /// The folds of labels `y` (any values; classes are taken in order of first appearance, as
    /// scikit-learn encodes them). Class counts per fold are `bincount(sorted_labels[i::k])`;
    /// each class's samples, in data order, fill the folds in contiguous blocks of those counts.
    /// Like scikit-learn, a class with fewer members than folds is allowed (some test folds then
    /// miss it) unless every class has: use `dataset::check_folds` to refuse it.
    pub fn split(&self, y: &[usize]) -> Result<Vec<Split>, SplitError> {
        let k = self.n_splits;
        check_splits(k, y.len())?;
        // encode by first appearance
        let mut code: HashMap<usize, usize> = HashMap::new();
        let encoded: Vec<usize> = y
            .iter()
            .map(|label| {
                let next = code.len();
                *code.entry(*label).or_insert(next)
            })
            .collect();
        let n_classes = code.len();
        let mut counts = vec![0usize; n_classes];
        for &c in &encoded {
            counts[c] += 1;
        }
        if counts.iter().all(|&c| c < k) {
            return Err(SplitError::MoreSplitsThanMembers { n_splits: k });
        }
        // allocation[c][i]: members of class c in test fold i, from the sorted labels' i::k slice
        let mut sorted = encoded.clone();
        sorted.sort_unstable();
        let mut allocation = vec![vec![0usize; k]; n_classes];
        for (pos, &c) in sorted.iter().enumerate() {
            allocation[c][pos % k] += 1;
        }
        let mut rng = self.shuffle.map(|seed| task_rng(seed, SKFOLD_STREAM));
        let mut fold_of = vec![0usize; y.len()];
        for (c, per_fold) in allocation.iter().enumerate() {
            let mut folds: Vec<usize> = per_fold
                .iter()
                .enumerate()
                .flat_map(|(i, &count)| std::iter::repeat_n(i, count))
                .collect();
            if let Some(rng) = rng.as_mut() {
                folds.shuffle(rng);
            }
            let members = encoded.iter().enumerate().filter(|(_, &e)| e == c);
            for ((i, _), fold) in members.zip(folds) {
                fold_of[i] = fold;
            }
        }
        Ok(splits_from_folds(&fold_of, k))
    }
}

/// Plain folds: scikit-learn's `KFold(n_splits)` (contiguous blocks, the first `n % k` folds one
/// sample larger); with `shuffle: Some(seed)` the samples are permuted first (our stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KFold {
    pub n_splits: usize,
    pub shuffle: Option<u64>,
}

impl KFold {
    /// The folds of `n_samples` samples.
    pub fn split(&self, n_samples: usize) -> Result<Vec<Split>, SplitError> {
        let k = self.n_splits;
        check_splits(k, n_samples)?;
        let mut order: Vec<usize> = (0..n_samples).collect();
        if let Some(seed) = self.shuffle {
            order.shuffle(&mut task_rng(seed, KFOLD_STREAM));
        }
        let mut fold_of = vec![0usize; n_samples];
        let mut start = 0;
        for fold in 0..k {
            let size = n_samples / k + usize::from(fold < n_samples % k);
            for &i in &order[start..start + size] {
                fold_of[i] = fold;
            }
            start += size;
        }
        Ok(splits_from_folds(&fold_of, k))
    }
}

fn check_splits(k: usize, n: usize) -> Result<(), SplitError> {
    if k < 2 {
        return Err(SplitError::TooFewSplits(k));
    }
    if k > n {
        return Err(SplitError::MoreSplitsThanSamples {
            n_splits: k,
            n_samples: n,
        });
    }
    Ok(())
}

fn splits_from_folds(fold_of: &[usize], k: usize) -> Vec<Split> {
    (0..k)
        .map(|fold| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..fold_of.len()).partition(|&i| fold_of[i] == fold);
            (train, test)
        })
        .collect()
}

/// A stratified train/test split (scikit-learn's `StratifiedShuffleSplit` algorithm, drawn from
/// our stream for `seed`): `ceil(test_size * n)` test samples; per-class train and test counts
/// by the "approximate mode" of the class proportions (largest remainders, ties broken at
/// random). Returns `(train, test)`, both ascending.
pub fn stratified_train_test_split(
    y: &[usize],
    test_size: f64,
    seed: u64,
) -> Result<Split, SplitError> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(SplitError::TestSize(test_size));
    }
    let n = y.len();
    let n_test = (test_size * n as f64).ceil() as usize;
    let n_train = n - n_test;
    let n_labels = y.iter().copied().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_labels];
    for (i, &c) in y.iter().enumerate() {
        members[c].push(i);
    }
    let present: Vec<Vec<usize>> = members.into_iter().filter(|m| !m.is_empty()).collect();
    let n_classes = present.len();
    if n_train < n_classes || n_test < n_classes {
        return Err(SplitError::TooSmall {
            test_size,
            n_train,
            n_test,
            n_classes,
        });
    }
    let mut rng = task_rng(seed, TTS_STREAM);
    let counts: Vec<usize> = present.iter().map(Vec::len).collect();
    let train_counts = approximate_mode(&counts, n_train, &mut rng);
    let left: Vec<usize> = counts
        .iter()
        .zip(&train_counts)
        .map(|(c, t)| c - t)
        .collect();
    let test_counts = approximate_mode(&left, n_test, &mut rng);
    let (mut train, mut test) = (Vec::with_capacity(n_train), Vec::with_capacity(n_test));
    for (c, mut idx) in present.into_iter().enumerate() {
        idx.shuffle(&mut rng);
        train.extend_from_slice(&idx[..train_counts[c]]);
        test.extend_from_slice(&idx[train_counts[c]..train_counts[c] + test_counts[c]]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// scikit-learn's `_approximate_mode`: draws `n_draws` from classes of sizes `counts` as close to
/// proportional as possible: floors first, then one more to the classes with the largest
/// remainders, equal remainders chosen at random.
fn approximate_mode(counts: &[usize], n_draws: usize, rng: &mut TaskRng) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    let continuous: Vec<f64> = counts
        .iter()
        .map(|&c| c as f64 / total as f64 * n_draws as f64)
        .collect();
    let mut floored: Vec<usize> = continuous.iter().map(|v| v.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    let remainder: Vec<f64> = continuous
        .iter()
        .zip(&floored)
        .map(|(c, f)| c - *f as f64)
        .collect();
    let mut values = remainder.clone();
    values.sort_by(|a, b| b.total_cmp(a));
    values.dedup();
    for value in values {
        if need == 0 {
            break;
        }
        let mut tied: Vec<usize> = (0..counts.len())
            .filter(|&i| remainder[i] == value)
            .collect();
        let take = tied.len().min(need);
        let (chosen, _) = tied.partial_shuffle(rng, take);
        for &i in chosen.iter() {
            floored[i] += 1;
        }
        need -= take;
    }
    // guard against floating-point drift: never draw more than a class has
    for (f, &c) in floored.iter_mut().zip(counts) {
        *f = (*f).min(c);
    }
    floored
}
