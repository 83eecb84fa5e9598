#!/usr/bin/python3
"""sklearn_text.py TRAIN TEST [ridge] - the scikit-learn pipeline `assay fit --model logreg` (or,
with "ridge", `--model ridge` on the 0/1 target `great`) replaces on a text table:
pandas.read_csv, TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True) on `review`
(assay's defaults), LogisticRegression(C=10, lbfgs) or Ridge(alpha=1), predict the test rows,
pickle the pipeline. Prints "accuracy <x> features <n> fit_seconds <s>" (ridge: "rmse <x> r2 <x>
..."). For bench/bench_tfidf.sh."""
import pickle
import sys
import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

ridge = len(sys.argv) > 3 and sys.argv[3] == "ridge"
tr = pd.read_csv(sys.argv[1])
te = pd.read_csv(sys.argv[2])
target = "great" if ridge else "score"
pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                     Ridge(alpha=1.0) if ridge else LogisticRegression(C=10, max_iter=1000))
t0 = time.time()
pipe.fit(tr["review"].fillna(""), tr[target])
fit_s = time.time() - t0
pred = pipe.predict(te["review"].fillna(""))
with open("/tmp/assay_bench_text.pkl", "wb") as f:
    pickle.dump(pipe, f)
if ridge:
    y = te[target].to_numpy(dtype=float)
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    print("rmse %.4f r2 %.4f features %d fit_seconds %.3f" % (rmse, r2, len(pipe[0].vocabulary_), fit_s))
else:
    acc = (pred == te[target]).mean()
    print("accuracy %.4f features %d fit_seconds %.3f" % (acc, len(pipe[0].vocabulary_), fit_s))
