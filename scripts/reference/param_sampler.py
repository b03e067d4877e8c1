"""scikit-learn's ParameterSampler on lists-only, distribution and mixed spaces.

Writes tests/reference/param_sampler.json: per case, the space as the job file gives it (lists,
or tables {distribution, ...}), n_iter, random_state, the candidates scikit-learn yields in
order, and whether it warned that the space is smaller than n_iter.
"""
import json
import warnings

import numpy as np
import sklearn
from scipy.stats import loguniform, randint, uniform
from sklearn.model_selection import ParameterSampler


def scipy_of(spec):
    if isinstance(spec, list):
        return spec
    kind = spec["distribution"]
    if kind == "uniform":
        return uniform(loc=spec.get("loc", 0.0), scale=spec.get("scale", 1.0))
    if kind == "loguniform":
        return loguniform(spec["low"], spec["high"])
    if kind == "randint":
        return randint(spec["low"], spec["high"])
    raise ValueError(kind)


def plain(value):
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


CASES = [
    ("lists, a permutation's head", {"C": [0.01, 0.1, 1.0, 10.0], "kernel": ["rbf", "poly", "sigmoid"], "shrinking": [True, False]}, 10, 0),
    ("lists, n_iter above the grid", {"C": [0.1, 1.0], "kernel": ["rbf", "linear"]}, 7, 3),
    ("lists, reservoir (n_iter = grid)", {"C": [0.1, 1.0, 10.0], "kernel": ["rbf", "linear", "poly"]}, 9, 5),
    ("lists, tracking selection", {"C": list(np.round(np.linspace(0.01, 10, 500), 6)), "tol": [0.001, 0.0001]}, 8, 42),
    ("uniform", {"gamma": {"distribution": "uniform", "loc": 0.01, "scale": 0.5}}, 20, 0),
    ("loguniform", {"C": {"distribution": "loguniform", "low": 0.001, "high": 10.0}}, 20, 1),
    ("randint", {"degree": {"distribution": "randint", "low": 2, "high": 6}}, 20, 2),
    ("mixed", {
        "C": {"distribution": "loguniform", "low": 0.001, "high": 10.0},
        "gamma": {"distribution": "uniform", "loc": 0.01, "scale": 0.5},
        "degree": {"distribution": "randint", "low": 2, "high": 6},
        "kernel": ["rbf", "poly"],
    }, 40, 0),
    ("two grids, mixed", [
        {"C": {"distribution": "loguniform", "low": 0.01, "high": 100.0}, "kernel": ["rbf"]},
        {"C": [0.1, 1.0], "kernel": ["linear"], "shrinking": [True, False]},
    ], 15, 7),
]

out = {"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": []}
for name, space, n_iter, seed in CASES:
    grids = space if isinstance(space, list) else [space]
    dists = [{k: scipy_of(v) for k, v in g.items()} for g in grids]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = [{k: plain(v) for k, v in p.items()} for p in ParameterSampler(dists, n_iter, random_state=seed)]
    out["cases"].append({
        "name": name,
        "grids": grids,
        "n_iter": n_iter,
        "random_state": seed,
        "candidates": drawn,
        "warned": any("smaller than n_iter" in str(w.message) for w in caught),
    })

with open("tests/reference/param_sampler.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote tests/reference/param_sampler.json:", len(out["cases"]), "cases")
