#!/usr/bin/python3
"""sklearn_cv.py TRAIN TARGET binary [--test TEST] [--positive P] [--cv K] [--threads 2]
[--seed 42] [--drop COL,...] [--trees/--depth/--lr/--bins: accepted and ignored]

The scikit-learn logistic-regression peer with the same command line and output as
bench/xgb_fit.py, so the two can be run side by side (binary only). The pipeline is
bench/sklearn_fit.py's: median imputation + standard scaling of the numeric columns,
most-frequent imputation + one-hot (handle_unknown="ignore") of the text columns,
LogisticRegression(max_iter=1000). With --cv K: stratified K-fold CV on the training rows
(shuffled, random_state=seed), per-fold and mean/sd of ROC AUC; with --test: fit on all of
TRAIN and score TEST. Last line: `result cv_mean=<x> cv_sd=<x> test=<x> fit_seconds=<x>`
(nan where absent; fit_seconds counts the pipeline's fit calls only). Reading and date handling:
bench/peer_common.py. --threads caps the BLAS/OpenMP thread pools (threadpoolctl).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import peer_common  # noqa: E402


def main():
    args = peer_common.parse_args(__doc__, tasks=("binary",))
    X, y, Xte, yte = peer_common.load(args)
    num = [c for c in X.columns if X[c].dtype.kind in "if"]
    cat = [c for c in X.columns if c not in num]

    def make_model():
        return Pipeline([
            ("pre", ColumnTransformer([
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
                ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore")), cat)])),
            ("lr", LogisticRegression(max_iter=1000))])

    print(f"LogisticRegression pipeline: {len(num)} numeric, {len(cat)} text columns")
    with threadpool_limits(limits=args.threads):
        peer_common.run_peer(args, X, y, Xte, yte, make_model,
                             lambda m, Xp: m.predict_proba(Xp)[:, 1])


if __name__ == "__main__":
    main()
