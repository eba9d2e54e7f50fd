"""Writes a bundle's "prior": how much more (or less) often the data holds each cell of its discrete attributes
than the generator draws it, so that `lace sample` can pull the attributes a condition leaves free toward the
data's mix (src/energy/prior.cpp, docs/bundle-format.md).

  log_ratio[cell] = log p_data(cell) - log p_generator(cell),  clipped to +-log(--max-ratio)

p_generator: the latent classifier's soft reading of -n generator samples at the bundle's default truncation
(the cell's probability, the product of each attribute's, averaged: what the sampler's energy reads);
p_data: the share of each cell among labelled data, from --labels (an .npz with one array per attribute: 0/1
for a binary one, the class index for a categorical one) or, for the face bundle, --faces N (the attributes of
the first N faces scripts/faces/render.py draws, without drawing them). Usage:

  /usr/bin/python3 scripts/attribute_prior.py --bundle models/faces --faces 200000 [--weight 1]
  /usr/bin/python3 scripts/attribute_prior.py --bundle MY_BUNDLE --labels celeba_labels.npz --attributes smile,glasses
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]
import atomic_files  # noqa: E402


def value_counts(manifest, names):
    """Number of values of each named attribute (binary 2, categorical its classes), refusing continuous ones."""
    by_name = {a["name"]: a for a in manifest["attributes"]}
    counts = []
    for n in names:
        if n not in by_name:
            sys.exit(f"attribute_prior.py: '{n}' is not an attribute of the bundle ({', '.join(by_name)})")
        a = by_name[n]
        if a["kind"] == "continuous":
            sys.exit(f"attribute_prior.py: '{n}' is continuous; the prior takes discrete attributes")
        counts.append(2 if a["kind"] == "binary" else len(a["classes"]))
    return counts


def cell_probabilities(logits, manifest, names):
    """[B, cells]: each row's probability of every cell (the last attribute varying fastest), from the latent
    classifier's logits [B, num_logits] as lace reads them (binary: sigmoid, absent then present; categorical:
    softmax over its columns)."""
    by_name = {a["name"]: a for a in manifest["attributes"]}
    q = np.ones((len(logits), 1))
    for n in names:
        a = by_name[n]
        x = logits[:, a["columns"]].astype(np.float64)
        if a["kind"] == "binary":
            p1 = 1 / (1 + np.exp(-x[:, 0]))
            p = np.stack([1 - p1, p1], 1)
        else:
            e = np.exp(x - x.max(1, keepdims=True))
            p = e / e.sum(1, keepdims=True)
        q = (q[:, :, None] * p[:, None, :]).reshape(len(logits), -1)
    return q


def data_shares(labels, counts, names):
    """The share of each cell among the labelled data (labels: {name: int array})."""
    cell = np.zeros(len(labels[names[0]]), np.int64)
    for n, k in zip(names, counts):
        v = np.asarray(labels[n]).astype(np.int64)
        if v.min() < 0 or v.max() >= k:
            sys.exit(f"attribute_prior.py: labels of '{n}' must lie in 0..{k - 1}")
        cell = cell * k + v
    return np.bincount(cell, minlength=int(np.prod(counts))) / len(cell)


def log_ratio(p_data, p_gen, max_ratio):
    """log(p_data / p_gen), each share floored at 1e-6, clipped to +-log(max_ratio): a cell the generator
    hardly draws must not pull every sample toward it, nor one the data lacks push them all away."""
    r = np.log(np.maximum(p_data, 1e-6)) - np.log(np.maximum(p_gen, 1e-6))
    return np.clip(r, -np.log(max_ratio), np.log(max_ratio))


def generator_readings(bundle, manifest, n, seed, batch=1000):
    """The latent classifier's logits of n generator samples at the bundle's default truncation."""
    import torch
    torch.manual_seed(seed)
    gen = torch.jit.load(os.path.join(bundle, manifest["generator"]["file"])).eval()
    cls = torch.jit.load(os.path.join(bundle, manifest["classifier"]["file"])).eval()
    psi = manifest["truncation"]["default"]
    w_avg_spec = manifest["truncation"]["w_avg"]
    out = []
    with torch.no_grad():
        z = torch.randn(n, manifest["generator"]["z_dim"])
        w = torch.cat([gen.mapping(z[i:i + batch]) for i in range(0, n, batch)])
        if psi != 1:
            w_avg = getattr(gen, w_avg_spec["name"]) if w_avg_spec["source"] == "buffer" else w.mean(0)
            w = w_avg + psi * (w - w_avg)
        for i in range(0, n, batch):
            out.append(cls(w[i:i + batch]).double().numpy())
    return np.concatenate(out)


def face_labels(n, seed=0):
    """The true attributes of the first n faces render.render(n, seed) draws, without drawing them."""
    sys.path.insert(0, os.path.join(HERE, "faces"))
    import render
    return render.attributes(n, seed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True, help="bundle folder; its lace.json gets the \"prior\" section")
    ap.add_argument("--attributes", help="comma-separated discrete attributes (default: every discrete one)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--labels", help=".npz of the data's labels, one array per attribute")
    src.add_argument("--faces", type=int, metavar="N", help="the face data's attributes, first N faces (seed 0)")
    ap.add_argument("-n", type=int, default=20000, help="generator samples read by the latent classifier")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-ratio", type=float, default=8.0)
    ap.add_argument("--weight", type=float, default=1.0, help="lace sample's default --prior-weight")
    ap.add_argument("--dry-run", action="store_true", help="print the table, write nothing")
    args = ap.parse_args()

    path = os.path.join(args.bundle, "lace.json")
    with open(path) as f:
        manifest = json.load(f)
    names = (args.attributes.split(",") if args.attributes else
             [a["name"] for a in manifest["attributes"] if a["kind"] != "continuous"])
    counts = value_counts(manifest, names)
    if args.labels:
        with np.load(args.labels) as f:
            missing = [n for n in names if n not in f.files]
            if missing:
                sys.exit(f"attribute_prior.py: {args.labels} has no labels for {', '.join(missing)}")
            labels = {n: f[n] for n in names}
    else:
        labels = face_labels(args.faces)
    p_data = data_shares(labels, counts, names)
    p_gen = cell_probabilities(generator_readings(args.bundle, manifest, args.n, args.seed), manifest, names).mean(0)
    ratio = log_ratio(p_data, p_gen, args.max_ratio)
    print(f"cells of {' x '.join(names)}: {len(ratio)}; data shares vs generator's, the largest ratios:")
    for c in np.argsort(-np.abs(ratio))[:10]:
        print(f"  cell {c}: data {p_data[c]:.4f}, generator {p_gen[c]:.4f}, log ratio {ratio[c]:+.2f}")
    tilted = p_gen * np.exp(ratio)
    print(f"the generator's mix tilted by the table is off the data's by {0.5 * np.abs(tilted / tilted.sum() - p_data).sum():.3f}"
          f" in total variation (untilted {0.5 * np.abs(p_gen - p_data).sum():.3f})")
    if args.dry_run:
        return
    manifest["prior"] = {"comment": f"scripts/attribute_prior.py: data {args.labels or f'faces {args.faces}'}, "
                                    f"generator {args.n} samples seed {args.seed}, max ratio {args.max_ratio}",
                         "attributes": names, "log_ratio": [round(float(v), 6) for v in ratio], "weight": args.weight}
    atomic_files.write_json(path, manifest)
    print(f"wrote prior to {path}")


if __name__ == "__main__":
    main()
