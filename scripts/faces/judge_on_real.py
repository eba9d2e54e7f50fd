#!/usr/bin/env python3
"""How well image classifiers read rendered faces whose true attributes satisfy each evaluated condition.

  /usr/bin/python3 scripts/faces/judge_on_real.py models/faces/evaluator.pt [OTHER.pt ...] [--real 100000]

The evaluation (evaluate.py) can only be as good as its judge: a condition the evaluator misreads on real
faces that have it cannot reach its bar however well lace samples. For every condition of evaluate.py's
table this prints, per classifier, the share of real images satisfying it (true attributes; continuous
ones within 0.03 of the target) that the classifier reads as satisfying it (continuous ones within
--tolerance), and the per-attribute agreement on the whole real set. The real images are render seed 9000,
as evaluate.py's, in the data's own mix. Never tuned on generated samples: real images only.
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import evaluate  # noqa: E402
import image_classifiers as ic  # noqa: E402
import render  # noqa: E402

REAL_SEED = 9000  # evaluate.py's real images


def judge(models, real, tolerance, least=20):
    """{condition: {"real": count, name: share read as satisfied (None below `least` images)}} for each
    (name, model) of `models` on real = (images, true attributes); and per-model attribute agreement."""
    images, attrs = real
    preds = {name: ic.predictions(ic.classify(m, images)) for name, m in models.items()}
    rows = {}
    for expr, group, threshold in evaluate.CONDITIONS:
        row = {"group": group, "threshold": threshold,
               "real": int(evaluate.satisfied(expr, attrs, 0.03).sum())}
        for name, pred in preds.items():
            row[name] = evaluate.judge_on_real(expr, attrs, pred, tolerance, least=least)
        rows[expr] = row
    agreement = {name: ic.metrics(pred, attrs) for name, pred in preds.items()}
    return rows, agreement


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("classifiers", nargs="+", help="TorchScript image classifiers (labeler or evaluator layout)")
    ap.add_argument("--real", type=int, default=100_000, help="rendered images (render seed 9000)")
    ap.add_argument("--tolerance", type=float, default=0.15, help="continuous readings: |reading - target|")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = [os.path.relpath(p) for p in args.classifiers]
    models = {}
    for name, path in zip(names, args.classifiers):
        try:
            models[name] = torch.jit.load(path).eval()
        except (RuntimeError, ValueError, OSError) as e:
            sys.exit(f"judge_on_real.py: {path}: not a TorchScript classifier ({str(e).splitlines()[0]})")
    rows, agreement = judge(models, render.render_many(args.real, seed=REAL_SEED), args.tolerance)

    print(f"Real images read as satisfying each condition ({args.real} rendered, seed {REAL_SEED}; "
          f"continuous within {args.tolerance}):\n")
    print("| condition | bar | real images | " + " | ".join(f"`{n}`" for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for expr, row in rows.items():
        cells = ["n/a" if row[n] is None else f"{row[n]:.2f}" for n in names]
        print(f"| `{expr}` | {row['threshold']:.2f} | {row['real']} | " + " | ".join(cells) + " |")
    print("\nAgreement with the true attributes on all of them:\n")
    for n in names:
        a = agreement[n]
        print(f"- `{n}`: " + ", ".join(f"{k} {v:.4f}" if not isinstance(v, dict) else
                                       f"{k} MAE {v['mae']:.3f} ({v['within_0.1']:.2f} within 0.1)"
                                       for k, v in a.items()))
    if args.json:
        atomic_files.write_json(args.json, {"real": args.real, "seed": REAL_SEED, "tolerance": args.tolerance,
                                            "conditions": rows, "agreement": agreement})


if __name__ == "__main__":
    main()
