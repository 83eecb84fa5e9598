#!/usr/bin/python3
"""gen_prep.py - parity fixture for the prep module (tests/unit/test_prep.c).

Builds a small mixed table (numeric with missing values and outliers, a 0/1 boolean, a datetime,
categoricals with rare levels and missing values; the test part has unseen levels), fits
scikit-learn 1.2 transformers on the training rows of each column and writes the expected train
and test design matrices, in assay's feature order (input columns in table order, each column's
features together), to tests/parity/fixtures/prep_parity.json.

Per column the reference is exactly what a ColumnTransformer would compute for that column:
SimpleImputer + StandardScaler / RobustScaler / MinMaxScaler on numbers (booleans as 0/1,
datetimes as pandas calendar fields), SimpleImputer + OneHotEncoder (handle_unknown 'ignore' or
'infrequent_if_exist', min_frequency, max_categories) on categories, MissingIndicator
(features='missing-only'); outlier bounds use numpy's percentiles.

Run: /usr/bin/python3 tests/parity/gen/gen_prep.py   (numpy, pandas, scikit-learn 1.2)
"""
import json
import os

import numpy as np
import pandas as pd
import sklearn
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

rng = np.random.default_rng(7)
NTRAIN, NTEST = 50, 16
N = NTRAIN + NTEST


def with_missing(a, frac):
    a = a.astype(float)
    a[rng.random(len(a)) < frac] = np.nan
    return a


age = with_missing(rng.integers(18, 80, N), 0.12)
income = with_missing(np.round(np.exp(rng.normal(10, 0.6, N)), 2), 0.1)
income[[3, 17]] = [900000.0, 1.5]  # outliers in the training rows
income[NTRAIN + 2] = 2.5e6         # and one in the test rows
score = rng.uniform(-1, 1, N)
owner = with_missing(rng.integers(0, 2, N), 0.1)
city_levels = ["Berlin", "Lyon", "Madrid", "Oslo", "Rome", "Zagreb", "Århus"]
city = list(rng.choice(city_levels, N, p=[0.3, 0.25, 0.2, 0.1, 0.07, 0.05, 0.03]))
for i in range(N):
    if rng.random() < 0.1:
        city[i] = None
city[NTRAIN + 1] = "Unseen City"
city[NTRAIN + 5] = "Paris"
plan = list(rng.choice(["basic", "pro", "team"], N))
plan[4] = None
plan[NTRAIN + 3] = "enterprise"
when = rng.integers(946684800, 1735689600, N).astype(float)  # 2000 .. 2025
when[rng.random(N) < 0.08] = np.nan

columns = [
    ("age", "numeric", age),
    ("income", "numeric", income),
    ("score", "numeric", score),
    ("owner", "boolean", owner),
    ("when", "datetime", when),
    ("city", "categorical", city),
    ("plan", "categorical", plan),
]

DT_FIELDS = ["year", "month", "day", "dayofweek", "hour", "dayofyear"]


def calendar(secs):
    s = pd.to_datetime(pd.Series(secs), unit="s", utc=True)
    out = {}
    for f in DT_FIELDS:
        out[f] = getattr(s.dt, f).astype(float).to_numpy()
    return out


