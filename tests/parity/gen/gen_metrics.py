#!/usr/bin/python3
"""gen_metrics.py - scikit-learn's values of every metric assay's eval module computes.

Writes tests/parity/fixtures/metrics_{scores,binary,multiclass,multilabel,regression}.json. Each case holds
the inputs (labels, probabilities or values, optional decided classes) and what scikit-learn 1.2
says: ROC AUC, average precision, Brier, log loss, accuracy, precision/recall/F1 per class and
averaged (classification_report's dict and its text), the confusion matrix, and the regression
metrics. Run with Debian's python: /usr/bin/python3 tests/parity/gen/gen_metrics.py
"""
import json
import math
import re
import os
import warnings

import numpy as np
import sklearn
from sklearn import metrics as M

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
rng = np.random.default_rng(20240611)


def num(v):
    v = float(v)
    return None if math.isnan(v) else v


def dump(name, cases):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump({"sklearn": sklearn.__version__, "cases": cases}, f, allow_nan=False,
                  separators=(",", ":"))
    print(path, os.path.getsize(path), "bytes")


# ---- raw scores: ROC AUC and average precision ------------------------------------------------
def score_case(name, y, s):
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    both = len(np.unique(y)) == 2
    return {
        "name": name, "y": y.tolist(), "score": s.tolist(),
        "roc_auc": num(M.roc_auc_score(y, s)) if both else None,
        "average_precision": num(M.average_precision_score(y, s, pos_label=1)),
    }


scores = []
n = 3000
y = (rng.random(n) < 0.3).astype(int)
s = np.round(rng.normal(size=n) + 0.8 * y, 1)          # many ties
scores.append(score_case("ties_1dp", y, s))
s = np.round(rng.normal(size=n) + 0.5 * y, 0)           # very many ties
scores.append(score_case("ties_integer", y, s))
s = rng.normal(size=n) * 1e3 + 300 * y                  # no ties, wide range
scores.append(score_case("no_ties", y, s))
y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
s = np.arange(8.0)
scores.append(score_case("perfect", [0, 0, 0, 0, 1, 1, 1, 1], s))
scores.append(score_case("inverted", [1, 1, 1, 1, 0, 0, 0, 0], s))
scores.append(score_case("all_tied", y, np.full(8, 0.5)))
scores.append(score_case("only_negatives", [0, 0, 0], [0.1, 0.5, 0.2]))
scores.append(score_case("only_positives", [1, 1, 1], [0.1, 0.5, 0.2]))
scores.append(score_case("two", [1, 0], [0.3, 0.3]))
dump("metrics_scores.json", scores)


# ---- classification ---------------------------------------------------------------------------
def class_case(name, y, proba, pred=None, positive=1, labels=None):
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=float)
    K = proba.shape[1]
    lab = list(range(K))
    decided = pred if pred is not None else np.argmax(proba, axis=1)
    decided = np.asarray(decided, dtype=int)
    names = labels or ["class_%d" % k for k in lab]
    rep = M.classification_report(y, decided, labels=lab, target_names=names, output_dict=True)
    text = M.classification_report(y, decided, labels=lab, target_names=names, digits=2)
    # scikit-learn 1.2 prints the support as a float ("2.0") when every score is zero, a quirk
    # of its formatting; assay prints integer counts, so the fixture holds the integer layout
    text = re.sub(r"^(.*?) +(\d+)\.0$", lambda g: "%s %9d" % (g.group(1), int(g.group(2))),
                  text, flags=re.M)
    per = [{"precision": rep[nm]["precision"], "recall": rep[nm]["recall"],
            "f1": rep[nm]["f1-score"], "support": int(rep[nm]["support"])} for nm in names]
    out = {
        "name": name, "nclasses": K, "positive": positive, "labels": names,
        "y": y.tolist(), "proba": proba.tolist(),
        "pred": None if pred is None else decided.tolist(),
        "accuracy": M.accuracy_score(y, decided),
        "log_loss": M.log_loss(y, proba, labels=lab),
        "per_class": per,
        "report_text": text,
        "confusion": M.confusion_matrix(y, decided, labels=lab).tolist(),
    }
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = M.precision_recall_fscore_support(y, decided, labels=lab, average=avg)
        out["precision_" + avg], out["recall_" + avg], out["f1_" + avg] = p, r, f
    if K == 2:
        y01 = (y == positive).astype(int)
        sp = proba[:, positive]
        out["roc_auc"] = num(M.roc_auc_score(y01, sp)) if len(np.unique(y01)) == 2 else None
        out["average_precision"] = num(M.average_precision_score(y01, sp, pos_label=1))
        out["brier"] = M.brier_score_loss(y01, sp, pos_label=1)
    else:
        out["roc_auc"] = out["average_precision"] = out["brier"] = None
    return out


