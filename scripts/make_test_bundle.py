#!/usr/bin/env python3
"""Build lace's tiny test bundle (models/tiny): a few kilobytes of TorchScript and a manifest.

The generator and classifier are random networks with fixed seeds, not trained models: they exist so
the C++ tests can run the whole sampling path (mapping -> classifier -> energy -> ODE -> synthesis ->
PNG) in seconds. Biases are set so each attribute has a known base rate under z ~ N(0, I); the model
card records those rates, measured on 200,000 latents, for the tests to compare against.

Run with Debian's interpreter (it has python3-torch):  /usr/bin/python3 scripts/make_test_bundle.py
`--size bench` builds the same kind of bundle at the latent sizes of a real face model (z and w of 512,
an 8-layer mapping network, LACE's 512-256-128 classifier MLP) for benchmarks; it is not committed.
"""
import argparse
import json
import os

import torch
from torch import nn

SIZES = {
    # z_dim, w_dim, num_ws, resolution, mapping layers, classifier hidden widths
    "tiny": (8, 8, 4, 16, 2, [16]),
    "bench": (512, 512, 16, 64, 8, [512, 256, 128]),
}
Z_DIM, W_DIM, NUM_WS, RESOLUTION, MAPPING_LAYERS, HIDDEN = SIZES["tiny"]
# Logit scale of the random heads: confident, like a classifier trained with cross-entropy. The ODE
# moves the logit by about 5 |grad_z logit|^2, so a soft classifier could not be steered at all.
LOGIT_STD = 6.0
ATTRIBUTES = [
    {"name": "smile", "kind": "binary", "columns": [0], "layers": [2, 3], "base_rate": 0.30},
    {"name": "glasses", "kind": "binary", "columns": [1], "layers": [0, 1], "base_rate": 0.20},
    {"name": "hair", "kind": "categorical", "classes": ["black", "blonde", "red"], "columns": [2, 3, 4],
     "layers": [0, 1, 2, 3]},
    {"name": "age", "kind": "continuous", "range": [0.0, 1.0], "sigma": 0.1, "columns": [5], "layers": [1, 2]},
]
NUM_LOGITS = 6


class TinyGenerator(nn.Module):
    """mapping(z) -> w and synthesis(ws) -> image in [-1, 1]; each w layer paints its own band of rows."""

    def __init__(self):
        super().__init__()
        layers = [nn.Linear(Z_DIM, W_DIM)]
        for _ in range(MAPPING_LAYERS - 1):
            layers += [nn.LeakyReLU(0.2), nn.Linear(W_DIM, W_DIM)]
        self.mapping_net = nn.Sequential(*layers)
        self.to_rgb = nn.Linear(W_DIM, 3 * RESOLUTION)  # one row of colours per w layer band
        self.register_buffer("w_avg", torch.zeros(W_DIM))
        self.num_ws, self.resolution = NUM_WS, RESOLUTION

    @torch.jit.export
    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return self.mapping_net(z)

    @torch.jit.export
    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        b = ws.shape[0]
        n, res = self.num_ws, self.resolution
        rows = self.to_rgb(ws).view(b, n, 3, 1, res)           # [B, layers, 3, 1, W]
        img = rows.expand(b, n, 3, res // n, res).permute(0, 2, 1, 3, 4)
        return torch.tanh(img.reshape(b, 3, res, res))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.mapping(z)
        return self.synthesis(w.unsqueeze(1).repeat(1, self.num_ws, 1))


class TinyClassifier(nn.Module):
    """w -> logits for every attribute at once: [smile, glasses, hair(3), age]."""

    def __init__(self):
        super().__init__()
        layers, width = [], W_DIM
        for hidden in HIDDEN:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, NUM_LOGITS)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        out = self.head(self.body(w))
        age = torch.sigmoid(out[:, 5:6])  # continuous attribute on its [0, 1] scale
        return torch.cat([out[:, :5], age], dim=1)


def calibrate(gen, clf, n):
    """Standardise every head (mean 0, std LOGIT_STD before any sigmoid) so each class and the whole continuous
    range are reachable, shift the binary biases so P(logit > 0) hits each base rate, then measure all
    rates on a second, held-out set of latents."""
    with torch.no_grad():
        z = torch.randn(n, Z_DIM, generator=torch.Generator().manual_seed(1))
        w = gen.mapping(z)
        gen.w_avg.copy_(w.mean(0))
        pre = clf.head(clf.body(w))
        scale = LOGIT_STD / pre.std(0)
        clf.head.weight.mul_(scale[:, None])
        clf.head.bias.copy_((clf.head.bias - pre.mean(0)) * scale)
        raw = clf(w)
        for a in ATTRIBUTES:
            if a["kind"] == "binary":
                col = a["columns"][0]
                clf.head.bias[col] -= torch.quantile(raw[:, col], 1.0 - a["base_rate"])
        z = torch.randn(n, Z_DIM, generator=torch.Generator().manual_seed(2))
        logits = clf(gen.mapping(z))
        rates = {}
        for a in ATTRIBUTES:
            cols = a["columns"]
            if a["kind"] == "binary":
                rates[a["name"]] = float((logits[:, cols[0]] > 0).float().mean())
            elif a["kind"] == "categorical":
                idx = logits[:, cols].argmax(1)
                rates[a["name"]] = {c: float((idx == i).float().mean()) for i, c in enumerate(a["classes"])}
            else:
                v = logits[:, cols[0]]
                rates[a["name"]] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
        return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models", "tiny"))
    parser.add_argument("--samples", type=int, default=200_000, help="latents used to measure base rates")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    args = parser.parse_args()
    global Z_DIM, W_DIM, NUM_WS, RESOLUTION, MAPPING_LAYERS, HIDDEN
    Z_DIM, W_DIM, NUM_WS, RESOLUTION, MAPPING_LAYERS, HIDDEN = SIZES[args.size]
    torch.manual_seed(0)
    gen, clf = TinyGenerator().eval(), TinyClassifier().eval()
    rates = calibrate(gen, clf, args.samples)

    os.makedirs(args.out, exist_ok=True)
    torch.jit.save(torch.jit.script(gen), os.path.join(args.out, "generator.pt"))
    torch.jit.save(torch.jit.script(clf), os.path.join(args.out, "classifier.pt"))
    manifest = {
        "format": "lace-bundle",
        "version": 1,
        "name": args.size,
        "description": "Random test networks with calibrated base rates; for tests, not for pictures.",
        "generator": {"file": "generator.pt", "z_dim": Z_DIM, "w_dim": W_DIM, "num_ws": NUM_WS,
                      "resolution": RESOLUTION, "channels": 3},
        "truncation": {"default": 1.0, "w_avg": {"source": "buffer", "name": "w_avg"}},
        "classifier": {"file": "classifier.pt", "num_logits": NUM_LOGITS},
        "attributes": [{k: v for k, v in a.items() if k != "base_rate"} for a in ATTRIBUTES],
    }
    with open(os.path.join(args.out, "lace.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "base_rates.json"), "w") as f:
        json.dump({"samples": args.samples, "rates": rates}, f, indent=2)
        f.write("\n")
    print(json.dumps(rates, indent=2))


if __name__ == "__main__":
    main()
