//! Forests against scikit-learn's answers (tests/reference/forest_*.h5, written by
//! scripts/reference/forest.py with the data included), exact merging of votes, model files and
//! parameter checks.

use std::path::PathBuf;

use ndarray::Array2;

use super::*;
use crate::ml::tree::{Criterion, DecisionTree, MaxFeatures, SampleCount, TreeParams};
use crate::ml::{ClassWeight, Dataset};

struct Reference {
    file: hdf5::File,
    train: Dataset,
    test: Dataset,
}

fn reference(name: &str) -> Reference {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(name);
    let file = hdf5::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/reference/make-reference)",
            path.display()
        )
    });
    let read = |x: &str, y: &str| {
        let x: Array2<f64> = file.dataset(x).unwrap().read_2d().unwrap();
        let y: Vec<i64> = file.dataset(y).unwrap().read_raw().unwrap();
        (x, y.into_iter().map(|c| c as usize).collect::<Vec<_>>())
    };
    let (x_train, y_train) = read("X_train", "y_train");
    let (x_test, y_test) = read("X_test", "y_test");
    let n_classes = y_train.iter().max().unwrap() + 1;
    let classes: Vec<String> = (0..n_classes).map(|c| c.to_string()).collect();
    Reference {
        train: Dataset {
            x: x_train,
            y: y_train,
            classes: classes.clone(),
        },
        test: Dataset {
            x: x_test,
            y: y_test,
            classes,
        },
        file,
    }
}

impl Reference {
    fn attr(&self, case: &str, name: &str) -> f64 {
        let group = self.file.group(case).unwrap();
        let attr = group.attr(name).unwrap();
        attr.read_scalar::<f64>()
            .or_else(|_| attr.read_scalar::<i64>().map(|v| v as f64))
            .unwrap()
    }

    fn vector(&self, case: &str, name: &str) -> Vec<f64> {
        self.file
            .group(case)
            .unwrap()
            .dataset(name)
            .unwrap()
            .read_raw()
            .unwrap()
    }
}

/// Our forest over seeds 0..n: mean test accuracy, mean OOB score counted as scikit-learn counts
/// it (rows never out of bag predicted as class 0), mean importances.
fn our_forest(params: &ForestParams, r: &Reference, n_seeds: u64) -> (f64, f64, Vec<f64>) {
    let (mut acc, mut oob) = (0.0, 0.0);
    let mut imp = vec![0.0; r.train.x.ncols()];
    for seed in 0..n_seeds {
        let params = ForestParams {
            random_state: Some(seed),
            ..params.clone()
        };
        let forest = RandomForest::fit(&params, &r.train).unwrap();
        acc += forest.score(&r.test).unwrap();
        if params.oob_score {
            // Recompute the votes to score never-OOB rows as scikit-learn does.
            let trainer = ForestTrainer::new(&params, &r.train).unwrap();
            let mut votes = ForestVotes::new(
                r.train.x.nrows(),
                0,
                r.train.classes.len(),
                r.train.x.ncols(),
            );
            let empty = Array2::zeros((0, r.train.x.ncols()));
            for i in 0..params.n_estimators {
                let t = trainer.grow_tree(i, seed).unwrap();
                votes.add_tree(&t, r.train.x.view(), empty.view()).unwrap();
            }
            let (proba, _) = votes.oob_proba();
            let predicted = crate::ml::forest::votes::argmax_rows(&proba);
            let correct = predicted
                .iter()
                .zip(&r.train.y)
                .filter(|(p, y)| p == y)
                .count();
            oob += correct as f64 / r.train.y.len() as f64;
            let ours = forest.oob_score().unwrap();
            if ours.n_never_oob == 0 {
                assert_eq!(ours.score, correct as f64 / r.train.y.len() as f64);
            }
        }
        for (m, v) in imp.iter_mut().zip(forest.feature_importances()) {
            *m += v;
        }
    }
    let n = n_seeds as f64;
    (acc / n, oob / n, imp.iter().map(|v| v / n).collect())
}

fn top(importances: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..importances.len()).collect();
    idx.sort_by(|&a, &b| importances[b].total_cmp(&importances[a]));
    let mut top = idx[..k].to_vec();
    top.sort();
    top
}

