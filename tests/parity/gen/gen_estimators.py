#!/usr/bin/env python3
"""gen_estimators.py - reference fits from scikit-learn for the logreg / linear / ridge parity
tests (tests/unit/test_logreg.c, tests/unit/test_linear.c).

Writes tests/parity/fixtures/est_logreg.json and est_linear.json. Features are rounded to float32
first (assay's designs are float32), then sklearn fits in float64 with tight tolerances.
Run:  /usr/bin/python3 tests/parity/gen/gen_estimators.py
"""
import json
import os

import numpy as np
import sklearn
from scipy.special import logsumexp
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
rng = np.random.default_rng(20261122)


def f32(a):
    """Round to 3 decimals (short JSON) and then to float32, as the C test will read it."""
    return np.asarray(np.round(a, 3), dtype=np.float32).astype(np.float64)


def xjson(a):
    """The 3-decimal values whose float32 rounding f32() returns."""
    return np.round(np.asarray(a, dtype=np.float64), 3).tolist()


def rnd(a, digits=12):
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def objective(coef, intercept, X, y, w, C, penalty, K):
    """sklearn's objective: C * sum_i w_i loss_i + penalty(W)."""
    if K == 2:
        z = X @ coef[0] + intercept[0]
        loss = np.logaddexp(0, np.where(y == 1, -z, z))
    else:
        Z = X @ coef.T + intercept
        loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), y.astype(int)]
    pen = {"l2": 0.5 * np.sum(coef ** 2), "l1": np.sum(np.abs(coef)), "none": 0.0}[penalty]
    return C * np.sum(w * loss) + pen


def newton_polish(coef, icpt, X, y, w, C, penalty, K, fit_intercept):
    """A few Newton steps on sklearn's (smooth) objective from sklearn's solution.

    sklearn's lbfgs also stops on a relative function change of 64*eps, well before tol=1e-10 on
    ill-conditioned problems; this takes its answer to the exact optimum of the same objective
    so the C test can hold a tight tolerance. Pseudo-inverse steps: the multinomial intercepts
    are only defined up to a common shift, which the steps leave alone (as lbfgs does)."""
    n, d = X.shape
    K1 = 1 if K == 2 else K
    Xt = np.column_stack([X, np.ones(n)]) if fit_intercept else X
    m = Xt.shape[1]
    th = np.column_stack([coef, icpt]) if fit_intercept else coef.copy()
    lam = np.zeros(m)
    if penalty == "l2":
        lam[:d] = 1.0
    Yk = np.eye(K)[y.astype(int)]
    for _ in range(30):
        Z = Xt @ th.T
        if K1 == 1:
            P = 1 / (1 + np.exp(-Z[:, 0]))
            R = (P - Yk[:, 1])[:, None]
        else:
            P = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
            R = P - Yk
        g = C * (R * w[:, None]).T @ Xt + th * lam
        H = np.zeros((K1 * m, K1 * m))
        for a in range(K1):
            for b in range(K1):
                if K1 == 1:
                    c = P * (1 - P)
                else:
                    c = P[:, a] * ((a == b) - P[:, b])
                H[a * m:(a + 1) * m, b * m:(b + 1) * m] = C * (Xt * (w * c)[:, None]).T @ Xt
        H += np.diag(np.tile(lam, K1))
        step = np.linalg.lstsq(H, g.ravel(), rcond=1e-12)[0]
        th = th - step.reshape(K1, m)
        if np.abs(step).max() < 1e-15 * (1 + np.abs(th).max()):
            break
    if fit_intercept:
        return th[:, :d], th[:, d]
    return th, np.zeros(K1)


