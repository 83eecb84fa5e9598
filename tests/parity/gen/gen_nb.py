#!/usr/bin/env python3
"""gen_nb.py - reference naive Bayes and NB-scaled logistic regression from scikit-learn for
tests/unit/test_nb.c.

Writes tests/parity/fixtures/est_nb.json: a small count matrix (3 classes and a binary target),
MultinomialNB / ComplementNB probabilities (plain and on presence, x > 0), and for the binary
target the NBSVM-style features (presence times the log-count ratio) with LogisticRegression's
probabilities on them.
Run:  /usr/bin/python3 tests/parity/gen/gen_nb.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB, MultinomialNB

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "est_nb.json")
rng = np.random.default_rng(20261207)
n, d = 60, 12
y3 = rng.integers(0, 3, n)
rate = rng.gamma(1.0, 1.0, (3, d))
X = rng.poisson(rate[y3] * 1.5).astype(np.float64)
X[:, 5] = 0  # a column never seen
ybin = (y3 == 2).astype(int)


def proba(m, A):
    return np.round(m.predict_proba(A), 15).tolist()


cases = []
for name, est, binary in [("multinomial", MultinomialNB(alpha=0.5), False),
                          ("multinomial_binary", MultinomialNB(alpha=0.5), True),
                          ("complement", ComplementNB(alpha=0.3), False),
                          ("multinomial_a1", MultinomialNB(alpha=1.0), False)]:
    A = (X > 0).astype(float) if binary else X
    for yy, K in [(y3, 3), (ybin, 2)]:
        m = est.fit(A, yy)
        params = {"multinomial": "alpha=0.5", "multinomial_binary": "alpha=0.5,binary=true",
                  "complement": "variant=complement,alpha=0.3", "multinomial_a1": ""}[name]
        cases.append({"name": name, "params": params, "K": K, "y": yy.tolist(), "proba": proba(m, A)})

# NB-LR: r from presence counts with alpha 1, then LogisticRegression(C) on presence * r
B = (X > 0).astype(float)
p = 1 + B[ybin == 1].sum(0)
q = 1 + B[ybin == 0].sum(0)
r = np.log((p / p.sum()) / (q / q.sum()))
S = (B * r).astype(np.float32).astype(np.float64)  # assay scales in float32
lr = LogisticRegression(C=3.0, tol=1e-12, max_iter=100000).fit(S, ybin)
doc = {"generator": "tests/parity/gen/gen_nb.py", "sklearn": sklearn.__version__,
       "n": n, "d": d, "X": X.tolist(), "cases": cases,
       "nblr": {"params": "C=3", "y": ybin.tolist(), "r": np.round(r, 15).tolist(),
                "proba": proba(lr, S)}}
with open(OUT, "w") as f:
    json.dump(doc, f)
print("wrote", OUT)
