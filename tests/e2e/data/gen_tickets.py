#!/usr/bin/python3
"""gen_tickets.py - a synthetic multilabel ticket-routing set in fastText's format, and
scikit-learn's score on it, for tests/e2e/test_text.sh.

Each ticket has one to three of five topics. A topic contributes words drawn from its own list
(some words are shared between two topics) and every ticket gets filler words, so the labels
are learnable but not trivial. Writes tickets_{train,test}.txt (1,200 / 400 lines) and
tickets_sklearn.json: micro and macro F1 (labels at p >= 0.5) of TfidfVectorizer +
OneVsRestClassifier(LogisticRegression()) with defaults, the reference the e2e test holds assay
to. Run with Debian's python: /usr/bin/python3 tests/e2e/data/gen_tickets.py
"""
import json
import os
import random

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261207)
TOPICS = {
    "billing": "invoice charge refund payment card bill price overcharged subscription fee",
    "shipping": "delivery package courier late arrived box tracking shipped address fee",
    "quality": "broken cracked defect stale damaged taste poor box smell expired",
    "account": "login password email account reset locked profile signup address username",
    "praise": "great love excellent thanks wonderful happy recommend perfect taste fast",
}
FILLER = ("the a i my it was and to of this order is for with on but have not very please "
          "again when what can you me we there they just got").split()


def ticket():
    labels = rng.sample(sorted(TOPICS), rng.choice([1, 1, 1, 2, 2, 3]))
    words = []
    for l in labels:
        words += rng.sample(TOPICS[l].split(), rng.randint(1, 3))
    words += [rng.choice(FILLER) for _ in range(rng.randint(4, 12))]
    if rng.random() < 0.3:  # a stray topic word: noise the model must weigh
        words.append(rng.choice(TOPICS[rng.choice(sorted(TOPICS))].split()))
    rng.shuffle(words)
    return labels, " ".join(words)


data = {}
for name, n in (("train", 1200), ("test", 400)):
    rows = [ticket() for _ in range(n)]
    data[name] = rows
    with open(os.path.join(HERE, "tickets_%s.txt" % name), "w") as f:
        for labels, text in rows:
            f.write(" ".join("__label__" + l for l in labels) + " " + text + "\n")

mlb = MultiLabelBinarizer(classes=sorted(TOPICS))
ytr = mlb.fit_transform([l for l, _ in data["train"]])
yte = mlb.transform([l for l, _ in data["test"]])
vec = TfidfVectorizer()
clf = OneVsRestClassifier(LogisticRegression()).fit(vec.fit_transform([t for _, t in data["train"]]), ytr)
pred = (clf.predict_proba(vec.transform([t for _, t in data["test"]])) >= 0.5).astype(int)
ref = {"model": "TfidfVectorizer + OneVsRestClassifier(LogisticRegression())",
       "f1_micro": f1_score(yte, pred, average="micro"), "f1_macro": f1_score(yte, pred, average="macro")}
with open(os.path.join(HERE, "tickets_sklearn.json"), "w") as f:
    json.dump(ref, f, indent=1)
print(ref)
