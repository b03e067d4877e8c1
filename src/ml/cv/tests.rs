//! Splitter tests: StratifiedKFold and KFold folds identical to scikit-learn's (reference file
//! tests/reference/cv_folds.json), shuffled variants, the stratified train/test split, errors.

use super::*;
use crate::ml::dataset::encode_labels;
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/cv_folds.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference file")).unwrap()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as usize)
        .collect()
}

fn folds(v: &Value) -> Vec<Split> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| (indices(&f["train"]), indices(&f["test"])))
        .collect()
}

#[test]
fn stratified_kfold_matches_sklearn() {
    let r = reference();
    let cases = r["stratified"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let labels: Vec<&str> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let (y, classes) = encode_labels(&labels);
        let expected_classes: Vec<&str> = case["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            classes, expected_classes,
            "{name}: classes in np.unique order"
        );
        let k = case["n_splits"].as_u64().unwrap() as usize;
        let ours = StratifiedKFold {
            n_splits: k,
            shuffle: None,
        }
        .split(&y)
        .unwrap();
        assert_eq!(
            ours,
            folds(&case["folds"]),
            "{name}: folds differ from sklearn's"
        );
    }
}

#[test]
fn kfold_matches_sklearn() {
    let r = reference();
    for case in r["kfold"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let k = case["n_splits"].as_u64().unwrap() as usize;
        let ours = KFold {
            n_splits: k,
            shuffle: None,
        }
        .split(n)
        .unwrap();
        assert_eq!(ours, folds(&case["folds"]), "KFold n={n} k={k}");
    }
}

fn assert_partition(splits: &[Split], n: usize) {
    let mut seen = vec![0; n];
    for (train, test) in splits {
        assert!(train.windows(2).all(|w| w[0] < w[1]), "train ascending");
        assert!(test.windows(2).all(|w| w[0] < w[1]), "test ascending");
        assert_eq!(train.len() + test.len(), n);
        for &i in test {
            seen[i] += 1;
            assert!(train.binary_search(&i).is_err(), "{i} in train and test");
        }
    }
    assert!(
        seen.iter().all(|&c| c == 1),
        "each sample in exactly one test fold"
    );
}

#[test]
fn shuffled_stratified_keeps_per_fold_class_counts() {
    let y: Vec<usize> = (0..103).map(|i| [0, 0, 1, 2, 0, 1][i % 6]).collect();
    let plain = StratifiedKFold {
        n_splits: 4,
        shuffle: None,
    }
    .split(&y)
    .unwrap();
    let a = StratifiedKFold {
        n_splits: 4,
        shuffle: Some(11),
    }
    .split(&y)
    .unwrap();
    let b = StratifiedKFold {
        n_splits: 4,
        shuffle: Some(11),
    }
    .split(&y)
    .unwrap();
    let c = StratifiedKFold {
        n_splits: 4,
        shuffle: Some(12),
    }
    .split(&y)
    .unwrap();
    assert_eq!(a, b, "same seed, same folds");
    assert_ne!(a, c, "another seed, other folds");
    assert_ne!(a, plain);
    assert_partition(&a, y.len());
    let counts = |test: &[usize]| {
        let mut k = [0; 3];
        for &i in test {
            k[y[i]] += 1;
        }
        k
    };
    for (p, s) in plain.iter().zip(&a) {
        assert_eq!(counts(&p.1), counts(&s.1));
    }
}

#[test]
fn kfold_shuffled_and_sizes() {
    let splits = KFold {
        n_splits: 4,
        shuffle: Some(3),
    }
    .split(10)
    .unwrap();
    assert_partition(&splits, 10);
    let sizes: Vec<usize> = splits.iter().map(|s| s.1.len()).collect();
    assert_eq!(sizes, vec![3, 3, 2, 2]);
    assert_ne!(
        splits,
        KFold {
            n_splits: 4,
            shuffle: None
        }
        .split(10)
        .unwrap()
    );
}

#[test]
fn splitter_errors() {
    let k1 = StratifiedKFold {
        n_splits: 1,
        shuffle: None,
    };
    assert_eq!(k1.split(&[0, 1, 0, 1]), Err(SplitError::TooFewSplits(1)));
    let k5 = StratifiedKFold {
        n_splits: 5,
        shuffle: None,
    };
    assert!(matches!(
        k5.split(&[0, 1, 0, 1]),
        Err(SplitError::MoreSplitsThanSamples { .. })
    ));
    assert!(matches!(
        k5.split(&[0, 1, 0, 1, 0, 1, 0, 1]),
        Err(SplitError::MoreSplitsThanMembers { n_splits: 5 })
    ));
    assert!(KFold {
        n_splits: 0,
        shuffle: None
    }
    .split(3)
    .is_err());
    let msg = k5.split(&[0, 1]).unwrap_err().to_string();
    assert!(msg.contains("n_splits = 5"), "{msg}");
}

#[test]
fn stratified_train_test_split_proportions() {
    let y: Vec<usize> = (0..200).map(|i| usize::from(i % 4 == 0)).collect(); // 150 / 50
    let (train, test) = stratified_train_test_split(&y, 0.25, 5).unwrap();
    assert_eq!(test.len(), 50);
    assert_eq!(train.len(), 150);
    let ones = |idx: &[usize]| idx.iter().filter(|&&i| y[i] == 1).count();
    // 150 * 0.25 = 37.5 ones in train: a tie broken at random gives 37 or 38
    assert!((37..=38).contains(&ones(&train)), "{}", ones(&train));
    assert_eq!(ones(&train) + ones(&test), 50);
    let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..200).collect::<Vec<_>>(),
        "train and test partition the samples"
    );
    assert_eq!(
        stratified_train_test_split(&y, 0.25, 5).unwrap(),
        (train.clone(), test)
    );
    assert_ne!(stratified_train_test_split(&y, 0.25, 6).unwrap().0, train);
    // ceil(test_size * n) test samples, as scikit-learn
    let (tr, te) = stratified_train_test_split(&y[..10], 0.33, 0).unwrap();
    assert_eq!((tr.len(), te.len()), (6, 4));
    assert!(matches!(
        stratified_train_test_split(&y, 1.5, 0),
        Err(SplitError::TestSize(_))
    ));
    assert!(matches!(
        stratified_train_test_split(&[0, 1, 2, 0, 1, 2], 0.2, 0),
        Err(SplitError::TooSmall { .. })
    ));
}

#[test]
fn approximate_mode_is_exact_in_total() {
    let mut rng = task_rng(1, 2);
    for (counts, draws) in [(vec![5, 5, 5], 7), (vec![1, 99], 10), (vec![3, 3, 3, 3], 2)] {
        let got = approximate_mode(&counts, draws, &mut rng);
        assert_eq!(got.iter().sum::<usize>(), draws, "{counts:?}");
        assert!(got.iter().zip(&counts).all(|(g, c)| g <= c));
    }
}
