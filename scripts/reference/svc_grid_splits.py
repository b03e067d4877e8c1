"""Reference for the notebook's grid, split for split (issue #12 §4): the splits of
GridSearchCV(SVC(gamma='auto'), C x kernel x shrinking, cv=StratifiedKFold(3)) on
make_classification(20000, random_state=0) where our solver once ended more than one test sample
off scikit-learn's. Stores the data (X, y: every row is in one of the folds used) and, for each
(kernel, C, fold) and shrinking on/off, scikit-learn's test accuracy, iteration count and
support-vector count. The sigmoid kernel (not positive semi-definite) and poly at a large C are
sensitive to the solver's path down to the rounding of the kernel values libsvm caches.

Usage (from the repository root, with scikit-learn): python scripts/reference/svc_grid_splits.py
[--out FILE]   (default tests/reference/svc_grid_splits.h5)"""
import sys

import h5py
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else \
    "tests/reference/svc_grid_splits.h5"
SPLITS = [("poly", 1.0, 1), ("sigmoid", 2.0, 0), ("sigmoid", 5.0, 0), ("sigmoid", 1.0, 2)]

X, y = make_classification(n_samples=20000, random_state=0)
folds = list(StratifiedKFold(3).split(X, y))
rows = []
for kernel, c, fold in SPLITS:
    train, test = folds[fold]
    for shrinking in (True, False):
        m = SVC(kernel=kernel, C=c, gamma="auto", shrinking=shrinking).fit(X[train], y[train])
        acc = m.score(X[test], y[test])
        rows.append((kernel, c, fold, shrinking, acc, int(m.n_iter_[0]), int(m.n_support_.sum())))
        print(f"svc_grid_splits: {kernel} C={c} fold={fold} shrinking={shrinking} "
              f"accuracy={acc:.6f} correct={round(acc * len(test))}/{len(test)} "
              f"n_iter={m.n_iter_[0]} n_support={m.n_support_.sum()}", flush=True)
with h5py.File(out, "w") as f:
    f.create_dataset("x", data=X, compression="gzip", shuffle=True)
    f["y"] = y.astype(np.int64)
    f["fold_of"] = np.concatenate([np.full(len(t), k) for k, (_, t) in enumerate(folds)])[
        np.argsort(np.concatenate([t for _, t in folds]))].astype(np.int64)
    f["kernel"] = np.array([r[0] for r in rows], dtype=h5py.string_dtype())
    f["c"] = np.array([r[1] for r in rows])
    f["fold"] = np.array([r[2] for r in rows], dtype=np.int64)
    f["shrinking"] = np.array([r[3] for r in rows], dtype=np.int64)
    f["accuracy"] = np.array([r[4] for r in rows])
    f["n_iter"] = np.array([r[5] for r in rows], dtype=np.int64)
    f["n_support"] = np.array([r[6] for r in rows], dtype=np.int64)
