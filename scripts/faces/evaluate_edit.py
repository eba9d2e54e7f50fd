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
  steps 1..k (what "sampling anew" would move);
- skin tone, which no attribute of the evaluator's names but an edit should keep: each step's tone as a
  skin-tone reader of the evaluation's own reads it (skin.train_skin_reader, another seed than the one a
  bundle's `skin` attribute is guided by; about a minute to train before the first part is measured).
The report's generated part goes between two marker lines (BEGIN, END below), so notes written around it
survive a rerun; an existing report without them is refused before anything is measured.
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
import skin  # noqa: E402
from evaluate import indexed_images, read_images, read_png, run_lace, satisfied, score, share_text  # noqa: E402
from result_parts import load_part, models_and_lace_key, save_part  # noqa: E402

# Since session 29: binary (glasses, NOT smile, beard), categorical (hair) and continuous (yaw) edits. The
# sequence before, "glasses; age=0.8; yaw=-0.6; NOT smile; beard", cannot meet the bar on attributes never
# edited as the evaluator reads it: ageing greys hair in the data, and even the renderer's own edit keeps the
# hair label on only 0.60 of faces (docs/faces-edit-evaluation.md, "Session 28").
STEPS = "hair=black; glasses; yaw=-0.6; NOT smile; beard"
SKIN_READER_SEED = 7100  # the evaluation's skin-tone reader (skin.py's bundle reader: 7000)
SKIN_MOVED = 0.1  # a start's skin tone counts as changed when the end reads further than this from the start


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


def kept(start, end, name, tolerance):
    """Per image: whether its reading of `name` at the end is the start's (continuous: within tolerance)."""
    if name in render.CONTINUOUS:
        return np.abs(np.asarray(end[name]) - np.asarray(start[name])) <= tolerance
    return np.asarray(end[name]) == np.asarray(start[name])


def kept_share(start, end, names, tolerance):
    """{name: share of images whose reading at the end is the start's} (continuous: within tolerance)."""
    return {name: float(kept(start, end, name, tolerance).mean()) for name in names}


def read_steps(out_dir, starts, steps):
    """images [starts, steps + 1, 64, 64, 3] from lace edit's RRRRR-IIII-step{k}.png files (IIII counts the
    run's starts from 0, whatever its first_index)."""
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
    ap.add_argument("--results", help="folder of per-part results (default: <report>-results)")
    ap.add_argument("--steps", default=STEPS, help="the edits, separated by ';'")
    ap.add_argument("--starts", type=int, default=128)
    ap.add_argument("--chunk", type=int, default=16, help="starts per part (each part one lace edit run)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--truncation", type=float, default=None, help="default: the bundle's (its editing section)")
    ap.add_argument("--tolerance", type=float, default=0.15, help="continuous targets: |reading - target|")
    ap.add_argument("--lace-args", default="", help='more options for lace edit, e.g. "--solver rk4 --steps 20"')
    ap.add_argument("--skin-images", type=int, default=20_000,
                    help="rendered faces the evaluation's skin-tone reader is trained on (build.sh --smoke: fewer)")
    ap.add_argument("--jobs", type=int, default=1, help="parts at once (each lace run uses one core)")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: write the report from the parts already in --results")
    ap.add_argument("--keep", help="keep lace's outputs (the edits, their records, the fresh samples) in this folder")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: read the edit runs and fresh samples already complete in that folder instead "
                         "of running lace again (to read the same edits with another evaluator)")
    args = ap.parse_args()
    args.step_list = [x.strip() for x in args.steps.split(";") if x.strip()]
    if args.reuse and not args.keep:
        ap.error("--reuse needs --keep (the folder to read)")
    if args.starts < 1 or args.chunk < 1:
        ap.error("--starts and --chunk must be at least 1")
    old_report = existing_text(args.report)
    if old_report is not None:  # fail now, not after an hour of measuring
        try:
            splice_report(old_report, "")
        except ValueError as e:
            ap.error(f"{args.report}: {e}")
    torch.set_num_threads(2 if args.jobs == 1 else 1)
    results = args.results or os.path.splitext(args.report)[0] + "-results"
    sheets = os.path.splitext(args.report)[0] + "-sheets"
    key = edit_key(args)
    evaluator = torch.jit.load(args.evaluator).eval()
    if not args.report_only:
        work = args.keep or tempfile.mkdtemp(prefix="lace-edit-eval-")
        os.makedirs(work, exist_ok=True)
        try:
            measure(args, key, results, sheets, evaluator, work)
        except subprocess.CalledProcessError as e:  # cmd = [lace, "-q", "edit" or "sample", ...]
            raise SystemExit(f"evaluate_edit.py: lace {e.cmd[2]} failed with exit code {e.returncode} (its message is above)")
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    parts = [load_part(results, part_name(first, count), key) for first, count in chunks(args)]
    parts = [p for p in parts if p is not None]
    if not parts:
        sys.exit(f"evaluate_edit.py: no part under this key in {results}: run without --report-only first")
    result = aggregate(args, key, parts, evaluator)
    atomic_files.write_json(os.path.splitext(args.report)[0] + ".json", result, indent=1)
    write_report(args, result, sheets)
    print(json.dumps({k: v for k, v in result.items() if k != "key"}, indent=1))


