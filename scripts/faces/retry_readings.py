#!/usr/bin/env python3
"""How lace's retries went, read image by image from kept `lace sample` runs (evaluate.py --keep folders, or any
folder of one run): the evaluator's ACC; the share of images the sampler verified (the record's p and p_image both
at least its min_p) within 1, 2, 4, ... solves; the evaluator's ACC on the verified images and on the rest (the
best of failed tries); each AND literal's ACC; and the mean solves per image.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/faces/retry_readings.py KEEP/beard_and_hat [KEEP/...] [--json F]

A lace run keeps an image's first verified try, so "verified within k solves" is what `--tries k` would verify on
the same seeds: an image verified within k solves is drawn by `--tries k` exactly as here.
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
import atomic_files  # noqa: E402
from evaluate import indexed_images, literal, read_images, satisfied, score  # noqa: E402


def read_run(folder):
    """(expression, images, records) of the one lace run in folder, in index order."""
    found = indexed_images(folder)
    if not found:
        raise SystemExit(f"retry_readings.py: no images with records in {folder}")
    images, records = read_images(found, sorted(found))
    exprs = {r["condition"]["expression"] for r in records}
    if len(exprs) != 1:
        raise SystemExit(f"retry_readings.py: {folder} holds images of several conditions: {sorted(exprs)}")
    return exprs.pop(), images, records


def share(mask, among=None):
    """mask's mean over `among` (all where None); None where among is empty."""
    m = mask if among is None else mask[among]
    return round(float(m.mean()), 3) if m.size else None


def retry_table(expr, pred, records, tolerance=0.15):
    """The figures above for one run, from the evaluator's readings pred ({name: array}) and the lace records."""
    right = satisfied(expr, pred, tolerance)
    min_p = np.array([r.get("min_p", 0.0) for r in records])
    verified = np.array([r["p"] >= m and r.get("p_image", 1.0) >= m for r, m in zip(records, min_p)])
    kept = np.array([r["tries"]["kept"] for r in records])      # which solve was kept, from 0
    solved = np.array([r["tries"]["solved"] for r in records])  # how many solves were made
    within, k = {}, 1
    while True:
        within[k] = share(verified & (kept < k))
        if k >= solved.max():
            break
        k *= 2
    literals = [t.strip() for t in expr.split(" AND ")] if " OR " not in expr else []
    return {"condition": expr, "n": len(records), "acc": share(right),
            "verified_within": within, "acc_verified": share(right, verified), "acc_rest": share(right, ~verified),
            "literal_acc": {t: share(literal(t, pred, tolerance)) for t in literals} if len(literals) > 1 else {},
            "mean_solves": round(float(solved.mean()), 2)}


def markdown(rows):
    ks = sorted({k for r in rows for k in r["verified_within"]})
    lines = [f"| condition | n | ACC | verified within {' / '.join(map(str, ks))} solves | ACC of the verified | "
             "ACC of the rest | ACC per literal | mean solves |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        text = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        within = " / ".join(f"{r['verified_within'][k]:.2f}" if k in r["verified_within"] else "-" for k in ks)
        literals = ", ".join(f"`{t}` {v:.3f}" for t, v in r["literal_acc"].items()) or "-"
        lines.append(f"| `{r['condition']}` | {r['n']} | {text(r['acc'])} | {within} | {text(r['acc_verified'])} | "
                     f"{text(r['acc_rest'])} | {literals} | {r['mean_solves']:.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--evaluator", default="models/faces/evaluator.pt")
    ap.add_argument("--tolerance", type=float, default=0.15, help="continuous targets: |reading - target|")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    if not os.path.exists(args.evaluator):
        sys.exit(f"retry_readings.py: no evaluator at {args.evaluator}")
    torch.set_num_threads(1)
    evaluator = torch.jit.load(args.evaluator).eval()
    rows = []
    for folder in args.folders:
        expr, images, records = read_run(folder)
        rows.append(dict(retry_table(expr, score(evaluator, images)[0], records, args.tolerance), folder=folder))
    print(markdown(rows))
    if args.json:
        atomic_files.write_json(args.json, rows)


if __name__ == "__main__":
    main()
