#!/usr/bin/env python3
"""More pseudo-labelled pairs where `lace edit` goes: random edit sequences on fresh starts, each step's w
read by the labeler, and the (w, labels) joined to the pairs.

  /usr/bin/python3 scripts/faces/edit_pairs.py --lace build/lace --bundle DIR --labeler labeler.pt \
      --pairs pairs.npz --out edited.npz [--sequences 64] [--starts 32]

Why: an edit starts from a sample and follows the latent classifier's gradient under the regularizers, into
places neither make_pairs.py (z from the prior) nor refine_pairs.py (lace sample from noise) reach. There the
face bundle's latent classifier and the labeler that taught it disagree: after `yaw=-0.6` as the third step the
latent classifier read the target met on 95 of 96 starts and the labeler on 32 (docs/faces-edit-evaluation.md,
session 21), and drawing the image from every layer of the new w instead of the step's layers alone did not
close the gap (16 starts, session 23: the labeler read yaw -0.6 on 13, the latent classifier on 5). Pairs from exactly those places teach it where it was wrong, as refine_pairs.py does for
sampling. The evaluator plays no part, and the sequences are random, never the evaluation's.

Each sequence has --steps steps drawn at random (`sequence()`): a binary attribute set or negated, a hair colour,
or a continuous target at a random value in its range. lace edit runs it on --starts starts (seed --seed + i,
which must not be the evaluation's seeds 42 and 43) with the bundle's editing defaults, its min_p retries and
verifier included, and --lace-args (by default fixed rk4 steps: the endpoints are what matters, not their
accuracy, and adaptive solves of stiff steps take minutes). Every step's record gives its z and truncation;
w is recomputed from them, and the labeler reads the image drawn from w at every layer (what the latent
classifier reads is w itself, not the step's w+). The output holds the input pairs followed by the new ones.
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
import make_pairs  # noqa: E402
from refine_pairs import check_w  # noqa: E402
from render import BINARY, CONTINUOUS, HAIR_CLASSES  # noqa: E402

EVALUATION_SEEDS = (42, 43)  # evaluate_edit.py's starts and fresh samples


def sequence(rng, steps):
    """`steps` random edits in the lace expression language, no two in a row naming the same attribute."""
    out = []
    while len(out) < steps:
        kind = rng.choice(["binary", "hair", "continuous"], p=[0.55, 0.15, 0.30])
        if kind == "binary":
            name = rng.choice(BINARY)
            out.append(name if rng.random() < 0.5 else f"NOT {name}")
        elif kind == "hair":
            out.append(f"hair={rng.choice(HAIR_CLASSES)}")
        else:
            name = rng.choice(list(CONTINUOUS))
            lo, hi = CONTINUOUS[name]
            out.append(f"{name}={round(float(rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo))), 2):g}")
        if len(out) > 1 and attribute(out[-1]) == attribute(out[-2]):
            out.pop()
    return out


def attribute(step):
    """The attribute a one-attribute step names: `NOT hat` -> hat, `age=0.3` -> age."""
    return step.removeprefix("NOT ").split("=")[0]


def run_edit(lace, bundle, steps, seed, starts, out_dir, lace_args):
    """lace edit of `steps` on `starts` starts of `seed`; returns the records of every step after the start."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "sequence.json")
    with open(path, "w") as f:
        json.dump({"start": {"seed": seed, "count": starts}, "steps": steps}, f)
    cmd = [lace, "-q", "edit", "--model", bundle, "--sequence", path, "-b", str(starts), "--out", out_dir, *lace_args]
    code = subprocess.run(cmd).returncode
    if code != 0:  # lace has printed its one line
        raise SystemExit(f"edit_pairs: lace edit failed (exit {code}): {shlex.join(cmd)}")
    records = []
    for f in sorted(glob.glob(os.path.join(out_dir, "*-step*.json"))):
        if not f.endswith("-step0.json"):
            with open(f) as r:
                records.append(json.load(r))
    if len(records) != starts * len(steps):
        raise SystemExit(f"edit_pairs: expected {starts * len(steps)} step records in {out_dir}, found {len(records)}")
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lace", default="build/lace")
    ap.add_argument("--bundle", required=True, help="the bundle whose latent classifier guides the edits")
    ap.add_argument("--labeler", required=True)
    ap.add_argument("--pairs", required=True, help="the pairs the classifier was trained on (make_pairs layout)")
    ap.add_argument("--out", required=True, help="where the input pairs plus the new ones go")
    ap.add_argument("--sequences", type=int, default=64)
    ap.add_argument("--starts", type=int, default=32, help="starts per sequence")
    ap.add_argument("--steps", type=int, default=5, help="edits per sequence")
    ap.add_argument("--seed", type=int, default=7000, help="sequence i edits starts of seed --seed + i")
    ap.add_argument("--lace-args", default="--solver rk4 --steps 20", help="more options for lace edit")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    seeds = range(args.seed, args.seed + args.sequences)
    if any(s in seeds for s in EVALUATION_SEEDS):
        raise SystemExit(f"edit_pairs: --seed {args.seed} with {args.sequences} sequences reaches the evaluation's "
                         f"seeds {EVALUATION_SEEDS}")
    torch.set_num_threads(args.threads)
    t0 = time.time()
    old = make_pairs.load_pairs(args.pairs)
    with open(os.path.join(args.bundle, "lace.json")) as f:
        manifest = json.load(f)
    generator = torch.jit.load(os.path.join(args.bundle, manifest["generator"]["file"])).eval()
    labeler = torch.jit.load(args.labeler).eval()
    rng = np.random.default_rng(args.seed)
    work = tempfile.mkdtemp(prefix="lace-edit-pairs-")
    zs, psis, readings = [], [], []
    try:
        for i, seed in enumerate(seeds):
            steps = sequence(rng, args.steps)
            records = run_edit(args.lace, args.bundle, steps, seed, args.starts, os.path.join(work, f"s{i:03d}"),
                               shlex.split(args.lace_args))
            zs += [r["z"] for r in records]
            psis += [r["truncation"] for r in records]
            readings += [r["attributes"] for r in records]
            print(f"sequence {i + 1}/{args.sequences} (seed {seed}): {'; '.join(steps)} "
                  f"({time.time() - t0:.0f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    z = torch.tensor(zs, dtype=torch.float32)
    new = make_pairs.label_pairs(generator, manifest["generator"]["num_ws"], labeler, z,
                                 torch.tensor(psis, dtype=torch.float32)[:, None])
    classifier = torch.jit.load(os.path.join(args.bundle, manifest["classifier"]["file"])).eval()
    with torch.no_grad():
        check_w(classifier, manifest["attributes"], torch.from_numpy(new["w"]), readings)
    total = make_pairs.write_joined(old, new, args.out)
    print(f"{len(new['w'])} new pairs from {args.sequences} edit sequences ({time.time() - t0:.0f} s), "
          f"{total} in {args.out}; labeler rates on the new ones: {make_pairs.new_rates(new)}", flush=True)


if __name__ == "__main__":
    main()
