"""Reads tables of a triton-batch result file the way users do (pandas.read_hdf, and h5py for the
attributes) and prints them as JSON: {"attrs": {...}, "tables": {name: {"columns": [...],
"dtypes": [...], "records": [...]}}}."""
import json
import math
import sys

import h5py
import pandas as pd

path, tables = sys.argv[1], sys.argv[2:]


def plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


out = {"attrs": {}, "tables": {}}
with h5py.File(path, "r") as f:
    out["attrs"] = {k: plain(v) for k, v in f.attrs.items()}
for name in tables:
    frame = pd.read_hdf(path, name)
    out["tables"][name] = {
        "columns": list(frame.columns),
        "dtypes": [str(t) for t in frame.dtypes],
        "str_columns": [c for c in frame.columns if isinstance(frame[c].iloc[0], str)],
        "records": [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")],
    }
print(json.dumps(out))