#[test]
fn forest_200_matches_scikit_learn() {
    let r = reference("forest_binary.h5");
    let params = ForestParams {
        n_estimators: 200,
        oob_score: true,
        ..ForestParams::default()
    };
    let n_seeds = r.attr("forest_200", "n_seeds") as u64;
    let (acc, oob, imp) = our_forest(&params, &r, n_seeds);
    let (sk_acc, sk_oob) = (
        r.attr("forest_200", "mean_accuracy"),
        r.attr("forest_200", "mean_oob_score"),
    );
    eprintln!("accuracy ours {acc:.4} sklearn {sk_acc:.4}; oob ours {oob:.4} sklearn {sk_oob:.4}");
    assert!(
        (acc - sk_acc).abs() <= 0.01,
        "accuracy {acc} vs scikit-learn {sk_acc}"
    );
    assert!(
        (oob - sk_oob).abs() <= 0.01,
        "oob score {oob} vs scikit-learn {sk_oob}"
    );
    // Features 0-4 are informative and 5-6 redundant (shuffle=False): scikit-learn ranks these 7
    // first, and so must we; importances agree feature by feature.
    let sk_imp = r.vector("forest_200", "importances");
    assert_eq!(top(&sk_imp, 7), (0..7).collect::<Vec<_>>());
    assert_eq!(top(&imp, 7), (0..7).collect::<Vec<_>>());
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    for (f, (a, b)) in imp.iter().zip(&sk_imp).enumerate() {
        assert!(
            (a - b).abs() < 0.01,
            "importance of feature {f}: {a} vs scikit-learn {b}"
        );
    }
    // The most important feature is the same.
    assert_eq!(top(&imp, 1), top(&sk_imp, 1));
}

#[test]
fn single_trees_match_scikit_learn() {
    let r = reference("forest_binary.h5");
    let cases = [
        ("tree_all_features", TreeParams::default()),
        (
            "tree_entropy_depth8",
            TreeParams {
                criterion: Criterion::Entropy,
                max_depth: Some(8),
                ..TreeParams::default()
            },
        ),
        (
            "tree_leaves_40",
            TreeParams {
                max_leaf_nodes: Some(40),
                ..TreeParams::default()
            },
        ),
        (
            "tree_min_leaf_5",
            TreeParams {
                min_samples_leaf: SampleCount::Count(5),
                min_impurity_decrease: 0.0005,
                ..TreeParams::default()
            },
        ),
    ];
    for (case, params) in cases {
        check_tree_case(&r, case, &params);
    }
    let r = reference("forest_multiclass.h5");
    check_tree_case(&r, "tree_all_features", &TreeParams::default());
}

/// Our tree over as many seeds as scikit-learn's: mean test accuracy within 0.005, leaf counts
/// and depths within scikit-learn's range over its seeds, mean importances within 0.01.
fn check_tree_case(r: &Reference, case: &str, params: &TreeParams) {
    let n_seeds = r.attr(case, "n_seeds") as u64;
    let range = |name: &str| {
        let v: Vec<i64> = r
            .file
            .group(case)
            .unwrap()
            .dataset(name)
            .unwrap()
            .read_raw()
            .unwrap();
        (
            *v.iter().min().unwrap() as usize,
            *v.iter().max().unwrap() as usize,
        )
    };
    let (leaves_range, depth_range) = (range("n_leaves"), range("depth"));
    let mut acc = 0.0;
    let mut imp = vec![0.0; r.train.x.ncols()];
    for seed in 0..n_seeds {
        let params = TreeParams {
            random_state: Some(seed),
            ..params.clone()
        };
        let tree = DecisionTree::fit(&params, &r.train).unwrap();
        let predicted = tree.predict(r.test.x.view()).unwrap();
        acc += predicted
            .iter()
            .zip(&r.test.y)
            .filter(|(p, y)| p == y)
            .count() as f64
            / r.test.y.len() as f64;
        let (leaves, depth) = (tree.n_leaves(), tree.depth());
        assert!(
            leaves >= leaves_range.0 && leaves <= leaves_range.1,
            "{case} seed {seed}: {leaves} leaves, scikit-learn {leaves_range:?}"
        );
        assert!(
            depth >= depth_range.0 && depth <= depth_range.1,
            "{case} seed {seed}: depth {depth}, scikit-learn {depth_range:?}"
        );
        for (m, v) in imp.iter_mut().zip(tree.feature_importances()) {
            *m += v / n_seeds as f64;
        }
    }
    acc /= n_seeds as f64;
    let sk = r.attr(case, "mean_accuracy");
    eprintln!("{case}: mean accuracy over {n_seeds} seeds: ours {acc:.4} sklearn {sk:.4}");
    assert!(
        (acc - sk).abs() <= 0.005,
        "{case}: accuracy {acc} vs scikit-learn {sk}"
    );
    let sk_imp = r.vector(case, "importances");
    for (f, (a, b)) in imp.iter().zip(&sk_imp).enumerate() {
        assert!(
            (a - b).abs() < 0.01,
            "{case}: importance of feature {f}: {a} vs {b}"
        );
    }
}

