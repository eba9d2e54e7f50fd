#!/usr/bin/env python3
"""Measure `lace edit` on the face bundle with the evaluator (which never guides anything).

  /usr/bin/python3 scripts/faces/evaluate_edit.py --lace build/lace --model models/faces \
      --evaluator models/faces/evaluator.pt --report docs/faces-edit-evaluation.md [--starts 128]

Runs one sequence of edits (--steps; by default five, binary and continuous) on --starts seeds through the
lace binary and reads every step's PNG with the evaluator:
- per step: the share of starts whose step-k image satisfies step k's expression, and the share that
  still satisfies it after the last step;
- attributes no step names: the share of starts whose evaluator reading at the end equals that of the
  start (discrete: the same label; continuous: within --tolerance);
- how far the image moves: the distance between evaluator features of consecutive steps, and from the
  start to step k, beside the distance between the start and a fresh `lace sample` of the conditions of
  steps 1..k (what "sampling anew" would move).
"""
import argparse
import concurrent.futures
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

STEPS = "glasses; age=0.8; yaw=-0.6; NOT smile; beard"


def named(step):
    """The attribute names an expression mentions."""
    return {t.strip(" ()").removeprefix("NOT ").split("=")[0].strip(" ()")
            for t in step.replace(" OR ", " AND ").split(" AND ")}


def never_edited(steps):
    """The attributes that no step's expression names, in render.ATTRIBUTES order."""
    names = set().union(*(named(s) for s in steps))
    return [a for a in render.ATTRIBUTES if a not in names]


def set_again(steps, k):
    """The first later step (1-based) that names an attribute of step k, whose target then replaces step k's
    (lace edit's superseding, docs/edit.md); None if none does."""
    return next((j for j in range(k + 1, len(steps) + 1) if named(steps[j - 1]) & named(steps[k - 1])), None)


def apply_step(params, step):
    """A copy of render parameters with one edit applied as the renderer would draw it: the same face with
    the attribute set (age also greys the hair as the renderer does). None for a step with OR."""
    if " OR " in step:
        return None
    q = {k: v.copy() for k, v in params.items()}
    n = len(q["age"])
    for term in step.split(" AND "):
        term = term.strip()
        negate = term.startswith("NOT ")
        name, _, value = term.removeprefix("NOT ").partition("=")
        name, value = name.strip(), value.strip()
        if name == "hair":
            if negate:
                return None
            q["hair"] = np.full(n, render.HAIR_CLASSES.index(value), np.int64)
            q["hair_rgb"] = render.hair_rgb(q["hair"], q["hair_jit"]).astype(np.float32)
        elif name in render.CONTINUOUS:
            if negate:
                return None
            q[name] = np.full(n, float(value), np.float32)
            if name == "age":
                q["grey_share"] = render.grey_share(q["age"], q["grey_speed"]).astype(np.float32)
        else:
            present = (value in ("", "1", "true")) != negate
            q[name] = np.full(n, present)
    return q


def draw_images(params):
    return (np.clip(render.draw(params), 0, 1) * 255 + 0.5).astype(np.uint8)


def rendered_reference(steps, evaluator, n, seed, tolerance):
    """The same sequence applied by the renderer to n rendered faces (the edit an editor that knew the true
    factors would make), and to n other rendered faces (a fresh face with the same attributes): per step,
    the evaluator's ACC on the edited faces, how far they moved and how far the other faces are; and for
    the attributes no step names, the share whose reading at the end is the start's (what the evaluator
    can see kept when nothing but the named attributes changed). (None, None) when a step cannot be
    applied to render parameters."""
    base = render.sample_params(n, np.random.default_rng([seed, 1]))
    other = render.sample_params(n, np.random.default_rng([seed, 2]))
    frames, others = [base], [other]
    for step in steps:
        frames.append(apply_step(frames[-1], step))
        others.append(apply_step(others[-1], step))
        if frames[-1] is None:
            return None, None
    pred, feat = score(evaluator, np.concatenate([draw_images(f) for f in frames]))
    _, other_feat = score(evaluator, np.concatenate([draw_images(f) for f in others[1:]]))
    K = len(steps)
    feat, other_feat = feat.reshape(K + 1, n, -1), other_feat.reshape(K, n, -1)
    at = lambda k: {name: v.reshape(K + 1, n)[k] for name, v in pred.items()}  # noqa: E731
    distance = lambda a, b: float(np.linalg.norm(a - b, axis=1).mean())  # noqa: E731
    rows = [{"step": k, "after_step": float(satisfied(step, at(k), tolerance).mean()),
             "move": distance(feat[k], feat[k - 1]), "start_to_step": distance(feat[k], feat[0]),
             "start_to_other_face": distance(other_feat[k - 1], feat[0])}
            for k, step in enumerate(steps, start=1)]
    return rows, kept_share(at(0), at(K), never_edited(steps), tolerance)


