#!/usr/bin/env python3
"""Two runs of evaluate_edit.py on the same starts, compared start by start, with how likely each difference is
by chance.

    /usr/bin/python3 scripts/faces/compare_edit_runs.py CANDIDATE_RESULTS REFERENCE_RESULTS [--json F]

Each argument is a --results folder of evaluate_edit.py (its per-part JSON files; parts may be chunked
differently). Only starts present in both are compared, matched by their index. For every bar of issue 4 (each
step's target after the step and at the end, and each attribute no step names kept to the end) it gives both
shares, how many starts only the candidate meets and how many only the reference meets, and the exact two-sided
McNemar p-value of that split: the chance of a split at least as uneven if the two settings were equally good and
each discordant start went either way by a coin. Why: an edit is a stiff solve, retries and a polish, so a small
change of setting reshuffles which starts pass (session 40: 31 of 128 starts changed sides on the end's yaw between
two settings whose shares differed by 3 starts). A bar crossed by three starts is not a finding; this says so.
"""
import argparse
import glob
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
import atomic_files  # noqa: E402
from evaluate import satisfied  # noqa: E402
from evaluate_edit import kept, never_edited, set_again  # noqa: E402

AFTER_BAR, END_BAR, KEPT_BAR = 0.90, 0.85, 0.90  # issue 4's bars
SAME = ("steps", "seed", "tolerance")  # what two runs must share to be compared start by start


def load_run(folder):
    """(key, {start index: {attribute: readings at step 0..K}}) from an evaluate_edit.py --results folder."""
    key, starts = None, {}
    files = sorted(glob.glob(os.path.join(folder, "starts-*.json")))
    if not files:
        raise SystemExit(f"compare_edit_runs.py: no evaluate_edit.py parts (starts-*.json) in {folder}")
    for path in files:
        with open(path) as f:
            part = json.load(f)
        if key is None:
            key = part["key"]
        elif any(part["key"][k] != key[k] for k in SAME):
            raise SystemExit(f"compare_edit_runs.py: {path} was measured with other {', '.join(SAME)} than "
                             f"the folder's first part")
        result = part["result"]
        for i in range(result["count"]):
            starts[result["first"] + i] = {name: v[i] for name, v in result["readings"].items()}
    return key, starts


def mcnemar_p(only_a, only_b):
    """Exact two-sided McNemar p-value: P(a split at least as uneven as only_a : only_b) when each of the
    only_a + only_b discordant starts falls to either side with probability 1/2."""
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def bars(key, starts, indices):
    """{bar name: (threshold, bool array over `indices`)}: issue 4's bars, start by start."""
    steps, tol = key["steps"], key["tolerance"]
    K = len(steps)
    reading = lambda k: {name: np.array([starts[i][name][k] for i in indices])  # noqa: E731
                         for name in starts[indices[0]]}
    out = {}
    for k, expr in enumerate(steps, start=1):
        out[f"`{expr}` after its step"] = (AFTER_BAR, satisfied(expr, reading(k), tol))
    for k, expr in enumerate(steps, start=1):
        if not set_again(steps, k):
            out[f"`{expr}` at the end"] = (END_BAR, satisfied(expr, reading(K), tol))
    start, end = reading(0), reading(K)
    for name in never_edited(steps):
        out[f"{name} kept"] = (KEPT_BAR, kept(start, end, name, tol))
    return out


def compare(a_folder, b_folder):
    key_a, runs_a = load_run(a_folder)
    key_b, runs_b = load_run(b_folder)
    differ = [k for k in SAME if key_a[k] != key_b[k]]
    if differ:
        raise SystemExit(f"compare_edit_runs.py: the runs differ in {', '.join(differ)}: not the same starts "
                         f"and bars ({a_folder} vs {b_folder})")
    indices = sorted(set(runs_a) & set(runs_b))
    if not indices:
        raise SystemExit("compare_edit_runs.py: the two runs share no start")
    bars_a, bars_b = bars(key_a, runs_a, indices), bars(key_b, runs_b, indices)
    rows = []
    for name, (threshold, met_a) in bars_a.items():
        met_b = bars_b[name][1]
        only_a, only_b = int((met_a & ~met_b).sum()), int((met_b & ~met_a).sum())
        rows.append({"bar": name, "threshold": threshold, "a": float(met_a.mean()), "b": float(met_b.mean()),
                     "only_a": only_a, "only_b": only_b, "p": mcnemar_p(only_a, only_b)})
    return {"starts": len(indices), "first": indices[0], "last": indices[-1], "a": a_folder, "b": b_folder,
            "a_key": key_a, "b_key": key_b, "rows": rows,
            "bars_met": {"a": sum(r["a"] >= r["threshold"] for r in rows),
                         "b": sum(r["b"] >= r["threshold"] for r in rows)}}


def table(c):
    lines = [f"{c['starts']} starts in both runs (indices {c['first']}..{c['last']}); A: {c['a']}, B: {c['b']}", "",
             "| bar | threshold | A | B | only A meets | only B meets | p (exact McNemar) |",
             "|---|---|---|---|---|---|---|"]
    for r in c["rows"]:
        lines.append(f"| {r['bar']} | {r['threshold']:.2f} | {r['a']:.3f} | {r['b']:.3f} | {r['only_a']} | "
                     f"{r['only_b']} | {r['p']:.3f} |")
    lines += ["", f"bars met: A {c['bars_met']['a']} of {len(c['rows'])}, B {c['bars_met']['b']} of {len(c['rows'])}"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("candidate", help="evaluate_edit.py --results folder of the run to judge (A)")
    ap.add_argument("reference", help="evaluate_edit.py --results folder to compare it with (B)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    c = compare(args.candidate, args.reference)
    print(table(c))
    if args.json:
        atomic_files.write_json(args.json, c, indent=1)


if __name__ == "__main__":
    main()