#[test]
fn forest_variants_match_scikit_learn() {
    let r = reference("forest_binary.h5");
    let base = ForestParams {
        n_estimators: 50,
        ..ForestParams::default()
    };
    let cases = [
        (
            "forest_entropy",
            ForestParams {
                criterion: Criterion::Entropy,
                ..base.clone()
            },
        ),
        (
            "forest_depth6",
            ForestParams {
                max_depth: Some(6),
                ..base.clone()
            },
        ),
        (
            "forest_leaves_30",
            ForestParams {
                max_leaf_nodes: Some(30),
                ..base.clone()
            },
        ),
        (
            "forest_half_samples",
            ForestParams {
                max_samples: Some(SampleCount::Fraction(0.5)),
                oob_score: true,
                ..base.clone()
            },
        ),
        (
            "forest_log2_minleaf",
            ForestParams {
                max_features: MaxFeatures::Log2,
                min_samples_leaf: SampleCount::Count(3),
                ..base.clone()
            },
        ),
    ];
    for (case, params) in cases {
        let n_seeds = r.attr(case, "n_seeds") as u64;
        let (acc, oob, _) = our_forest(&params, &r, n_seeds);
        let sk = r.attr(case, "mean_accuracy");
        eprintln!("{case}: accuracy ours {acc:.4} sklearn {sk:.4}");
        assert!(
            (acc - sk).abs() <= 0.015,
            "{case}: accuracy {acc} vs scikit-learn {sk}"
        );
        if params.oob_score {
            let sk = r.attr(case, "mean_oob_score");
            eprintln!("{case}: oob ours {oob:.4} sklearn {sk:.4}");
            assert!(
                (oob - sk).abs() <= 0.015,
                "{case}: oob {oob} vs scikit-learn {sk}"
            );
        }
    }
}

#[test]
fn multiclass_and_class_weights_match_scikit_learn() {
    let r = reference("forest_multiclass.h5");
    let base = ForestParams {
        n_estimators: 100,
        ..ForestParams::default()
    };
    let cases = [
        (
            "forest_100",
            ForestParams {
                oob_score: true,
                ..base.clone()
            },
        ),
        (
            "forest_balanced",
            ForestParams {
                class_weight: ClassWeight::Balanced,
                oob_score: true,
                ..base.clone()
            },
        ),
        (
            "forest_balanced_subsample",
            ForestParams {
                class_weight: ClassWeight::BalancedSubsample,
                ..base.clone()
            },
        ),
    ];
    for (case, params) in cases {
        let n_seeds = r.attr(case, "n_seeds") as u64;
        let (acc, oob, imp) = our_forest(&params, &r, n_seeds);
        let sk = r.attr(case, "mean_accuracy");
        eprintln!("{case}: accuracy ours {acc:.4} sklearn {sk:.4}");
        assert!(
            (acc - sk).abs() <= 0.015,
            "{case}: accuracy {acc} vs scikit-learn {sk}"
        );
        if params.oob_score {
            let sk = r.attr(case, "mean_oob_score");
            eprintln!("{case}: oob ours {oob:.4} sklearn {sk:.4}");
            assert!(
                (oob - sk).abs() <= 0.015,
                "{case}: oob {oob} vs scikit-learn {sk}"
            );
        }
        // Features 0-3 are the informative ones.
        let sk_imp = r.vector(case, "importances");
        assert_eq!(top(&sk_imp, 4), vec![0, 1, 2, 3]);
        assert_eq!(
            top(&imp, 4),
            vec![0, 1, 2, 3],
            "{case}: importances {imp:?}"
        );
    }
}

