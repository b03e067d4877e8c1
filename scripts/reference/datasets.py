"""scikit-learn reference answers for src/ml/{dataset,cv,metrics,linear}.

Run from the repository root by scripts/reference/make-reference. Writes small JSON files into
tests/reference/ that the Rust unit tests read:

  cv_folds.json            StratifiedKFold / KFold folds for several label vectors
  metrics.json             accuracy, balanced accuracy, macro f1, log loss, confusion matrix
  logreg.json              LogisticRegression coef/intercept/accuracy on small data (data included)
  digits.json              digits checksums, the train_test_split(test_size=0.25, random_state=0)
                           indices, and LogisticRegression's accuracy there (max_iter 100)
  make_classification.json logistic-regression CV accuracy on sklearn's own make_classification
                           data, averaged over seeds, to compare with ours (same distribution)
"""

import hashlib
import json
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
)
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)

OUT = "tests/reference/"
META = {"sklearn": sklearn.__version__, "numpy": np.__version__}


def dump(name, obj):
    obj = {"meta": META, **obj}
    with open(OUT + name, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def folds_of(splitter, X, y=None):
    return [
        {"train": [int(i) for i in tr], "test": [int(i) for i in te]}
        for tr, te in splitter.split(X, y)
    ]


# ---------------------------------------------------------------------------------------------
# Splitters
# ---------------------------------------------------------------------------------------------
rng = np.random.RandomState(42)
label_cases = [
    ("binary_balanced", [0, 1] * 10, 5),
    ("binary_imbalanced", [0] * 17 + [1] * 6, 3),
    ("three_classes_shuffled", list(rng.randint(0, 3, size=37)), 4),
    ("three_classes_imbalanced", list(rng.choice([0, 1, 2], size=50, p=[0.6, 0.3, 0.1])), 5),
    # first appearance order (c, a, b) differs from sorted order (a, b, c)
    ("strings_first_appearance", list("cabcbacccbbaacbcaccbbcabcabbcc"), 3),
    ("strings_mixed_case", ["dog", "Cat", "dog", "ant", "Cat", "dog", "ant", "ant", "dog",
                            "Cat", "dog", "dog", "ant", "Cat"], 2),
    # integers whose lexical order differs from numeric order
    ("integers_numeric_order", [10, 2, 2, 10, 1, 1, 2, 10, 1, 2, 10, 2, 1, 10, 2, 1], 3),
    ("ten_classes", list(rng.randint(0, 10, size=120)), 10),
]
stratified = []
for name, labels, k in label_cases:
    labels = np.asarray(labels)
    X = np.zeros((len(labels), 1))
    stratified.append(
        {
            "name": name,
            "labels": [str(v) for v in labels],
            "classes": [str(v) for v in np.unique(labels)],
            "n_splits": k,
            "folds": folds_of(StratifiedKFold(n_splits=k), X, labels),
        }
    )
kfold = []
for n, k in [(10, 3), (11, 5), (7, 7), (100, 10), (23, 4)]:
    kfold.append({"n": n, "n_splits": k, "folds": folds_of(KFold(n_splits=k), np.zeros((n, 1)))})
dump("cv_folds.json", {"stratified": stratified, "kfold": kfold})

# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
metric_cases = []
rng = np.random.RandomState(7)
for name, y_true, y_pred, n_classes in [
    ("binary", [0, 1, 1, 0, 1, 1, 0, 0, 1, 1], [0, 1, 0, 0, 1, 1, 1, 0, 1, 0], 2),
    ("three", [0, 1, 2, 2, 1, 0, 2, 2, 1, 0, 0, 2], [0, 2, 2, 2, 1, 0, 1, 2, 1, 1, 0, 0], 3),
    # class 3 never predicted; class 2 predicted but never true
    ("absent_classes", [0, 1, 3, 3, 1, 0, 3, 0], [0, 2, 3, 1, 1, 0, 2, 0], 4),
    ("random", list(rng.randint(0, 5, 200)), list(rng.randint(0, 5, 200)), 5),
]:
    proba = rng.dirichlet(np.ones(n_classes), size=len(y_true))
    # some near-certain rows to exercise the clipping at eps
    proba[0] = np.eye(n_classes)[y_true[0]]
    proba[1] = np.eye(n_classes)[(y_true[1] + 1) % n_classes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric_cases.append(
            {
                "name": name,
                "n_classes": n_classes,
                "y_true": [int(v) for v in y_true],
                "y_pred": [int(v) for v in y_pred],
                "proba": proba.tolist(),
                "accuracy": accuracy_score(y_true, y_pred),
                "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
                "f1_macro": f1_score(y_true, y_pred, average="macro"),
                "log_loss": log_loss(y_true, proba, labels=list(range(n_classes))),
                "confusion_matrix": confusion_matrix(
                    y_true, y_pred, labels=list(range(n_classes))
                ).tolist(),
            }
        )
dump("metrics.json", {"cases": metric_cases})

# ---------------------------------------------------------------------------------------------
# Logistic regression on small data
# ---------------------------------------------------------------------------------------------
def objective(model, X, y, C):
    """C * sum of log-losses + 0.5 ||W||^2 at a fitted model."""
    p = model.predict_proba(X)[np.arange(len(y)), np.searchsorted(model.classes_, y)]
    return float(C * -np.log(p).sum() + 0.5 * (model.coef_**2).sum())


logreg_cases = []
for name, kwargs, fit_kwargs in [
    ("binary", dict(n_samples=200, n_features=20, random_state=3), dict(C=1.0)),
    ("binary_small_c", dict(n_samples=200, n_features=20, random_state=4), dict(C=0.05)),
    (
        "three_classes",
        dict(n_samples=240, n_features=10, n_informative=4, n_redundant=2, n_classes=3,
             random_state=5),
        dict(C=0.5),
    ),
    (
        "four_classes_scaled",
        dict(n_samples=200, n_features=8, n_informative=5, n_redundant=1, n_classes=4,
             scale=None, shift=None, random_state=6),
        dict(C=2.0),
    ),
]:
    X, y = make_classification(**kwargs)
    X = np.round(X, 6)  # short JSON; the model is fitted on exactly the stored numbers
    n_train = int(0.75 * len(y))
    model = LogisticRegression(max_iter=10000, tol=1e-8, **fit_kwargs)
    model.fit(X[:n_train], y[:n_train])
    # The exact optimum (Newton): on ill-conditioned data lbfgs stops on its relative-reduction
    # test (ftol = 64 eps) some way from it.
    exact = LogisticRegression(solver="newton-cholesky", max_iter=1000, tol=1e-12, **fit_kwargs)
    exact.fit(X[:n_train], y[:n_train])
    logreg_cases.append(
        {
            "name": name,
            "C": fit_kwargs["C"],
            "n_train": n_train,
            "X": X.tolist(),
            "y": [int(v) for v in y],
            "coef": model.coef_.tolist(),
            "intercept": model.intercept_.tolist(),
            "n_iter": int(model.n_iter_[0]),
            "objective": objective(model, X[:n_train], y[:n_train], fit_kwargs["C"]),
            "coef_exact": exact.coef_.tolist(),
            "intercept_exact": exact.intercept_.tolist(),
            "objective_exact": objective(exact, X[:n_train], y[:n_train], fit_kwargs["C"]),
            "test_accuracy": model.score(X[n_train:], y[n_train:]),
            "test_proba": np.round(model.predict_proba(X[n_train:]), 12).tolist(),
        }
    )
dump("logreg.json", {"cases": logreg_cases})

# ---------------------------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------------------------
X, y = load_digits(return_X_y=True)
idx = np.arange(len(y))
train, test = train_test_split(idx, test_size=0.25, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = LogisticRegression(max_iter=100).fit(X[train], y[train])
    converged = LogisticRegression(max_iter=10000).fit(X[train], y[train])
dump(
    "digits.json",
    {
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        # X as row-major uint8 bytes, y as uint8 bytes
        "sha256_x": hashlib.sha256(X.astype(np.uint8).tobytes()).hexdigest(),
        "sha256_y": hashlib.sha256(y.astype(np.uint8).tobytes()).hexdigest(),
        "first_row": X[0].tolist(),
        "class_counts": np.bincount(y).tolist(),
        "train": [int(i) for i in train],
        "test": [int(i) for i in test],
        "max_iter": 100,
        "n_iter": int(model.n_iter_[0]),
        "accuracy": model.score(X[test], y[test]),
        "converged_n_iter": int(converged.n_iter_[0]),
        "converged_accuracy": converged.score(X[test], y[test]),
    },
)

# ---------------------------------------------------------------------------------------------
# make_classification: logistic-regression 5-fold CV accuracy on sklearn's data, mean over seeds
# ---------------------------------------------------------------------------------------------
mc_cases = []
for name, kwargs in [
    ("defaults_500", dict(n_samples=500)),
    ("hard_sep_0_5", dict(n_samples=500, class_sep=0.5)),
    ("three_classes", dict(n_samples=600, n_classes=3, n_informative=3, n_clusters_per_class=1)),
    ("weighted", dict(n_samples=500, weights=[0.8], flip_y=0.0)),
    ("no_hypercube", dict(n_samples=500, hypercube=False, n_informative=4)),
]:
    seeds = list(range(20))
    accs, fractions = [], []
    for seed in seeds:
        X, y = make_classification(random_state=seed, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            accs.append(
                cross_val_score(LogisticRegression(max_iter=1000), X, y, cv=5).mean()
            )
        fractions.append((np.bincount(y) / len(y)).tolist())
    mc_cases.append(
        {
            "name": name,
            "params": {k: v for k, v in kwargs.items()},
            "seeds": len(seeds),
            "mean_cv_accuracy": float(np.mean(accs)),
            "std_cv_accuracy": float(np.std(accs)),
            "mean_class_fractions": np.mean(fractions, axis=0).tolist(),
        }
    )
dump("make_classification.json", {"cases": mc_cases})
print("wrote cv_folds.json metrics.json logreg.json digits.json make_classification.json")
