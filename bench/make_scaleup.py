#!/usr/bin/python3
"""make_scaleup.py ROWS OUT - a synthetic scale-up of examples/credit_data.csv: rows sampled
with replacement (seeded), numeric columns jittered by up to +-5% so rows are not duplicates,
missing values kept where the sampled row had them. Used by bench_fit.sh."""
import os
import sys

import numpy as np
import pandas as pd

rows, out = int(sys.argv[1]), sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
df = pd.read_csv(os.path.join(here, "..", "examples", "credit_data.csv"))
rng = np.random.default_rng(0)
big = df.iloc[rng.integers(0, len(df), rows)].reset_index(drop=True)
for c in big.columns:
    if big[c].dtype.kind in "if":
        noise = 1 + rng.uniform(-0.05, 0.05, rows)
        big[c] = np.round(big[c] * noise).astype("Int64") if big[c].dtype.kind == "i" else np.round(big[c] * noise)
big.to_csv(out, index=False)
