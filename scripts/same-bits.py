"""Compares two result (or model) files of the same job bit for bit: every dataset, every column
of every table and every root attribute, except what depends on the run rather than the job
(times, hosts, memory, which rank ran a task, the command line). Ranks finish tasks in any order,
so rows of the per-task tables are matched by task id, and a saved forest's trees by tree id
(their nodes are stored in the order the trees arrived). Prints one line per difference and
exits 1 if there is any.

Usage: python same-bits.py EXPECTED.h5 GOT.h5
"""

import re
import sys

import h5py
import numpy as np

# Per-run values: wall-clock times, busy time, memory, host and rank names, the command line and
# the model file's path as given on it.
RUN_FIELD = re.compile(r"time|seconds|per_second|host|peak_rss|^started_at$|^command_line$|^n_ranks$|^model_file$")
# Tables whose rows are tasks (or ranks): which rank ran a task is not part of the result.
RANK_FIELD_TABLES = {"blocks", "splits"}
SKIP_TABLES = {"ranks"}


def same(a, b):
    """Bit equality (NaN payloads and signed zeros included) of two arrays or scalars."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return a.tobytes() == b.tobytes()


def node_order(f):
    """A saved forest's node rows in tree-id order (None for other files)."""
    if "trees" not in f or "node_offset" not in (f["trees"].dtype.names or ()):
        return None
    trees = np.sort(f["trees"][()], order="tree")
    return np.concatenate([np.arange(o, o + n) for o, n in zip(trees["node_offset"], trees["n_nodes"])])


def compare(expected, got):
    problems = []
    order_a, order_b = node_order(expected), node_order(got)
    for name, value in expected.attrs.items():
        if RUN_FIELD.search(name):
            continue
        if name not in got.attrs:
            problems.append(f"attribute {name}: missing")
        elif not same(value, got.attrs[name]):
            problems.append(f"attribute {name}: {value!r} != {got.attrs[name]!r}")
    compared = 0
    for name, ds in expected.items():
        if name in SKIP_TABLES or not isinstance(ds, h5py.Dataset):
            continue
        if name not in got:
            problems.append(f"{name}: missing")
            continue
        a, b = ds[()], got[name][()]
        if a.shape != b.shape:
            problems.append(f"{name}: shape {a.shape} != {b.shape}")
            continue
        if a.dtype.names is None:
            if order_a is not None and order_b is not None and len(a) == len(order_a):
                a, b = a[order_a], b[order_b]
            compared += 1
            if not same(a, b):
                problems.append(f"{name}: {differing(a, b)}")
            continue
        for key in ("task", "tree"):
            if key in a.dtype.names:
                a, b = np.sort(a, order=key), np.sort(b, order=key)
        for field in a.dtype.names:
            if RUN_FIELD.search(field) or (field == "rank" and name in RANK_FIELD_TABLES):
                continue
            if field == "node_offset" and order_a is not None:
                continue  # where a tree's nodes were stored: compared through node_order
            compared += 1
            if field not in b.dtype.names:
                problems.append(f"{name}.{field}: missing")
            elif not same(a[field], b[field]):
                problems.append(f"{name}.{field}: {differing(a[field], b[field])}")
    for name in got:
        if name not in expected:
            problems.append(f"{name}: not expected")
    return compared, problems


def differing(a, b):
    """Where two arrays of one shape first differ, and how many elements do."""
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} != {b.dtype}"
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    diff = [i for i in range(len(flat_a)) if flat_a[i : i + 1].tobytes() != flat_b[i : i + 1].tobytes()]
    first = diff[0]
    return f"{len(diff)} of {len(flat_a)} differ, first at {first}: {flat_a[first]!r} != {flat_b[first]!r}"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    with h5py.File(sys.argv[1], "r") as expected, h5py.File(sys.argv[2], "r") as got:
        compared, problems = compare(expected, got)
    for p in problems:
        print(f"{sys.argv[2]}: {p}")
    if compared == 0:
        print(f"{sys.argv[1]}: nothing to compare")
        sys.exit(1)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
