//! Tests of the SVC: agreement with scikit-learn's answers in tests/reference/svc_*.h5 (written
//! by scripts/reference/svc.py, svc_sigmoid.py and svc_grid_splits.py), shrinking on/off, the
//! workspace's shared fits, serde, and the refusal of every invalid parameter or data.

use hdf5::types::VarLenUnicode;
use ndarray::{Array1, Array2, ArrayView2};

use super::*;

struct Reference {
    x_train: Array2<f64>,
    y_train: Vec<usize>,
    x_test: Array2<f64>,
    y_test: Vec<usize>,
    classes: Vec<String>,
    file: hdf5::File,
}

fn reference(name: &str) -> Reference {
    let path = format!("{}/tests/reference/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = hdf5::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let x = |n: &str| file.dataset(n).unwrap().read_2d::<f64>().unwrap();
    let y = |n: &str| -> Vec<usize> {
        let v = file.dataset(n).unwrap().read_raw::<i64>().unwrap();
        v.into_iter().map(|v| v as usize).collect()
    };
    let y_train = y("y_train");
    let k = y_train.iter().max().unwrap() + 1;
    Reference {
        x_train: x("x_train"),
        x_test: x("x_test"),
        y_test: y("y_test"),
        y_train,
        classes: (0..k).map(|c| c.to_string()).collect(),
        file,
    }
}

struct Case {
    name: String,
    params: SvcParams,
    gamma: f64,
    accuracy: f64,
    group: hdf5::Group,
}

impl Case {
    fn array(&self, name: &str) -> Array2<f64> {
        self.group.dataset(name).unwrap().read_2d::<f64>().unwrap()
    }
    fn ints(&self, name: &str) -> Vec<usize> {
        let v = self.group.dataset(name).unwrap().read_raw::<i64>().unwrap();
        v.into_iter().map(|v| v as usize).collect()
    }
}

fn cases(r: &Reference) -> Vec<Case> {
    let group = r.file.group("cases").unwrap();
    let mut names = group.member_names().unwrap();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let g = group.group(&name).unwrap();
            let json = g
                .attr("params")
                .unwrap()
                .read_scalar::<VarLenUnicode>()
                .unwrap();
            let params: SvcParams = serde_json::from_str(json.as_str())
                .unwrap_or_else(|e| panic!("{name}: {e}: {}", json.as_str()));
            Case {
                gamma: g.attr("gamma_value").unwrap().read_scalar::<f64>().unwrap(),
                accuracy: g.attr("accuracy").unwrap().read_scalar::<f64>().unwrap(),
                name,
                params,
                group: g,
            }
        })
        .collect()
}

fn accuracy(pred: &[usize], y: &[usize]) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

/// |a − b| <= rel · max(1, |b|) everywhere.
fn assert_close(what: &str, ours: ArrayView2<f64>, theirs: ArrayView2<f64>, rel: f64) {
    assert_eq!(ours.dim(), theirs.dim(), "{what}: shapes");
    let mut worst: f64 = 0.0;
    for (a, b) in ours.iter().zip(theirs.iter()) {
        worst = worst.max((a - b).abs() / b.abs().max(1.0));
    }
    assert!(
        worst <= rel,
        "{what}: worst relative difference {worst:.2e} > {rel:.0e}"
    );
}

