"""Reference answers of scikit-learn's SVC for the Rust tests in src/ml/svm/tests.rs.

Writes tests/reference/svc_binary.h5, svc_imbalanced.h5 and svc_multiclass.h5 (run from the
repository root; scripts/reference/make-reference runs every script here). Each file holds one data
set (x_train, y_train, x_test, y_test: 600 training and 300 test rows, labels 0..k-1) and a group
per case under /cases with the parameters as attributes and scikit-learn's answers: predict,
decision (decision_function), decision_ovo (multiclass), n_support, support, dual_coef, intercept,
n_iter, accuracy (attribute) and, with probability=True, proba.
"""

import json
import warnings

import h5py
import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.svm import SVC

OUT = "tests/reference"


def cases_binary():
    return {
        "linear": dict(kernel="linear", C=1.0),
        "rbf": dict(kernel="rbf", C=1.0),
        "rbf_noshrink": dict(kernel="rbf", C=1.0, shrinking=False),
        "rbf_c10_g01": dict(kernel="rbf", C=10.0, gamma=0.1),
        "rbf_auto": dict(kernel="rbf", C=0.5, gamma="auto"),
        "poly": dict(kernel="poly", C=1.0),
        "poly_d2_coef1": dict(kernel="poly", C=0.3, degree=2, coef0=1.0),
        # The sigmoid kernel is not positive semi-definite, so the dual can have several
        # stationary points. With C=1 on this data the one reached depends on the last bits of
        # the kernel values (libsvm caches them as float32, we keep f64; with float32-rounded
        # values our solver reproduces scikit-learn bit for bit), so the cases use other C.
        "sigmoid": dict(kernel="sigmoid", C=0.3),
        "sigmoid_coef": dict(kernel="sigmoid", C=1.0, coef0=-1.0),
        "sigmoid_small_gamma": dict(kernel="sigmoid", C=0.5, gamma=0.01, coef0=-0.5),
        "rbf_proba": dict(kernel="rbf", C=1.0, probability=True),
    }


def cases_imbalanced():
    return {
        "rbf": dict(kernel="rbf", C=1.0),
        "rbf_balanced": dict(kernel="rbf", C=1.0, class_weight="balanced"),
        "linear_map": dict(kernel="linear", C=0.5, class_weight={1: 4.0}),
    }


def cases_multiclass():
    return {
        "rbf_ovr": dict(kernel="rbf", C=1.0),
        "rbf_ovo": dict(kernel="rbf", C=1.0, decision_function_shape="ovo"),
        "linear": dict(kernel="linear", C=0.5),
        "poly": dict(kernel="poly", C=2.0, degree=2, coef0=1.0),
        "rbf_balanced_noshrink": dict(kernel="rbf", C=3.0, class_weight="balanced", shrinking=False),
        "rbf_proba": dict(kernel="rbf", C=1.0, probability=True),
    }


def write(path, X, y, cases):
    n_train = 600
    xtr, ytr, xte, yte = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    with h5py.File(path, "w") as f:
        f.attrs["sklearn_version"] = sklearn.__version__
        f["x_train"], f["y_train"] = xtr, ytr.astype(np.int64)
        f["x_test"], f["y_test"] = xte, yte.astype(np.int64)
        group = f.create_group("cases")
        for name, params in cases.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                model = SVC(random_state=0, **params).fit(xtr, ytr)
            g = group.create_group(name)
            full = {k: v for k, v in model.get_params().items()
                    if k in ("C", "kernel", "degree", "gamma", "coef0", "shrinking", "tol",
                             "class_weight", "decision_function_shape")}
            full["probability"] = bool(params.get("probability", False))
            if isinstance(full["class_weight"], dict):
                full["class_weight"] = {str(k): float(v) for k, v in full["class_weight"].items()}
            g.attrs["params"] = json.dumps(full)
            g.attrs["gamma_value"] = float(model._gamma)
            pred = model.predict(xte)
            g["predict"] = pred.astype(np.int64)
            dec = model.decision_function(xte)
            g["decision"] = dec.reshape(len(xte), -1)
            if len(model.classes_) > 2:
                # The same fitted model's raw pairwise values.
                model.decision_function_shape = "ovo"
                g["decision_ovo"] = model.decision_function(xte)
                model.decision_function_shape = full["decision_function_shape"]
            g["n_support"] = model.n_support_.astype(np.int64)
            g["support"] = model.support_.astype(np.int64)
            g["dual_coef"] = model.dual_coef_
            g["intercept"] = model.intercept_
            g["n_iter"] = np.atleast_1d(model.n_iter_).astype(np.int64)
            g.attrs["accuracy"] = float((pred == yte).mean())
            if full["probability"]:
                g["proba"] = model.predict_proba(xte)
            print(f"{path} {name}: acc {g.attrs['accuracy']:.4f}, n_support {model.n_support_}")


def main():
    X, y = make_classification(n_samples=900, n_features=10, n_informative=5, n_redundant=2,
                               flip_y=0.05, random_state=3)
    write(f"{OUT}/svc_binary.h5", X, y, cases_binary())
    X, y = make_classification(n_samples=900, n_features=10, n_informative=5, n_redundant=2,
                               weights=[0.85], flip_y=0.02, random_state=4)
    write(f"{OUT}/svc_imbalanced.h5", X, y, cases_imbalanced())
    X, y = make_classification(n_samples=900, n_features=8, n_informative=5, n_redundant=1,
                               n_classes=3, n_clusters_per_class=1, random_state=5)
    write(f"{OUT}/svc_multiclass.h5", X, y, cases_multiclass())


if __name__ == "__main__":
    main()
