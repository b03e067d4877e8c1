"""scikit-learn reference answers for src/ml/tree and src/ml/forest.

Run from the repository root by scripts/reference/make-reference (any python with scikit-learn,
numpy and h5py works: `python scripts/reference/forest.py`). Writes HDF5 files that the Rust unit
tests read, data included so both sides fit the very same rows:

  tests/reference/forest_binary.h5      make_classification(2000, n_features=20, n_informative=5,
                                        n_redundant=2, shuffle=False, random_state=0), split 75/25
                                        stratified (random_state=0). Features 0-4 are informative,
                                        5-6 redundant (combinations of them), 7-19 noise.
  tests/reference/forest_multiclass.h5  make_classification(1200, n_features=10, n_informative=4,
                                        n_redundant=0, n_classes=3, shuffle=False,
                                        random_state=1), split 75/25 stratified.

Each file holds X_train, y_train, X_test, y_test and a group per case with scikit-learn's
answers. Random forests differ from ours tree by tree (other random streams), so forest cases
record the mean over SEEDS random states, which the tests compare with our mean over as many
seeds. Even a tree with every feature and no bootstrap depends on its random_state (the order in
which features are visited breaks exact ties between splits, common in small nodes: test accuracy
varies by about 0.02 over seeds), so tree cases record TREE_SEEDS seeds: accuracies, leaf counts
and depths, and the mean importances.
"""

import h5py
import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

OUT = "tests/reference/"
SEEDS = 5
TREE_SEEDS = 30


def forest_case(group, X_tr, y_tr, X_te, y_te, n_seeds=SEEDS, **params):
    accs, oobs, imps = [], [], []
    for seed in range(n_seeds):
        f = RandomForestClassifier(random_state=seed, n_jobs=1, **params)
        f.fit(X_tr, y_tr)
        accs.append(f.score(X_te, y_te))
        if params.get("oob_score"):
            oobs.append(f.oob_score_)
        imps.append(f.feature_importances_)
    for k, v in params.items():
        group.attrs["param_" + k] = v
    group.attrs["kind"] = "forest"
    group.attrs["n_seeds"] = n_seeds
    group["accuracy"] = np.array(accs)
    group.attrs["mean_accuracy"] = float(np.mean(accs))
    if oobs:
        group["oob_score"] = np.array(oobs)
        group.attrs["mean_oob_score"] = float(np.mean(oobs))
    group["importances"] = np.mean(imps, axis=0)
    print(f"  {group.name}: accuracy {np.mean(accs):.4f} (sd {np.std(accs):.4f})"
          + (f", oob {np.mean(oobs):.4f}" if oobs else ""))


def tree_case(group, X_tr, y_tr, X_te, y_te, n_seeds=TREE_SEEDS, **params):
    accs, leaves, depths, imps = [], [], [], []
    for seed in range(n_seeds):
        t = DecisionTreeClassifier(random_state=seed, **params)
        t.fit(X_tr, y_tr)
        accs.append(t.score(X_te, y_te))
        leaves.append(t.get_n_leaves())
        depths.append(t.get_depth())
        imps.append(t.feature_importances_)
    for k, v in params.items():
        group.attrs["param_" + k] = "None" if v is None else v
    group.attrs["kind"] = "tree"
    group.attrs["n_seeds"] = n_seeds
    group["accuracy"] = np.array(accs)
    group.attrs["mean_accuracy"] = float(np.mean(accs))
    group["n_leaves"] = np.array(leaves, dtype=np.int64)
    group["depth"] = np.array(depths, dtype=np.int64)
    group["importances"] = np.mean(imps, axis=0)
    print(f"  {group.name}: accuracy {np.mean(accs):.4f} (range {min(accs):.3f}-{max(accs):.3f}), "
          f"leaves {min(leaves)}-{max(leaves)}, depth {min(depths)}-{max(depths)}")


def write(name, X, y, cases):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    print(f"== {OUT + name}")
    with h5py.File(OUT + name, "w") as h:
        h.attrs["sklearn"] = sklearn.__version__
        h.attrs["numpy"] = np.__version__
        h["X_train"], h["y_train"] = X_tr, y_tr.astype(np.int64)
        h["X_test"], h["y_test"] = X_te, y_te.astype(np.int64)
        for case, kind, params in cases:
            fn = forest_case if kind == "forest" else tree_case
            fn(h.create_group(case), X_tr, y_tr, X_te, y_te, **params)


X, y = make_classification(2000, n_features=20, n_informative=5, n_redundant=2,
                           shuffle=False, random_state=0)
write("forest_binary.h5", X, y, [
    ("forest_200", "forest", dict(n_estimators=200, oob_score=True)),
    ("tree_all_features", "tree", dict(max_features=None)),
    ("tree_entropy_depth8", "tree", dict(criterion="entropy", max_depth=8)),
    ("tree_leaves_40", "tree", dict(max_leaf_nodes=40)),
    ("tree_min_leaf_5", "tree", dict(min_samples_leaf=5, min_impurity_decrease=0.0005)),
    ("forest_entropy", "forest", dict(n_estimators=50, criterion="entropy")),
    ("forest_depth6", "forest", dict(n_estimators=50, max_depth=6)),
    ("forest_leaves_30", "forest", dict(n_estimators=50, max_leaf_nodes=30)),
    ("forest_half_samples", "forest", dict(n_estimators=50, max_samples=0.5, oob_score=True)),
    ("forest_log2_minleaf", "forest", dict(n_estimators=50, max_features="log2",
                                           min_samples_leaf=3)),
])

X, y = make_classification(1200, n_features=10, n_informative=4, n_redundant=0, n_classes=3,
                           weights=[0.6, 0.3, 0.1], shuffle=False, random_state=1)
write("forest_multiclass.h5", X, y, [
    ("forest_100", "forest", dict(n_estimators=100, oob_score=True)),
    ("forest_balanced", "forest", dict(n_estimators=100, class_weight="balanced",
                                       oob_score=True)),
    ("forest_balanced_subsample", "forest", dict(n_estimators=100,
                                                 class_weight="balanced_subsample")),
    ("tree_all_features", "tree", dict(max_features=None)),
])
