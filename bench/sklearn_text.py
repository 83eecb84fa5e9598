#!/usr/bin/python3
"""sklearn_text.py TRAIN TEST - the scikit-learn pipeline `assay fit --model logreg` replaces on a
text table: pandas.read_csv, TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True) on
`review` (assay's defaults), LogisticRegression(C=10, lbfgs), predict the test rows, pickle the
pipeline. Prints "accuracy <x> features <n> fit_seconds <s>". For bench/bench_tfidf.sh."""
import pickle
import sys
import time

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

tr = pd.read_csv(sys.argv[1])
te = pd.read_csv(sys.argv[2])
pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                     LogisticRegression(C=10, max_iter=1000))
t0 = time.time()
pipe.fit(tr["review"].fillna(""), tr["score"])
fit_s = time.time() - t0
acc = (pipe.predict(te["review"].fillna("")) == te["score"]).mean()
with open("/tmp/assay_bench_text.pkl", "wb") as f:
    pickle.dump(pipe, f)
print("accuracy %.4f features %d fit_seconds %.3f" % (acc, len(pipe[0].vocabulary_), fit_s))
