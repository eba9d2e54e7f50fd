#!/usr/bin/env python3
"""Ranks GAN runs by attribute coverage at their last snapshot (issue 3's bar), from each run's log.jsonl.

    /usr/bin/python3 scripts/faces/rank_runs.py RUN_DIR [RUN_DIR ...] [--json] [--best-to F] [--best-snapshot-to F]

For every discrete value (each binary attribute and its absence, each hair colour) the ratio of its rate in
G_ema samples to its rate in real images, both read by the same labeler at the snapshot, capped at 1; for
each continuous attribute the ratio of the samples' p05..p95 span to the data's. A run's coverage is the
smallest ratio: the issue asks for >= 0.5 on every discrete value. Best run first.
--best-snapshot-to looks at every scored snapshot of every run instead of the last ones, and writes the file
of the best (highest coverage, then highest mean ratio): a long run may drift past its best point.
--choose-by agreement (for snapshots logged with train_gan.py --checker) picks instead, among the snapshots whose
coverage is at least --min-coverage, the one whose samples the labeler and the checker read most alike
(image_classifiers.agreement_score), then the highest coverage: session 35 found that a favoured fine-tune
with better coverage drew faces those networks read apart, and lace's conditions failed there.
--snapshots prints every scored snapshot (coverage, agreement) instead of each run's last.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import image_classifiers as ic  # noqa: E402
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


def scored_lines(run_dir):
    """The log lines that hold the labeler's frequencies, oldest first."""
    path = os.path.join(run_dir, "log.jsonl")
    if not os.path.exists(path):
        return []
    lines = [json.loads(x) for x in open(path) if x.strip()]
    return [x for x in lines if "samples" in x.get("frequencies", {})]


def last_scored(run_dir):
    """The last log line that holds the labeler's frequencies, or None."""
    scored = scored_lines(run_dir)
    return scored[-1] if scored else None


def snapshot_file(run_dir, step):
    """train_gan.py's snapshot of G_ema at `step`."""
    return os.path.join(run_dir, "snapshots", f"g_ema-{step:07d}.pt")


def agreement_of(line):
    """The labeler-checker agreement score of a snapshot's samples, or None if it was not logged."""
    a = line["frequencies"].get("agreement")
    return round(ic.agreement_score(a["samples"]), 4) if a else None


def joint_ratio(line, name):
    """A logged combination's rate in the samples over its rate in the data, or None if not logged."""
    f = line["frequencies"]
    return round(f["samples"][name] / max(f["data"][name], 1e-9), 3) if name in f["samples"] else None


def snapshot_rows(run_dirs):
    """Every scored snapshot whose file exists: run, step, kimg, file, coverage, mean ratio, agreement."""
    rows = []
    for d in run_dirs:
        for line in scored_lines(d):
            path = snapshot_file(d, line["step"])
            if not os.path.exists(path):
                continue
            r = ratios(line["frequencies"]["samples"], line["frequencies"]["data"])
            rows.append({"run": d, "step": line["step"], "kimg": line["kimg"], "file": path,
                         "coverage": min(r.values()), "mean_ratio": round(sum(r.values()) / len(r), 4),
                         "worst": min(r, key=r.get), "agreement": agreement_of(line),
                         "beard AND hat": joint_ratio(line, "beard AND hat")})
    return rows


def best_snapshot(run_dirs, choose_by="coverage", min_coverage=0.5):
    """The best scored snapshot over all runs, or None if no run has a scored snapshot whose file exists.
    By coverage: the highest coverage, then the highest mean ratio. By agreement: among snapshots with an
    agreement and coverage >= min_coverage the highest agreement, then coverage; by coverage if none qualifies."""
    rows = snapshot_rows(run_dirs)
    if choose_by == "agreement":
        ok = [x for x in rows if x["agreement"] is not None and x["coverage"] >= min_coverage]
        if ok:
            return max(ok, key=lambda x: (x["agreement"], x["coverage"]))
    return max(rows, key=lambda x: (x["coverage"], x["mean_ratio"]), default=None)


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
    ap.add_argument("--best-snapshot-to", help="also write the best scored snapshot's file (any run, any step) to "
                                               "this file; exit 1 if there is none")
    ap.add_argument("--choose-by", choices=("coverage", "agreement"), default="coverage",
                    help="how --best-snapshot-to chooses (see above)")
    ap.add_argument("--min-coverage", type=float, default=0.5, help="with --choose-by agreement")
    ap.add_argument("--snapshots", action="store_true", help="print every scored snapshot instead of each run's last")
    args = ap.parse_args()
    rows = rank(args.runs)
    if args.best_to:
        with open(args.best_to, "w") as f:
            f.write(rows[0]["run"] + "\n")
    if args.best_snapshot_to:
        best = best_snapshot(args.runs, args.choose_by, args.min_coverage)
        if best is None:
            sys.exit("rank_runs.py: no run has a scored snapshot")
        with open(args.best_snapshot_to, "w") as f:
            f.write(best["file"] + "\n")
        print(f"best snapshot: {best['file']} (kimg {best['kimg']}, coverage {best['coverage']}, "
              f"mean ratio {best['mean_ratio']}, agreement {best['agreement']})", file=sys.stderr)
    if args.snapshots:
        rows = snapshot_rows(args.runs)
    if args.json:
        print(json.dumps(rows, indent=1))
    elif args.snapshots:
        print_snapshot_table(rows)
    else:
        print_run_table(rows)


def print_snapshot_table(rows):
    """Every scored snapshot of every run (snapshot_rows), as a markdown table."""
    print("| run | step | kimg | coverage | weakest value | mean ratio | beard AND hat ratio | labeler-checker agreement |")
    print("|---|---|---|---|---|---|---|---|")
    for x in rows:
        print(f"| {x['run']} | {x['step']} | {x['kimg']} | {x['coverage']} | {x['worst']} | {x['mean_ratio']} | "
              f"{x['beard AND hat']} | {x['agreement']} |")


def print_run_table(rows):
    """Each run's last scored snapshot, best first, as a markdown table."""
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
