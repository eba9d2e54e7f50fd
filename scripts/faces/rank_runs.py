#!/usr/bin/env python3
"""Ranks GAN runs by attribute coverage at their last snapshot (issue 3's bar), from each run's log.jsonl.

    /usr/bin/python3 scripts/faces/rank_runs.py RUN_DIR [RUN_DIR ...] [--json]

For every discrete value (each binary attribute and its absence, each hair colour) the ratio of its rate in
G_ema samples to its rate in real images, both read by the same labeler at the snapshot, capped at 1; for
each continuous attribute the ratio of the samples' p05..p95 span to the data's. A run's coverage is the
smallest ratio: the issue asks for >= 0.5 on every discrete value. Best run first.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render  # noqa: E402


def ratios(samples, data):
    """{value name: min(1, sample rate / data rate)} over discrete values and continuous spans."""
    out = {}
    for name in render.BINARY:
        out[name] = samples[name] / max(data[name], 1e-9)
        out["NOT " + name] = (1 - samples[name]) / max(1 - data[name], 1e-9)
    for colour, rate in data["hair"].items():
        out["hair=" + colour] = samples["hair"][colour] / max(rate, 1e-9)
    for name in render.CONTINUOUS:
        s, d = samples[name], data[name]
        out[name + " span"] = (s["p95"] - s["p05"]) / max(d["p95"] - d["p05"], 1e-9)
    return {k: round(min(1.0, v), 3) for k, v in out.items()}


def last_scored(run_dir):
    """The last log line that holds the labeler's frequencies, or None."""
    path = os.path.join(run_dir, "log.jsonl")
    if not os.path.exists(path):
        return None
    lines = [json.loads(x) for x in open(path) if x.strip()]
    scored = [x for x in lines if "samples" in x.get("frequencies", {})]
    return scored[-1] if scored else None


def rank(run_dirs):
    rows = []
    for d in run_dirs:
        line = last_scored(d)
        if line is None:
            rows.append({"run": d, "coverage": -1.0, "note": "no scored snapshot"})
            continue
        r = ratios(line["frequencies"]["samples"], line["frequencies"]["data"])
        worst = min(r, key=r.get)
        rows.append({"run": d, "coverage": r[worst], "worst": worst, "kimg": line["kimg"], "step": line["step"],
                     "ratios": r})
    return sorted(rows, key=lambda x: -x["coverage"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--json", action="store_true", help="print the ranking as JSON")
    ap.add_argument("--best-to", help="also write the best run's folder to this file (for shell scripts)")
    args = ap.parse_args()
    rows = rank(args.runs)
    if args.best_to:
        with open(args.best_to, "w") as f:
            f.write(rows[0]["run"] + "\n")
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| run | kimg | coverage | weakest value | glasses | beard | hat | grey hair |")
    print("|---|---|---|---|---|---|---|---|")
    for x in rows:
        if x["coverage"] < 0:
            print(f"| {x['run']} | - | - | {x['note']} | | | | |")
            continue
        r = x["ratios"]
        print(f"| {x['run']} | {x['kimg']} | {x['coverage']} | {x['worst']} | {r['glasses']} | {r['beard']} | "
              f"{r['hat']} | {r['hair=grey']} |")


if __name__ == "__main__":
    main()