# ----------------------------------------------------------------------------------------------
# Parts: one JSON per chunk of starts, kept only under the same key (result_parts.py)

def edit_key(args):
    return {"steps": args.step_list, "seed": args.seed, "truncation": args.truncation, "tolerance": args.tolerance,
            "lace_args": args.lace_args, **models_and_lace_key(args.model, args.evaluator)}


def chunks(args):
    """[(first start index, count)] covering starts 0..args.starts - 1; a part's result does not depend on
    how the starts are chunked (each start's edit and fresh sample depend only on its own seed and index)."""
    return [(first, min(args.chunk, args.starts - first)) for first in range(0, args.starts, args.chunk)]


def part_name(first, count):
    return f"starts-{first:04d}-{first + count - 1:04d}"


def measure(args, key, results, sheets, evaluator, work):
    """Measures every chunk of starts without a part under `key` (args.jobs at once), writing each part as
    it is made: a run stopped part way loses at most the chunks it was making."""
    every = chunks(args)
    todo = [c for c in every if load_part(results, part_name(*c), key) is None]
    kept = len(every) - len(todo)
    if kept:
        print(f"evaluate_edit.py: {kept} part(s) already measured under the same key in {results}; kept", flush=True)
    if not todo:
        return
    skin_reader = skin.train_skin_reader(args.skin_images, seed=SKIN_READER_SEED)[0]

    def one(chunk):
        part = measure_chunk(args, evaluator, skin_reader, work, *chunk, sheets)
        save_part(results, part_name(*chunk), key, part)
        print(f"evaluate_edit.py: starts {chunk[0]}..{sum(chunk) - 1} measured ({part['edit_seconds']} s of lace edit)",
              flush=True)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, todo))


