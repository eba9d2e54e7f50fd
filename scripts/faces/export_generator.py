#!/usr/bin/env python3
"""Export a training checkpoint's G_ema as lace's generator.pt (TorchScript: mapping, synthesis, w_avg).

    /usr/bin/python3 scripts/faces/export_generator.py /work/lace-training/faces/checkpoint.pt generator.pt

Takes a full checkpoint (train_gan.py's checkpoint.pt) or a snapshot (RUN_DIR/snapshots/g_ema-*.pt).
w_avg is measured again on G_ema's own mapping network (the training loop tracks it on G), from a fixed
seed, so the exported file depends only on the weights.
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import stylegan  # noqa: E402


def load_g_ema(checkpoint):
    """G_ema of a train_gan.py checkpoint or snapshot, in eval mode, and the checkpoint's step (or None)."""
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)  # our own files: configs too
    gan = ck["train_config"]["gan"] if "train_config" in ck else ck["gan"]
    G = stylegan.Generator(stylegan.Config.from_dict(gan))
    G.load_state_dict(ck["G_ema"])
    return G.eval().requires_grad_(False), ck.get("step")


def export_generator(checkpoint, out_path, w_avg_samples=100_000):
    """Write G_ema as TorchScript to out_path; returns the sizes lace.json needs."""
    G, step = load_g_ema(checkpoint)
    G.w_avg.copy_(stylegan.measure_w_avg(G, w_avg_samples))
    scripted = torch.jit.script(G)
    with atomic_files.replacing(out_path) as tmp:
        torch.jit.save(scripted, tmp)
    return {"z_dim": G.z_dim, "w_dim": G.w_dim, "num_ws": G.num_ws, "resolution": G.resolution,
            "channels": 3, "step": step}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--w-avg-samples", type=int, default=100_000)
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(json.dumps(export_generator(args.checkpoint, args.out, args.w_avg_samples)))


if __name__ == "__main__":
    main()
