"""The other attributes that come with a condition, and how much of its Frechet distance they make.

evaluate.py measures a condition's FD against real faces whose true attributes satisfy it. Those real faces come
with the data's mix of every other attribute (of the bearded ones, 0.28 wear glasses); the generator's samples for
the same condition come with the mix it learned, which can differ a lot. This script reads, with the evaluator:
- each attribute's rate among lace's samples of a condition (a kept `lace sample` folder: evaluate.py --keep),
  among the unguided picks (the first n samples of an unconditional folder that the evaluator reads as
  satisfying the condition: what the generator draws for it) and among the real matches;
- the FD of the samples (and of the picks) against the real matches, as evaluate.py measures it, and against real
  matches drawn face by face from the same cell of the discrete attributes (smile, glasses, beard, hat and hair
  class, as the evaluator reads them) as each sample: the distance left once the mix is the same;
- the same two distances for the first n unconditional samples, the reference of the 1.5x bar.

A condition whose FD falls near the unconditional one once matched owes its excess to the mix of the other
attributes, not to how its images are drawn. Usage:
  /usr/bin/python3 scripts/faces/attribute_mix.py --unconditional UNC_DIR KEEP/beard KEEP/hat ...
with UNC_DIR a folder of `lace sample --model models/faces -n 4000 --seed 0` (unconditional)."""
import argparse
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
import atomic_files  # noqa: E402
import render  # noqa: E402
from evaluate import frechet_distance, real_matching, real_readings, satisfied, score  # noqa: E402
from retry_readings import read_run  # noqa: E402

DISCRETE = ("smile", "glasses", "beard", "hat", "hair")
NAMES = DISCRETE + ("age", "yaw")


def cells(reading):
    """One integer per face naming its cell of the discrete attributes (binary ones 0/1, hair its class)."""
    c = np.zeros(len(reading["hair"]), np.int64)
    for name in DISCRETE:
        size = len(render.HAIR_CLASSES) if name == "hair" else 2
        c = c * size + np.asarray(reading[name]).astype(np.int64)
    return c


def matched(sample_cells, pool, pool_cells, rng):
    """For each sample cell, one face of `pool` (indices) from the same cell, without repeats while the cell has
    faces left (then repeating one), or -1 where no face of the pool is in that cell."""
    by_cell = {c: list(rng.permutation(pool[pool_cells == c])) for c in np.unique(pool_cells)}
    picked = {}
    out = []
    for c in sample_cells:
        if c not in by_cell:
            out.append(-1)
        elif by_cell[c]:
            out.append(by_cell[c].pop())
            picked.setdefault(c, []).append(out[-1])
        else:  # the cell ran out: repeat one of its faces
            out.append(rng.choice(picked[c]))
    return np.array(out, np.int64)


def rates(reading):
    """Each binary attribute's rate, hair's class shares, age's and yaw's mean and standard deviation."""
    out = {}
    for name in NAMES:
        x = np.asarray(reading[name])
        if name == "hair":
            out[name] = [float((x == k).mean()) for k in range(len(render.HAIR_CLASSES))]
        elif name in ("age", "yaw"):
            out[name] = [float(x.mean()), float(x.std())]
        else:
            out[name] = float(x.mean())
    return out


def rates_text(r):
    parts = []
    for name in NAMES:
        if name == "hair":
            parts.append("hair " + "/".join(f"{v:.2f}" for v in r[name]))
        elif name in ("age", "yaw"):
            parts.append(f"{name} {r[name][0]:+.2f}±{r[name][1]:.2f}")
        else:
            parts.append(f"{name} {r[name]:.2f}")
    return " | ".join(parts)


def distances(feat, reading, reference, real_feat, real_pred, pool, seed=0):
    """(FD against the reference features, FD against faces of pool matched cell by cell, samples left out of
    the matched one because no face of the pool is in their cell)."""
    plain = frechet_distance(feat, reference)
    m = matched(cells(reading), pool, cells({k: real_pred[k][pool] for k in DISCRETE}), np.random.default_rng(seed))
    kept = m >= 0
    return plain, frechet_distance(feat[kept], real_feat[m[kept]]), int((~kept).sum())