fn check_against_sklearn(file: &str) {
    let r = reference(file);
    for case in cases(&r) {
        let what = format!("{file} {}", case.name);
        let svc = case.params.build().unwrap();
        let model = svc.fit(r.x_train.view(), &r.y_train, &r.classes).unwrap();
        assert!(model.converged(), "{what}");
        assert!(
            (model.kernel().gamma - case.gamma).abs() <= 1e-12 * case.gamma,
            "{what}: gamma {} vs {}",
            model.kernel().gamma,
            case.gamma
        );

        let pred = model.predict(r.x_test.view()).unwrap();
        let theirs = case.ints("predict");
        let agree = accuracy(&pred, &theirs);
        assert!(agree >= 0.995, "{what}: predictions agree on {agree}");
        let acc = accuracy(&pred, &r.y_test);
        assert!(
            (acc - case.accuracy).abs() <= 0.005,
            "{what}: accuracy {acc} vs {}",
            case.accuracy
        );

        let ns = case.ints("n_support");
        assert_eq!(model.n_support().len(), ns.len(), "{what}");
        for (a, b) in model.n_support().iter().zip(&ns) {
            let allowed = (0.01 * *b as f64).ceil().max(1.0) as usize;
            assert!(
                a.abs_diff(*b) <= allowed,
                "{what}: n_support {:?} vs {ns:?}",
                model.n_support()
            );
        }
        let support = case.ints("support");
        let common = model
            .support_indices()
            .iter()
            .filter(|i| support.contains(i))
            .count();
        assert!(
            common as f64 >= 0.98 * support.len() as f64,
            "{what}: only {common} of {} support vectors shared",
            support.len()
        );

        let dec = model.decision_function(r.x_test.view()).unwrap();
        assert_close(
            &format!("{what} decision"),
            dec.view(),
            case.array("decision").view(),
            1e-2,
        );
        if r.classes.len() > 2 {
            let ovo = model.decision_function_ovo(r.x_test.view()).unwrap();
            assert_close(
                &format!("{what} ovo"),
                ovo.view(),
                case.array("decision_ovo").view(),
                1e-2,
            );
        }
        let b = Array1::from(
            case.group
                .dataset("intercept")
                .unwrap()
                .read_raw::<f64>()
                .unwrap(),
        );
        let ours_b = Array1::from(model.intercept());
        assert_close(
            &format!("{what} intercept"),
            ours_b.view().insert_axis(ndarray::Axis(0)),
            b.view().insert_axis(ndarray::Axis(0)),
            2e-2,
        );
        assert_eq!(
            model.dual_coef().dim(),
            (r.classes.len() - 1, model.support_indices().len())
        );

        if case.params.probability {
            let proba = model.predict_proba(r.x_test.view()).unwrap();
            for row in proba.outer_iter() {
                assert!(
                    (row.sum() - 1.0).abs() < 1e-9,
                    "{what}: proba row sums to {}",
                    row.sum()
                );
                assert!(row.iter().all(|p| (0.0..=1.0).contains(p)));
            }
            let theirs = case.array("proba");
            let mad = (&proba - &theirs).mapv(f64::abs).mean().unwrap();
            assert!(mad < 0.05, "{what}: mean |proba difference| {mad}");
        } else {
            assert_eq!(
                model.predict_proba(r.x_test.view()),
                Err(SvmError::NoProbability)
            );
        }
    }
}

#[test]
fn binary_matches_sklearn() {
    check_against_sklearn("svc_binary.h5");
}

#[test]
fn class_weights_match_sklearn() {
    check_against_sklearn("svc_imbalanced.h5");
}

#[test]
fn multiclass_matches_sklearn() {
    check_against_sklearn("svc_multiclass.h5");
}

#[test]
fn shrinking_on_and_off_reach_the_same_solution() {
    let r = reference("svc_binary.h5");
    for kernel in [Kernel::Rbf, Kernel::Poly, Kernel::Linear] {
        let fit = |shrinking| {
            SvcParams {
                kernel,
                shrinking,
                tol: 1e-5,
                ..SvcParams::default()
            }
            .build()
            .unwrap()
            .fit(r.x_train.view(), &r.y_train, &r.classes)
            .unwrap()
        };
        let (on, off) = (fit(true), fit(false));
        let (a, b) = (
            on.decision_function(r.x_test.view()).unwrap(),
            off.decision_function(r.x_test.view()).unwrap(),
        );
        assert_close(
            &format!("{kernel} shrinking on/off"),
            a.view(),
            b.view(),
            1e-3,
        );
        assert_eq!(on.n_support(), off.n_support(), "{kernel}");
    }
}

