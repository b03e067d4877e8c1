"""Reference for the grid-search integration test: a small dataset written as an HDF5 data file
(datasets X and y, the form `--data` and `source = "file"` read), and scikit-learn's
GridSearchCV on it: the folds, every split score, the ranks and the best candidate."""
import json

import h5py
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC

X, y = make_classification(n_samples=600, n_features=8, n_informative=4, n_redundant=2,
                           random_state=3)
with h5py.File("tests/reference/gridsearch_data.h5", "w") as f:
    f["X"] = X
    f["y"] = y.astype(np.int64)

grids = [
    {"C": [0.1, 1.0, 10.0], "kernel": ["rbf", "sigmoid"]},
    {"C": [1.0], "kernel": ["poly"], "degree": [2, 3]},
]
search = GridSearchCV(SVC(gamma="scale"), grids, cv=3, scoring="accuracy")
search.fit(X, y)
res = search.cv_results_
folds = [test.tolist() for _, test in StratifiedKFold(3).split(X, y)]
reference = {
    "grids": grids,
    "params": [json.dumps(p, sort_keys=True) for p in res["params"]],
    "split_test_scores": [[float(res[f"split{k}_test_score"][i]) for k in range(3)]
                          for i in range(len(res["params"]))],
    "rank_test_score": [int(r) for r in res["rank_test_score"]],
    "best_index": int(search.best_index_),
    "test_folds": folds,
    "fold_sizes": [len(f) for f in folds],
}
with open("tests/reference/gridsearch.json", "w") as f:
    json.dump(reference, f, indent=1)
print("gridsearch reference: best", search.best_params_, round(search.best_score_, 4))
