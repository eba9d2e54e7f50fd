#!/usr/bin/env python3
"""Which w+ layers carry each attribute, for lace edit's subset selection, measured on a bundle.

  /usr/bin/python3 scripts/faces/measure_layers.py --bundle models/faces --labeler models/faces/labeler.pt

Takes pairs of images (A, B) and swaps a set of A's w+ layers for B's: the set carries an attribute when
the swapped image reads (under the labeler) as B does. Layers are ranked by how much the full swap loses
when one of them is left out, and each attribute gets the shortest top of that ranking that carries
--share of the difference between A and B. Measuring sets rather than single layers matters: thin
features such as glasses need the coarse layers (where they are placed) and the fine ones (where they are
drawn) together; swapped one at a time, each fine layer looked negligible, and the edits of the first
face bundle (layers chosen that way) left the glasses out of the image.

Writes BUNDLE/layers.json (the sets and how much each carries) and the `layers` of every attribute in
BUNDLE/lace.json. build_bundle.py calls measure_layers() for a new bundle. With --sets '5-9;0-4' it writes
nothing and prints, per given set, the share of each attribute that swapping only that set carries (what an
edit confined to those layers could still change).
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import make_pairs  # noqa: E402

SHARE = 0.9  # of the A-to-B difference an attribute's layers must carry


def distance(a, b):
    """Per attribute, the mean over pairs of how far readings a and b differ (hair: total variation)."""
    out = {}
    for name in a:
        d = (a[name] - b[name]).abs()
        out[name] = float(d.sum(1).mean() / 2 if d.dim() == 2 else d.mean())
    return out


def swap_reader(generator, labeler, z_dim, num_ws, n, psi, seed, read_images=None):
    """Draws n pairs (A, B); returns (gap_to_b, whole): gap_to_b(layers) is, per attribute, how far A with those
    layers swapped for B's reads from B (cached per set), whole the same for no layer swapped."""
    g = torch.Generator().manual_seed(seed)
    wa, wb = (make_pairs.truncated_w(generator, torch.randn(n, z_dim, generator=g), psi) for _ in range(2))
    read_images = read_images or (lambda images: make_pairs.soft_labels(labeler(images)))
    read = lambda ws: read_images(generator.synthesis(ws))  # noqa: E731
    read_b = read(wb.unsqueeze(1).repeat(1, num_ws, 1))
    cache = {}

    def gap_to_b(layers):
        key = frozenset(layers)
        if key not in cache:
            ws = wa.unsqueeze(1).repeat(1, num_ws, 1)
            ws[:, sorted(key)] = wb.unsqueeze(1)
            cache[key] = distance(read(ws), read_b)
        return cache[key]

    return gap_to_b, gap_to_b([])


def share_carried(gap, whole, name):
    """The share of A's difference from B in `name` that a swap leaving `gap` removed."""
    return 1 - gap[name] / max(whole[name], 1e-12)


@torch.no_grad()
def carried_by(generator, labeler, z_dim, num_ws, sets, n=128, psi=1.0, seed=1):
    """For each set of layers, per attribute, the share of the A-to-B difference that swapping only that set
    carries (1: all of it; near 0 or below: none)."""
    gap_to_b, whole = swap_reader(generator, labeler, z_dim, num_ws, n, psi, seed)
    return [{name: round(share_carried(gap_to_b(s), whole, name), 3) for name in whole} for s in sets]


@torch.no_grad()
def measure_layers(generator, labeler, z_dim, num_ws, n=128, share=SHARE, psi=1.0, seed=1, read_images=None):
    """Returns ({attribute: sorted layers}, {attribute: share of the A-to-B difference its layers carry}).
    The attributes are the labeler's, or with read_images (images -> {attribute: reading}) that reader's."""
    gap_to_b, whole = swap_reader(generator, labeler, z_dim, num_ws, n, psi, seed, read_images)

    # Synthesis is the cost (a few seconds per hundred images here), so rather than a greedy search over
    # sets, rank the layers once by what leaving each one out of the full swap loses, then take the
    # shortest prefix of that ranking that carries `share` (found by bisection; the carried share grows
    # with the prefix, nearly always).
    every = list(range(num_ws))
    layers, carried = {}, {}
    for name in whole:
        carry = lambda s: share_carried(gap_to_b(s), whole, name)  # noqa: E731
        ranked = sorted(every, key=lambda i: -gap_to_b([j for j in every if j != i])[name])
        lo, hi = 1, num_ws  # the shortest prefix length that carries `share` lies in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if carry(ranked[:mid]) >= share:
                hi = mid
            else:
                lo = mid + 1
        layers[name] = sorted(ranked[:lo])
        carried[name] = round(carry(ranked[:lo]), 3)
    return layers, carried


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True, help="lace bundle folder (generator.pt, lace.json)")
    ap.add_argument("--labeler", required=True, help="the image classifier that reads the attributes")
    ap.add_argument("-n", type=int, default=128, help="image pairs")
    ap.add_argument("--share", type=float, default=SHARE, help="of the A-to-B difference the layers must carry")
    ap.add_argument("--sets", help="only print what these layer sets carry, e.g. '5-9;0-4;1,3' (writes nothing)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    sets = parse_sets(args.sets, ap.error) if args.sets else None
    manifest_path = os.path.join(args.bundle, "lace.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    info = manifest["generator"]
    past = [i for s in sets or [] for i in s if i >= info["num_ws"]]
    if past:
        ap.error(f"--sets: layer {past[0]} is past the generator's {info['num_ws']} w+ layers (0-{info['num_ws'] - 1})")
    torch.set_num_threads(args.threads)
    generator = torch.jit.load(os.path.join(args.bundle, "generator.pt")).eval()
    labeler = torch.jit.load(args.labeler).eval()
    if sets:
        print_sets_table(sets, carried_by(generator, labeler, info["z_dim"], info["num_ws"], sets, args.n))
        return
    layers, carried = measure_layers(generator, labeler, info["z_dim"], info["num_ws"], args.n, args.share)
    write(args.bundle, layers, carried, args.share)
    for a in manifest["attributes"]:
        a["layers"] = layers[a["name"]]
    atomic_files.write_json(manifest_path, manifest, indent=2)
    print(json.dumps({"layers": layers, "carried": carried}))


def parse_sets(text, error):
    """'5-9;0-4;1,3' -> [[5, 6, 7, 8, 9], [0, 1, 2, 3, 4], [1, 3]]; error(message) on anything else."""
    sets = []
    for part in text.split(";"):
        layers = set()
        for item in part.split(","):
            lo, dash, hi = item.strip().partition("-")
            if not lo.isdigit() or (dash and (not hi.isdigit() or int(hi) < int(lo))):
                error(f"--sets: '{item.strip()}' in '{part}' is not a layer or a range like 5-9")
            layers.update(range(int(lo), int(hi or lo) + 1))
        sets.append(sorted(layers))
    return sets


def print_sets_table(sets, rows):
    """A markdown table: one row per set of layers, one column per attribute (the share it carries)."""
    names = list(rows[0])
    print("| layers swapped | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for s, row in zip(sets, rows):
        print(f"| {','.join(map(str, s))} | " + " | ".join(f"{row[k]:.2f}" for k in names) + " |")


def write(bundle, layers, carried, share):
    atomic_files.write_json(os.path.join(bundle, "layers.json"),
                            {"layers": layers, "carried": carried, "share": share,
                             "method": "scripts/faces/measure_layers.py: joint swaps of w+ layers, ranked by leave-one-out"}, indent=1)


if __name__ == "__main__":
    main()