#[test]
fn workspace_shares_work_and_reaches_the_same_optimum() {
    let r = reference("svc_binary.h5");
    let mut ws = SvcWorkspace::new(r.x_train.view(), &r.y_train, &r.classes).unwrap();
    let mut computed = 0;
    for c in [0.1, 1.0, 10.0, 2.0] {
        for shrinking in [true, false] {
            let svc = SvcParams {
                c,
                shrinking,
                ..SvcParams::default()
            }
            .build()
            .unwrap();
            let shared = ws.fit(&svc).unwrap();
            let cold = svc.fit(r.x_train.view(), &r.y_train, &r.classes).unwrap();
            let what = format!("C={c} shrinking={shrinking}");
            let (a, b) = (
                shared.decision_function(r.x_test.view()).unwrap(),
                cold.decision_function(r.x_test.view()).unwrap(),
            );
            assert_close(&what, a.view(), b.view(), 1e-2);
            let (ns, nc): (usize, usize) = (
                shared.n_support().iter().sum(),
                cold.n_support().iter().sum(),
            );
            assert!(ns.abs_diff(nc) <= 2, "{what}: {ns} vs {nc} support vectors");
            if !shrinking {
                // Same C as the fit just before: it starts at the optimum.
                assert!(
                    shared.n_iter()[0] <= 2,
                    "{what}: {} iterations",
                    shared.n_iter()[0]
                );
            }
            let now = ws.kernel_values_computed();
            if c == 2.0 {
                // Every kernel row is cached by now (600 rows fit many times in 200 MB).
                assert_eq!(now, computed, "{what}: kernel values recomputed");
            }
            computed = now;
        }
    }
}

/// The sigmoid kernel is not positive semi-definite: which stationary point the solver reaches
/// depends on its path. Fits sharing a workspace, in a grid search's order (C ascending, shrinking
/// on then off), must be the fresh fits and score as scikit-learn's. Before each cold solve
/// restored the rows' order, C = 5 scored 0.7941 here (67 test samples off scikit-learn's 0.8610).
/// The bound is 3 samples: a fresh fit at C = 5 takes 562 iterations where libsvm takes 553 (no
/// shrinking happens that early), ending 3 samples off; libsvm keeps kernel values in single
/// precision, which is the likely cause of that smaller divergence.
#[test]
fn sigmoid_fits_in_a_workspace_follow_libsvm() {
    let r = reference("svc_sigmoid.h5");
    let floats = |n: &str| r.file.dataset(n).unwrap().read_raw::<f64>().unwrap();
    let ints = |n: &str| r.file.dataset(n).unwrap().read_raw::<i64>().unwrap();
    let (cs, shrinking, expected) = (floats("c"), ints("shrinking"), floats("accuracy"));
    let mut ws = SvcWorkspace::new(r.x_train.view(), &r.y_train, &r.classes).unwrap();
    for ((&c, &shrinking), &expected) in cs.iter().zip(&shrinking).zip(&expected) {
        let svc = SvcParams {
            c,
            kernel: Kernel::Sigmoid,
            gamma: Gamma::Auto,
            shrinking: shrinking != 0,
            ..SvcParams::default()
        }
        .build()
        .unwrap();
        let model = ws.fit(&svc).unwrap();
        let fresh = svc.fit(r.x_train.view(), &r.y_train, &r.classes).unwrap();
        let what = format!("C={c} shrinking={shrinking}");
        assert_eq!(
            model.decision_function(r.x_test.view()).unwrap(),
            fresh.decision_function(r.x_test.view()).unwrap(),
            "{what}: the shared fit is not the fresh one"
        );
        let acc = accuracy(&model.predict(r.x_test.view()).unwrap(), &r.y_test);
        let samples = (acc - expected).abs() * r.y_test.len() as f64;
        assert!(
            samples < 3.5,
            "{what}: accuracy {acc}, scikit-learn's {expected}"
        );
    }
}

/// Poly fits start cold in a workspace (`Kernel::warm_starts`): each equals a fresh fit, libsvm's
/// path, whatever fits came before it.
#[test]
fn poly_fits_in_a_workspace_are_fresh_fits() {
    let r = reference("svc_sigmoid.h5");
    let mut ws = SvcWorkspace::new(r.x_train.view(), &r.y_train, &r.classes).unwrap();
    for c in [0.1, 1.0, 2.0] {
        for shrinking in [true, false] {
            let svc = SvcParams {
                c,
                kernel: Kernel::Poly,
                gamma: Gamma::Auto,
                shrinking,
                ..SvcParams::default()
            }
            .build()
            .unwrap();
            let model = ws.fit(&svc).unwrap();
            let fresh = svc.fit(r.x_train.view(), &r.y_train, &r.classes).unwrap();
            assert_eq!(
                model.decision_function(r.x_test.view()).unwrap(),
                fresh.decision_function(r.x_test.view()).unwrap(),
                "C={c} shrinking={shrinking}: the shared fit is not the fresh one"
            );
        }
    }
}

