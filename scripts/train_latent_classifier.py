#!/usr/bin/env python3
"""Train a latent attribute classifier from (w, labels) pairs and install it into a lace bundle.

  /usr/bin/python3 scripts/train_latent_classifier.py --pairs pairs.npz --attributes attrs.json --bundle DIR

pairs.npz (or a .pt dict) holds `w` [N, w_dim] (or [N, num_ws, w_dim]: layer 0 is used, the layers of a
sampled w are all the same) and one array per attribute, named as the attribute: binary 0/1 (or a
probability), categorical class index, continuous value on the attribute's own scale.
attrs.json lists the attributes as in lace.json but without `columns` (assigned here, in order):
  [{"name": "smile", "kind": "binary"},
   {"name": "hair", "kind": "categorical", "classes": ["black", "blonde"]},
   {"name": "age", "kind": "continuous", "range": [0, 1], "sigma": 0.1, "layers": [4, 5, 6, 7]}]

Writes DIR/classifier.pt (TorchScript: forward(w [B, w_dim]) -> logits [B, num_logits]), DIR/classifier.json
(training settings and held-out agreement per attribute) and rewrites the `classifier` and `attributes`
sections of DIR/lace.json, keeping the rest. The architecture and defaults are LACE's: a 4-layer MLP down
to 128 units with LeakyReLU(0.2) and a linear head, Adam at 1e-4, batch 128, 50 epochs.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

KINDS = ("binary", "categorical", "continuous")


class LatentClassifier(nn.Module):
    """w -> logits. Inputs are standardised with the training set's statistics, baked in as buffers."""

    def __init__(self, w_dim, num_logits, widths=(512, 512, 256, 128)):
        super().__init__()
        layers, width = [], w_dim
        for h in widths:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_logits)
        self.register_buffer("w_mean", torch.zeros(w_dim))
        self.register_buffer("w_std", torch.ones(w_dim))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.head(self.body((w - self.w_mean) / self.w_std))


def assign_columns(spec):
    """Columns in the order of the spec: 1 for binary and continuous, one per class for categorical."""
    col, out = 0, []
    for a in spec:
        if a.get("kind") not in KINDS:
            raise SystemExit(f"attribute {a.get('name')!r}: kind must be one of {', '.join(KINDS)}")
        n = len(a["classes"]) if a["kind"] == "categorical" else 1
        out.append({**a, "columns": list(range(col, col + n))})
        col += n
    return out, col


def load_pairs(path, spec):
    data = np.load(path) if path.endswith(".npz") else torch.load(path, map_location="cpu")
    get = lambda k: np.asarray(data[k].numpy() if torch.is_tensor(data[k]) else data[k])  # noqa: E731
    w = get("w").astype(np.float32)
    if w.ndim == 3:
        w = w[:, 0]
    if w.ndim != 2:
        raise SystemExit(f"{path}: w must be [N, w_dim] or [N, num_ws, w_dim], got {w.shape}")
    labels = {}
    for a in spec:
        if a["name"] not in data:
            raise SystemExit(f"{path}: no labels for attribute {a['name']!r}")
        v = get(a["name"]).reshape(-1)
        if len(v) != len(w):
            raise SystemExit(f"{path}: {a['name']!r} has {len(v)} labels for {len(w)} latents")
        labels[a["name"]] = v
    return w, labels


def loss_and_agreement(logits, labels, spec, with_agreement=False):
    total, agree = 0.0, {}
    for a in spec:
        cols, y = a["columns"], labels[a["name"]]
        if a["kind"] == "binary":
            out = logits[:, cols[0]]
            total = total + F.binary_cross_entropy_with_logits(out, y.float())
            if with_agreement:
                agree[a["name"]] = float(((out > 0) == (y > 0.5)).float().mean())
        elif a["kind"] == "categorical":
            out = logits[:, cols]
            total = total + F.cross_entropy(out, y.long())
            if with_agreement:
                agree[a["name"]] = float((out.argmax(1) == y.long()).float().mean())
        else:
            out = logits[:, cols[0]]
            # Squared error in units of the attribute's sigma: the same scale as its energy in lace.
            total = total + F.mse_loss(out, y.float()) / (2 * a["sigma"] ** 2)
            if with_agreement:
                err = (out - y.float()).abs()
                agree[a["name"]] = {"mae": float(err.mean()), "within_sigma": float((err < a["sigma"]).float().mean())}
    return total, agree


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--attributes", required=True, help="JSON list of attributes (see above)")
    ap.add_argument("--bundle", required=True, help="bundle folder whose lace.json gets the classifier")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--held-out", type=float, default=0.1, help="share of pairs kept for measuring agreement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    with open(args.attributes) as f:
        spec, num_logits = assign_columns(json.load(f))
    manifest_path = os.path.join(args.bundle, "lace.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    w, labels = load_pairs(args.pairs, spec)
    if w.shape[1] != manifest["generator"]["w_dim"]:
        raise SystemExit(f"{args.pairs}: w has {w.shape[1]} values, the bundle's w_dim is {manifest['generator']['w_dim']}")

    n = len(w)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    n_test = max(1, int(n * args.held_out))
    test, train = perm[:n_test], perm[n_test:]
    W = torch.from_numpy(w)
    Y = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in labels.items()}

    model = LatentClassifier(w.shape[1], num_logits)
    model.w_mean.copy_(W[train].mean(0))
    model.w_std.copy_(W[train].std(0).clamp_min(1e-6))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = train[torch.randperm(len(train))]
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            loss, _ = loss_and_agreement(model(W[idx]), {k: v[idx] for k, v in Y.items()}, spec)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            with torch.no_grad():
                model.eval()
                test_loss, agree = loss_and_agreement(model(W[test]), {k: v[test] for k, v in Y.items()}, spec, True)
            print(f"epoch {epoch + 1}: held-out loss {float(test_loss):.4f} agreement {json.dumps(agree)}", flush=True)

    model.eval()
    out = os.path.join(args.bundle, "classifier.pt")
    torch.jit.script(model).save(out + ".tmp")
    os.replace(out + ".tmp", out)
    card = {"pairs": os.path.basename(args.pairs), "count": n, "held_out": n_test, "epochs": args.epochs,
            "batch": args.batch, "lr": args.lr, "seed": args.seed, "seconds": round(time.time() - t0, 1),
            "architecture": "MLP 512-512-256-128, LeakyReLU(0.2), linear head", "agreement": agree}
    with open(os.path.join(args.bundle, "classifier.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    manifest["classifier"] = {"file": "classifier.pt", "num_logits": num_logits}
    manifest["attributes"] = spec
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