def measure_chunk(args, evaluator, skin_reader, work, first, count, sheets):
    """Edits starts first..first+count-1 through the steps, samples each step's conditions afresh for the
    same indices (seed args.seed + 1), and reads everything with the evaluator. Per start: the readings at
    every step (0 = the start), the fresh samples' readings, the feature distances, and the skin tone at
    every step (skin_reader's)."""
    steps, K = args.step_list, len(args.step_list)
    out = os.path.join(work, part_name(first, count))
    t_edit = time.perf_counter()
    if not (args.reuse and complete(out, count, K)):
        run_edit(args, work, first, count, out)
    else:
        print(f"evaluate_edit.py: reading the edits already in {out}", flush=True)
    edit_seconds = time.perf_counter() - t_edit
    images = read_steps(out, count, K)
    records = []  # the first start's record per step: what the edit ran with after the bundle's, file's and flags' settings
    for k in range(1, K + 1):
        (path,) = glob.glob(os.path.join(out, f"*-0000-step{k}.json"))
        with open(path) as f:
            records.append(json.load(f))
    if first == 0:
        os.makedirs(sheets, exist_ok=True)
        render.contact_sheet(images[:8].reshape(-1, 64, 64, 3), K + 1).save(os.path.join(sheets, "strips.png"))
    pred, feat = score(evaluator, images.reshape(-1, 64, 64, 3))
    feat = feat.reshape(count, K + 1, -1)
    # Sampling anew: a fresh image of the conditions step k's energy held (steps 1..k, a re-set attribute at
    # its latest target), from another seed, for the same indices.
    combined = [" AND ".join(f"({s})" if " OR " in s else s for s in records[k - 1].get("conditions", steps[:k]))
                for k in range(1, K + 1)]
    fresh_pred, start_to_fresh = [], []
    for k in range(1, K + 1):
        fresh_dir = os.path.join(work, f"fresh{k}-{part_name(first, count)}")
        fp, ff = score(evaluator, fresh_sample(args, combined[k - 1], first, count, fresh_dir))
        fresh_pred.append(fp)
        start_to_fresh.append(np.linalg.norm(ff - feat[:, 0], axis=1))
    norm = lambda a: np.linalg.norm(a, axis=-1).tolist()  # noqa: E731
    return {"first": first, "count": count, "edit_seconds": round(edit_seconds, 1),
            "truncation": records[0]["truncation"], "weights": records[0]["weights"], "conditions": combined,
            "readings": {name: v.reshape(count, K + 1).tolist() for name, v in pred.items()},
            "fresh_readings": {name: np.stack([fp[name] for fp in fresh_pred], 1).tolist() for name in pred},
            "move": norm(feat[:, 1:] - feat[:, :-1]), "start_to_step": norm(feat[:, 1:] - feat[:, :1]),
            "start_to_fresh_sample": np.stack(start_to_fresh, 1).tolist(),
            "skin": skin.read_tones(skin_reader, images.reshape(-1, 64, 64, 3)).reshape(count, K + 1).tolist()}


def aggregate(args, key, parts, evaluator):
    """The report's figures over every start of the parts given (in start order), made under `key`."""
    steps, K = args.step_list, len(args.step_list)
    cat = lambda field: {name: np.concatenate([np.array(p[field][name]) for p in parts])  # noqa: E731
                         for name in parts[0][field]}
    pred, fresh = cat("readings"), cat("fresh_readings")
    move, to_step, to_fresh = (np.concatenate([np.array(p[f]) for p in parts])
                               for f in ("move", "start_to_step", "start_to_fresh_sample"))
    n = len(move)
    at = lambda k: {name: v[:, k] for name, v in pred.items()}  # noqa: E731
    rows = []
    for k, expr in enumerate(steps, start=1):
        again, combined = set_again(steps, k), parts[0]["conditions"][k - 1]
        rows.append({"step": k, "expression": expr,
                     "before": float(satisfied(expr, at(k - 1), args.tolerance).mean()),
                     "after_step": float(satisfied(expr, at(k), args.tolerance).mean()),
                     "at_end": None if again else float(satisfied(expr, at(K), args.tolerance).mean()),
                     "set_again_by": again,
                     "move": float(move[:, k - 1].mean()), "start_to_step": float(to_step[:, k - 1].mean()),
                     "fresh_condition": combined, "start_to_fresh_sample": float(to_fresh[:, k - 1].mean()),
                     "fresh_sample_acc": float(satisfied(combined, {m: v[:, k - 1] for m, v in fresh.items()},
                                                         args.tolerance).mean())})
    last = rows[-1]
    reference, reference_kept = rendered_reference(steps, evaluator, n, args.seed, args.tolerance)
    return {"rendered_reference": reference, "rendered_reference_kept": reference_kept, "starts": n,
            "starts_asked": args.starts, "start_ranges": [[p["first"], p["first"] + p["count"] - 1] for p in parts],
            "steps": rows,
            "never_edited_kept": kept_share(at(0), at(K), never_edited(steps), args.tolerance),
            "start_to_end": last["start_to_step"], "start_to_fresh_sample": last["start_to_fresh_sample"],
            "fresh_sample_acc": last["fresh_sample_acc"],
            "edit_seconds": round(sum(p["edit_seconds"] for p in parts), 1), "tolerance": args.tolerance,
            "truncation": parts[0]["truncation"], "weights": parts[0]["weights"],
            "skin": skin_drift(np.concatenate([np.array(p["skin"]) for p in parts]))
            if all("skin" in p for p in parts) else None, "key": key}