def read_folder(evaluator, folder):
    """(condition, evaluator readings, features) of the one lace run kept in folder."""
    expr, images, _ = read_run(folder)
    with torch.no_grad():
        pred, feat = score(evaluator, images)
    return expr, {k: np.asarray(v) for k, v in pred.items()}, feat


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", help="kept `lace sample` folders, one condition each")
    ap.add_argument("--unconditional", required=True, help="a folder of unconditional `lace sample` images")
    ap.add_argument("--evaluator", default="models/faces/evaluator.pt")
    ap.add_argument("--real", type=int, default=200000)
    ap.add_argument("--real-cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                         os.path.expanduser("~/.cache"), "lace", "evaluate"))
    ap.add_argument("-n", type=int, default=256, help="unguided picks and unconditional reference size")
    ap.add_argument("--real-reference", type=int, default=2000,
                    help="real faces each plain FD is measured against (evaluate.py's --unconditional)")
    ap.add_argument("--tolerance", type=float, default=0.15, help="continuous targets: |reading - target|")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    evaluator = torch.jit.load(args.evaluator).eval()
    real_attrs, real_pred, real_feat = real_readings(
        SimpleNamespace(evaluator=args.evaluator, real=args.real, real_cache=args.real_cache), evaluator)
    _, unc_pred, unc_feat = read_folder(evaluator, args.unconditional)
    everyone = np.arange(len(real_feat))
    first = {k: v[:args.n] for k, v in unc_pred.items()}
    ref = distances(unc_feat[:args.n], first, real_feat[:args.real_reference], real_feat, real_pred, everyone)
    settings = SimpleNamespace(tolerance=args.tolerance, unconditional=args.real_reference)  # as evaluate.py's
    figures = {"unconditional": {"n": min(args.n, len(unc_feat)), "fd": ref[0], "fd_matched": ref[1],
                                 "left_out": ref[2], "rates": rates(first)},
               "real": {"rates": rates(real_pred)}, "conditions": []}
    print(f"unconditional (first {figures['unconditional']['n']}): FD {ref[0]:.2f}, matched {ref[1]:.2f} "
          f"({ref[2]} left out); "
          f"{rates_text(figures['unconditional']['rates'])}")
    print(f"real (all {len(real_feat)}): {rates_text(figures['real']['rates'])}")
    for folder in args.folders:
        expr, pred, feat = read_folder(evaluator, folder)
        match, reference = real_matching(expr, real_attrs, real_feat, settings)
        pool = np.nonzero(match)[0]
        picks = np.nonzero(satisfied(expr, unc_pred, args.tolerance))[0][:args.n]
        row = {"expr": expr, "folder": folder, "n": len(feat), "real_matches": len(pool), "unguided_n": len(picks)}
        row["fd"], row["fd_matched"], row["left_out"] = distances(feat, pred, reference, real_feat, real_pred, pool)
        row["rates"], row["real_rates"] = rates(pred), rates({k: real_pred[k][pool] for k in NAMES})
        # as evaluate.py's unguided FD: none from fewer picks, or from a real set too small for the features
        if len(picks) == args.n and len(reference) >= 2 * feat.shape[1]:
            reading = {k: v[picks] for k, v in unc_pred.items()}
            row["unguided_fd"], row["unguided_fd_matched"], row["unguided_left_out"] = distances(
                unc_feat[picks], reading, reference, real_feat, real_pred, pool)
            row["unguided_rates"] = rates(reading)
        figures["conditions"].append(row)
        unguided = (f"unguided {row['unguided_fd']:.2f} -> {row['unguided_fd_matched']:.2f}"
                    if "unguided_fd" in row else f"unguided n/a (only {len(picks)} picks)")
        print(f"\n{expr} ({len(feat)} samples, {len(pool)} real matches)\n"
              f"  FD {row['fd']:.2f} -> matched {row['fd_matched']:.2f} ({row['left_out']} left out: no real face"
              f" in their cell); {unguided}\n"
              f"  lace     {rates_text(row['rates'])}\n"
              + (f"  unguided {rates_text(row['unguided_rates'])}\n" if "unguided_rates" in row else "")
              + f"  real     {rates_text(row['real_rates'])}")
    print("\n" + markdown(figures))
    if args.json:
        atomic_files.write_json(args.json, figures)


def largest_gap(lace, real):
    """(text, gap) of the attribute whose rate (hair: a class's share; age, yaw: the mean) differs most between
    lace's samples and the real matches (those the condition names differ little, save in an OR)."""
    gaps = []
    for name in NAMES:
        if name == "hair":
            gaps += [(f"hair={c} {a:.2f} vs {b:.2f}", abs(a - b))
                     for c, a, b in zip(render.HAIR_CLASSES, lace[name], real[name])]
        elif name in ("age", "yaw"):
            gaps.append((f"{name} {lace[name][0]:+.2f} vs {real[name][0]:+.2f}", abs(lace[name][0] - real[name][0])))
        else:
            gaps.append((f"{name} {lace[name]:.2f} vs {real[name]:.2f}", abs(lace[name] - real[name])))
    return max(gaps, key=lambda g: g[1])


def markdown(figures):
    """A table: each condition's FD and matched FD as multiples of the unconditional ones, and its largest gap."""
    u = figures["unconditional"]
    lines = [f"Unconditional (first {u['n']}): FD {u['fd']:.2f}, matched {u['fd_matched']:.2f}.", "",
             "| condition | FD (x unconditional) | matched FD (x unconditional matched) | left out | unguided FD -> "
             "matched | largest gap in the mix, lace vs real |", "|---|---|---|---|---|---|"]
    for r in figures["conditions"]:
        unguided = (f"{r['unguided_fd']:.2f} -> {r['unguided_fd_matched']:.2f}" if "unguided_fd" in r
                    else f"n/a ({r['unguided_n']} picks)")
        lines.append(f"| `{r['expr']}` | {r['fd']:.2f} ({r['fd'] / u['fd']:.2f}) | {r['fd_matched']:.2f} "
                     f"({r['fd_matched'] / u['fd_matched']:.2f}) | {r['left_out']} | {unguided} | "
                     f"{largest_gap(r['rates'], r['real_rates'])[0]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
