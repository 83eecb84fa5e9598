#!/usr/bin/env python3
"""gen_svm.py - reference linear SVMs from scikit-learn's LinearSVC (liblinear, L2-regularized
squared hinge in the dual, intercept as a regularized constant feature) for tests/unit/test_svm.c.

Writes tests/parity/fixtures/est_svm.json: a dense Gaussian design (binary and 3 classes, one-vs-
rest) with the fitted coef_ and intercept_ at tight tolerance.
Run:  /usr/bin/python3 tests/parity/gen/gen_svm.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.svm import LinearSVC

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "est_svm.json")
rng = np.random.default_rng(20261207)
n, d = 80, 6
y3 = rng.integers(0, 3, n)
centers = rng.normal(0, 1.5, (3, d))
X = np.round(centers[y3] + rng.normal(0, 1, (n, d)), 3).astype(np.float32).astype(np.float64)
cases = []
for yy, K in [((y3 == 2).astype(int), 2), (y3, 3)]:
    for C in (0.05, 1.0):
        m = LinearSVC(C=C, loss="squared_hinge", dual=True, tol=1e-8, max_iter=10000000).fit(X, yy)
        cases.append({"K": K, "C": C, "y": yy.tolist(), "coef": m.coef_.tolist(),
                      "intercept": m.intercept_.tolist(),
                      "decision": np.round(m.decision_function(X), 12).tolist()})
with open(OUT, "w") as f:
    json.dump({"generator": "tests/parity/gen/gen_svm.py", "sklearn": sklearn.__version__,
               "n": n, "d": d, "X": X.tolist(), "cases": cases}, f)
print("wrote", OUT)