def skin_drift(tones):
    """Skin tone over the steps from tones [starts, steps + 1]: the mean, the share of dark faces
    (render.DARK_SKIN_BELOW) at every step, and the share of starts whose end reads more than SKIN_MOVED
    from their start."""
    return {"mean": tones.mean(0).round(3).tolist(), "dark": (tones < render.DARK_SKIN_BELOW).mean(0).round(3).tolist(),
            "moved_at_end": float((np.abs(tones[:, -1] - tones[:, 0]) > SKIN_MOVED).mean())}


def fresh_sample(args, expr, first, count, out_dir):
    """Images first..first+count-1 of a fresh `lace sample` of expr (seed args.seed + 1); with --reuse, the
    ones an earlier run left in out_dir when all of them are there, found by the index in each record (not by
    file name: lace numbers a rerun's files on)."""
    if args.reuse:
        found, wanted = indexed_images(out_dir), range(first, first + count)
        if all(i in found for i in wanted):
            return read_images(found, wanted)[0]
    return run_lace(args.lace, args.model, expr, count, args.seed + 1, out_dir, start=first)[0]


def complete(out_dir, count, steps):
    """Whether a lace edit run left every step's PNG of its `count` starts in out_dir."""
    return len(glob.glob(os.path.join(out_dir, "*-step*.png"))) == count * (steps + 1)


def run_edit(args, work, first, count, out):
    """lace edit on starts first..first+count-1 of args.seed, into out."""
    seq = {"start": {"seed": args.seed, "count": count, "first_index": first}, "steps": args.step_list}
    if args.truncation is not None:
        seq["truncation"] = args.truncation
    path = os.path.join(work, part_name(first, count) + ".json")
    with open(path, "w") as f:
        json.dump(seq, f)
    shutil.rmtree(out, ignore_errors=True)  # a run stopped part way left some files: start the chunk afresh
    cmd = [args.lace, "-q", "edit", "--model", args.model, "--sequence", path, "-b", "32", "--out", out]
    subprocess.run(cmd + shlex.split(args.lace_args), check=True)