def two_col(p1):
    p1 = np.asarray(p1, dtype=float)
    return np.column_stack([1 - p1, p1])


binary = []
n = 1500
y = (rng.random(n) < 0.35).astype(int)
p1 = np.clip(np.round(1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y - 0.5))), 2), 0, 1)
binary.append(class_case("ties_argmax", y, two_col(p1), labels=["no", "yes"]))
thr = (p1 >= 0.3).astype(int)
binary.append(class_case("ties_threshold_0.3", y, two_col(p1), pred=thr, labels=["no", "yes"]))
binary.append(class_case("positive_is_0", y, two_col(p1), positive=0,
                         labels=["churned", "stayed"]))
p = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.999999, 1e-300, 1.0])
yy = np.array([0, 1, 0, 1, 1, 1, 0, 0])
binary.append(class_case("exact_zero_one", yy, two_col(p)))
binary.append(class_case("perfect", [0, 0, 1, 1], two_col([0.1, 0.2, 0.8, 0.9])))
binary.append(class_case("inverted", [1, 1, 0, 0], two_col([0.1, 0.2, 0.8, 0.9])))
binary.append(class_case("one_class_present", [1, 1, 1], two_col([0.2, 0.7, 0.9])))
binary.append(class_case("never_predicts_1", [0, 1, 0, 1], two_col([0.1, 0.2, 0.3, 0.4])))
binary.append(class_case("size_1", [1], two_col([0.75])))
binary.append(class_case("long_label", [0, 1, 1, 0, 1], two_col([0.1, 0.6, 0.4, 0.7, 0.9]),
                         labels=["a", "a rather long label name"]))
dump("metrics_binary.json", binary)

multi = []
n, K = 1200, 4
y = rng.integers(0, K, size=n)
logits = rng.normal(size=(n, K))
logits[np.arange(n), y] += 1.0
proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
multi.append(class_case("four_classes", y, proba, labels=["a", "bb", "ccc", "dddd"]))
# class 3 never predicted, class 2 never true: zero division in precision and recall
y2 = np.where(y == 2, 0, y)
pred2 = np.where(np.argmax(proba, axis=1) == 3, 1, np.argmax(proba, axis=1))
multi.append(class_case("zero_division", y2, proba, pred=pred2))
# rows that do not sum to one (renormalised after clipping) and exact zeros
raw = rng.random((60, 3))
raw[:10, 0] = 0.0
raw[10:20] = [1.0, 0.0, 0.0]
multi.append(class_case("unnormalised_zeros", rng.integers(0, 3, size=60), raw))
# argmax ties go to the lowest index
multi.append(class_case("argmax_ties", [0, 1, 2, 1, 2],
                        [[1 / 3, 1 / 3, 1 / 3], [0.4, 0.4, 0.2], [0.2, 0.4, 0.4],
                         [0.1, 0.45, 0.45], [0.0, 0.5, 0.5]]))
multi.append(class_case("size_1", [2], [[0.2, 0.3, 0.5]]))
dump("metrics_multiclass.json", multi)


