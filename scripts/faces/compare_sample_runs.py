#!/usr/bin/env python3
"""Two sampling evaluations side by side (evaluate.py's --results folders, e.g. the shipped bundle's and a
candidate's), condition by condition in the table's order, for the conditions both have measured: each one's
accuracy with its 95% Wilson interval (bold where it meets its bar) and the seconds of lace.

    /usr/bin/python3 scripts/faces/compare_sample_runs.py docs/faces-evaluation-results CANDIDATE-results

Parts are read whatever their key, so two runs of different bundles compare; each interval uses the samples its own
part was measured with (its key's n), so runs of different sizes compare too.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
from evaluate import CONDITIONS, slug, wilson_interval  # noqa: E402


def read_result(folder, expr):
    """The part's result with its sample count n (from the part's key), or None where the folder lacks it."""
    path = os.path.join(folder, slug(expr) + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        part = json.load(f)
    return dict(part["result"], n=part["key"]["n"])


def rows(first, second):
    """(expr, threshold, first's result, second's result) for every condition of the table both folders hold."""
    out = []
    for expr, _, threshold in CONDITIONS:
        a, b = read_result(first, expr), read_result(second, expr)
        if a is not None and b is not None:
            out.append((expr, threshold, a, b))
    return out


def table(first, second, names=("first", "second")):
    def cell(result, threshold):
        acc = result["acc"]
        low, high = wilson_interval(acc, result["n"])
        text = f"{acc:.3f}"
        return f"{'**' + text + '**' if acc >= threshold else text} [{low:.2f}, {high:.2f}]"
    lines = [f"| condition (bar) | {names[0]} | {names[1]} | seconds of lace |", "|---|---|---|---|"]
    for expr, threshold, a, b in rows(first, second):
        lines.append(f"| `{expr}` ({threshold:.2f}) | {cell(a, threshold)} | {cell(b, threshold)} | "
                     f"{a['seconds']:,.0f} / {b['seconds']:,.0f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("first")
    ap.add_argument("second")
    args = ap.parse_args()
    for folder in (args.first, args.second):
        if not os.path.isdir(folder):
            sys.exit(f"compare_sample_runs.py: no results folder at {folder}")
    print(table(args.first, args.second,
                tuple(os.path.basename(os.path.normpath(p)) for p in (args.first, args.second))))


if __name__ == "__main__":
    main()