#[test]
fn workspace_shares_the_probability_cross_validation() {
    let r = reference("svc_multiclass.h5");
    let mut ws = SvcWorkspace::new(r.x_train.view(), &r.y_train, &r.classes).unwrap();
    for c in [0.5, 2.0] {
        for shrinking in [true, false] {
            let svc = SvcParams {
                c,
                shrinking,
                probability: true,
                ..SvcParams::default()
            }
            .build()
            .unwrap();
            let shared = ws.fit(&svc).unwrap();
            let cold = svc.fit(r.x_train.view(), &r.y_train, &r.classes).unwrap();
            let (a, b) = (
                shared.predict_proba(r.x_test.view()).unwrap(),
                cold.predict_proba(r.x_test.view()).unwrap(),
            );
            let mad = (&a - &b).mapv(f64::abs).mean().unwrap();
            assert!(
                mad < 0.01,
                "C={c} shrinking={shrinking}: mean |proba difference| {mad}"
            );
        }
    }
    // Another seed shuffles other rows into the CV folds: the workspace notices.
    let svc = SvcParams {
        probability: true,
        random_state: 7,
        ..SvcParams::default()
    }
    .build()
    .unwrap();
    let (a, b) = (
        ws.fit(&svc)
            .unwrap()
            .predict_proba(r.x_test.view())
            .unwrap(),
        svc.fit(r.x_train.view(), &r.y_train, &r.classes)
            .unwrap()
            .predict_proba(r.x_test.view())
            .unwrap(),
    );
    assert!((&a - &b).mapv(f64::abs).mean().unwrap() < 0.01);
}

#[test]
fn serde_round_trip() {
    let r = reference("svc_multiclass.h5");
    let params = SvcParams {
        kernel: Kernel::Poly,
        degree: 2,
        coef0: 1.0,
        class_weight: ClassWeight::Balanced,
        probability: true,
        ..SvcParams::default()
    };
    let text = serde_json::to_string(&params).unwrap();
    let back: SvcParams = serde_json::from_str(&text).unwrap();
    assert_eq!(back, params);
    let model = params
        .build()
        .unwrap()
        .fit(r.x_train.view(), &r.y_train, &r.classes)
        .unwrap();
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&model, config).unwrap();
    let (back, _): (SvcModel, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, model);
    let text = serde_json::to_string(&model).unwrap();
    let json: SvcModel = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json.predict(r.x_test.view()).unwrap(),
        model.predict(r.x_test.view()).unwrap()
    );
    assert_eq!(
        back.predict(r.x_test.view()).unwrap(),
        model.predict(r.x_test.view()).unwrap()
    );
    assert_eq!(
        back.predict_proba(r.x_test.view()).unwrap(),
        model.predict_proba(r.x_test.view()).unwrap()
    );

    // A grid search builds parameters from TOML values with scikit-learn's names.
    let p: SvcParams = toml::from_str(
        "C = 0.5\nkernel = \"sigmoid\"\ngamma = 0.25\nshrinking = false\nclass_weight = { \"1\" = 2.0 }\nmax_iter = -1",
    )
    .unwrap();
    assert_eq!(p.c, 0.5);
    assert_eq!(p.kernel, Kernel::Sigmoid);
    assert_eq!(p.gamma, Gamma::Value(0.25));
    assert!(!p.shrinking);
    assert_eq!(
        p.class_weight,
        ClassWeight::Map([("1".to_string(), 2.0)].into())
    );
    let p: SvcParams = toml::from_str("gamma = \"auto\"\nclass_weight = \"balanced\"").unwrap();
    assert_eq!(
        (p.gamma, p.class_weight),
        (Gamma::Auto, ClassWeight::Balanced)
    );
    assert_eq!(SvcParams::default(), toml::from_str("").unwrap());
}

