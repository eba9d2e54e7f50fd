#!/usr/bin/env python3
"""Measure `lace edit` on the face bundle with the evaluator (which never guides anything).

  /usr/bin/python3 scripts/faces/evaluate_edit.py --lace build/lace --model models/faces \
      --evaluator models/faces/evaluator.pt --report docs/faces-edit-evaluation.md [--starts 128]

Runs one five-step sequence (binary and continuous edits) on --starts seeds through the lace binary and
reads every step's PNG with the evaluator:
- per step: the share of starts whose step-k image satisfies step k's expression, and the share that
  still satisfies it after the last step;
- attributes never edited (beard, hair): the share of starts whose evaluator label at the end equals
  the label of the start;
- how far each step moves the image: the distance between evaluator features of consecutive steps, and of
  the start and the end, beside the distance between the start and a fresh `lace sample` of the same
  combined condition (what "sampling anew" would move).
"""
import argparse
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import render  # noqa: E402
from evaluate import read_png, run_lace, satisfied, score  # noqa: E402

STEPS = ["glasses", "age=0.8", "yaw=0.6", "NOT smile", "hat"]
NEVER_EDITED = ["beard", "hair"]


def read_steps(out_dir, starts, steps):
    """images [starts, steps + 1, 64, 64, 3] from lace edit's RRRRR-IIII-step{k}.png files."""
    images = np.zeros((starts, steps + 1, 64, 64, 3), np.uint8)
    for i in range(starts):
        for k in range(steps + 1):
            (path,) = glob.glob(os.path.join(out_dir, f"*-{i:04d}-step{k}.png"))
            images[i, k] = read_png(path)
    return images


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lace", default="build/lace")
    ap.add_argument("--model", default="models/faces")
    ap.add_argument("--evaluator", default="models/faces/evaluator.pt")
    ap.add_argument("--report", default="docs/faces-edit-evaluation.md")
    ap.add_argument("--starts", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--truncation", type=float, default=None, help="default: the bundle's (its editing section)")
    ap.add_argument("--tolerance", type=float, default=0.15, help="continuous targets: |reading - target|")
    ap.add_argument("--lace-args", default="", help='more options for lace edit, e.g. "--solver rk4 --steps 20"')
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()
    evaluator = torch.jit.load(args.evaluator).eval()
    work = tempfile.mkdtemp(prefix="lace-edit-eval-")
    try:
        result, images = measure(args, evaluator, work)
    except subprocess.CalledProcessError as e:  # cmd = [lace, "-q", "edit" or "sample", ...]
        raise SystemExit(f"evaluate_edit.py: lace {e.cmd[2]} failed with exit code {e.returncode} (its message is above)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["minutes"] = round((time.time() - t0) / 60, 1)
    sheets = os.path.splitext(args.report)[0] + "-sheets"
    os.makedirs(sheets, exist_ok=True)
    render.contact_sheet(images[:8].reshape(-1, 64, 64, 3), len(STEPS) + 1).save(os.path.join(sheets, "strips.png"))
    atomic_files.write_json(os.path.splitext(args.report)[0] + ".json", result, indent=1)
    write_report(args, result, sheets)
    print(json.dumps(result, indent=1))


def measure(args, evaluator, work):
    """Edit args.starts starts through STEPS with lace in the folder work, sample the whole condition afresh,
    score everything with the evaluator. Returns (figures, images [starts, steps + 1, 64, 64, 3])."""
    seq = {"start": {"seed": args.seed, "count": args.starts}, "steps": STEPS}
    if args.truncation is not None:
        seq["truncation"] = args.truncation
    with open(os.path.join(work, "edits.json"), "w") as f:
        json.dump(seq, f)
    t_edit = time.perf_counter()
    subprocess.run([args.lace, "-q", "edit", "--model", args.model, "--sequence", os.path.join(work, "edits.json"),
                    "-b", "32", "--out", os.path.join(work, "out")] + shlex.split(args.lace_args), check=True)
    edit_seconds = time.perf_counter() - t_edit
    images = read_steps(os.path.join(work, "out"), args.starts, len(STEPS))
    (first,) = glob.glob(os.path.join(work, "out", "*-0000-step1.json"))
    with open(first) as f:
        record = json.load(f)  # what the edit ran with, after the bundle's, the file's and the flags' settings

    n, K = args.starts, len(STEPS)
    pred, feat = score(evaluator, images.reshape(-1, 64, 64, 3))
    pred = {k: v.reshape(n, K + 1) for k, v in pred.items()}
    feat = feat.reshape(n, K + 1, -1)
    at = lambda k: {name: v[:, k] for name, v in pred.items()}  # noqa: E731
    rows = []
    for k, expr in enumerate(STEPS, start=1):
        rows.append({"step": k, "expression": expr,
                     "before": float(satisfied(expr, at(k - 1), args.tolerance).mean()),
                     "after_step": float(satisfied(expr, at(k), args.tolerance).mean()),
                     "at_end": float(satisfied(expr, at(K), args.tolerance).mean()),
                     "move": float(np.linalg.norm(feat[:, k] - feat[:, k - 1], axis=1).mean())})
    kept = {name: float((pred[name][:, K] == pred[name][:, 0]).mean()) for name in NEVER_EDITED}

    combined = " AND ".join(STEPS)
    fresh_images, _, _ = run_lace(args.lace, args.model, combined, n, args.seed + 1, os.path.join(work, "fresh"))
    fresh_pred, fresh_feat = score(evaluator, fresh_images)
    fresh_distance = float(np.linalg.norm(fresh_feat - feat[:, 0], axis=1).mean())
    start_to_end = float(np.linalg.norm(feat[:, K] - feat[:, 0], axis=1).mean())
    fresh_acc = float(satisfied(combined, fresh_pred, args.tolerance).mean())
    return {"starts": n, "steps": rows, "never_edited_kept": kept, "start_to_end": start_to_end,
            "start_to_fresh_sample": fresh_distance, "fresh_sample_acc": fresh_acc,
            "edit_seconds": round(edit_seconds, 1), "tolerance": args.tolerance, "truncation": record["truncation"],
            "weights": record["weights"]}, images


def write_report(args, r, sheets):
    rel = os.path.relpath(sheets, os.path.dirname(args.report) or ".")
    cmd = (f"/usr/bin/python3 scripts/faces/evaluate_edit.py --lace {args.lace} --model {args.model} "
           f"--evaluator {args.evaluator} --report {args.report} --starts {args.starts} --seed {args.seed}"
           + (f" --truncation {args.truncation}" if args.truncation is not None else "")
           + (f" --lace-args '{args.lace_args}'" if args.lace_args else ""))
    out = ["# Face bundle: measured sequential editing", "",
           f"Made by `{cmd}` ({r['minutes']} min; `lace edit` itself took {r['edit_seconds']} s for "
           f"{r['starts']} starts x {len(STEPS)} steps on the 2-core development machine). Starts: images 0-"
           f"{r['starts'] - 1} of seed {args.seed} at truncation {r['truncation']}; weights "
           + ", ".join(f"{k} {v:g}" for k, v in r["weights"].items()) + "; sequence: "
           + ", ".join(f"`{s}`" for s in STEPS) + ". Every reading is the evaluator's on the PNGs lace wrote "
           f"(continuous targets within {r['tolerance']}). Raw figures: "
           f"[{os.path.basename(os.path.splitext(args.report)[0])}.json]({os.path.basename(os.path.splitext(args.report)[0])}.json).", "",
           "| step | edit | target read before | after the step (>= 0.90) | after the last step (>= 0.85) | feature distance moved |",
           "|---|---|---|---|---|---|"]
    for x in r["steps"]:
        out.append(f"| {x['step']} | `{x['expression']}` | {x['before']:.3f} | {x['after_step']:.3f} | "
                   f"{x['at_end']:.3f} | {x['move']:.2f} |")
    out += ["", "Attributes never edited, same evaluator label at the end as at the start (>= 0.90): " +
            ", ".join(f"{k} {v:.3f}" for k, v in r["never_edited_kept"].items()) + ".", "",
            f"How far the image moves (mean distance between evaluator features): start to end of the edit "
            f"{r['start_to_end']:.2f}; start to a fresh `lace sample --attrs \"{' AND '.join(STEPS)}\"` image "
            f"{r['start_to_fresh_sample']:.2f} (that fresh sample satisfies the whole condition in "
            f"{r['fresh_sample_acc']:.3f} of cases).", "",
            f"![strips: the start, then each step, for 8 starts]({rel}/strips.png)", ""]
    atomic_files.write_text(args.report, "\n".join(out) + "\n")


if __name__ == "__main__":
    main()
