"""References for successive halving (tests/integration/halving.rs): scikit-learn's HalvingGridSearchCV and
HalvingRandomSearchCV on two data sets written as HDF5 data files (datasets X and y):

  tests/reference/halving_binary.h5      make_classification(2000, 10 features), 2 classes:
                                         HalvingGridSearchCV(SVC, 15 candidates, factor=3)
  tests/reference/halving_multiclass.h5  make_classification(1500, 8 features), 3 classes:
                                         HalvingRandomSearchCV(SVC, n_candidates=12, factor=2,
                                         min_resources=150, random_state=5)

tests/reference/halving.json holds, per case, the search as the job file gives it, the schedule
(n_iterations_, n_candidates_, n_resources_, min_resources_, max_resources_), every cv_results_ row
(iter, n_resources, params, split and mean test scores, rank), each iteration's row subsample of
fold 0, best_index_, best_params_, best_score_, and the smallest gap between the last survivor and
the first candidate cut at each iteration. scikit-learn breaks ties with numpy's argsort, whose
order among equal scores depends on the CPU, so the cases are chosen with no tie at a cut: the
script fails if one has a gap under one test sample.
"""
import json

import h5py
import numpy as np
import sklearn
from scipy.stats import loguniform, uniform
from sklearn.datasets import make_classification
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV, StratifiedKFold
from sklearn.model_selection._search_successive_halving import _SubsampleMetaSplitter
from sklearn.svm import SVC


def write_data(path, X, y):
    with h5py.File(path, "w") as f:
        f["X"] = X
        f["y"] = y.astype(np.int64)


def plain(value):
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def record(name, data_file, search, X, y, job):
    search.fit(X, y)
    res = search.cv_results_
    n_splits = 3
    splits = [f"split{k}_test_score" for k in range(n_splits)]
    # Gaps at each cut: the worst survivor's mean minus the best dropped candidate's.
    gaps = []
    for itr in range(search.n_iterations_ - 1):
        means = np.sort(res["mean_test_score"][res["iter"] == itr])
        keep = int(np.ceil(len(means) / search.factor))
        gaps.append(float(means[-keep] - means[-keep - 1]))
    min_test = min(len(t) for _, t in StratifiedKFold(3).split(X, y))
    subsamples = []
    for n_res in search.n_resources_:
        cv = _SubsampleMetaSplitter(base_cv=StratifiedKFold(3), fraction=n_res / len(X),
                                    subsample_test=True, random_state=search.random_state)
        train, test = next(cv.split(X, y))
        subsamples.append({"train": [int(i) for i in train], "test": [int(i) for i in test]})
    for itr, gap in enumerate(gaps):
        # One test sample of the smallest fold of this iteration moves a mean by about this.
        sample = 1.0 / (min_test * search.n_resources_[itr] / len(X))
        assert gap > sample, f"{name}: iteration {itr} cuts at a gap of {gap} < {sample}"
    last = res["mean_test_score"][res["iter"] == search.n_iterations_ - 1]
    assert np.sum(last == last.max()) == 1, f"{name}: the last iteration's best is a tie"
    return {
        "name": name,
        "data": data_file,
        "job": job,
        "n_iterations": int(search.n_iterations_),
        "n_candidates": [int(n) for n in search.n_candidates_],
        "n_resources": [int(n) for n in search.n_resources_],
        "min_resources": int(search.min_resources_),
        "max_resources": int(search.max_resources_),
        "n_required_iterations": int(search.n_required_iterations_),
        "n_possible_iterations": int(search.n_possible_iterations_),
        "n_remaining_candidates": int(search.n_remaining_candidates_),
        "iter": [int(i) for i in res["iter"]],
        "row_resources": [int(i) for i in res["n_resources"]],
        "params": [json.dumps({k: plain(v) for k, v in p.items()}, sort_keys=True)
                   for p in res["params"]],
        "splits": [[float(res[s][i]) for s in splits] for i in range(len(res["iter"]))],
        "mean_test_score": [float(v) for v in res["mean_test_score"]],
        "rank_test_score": [int(v) for v in res["rank_test_score"]],
        "subsamples_fold0": subsamples,
        "best_index": int(search.best_index_),
        "best_params": json.dumps({k: plain(v) for k, v in search.best_params_.items()},
                                  sort_keys=True),
        "best_score": float(search.best_score_),
        "cut_gaps": gaps,
    }


cases = []

X, y = make_classification(n_samples=2000, n_features=10, n_informative=5, random_state=3)
write_data("tests/reference/halving_binary.h5", X, y)
grid = {"C": [0.01, 0.1, 1.0, 10.0, 100.0], "kernel": ["rbf", "poly", "sigmoid"]}
search = HalvingGridSearchCV(SVC(gamma="scale"), grid, factor=3, cv=3, random_state=0)
cases.append(record("grid, binary", "tests/reference/halving_binary.h5", search, X, y, {
    "search": 'strategy = "halving"\nfactor = 3\nrandom_state = 0',
    "grid": 'C = [0.01, 0.1, 1.0, 10.0, 100.0]\nkernel = ["rbf", "poly", "sigmoid"]',
}))

X, y = make_classification(n_samples=1500, n_features=8, n_informative=5, n_classes=3,
                           random_state=5)
write_data("tests/reference/halving_multiclass.h5", X, y)
space = {"C": loguniform(0.01, 100.0), "gamma": uniform(loc=0.01, scale=0.5),
         "kernel": ["rbf", "poly"]}
search = HalvingRandomSearchCV(SVC(), space, n_candidates=12, factor=2, min_resources=150,
                               cv=3, random_state=5)
cases.append(record("random, three classes", "tests/reference/halving_multiclass.h5", search, X, y, {
    "search": 'strategy = "halving"\nn_candidates = 12\nfactor = 2\nmin_resources = 150\nrandom_state = 5',
    "grid": 'C = { distribution = "loguniform", low = 0.01, high = 100.0 }\n'
            'gamma = { distribution = "uniform", loc = 0.01, scale = 0.5 }\n'
            'kernel = ["rbf", "poly"]',
}))

with open("tests/reference/halving.json", "w") as f:
    json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f,
              indent=1)
for case in cases:
    print(case["name"], "n_resources", case["n_resources"], "n_candidates", case["n_candidates"],
          "gaps", [round(g, 4) for g in case["cut_gaps"]], "best", case["best_params"])