fn refused(p: SvcParams, name: &str) {
    match p.build() {
        Err(SvmError::InvalidParameter {
            name: n, allowed, ..
        }) => {
            assert_eq!(n, name);
            assert!(!allowed.is_empty());
        }
        other => panic!("{name}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn invalid_parameters_are_refused() {
    let d = SvcParams::default;
    for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        refused(SvcParams { c, ..d() }, "C");
    }
    for tol in [0.0, -1e-3, f64::NAN] {
        refused(SvcParams { tol, ..d() }, "tol");
    }
    refused(SvcParams { degree: -1, ..d() }, "degree");
    for cache_size in [0.0, -5.0, f64::NAN] {
        refused(SvcParams { cache_size, ..d() }, "cache_size");
    }
    for g in [0.0, -0.5, f64::NAN] {
        refused(
            SvcParams {
                gamma: Gamma::Value(g),
                ..d()
            },
            "gamma",
        );
    }
    for max_iter in [0, -2] {
        refused(SvcParams { max_iter, ..d() }, "max_iter");
    }
    refused(
        SvcParams {
            coef0: f64::NAN,
            ..d()
        },
        "coef0",
    );
    let bad_weight = ClassWeight::Map([("1".to_string(), -1.0)].into());
    refused(
        SvcParams {
            class_weight: bad_weight,
            ..d()
        },
        "class_weight",
    );
    let subsample = SvcParams {
        class_weight: ClassWeight::BalancedSubsample,
        ..d()
    };
    refused(subsample.clone(), "class_weight");
    let err = subsample.build().unwrap_err().to_string();
    assert!(
        err.contains("\"balanced_subsample\"")
            && err.contains("random forest")
            && !err.contains('\n'),
        "{err}"
    );
    assert!(SvcParams {
        max_iter: 10,
        degree: 0,
        ..d()
    }
    .build()
    .is_ok());

    let e = Kernel::from_name("cubic").unwrap_err();
    assert!(matches!(
        e,
        SvmError::InvalidParameter { name: "kernel", .. }
    ));
    assert!(e.to_string().contains("rbf"), "{e}");
    assert_eq!(Kernel::from_name("poly"), Ok(Kernel::Poly));
    for text in [
        "kernel = \"cubic\"",
        "gamma = \"huge\"",
        "class_weight = \"even\"",
        "Cc = 1.0",
    ] {
        let err = toml::from_str::<SvcParams>(text).unwrap_err().to_string();
        assert!(!err.is_empty(), "{text}");
    }
    let err = toml::from_str::<SvcParams>("kernel = \"cubic\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("kernel") && err.contains("sigmoid"), "{err}");

    // class_weight labels are checked against the classes at fit time, before solving.
    let r = reference("svc_binary.h5");
    let svc = SvcParams {
        class_weight: ClassWeight::Map([("7".to_string(), 2.0)].into()),
        ..d()
    }
    .build()
    .unwrap();
    let err = svc
        .fit(r.x_train.view(), &r.y_train, &r.classes)
        .unwrap_err();
    assert!(
        matches!(err, SvmError::UnknownClassWeightLabel { ref label, .. } if label == "7"),
        "{err}"
    );
    let mut ws = SvcWorkspace::new(r.x_train.view(), &r.y_train, &r.classes).unwrap();
    assert!(matches!(
        ws.fit(&svc),
        Err(SvmError::UnknownClassWeightLabel { .. })
    ));
}

#[test]
fn invalid_data_is_refused() {
    let r = reference("svc_binary.h5");
    let svc = SvcParams::default().build().unwrap();
    let x = r.x_train.view();
    assert!(matches!(
        svc.fit(x, &r.y_train[1..], &r.classes),
        Err(SvmError::Data(_))
    ));
    let mut y = r.y_train.clone();
    y[3] = 5;
    assert!(matches!(svc.fit(x, &y, &r.classes), Err(SvmError::Data(_))));
    let ones = vec![1; r.y_train.len()];
    assert!(matches!(
        svc.fit(x, &ones, &r.classes),
        Err(SvmError::Data(_))
    ));
    let mut xn = r.x_train.clone();
    xn[[2, 2]] = f64::NAN;
    assert!(matches!(
        svc.fit(xn.view(), &r.y_train, &r.classes),
        Err(SvmError::Data(_))
    ));
    let model = svc.fit(x, &r.y_train, &r.classes).unwrap();
    let narrow = r.x_test.slice(ndarray::s![.., ..3]);
    assert!(matches!(model.predict(narrow), Err(SvmError::Data(_))));
}

#[test]
fn max_iter_stops_early() {
    let r = reference("svc_binary.h5");
    let model = SvcParams {
        max_iter: 5,
        ..SvcParams::default()
    }
    .build()
    .unwrap()
    .fit(r.x_train.view(), &r.y_train, &r.classes)
    .unwrap();
    assert!(!model.converged());
    assert_eq!(model.n_iter(), &[5]);
}

#[test]
fn absent_classes_are_left_out() {
    // Labels use classes 0 and 2 of three: the model distinguishes those two.
    let r = reference("svc_binary.h5");
    let y: Vec<usize> = r.y_train.iter().map(|&c| 2 * c).collect();
    let classes = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let model = SvcParams::default()
        .build()
        .unwrap()
        .fit(r.x_train.view(), &y, &classes)
        .unwrap();
    assert_eq!(model.fitted_classes(), &[0, 2]);
    let pred = model.predict(r.x_test.view()).unwrap();
    assert!(pred.iter().all(|&p| p == 0 || p == 2));
}

/// Fits and decision values on 2 and 3 threads are the serial ones bit for bit (the reference
/// problems are small, so this also checks that short loops stay serial and agree).
#[test]
fn fits_and_decisions_on_threads_are_the_serial_ones() {
    let r = reference("svc_binary.h5");
    for kernel in [Kernel::Rbf, Kernel::Poly, Kernel::Sigmoid] {
        let fit = || {
            SvcParams {
                kernel,
                ..SvcParams::default()
            }
            .build()
            .unwrap()
            .fit(r.x_train.view(), &r.y_train, &r.classes)
            .unwrap()
        };
        let serial = fit();
        let want = serial.decision_function(r.x_test.view()).unwrap();
        for threads in [2, 3] {
            let pool = crate::par::Pool::new(threads).unwrap();
            let (model, got) = pool.install(|| {
                let model = fit();
                let got = model.decision_function(r.x_test.view()).unwrap();
                (model, got)
            });
            let bits = |a: &Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&want), bits(&got), "{kernel} on {threads} threads");
            assert_eq!(serial.dual_coef(), model.dual_coef(), "{kernel}");
            // The serial model's decisions, computed on threads: the same values.
            let spread = pool.install(|| serial.decision_function(r.x_test.view()).unwrap());
            assert_eq!(bits(&want), bits(&spread), "{kernel}");
        }
    }
}

