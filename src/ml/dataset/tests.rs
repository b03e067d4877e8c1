//! Dataset tests: label order, check_folds, digits against scikit-learn's checksum,
//! make_classification's structure, parameters and difficulty against scikit-learn's
//! (tests/reference/*.json).

use super::*;
use crate::ml::cv::StratifiedKFold;
use crate::ml::linear::LogisticRegression;
use crate::ml::metrics::accuracy;
use ndarray::{s, Array1};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn reference(name: &str) -> Value {
    let path = format!("{}/tests/reference/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference file")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// labels
// ---------------------------------------------------------------------------------------------

#[test]
fn labels_sort_like_np_unique() {
    let (y, classes) = encode_labels(&["10", "2", "-1", "2", "007"]);
    assert_eq!(classes, ["-1", "2", "7", "10"]);
    assert_eq!(y, [3, 1, 0, 1, 2]);
    let (y, classes) = encode_labels(&["b", "B", "a", "10", "9"]);
    assert_eq!(classes, ["10", "9", "B", "a", "b"]);
    assert_eq!(y, [4, 2, 3, 0, 1]);
}

// ---------------------------------------------------------------------------------------------
// folds, selection
// ---------------------------------------------------------------------------------------------

#[test]
fn check_folds_names_the_short_class() {
    let data = Dataset::from_labels(
        Array2::zeros((7, 1)),
        &["a", "b", "a", "c", "a", "b", "a"],
        "test",
    )
    .unwrap();
    assert!(check_folds(&data, 1).is_err());
    let err = check_folds(&data, 2).unwrap_err().to_string();
    assert!(
        err.contains("class `c`") && err.contains("1 member"),
        "{err}"
    );
    assert!(err.contains("2 folds"), "{err}");
    let ok = data.select(&[0, 1, 2, 5]);
    check_folds(&ok, 2).unwrap();
    assert!(check_folds(&ok, 5).is_err());
    assert_eq!(ok.classes, data.classes);
    assert_eq!(ok.class_counts(), [2, 2, 0]);
}

// ---------------------------------------------------------------------------------------------
// digits
// ---------------------------------------------------------------------------------------------

#[test]
fn digits_are_sklearns() {
    let r = reference("digits.json");
    let data = digits();
    assert_eq!(data.x.dim(), (1797, 64));
    let bytes: Vec<u8> = data.x.iter().map(|&v| v as u8).collect();
    assert!(data.x.iter().all(|&v| v == (v as u8) as f64 && v <= 16.0));
    let hex = |b: &[u8]| format!("{:x}", Sha256::digest(b));
    assert_eq!(hex(&bytes), r["sha256_x"].as_str().unwrap(), "X differs");
    let labels: Vec<u8> = data.y.iter().map(|&c| c as u8).collect();
    assert_eq!(hex(&labels), r["sha256_y"].as_str().unwrap(), "y differs");
    assert_eq!(
        data.classes,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
}

// ---------------------------------------------------------------------------------------------
// make_classification
// ---------------------------------------------------------------------------------------------

#[test]
fn make_classification_shape_balance_and_determinism() {
    let p = MakeClassification {
        n_samples: 1000,
        flip_y: 0.0,
        ..Default::default()
    };
    let a = make_classification(&p).unwrap();
    assert_eq!(a.x.dim(), (1000, 20));
    assert_eq!(a.class_counts(), [500, 500]);
    assert_eq!(a.classes, ["0", "1"]);
    assert_eq!(a, make_classification(&p).unwrap());
    let b = make_classification(&MakeClassification {
        random_state: 1,
        ..p.clone()
    })
    .unwrap();
    assert_ne!(a.x, b.x);

    // weights: n_classes - 1 given, the last completes them
    let w = make_classification(&MakeClassification {
        n_samples: 1000,
        n_classes: 3,
        n_informative: 3,
        weights: Some(vec![0.6, 0.3]),
        flip_y: 0.0,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(w.class_counts(), [600, 300, 100]);

    // flip_y replaces about that fraction of labels (half of them by the same label)
    let f = make_classification(&MakeClassification {
        n_samples: 4000,
        flip_y: 0.5,
        shuffle: false,
        ..Default::default()
    })
    .unwrap();
    let unflipped = make_classification(&MakeClassification {
        n_samples: 4000,
        flip_y: 0.0,
        shuffle: false,
        ..Default::default()
    })
    .unwrap();
    let changed = f.y.iter().zip(&unflipped.y).filter(|(a, b)| a != b).count();
    assert!((800..1200).contains(&changed), "{changed} labels changed");
}

#[test]
fn make_classification_feature_structure() {
    let p = MakeClassification {
        n_samples: 2000,
        n_features: 10,
        n_informative: 3,
        n_redundant: 2,
        n_repeated: 2,
        shuffle: false,
        random_state: 9,
        ..Default::default()
    };
    let d = make_classification(&p).unwrap();
    let x = &d.x;
    // redundant columns are exact linear combinations of the informative ones: regress them
    let inf = x.slice(s![.., ..3]);
    let gram = inf.t().dot(&inf);
    for r in 3..5 {
        let target = x.column(r);
        let rhs = inf.t().dot(&target);
        let coef = solve3(&gram, &rhs);
        let residual = &target - &inf.dot(&coef);
        let rel = residual.mapv(|v| v * v).sum().sqrt() / target.mapv(|v| v * v).sum().sqrt();
        assert!(rel < 1e-9, "column {r} is not a combination: {rel}");
    }
    // repeated columns copy an earlier column
    for r in 5..7 {
        assert!((0..5).any(|c| x.column(c) == x.column(r)), "column {r}");
    }
    // noise columns are standard normal
    for c in 7..10 {
        let col = x.column(c);
        let mean = col.mean().unwrap();
        let var = col.mapv(|v| (v - mean).powi(2)).mean().unwrap();
        assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.1, "{mean} {var}");
    }
    // cluster centres at ±class_sep: the informative means per class are well apart
    let class_mean = |k: usize| {
        let rows: Vec<usize> = (0..d.y.len()).filter(|&i| d.y[i] == k).collect();
        x.select(ndarray::Axis(0), &rows)
            .slice(s![.., ..3])
            .mean_axis(ndarray::Axis(0))
            .unwrap()
    };
    assert!((class_mean(0) - class_mean(1)).mapv(f64::abs).sum() > 0.3);

    // shift and scale: None draws them per feature
    let scaled = make_classification(&MakeClassification {
        scale: None,
        shift: None,
        n_samples: 500,
        ..Default::default()
    })
    .unwrap();
    let spreads: Vec<f64> = scaled.x.columns().into_iter().map(|c| c.std(0.0)).collect();
    let (lo, hi) = spreads
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(*v), h.max(*v)));
    assert!(hi / lo > 3.0, "scales {lo}..{hi}");
}

fn solve3(a: &Array2<f64>, b: &Array1<f64>) -> Array1<f64> {
    // Gaussian elimination with partial pivoting for the small normal equations
    let n = b.len();
    let mut m = a.clone();
    let mut v = b.clone();
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| m[[i, k]].abs().total_cmp(&m[[j, k]].abs()))
            .unwrap();
        for j in 0..n {
            m.swap([k, j], [p, j]);
        }
        v.swap(k, p);
        for i in k + 1..n {
            let f = m[[i, k]] / m[[k, k]];
            for j in k..n {
                m[[i, j]] -= f * m[[k, j]];
            }
            v[i] -= f * v[k];
        }
    }
    let mut out = Array1::zeros(n);
    for k in (0..n).rev() {
        let tail: f64 = (k + 1..n).map(|j| m[[k, j]] * out[j]).sum();
        out[k] = (v[k] - tail) / m[[k, k]];
    }
    out
}