/// Votes of trees `0..n` grown in the given blocks, merged in the given order.
fn votes_in_blocks(
    trainer: &ForestTrainer,
    r: &Reference,
    blocks: &[(usize, usize)],
    merge_order: &[usize],
) -> ForestVotes {
    let parts: Vec<ForestVotes> = blocks
        .iter()
        .map(|&(a, b)| {
            let mut v = ForestVotes::new(r.train.x.nrows(), r.test.x.nrows(), 2, r.train.x.ncols());
            // Within a block too the order does not matter: add backwards.
            for i in (a..b).rev() {
                let t = trainer.grow_tree(i, 42).unwrap();
                v.add_tree(&t, r.train.x.view(), r.test.x.view()).unwrap();
            }
            v
        })
        .collect();
    let mut total = ForestVotes::new(r.train.x.nrows(), r.test.x.nrows(), 2, r.train.x.ncols());
    for &i in merge_order {
        // Through bytes, as between ranks.
        let part = ForestVotes::from_bytes(&parts[i].to_bytes()).unwrap();
        total.merge(&part).unwrap();
    }
    total
}

#[test]
fn votes_are_bit_identical_whatever_the_grouping() {
    let r = reference("forest_binary.h5");
    let params = ForestParams {
        n_estimators: 12,
        oob_score: true,
        ..ForestParams::default()
    };
    let trainer = ForestTrainer::new(&params, &r.train).unwrap();
    let one = votes_in_blocks(&trainer, &r, &[(0, 12)], &[0]);
    // (blocks of trees, order in which the blocks are merged)
    type Grouping<'a> = (&'a [(usize, usize)], &'a [usize]);
    let groupings: [Grouping; 3] = [
        (&[(0, 5), (5, 12)], &[0, 1]),
        (&[(0, 3), (3, 8), (8, 12)], &[2, 0, 1]),
        (
            &[(0, 1), (1, 2), (2, 7), (7, 11), (11, 12)],
            &[4, 3, 2, 1, 0],
        ),
    ];
    for (blocks, order) in groupings {
        let v = votes_in_blocks(&trainer, &r, blocks, order);
        assert!(v.is_complete(12));
        assert_eq!(v.test_proba(), one.test_proba(), "{blocks:?}");
        assert_eq!(v.oob_proba(), one.oob_proba());
        assert_eq!(v.feature_importances(), one.feature_importances());
        assert_eq!(
            v.oob_score(&r.train.y).unwrap(),
            one.oob_score(&r.train.y).unwrap()
        );
        assert_eq!(v, one);
    }
    // A saved forest of the same trees predicts exactly the same.
    let trees: Vec<DecisionTree> = (0..12)
        .map(|i| trainer.grow_tree(i, 42).unwrap().tree)
        .collect();
    let forest = Forest::new(r.train.classes.clone(), r.train.x.ncols(), trees).unwrap();
    assert_eq!(
        forest.predict_proba(r.test.x.view()).unwrap(),
        one.test_proba()
    );
    assert_eq!(forest.predict(r.test.x.view()).unwrap(), one.test_predict());
    assert_eq!(forest.feature_importances(), one.feature_importances());
    // And `RandomForest::fit` grows the very same trees.
    let fitted = RandomForest::fit(
        &ForestParams {
            random_state: Some(42),
            ..params.clone()
        },
        &r.train,
    )
    .unwrap();
    assert_eq!(fitted.trees(), forest.trees());
    assert_eq!(
        fitted.oob_score().unwrap(),
        one.oob_score(&r.train.y).unwrap()
    );
    // grow_tree on the dataset gives the trainer's tree.
    assert_eq!(
        grow_tree(&params, &r.train, 7, 42).unwrap(),
        trainer.grow_tree(7, 42).unwrap()
    );
}

#[test]
fn votes_refuse_double_counting_and_mismatched_shapes() {
    let r = reference("forest_binary.h5");
    let params = ForestParams::default();
    let trainer = ForestTrainer::new(&params, &r.train).unwrap();
    let t = trainer.grow_tree(3, 0).unwrap();
    let mut v = ForestVotes::new(r.train.x.nrows(), r.test.x.nrows(), 2, r.train.x.ncols());
    v.add_tree(&t, r.train.x.view(), r.test.x.view()).unwrap();
    assert!(v.add_tree(&t, r.train.x.view(), r.test.x.view()).is_err());
    let copy = v.clone();
    assert!(v.merge(&copy).is_err());
    let other = ForestVotes::new(r.train.x.nrows(), 7, 2, r.train.x.ncols());
    assert!(v.merge(&other).is_err());
    assert!(v
        .add_tree(
            &trainer.grow_tree(4, 0).unwrap(),
            r.train.x.view(),
            r.train.x.view()
        )
        .is_err());
    assert!(ForestVotes::from_bytes(&v.to_bytes()[..20]).is_err());
    assert_eq!(v.n_trees(), 1);
    assert_eq!(v.tree_ranges(), &[(3, 4)]);
}