/// A problem long enough for every spread loop (9,000 rows: kernel rows, the scans, the H
/// update, with shrinking): the same model on 1, 2 and 3 threads, bit for bit.
#[test]
fn a_long_fit_on_threads_is_the_serial_fit() {
    let (n, d) = (9_000, 6);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let x = Array2::from_shape_fn((n, d), |_| next() * 2.0 - 1.0);
    let y: Vec<usize> = (0..n)
        .map(|i| usize::from(x[[i, 0]] + 0.5 * x[[i, 1]] * x[[i, 2]] + 0.3 * next() > 0.1))
        .collect();
    let classes = vec!["a".to_string(), "b".to_string()];
    let fit = || {
        SvcParams {
            max_iter: 3_000,
            cache_size: 20.0,
            ..SvcParams::default()
        }
        .build()
        .unwrap()
        .fit(x.view(), &y, &classes)
        .unwrap()
    };
    let serial = fit();
    let bits = |a: &Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let want = serial.decision_function(x.view()).unwrap();
    for threads in [2, 3] {
        let pool = crate::par::Pool::new(threads).unwrap();
        let model = pool.install(fit);
        assert_eq!(serial.n_iter(), model.n_iter());
        assert_eq!(bits(&serial.dual_coef()), bits(&model.dual_coef()));
        assert_eq!(serial.intercept(), model.intercept());
        let got = pool.install(|| model.decision_function(x.view()).unwrap());
        assert_eq!(bits(&want), bits(&got), "{threads} threads");
    }
}

