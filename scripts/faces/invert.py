#!/usr/bin/env python3
"""Can the generator draw what its samples lack? Inverts real rendered faces into G_ema's latent space by
optimisation (no encoder, no attributes: only the pixels) and reads the inversions with the labeler.

    /usr/bin/python3 scripts/faces/invert.py CHECKPOINT --labeler models/faces/labeler.pt \
        --n 64 --steps 200 --space w --out /tmp/inversion

If an attribute that G's samples drop (glasses) reads on the inversions of real images that have it, the
synthesis network can draw it and only the mapping network's distribution misses it: fitting the mapping
to the inverted codes would then cover the data by construction, still without seeing an attribute.
Writes OUT/report.json (per binary attribute: the labeler's recall on inversions of real positives and its
rate on inversions of real negatives), OUT/sheet.png (real faces above their inversions) and OUT/codes.pt.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import encoder  # noqa: E402
import render  # noqa: E402
import stylegan  # noqa: E402
import train_gan  # noqa: E402


def invert(G, real, steps, space="w", lr=0.03, w_avg_samples=5000, log=None):
    """Codes whose synthesis redraws `real` ([B, 3, H, W] in [-1, 1]). space "w": one w per image, as the
    mapping network gives and lace's classifier reads; "wplus": one w per synthesis layer. Starts at the
    mean w; minimises the anchor's reconstruction error (L1 at two scales, edges, strokes weighted).
    Returns (codes, images, per-step losses)."""
    G = G.eval().requires_grad_(False)
    w_avg = stylegan.measure_w_avg(G, w_avg_samples, seed=0)
    n = real.shape[0]
    shape = (n, G.w_dim) if space == "w" else (n, G.num_ws, G.w_dim)
    code = w_avg.expand(shape).clone().requires_grad_(True)
    opt = torch.optim.Adam([code], lr=lr)

    def draw():
        ws = code.unsqueeze(1).expand(-1, G.num_ws, -1) if space == "w" else code
        return G.synthesis(ws)

    losses = []
    for step in range(steps):
        loss = encoder.reconstruction_error(draw(), real, edge_weight=1.0, stroke_weight=5.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log and (step % 25 == 0 or step == steps - 1):
            log(step, losses[-1])
    with torch.no_grad():
        return code.detach(), draw(), losses


def binary_rates(outputs, truth):
    """Per binary attribute: the labeler's rate on inversions of real positives (recall) and negatives."""
    out = {}
    for i, name in enumerate(render.BINARY):
        read = (outputs[:, i] > 0).numpy()
        pos, neg = truth[name] == 1, truth[name] == 0
        out[name] = {"real_positives": int(pos.sum()),
                     "read_on_positives": round(float(read[pos].mean()), 3) if pos.any() else None,
                     "read_on_negatives": round(float(read[neg].mean()), 3) if neg.any() else None}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="train_gan.py checkpoint or weights file")
    ap.add_argument("--labeler", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=64, help="real faces: half with glasses, half without")
    ap.add_argument("--seed", type=int, default=4242, help="render seed (not the training pool's 0)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--space", choices=["w", "wplus"], default="w")
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    G = train_gan.Trainer.load(args.checkpoint).G_ema
    images, attrs = render.render(20 * args.n, args.seed)
    half = args.n // 2
    idx = np.concatenate([np.where(attrs["glasses"] == 1)[0][:half], np.where(attrs["glasses"] == 0)[0][:half]])
    real = train_gan.to_tensor(images[idx])
    t0 = time.time()
    code, drawn, losses = invert(G, real, args.steps, args.space, args.lr,
                                 log=lambda s, v: print(f"step {s} loss {v:.4f} ({time.time() - t0:.0f} s)", flush=True))
    labeler = torch.jit.load(args.labeler).eval()
    with torch.no_grad():
        report = {"checkpoint": args.checkpoint, "space": args.space, "steps": args.steps, "n": len(idx),
                  "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
                  "seconds": round(time.time() - t0, 1),
                  "inversions": binary_rates(labeler(drawn), {k: v[idx] for k, v in attrs.items()}),
                  "reals": binary_rates(labeler(real), {k: v[idx] for k, v in attrs.items()})}
    atomic_files.write_json(os.path.join(args.out, "report.json"), report, indent=1)
    k = min(16, half)
    sheet = [train_gan.to_uint8(x) for x in (real[:k], drawn[:k], real[half:half + k], drawn[half:half + k])]
    train_gan.save_sheet(np.concatenate(sheet), os.path.join(args.out, "sheet.png"), cols=k)
    atomic_files.save_torch({"space": args.space, "codes": code, "render_seed": args.seed, "indices": idx},
                            os.path.join(args.out, "codes.pt"))
    print(json.dumps(report["inversions"]))


if __name__ == "__main__":
    main()