#[test]
fn make_classification_refuses_bad_parameters() {
    let bad = |p: MakeClassification, name: &str| {
        let err = make_classification(&p).unwrap_err();
        assert_eq!(err.parameter, name, "{err}");
        assert!(err.to_string().contains(name));
    };
    bad(
        MakeClassification {
            n_features: 3,
            ..Default::default()
        },
        "n_features",
    );
    bad(
        MakeClassification {
            n_classes: 3,
            ..Default::default()
        },
        "n_informative",
    );
    bad(
        MakeClassification {
            weights: Some(vec![0.2, 0.3, 0.5]),
            ..Default::default()
        },
        "weights",
    );
    bad(
        MakeClassification {
            flip_y: 1.5,
            ..Default::default()
        },
        "flip_y",
    );
    bad(
        MakeClassification {
            n_samples: 0,
            ..Default::default()
        },
        "n_samples",
    );
    let parsed: MakeClassification =
        serde_json::from_str(r#"{"n_samples": 50, "class_sep": 2.0, "weights": [0.9]}"#).unwrap();
    assert_eq!(parsed.n_samples, 50);
    assert_eq!(parsed.n_features, 20);
    assert_eq!(make_classification(&parsed).unwrap().x.dim(), (50, 20));
}

fn mean_cv_accuracy(p: &MakeClassification) -> f64 {
    let data = make_classification(p).unwrap();
    let folds = StratifiedKFold {
        n_splits: 5,
        shuffle: None,
    }
    .split(&data.y)
    .unwrap();
    let model = LogisticRegression::new(1.0, 1000, 1e-4).unwrap();
    folds
        .iter()
        .map(|(train, test)| {
            let fitted = model.fit_dataset(&data.select(train)).unwrap();
            let test = data.select(test);
            accuracy(&test.y, &fitted.predict(test.x.view()))
        })
        .sum::<f64>()
        / folds.len() as f64
}

/// Same distribution as scikit-learn's: a logistic regression's 5-fold accuracy, averaged over
/// 20 seeds, is within sampling error (3 standard errors of the difference, plus a point) of
/// scikit-learn's on its own data, and so are the class proportions.
#[test]
fn make_classification_is_as_hard_as_sklearns() {
    let r = reference("make_classification.json");
    for case in r["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let seeds = case["seeds"].as_u64().unwrap();
        let mut params: MakeClassification =
            serde_json::from_value(case["params"].clone()).unwrap();
        let mut accs = Vec::new();
        let mut fraction0 = 0.0;
        for seed in 0..seeds {
            params.random_state = seed;
            accs.push(mean_cv_accuracy(&params));
            let data = make_classification(&params).unwrap();
            fraction0 += data.class_counts()[0] as f64 / data.n_samples() as f64;
        }
        let ours = accs.iter().sum::<f64>() / accs.len() as f64;
        let theirs = case["mean_cv_accuracy"].as_f64().unwrap();
        let sd = case["std_cv_accuracy"].as_f64().unwrap();
        let tolerance = 3.0 * (2.0f64).sqrt() * sd / (seeds as f64).sqrt() + 0.01;
        assert!(
            (ours - theirs).abs() <= tolerance,
            "{name}: our data {ours:.4}, sklearn's {theirs:.4} (tolerance {tolerance:.4})"
        );
        let theirs0 = case["mean_class_fractions"][0].as_f64().unwrap();
        assert!(
            (fraction0 / seeds as f64 - theirs0).abs() < 0.01,
            "{name}: class 0 fraction"
        );
    }
}