def logreg_case(name, X, y, K, C=1.0, penalty="l2", w=None, balanced=False, fit_intercept=True):
    Xj = xjson(X)
    X = f32(X)
    n = len(y)
    kw = dict(C=C, fit_intercept=fit_intercept, class_weight="balanced" if balanced else None)
    if penalty == "none":
        kw["C"] = 1.0
        kw["penalty"] = "none"
    else:
        kw["penalty"] = penalty
    if K > 2:
        kw["multi_class"] = "multinomial"
    if penalty == "l1":
        clf = LogisticRegression(solver="saga", tol=1e-12, max_iter=100000, **kw)
    else:
        clf = LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=10000, **kw)
    clf.fit(X, y, sample_weight=w)
    coef = clf.coef_
    icpt = clf.intercept_ if fit_intercept else np.zeros(coef.shape[0])
    ww = np.ones(n) if w is None else np.asarray(w, float)
    if balanced:
        cnt = np.bincount(y.astype(int), minlength=K)
        cw = n / (K * cnt)
        ww = ww * cw[y.astype(int)]
    Cobj = 1.0 if penalty == "none" else C
    sk_obj = float(objective(coef, icpt, X, y, ww, Cobj, penalty, K))
    if penalty != "l1":
        coef, icpt = newton_polish(coef, icpt, X, y, ww, Cobj, penalty, K, fit_intercept)
        if K == 2:
            z = X @ coef[0] + icpt[0]
            p1 = 1 / (1 + np.exp(-z))
            proba = np.column_stack([1 - p1, p1])
        else:
            Z = X @ coef.T + icpt
            proba = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
    else:
        proba = clf.predict_proba(X)
    params = [f"penalty={penalty}", "tol=1e-10", "max_iter=10000"]
    if penalty != "none":
        params.append(f"C={C!r}")
    if balanced:
        params.append("class_weight=balanced")
    if not fit_intercept:
        params.append("fit_intercept=false")
    return {
        "name": name,
        "params": ",".join(params),
        "nclasses": K,
        "penalty": penalty,
        "X": Xj,
        "y": y.astype(int).tolist(),
        "w": None if w is None else rnd(w),
        "coef": rnd(coef, 14),
        "intercept": rnd(icpt, 14),
        "proba": rnd(proba, 12),
        # coef/intercept/proba: sklearn's solution, Newton-polished for l2/none (see above);
        # sklearn_objective: sklearn's own, unpolished
        "objective": float(objective(coef, icpt, X, y, ww, Cobj, penalty, K)),
        "sklearn_objective": sk_obj,
        "n_iter": int(np.max(clf.n_iter_)),
    }


def binary_data(n=200, d=15):
    Z = rng.normal(size=(n, d))
    Z[:, 1] = Z[:, 0] * 0.9 + 0.1 * Z[:, 1]          # correlated pair
    Z[:, 2] = Z[:, 0] - Z[:, 3] + 0.05 * Z[:, 2]       # nearly a linear combination
    Z[:, 5] *= 10.0                                     # different scales
    Z[:, 6] = Z[:, 6] * 0.01 + 3.0
    beta = rng.normal(size=d) * 0.7
    p = 1 / (1 + np.exp(-(Z @ beta * 0.5 - 0.3)))
    y = (rng.uniform(size=n) < p).astype(int)
    return Z, y


def multi_data(n=240, d=6, K=4):
    centers = rng.normal(size=(K, d)) * 1.2
    y = rng.integers(0, K, size=n)
    X = centers[y] + rng.normal(size=(n, d))
    X[:, 3] = X[:, 0] + 0.2 * X[:, 3]
    return X, y


