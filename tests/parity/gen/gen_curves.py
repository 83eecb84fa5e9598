#!/usr/bin/python3
"""gen_curves.py - scikit-learn's curves and calibrators for assay's curves module.

Writes tests/parity/fixtures/curves.json with cases for: roc_curve (drop_intermediate=True) and
precision_recall_curve (ties, no ties, one class only), calibration_curve (uniform and quantile,
values exactly on bin edges, 0 and 1), cumulative gain / lift by group (numpy: stable descending
sort by score with ties in row order, then numpy.array_split into G groups), Platt's sigmoid
calibration (sklearn.calibration._sigmoid_calibration's a and b and the calibrated probabilities,
plus the exact optimum from a tight Newton solve) and IsotonicRegression(out_of_bounds="clip")
(breakpoints and predictions, sample ties, points outside the fitted range).
It does not cover sample weights or pos_label other than 1.
Run with Debian's python: /usr/bin/python3 tests/parity/gen/gen_curves.py
"""
import json
import math
import os
import warnings

import numpy as np
import sklearn
from scipy.special import expit
from sklearn.calibration import _sigmoid_calibration, calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import precision_recall_curve, roc_curve

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
rng = np.random.default_rng(20240612)


def nums(a):
    return [None if math.isnan(float(v)) else float(v) for v in np.asarray(a, dtype=float)]


# ---- ROC and precision-recall ------------------------------------------------------------------
def rank_case(name, y, s):
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=True)
    prec, rec, pthr = precision_recall_curve(y, s)
    return {"name": name, "y": y.tolist(), "score": nums(s),
            "roc": {"fpr": nums(fpr), "tpr": nums(tpr), "thresholds": nums(thr)},
            "pr": {"precision": nums(prec), "recall": nums(rec), "thresholds": nums(pthr)}}


rank = []
n = 250
y = (rng.random(n) < 0.3).astype(int)
rank.append(rank_case("ties_1dp", y, np.round(rng.normal(size=n) + 0.8 * y, 1)))
rank.append(rank_case("ties_integer", y, np.round(rng.normal(size=n) + 0.5 * y, 0)))
y = (rng.random(300) < 0.5).astype(int)
rank.append(rank_case("no_ties", y, rng.normal(size=300) + 0.7 * y))
rank.append(rank_case("collinear", [1, 1, 1, 0, 0, 0, 1, 0], [8, 7, 6, 5, 4, 3, 2, 1]))
rank.append(rank_case("perfect", [0, 0, 0, 0, 1, 1, 1, 1], np.arange(8.0)))
rank.append(rank_case("all_tied", [0, 0, 1, 1, 0, 1, 0, 1], np.full(8, 0.5)))
rank.append(rank_case("only_negatives", [0, 0, 0, 0], [0.1, 0.5, 0.2, 0.5]))
rank.append(rank_case("only_positives", [1, 1, 1], [0.1, 0.5, 0.2]))
rank.append(rank_case("one_row", [1], [0.3]))
rank.append(rank_case("two_rows", [1, 0], [0.3, 0.7]))


