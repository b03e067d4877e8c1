//! Unit tests of tree growing on small hand-made data (the comparisons with scikit-learn on
//! reference data are in `ml::forest::tests`).

use ndarray::{array, Array2};

use super::*;
use crate::ml::Dataset;
use crate::rng::task_rng;

fn dataset(x: Array2<f64>, y: Vec<usize>, n_classes: usize) -> Dataset {
    Dataset {
        x,
        y,
        classes: (0..n_classes).map(|c| c.to_string()).collect(),
    }
}

/// A noisy two-class problem on 4 features (feature 3 constant), from a fixed generator.
fn noisy(n: usize, seed: u64) -> Dataset {
    use rand::RngExt;
    let mut rng = task_rng(seed, 99);
    let mut x = Array2::zeros((n, 4));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let a: f64 = rng.random::<f64>() * 4.0 - 2.0;
        let b: f64 = rng.random::<f64>() * 4.0 - 2.0;
        let c: f64 = (rng.random::<f64>() * 10.0).floor();
        x[[i, 0]] = a;
        x[[i, 1]] = b;
        x[[i, 2]] = c;
        x[[i, 3]] = 7.0;
        let noise = rng.random::<f64>() < 0.1;
        y.push(((a + 0.5 * b > 0.0) != noise) as usize);
    }
    dataset(x, y, 2)
}

#[test]
fn threshold_is_the_midpoint_of_consecutive_values() {
    let data = dataset(array![[1.0], [2.0], [3.0], [4.0]], vec![0, 0, 1, 1], 2);
    let tree = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    assert_eq!(tree.n_nodes(), 3);
    let a = tree.to_arrays();
    assert_eq!(a.feature, vec![0, LEAF_FEATURE, LEAF_FEATURE]);
    assert_eq!(a.threshold[0], 2.5);
    assert_eq!(a.children_left, vec![1, NO_CHILD, NO_CHILD]);
    assert_eq!(a.children_right, vec![2, NO_CHILD, NO_CHILD]);
    assert_eq!(a.value.row(1).to_vec(), vec![1.0, 0.0]);
    assert_eq!(a.impurity[0], 0.5);
    assert_eq!(
        tree.predict(array![[2.5], [2.6], [-9.0]].view()).unwrap(),
        vec![0, 1, 0]
    );
    assert_eq!(tree.feature_importances(), vec![1.0]);
}

#[test]
fn values_within_1e7_are_not_split() {
    let data = dataset(array![[1.0], [1.0 + 5e-8], [3.0]], vec![0, 1, 1], 2);
    let tree = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    assert_eq!(tree.n_nodes(), 3);
    assert_eq!(tree.to_arrays().threshold[0], 2.0);
}

#[test]
fn grows_pure_leaves_and_fits_training_data() {
    let data = noisy(400, 1);
    let tree = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    assert_eq!(tree.predict(data.x.view()).unwrap(), data.y);
    let a = tree.to_arrays();
    for i in 0..tree.n_nodes() {
        if a.children_left[i] == NO_CHILD {
            assert_eq!(a.impurity[i], 0.0);
        }
    }
    let imp = tree.feature_importances();
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert_eq!(imp[3], 0.0, "a constant feature is never used");
    assert!(imp[0] > imp[2] && imp[1] > imp[2]);
}

#[test]
fn constant_features_are_skipped_beyond_max_features() {
    // Feature 0 is constant; with max_features 1 every node must still find feature 1.
    let x = Array2::from_shape_fn((40, 2), |(i, j)| if j == 0 { 3.0 } else { i as f64 });
    let y: Vec<usize> = (0..40).map(|i| (i >= 20) as usize).collect();
    let params = TreeParams {
        max_features: MaxFeatures::Count(1),
        ..TreeParams::default()
    };
    for seed in 0..20 {
        let params = TreeParams {
            random_state: Some(seed),
            ..params.clone()
        };
        let tree = DecisionTree::fit(&params, &dataset(x.clone(), y.clone(), 2)).unwrap();
        assert_eq!(tree.n_nodes(), 3, "seed {seed}");
        assert_eq!(tree.to_arrays().feature[0], 1);
    }
}