# ---- regression --------------------------------------------------------------------------------
def reg_case(name, y, yhat):
    y = np.asarray(y, dtype=float)
    yhat = np.asarray(yhat, dtype=float)
    return {
        "name": name, "y": y.tolist(), "yhat": yhat.tolist(),
        "mae": M.mean_absolute_error(y, yhat),
        "rmse": M.mean_squared_error(y, yhat, squared=False),
        "r2": num(M.r2_score(y, yhat)),
        "mape": M.mean_absolute_percentage_error(y, yhat),
    }


reg = []
n = 2000
y = rng.normal(size=n) * 50 + 10
y[::17] = 0.0                                           # y == 0 for MAPE
reg.append(reg_case("noisy", y, y + rng.normal(size=n) * 5))
reg.append(reg_case("wide_range", rng.lognormal(size=500) * 1e6,
                    rng.lognormal(size=500) * 1e6))
reg.append(reg_case("perfect", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
reg.append(reg_case("constant_y_perfect", [4.0, 4.0, 4.0], [4.0, 4.0, 4.0]))
reg.append(reg_case("constant_y_wrong", [4.0, 4.0, 4.0], [4.0, 5.0, 3.0]))
reg.append(reg_case("zeros", [0.0, 0.0, 1.0, -2.0], [0.5, 0.0, 1.5, -1.0]))
reg.append(reg_case("size_1", [3.0], [2.5]))
dump("metrics_regression.json", reg)


# ---- multilabel: label-indicator y, independent probabilities, predicted at p >= 0.5 ----------
def ml_case(name, Y, P):
    Y = np.asarray(Y, dtype=int)
    P = np.asarray(P, dtype=float)
    H = (P >= 0.5).astype(int)
    K = Y.shape[1]
    both = [k for k in range(K) if 0 < Y[:, k].sum() < len(Y)]
    eps = np.finfo(float).eps
    Q = np.clip(P, eps, 1 - eps)
    prf = M.precision_recall_fscore_support(Y, H, average=None, zero_division=0)
    case = {"name": name, "K": K, "y": Y.ravel().tolist(), "proba": P.ravel().tolist(),
            "accuracy": M.accuracy_score(Y, H), "hamming_loss": M.hamming_loss(Y, H),
            # fastText's P@1: the most probable label (lowest index on ties) is one of the row's
            "precision_at_1": float(np.mean(Y[np.arange(len(Y)), np.argmax(P, axis=1)])),
            "log_loss": float(np.mean(-(Y * np.log(Q) + (1 - Y) * np.log(1 - Q)))),
            "roc_auc": num(np.mean([M.roc_auc_score(Y[:, k], P[:, k]) for k in both])) if both else None,
            "average_precision": num(np.mean([M.average_precision_score(Y[:, k], P[:, k]) for k in both]))
            if both else None,
            "precision": prf[0].tolist(), "recall": prf[1].tolist(), "f1": prf[2].tolist(),
            "support": prf[3].tolist()}
    for avg in ("micro", "macro", "weighted"):
        p_, r_, f_, _ = M.precision_recall_fscore_support(Y, H, average=avg, zero_division=0)
        case["precision_" + avg], case["recall_" + avg], case["f1_" + avg] = p_, r_, f_
    return case


ml = []
n, K = 120, 5
Y = (rng.random((n, K)) < [0.5, 0.3, 0.2, 0.1, 0.6]).astype(int)
Y[Y.sum(axis=1) == 0, 0] = 1
P = 1 / (1 + np.exp(-(rng.normal(size=(n, K)) + 1.5 * (2 * Y - 1))))
ml.append(ml_case("five_labels", Y, P))
# a label no row has (no AUC for it, zero division), one every row has, exact 0.5 probabilities
Y2 = Y.copy()
Y2[:, 3] = 0
Y2[:, 4] = 1
P2 = P.copy()
P2[:7, 1] = 0.5
ml.append(ml_case("constant_labels", Y2, P2))
dump("metrics_multilabel.json", ml)