/// The splits of the notebook's grid (make_classification(20000, random_state=0), 3 stratified
/// folds, gamma = auto) where the solver's path decides the score (issue #12 §4): the sigmoid
/// kernel is not positive semi-definite, and a poly fit stopped at tol = 1e-3 ends where its
/// path took it (scikit-learn's own shrinking on and off differ by 2 test samples at C = 1).
/// Fresh fits, shrinking on and off, must be within one test sample of scikit-learn's
/// (tests/reference/svc_grid_splits.h5, scripts/reference/svc_grid_splits.py). With kernel
/// values cached in f64, sigmoid C = 2 / 5 fold 0 and C = 1 fold 2 (shrinking on) ended 3, 2 and
/// 2 samples off; with libsvm's single-precision values every fit here scores as scikit-learn's
/// and takes its iteration count (one more at sigmoid C = 5, shrinking on).
#[test]
fn notebook_grid_splits_follow_libsvm() {
    let path = format!(
        "{}/tests/reference/svc_grid_splits.h5",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = hdf5::File::open(&path).unwrap();
    let x = file.dataset("x").unwrap().read_2d::<f64>().unwrap();
    let ints = |n: &str| -> Vec<i64> { file.dataset(n).unwrap().read_raw::<i64>().unwrap() };
    let y: Vec<usize> = ints("y").into_iter().map(|v| v as usize).collect();
    let fold_of = ints("fold_of");
    let splits = crate::ml::cv::StratifiedKFold {
        n_splits: 3,
        shuffle: None,
    }
    .split(&y)
    .unwrap();
    for (k, (_, test)) in splits.iter().enumerate() {
        assert!(test.iter().all(|&t| fold_of[t] == k as i64), "fold {k}");
    }
    let kernels: Vec<String> = file
        .dataset("kernel")
        .unwrap()
        .read_raw::<VarLenUnicode>()
        .unwrap()
        .into_iter()
        .map(|s| s.as_str().to_string())
        .collect();
    let cs = file.dataset("c").unwrap().read_raw::<f64>().unwrap();
    let accs = file.dataset("accuracy").unwrap().read_raw::<f64>().unwrap();
    let (folds, shrinking, n_iter) = (ints("fold"), ints("shrinking"), ints("n_iter"));
    let classes = vec!["0".to_string(), "1".to_string()];
    let mut worst = 0.0f64;
    let mut report = String::new();
    for i in 0..cs.len() {
        let (train, test) = &splits[folds[i] as usize];
        let xs = |rows: &[usize]| x.select(ndarray::Axis(0), rows);
        let ys = |rows: &[usize]| -> Vec<usize> { rows.iter().map(|&r| y[r]).collect() };
        let kernel = match kernels[i].as_str() {
            "poly" => Kernel::Poly,
            "sigmoid" => Kernel::Sigmoid,
            "rbf" => Kernel::Rbf,
            k => panic!("kernel {k}"),
        };
        let model = SvcParams {
            c: cs[i],
            kernel,
            gamma: Gamma::Auto,
            shrinking: shrinking[i] != 0,
            ..SvcParams::default()
        }
        .build()
        .unwrap()
        .fit(xs(train).view(), &ys(train), &classes)
        .unwrap();
        let y_test = ys(test);
        let correct = model
            .predict(xs(test).view())
            .unwrap()
            .iter()
            .zip(&y_test)
            .filter(|(a, b)| a == b)
            .count();
        let theirs = accs[i] * test.len() as f64;
        let off = (correct as f64 - theirs).abs();
        worst = worst.max(off);
        let line = format!(
            "{} C={} fold={} shrinking={}: ours {correct}/{} ({} iterations), scikit-learn's {theirs:.0} ({} iterations)\n",
            kernels[i],
            cs[i],
            folds[i],
            shrinking[i] != 0,
            test.len(),
            model.n_iter()[0],
            n_iter[i]
        );
        eprint!("{line}");
        report.push_str(&line);
    }
    assert!(worst < 1.5, "more than one test sample off:\n{report}");
}
