"""Reference for the sigmoid kernel in a grid search (issue #12 §4): fold 0 of StratifiedKFold(3)
on make_classification(6000, random_state=0), as x_train/y_train/x_test/y_test, and scikit-learn's
test accuracy, support-vector count and intercept of SVC(kernel='sigmoid', gamma='auto') for each
C and shrinking on/off of the notebook's grid. The sigmoid kernel is not positive semi-definite,
so the answer depends on the solver's path: fits sharing a workspace must take libsvm's."""
import h5py
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

X, y = make_classification(n_samples=6000, random_state=0)
train, test = next(StratifiedKFold(3).split(X, y))
cs = [0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0]
rows = []
for c in cs:
    for shrinking in (True, False):
        m = SVC(kernel="sigmoid", C=c, gamma="auto", shrinking=shrinking).fit(X[train], y[train])
        rows.append((c, shrinking, m.score(X[test], y[test]), m.n_support_.sum(),
                     m.intercept_[0]))
with h5py.File("tests/reference/svc_sigmoid.h5", "w") as f:
    f["x_train"], f["y_train"] = X[train], y[train].astype(np.int64)
    f["x_test"], f["y_test"] = X[test], y[test].astype(np.int64)
    f["c"] = np.array([r[0] for r in rows])
    f["shrinking"] = np.array([r[1] for r in rows], dtype=np.int64)
    f["accuracy"] = np.array([r[2] for r in rows])
    f["n_support"] = np.array([r[3] for r in rows], dtype=np.int64)
    f["intercept"] = np.array([r[4] for r in rows])
for c, shrinking, acc, nsv, b in rows:
    print(f"svc_sigmoid: C={c} shrinking={shrinking} accuracy={acc:.4f} n_support={nsv} b={b:.6f}")
