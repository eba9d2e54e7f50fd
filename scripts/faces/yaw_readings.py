#!/usr/bin/env python3
"""How the evaluator, the checker and the labeler read a head's turn on this generator's faces.

    /usr/bin/python3 scripts/faces/yaw_readings.py --samples 2000          # unconditional samples and their mirrors
    /usr/bin/python3 scripts/faces/yaw_readings.py --keep DIR --steps 5    # an evaluate_edit.py --keep folder

--samples: each network's mean of yaw(x) + yaw(mirror of x) (0 for a reader that is not lopsided), the three
readings by turn, and where both guiding networks (checker, labeler) read a target within 0.05, the share the
evaluator reads within --tolerance: the best a sampler checked by them can do (issue 3's `yaw=0.6`).
--keep: the last step's image of every start, read as drawn and with one band of rows blurred away, on the starts
the evaluator reads off --target at the end (misses) and on the rest (hits): which part of the face carries each
network's reading of the turn (issue 4's end yaw; docs/faces-edit-evaluation.md, "Session 40").
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageFilter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
import image_classifiers as ic  # noqa: E402
from evaluate import read_png  # noqa: E402
from joint_coverage import generated  # noqa: E402

READERS = ("evaluator", "checker", "labeler")
BANDS = {"none": None, "eyes, glasses (rows 14-34)": (14, 34), "mouth, beard (rows 34-54)": (34, 54),
         "top of the hair (rows 0-14)": (0, 14)}


def yaw(model, images):
    return ic.predictions(ic.classify(model, images))["yaw"]


def mirror_gap(model, images):
    """Mean of yaw(x) + yaw(x mirrored left to right): how lopsided a reader is (the renderer's turn is odd in x)."""
    return float((yaw(model, images) + yaw(model, np.ascontiguousarray(images[:, :, ::-1]))).mean())


def blur_rows(images, lo, hi, radius=4):
    """A copy of uint8 images [n, H, W, 3] whose rows lo..hi-1 are replaced by a Gaussian blur of the image."""
    out = images.copy()
    for i, x in enumerate(images):
        out[i, lo:hi] = np.asarray(Image.fromarray(x).filter(ImageFilter.GaussianBlur(radius)))[lo:hi]
    return out


def last_steps(keep, steps):
    """The step-`steps` PNG of every start in an evaluate_edit.py --keep folder, in start order."""
    images = []
    for part in sorted(p for p in glob.glob(os.path.join(keep, "starts-*")) if os.path.isdir(p)):
        files = sorted(glob.glob(os.path.join(part, f"*-step{steps}.png")))
        images += [read_png(f) for f in files]
    if not images:
        sys.exit(f"yaw_readings.py: no *-step{steps}.png under {keep}/starts-*")
    return np.stack(images)


def samples_report(readers, images, target, tolerance):
    r = {k: yaw(m, images) for k, m in readers.items()}
    print("mirror gap, mean of yaw(x) + yaw(mirror x): "
          + ", ".join(f"{k} {mirror_gap(m, images):+.3f}" for k, m in readers.items()))
    for lo, hi in ((-1.1, -0.45), (-0.45, -0.15), (-0.15, 0.15), (0.15, 0.45), (0.45, 1.1)):
        m = (r["checker"] > lo) & (r["checker"] <= hi)
        print(f"checker reads ({lo:+.2f}, {hi:+.2f}], {m.sum()} faces: "
              + ", ".join(f"{k} {r[k][m].mean():+.3f}" for k in r))
    for t in (-target, 0.0, target):
        both = (np.abs(r["checker"] - t) < 0.05) & (np.abs(r["labeler"] - t) < 0.05)
        ok = np.abs(r["evaluator"][both] - t) <= tolerance
        print(f"checker and labeler within 0.05 of {t:+.1f}: {both.sum()} faces, evaluator within {tolerance}: "
              f"{ok.mean() if both.any() else float('nan'):.2f}")


def keep_report(readers, images, target, tolerance):
    miss = np.abs(yaw(readers["evaluator"], images) - target) > tolerance
    print(f"{len(images)} starts, {miss.sum()} read off yaw={target} at the end by the evaluator")
    print("| rows blurred | misses: " + " / ".join(readers) + " | hits |\n|---|---|---|")
    for name, band in BANDS.items():
        x = images if band is None else blur_rows(images, *band)
        r = {k: yaw(m, x) for k, m in readers.items()}
        print(f"| {name} | " + " / ".join(f"{r[k][miss].mean():+.3f}" for k in r) + " | "
              + " / ".join(f"{r[k][~miss].mean():+.3f}" for k in r) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(HERE, "..", "..", "models", "faces"))
    ap.add_argument("--samples", type=int, help="read this many unconditional samples of the bundle's generator")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", help="an evaluate_edit.py --keep folder: read its last step's images")
    ap.add_argument("--steps", type=int, default=5, help="with --keep: the sequence's number of steps")
    ap.add_argument("--target", type=float, default=-0.6, help="the yaw the sequence sets (--keep), or its "
                    "magnitude (--samples: read at -t, 0 and t)")
    ap.add_argument("--tolerance", type=float, default=0.15)
    args = ap.parse_args()
    if not args.samples and not args.keep:
        ap.error("give --samples N or --keep DIR")
    torch.set_num_threads(1)
    readers = {k: torch.jit.load(os.path.join(args.model, f"{k}.pt")).eval() for k in READERS}
    if args.samples:
        samples_report(readers, generated(os.path.join(args.model, "generator.pt"), args.samples, args.seed),
                       abs(args.target), args.tolerance)
    if args.keep:
        keep_report(readers, last_steps(args.keep, args.steps), args.target, args.tolerance)


if __name__ == "__main__":
    main()
