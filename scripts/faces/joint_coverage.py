#!/usr/bin/env python3
"""How often a generator draws attribute combinations, by skin tone, against the data (the evaluator reads both).

    /usr/bin/python3 scripts/faces/joint_coverage.py --generator models/faces/generator.pt [-n 4000] [--json F]

issue 3's coverage bar looks at one attribute at a time; an edit keeps the face's skin tone, so it also needs
the combinations on every skin tone. Session 32 found the committed generator draws a closed mouth on 13% of
dark faces where the data has 53% (dark AND beard AND NOT smile: 0.18% of samples against 2.5%), which is most
of issue 4's `NOT smile` miss. --generator takes lace's generator.pt or a train_gan.py checkpoint or snapshot
(its G_ema). Skin tone is not an attribute (no judge reads it), so the script first trains a small skin-tone
reader on rendered faces and their true tones (render.skin_tones; about a minute) and reads both sets with
it: a face is dark when its tone reads under 0.46, the darkest ~30% of the renderer's tones.

It also says how alike the evaluator and the two networks lace reads with (--judges: labeler, checker) read the
samples, beside the data: session 35 found the favoured generators' faces, at a lower Frechet distance, read less
alike (yaw 0.07 -> 0.10 apart, smile agreeing on 0.86 -> 0.78), and that is where their edits failed.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import image_classifiers as ic  # noqa: E402
import render  # noqa: E402
from evaluate import frechet_distance, score  # noqa: E402
from export_generator import load_g_ema  # noqa: E402
from skin import read_tones, train_skin_reader  # noqa: E402
from train_gan import generate, is_torchscript, to_uint8  # noqa: E402

DARK_BELOW = render.DARK_SKIN_BELOW  # skin tone (mean of the skin's RGB, 0..1) under which a face counts as dark
COMBINATIONS = {  # name: rule on the evaluator's predictions (p) and the skin mask (dark)
    "dark": lambda p, d: d,
    "NOT smile": lambda p, d: p["smile"] == 0,
    "dark AND NOT smile": lambda p, d: d & (p["smile"] == 0),
    "light AND NOT smile": lambda p, d: ~d & (p["smile"] == 0),
    "beard": lambda p, d: p["beard"] == 1,
    "dark AND beard": lambda p, d: d & (p["beard"] == 1),
    "dark AND beard AND NOT smile": lambda p, d: d & (p["beard"] == 1) & (p["smile"] == 0),
    "light AND beard AND NOT smile": lambda p, d: ~d & (p["beard"] == 1) & (p["smile"] == 0),
    "hat": lambda p, d: p["hat"] == 1,
    "beard AND hat": lambda p, d: (p["beard"] == 1) & (p["hat"] == 1),
    "glasses": lambda p, d: p["glasses"] == 1,
}


def generated(path, n, seed, batch=250):
    """n uint8 images [n, 64, 64, 3] from fixed z (seed) at truncation 1 (lace's generator.pt, or G_ema of a
    train_gan.py checkpoint or snapshot)."""
    G = torch.jit.load(path).eval() if is_torchscript(path) else load_g_ema(path)[0]
    return to_uint8(generate(G, n, seed, batch))


def rates(p, d):
    """{combination: share of images} from the evaluator's predictions p (ic.predictions) and d: bool [n],
    which faces are dark."""
    out = {name: float(rule(p, d).mean()) for name, rule in COMBINATIONS.items()}
    out["NOT smile among dark"] = float((p["smile"][d] == 0).mean()) if d.any() else float("nan")
    out["NOT smile among light"] = float((p["smile"][~d] == 0).mean()) if (~d).any() else float("nan")
    # The tie between skin and an attribute the data draws independently of it (session 32: glasses).
    for name in ("glasses", "smile"):
        has = p[name] == 1
        out[f"dark among {name}"] = float(d[has].mean()) if has.any() else float("nan")
        out[f"dark among NOT {name}"] = float(d[~has].mean()) if (~has).any() else float("nan")
    return out


def agreements(readers, fake, real):
    """{"A-B": {"samples": ic.agreement, "data": ic.agreement}} for every pair of readers ({name: TorchScript
    classifier}) on the samples and on the real images."""
    read = {name: (ic.predictions(ic.classify(m, fake)), ic.predictions(ic.classify(m, real))) for name, m in readers.items()}
    names = list(readers)
    return {f"{a}-{b}": {"samples": ic.agreement(read[a][0], read[b][0]),
                          "data": ic.agreement(read[a][1], read[b][1])}
            for i, a in enumerate(names) for b in names[i + 1:]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generator", default="models/faces/generator.pt")
    ap.add_argument("--evaluator", default="models/faces/evaluator.pt")
    ap.add_argument("-n", type=int, default=4000, help="samples, and as many real images (render seed 9000)")
    ap.add_argument("--seed", type=int, default=5, help="seed of the samples' z")
    ap.add_argument("--json", help="also write the table here")
    ap.add_argument("--judges", default="models/faces/labeler.pt,models/faces/checker.pt",
                    help="the networks lace reads with, compared with the evaluator ('' to skip)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    evaluator = torch.jit.load(args.evaluator).eval()
    reader, reader_figures = train_skin_reader()
    print("skin-tone reader, held out:", json.dumps({k: round(v, 3) for k, v in reader_figures.items()}), flush=True)
    fake, real = generated(args.generator, args.n, args.seed), render.render(args.n, seed=9000)[0]
    (p_fake, f_fake), (p_real, f_real) = score(evaluator, fake), score(evaluator, real)  # one pass each
    samples = rates(p_fake, read_tones(reader, fake) < DARK_BELOW)
    data = rates(p_real, read_tones(reader, real) < DARK_BELOW)
    # how far the samples look from the data overall (what favouring some images may cost), beside two data sets
    fd = {"samples_to_data": frechet_distance(f_fake, f_real),
          "data_to_data": frechet_distance(score(evaluator, render.render(args.n, seed=9001)[0])[1], f_real)}
    print(f"{'':32s} {'samples':>8s} {'data':>8s} {'ratio':>6s}")
    for k in samples:
        print(f"{k:32s} {samples[k]:8.4f} {data[k]:8.4f} {samples[k] / max(data[k], 1e-9):6.2f}")
    print(f"Frechet distance of evaluator features: samples to data {fd['samples_to_data']:.2f}, "
          f"two data sets {fd['data_to_data']:.2f}")
    readers = {"evaluator": evaluator, **{os.path.splitext(os.path.basename(j))[0]: torch.jit.load(j).eval()
                                          for j in args.judges.split(",") if j}}
    agree = agreements(readers, fake, real) if len(readers) > 1 else {}
    for pair, a in agree.items():
        print(f"{pair:20s} " + "  ".join(f"{k} {a['samples'][k]:.3f} ({a['data'][k]:.3f})" for k in a["samples"]))
    if agree:
        print("(how alike each pair reads the samples; the data in brackets: shares of equal labels, |diff| of values)")
    if args.json:
        atomic_files.write_json(args.json, {"generator": args.generator, "n": args.n, "seed": args.seed,
                                            "skin_reader": reader_figures, "samples": samples, "data": data,
                                            "frechet_distance": fd, "agreement": agree}, indent=1)


if __name__ == "__main__":
    main()
