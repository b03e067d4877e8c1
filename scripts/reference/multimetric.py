"""Reference for the multi-metric grid search test (tests/integration/gridsearch.rs): a small imbalanced
three-class data set written as an HDF5 data file (tests/reference/multimetric_data.h5, datasets X
and y), and scikit-learn's GridSearchCV on it with scoring=["accuracy", "f1_macro",
"balanced_accuracy"], refit="accuracy" and return_train_score=True: the cv_results_ score columns
in their order and values, and the best_* attributes (tests/reference/multimetric.json)."""
import json

import h5py
import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC

X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_redundant=1,
                           n_classes=3, weights=[0.6, 0.3, 0.1], random_state=1)
with h5py.File("tests/reference/multimetric_data.h5", "w") as f:
    f["X"] = X
    f["y"] = y.astype(np.int64)

# The balanced candidates rank best by balanced accuracy, not by accuracy: each metric ranks the
# candidates in its own order, and refit="accuracy" picks another best candidate than the others.
grids = [
    {"C": [0.1, 1.0, 10.0], "kernel": ["rbf", "poly"]},
    {"C": [1.0, 10.0], "kernel": ["rbf"], "class_weight": ["balanced"]},
]
metrics = ["accuracy", "f1_macro", "balanced_accuracy"]
search = GridSearchCV(SVC(gamma="scale"), grids, cv=3, scoring=metrics, refit="accuracy",
                      return_train_score=True)
search.fit(X, y)
res = search.cv_results_
scores = [k for k in res if "_test_" in k or "_train_" in k]

reference = {
    "sklearn": sklearn.__version__,
    "numpy": np.__version__,
    "grids": grids,
    "metrics": metrics,
    "refit": "accuracy",
    "params": [json.dumps(p, sort_keys=True) for p in res["params"]],
    "score_columns": scores,
    "columns": {k: [int(v) if k.startswith("rank_") else float(v) for v in res[k]] for k in scores},
    "test_fold_sizes": [len(test) for _, test in StratifiedKFold(3).split(X, y)],
    "best_index": int(search.best_index_),
    "best_params": json.dumps(search.best_params_, sort_keys=True),
    "best_score": float(search.best_score_),
}
with open("tests/reference/multimetric.json", "w") as f:
    json.dump(reference, f, indent=1)
print("multimetric reference: best", search.best_params_, round(search.best_score_, 4))
