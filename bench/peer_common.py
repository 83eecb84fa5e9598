#!/usr/bin/python3
"""peer_common.py - shared by bench/xgb_fit.py and bench/sklearn_cv.py, the peer-side scripts
that `assay fit` is compared with. Not run on its own.

Common command line: SCRIPT TRAIN TARGET TASK [--test TEST] [--positive P] [--cv K]
[--trees 100] [--depth 6] [--lr 0.1] [--bins 255] [--threads 2] [--seed 42] [--drop COL,...]

Data loading (the same for every peer, so they see the same features):
  * pandas.read_csv. Empty cells stay NaN (each peer handles them its own way).
  * --drop COL,... removes those columns first. Rows with a missing target are dropped.
  * A text column whose every non-empty value is an ISO date (YYYY-MM-DD) is turned into four
    numeric day features, COL_year, COL_month, COL_yday (day of year, 1-366) and COL_wday
    (0 = Monday), and the text column itself is removed. Chicago.csv's `date` is handled this
    way; pass --drop date to leave the date out altogether instead.
  * binary: y = (target == P), 0/1. Without --positive a 0/1 target uses 1; any other target
    needs --positive. regression: y = the target as float.
  * The other text columns stay text; the peer decides (XGBoost: pandas category dtype;
    scikit-learn: impute + one-hot).

Evaluation (run_peer):
  * --cv K (K >= 2): StratifiedKFold (binary) or KFold (regression), shuffle=True,
    random_state=seed, over the training rows. Prints one line per fold and the mean and sd
    (population sd, ddof = 0, as numpy's std and `assay fit`'s CV summary).
  * --test TEST: fits on all of TRAIN, scores TEST.
  * Metric: ROC AUC (binary) or RMSE (regression).
  * Last line: `result cv_mean=<x> cv_sd=<x> test=<x> fit_seconds=<x>` (nan where absent).
    fit_seconds is the time spent in the model's fit calls only (every CV fold plus the fit on
    all of TRAIN), not reading, preparing, predicting or interpreter start-up; whole-process
    wall time is what /usr/bin/time around the script measures.
"""
import argparse
import math
import re
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import mean_squared_error, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_args(doc, tasks=("binary", "regression")):
    """The shared command line. doc: the calling script's docstring (shown by --help)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("train", metavar="TRAIN")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("task", metavar="TASK", choices=list(tasks))
    p.add_argument("--test", metavar="TEST")
    p.add_argument("--positive", metavar="P")
    p.add_argument("--cv", type=int, default=0, metavar="K")
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--bins", type=int, default=255)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--drop", default="", metavar="COL,...")
    a = p.parse_args()
    if a.cv == 1 or a.cv < 0:
        p.error("--cv must be 0 (none) or at least 2")
    if a.cv == 0 and not a.test:
        p.error("nothing to do: give --cv K and/or --test TEST")
    return a


def _date_features(df, cols):
    for c in cols:
        d = pd.to_datetime(df[c], format="%Y-%m-%d", errors="coerce")
        i = df.columns.get_loc(c)
        df.insert(i, c + "_wday", d.dt.dayofweek.astype("float64"))
        df.insert(i, c + "_yday", d.dt.dayofyear.astype("float64"))
        df.insert(i, c + "_month", d.dt.month.astype("float64"))
        df.insert(i, c + "_year", d.dt.year.astype("float64"))
        del df[c]
    return df


def _date_columns(df):
    out = []
    for c in df.columns:
        if df[c].dtype == object:
            s = df[c].dropna()
            if len(s) and s.astype(str).str.match(_ISO_DATE).all():
                out.append(c)
    return out


def _labels(s, task, positive):
    if task == "regression":
        return s.astype("float64").to_numpy()
    if positive is None:
        vals = set(pd.unique(s))
        if vals <= {0, 1}:
            return s.astype(int).to_numpy()
        sys.exit(f"binary target {s.name!r} has values {sorted(map(str, vals))[:5]}: give --positive")
    if s.dtype.kind in "if":
        y = s == float(positive)
    else:
        y = s.astype(str) == positive
    if not y.any():
        sys.exit(f"--positive {positive!r} never occurs in target {s.name!r}")
    return y.astype(int).to_numpy()


def load(args):
    """Returns (X_train, y_train, X_test or None, y_test or None) as described at the top."""
    drop = [c for c in args.drop.split(",") if c]
    frames = []
    for path in [args.train] + ([args.test] if args.test else []):
        df = pd.read_csv(path)
        missing = [c for c in drop + [args.target] if c not in df.columns]
        if missing:
            sys.exit(f"{path}: no column(s) {', '.join(missing)}")
        df = df.drop(columns=drop)
        n = len(df)
        df = df[df[args.target].notna()].reset_index(drop=True)
        if len(df) < n:
            print(f"{path}: dropped {n - len(df)} rows with a missing target")
        frames.append(df)
    dates = _date_columns(frames[0].drop(columns=[args.target]))
    if dates:
        print(f"date column(s) {', '.join(dates)} -> _year, _month, _yday, _wday")
    out = []
    for df in frames:
        df = _date_features(df, dates)
        out += [df.drop(columns=[args.target]), _labels(df[args.target], args.task, args.positive)]
    if len(out) == 2:
        out += [None, None]
    return tuple(out)


def score(task, y, pred):
    if task == "binary":
        return roc_auc_score(y, pred)
    return math.sqrt(mean_squared_error(y, pred))


def _fmt(x):
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6f}"


def run_peer(args, X, y, Xte, yte, make_model, predict):
    """make_model() -> an unfitted estimator; predict(model, X) -> scores (probability of the
    positive class, or the regression prediction). Prints folds, test and the result line."""
    metric = "roc_auc" if args.task == "binary" else "rmse"
    fit_s = 0.0
    cv_mean = cv_sd = test = float("nan")
    print(f"train {X.shape[0]} rows x {X.shape[1]} features"
          + (f", test {Xte.shape[0]} rows" if Xte is not None else "")
          + (f", positive rate {y.mean():.4f}" if args.task == "binary" else ""))
    if args.cv >= 2:
        split = (StratifiedKFold if args.task == "binary" else KFold)(
            args.cv, shuffle=True, random_state=args.seed)
        scores = []
        for k, (tr, va) in enumerate(split.split(X, y), 1):
            m = make_model()
            t = time.perf_counter()
            m.fit(X.iloc[tr], y[tr])
            dt = time.perf_counter() - t
            fit_s += dt
            scores.append(score(args.task, y[va], predict(m, X.iloc[va])))
            print(f"fold {k} {metric}={scores[-1]:.6f} fit_s={dt:.3f}")
        cv_mean, cv_sd = float(np.mean(scores)), float(np.std(scores))
        print(f"cv {args.cv} folds {metric} mean={cv_mean:.6f} sd={cv_sd:.6f}")
    if Xte is not None:
        m = make_model()
        t = time.perf_counter()
        m.fit(X, y)
        dt = time.perf_counter() - t
        fit_s += dt
        test = score(args.task, yte, predict(m, Xte))
        print(f"test {metric}={test:.6f} fit_s={dt:.3f}")
    print(f"result cv_mean={_fmt(cv_mean)} cv_sd={_fmt(cv_sd)} test={_fmt(test)} "
          f"fit_seconds={_fmt(fit_s)}")