# ---- calibration curve -------------------------------------------------------------------------
def calib_case(name, y, p, n_bins, strategy):
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    # the counts per nonempty bin, as calibration_curve computes them internally
    if strategy == "quantile":
        bins = np.percentile(p, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        bins = np.linspace(0.0, 1.0, n_bins + 1)
    binids = np.searchsorted(bins[1:-1], p)
    total = np.bincount(binids, minlength=len(bins))
    nz = total != 0
    return {"name": name, "y": y.tolist(), "p": nums(p), "n_bins": n_bins,
            "strategy": strategy, "edges": nums(bins), "prob_true": nums(prob_true),
            "prob_pred": nums(prob_pred), "count": total[nz].tolist(),
            "bin": np.nonzero(nz)[0].tolist(),
            "brier": float(np.mean((y - p) ** 2))}


calib = []
n = 250
p = rng.beta(2, 3, size=n)
y = (rng.random(n) < p).astype(int)
calib.append(calib_case("beta_uniform_10", y, p, 10, "uniform"))
calib.append(calib_case("beta_quantile_10", y, p, 10, "quantile"))
calib.append(calib_case("beta_quantile_7", y, p, 7, "quantile"))
p2 = np.round(p, 1)                                      # values exactly on the edges, 0 and 1
p2[:5] = 0.0
p2[5:10] = 1.0
calib.append(calib_case("on_edges_uniform_10", y, p2, 10, "uniform"))
calib.append(calib_case("on_edges_uniform_5", y, p2, 5, "uniform"))
calib.append(calib_case("on_edges_quantile_8", y, p2, 8, "quantile"))
calib.append(calib_case("few_uniform_3", [0, 0, 0, 0, 1, 1, 1, 1, 1],
                        [0.1, 0.2, 0.3, 0.4, 0.65, 0.7, 0.8, 0.9, 1.0], 3, "uniform"))
calib.append(calib_case("few_quantile_4", [0, 1, 0, 1, 1], [0.2, 0.2, 0.2, 0.9, 0.5], 4,
                        "quantile"))


# ---- cumulative gain and lift ------------------------------------------------------------------
def gain_case(name, y, s, G):
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    order = np.argsort(-s, kind="stable")                # descending, ties in row order
    groups = np.array_split(y[order], G)
    rows = np.array([len(g) for g in groups])
    pos = np.array([int(g.sum()) for g in groups])
    P, N = y.sum(), len(y)
    rate = P / N
    crows, cpos = np.cumsum(rows), np.cumsum(pos)
    with np.errstate(all="ignore"):
        gain = cpos / P if P > 0 else np.full(G, np.nan)
        lift = (pos / rows) / rate if P > 0 else np.full(G, np.nan)
        cum_lift = (cpos / crows) / rate if P > 0 else np.full(G, np.nan)
    return {"name": name, "y": y.tolist(), "score": nums(s), "groups": G,
            "rows": rows.tolist(), "positives": pos.tolist(), "gain": nums(gain),
            "lift": nums(lift), "cum_lift": nums(cum_lift)}


gain = []
n = 503
y = (rng.random(n) < 0.2).astype(int)
s = np.round(rng.normal(size=n) + y, 1)
gain.append(gain_case("deciles_ties", y, s, 10))
gain.append(gain_case("thirds", y, s, 3))
gain.append(gain_case("all_tied_5", y[:23], np.zeros(23), 5))
gain.append(gain_case("fewer_rows_than_groups", [1, 0, 1, 0, 0, 1, 0], [.9, .8, .7, .6, .5, .4, .3],
                      10))
gain.append(gain_case("no_positives", [0, 0, 0, 0], [0.4, 0.3, 0.2, 0.1], 2))


# ---- Platt scaling -----------------------------------------------------------------------------
def platt_exact(F, y):
    """Newton's method to machine precision on the same objective (the true optimum)."""
    prior1 = float(np.sum(y > 0))
    prior0 = len(y) - prior1
    T = np.where(y > 0, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))
    ab = np.array([0.0, math.log((prior0 + 1.0) / (prior1 + 1.0))])
    for _ in range(200):
        P = expit(-(ab[0] * F + ab[1]))
        g = np.array([np.dot(T - P, F), np.sum(T - P)])
        w = P * (1 - P)
        H = np.array([[np.dot(w, F * F), np.dot(w, F)], [np.dot(w, F), np.sum(w)]])
        step = np.linalg.solve(H, g)
        ab = ab - step
        if np.max(np.abs(step)) < 1e-15 * (1 + np.max(np.abs(ab))):
            break
    return ab


def platt_case(name, y, F, Fnew):
    y = np.asarray(y, dtype=int)
    F = np.asarray(F, dtype=float)
    Fnew = np.asarray(Fnew, dtype=float)
    a, b = _sigmoid_calibration(F, y)
    ea, eb = platt_exact(F, y)
    return {"name": name, "y": y.tolist(), "score": nums(F), "a": float(a), "b": float(b),
            "a_exact": float(ea), "b_exact": float(eb), "new": nums(Fnew),
            "pred": nums(expit(-(a * Fnew + b)))}


platt = []
n = 500
y = (rng.random(n) < 0.4).astype(int)
F = rng.normal(size=n) * 1.5 + 1.2 * y - 0.3
grid = np.linspace(-6, 6, 25)
platt.append(platt_case("decision_function", y, F, grid))
pp = expit(F)
platt.append(platt_case("probabilities", y, pp, np.linspace(0, 1, 21)))
y = (rng.random(80) < 0.2).astype(int)
platt.append(platt_case("small_imbalanced", y, np.round(rng.normal(size=80) + 2 * y, 1),
                        grid))


# ---- isotonic ----------------------------------------------------------------------------------
def iso_case(name, y, s, new):
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    new = np.asarray(new, dtype=float)
    ir = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(s, y)
    return {"name": name, "y": y.tolist(), "score": nums(s),
            "x": nums(ir.X_thresholds_), "yb": nums(ir.y_thresholds_),
            "new": nums(new), "pred": nums(ir.predict(new)), "fit_pred": nums(ir.predict(s))}


iso = []
n = 250
y = (rng.random(n) < 0.35).astype(int)
s = rng.normal(size=n) + y
new = np.concatenate([np.linspace(-5, 5, 41), s[:20], [s.min(), s.max()]])
iso.append(iso_case("continuous", y, s, new))
s2 = np.round(s, 1)                                      # sample ties
new2 = np.concatenate([np.linspace(-5, 5, 41), s2[:20], [s2.min() - 1, s2.max() + 1]])
iso.append(iso_case("ties_1dp", y, s2, new2))
iso.append(iso_case("decreasing_data", [1, 1, 0, 0, 1, 0], [1, 2, 3, 4, 5, 6],
                    [0, 1, 1.5, 2.5, 3.5, 5.5, 7]))
iso.append(iso_case("all_tied", [1, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], [0, 0.5, 1]))
iso.append(iso_case("one_row", [1], [0.5], [0, 0.5, 1]))

path = os.path.join(OUT, "curves.json")
with open(path, "w") as f:
    json.dump({"sklearn": sklearn.__version__, "rank": rank, "calibration": calib, "gain": gain,
               "platt": platt, "isotonic": iso}, f, allow_nan=False, separators=(",", ":"))
print(path, os.path.getsize(path), "bytes")
