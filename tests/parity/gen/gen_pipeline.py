#!/usr/bin/python3
"""gen_pipeline.py - scikit-learn's reference for assay's whole pipeline + logistic regression.

For credit_data.csv (target Status, positive 'bad') and mlc_churn.csv (target churn, positive
'yes'): a stratified 80/20 holdout and 5 stratified folds of the training part, and the ROC AUC of
scikit-learn's equivalent pipeline on each (median imputation + standard scaling for numbers,
most-frequent imputation + one-hot for categories, LogisticRegression(C=1)). The C test
(tests/unit/test_pipeline_parity.c) fits assay on exactly these rows and compares.

Run with Debian's Python: /usr/bin/python3 tests/parity/gen/gen_pipeline.py
"""
import json
import os

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def pipeline(df, target):
    X = df.drop(columns=[target])
    num = [c for c in X.columns if X[c].dtype.kind in "if"]
    cat = [c for c in X.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat),
    ])
    return Pipeline([("pre", pre),
                     ("lr", LogisticRegression(C=1.0, tol=1e-10, max_iter=100000))])


def auc_of(df, target, positive, train, test):
    p = pipeline(df, target)
    y = (df[target] == positive).astype(int).values
    p.fit(df.iloc[train], y[train])
    proba = p.predict_proba(df.iloc[test])[:, 1]
    return float(roc_auc_score(y[test], proba))


def one(name, target, positive):
    path = os.path.join("examples", name)
    df = pd.read_csv(os.path.join(ROOT, path), na_values=["", "NA", "?"], keep_default_na=True)
    y = (df[target] == positive).astype(int).values
    sss = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train, test = next(sss.split(np.zeros(len(y)), y))
    train, test = np.sort(train), np.sort(test)
    hold_auc = auc_of(df, target, positive, train, test)
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    folds = []
    for tr, te in skf.split(np.zeros(len(train)), y[train]):
        folds.append({"train": train[tr].tolist(), "test": train[te].tolist(),
                      "auc": auc_of(df, target, positive, train[tr], train[te])})
    return {"file": path, "target": target, "positive": positive, "rows": int(len(df)),
            "holdout": {"train": train.tolist(), "test": test.tolist(), "auc": hold_auc},
            "folds": folds}


def main():
    out = {"sklearn": sklearn.__version__,
           "cases": [one("credit_data.csv", "Status", "bad"),
                     one("mlc_churn.csv", "churn", "yes")]}
    dest = os.path.join(ROOT, "tests", "parity", "fixtures", "pipeline_logreg.json")
    with open(dest, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    for c in out["cases"]:
        print(c["file"], "holdout AUC", round(c["holdout"]["auc"], 5),
              "folds", [round(f["auc"], 5) for f in c["folds"]])


if __name__ == "__main__":
    main()
