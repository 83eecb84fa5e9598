#!/usr/bin/python3
"""xgb_fit.py TRAIN TARGET TASK [--test TEST] [--positive P] [--cv K] [--trees 100] [--depth 6]
[--lr 0.1] [--bins 255] [--threads 2] [--seed 42] [--drop COL,...]

The XGBoost peer for `assay fit`'s gradient-boosted trees: XGBoost 1.7 (Debian 12's
python3-xgboost), tree_method="hist". TASK is binary (XGBClassifier, ROC AUC) or regression
(XGBRegressor, RMSE). With --cv K: K-fold CV on the training rows (stratified for binary,
shuffled, random_state=seed), per-fold and mean/sd; with --test: fit on all of TRAIN and score
TEST. Last line: `result cv_mean=<x> cv_sd=<x> test=<x> fit_seconds=<x>` (nan where absent;
fit_seconds counts the fit calls only). Reading and date handling: bench/peer_common.py (an ISO
date column such as Chicago.csv's `date` becomes numeric _year/_month/_yday/_wday features;
--drop date leaves it out instead).

Model: n_estimators=trees, max_depth=depth, learning_rate=lr, max_bin=bins+1,
tree_method="hist", n_jobs=threads, random_state=seed; everything else XGBoost 1.7's default
(no subsampling, lambda=1, min_child_weight=1, base_score=0.5 - in 1.7 it is not estimated from
the data, which matters for regression with few trees). max_bin is bins+1 because the two tools
count bins differently (assay's --bins N is taken to match XGBoost's max_bin N+1); the mapping
is made only here.
Text (object) columns go to XGBoost natively: pandas category dtype with the categories seen in
TRAIN (a test value not seen there becomes missing), enable_categorical=True,
max_cat_to_onehot left at XGBoost's default. Missing cells stay NaN; XGBoost learns a default
direction for them at each split.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402

import peer_common  # noqa: E402


def to_category(X, Xte):
    for c in X.columns:
        if X[c].dtype == object:
            cats = sorted(X[c].dropna().unique())
            X[c] = pd.Categorical(X[c], categories=cats)
            if Xte is not None:
                Xte[c] = pd.Categorical(Xte[c], categories=cats)
    return X, Xte


def main():
    args = peer_common.parse_args(__doc__)
    X, y, Xte, yte = peer_common.load(args)
    X, Xte = to_category(X, Xte)
    cls = xgb.XGBClassifier if args.task == "binary" else xgb.XGBRegressor
    params = dict(n_estimators=args.trees, max_depth=args.depth, learning_rate=args.lr,
                  max_bin=args.bins + 1, tree_method="hist", n_jobs=args.threads,
                  random_state=args.seed, enable_categorical=True)
    print(f"xgboost {xgb.__version__} {cls.__name__} "
          + " ".join(f"{k}={v}" for k, v in params.items()))

    def predict(m, Xp):
        return m.predict_proba(Xp)[:, 1] if args.task == "binary" else m.predict(Xp)

    peer_common.run_peer(args, X, y, Xte, yte, lambda: cls(**params), predict)


if __name__ == "__main__":
    main()
