#!/usr/bin/python3
"""gen_group_kfold.py - scikit-learn's GroupKFold fold assignments for a few group layouts, for
test_split.c (assay_split_group_kfold must put every row in the same fold).
Run: /usr/bin/python3 tests/parity/gen/gen_group_kfold.py   (scikit-learn 1.2)"""
import json
import os

import numpy as np
from sklearn.model_selection import GroupKFold

rng = np.random.default_rng(7)
cases = []
# Equal-sized groups are ordered by numpy's argsort, which is stable only for short arrays
# (insertion sort below 17 elements); the layouts with more than 16 groups have distinct sizes.
layouts = [(40, 7, 3), (57, 10, 4), (12, 12, 4)]
for n, ngroups, k in layouts + [(210, 20, 5)]:
    if ngroups > 16:
        groups = rng.permutation(np.repeat(np.arange(ngroups), np.arange(1, ngroups + 1)))
    else:
        groups = rng.integers(0, ngroups, size=n)
    # dense group numbers in order of first appearance (what the C side numbers them by)
    first = {}
    for g in groups:
        first.setdefault(int(g), len(first))
    dense = [first[int(g)] for g in groups]
    fold = [-1] * n
    for f, (_, test) in enumerate(GroupKFold(n_splits=k).split(np.zeros(n), groups=dense)):
        for i in test:
            fold[int(i)] = f
    cases.append({"k": k, "group": dense, "fold": fold})
out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "group_kfold.json")
with open(out, "w") as f:
    json.dump({"cases": cases}, f)
print(out)
