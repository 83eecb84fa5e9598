#!/usr/bin/python3
"""Reference facts about examples/*.csv computed with pandas, for tests/unit/test_csv.c:
rows, columns, and per column the missing count, the dtype class and (for strings) the levels in
first-seen order and (for numbers) the sum of the non-missing values."""
import json, os
import pandas as pd

root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
out = {}
for name in ["credit_data.csv", "mlc_churn.csv"]:
    d = pd.read_csv(os.path.join(root, "examples", name))
    cols = []
    for c in d.columns:
        s = d[c]
        e = {"name": c, "missing": int(s.isna().sum())}
        if s.dtype == object:
            e["kind"] = "categorical"
            e["levels"] = [str(v) for v in pd.unique(s.dropna())]
        else:
            e["kind"] = "numeric"
            e["sum"] = float(s.dropna().astype(float).sum())
        cols.append(e)
    out[name] = {"rows": int(d.shape[0]), "cols": cols}
# ISO 8601 strings and their seconds since the epoch (UTC), from Python's datetime.
from datetime import datetime, timezone
dates = ["2001-01-22", "1970-01-01", "1969-12-31T23:59:59Z", "2000-02-29T12:30",
         "2024-03-10 08:15:30.250", "1900-03-01", "2038-01-19T03:14:08+02:00",
         "2016-12-31T23:59:59-05:30"]
out["dates"] = []
for s in dates:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    out["dates"].append([s, t.timestamp()])
path = os.path.join(root, "tests", "parity", "fixtures", "data_counts.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
