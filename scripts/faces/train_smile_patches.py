#!/usr/bin/env python3
"""Train the smile patch judge (image_classifiers.SmilePatches) on rendered faces and export it as TorchScript.

  /usr/bin/python3 scripts/faces/train_smile_patches.py --out DIR

Writes DIR/smile_patches.pt (TorchScript: forward(x [B,3,64,64] in [-1,1]) -> [B] smile logits; patch_logits(x)
-> [B,1,16,16]) and DIR/smile_patches.json (training settings, held-out accuracy on the data's mix and on
balanced faces). Its own slice of rendered data (render seed 7000, half balanced) and initialisation (7), unlike
every other judge; the labeler's augmentation with blur up to sigma 0.9. `build_bundle.py --edit-smile-judge
DIR/smile_patches.pt` makes lace edit's verifier hear it (image_classifiers.MeanWithSmilePatches).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import image_classifiers as ic  # noqa: E402
from render import render_many  # noqa: E402
from train_image_classifier import TEST_SEED, train_epoch  # noqa: E402

DATA_SEED = 7000  # training faces: a slice no other judge trains on (train_image_classifier.DATA_SEEDS)
INIT_SEED = 7
BLUR = 0.9        # half the training images blurred by up to this sigma: the generator's mouths are soft


def smile_accuracy(model, images, attrs):
    return float(((ic.classify(model, images) > 0).numpy() == attrs["smile"].astype(bool)).mean())


def train(n, epochs, test, log=print):
    """The judge and its card, trained on n rendered faces (half in the data's mix, half balanced)."""
    torch.manual_seed(INIT_SEED)
    gen = torch.Generator().manual_seed(INIT_SEED)
    t0 = time.time()
    half = n // 2
    mix, balanced = render_many(n - half, seed=DATA_SEED), render_many(half, seed=DATA_SEED, balanced=True)
    images = np.concatenate([mix[0], balanced[0]])
    smile = torch.from_numpy(np.concatenate([mix[1]["smile"], balanced[1]["smile"]]).astype(np.float32))
    tests = {"held_out": render_many(test, seed=TEST_SEED),
             "held_out_balanced": render_many(test, seed=TEST_SEED, balanced=True)}
    log(f"rendered {n} + {2 * test} faces in {time.time() - t0:.0f} s")
    model = ic.SmilePatches()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    steps = epochs * (n // 128)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    step, accuracy = 0, {}
    for epoch in range(epochs):
        step = train_epoch(model, opt, sched, images, smile, F.binary_cross_entropy_with_logits, gen, 128, BLUR, step,
                           lambda at, value: log(f"epoch {epoch} step {at}/{steps} loss {value:.4f} "
                                                 f"{time.time() - t0:.0f} s"))
        accuracy = {name: smile_accuracy(model, *data) for name, data in tests.items()}
        log(f"epoch {epoch}: held-out smile accuracy {json.dumps(accuracy)}")
    model.eval()
    card = {"role": "smile_patches", "columns": ["smile"], "architecture": "SmilePatches",
            "receptive_field": ic.SmilePatches.RECEPTIVE_FIELD,
            "parameters": sum(p.numel() for p in model.parameters()),
            "train": {"images": n, "balanced": half, "data_seed": DATA_SEED, "init_seed": INIT_SEED,
                      "epochs": epochs, "batch": 128, "lr": 1e-3, "schedule": "cosine", "blur": BLUR,
                      "seconds": round(time.time() - t0)},
            "held_out_smile_accuracy": {name: {"images": test, "data_seed": TEST_SEED, "accuracy": a}
                                        for name, a in accuracy.items()}}
    return model, card


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=40_000, help="training images (half of them balanced)")
    ap.add_argument("--test", type=int, default=5_000, help="held-out images, each of the two sets")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.train < 256 or args.test < 1 or args.epochs < 1:
        ap.error("--train at least 256, --test and --epochs at least 1")
    torch.set_num_threads(args.threads)
    model, card = train(args.train, args.epochs, args.test, log=lambda m: print(m, flush=True))
    os.makedirs(args.out, exist_ok=True)
    with atomic_files.replacing(os.path.join(args.out, "smile_patches.pt")) as tmp:
        torch.jit.script(model).save(tmp)
    atomic_files.write_json(os.path.join(args.out, "smile_patches.json"), card)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
