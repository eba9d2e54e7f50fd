#!/usr/bin/env python3
"""Pseudo-labelled latent pairs: sample z, map to w, draw the image, let the labeler read it.

  /usr/bin/python3 scripts/faces/make_pairs.py --bundle DIR --labeler labeler.pt --out pairs.npz [-n 20000]

DIR is a lace bundle (its lace.json names the generator and gives z_dim and num_ws).

Each pair gets its own truncation psi, uniform in [--psi-min, 1], so the latent classifier also knows
the truncated region that sampling (psi 0.7) and editing (psi 0.5) visit; w is stored truncated, exactly
as the classifier will see it, and the image is drawn from that w. The .npz holds z, w, psi, the raw
labeler outputs and one label array per attribute in the layout train_latent_classifier.py reads. Discrete
labels are the labeler's probabilities, not its decisions (binary: p [N]; hair: class probabilities [N, C]):
a face the labeler finds ambiguous teaches the latent classifier to be unsure there instead of a coin flip.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
from render import BINARY, CONTINUOUS, HAIR_CLASSES  # noqa: E402


def truncated_w(generator, z, psi):
    """w = w_avg + psi (mapping(z) - w_avg), as lace truncates; psi a number or a [B, 1] tensor."""
    return generator.w_avg + psi * (generator.mapping(z) - generator.w_avg)


def load_pairs(path):
    """Pairs this script wrote, as a dict of arrays; refuses the hard labels of older versions."""
    try:
        with np.load(path) as f:
            pairs = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise SystemExit(f"cannot read pairs {path}: {e}")
    if pairs.get("hair", np.zeros(1)).ndim != 2:
        raise SystemExit(f"{path} has hard labels (an older make_pairs.py): sample the pairs again")
    return pairs


@torch.no_grad()
def make_pairs(generator, z_dim, num_ws, labeler, n, seed=0, psi_min=0.5, batch=250, device="cpu", skin_reader=None):
    """generator and labeler already on `device`; z and psi are drawn on the CPU (the same pairs' z on any
    device), the arrays come back on the CPU. With a skin_reader (skin.py) the pairs also hold its tone of
    each image ("skin")."""
    z, psi = draw_latents(z_dim, n, seed, psi_min, batch)
    return label_pairs(generator, num_ws, labeler, z, psi, batch, device, skin_reader)


def draw_latents(z_dim, n, seed=0, psi_min=0.5, batch=250):
    """The pairs' z [n, z_dim] and truncations psi [n, 1], uniform in [psi_min, 1], on the CPU."""
    g = torch.Generator().manual_seed(seed)
    zs, psis = [], []
    for i in range(0, n, batch):  # z then psi per batch: the order the seed's pairs were always drawn in
        b = min(batch, n - i)
        zs.append(torch.randn(b, z_dim, generator=g))
        psis.append(psi_min + (1 - psi_min) * torch.rand(b, 1, generator=g))
    return torch.cat(zs), torch.cat(psis)


@torch.no_grad()
def label_pairs(generator, num_ws, labeler, z, psi, batch=250, device="cpu", skin_reader=None):
    """Pairs for these z [N, z_dim] at these truncations psi [N, 1] (CPU): w truncated as lace truncates, and
    the labeler's reading of the image of w drawn at every layer (the latent classifier reads w itself);
    with a skin_reader also its tone of the same image (one synthesis for both)."""
    ws, outs, tones = [], [], []
    for i in range(0, len(z), batch):
        w = truncated_w(generator, z[i:i + batch].to(device), psi[i:i + batch].to(device))
        images = generator.synthesis(w.unsqueeze(1).repeat(1, num_ws, 1)).clamp(-1, 1)
        ws.append(w.cpu())
        outs.append(labeler(images).cpu())
        if skin_reader is not None:
            tones.append(skin_reader(images).cpu())
    return as_pairs(z, torch.cat(ws), psi, torch.cat(outs), torch.cat(tones) if tones else None)


def as_pairs(z, w, psi, outputs, skin=None):
    """The .npz layout from CPU tensors: z, w, psi [N], the labeler's raw outputs and the soft labels (and the
    skin tones [N], when read)."""
    pairs = {"z": z.numpy(), "w": w.numpy(), "psi": psi.reshape(-1).numpy(), "labeler_outputs": outputs.numpy()}
    pairs.update({k: v.numpy() for k, v in soft_labels(outputs).items()})
    if skin is not None:
        pairs["skin"] = skin.numpy()
    return pairs


def write_joined(old, new, path):
    """Writes the pairs `old` followed by `new` to path (atomically, exactly that name); returns how many."""
    joined = {k: np.concatenate([old[k], new[k]]) for k in new}
    with atomic_files.replacing(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **joined)
    return len(joined["w"])


def new_rates(new):
    """The labeler's binary rates on new pairs, for a log line."""
    return json.dumps({b: round(float(new[b].mean()), 3) for b in BINARY})


def soft_labels(outputs):
    """The labeler's outputs (image_classifiers' layout) as training targets: binary probabilities, hair class
    probabilities, continuous values."""
    nb, nh = len(BINARY), len(HAIR_CLASSES)
    labels = {b: torch.sigmoid(outputs[:, i]) for i, b in enumerate(BINARY)}
    labels["hair"] = torch.softmax(outputs[:, nb:nb + nh], 1)
    labels.update({c: outputs[:, nb + nh + j] for j, c in enumerate(CONTINUOUS)})
    return labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True, help="lace bundle folder holding the generator")
    ap.add_argument("--labeler", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("-n", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--psi-min", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (z and psi are drawn on the CPU either way)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    with open(os.path.join(args.bundle, "lace.json")) as f:
        spec = json.load(f)["generator"]
    generator = torch.jit.load(os.path.join(args.bundle, spec["file"]), map_location=args.device).eval()
    labeler = torch.jit.load(args.labeler, map_location=args.device).eval()
    pairs = make_pairs(generator, spec["z_dim"], spec["num_ws"], labeler, args.n, args.seed, args.psi_min,
                       device=args.device)
    with atomic_files.replacing(args.out) as tmp, open(tmp, "wb") as f:  # exactly args.out: no ".npz" added
        np.savez(f, **pairs)
    rates = {k: float(pairs[k].mean()) for k in BINARY}
    rates["hair"] = dict(zip(HAIR_CLASSES, pairs["hair"].mean(0).round(3).tolist()))
    rates.update({k: [float(pairs[k].min()), float(pairs[k].max())] for k in CONTINUOUS})
    print(f"wrote {args.n} pairs to {args.out} in {time.time() - t0:.0f} s; labeler rates {rates}")


if __name__ == "__main__":
    main()
