#!/usr/bin/python3
"""sklearn_fit.py TRAIN TEST TARGET POSITIVE CV - the scikit-learn pipeline that `assay fit
--model logreg` replaces: read_csv of both files, optional stratified K-fold CV on the training
rows, median imputation + standard scaling, most-frequent imputation + one-hot,
LogisticRegression, test ROC AUC. Prints the AUC and the seconds spent reading the CSVs."""
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

train_path, test_path, target, positive = sys.argv[1:5]
cv = int(sys.argv[5])
t0 = time.time()
train, test = pd.read_csv(train_path), pd.read_csv(test_path)
t_read = time.time() - t0
Xtr, ytr = train.drop(columns=[target]), (train[target] == positive).astype(int).values
Xte, yte = test.drop(columns=[target]), (test[target] == positive).astype(int).values
X = Xtr
num = [c for c in X.columns if X[c].dtype.kind in "if"]
cat = [c for c in X.columns if c not in num]
pipe = Pipeline([
    ("pre", ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat)])),
    ("lr", LogisticRegression(max_iter=1000))])
if cv >= 2:
    cross_val_score(pipe, Xtr, ytr, cv=StratifiedKFold(cv, shuffle=True, random_state=42),
                    scoring="roc_auc")
pipe.fit(Xtr, ytr)
auc = roc_auc_score(yte, pipe.predict_proba(Xte)[:, 1])
print(f"auc {auc:.5f} read_s {t_read:.3f}")
