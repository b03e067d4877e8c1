//! Logistic regression tests: parameter validation, coefficients and probabilities against
//! scikit-learn's (tests/reference/logreg.json), the digits accuracy at max_iter 100
//! (tests/reference/digits.json), labels and serde.

use super::*;
use crate::ml::dataset::digits;
use crate::ml::metrics::accuracy;
use serde_json::Value;

fn reference(name: &str) -> Value {
    let path = format!("{}/tests/reference/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference file")).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn parameters_are_validated() {
    let err = LogisticRegression::new(0.0, 100, 1e-4).unwrap_err();
    assert!(err.to_string().contains("C must be"), "{err}");
    let err = LogisticRegression::new(1.0, 100, -1.0).unwrap_err();
    assert!(err.to_string().contains("tol"), "{err}");
    let err = LogisticRegression::new(1.0, 0, 1e-4).unwrap_err();
    assert!(err.to_string().contains("max_iter"), "{err}");
    assert!(LogisticRegression::new(f64::NAN, 10, 1e-4).is_err());
    let bad = LogisticRegression {
        c: -1.0,
        ..Default::default()
    };
    let x = Array2::zeros((4, 2));
    assert_eq!(
        bad.fit(x.view(), &[0, 1, 0, 1]),
        Err(LogisticError::C(-1.0))
    );
    let ok = LogisticRegression::default();
    assert_eq!(
        ok.fit(x.view(), &[0, 0, 0, 0]),
        Err(LogisticError::OneClass(1))
    );
    assert!(matches!(
        ok.fit(x.view(), &[0, 1]),
        Err(LogisticError::Length { .. })
    ));
    let parsed: LogisticRegression =
        serde_json::from_str(r#"{"C": 0.5, "max_iter": 7, "tol": 0.001}"#).unwrap();
    assert_eq!(parsed, LogisticRegression::new(0.5, 7, 1e-3).unwrap());
    let partial: LogisticRegression = toml::from_str("C = 10.0").unwrap();
    assert_eq!(partial, LogisticRegression::new(10.0, 100, 1e-4).unwrap());
    assert!(toml::from_str::<LogisticRegression>("penalty = \"l1\"").is_err());
}

/// Coefficients, intercepts, accuracy and probabilities against scikit-learn's on small
/// make_classification problems (binary and multinomial), both fitted to convergence.
#[test]
fn matches_sklearn_on_small_problems() {
    let r = reference("logreg.json");
    for case in r["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = matrix(&case["X"]);
        let y = usizes(&case["y"]);
        let n_train = case["n_train"].as_u64().unwrap() as usize;
        let c = case["C"].as_f64().unwrap();
        let model = LogisticRegression::new(c, 10_000, 1e-8)
            .unwrap()
            .fit(x.slice(ndarray::s![..n_train, ..]), &y[..n_train])
            .unwrap();
        assert!(model.converged(), "{name}: {:?}", model.warning());

        // scikit-learn's lbfgs answer, and the exact optimum (Newton)
        let coef = matrix(&case["coef"]);
        let exact = matrix(&case["coef_exact"]);
        assert_eq!(model.coef().dim(), coef.dim(), "{name}: coef shape");
        let intercept: Vec<f64> = serde_json::from_value(case["intercept"].clone()).unwrap();
        let norm = coef.iter().map(|v| v * v).sum::<f64>().sqrt();
        let max_diff = |a: ArrayView2<f64>, b: &Array2<f64>| {
            (&a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()))
        };
        let diff = max_diff(model.coef(), &coef);
        let sklearn_off = max_diff(coef.view(), &exact) / norm;
        if sklearn_off < 1e-4 {
            // well conditioned: both solvers converge to the optimum
            assert!(diff / norm < 1e-4, "{name}: coef diff {diff} (norm {norm})");
            for (a, b) in model.intercept().iter().zip(&intercept) {
                assert!(
                    (a - b).abs() < 1e-4 * norm.max(1.0),
                    "{name}: intercept {a} vs {b}"
                );
            }
        } else {
            // ill conditioned (features scaled up to 100x): lbfgs stops on its relative-reduction
            // test where the objective is flat, scikit-learn's own answer 1.5% off the optimum;
            // ours must be as near the optimum in objective, and near in coefficients
            assert!(diff / norm < 5e-2, "{name}: coef diff {diff} (norm {norm})");
            let ours_off = max_diff(model.coef(), &exact) / norm;
            assert!(ours_off < 5e-2, "{name}: {ours_off} off the optimum");
        }
        let ours = objective(
            &model,
            x.slice(ndarray::s![..n_train, ..]),
            &y[..n_train],
            c,
        );
        let best = case["objective_exact"].as_f64().unwrap();
        let theirs = case["objective"].as_f64().unwrap();
        assert!(
            ours - best <= 1e-7 * best && ours - best <= 10.0 * (theirs - best).max(1e-9 * best),
            "{name}: objective {ours}, sklearn {theirs}, optimum {best}"
        );

        let test = x.slice(ndarray::s![n_train.., ..]);
        let acc = accuracy(&y[n_train..], &model.predict(test));
        let sk_acc = case["test_accuracy"].as_f64().unwrap();
        assert!(
            (acc - sk_acc).abs() <= 0.005,
            "{name}: accuracy {acc} vs {sk_acc}"
        );
        let proba = model.predict_proba(test);
        let sk_proba = matrix(&case["test_proba"]);
        let pdiff = (&proba - &sk_proba)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(pdiff < 1e-4, "{name}: probabilities differ by {pdiff}");
        for row in proba.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
    }
}

