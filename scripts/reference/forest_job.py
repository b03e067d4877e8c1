"""scikit-learn's answer for the forest job of tests/integration/forest.rs.

The job: tests/reference/gridsearch_data.h5, a stratified 25 % holdout, 60 trees,
max_features="sqrt", oob_score. Our holdout draws its rows from our own stream, so the reference
is scikit-learn's RandomForestClassifier on scikit-learn's stratified split of the same data,
averaged over SEEDS random states; the test checks our accuracy and OOB score are as close to
these as seed-to-seed variation allows. Writes tests/reference/forest_job.json.
"""

import json

import h5py
import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

SEEDS = 10

with h5py.File("tests/reference/gridsearch_data.h5", "r") as f:
    X, y = f["X"][:], f["y"][:]
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=1)
accuracy, oob = [], []
for seed in range(SEEDS):
    forest = RandomForestClassifier(
        n_estimators=60, max_features="sqrt", oob_score=True, random_state=seed, n_jobs=1
    ).fit(X_tr, y_tr)
    accuracy.append(forest.score(X_te, y_te))
    oob.append(forest.oob_score_)
answer = {
    "sklearn_version": sklearn.__version__,
    "seeds": SEEDS,
    "test_accuracy_mean": float(np.mean(accuracy)),
    "test_accuracy_std": float(np.std(accuracy)),
    "oob_score_mean": float(np.mean(oob)),
    "oob_score_std": float(np.std(oob)),
}
with open("tests/reference/forest_job.json", "w") as out:
    json.dump(answer, out, indent=1)
print(answer)