def num_block(x, opt):
    """Features of one number column (train, test) and their suffixes."""
    tr, te = x[:NTRAIN].reshape(-1, 1), x[NTRAIN:].reshape(-1, 1)
    strategy = {"median": "median", "mean": "mean", "most_frequent": "most_frequent"}[opt["impute_numeric"]]
    imp = SimpleImputer(strategy=strategy).fit(tr)
    fill = imp.statistics_[0]
    pres = tr[~np.isnan(tr)]
    flag_tr = flag_te = None
    if opt.get("outliers", "none") != "none" and opt.get("numeric_outliers", True):
        k = opt.get("outlier_threshold", 0)
        if opt["outliers"] == "iqr":
            k = k or 1.5
            q1, q3 = np.percentile(pres, [25, 75])
            lo, hi = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
        else:
            k = k or 3.0
            lo, hi = pres.mean() - k * pres.std(), pres.mean() + k * pres.std()

        def apply(a):
            out = (a < lo) | (a > hi)
            if opt["outlier_action"] == "clip":
                return np.clip(a, lo, hi), None
            return a, out.astype(float)

        tr, flag_tr = apply(tr)
        te, flag_te = apply(te)
    tr_i = np.where(np.isnan(tr), fill, tr)
    te_i = np.where(np.isnan(te), fill, te)
    scaler = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}[opt["scale"]]()
    scaler.fit(tr_i)
    return scaler.transform(tr_i)[:, 0], scaler.transform(te_i)[:, 0], flag_tr, flag_te


def indicator(x):
    tr, te = x[:NTRAIN].reshape(-1, 1), x[NTRAIN:].reshape(-1, 1)
    mi = MissingIndicator(features="missing-only").fit(tr)
    if len(mi.features_) == 0:
        return None
    return mi.transform(tr)[:, 0].astype(float), mi.transform(te)[:, 0].astype(float)


def cat_block(vals, opt):
    a = np.array([np.nan if v is None else v for v in vals], dtype=object).reshape(-1, 1)
    tr, te = a[:NTRAIN], a[NTRAIN:]
    if opt["impute_categorical"] == "constant":
        imp = SimpleImputer(strategy="constant", fill_value="missing", missing_values=np.nan)
    else:
        imp = SimpleImputer(strategy="most_frequent", missing_values=np.nan)
    imp.fit(tr)
    tr_i, te_i = imp.transform(tr), imp.transform(te)
    kw = {}
    if opt.get("min_frequency"):
        mf = opt["min_frequency"]
        kw["min_frequency"] = int(mf) if mf >= 1 else float(mf)
    if opt.get("max_categories"):
        kw["max_categories"] = opt["max_categories"]
    unseen = {"ignore": "ignore", "infrequent": "infrequent_if_exist"}[opt.get("unseen", "ignore")]
    enc = OneHotEncoder(handle_unknown=unseen, sparse_output=False, **kw).fit(tr_i)
    names = []
    for n in enc.get_feature_names_out(["c"]):
        names.append("_infrequent" if n == "c_infrequent_sklearn" else "=" + n[2:])
    return enc.transform(tr_i), enc.transform(te_i), names


def variant(name, opt):
    feats, tr_cols, te_cols = [], [], []

    def add(fname, tr, te):
        feats.append(fname)
        tr_cols.append(np.asarray(tr, dtype=float).reshape(-1))
        te_cols.append(np.asarray(te, dtype=float).reshape(-1))

    for cname, ctype, vals in columns:
        if ctype in ("numeric", "boolean"):
            o = dict(opt)
            o["numeric_outliers"] = ctype == "numeric"
            tr, te, ftr, fte = num_block(vals, o)
            add(cname, tr, te)
            if ftr is not None:
                add(cname + "_outlier", ftr, fte)
            ind = indicator(vals) if opt.get("missing_indicator") else None
            if ind:
                add(cname + "_missing", *ind)
        elif ctype == "datetime":
            cal = calendar(vals)
            o = dict(opt)
            o["numeric_outliers"] = False
            for f in DT_FIELDS:
                tr, te, _, _ = num_block(cal[f], o)
                add(cname + "." + f, tr, te)
            ind = indicator(vals) if opt.get("missing_indicator") else None
            if ind:
                add(cname + "_missing", *ind)
        else:
            tr, te, names = cat_block(vals, opt)
            for j, n in enumerate(names):
                add(cname + n, tr[:, j], te[:, j])
            if opt.get("missing_indicator") and opt["impute_categorical"] == "most_frequent":
                ind = indicator(np.array([np.nan if v is None else 0.0 for v in vals]))
                if ind:
                    add(cname + "_missing", *ind)
    r = lambda m: [[float("%.10g" % v) for v in row] for row in np.column_stack(m).tolist()]
    return {"name": name, "options": opt, "features": feats, "train": r(tr_cols), "test": r(te_cols)}