#[test]
fn weights_act_as_repeated_rows_and_zero_weight_rows_are_left_out() {
    let data = noisy(120, 2);
    let set = TrainingSet::new(&data).unwrap();
    let counts: Vec<f64> = (0..120).map(|i| (i % 3) as f64).collect();
    let weighted = fit_weighted(
        &TreeParams::default(),
        &set,
        Some(&counts),
        &mut task_rng(0, 0),
    )
    .unwrap();
    // The same rows, repeated.
    let mut rows = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        for _ in 0..c as usize {
            rows.push(i);
        }
    }
    let repeated = dataset(
        data.x.select(ndarray::Axis(0), &rows),
        rows.iter().map(|&i| data.y[i]).collect(),
        2,
    );
    let plain = DecisionTree::fit(&TreeParams::default(), &repeated).unwrap();
    let (a, b) = (weighted.to_arrays(), plain.to_arrays());
    assert_eq!(a.feature, b.feature);
    assert_eq!(a.threshold, b.threshold);
    assert_eq!(a.value, b.value);
    assert_eq!(a.weighted_n_node_samples, b.weighted_n_node_samples);
    // Zero-weight rows are not counted as samples.
    assert_eq!(a.n_node_samples[0], 80);
    assert_eq!(b.n_node_samples[0], 120);
}

#[test]
fn limits_are_respected() {
    let data = noisy(600, 3);
    let depth = DecisionTree::fit(
        &TreeParams {
            max_depth: Some(3),
            ..TreeParams::default()
        },
        &data,
    )
    .unwrap();
    assert_eq!(depth.depth(), 3);
    assert!(depth.n_leaves() <= 8);

    let leaves = DecisionTree::fit(
        &TreeParams {
            max_leaf_nodes: Some(7),
            ..TreeParams::default()
        },
        &data,
    )
    .unwrap();
    assert_eq!(leaves.n_leaves(), 7);
    assert_eq!(leaves.n_nodes(), 13);

    let min_leaf = DecisionTree::fit(
        &TreeParams {
            min_samples_leaf: SampleCount::Count(10),
            ..TreeParams::default()
        },
        &data,
    )
    .unwrap();
    let a = min_leaf.to_arrays();
    for i in 0..a.feature.len() {
        if a.children_left[i] == NO_CHILD {
            assert!(a.n_node_samples[i] >= 10);
        }
    }

    let split = DecisionTree::fit(
        &TreeParams {
            min_samples_split: SampleCount::Fraction(0.5),
            ..TreeParams::default()
        },
        &data,
    )
    .unwrap();
    let a = split.to_arrays();
    for i in 0..a.feature.len() {
        if a.children_left[i] != NO_CHILD {
            assert!(a.n_node_samples[i] >= 300);
        }
    }

    let decrease = DecisionTree::fit(
        &TreeParams {
            min_impurity_decrease: 0.01,
            ..TreeParams::default()
        },
        &data,
    )
    .unwrap();
    let full = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    assert!(decrease.n_nodes() < full.n_nodes() / 4);
}

#[test]
fn best_first_with_many_leaves_equals_depth_first() {
    // With a leaf budget the tree never reaches, best-first growth gives the same tree as
    // depth-first (nodes in another order). One informative feature (and a constant one) so that
    // no tie between features can be broken differently.
    let mut data = noisy(300, 4);
    data.x = data.x.select(ndarray::Axis(1), &[0, 3]);
    let full = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    let best_first = DecisionTree::fit(
        &TreeParams {
            max_leaf_nodes: Some(10_000),
            ..TreeParams::default()
        },
        &data,
    )
    .unwrap();
    assert_eq!(full.n_leaves(), best_first.n_leaves());
    assert_eq!(full.n_nodes(), best_first.n_nodes());
    let grid = Array2::from_shape_fn(
        (1000, 2),
        |(i, j)| if j == 0 { i as f64 / 250.0 - 2.0 } else { 7.0 },
    );
    assert_eq!(
        full.predict_proba(grid.view()).unwrap(),
        best_first.predict_proba(grid.view()).unwrap()
    );
    // The 10 splits of largest improvement come first under best-first growth.
    let ten = DecisionTree::fit(
        &TreeParams {
            max_leaf_nodes: Some(11),
            ..TreeParams::default()
        },
        &data,
    )
    .unwrap();
    assert_eq!(ten.n_leaves(), 11);
    assert_eq!(ten.to_arrays().threshold[0], full.to_arrays().threshold[0]);
}

