#!/usr/bin/python3
"""make_synth.py ROWS COLS OUT.csv [--seed 42] - a synthetic binary classification CSV for
timing gradient-boosted trees (assay against bench/xgb_fit.py): COLS float feature columns
x1..xCOLS and a 0/1 target `y` as the last column. The same ROWS, COLS and seed give the same
file; another seed gives another sample from the same distribution (use one seed for the
training file and another for the test file).

Features (row by row independent): x1-x10 are informative, x11 on are noise; their
distributions vary (standard normal, uniform(-2, 2), log-normal, a 5-level integer-valued
column). The log-odds are a sum of nonlinear, interacting terms of x1-x10, each zero-mean, so
the classes come out roughly balanced (about 50% ones); y ~ Bernoulli(sigmoid(2 * f)), so
even the best model does not reach AUC 1. Terms that need a column beyond COLS are left out.
About 5% of the cells in x2, x(COLS/2+1) and xCOLS (x2, x26, x50 for 50 columns) are left
empty (missing at random, after y is drawn).

Values are written with 4 decimals (%.4f, without the trailing zeros), by a vectorized numpy
formatter in chunks of 100,000 rows: 1,000,000 x 50 takes seconds (pandas.to_csv takes
minutes there).
"""
import argparse

import numpy as np

DEC = 4  # decimals written
CHUNK = 100_000


def features(rng, n, c):
    X = np.empty((n, c))
    for j in range(c):
        kind = j % 4 if j >= 10 else [0, 0, 1, 0, 2, 0, 1, 3, 0, 0][j]
        if kind == 0:
            X[:, j] = rng.standard_normal(n)
        elif kind == 1:
            X[:, j] = rng.uniform(-2, 2, n)
        elif kind == 2:
            X[:, j] = rng.lognormal(0, 1, n)
        else:
            X[:, j] = rng.integers(0, 5, n)
    return X


def logit(X):
    c = X.shape[1]
    lognorm_median = 1.0  # median of lognormal(0, 1)
    terms = [  # (columns used, zero-mean term)
        ((0,), lambda x: 0.8 * x[:, 0]),
        ((0, 1), lambda x: x[:, 0] * x[:, 1]),
        ((2,), lambda x: np.sin(2.0 * x[:, 2])),
        ((3,), lambda x: 0.5 * (x[:, 3] ** 2 - 1.0)),
        ((4,), lambda x: np.where(x[:, 4] > lognorm_median, 0.7, -0.7)),
        ((5, 6), lambda x: np.where(x[:, 5] > 0, x[:, 6], -x[:, 6])),
        ((7,), lambda x: 0.4 * (x[:, 7] - 2.0)),
        ((7, 8), lambda x: np.where(x[:, 7] >= 3, 1.2 * x[:, 8], 0.0)),
        ((9, 1), lambda x: np.tanh(x[:, 9] * x[:, 1])),
    ]
    f = np.zeros(X.shape[0])
    for cols, t in terms:
        if max(cols) < c:
            f += t(X)
    return f


def format_chunk(X, y):
    """CSV bytes of X (floats, NaN written as an empty cell) and y (0/1) as the last column."""
    n, c = X.shape
    scale = 10 ** DEC
    nan = np.isnan(X)
    q = np.rint(np.abs(np.where(nan, 0.0, X)) * scale).astype(np.int64)
    neg = (X < 0) & (q > 0)
    ip, fp = np.divmod(q, scale)
    nd = np.ones(ip.shape, np.int64)  # digits in the integer part
    p = 10
    while True:
        more = ip >= p
        if not more.any():
            break
        nd += more
        p *= 10
    k = int(nd.max())
    w = 1 + k + 1 + DEC + 1  # sign, integer digits, '.', decimals, separator
    buf = np.zeros((n, c, w), np.uint8)
    keep = np.zeros((n, c, w), bool)
    buf[:, :, 0] = ord("-")
    keep[:, :, 0] = neg
    v = ip.copy()
    for i in range(k):  # integer digits, last one first
        pos = k - i
        buf[:, :, pos] = 48 + v % 10
        keep[:, :, pos] = nd > i
        v //= 10
    buf[:, :, k + 1] = ord(".")
    # decimals without trailing zeros; no '.' when they are all zero
    v = fp.copy()
    nz = np.zeros(fp.shape, bool)  # a nonzero digit at or after this position
    for i in range(DEC):
        pos = k + 1 + DEC - i
        d = v % 10
        nz |= d != 0
        buf[:, :, pos] = 48 + d
        keep[:, :, pos] = nz
        v //= 10
    keep[:, :, k + 1] = nz
    keep[nan, : w - 1] = False
    buf[:, :, w - 1] = ord(",")
    keep[:, :, w - 1] = True
    tail = np.empty((n, 2), np.uint8)
    tail[:, 0] = 48 + y
    tail[:, 1] = ord("\n")
    row = np.concatenate([buf.reshape(n, c * w), tail], axis=1)
    rkeep = np.concatenate([keep.reshape(n, c * w), np.ones((n, 2), bool)], axis=1)
    return row[rkeep].tobytes()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("rows", type=int)
    p.add_argument("cols", type=int)
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    if a.rows < 1 or a.cols < 1:
        p.error("ROWS and COLS must be at least 1")
    rng = np.random.default_rng(a.seed)
    missing_cols = sorted({j for j in (1, a.cols // 2, a.cols - 1) if 0 <= j < a.cols})
    if a.cols == 1:
        missing_cols = []
    ones = 0
    with open(a.out, "wb") as fh:
        fh.write((",".join(f"x{j + 1}" for j in range(a.cols)) + ",y\n").encode())
        for start in range(0, a.rows, CHUNK):
            n = min(CHUNK, a.rows - start)
            X = features(rng, n, a.cols)
            f = logit(X)
            y = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * f))).astype(np.uint8)
            for j in missing_cols:
                X[rng.random(n) < 0.05, j] = np.nan
            ones += int(y.sum())
            fh.write(format_chunk(X, y))
    print(f"{a.out}: {a.rows} rows x {a.cols} features + y, {ones / a.rows:.3f} ones, "
          f"missing cells in {', '.join(f'x{j + 1}' for j in missing_cols) or 'none'}")


if __name__ == "__main__":
    main()
