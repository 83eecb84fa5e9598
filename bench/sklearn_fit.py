#!/usr/bin/python3
"""sklearn_fit.py DATA TARGET POSITIVE CV - the scikit-learn pipeline that `assay fit --model
logreg` replaces: read_csv, stratified 80/20 holdout, optional K-fold CV on the training part,
median imputation + standard scaling, most-frequent imputation + one-hot, LogisticRegression,
test ROC AUC. Prints the AUC and the seconds spent reading the CSV."""
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

path, target, positive, cv = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = time.time()
df = pd.read_csv(path)
t_read = time.time() - t0
y = (df[target] == positive).astype(int).values
X = df.drop(columns=[target])
num = [c for c in X.columns if X[c].dtype.kind in "if"]
cat = [c for c in X.columns if c not in num]
pipe = Pipeline([
    ("pre", ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat)])),
    ("lr", LogisticRegression(max_iter=1000))])
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
if cv >= 2:
    cross_val_score(pipe, Xtr, ytr, cv=StratifiedKFold(cv, shuffle=True, random_state=42),
                    scoring="roc_auc")
pipe.fit(Xtr, ytr)
auc = roc_auc_score(yte, pipe.predict_proba(Xte)[:, 1])
print(f"auc {auc:.5f} read_s {t_read:.3f}")