def write_report(args, r, sheets):
    rel = os.path.relpath(sheets, os.path.dirname(args.report) or ".")
    n = r["starts"]
    cmd = (f"/usr/bin/python3 scripts/faces/evaluate_edit.py --lace {args.lace} --model {args.model} "
           f"--evaluator {args.evaluator} --report {args.report} --steps '{args.steps}' --starts {args.starts} --seed {args.seed}"
           + (f" --truncation {args.truncation}" if args.truncation is not None else "")
           + (f" --lace-args '{args.lace_args}'" if args.lace_args else "")
           + (f" --chunk {args.chunk}" if args.chunk != 16 else ""))
    partial = r["starts"] < r["starts_asked"]
    out = [(f"**Part way: {r['starts']} of the {r['starts_asked']} starts measured so far** (the figures below are "
            "theirs; a rerun of the same command measures the rest).\n\n" if partial else "")
           + f"Made by `{cmd}` (in parts of {args.chunk} starts, which may have run in several sessions or side by "
           "side: `--results` keeps each under a key of the settings, the bundle, the evaluator and lace's sources; "
           + ("the edits read from an earlier run's --keep folder with --reuse, " if args.reuse else "")
           + f"`lace edit` itself took {r['edit_seconds']} s for {r['starts']} starts x {len(args.step_list)} steps,"
           + " summed over the parts, on the 2-core development machine). Starts: images "
           + ", ".join(f"{a}-{b}" for a, b in r["start_ranges"])
           + f" of seed {args.seed} at truncation {r['truncation']}; weights "
           + ", ".join(f"{k} {v:g}" for k, v in r["weights"].items()) + "; sequence: "
           + ", ".join(f"`{s}`" for s in args.step_list) + ". Every reading is the evaluator's on the PNGs lace wrote "
           f"(continuous targets within {r['tolerance']}). Raw figures: "
           f"[{os.path.basename(os.path.splitext(args.report)[0])}.json]({os.path.basename(os.path.splitext(args.report)[0])}.json).", "",
           "| step | edit | target read before | after the step (>= 0.90) | after the last step (>= 0.85) "
           "| moved by the step | start to this step | start to a fresh sample of steps 1..k | step's move / fresh sample's "
           "| that sample's ACC |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for x in r["steps"]:
        out.append(f"| {x['step']} | `{x['expression']}` | {x['before']:.3f} | {share_text(x['after_step'], n)} | "
                   + (f"n/a (set again by step {x['set_again_by']})" if x["at_end"] is None
                      else share_text(x["at_end"], n))
                   + f" | {x['move']:.2f} | {x['start_to_step']:.2f} | {x['start_to_fresh_sample']:.2f} | "
                   f"{x['move'] / x['start_to_fresh_sample']:.2f} | "
                   f"{x['fresh_sample_acc']:.3f} |")
    out += ["", "Attributes no step names, the same evaluator reading at the end as at the start (>= 0.90; "
            f"continuous ones within {r['tolerance']}): " +
            ", ".join(f"{k} {share_text(v, n)}" for k, v in r["never_edited_kept"].items())
            + f". In brackets, each share's 95% interval (Wilson) over {n} starts: a bar inside it is not decided by "
            "these starts; `scripts/faces/compare_edit_runs.py` compares two runs start by start.", ""]
    if r.get("skin"):
        out += [f"Skin tone (not an attribute of the evaluator's; a skin-tone reader of the evaluation's own, "
                f"render seed {SKIN_READER_SEED}), the start then each step: mean "
                + " / ".join(f"{v:.3f}" for v in r["skin"]["mean"]) + "; dark faces (tone under "
                f"{render.DARK_SKIN_BELOW}) " + " / ".join(f"{v:.3f}" for v in r["skin"]["dark"])
                + f"; starts whose end reads more than {SKIN_MOVED} from their start tone: "
                f"{r['skin']['moved_at_end']:.3f}.", ""]
    out += ["How far the image moves is the mean distance between evaluator features (128 pooled features); a "
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
    try:  # read again: the notes around the table may have been edited while this ran
        text = splice_report(existing_text(args.report), "\n".join(out) + "\n")
    except ValueError as e:
        sys.exit(f"evaluate_edit.py: {args.report}: {e}")
    atomic_files.write_text(args.report, text)


TITLE = "# Face bundle: measured sequential editing"
BEGIN, END = "<!-- evaluate_edit.py writes from here -->", "<!-- evaluate_edit.py writes up to here -->"


def existing_text(path):
    """The file's text, or None where there is no such file."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def splice_report(old, table):
    """The report's new text: `table` between the BEGIN and END markers of the existing report `old`, whose
    text around them (notes written by hand) stays as it was; a new report (old None) is the title and the
    marked table. A report without the markers is not overwritten: its text may be someone's notes."""
    if old is None:
        return f"{TITLE}\n\n{BEGIN}\n{table}{END}\n"
    begin, end = old.find(BEGIN), old.find(END)
    if begin < 0 or end < begin:
        raise ValueError(f"has no '{BEGIN}' ... '{END}' pair to write between; add the two lines around the "
                         "part to replace, or give another --report")
    return old[:begin] + f"{BEGIN}\n{table}" + old[end:]


if __name__ == "__main__":
    main()