#[test]
fn bootstrap_and_oob_indices() {
    let r = reference("forest_binary.h5");
    let n = r.train.x.nrows();
    let trainer = ForestTrainer::new(&ForestParams::default(), &r.train).unwrap();
    let t = trainer.grow_tree(0, 5).unwrap();
    // About e^-1 of the rows are out of bag, and they are exactly the rows of zero weight.
    let frac = t.oob_indices.len() as f64 / n as f64;
    assert!((frac - (-1f64).exp()).abs() < 0.04, "{frac}");
    assert_eq!(
        t.tree.to_arrays().n_node_samples[0] as usize,
        n - t.oob_indices.len()
    );
    assert_eq!(t.tree.to_arrays().weighted_n_node_samples[0], n as f64);
    // max_samples as a count and as a fraction.
    for (max_samples, draws) in [
        (SampleCount::Count(300), 300.0),
        (SampleCount::Fraction(0.5), (n / 2) as f64),
    ] {
        let params = ForestParams {
            max_samples: Some(max_samples),
            ..ForestParams::default()
        };
        let t = ForestTrainer::new(&params, &r.train)
            .unwrap()
            .grow_tree(1, 5)
            .unwrap();
        assert_eq!(t.tree.to_arrays().weighted_n_node_samples[0], draws);
    }
    // Without bootstrap: every row, no out-of-bag rows.
    let params = ForestParams {
        bootstrap: false,
        ..ForestParams::default()
    };
    let t = ForestTrainer::new(&params, &r.train)
        .unwrap()
        .grow_tree(0, 5)
        .unwrap();
    assert!(t.oob_indices.is_empty());
    assert_eq!(t.tree.to_arrays().n_node_samples[0] as usize, n);
}