#[test]
fn entropy_criterion_and_multiclass() {
    let x = Array2::from_shape_fn((90, 2), |(i, j)| {
        if j == 0 {
            (i % 30) as f64
        } else {
            (i / 30) as f64
        }
    });
    let y: Vec<usize> = (0..90).map(|i| i / 30).collect();
    let params = TreeParams {
        criterion: Criterion::Entropy,
        ..TreeParams::default()
    };
    let tree = DecisionTree::fit(&params, &dataset(x.clone(), y.clone(), 3)).unwrap();
    assert_eq!(tree.predict(x.view()).unwrap(), y);
    assert_eq!(tree.n_leaves(), 3);
    let root_entropy = tree.to_arrays().impurity[0];
    assert!((root_entropy - 3f64.log2()).abs() < 1e-12);
    assert_eq!(tree.feature_importances(), vec![0.0, 1.0]);
}

#[test]
fn arrays_and_serde_round_trip() {
    let data = noisy(200, 5);
    let tree = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    let back = DecisionTree::from_arrays(tree.to_arrays()).unwrap();
    assert_eq!(back, tree);
    // JSON keeps the structure; serde_json's default float parser may be off by one unit in
    // the last place, so exact copies go through bincode or `to_arrays`.
    let json = serde_json::to_string(&tree).unwrap();
    let back: DecisionTree = serde_json::from_str(&json).unwrap();
    let (a, b) = (back.to_arrays(), tree.to_arrays());
    assert_eq!(a.children_left, b.children_left);
    assert_eq!(a.feature, b.feature);
    for (x, y) in a.threshold.iter().zip(&b.threshold) {
        assert!((x - y).abs() <= 1e-15 * y.abs().max(1.0));
    }
    let bytes = bincode::serde::encode_to_vec(&tree, bincode::config::standard()).unwrap();
    let (back, _): (DecisionTree, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(back, tree);
}

#[test]
fn bad_arrays_are_refused() {
    let data = noisy(100, 6);
    let tree = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    let good = tree.to_arrays();
    let check = |a: TreeArrays, needle: &str| {
        let err = DecisionTree::from_arrays(a).unwrap_err().to_string();
        assert!(err.contains(needle), "{err} should mention {needle}");
    };
    let mut a = good.clone();
    a.threshold.pop();
    check(a, "threshold has");
    let mut a = good.clone();
    a.children_left[0] = 0;
    check(a, "not a later node");
    let mut a = good.clone();
    a.feature[0] = 4;
    check(a, "feature 4");
    let mut a = good.clone();
    a.n_classes = 3;
    check(a, "columns");
    let mut a = good.clone();
    let r = a.children_right[0];
    a.children_left[0] = r;
    check(a, "two parents");
    let mut a = good.clone();
    a.value[[1, 0]] = 1.5;
    check(a, "class fraction outside [0, 1]");
    let mut a = good.clone();
    a.impurity[2] = -0.25;
    check(a, "impurity holds a negative");
    let mut a = good.clone();
    a.weighted_n_node_samples[0] = f64::INFINITY;
    check(a, "weighted_n_node_samples holds a negative or non-finite");
    let mut a = good;
    a.feature.clear();
    check(a, "no nodes");
    assert!(serde_json::from_str::<DecisionTree>("{\"n_features\": 2}").is_err());
}

#[test]
fn predict_checks_the_number_of_features() {
    let data = noisy(50, 7);
    let tree = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
    let err = tree.predict(Array2::zeros((3, 5)).view()).unwrap_err();
    assert!(matches!(err, TreeError::InvalidData(_)));
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let data = noisy(50, 8);
    let cases: Vec<(TreeParams, &str)> = vec![
        (
            TreeParams {
                max_depth: Some(0),
                ..Default::default()
            },
            "max_depth",
        ),
        (
            TreeParams {
                min_samples_split: SampleCount::Count(1),
                ..Default::default()
            },
            "min_samples_split",
        ),
        (
            TreeParams {
                min_samples_split: SampleCount::Fraction(1.5),
                ..Default::default()
            },
            "min_samples_split",
        ),
        (
            TreeParams {
                min_samples_leaf: SampleCount::Count(0),
                ..Default::default()
            },
            "min_samples_leaf",
        ),
        (
            TreeParams {
                min_samples_leaf: SampleCount::Fraction(1.0),
                ..Default::default()
            },
            "min_samples_leaf",
        ),
        (
            TreeParams {
                max_features: MaxFeatures::Count(0),
                ..Default::default()
            },
            "max_features",
        ),
        (
            TreeParams {
                max_features: MaxFeatures::Count(5),
                ..Default::default()
            },
            "max_features",
        ),
        (
            TreeParams {
                max_features: MaxFeatures::Fraction(1.2),
                ..Default::default()
            },
            "max_features",
        ),
        (
            TreeParams {
                max_leaf_nodes: Some(1),
                ..Default::default()
            },
            "max_leaf_nodes",
        ),
        (
            TreeParams {
                min_impurity_decrease: -1.0,
                ..Default::default()
            },
            "min_impurity_decrease",
        ),
        (
            TreeParams {
                min_weight_fraction_leaf: 0.6,
                ..Default::default()
            },
            "min_weight_fraction_leaf",
        ),
    ];
    for (params, name) in cases {
        match DecisionTree::fit(&params, &data) {
            Err(TreeError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: expected a parameter error, got {other:?}"),
        }
    }
}

#[test]
fn parameters_deserialise_like_scikit_learn() {
    let p: TreeParams = toml::from_str(
        "criterion = 'log_loss'\nmax_features = 'sqrt'\nmin_samples_leaf = 0.1\nmin_samples_split = 4\nmax_depth = 5",
    )
    .unwrap();
    assert_eq!(p.criterion, Criterion::Entropy);
    assert_eq!(p.max_features, MaxFeatures::Sqrt);
    assert_eq!(p.min_samples_leaf, SampleCount::Fraction(0.1));
    assert_eq!(p.min_samples_split, SampleCount::Count(4));
    assert_eq!(p.max_depth, Some(5));
    let p: TreeParams = toml::from_str("max_features = 0.5").unwrap();
    assert_eq!(p.max_features, MaxFeatures::Fraction(0.5));
    let p: TreeParams =
        serde_json::from_str("{\"max_features\": null, \"max_depth\": null}").unwrap();
    assert_eq!(p, TreeParams::default());
    for (text, needle) in [
        ("max_depth = 0", "max_depth"),
        ("max_features = 'cube'", "max_features"),
        ("min_samples_split = 1", "min_samples_split"),
        ("splitter = 'random'", "splitter"),
        ("criterion = 'mse'", "criterion"),
    ] {
        let err = toml::from_str::<TreeParams>(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
    // Round trip through JSON and bincode.
    let p = TreeParams {
        max_features: MaxFeatures::Fraction(0.3),
        min_samples_leaf: SampleCount::Count(3),
        ..TreeParams::default()
    };
    let back: TreeParams = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let bytes = bincode::serde::encode_to_vec(&p, bincode::config::standard()).unwrap();
    let (back, _): (TreeParams, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn non_finite_training_values_are_refused() {
    let mut data = noisy(20, 9);
    data.x[[3, 1]] = f64::NAN;
    assert!(matches!(
        DecisionTree::fit(&TreeParams::default(), &data),
        Err(TreeError::InvalidData(_))
    ));
    data.x[[3, 1]] = 1e300; // infinite as f32
    assert!(matches!(
        DecisionTree::fit(&TreeParams::default(), &data),
        Err(TreeError::InvalidData(_))
    ));
}
