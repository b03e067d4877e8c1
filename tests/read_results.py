"""Reads a triton-batch Monte Carlo result file the way users do, and prints what it saw as JSON."""
import json
import sys

import h5py
import pandas as pd

path = sys.argv[1]
estimate = pd.read_hdf(path, "estimate")
blocks = pd.read_hdf(path, "blocks")
ranks = pd.read_hdf(path, "ranks")
with h5py.File(path, "r") as f:
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    raw = pd.DataFrame(f["estimate"][:])
print(json.dumps({
    "estimate_columns": list(estimate.columns),
    "price": float(estimate["price"].iloc[0]),
    "model": estimate["model"].iloc[0],
    "model_is_str": isinstance(estimate["model"].iloc[0], str),
    "h5py_price": float(raw["price"].iloc[0]),
    "blocks": len(blocks),
    "block_tasks": sorted(int(t) for t in blocks["task"]),
    "ranks_tasks": int(ranks["tasks"].sum()),
    "job_kind": str(attrs["job_kind"]),
    "seed": int(attrs["seed"]),
    "n_ranks": int(attrs["n_ranks"]),
}))