#[test]
fn forest_round_trips_through_serde_and_arrays() {
    let r = reference("forest_multiclass.h5");
    let params = ForestParams {
        n_estimators: 5,
        oob_score: true,
        ..ForestParams::default()
    };
    let forest = RandomForest::fit(&params, &r.train).unwrap();
    let bytes = bincode::serde::encode_to_vec(&forest, bincode::config::standard()).unwrap();
    let (back, _): (Forest, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(back, forest);
    let json = serde_json::to_string(&forest).unwrap();
    let back: Forest = serde_json::from_str(&json).unwrap();
    assert_eq!(back.classes(), forest.classes());
    assert_eq!(
        back.predict(r.test.x.view()).unwrap(),
        forest.predict(r.test.x.view()).unwrap()
    );
    // Arrays, as a job writes them to HDF5.
    let trees: Vec<DecisionTree> = forest
        .trees()
        .iter()
        .map(|t| DecisionTree::from_arrays(t.to_arrays()).unwrap())
        .collect();
    let loaded = Forest::new(forest.classes().to_vec(), forest.n_features(), trees).unwrap();
    assert_eq!(
        loaded.predict_proba(r.test.x.view()).unwrap(),
        forest.predict_proba(r.test.x.view()).unwrap()
    );
    // A model for other data is refused with a clear message.
    let err = Forest::new(
        vec!["a".into(), "b".into()],
        forest.n_features(),
        forest.trees().to_vec(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("classes"), "{err}");
    let err = Forest::new(forest.classes().to_vec(), 4, forest.trees().to_vec())
        .unwrap_err()
        .to_string();
    assert!(err.contains("features"), "{err}");
    assert!(Forest::new(forest.classes().to_vec(), forest.n_features(), vec![]).is_err());
    let err = forest
        .predict(Array2::zeros((2, 3)).view())
        .unwrap_err()
        .to_string();
    assert!(err.contains("features"), "{err}");
    // Labels.
    let labels = forest.predict_labels(r.test.x.view()).unwrap();
    assert!(labels.iter().all(|l| forest.classes().contains(l)));
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let r = reference("forest_multiclass.h5");
    let d = ForestParams::default;
    let mut map = std::collections::BTreeMap::new();
    map.insert("7".to_string(), 2.0);
    let cases: Vec<(ForestParams, &str)> = vec![
        (
            ForestParams {
                n_estimators: 0,
                ..d()
            },
            "n_estimators",
        ),
        (
            ForestParams {
                max_features: MaxFeatures::Count(11),
                ..d()
            },
            "max_features",
        ),
        (
            ForestParams {
                max_features: MaxFeatures::Count(0),
                ..d()
            },
            "max_features",
        ),
        (
            ForestParams {
                max_features: MaxFeatures::Fraction(1.5),
                ..d()
            },
            "max_features",
        ),
        (
            ForestParams {
                min_samples_leaf: SampleCount::Count(0),
                ..d()
            },
            "min_samples_leaf",
        ),
        (
            ForestParams {
                min_samples_split: SampleCount::Count(1),
                ..d()
            },
            "min_samples_split",
        ),
        (
            ForestParams {
                max_samples: Some(SampleCount::Fraction(1.5)),
                ..d()
            },
            "max_samples",
        ),
        (
            ForestParams {
                max_samples: Some(SampleCount::Fraction(0.0)),
                ..d()
            },
            "max_samples",
        ),
        (
            ForestParams {
                max_samples: Some(SampleCount::Count(0)),
                ..d()
            },
            "max_samples",
        ),
        (
            ForestParams {
                max_samples: Some(SampleCount::Count(10)),
                bootstrap: false,
                ..d()
            },
            "max_samples",
        ),
        (
            ForestParams {
                max_depth: Some(0),
                ..d()
            },
            "max_depth",
        ),
        (
            ForestParams {
                oob_score: true,
                bootstrap: false,
                ..d()
            },
            "oob_score",
        ),
        (
            ForestParams {
                class_weight: ClassWeight::Map(map),
                ..d()
            },
            "class_weight",
        ),
        (
            ForestParams {
                max_leaf_nodes: Some(1),
                ..d()
            },
            "max_leaf_nodes",
        ),
    ];
    for (params, name) in cases {
        match RandomForest::fit(&params, &r.train) {
            Err(ForestError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!(
                "{name}: expected a parameter error, got {:?}",
                other.map(|_| ())
            ),
        }
    }
}

#[test]
fn parameters_deserialise_from_grid_values() {
    let p: ForestParams = toml::from_str(
        "n_estimators = 300\nmax_features = 'log2'\nclass_weight = 'balanced_subsample'\nmax_samples = 0.8\noob_score = true\ncriterion = 'entropy'",
    )
    .unwrap();
    assert_eq!(p.n_estimators, 300);
    assert_eq!(p.max_features, MaxFeatures::Log2);
    assert_eq!(p.class_weight, ClassWeight::BalancedSubsample);
    assert_eq!(p.max_samples, Some(SampleCount::Fraction(0.8)));
    assert!(p.bootstrap && p.oob_score);
    let p: ForestParams = toml::from_str("class_weight = { 0 = 1, 1 = 2.5 }").unwrap();
    let mut map = std::collections::BTreeMap::new();
    map.insert("0".to_string(), 1.0);
    map.insert("1".to_string(), 2.5);
    assert_eq!(p.class_weight, ClassWeight::Map(map));
    // A grid search builds a table of toml values.
    let mut table = toml::Table::new();
    table.insert("n_estimators".into(), toml::Value::Integer(10));
    table.insert("max_features".into(), toml::Value::Float(0.5));
    let p: ForestParams = toml::Value::Table(table).try_into().unwrap();
    assert_eq!(
        (p.n_estimators, p.max_features),
        (10, MaxFeatures::Fraction(0.5))
    );
    assert_eq!(
        toml::from_str::<ForestParams>("").unwrap(),
        ForestParams::default()
    );
    for (text, needle) in [
        ("n_estimators = 0", "n_estimators"),
        ("n_jobs = 2", "n_jobs"),
        ("max_samples = 1.5", "max_samples"),
        ("max_samples = 0", "max_samples"),
        ("max_depth = 0", "max_depth"),
        ("min_samples_leaf = 0", "min_samples_leaf"),
        ("min_samples_split = 1", "min_samples_split"),
        ("max_features = 'half'", "max_features"),
        ("class_weight = 'even'", "class_weight"),
        ("bootstrap = false\noob_score = true", "oob_score"),
    ] {
        let err = toml::from_str::<ForestParams>(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
    // Round trips.
    let p = ForestParams {
        class_weight: ClassWeight::Balanced,
        max_samples: Some(SampleCount::Count(100)),
        max_features: MaxFeatures::Count(3),
        ..ForestParams::default()
    };
    let back: ForestParams = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let back: ForestParams = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let bytes = bincode::serde::encode_to_vec(&p, bincode::config::standard()).unwrap();
    let (back, _): (ForestParams, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn oob_score_leaves_out_rows_never_out_of_bag() {
    let r = reference("forest_multiclass.h5");
    let params = ForestParams {
        n_estimators: 2,
        oob_score: true,
        ..ForestParams::default()
    };
    let forest = RandomForest::fit(&params, &r.train).unwrap();
    let oob = forest.oob_score().unwrap();
    // With two trees about e^-2 of the rows... are in both bags: (1 - e^-1)^2 of them.
    let expected = (1.0 - (-1f64).exp()).powi(2) * r.train.y.len() as f64;
    assert!(
        (oob.n_never_oob as f64 - expected).abs() < 0.15 * expected,
        "{oob:?}"
    );
    assert_eq!(oob.n_scored + oob.n_never_oob, r.train.y.len());
    assert!(oob.warning().unwrap().contains("out-of-bag"));
    assert!(oob.score > 0.5 && oob.score < 1.0);
}

#[test]
fn class_weights_shape_the_bootstrap_or_the_weights() {
    let r = reference("forest_multiclass.h5");
    let n = r.train.x.nrows();
    // A class of weight 0 is never drawn: no tree ever votes for it.
    let mut map = std::collections::BTreeMap::new();
    map.insert("2".to_string(), 0.0);
    let params = ForestParams {
        n_estimators: 5,
        class_weight: ClassWeight::Map(map.clone()),
        ..ForestParams::default()
    };
    let forest = RandomForest::fit(&params, &r.train).unwrap();
    let proba = forest.predict_proba(r.test.x.view()).unwrap();
    assert!(proba.column(2).iter().all(|&p| p == 0.0));
    for t in forest.trees() {
        // Counts only: the draws were weighted, the tree weights are whole numbers.
        let w = t.to_arrays().weighted_n_node_samples[0];
        assert_eq!(w, w.round());
    }
    // Without bootstrap the weights go to the trees: "balanced" weights sum to n.
    let params = ForestParams {
        n_estimators: 2,
        bootstrap: false,
        class_weight: ClassWeight::Balanced,
        ..ForestParams::default()
    };
    let trainer = ForestTrainer::new(&params, &r.train).unwrap();
    let t = trainer.grow_tree(0, 0).unwrap();
    let root = t.tree.to_arrays();
    assert!((root.weighted_n_node_samples[0] - n as f64).abs() < 1e-9);
    let fractions = root.value.row(0).to_vec();
    for f in fractions {
        assert!(
            (f - 1.0 / 3.0).abs() < 1e-12,
            "balanced classes weigh the same: {f}"
        );
    }
    // "balanced_subsample": uniform draws, counts times weights balanced on the drawn sample, so
    // the root's class fractions are equal too.
    let params = ForestParams {
        n_estimators: 2,
        class_weight: ClassWeight::BalancedSubsample,
        ..ForestParams::default()
    };
    let t = ForestTrainer::new(&params, &r.train)
        .unwrap()
        .grow_tree(1, 0)
        .unwrap();
    for f in t.tree.to_arrays().value.row(0) {
        assert!((f - 1.0 / 3.0).abs() < 1e-12);
    }
    // The per-sample class weight of a map applies without bootstrap.
    map.insert("0".to_string(), 2.0);
    let params = ForestParams {
        n_estimators: 1,
        bootstrap: false,
        class_weight: ClassWeight::Map(map),
        ..ForestParams::default()
    };
    let t = ForestTrainer::new(&params, &r.train)
        .unwrap()
        .grow_tree(0, 0)
        .unwrap();
    let zeros = r.train.y.iter().filter(|&&c| c == 0).count() as f64;
    let ones = r.train.y.iter().filter(|&&c| c == 1).count() as f64;
    assert_eq!(
        t.tree.to_arrays().weighted_n_node_samples[0],
        2.0 * zeros + ones
    );
    assert_eq!(t.tree.to_arrays().n_node_samples[0] as f64, zeros + ones);
}