/// C · Σ log-loss + ½‖W‖² at a fitted model.
fn objective(model: &LogisticModel, x: ArrayView2<f64>, y: &[usize], c: f64) -> f64 {
    let proba = model.predict_proba(x);
    let loss: f64 = y
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let k = model.classes().iter().position(|c| c == label).unwrap();
            -proba[[i, k]].ln()
        })
        .sum();
    c * loss + 0.5 * model.coef().iter().map(|v| v * v).sum::<f64>()
}

fn digits_split() -> (Dataset, Dataset, Value) {
    let r = reference("digits.json");
    let data = digits();
    let train = data.select(&usizes(&r["train"]));
    let test = data.select(&usizes(&r["test"]));
    (train, test, r)
}

/// The notebook's digits fit: max_iter 100 (not converged, as in scikit-learn) gives
/// scikit-learn's test accuracy 0.9511 within 0.005.
#[test]
fn digits_accuracy_matches_sklearn() {
    let (train, test, r) = digits_split();
    assert_eq!(train.x.dim(), (1347, 64));
    let model = LogisticRegression::default().fit_dataset(&train).unwrap();
    let acc = accuracy(&test.y, &model.predict(test.x.view()));
    let sk = r["accuracy"].as_f64().unwrap();
    assert!(
        (acc - sk).abs() <= 0.005,
        "digits accuracy {acc}, sklearn {sk}"
    );
    assert_eq!(model.n_iter(), 100);
    assert!(!model.converged());
    assert!(model.warning().unwrap().contains("100 iteration"));
    assert_eq!(model.coef().dim(), (10, 64));

    // to convergence: scikit-learn needs 147 iterations and scores 0.9533
    let full = LogisticRegression::new(1.0, 10_000, 1e-4)
        .unwrap()
        .fit_dataset(&train)
        .unwrap();
    assert!(full.converged());
    let acc = accuracy(&test.y, &full.predict(test.x.view()));
    let sk = r["converged_accuracy"].as_f64().unwrap();
    assert!(
        (acc - sk).abs() <= 0.005,
        "converged accuracy {acc}, sklearn {sk}"
    );
    let sk_iter = r["converged_n_iter"].as_u64().unwrap() as f64;
    assert!(
        (full.n_iter() as f64 - sk_iter).abs() <= 0.3 * sk_iter,
        "{} iterations, sklearn {sk_iter}",
        full.n_iter()
    );
}

#[test]
fn labels_and_serde_round_trip() {
    // labels 2 and 5 of a wider class list; the model answers in those labels
    let x = ndarray::array![[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]];
    let y = [2, 2, 2, 5, 5, 5];
    let model = LogisticRegression::default().fit(x.view(), &y).unwrap();
    assert_eq!(model.classes(), &[2, 5]);
    assert_eq!(model.predict(x.view()), y.to_vec());
    assert_eq!(model.coef().dim(), (1, 1));
    assert!(model.coef()[[0, 0]] > 0.0);
    let json = serde_json::to_string(&model).unwrap();
    let back: LogisticModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
}
