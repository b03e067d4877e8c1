//! Metric tests against scikit-learn's values (tests/reference/metrics.json) and small cases.

use super::*;
use serde_json::Value;

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn metrics_match_sklearn() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/metrics.json");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for case in r["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let t = usizes(&case["y_true"]);
        let p = usizes(&case["y_pred"]);
        let rows: Vec<Vec<f64>> = serde_json::from_value(case["proba"].clone()).unwrap();
        let proba = Array2::from_shape_vec((rows.len(), k), rows.concat()).unwrap();
        let close = |ours: f64, key: &str| {
            let theirs = case[key].as_f64().unwrap();
            assert!(
                (ours - theirs).abs() < 1e-12,
                "{name} {key}: ours {ours}, sklearn {theirs}"
            );
        };
        close(accuracy(&t, &p), "accuracy");
        close(balanced_accuracy(&t, &p), "balanced_accuracy");
        close(f1_macro(&t, &p), "f1_macro");
        close(log_loss(&t, proba.view()), "log_loss");
        let cm: Vec<Vec<u64>> = serde_json::from_value(case["confusion_matrix"].clone()).unwrap();
        let cm = Array2::from_shape_vec((k, k), cm.concat()).unwrap();
        assert_eq!(confusion_matrix(&t, &p, k), cm, "{name} confusion matrix");
    }
}

#[test]
fn small_cases() {
    assert_eq!(accuracy(&[0, 1, 1, 0], &[0, 1, 0, 0]), 0.75);
    // recall 1/2 for class 0, 1/1 for class 1
    assert_eq!(balanced_accuracy(&[0, 0, 1], &[0, 1, 1]), 0.75);
    assert_eq!(f1_macro(&[0, 0], &[0, 0]), 1.0);
    let p = ndarray::array![[1.0, 0.0], [0.0, 1.0]];
    assert!(log_loss(&[0, 1], p.view()) < 1e-15);
    let worst = log_loss(&[1, 0], p.view());
    assert!((worst + f64::EPSILON.ln()).abs() < 1e-9, "{worst}");
}