def main():
    cases = []
    Xb, yb = binary_data()
    cases.append(logreg_case("binary_l2", Xb, yb, 2, C=1.0))
    cases.append(logreg_case("binary_l2_C0.05", Xb, yb, 2, C=0.05))
    cases.append(logreg_case("binary_none", Xb[:, :8], yb, 2, penalty="none"))
    cases.append(logreg_case("binary_l2_nointercept", Xb, yb, 2, C=0.7, fit_intercept=False))
    cases.append(logreg_case("binary_l1", Xb, yb, 2, C=0.1, penalty="l1"))
    Xm, ym = multi_data()
    cases.append(logreg_case("multi_l2", Xm, ym, 4, C=0.5))
    cases.append(logreg_case("multi_l1", Xm, ym, 4, C=0.3, penalty="l1"))
    # imbalanced, weighted, balanced classes
    n = 200
    Xw = rng.normal(size=(n, 5))
    yw = (Xw[:, 0] + 0.5 * rng.normal(size=n) > 1.0).astype(int)
    ww = rng.uniform(0.2, 3.0, size=n)
    cases.append(logreg_case("weighted_balanced", Xw, yw, 2, C=2.0, w=ww, balanced=True))
    Xm3, ym3 = multi_data(n=150, d=4, K=3)
    wm3 = rng.uniform(0.5, 2.0, size=150)
    cases.append(logreg_case("multi_weighted_balanced", Xm3, ym3, 3, C=1.5, w=wm3,
                             balanced=True))
    with open(os.path.join(OUT, "est_logreg.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "cases": cases}, f)

    lin = []

    def lin_case(name, X, y, w=None, alpha=None, fit_intercept=True):
        Xj = xjson(X)
        X = f32(X)
        sk_dev = 0.0
        if alpha is None:
            est = LinearRegression(fit_intercept=fit_intercept)
            params = "" if fit_intercept else "fit_intercept=false"
            kind = "linear"
        else:
            est = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky")
            params = f"alpha={alpha!r}" + ("" if fit_intercept else ",fit_intercept=false")
            kind = "ridge"
        est.fit(X, y, sample_weight=w)
        coef = np.ravel(est.coef_)
        icpt = float(est.intercept_) if fit_intercept else 0.0
        pred = est.predict(X)
        if alpha is None:
            # The minimum-norm least-squares solution (pinv of the centred, weighted design):
            # the reference for rank-deficient designs.
            sw = np.ones(len(y)) if w is None else np.asarray(w)
            xm = np.average(X, axis=0, weights=sw) if fit_intercept else np.zeros(X.shape[1])
            yv = np.average(y, weights=sw) if fit_intercept else 0.0
            Xc = (X - xm) * np.sqrt(sw)[:, None]
            yc = (y - yv) * np.sqrt(sw)
            coef_mn = np.linalg.pinv(Xc, rcond=1e-10) @ yc
            dev = np.abs(Xc @ coef_mn - Xc @ coef).max()
            print(f"{name}: sklearn vs min-norm fitted values differ by {dev:.3g}, coef {np.abs(coef_mn - coef).max():.3g}")
            sk_dev = float(dev)
            coef = coef_mn
            icpt = float(yv - xm @ coef) if fit_intercept else 0.0
            pred = X @ coef + icpt
        lin.append({"name": name, "kind": kind, "params": params, "X": Xj,
                    "y": rnd(y, 15), "w": None if w is None else rnd(w),
                    "coef": rnd(coef, 15), "intercept": icpt, "pred": rnd(pred, 15),
                    # sklearn 1.2's own fitted values differ from the minimum-norm ones by this
                    # much (large only where lstsq kept a singular value that is rounding noise)
                    "sklearn_pred_dev": sk_dev})

    n, d = 150, 8
    X = rng.normal(size=(n, d))
    X[:, 1] = X[:, 0] * 0.8 + 0.2 * X[:, 1]
    X[:, 4] *= 50
    beta = rng.normal(size=d)
    y = X @ beta + 3.0 + rng.normal(size=n) * 0.3
    w = rng.uniform(0.1, 2.0, size=n)
    lin_case("ols", X, y)
    lin_case("ols_weighted", X, y, w=w)
    lin_case("ols_nointercept", X, y, fit_intercept=False)
    lin_case("ridge", X, y, alpha=2.5)
    lin_case("ridge_weighted", X, y, w=w, alpha=10.0)
    # rank-deficient: one-hot dummies of a 3-level factor (collinear with the intercept), a
    # duplicated column and a constant column
    g = rng.integers(0, 3, size=n)
    onehot = np.eye(3)[g]
    Xr = np.column_stack([X[:, :3], onehot, X[:, 0], np.full(n, 2.0)])
    yr = Xr[:, :3] @ beta[:3] + onehot @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n) * 0.1
    lin_case("ols_rank_deficient", Xr, yr)
    lin_case("ols_rank_deficient_weighted", Xr, yr, w=w)
    lin_case("ridge_rank_deficient", Xr, yr, alpha=0.5)
    with open(os.path.join(OUT, "est_linear.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "cases": lin}, f)


if __name__ == "__main__":
    main()