base = {"impute_numeric": "median", "impute_categorical": "most_frequent", "scale": "standard",
        "unseen": "ignore"}
variants = [
    variant("median_standard_onehot", base),
    variant("median_robust", dict(base, scale="robust")),
    variant("mean_minmax", dict(base, impute_numeric="mean", scale="minmax")),
    variant("most_frequent_constant_cat", dict(base, impute_numeric="most_frequent",
                                               impute_categorical="constant")),
    variant("min_frequency_count", dict(base, min_frequency=3, unseen="infrequent")),
    variant("min_frequency_fraction", dict(base, min_frequency=0.1, unseen="ignore")),
    variant("max_categories", dict(base, max_categories=3, unseen="infrequent")),
    variant("indicator_iqr_clip", dict(base, missing_indicator=1, outliers="iqr",
                                       outlier_action="clip")),
    variant("zscore_flag_robust", dict(base, outliers="zscore", outlier_action="flag",
                                       outlier_threshold=2.0, scale="robust")),
]


def jsonable(v):
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


doc = {
    "generator": "tests/parity/gen/gen_prep.py, scikit-learn %s, numpy %s, pandas %s"
                 % (sklearn.__version__, np.__version__, pd.__version__),
    "ntrain": NTRAIN,
    "columns": [{"name": n, "type": t,
                 "values": [jsonable(float(v)) if t != "categorical" else v for v in vals]}
                for n, t, vals in columns],
    "variants": variants,
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "prep_parity.json")
with open(out, "w") as f:
    json.dump(doc, f, separators=(",", ":"), ensure_ascii=False)
print(out, os.path.getsize(out), "bytes")

# ---- real data: examples/credit_data.csv with the default options ---------------------------
# Duplicates dropped (first kept), "Status" excluded; the first ROWS rows of every feature are
# stored (the whole matrix would be too big to commit). Records (no/yes) is stored both one-hot
# and as a standardized 0/1 column, whichever type the CSV reader infers.
ROWS = 60
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples", "credit_data.csv")
df = pd.read_csv(src).drop_duplicates(keep="first")
kept = [int(i) for i in df.index]
feats = {}
for c in df.columns:
    if c == "Status":
        continue
    if df[c].dtype == object:
        a = df[[c]].to_numpy(dtype=object)
        a = np.where(pd.isna(a), np.nan, a)
        imp = SimpleImputer(strategy="most_frequent", missing_values=np.nan).fit(a)
        enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(imp.transform(a))
        X = enc.transform(imp.transform(a))
        for j, cat in enumerate(enc.categories_[0]):
            feats["%s=%s" % (c, cat)] = X[:ROWS, j]
        if set(df[c].dropna()) <= {"yes", "no"}:
            b = df[[c]].replace({"yes": 1.0, "no": 0.0}).to_numpy(dtype=float)
            bi = SimpleImputer(strategy="median").fit_transform(b)
            feats[c] = StandardScaler().fit_transform(bi)[:ROWS, 0]
    else:
        a = df[[c]].to_numpy(dtype=float)
        ai = SimpleImputer(strategy="median").fit_transform(a)
        feats[c] = StandardScaler().fit_transform(ai)[:ROWS, 0]
credit = {
    "generator": doc["generator"],
    "source": "examples/credit_data.csv",
    "rows_in": int(len(pd.read_csv(src))),
    "kept_first": kept[:ROWS],
    "nkept": len(kept),
    "features": {k: [float("%.10g" % x) for x in v] for k, v in feats.items()},
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "prep_credit.json")
with open(out, "w") as f:
    json.dump(credit, f, separators=(",", ":"))
print(out, os.path.getsize(out), "bytes")