def kept_share(start, end, names, tolerance):
    """{name: share of images whose reading at the end is the start's} (continuous: within tolerance)."""
    return {name: float((np.abs(end[name] - start[name]) <= tolerance).mean() if name in render.CONTINUOUS
                        else (end[name] == start[name]).mean()) for name in names}


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
    ap.add_argument("--steps", default=STEPS, help="the edits, separated by ';'")
    ap.add_argument("--starts", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--truncation", type=float, default=None, help="default: the bundle's (its editing section)")
    ap.add_argument("--tolerance", type=float, default=0.15, help="continuous targets: |reading - target|")
    ap.add_argument("--lace-args", default="", help='more options for lace edit, e.g. "--solver rk4 --steps 20"')
    ap.add_argument("--jobs", type=int, default=1, help="lace runs at once (each uses one core)")
    ap.add_argument("--keep", help="keep lace's outputs (the edits, their records, the fresh samples) in this folder")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: read the edit runs and fresh samples already complete in that folder (same "
                         "--steps, --starts, --seed, --jobs) instead of running lace again; runs only what is missing")
    args = ap.parse_args()
    args.step_list = [x.strip() for x in args.steps.split(";") if x.strip()]
    if args.reuse and not args.keep:
        ap.error("--reuse needs --keep (the folder to read)")
    torch.set_num_threads(2)
    t0 = time.time()
    evaluator = torch.jit.load(args.evaluator).eval()
    work = args.keep or tempfile.mkdtemp(prefix="lace-edit-eval-")
    os.makedirs(work, exist_ok=True)
    try:
        result, images = measure(args, evaluator, work)
    except subprocess.CalledProcessError as e:  # cmd = [lace, "-q", "edit" or "sample", ...]
        raise SystemExit(f"evaluate_edit.py: lace {e.cmd[2]} failed with exit code {e.returncode} (its message is above)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["minutes"] = round((time.time() - t0) / 60, 1)
    sheets = os.path.splitext(args.report)[0] + "-sheets"
    os.makedirs(sheets, exist_ok=True)
    render.contact_sheet(images[:8].reshape(-1, 64, 64, 3), len(args.step_list) + 1).save(os.path.join(sheets, "strips.png"))
    atomic_files.write_json(os.path.splitext(args.report)[0] + ".json", result, indent=1)
    write_report(args, result, sheets)
    print(json.dumps(result, indent=1))


def measure(args, evaluator, work):
    """Edit args.starts starts through the steps with lace in the folder work, sample each step's combined
    condition afresh, score everything with the evaluator. Returns (figures, images [starts, steps + 1, 64, 64, 3])."""
    steps = args.step_list
    t_edit = time.perf_counter()
    parts = run_edits(args, work)
    edit_seconds = time.perf_counter() - t_edit
    images = np.concatenate([read_steps(out, count, len(steps)) for out, count in parts])
    records = []  # start 0's record per step: what the edit ran with, after the bundle's, the file's and the flags' settings
    for k in range(1, len(steps) + 1):
        (path,) = glob.glob(os.path.join(parts[0][0], f"*-0000-step{k}.json"))
        with open(path) as f:
            records.append(json.load(f))
    record = records[0]

    n, K = args.starts, len(steps)
    pred, feat = score(evaluator, images.reshape(-1, 64, 64, 3))
    pred = {k: v.reshape(n, K + 1) for k, v in pred.items()}
    feat = feat.reshape(n, K + 1, -1)
    at = lambda k: {name: v[:, k] for name, v in pred.items()}  # noqa: E731
    distance = lambda a, b: float(np.linalg.norm(a - b, axis=1).mean())  # noqa: E731
    # Sampling anew: a fresh image of the conditions step k's energy held (steps 1..k, a re-set attribute at
    # its latest target), from other seeds (--jobs at once).
    combined_k = [" AND ".join(f"({s})" if " OR " in s else s for s in records[k - 1].get("conditions", steps[:k]))
                  for k in range(1, K + 1)]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        fresh = list(pool.map(lambda k: fresh_sample(args, combined_k[k - 1], os.path.join(work, f"fresh{k}")),
                              range(1, K + 1)))
    rows = []
    for k, expr in enumerate(steps, start=1):
        combined, again = combined_k[k - 1], set_again(steps, k)
        fresh_pred, fresh_feat = score(evaluator, fresh[k - 1][0])
        rows.append({"step": k, "expression": expr,
                     "before": float(satisfied(expr, at(k - 1), args.tolerance).mean()),
                     "after_step": float(satisfied(expr, at(k), args.tolerance).mean()),
                     "at_end": None if again else float(satisfied(expr, at(K), args.tolerance).mean()),
                     "set_again_by": again,
                     "move": distance(feat[:, k], feat[:, k - 1]),
                     "start_to_step": distance(feat[:, k], feat[:, 0]),
                     "fresh_condition": combined,
                     "start_to_fresh_sample": distance(fresh_feat, feat[:, 0]),
                     "fresh_sample_acc": float(satisfied(combined, fresh_pred, args.tolerance).mean())})
    kept = kept_share(at(0), at(K), never_edited(steps), args.tolerance)
    last = rows[-1]
    reference, reference_kept = rendered_reference(steps, evaluator, n, args.seed, args.tolerance)
    return {"rendered_reference": reference, "rendered_reference_kept": reference_kept,"starts": n, "steps": rows, "never_edited_kept": kept, "start_to_end": last["start_to_step"],
            "start_to_fresh_sample": last["start_to_fresh_sample"], "fresh_sample_acc": last["fresh_sample_acc"],
            "edit_seconds": round(edit_seconds, 1), "tolerance": args.tolerance, "truncation": record["truncation"],
            "weights": record["weights"]}, images


def fresh_sample(args, expr, out_dir):
    """args.starts fresh `lace sample`s of expr (seed args.seed + 1) as evaluate.run_lace returns them; with
    --reuse, the ones already complete in out_dir."""
    if args.reuse and len(glob.glob(os.path.join(out_dir, "*.png"))) == args.starts:
        files = sorted(glob.glob(os.path.join(out_dir, "*.png")))
        return np.stack([read_png(f) for f in files]), None, None
    return run_lace(args.lace, args.model, expr, args.starts, args.seed + 1, out_dir)


def complete(out_dir, count, steps):
    """Whether a lace edit run left every step's PNG of its `count` starts in out_dir."""
    return len(glob.glob(os.path.join(out_dir, "*-step*.png"))) == count * (steps + 1)


def run_edits(args, work):
    """lace edit on args.starts starts of args.seed, split into args.jobs runs at once (lace uses one core, and
    each start's edit depends only on its own z). Returns [(output folder, starts in it)] in start order."""
    chunks = [c for c in np.array_split(np.arange(args.starts), args.jobs) if len(c)]
    runs = []
    for j, chunk in enumerate(chunks):
        seq = {"start": {"seed": args.seed, "count": len(chunk), "first_index": int(chunk[0])}, "steps": args.step_list}
        if args.truncation is not None:
            seq["truncation"] = args.truncation
        path, out = os.path.join(work, f"edits{j}.json"), os.path.join(work, f"out{j}")
        if args.reuse and complete(out, len(chunk), len(args.step_list)):
            print(f"evaluate_edit.py: reading the edits already in {out}", flush=True)
            runs.append((None, None, out, len(chunk)))
            continue
        with open(path, "w") as f:
            json.dump(seq, f)
        cmd = [args.lace, "-q", "edit", "--model", args.model, "--sequence", path, "-b", "32", "--out", out]
        runs.append((subprocess.Popen(cmd + shlex.split(args.lace_args)), cmd, out, len(chunk)))
    for proc, cmd, _, _ in runs:
        if proc is not None and proc.wait() != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
    return [(out, count) for _, _, out, count in runs]


def write_report(args, r, sheets):
    rel = os.path.relpath(sheets, os.path.dirname(args.report) or ".")
    cmd = (f"/usr/bin/python3 scripts/faces/evaluate_edit.py --lace {args.lace} --model {args.model} "
           f"--evaluator {args.evaluator} --report {args.report} --steps '{args.steps}' --starts {args.starts} --seed {args.seed}"
           + (f" --truncation {args.truncation}" if args.truncation is not None else "")
           + (f" --lace-args '{args.lace_args}'" if args.lace_args else "")
           + (f" --jobs {args.jobs}" if args.jobs > 1 else ""))
    out = ["# Face bundle: measured sequential editing", "",
           f"Made by `{cmd}` ({r['minutes']} min; "
           + ("the edits read from an earlier run's --keep folder with --reuse, " if args.reuse else "")
           + f"`lace edit` itself took {r['edit_seconds']} s for {r['starts']} starts x {len(args.step_list)} steps"
           + (f", {args.jobs} runs at once" if args.jobs > 1 else "") + " on the 2-core development machine). Starts: images 0-"
           f"{r['starts'] - 1} of seed {args.seed} at truncation {r['truncation']}; weights "
           + ", ".join(f"{k} {v:g}" for k, v in r["weights"].items()) + "; sequence: "
           + ", ".join(f"`{s}`" for s in args.step_list) + ". Every reading is the evaluator's on the PNGs lace wrote "
           f"(continuous targets within {r['tolerance']}). Raw figures: "
           f"[{os.path.basename(os.path.splitext(args.report)[0])}.json]({os.path.basename(os.path.splitext(args.report)[0])}.json).", "",
           "| step | edit | target read before | after the step (>= 0.90) | after the last step (>= 0.85) "
           "| moved by the step | start to this step | start to a fresh sample of steps 1..k | step's move / fresh sample's "
           "| that sample's ACC |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for x in r["steps"]:
        out.append(f"| {x['step']} | `{x['expression']}` | {x['before']:.3f} | {x['after_step']:.3f} | "
                   + (f"n/a (set again by step {x['set_again_by']})" if x["at_end"] is None else f"{x['at_end']:.3f}")
                   + f" | {x['move']:.2f} | {x['start_to_step']:.2f} | {x['start_to_fresh_sample']:.2f} | "
                   f"{x['move'] / x['start_to_fresh_sample']:.2f} | "
                   f"{x['fresh_sample_acc']:.3f} |")
    out += ["", "Attributes no step names, the same evaluator reading at the end as at the start (>= 0.90; "
            f"continuous ones within {r['tolerance']}): " +
            ", ".join(f"{k} {v:.3f}" for k, v in r["never_edited_kept"].items()) + ".", "",
            "How far the image moves is the mean distance between evaluator features (128 pooled features); a "
            "fresh sample is `lace sample --attrs` of the steps so far joined by AND, from seed "
            f"{args.seed + 1}.", ""]
    if r["rendered_reference"]:
        out += ["What an ideal edit would read and move: the same steps applied by the renderer to "
                f"{r['starts']} rendered faces (the same face, the attribute set; ageing greys the hair as the "
                "renderer does), beside other rendered faces with the same attributes:", "",
                "| step | edit | ACC after the step | moved by the step | start to this step | start to another face of steps 1..k |",
                "|---|---|---|---|---|---|"]
        for x, expr in zip(r["rendered_reference"], args.step_list):
            out.append(f"| {x['step']} | `{expr}` | {x['after_step']:.3f} | {x['move']:.2f} | {x['start_to_step']:.2f} | "
                       f"{x['start_to_other_face']:.2f} |")
        out += ["", "On those rendered faces the evaluator reads the attributes no step names as at the start in: " +
                ", ".join(f"{k} {v:.3f}" for k, v in r["rendered_reference_kept"].items()) + ".", ""]
    out += [
            f"![strips: the start, then each step, for 8 starts]({rel}/strips.png)", ""]
    atomic_files.write_text(args.report, "\n".join(out) + "\n")


if __name__ == "__main__":
    main()
