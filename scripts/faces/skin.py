#!/usr/bin/env python3
"""Skin tone as an attribute of a face bundle, so that `lace edit` keeps it like any attribute no step names.

  /usr/bin/python3 scripts/faces/skin.py --bundle models/faces [-n 20000] [--threads 2]

Why: the face generator ties skin tone to attributes the data draws independently of it (session 32: 0.39 of
its samples with glasses are dark, 0.23 of those without), so a `glasses` edit darkened most faces and the
darker faces then kept their smiles through `NOT smile` (docs/faces-edit-evaluation.md, "Session 32"). Skin
tone is none of the renderer's attributes and no judge reads it, so this script adds one:

1. a skin-tone reader on images (SkinReader: rendered faces and their true tones, render.skin_tones; about a
   minute), written as BUNDLE/skin_reader.pt with its held-out figures in skin_reader.json;
2. a regressor on w (LatentSkin), fitted to the reader's tone of the generator's image of -n latents drawn as
   make_pairs.py draws them (z, truncation psi uniform in [0.5, 1]);
3. the bundle's classifier and its image judges (lace.json's verifier and editing.verifier) each gain a last
   column, the regressor's or the reader's tone (WithColumn), written beside them as NAME+skin.pt
   (classifier+skin.pt, checker+skin.pt, edit_verifier+skin.pt); lace.json gains the continuous attribute
   `skin` (range SKIN_RANGE) on that column with the w+ layers that carry it (measure_layers.py) and names the
   new files; the old classifier and edit verifier are then removed (the wrapped ones hold them whole; the
   checker, a judge with a card of its own, stays).

lace then samples `skin=0.4` like `age=0.4`, and its edit keep term holds the start's skin tone.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import image_classifiers as ic  # noqa: E402
import make_pairs  # noqa: E402
import measure_layers  # noqa: E402
import render  # noqa: E402

NAME = "skin"
SKIN_RANGE = (0.3, 0.85)  # the renderer's tones: 0.293..0.859 over 100,000 faces, 1st-99th percentile 0.308..0.827
SIGMA = 0.05  # as the bundle's other continuous attributes (build_bundle.CONTINUOUS_SIGMA)
READER_FILE, LATENT_CARD = "skin_reader.pt", "skin_reader.json"


class SkinReader(nn.Module):
    """Image [B, 3, 64, 64] in [-1, 1] -> skin tone [B]: three strided convolutions and one 8x8 readout."""
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),
                                 nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 1, 8))

    def forward(self, x):
        return self.net(x).flatten()


def train_skin_reader(n=20_000, epochs=4, seed=7000, test_seed=8000, n_test=3000):
    """A SkinReader fitted to n rendered faces (render seed `seed`) and their true tones; returns it and its
    held-out figures (another render seed): mean absolute error, correlation, and agreement on dark/light."""
    torch.manual_seed(0)
    images, tones = render.render(n, seed=seed)[0], torch.from_numpy(render.skin_tones(n, seed=seed))
    reader = SkinReader()
    opt = torch.optim.Adam(reader.parameters(), 2e-3)
    steps = epochs * (n // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    order_rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = order_rng.permutation(n)
        for i in range(0, n - 127, 128):
            idx = order[i:i + 128]
            loss = F.mse_loss(reader(ic.to_input(images[idx])), tones[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    test_images, test_tones = render.render(n_test, seed=test_seed)[0], render.skin_tones(n_test, seed=test_seed)
    read = read_tones(reader, test_images)
    dark = render.DARK_SKIN_BELOW
    return reader.eval(), {"mae": float(np.abs(read - test_tones).mean()),
                           "correlation": float(np.corrcoef(read, test_tones)[0, 1]),
                           "dark_agreement": float(((read < dark) == (test_tones < dark)).mean()),
                           "images": n, "epochs": epochs, "held_out": n_test}


@torch.no_grad()
def read_tones(reader, images, batch=500):
    """uint8 images [n, 64, 64, 3] -> skin tones [n] as the reader reads them."""
    reader.eval()
    return torch.cat([reader(ic.to_input(images[i:i + batch])) for i in range(0, len(images), batch)]).numpy()


class LatentSkin(nn.Module):
    """w [B, w_dim] -> skin tone [B]: an MLP like one attribute's of the latent classifier."""
    def __init__(self, w_dim, widths=(256, 128)):
        super().__init__()
        layers, d = [], w_dim
        for width in widths:
            layers += [nn.Linear(d, width), nn.LeakyReLU(0.2)]
            d = width
        self.net = nn.Sequential(*layers, nn.Linear(d, 1))

    def forward(self, w):
        return self.net(w).flatten()


class WithColumn(nn.Module):
    """A model's outputs [B, K] with one more column, another model's [B] reading of the same input."""
    def __init__(self, base, extra):
        super().__init__()
        self.base, self.extra = base, extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.base(x), self.extra(x).reshape(-1, 1)], 1)


@torch.no_grad()
def latent_tones(generator, reader, z_dim, num_ws, n, seed=0, batch=250):
    """n latents drawn as make_pairs.py draws them (make_pairs.draw_latents) and the reader's tone of each
    one's image: (w [n, w_dim], tones [n])."""
    z, psi = make_pairs.draw_latents(z_dim, n, seed, batch=batch)
    ws, tones = [], []
    for i in range(0, n, batch):
        w = make_pairs.truncated_w(generator, z[i:i + batch], psi[i:i + batch])
        ws.append(w)
        tones.append(reader(generator.synthesis(w.unsqueeze(1).repeat(1, num_ws, 1)).clamp(-1, 1)))
    return torch.cat(ws), torch.cat(tones)


def train_latent_skin(w, tones, epochs=40, lr=1e-3, held_out=0.1, seed=0):
    """A LatentSkin fitted to (w, tones), the last `held_out` share kept out; returns it and its held-out
    figures against the reader (mean absolute error, correlation)."""
    torch.manual_seed(seed)
    n_test = max(1, int(len(w) * held_out))
    w_train, t_train, w_test, t_test = w[:-n_test], tones[:-n_test], w[-n_test:], tones[-n_test:]
    model = LatentSkin(w.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(w_train)))
        for i in range(0, len(order), 256):
            idx = order[i:i + 256]
            loss = F.mse_loss(model(w_train[idx]), t_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        read = model(w_test).numpy()
    truth = t_test.numpy()
    return model, {"mae": float(np.abs(read - truth).mean()), "correlation": float(np.corrcoef(read, truth)[0, 1]),
                   "pairs": len(w), "held_out": n_test, "epochs": epochs}


def wrap_file(src, extra, dst):
    """Writes dst: the TorchScript model at src with `extra`'s reading as one more column."""
    wrapped = torch.jit.script(WithColumn(torch.jit.load(src).eval(), torch.jit.script(extra.eval())))
    with atomic_files.replacing(dst) as tmp:
        wrapped.save(tmp)


def add_skin(bundle, n=20_000, seed=0, reader_images=20_000, log=print):
    """Adds the `skin` attribute to the bundle folder (see the module's docstring): trains the reader, reads
    the tone of n latents' images, and installs both (install_skin); returns the card it writes."""
    manifest = read_manifest(bundle)
    t0 = time.time()
    reader, reader_figures = train_skin_reader(reader_images)
    log(f"skin reader: held-out MAE {reader_figures['mae']:.3f}, correlation {reader_figures['correlation']:.3f} "
        f"({time.time() - t0:.0f} s)")
    reader = torch.jit.script(reader)
    spec = manifest["generator"]
    generator = torch.jit.load(os.path.join(bundle, spec["file"])).eval()
    w, tones = latent_tones(generator, reader, spec["z_dim"], spec["num_ws"], n, seed)
    return install_skin(bundle, generator, reader, reader_figures, w, tones, log)


def read_manifest(bundle):
    """The bundle's lace.json, refused when it already has the attribute."""
    path = os.path.join(bundle, "lace.json")
    with open(path) as f:
        manifest = json.load(f)
    if any(a["name"] == NAME for a in manifest["attributes"]):
        raise SystemExit(f"{path} already has the attribute '{NAME}'")
    return manifest


def install_skin(bundle, generator, reader, reader_figures, w, tones, log=print):
    """Fits the regressor on w to (w, tones) (the reader's tones of those latents' images), measures the w+
    layers that carry skin on the bundle's generator (loaded), and writes the wrapped classifier and judges,
    the reader, its card and lace.json; returns the card (BUNDLE/skin_reader.json)."""
    manifest = read_manifest(bundle)
    t0 = time.time()
    spec = manifest["generator"]
    latent, latent_figures = train_latent_skin(torch.as_tensor(w), torch.as_tensor(tones))
    log(f"skin on w: held-out MAE {latent_figures['mae']:.3f}, correlation {latent_figures['correlation']:.3f} "
        f"against the reader ({time.time() - t0:.0f} s)")
    layers, carried = measure_layers.measure_layers(generator, None, spec["z_dim"], spec["num_ws"],
                                                    read_images=lambda images: {NAME: reader(images)})
    log(f"skin's w+ layers: {layers[NAME]} (carry {carried[NAME]})")

    # New files first, the manifest last, then the files it no longer names: until lace.json changes the
    # bundle reads as it did.
    with atomic_files.replacing(os.path.join(bundle, READER_FILE)) as tmp:
        reader.save(tmp)
    column = manifest["classifier"]["num_logits"]
    editing = manifest.get("editing", {}).get("verifier")
    # The wrapped classifier and edit verifier hold the old ones whole, so those files go once lace.json names
    # the new ones; the sampling verifier (the checker or the labeler, a judge with a card of its own) stays.
    retired = [manifest["classifier"]["file"]]
    if editing and editing["file"] != manifest.get("verifier", {}).get("file"):
        retired.append(editing["file"])
    for section, extra in ((manifest["classifier"], latent), (manifest.get("verifier"), reader), (editing, reader)):
        if section:
            base, ext = os.path.splitext(section["file"])
            wrap_file(os.path.join(bundle, section["file"]), extra, os.path.join(bundle, f"{base}+skin{ext}"))
            section["file"], section["num_logits"] = f"{base}+skin{ext}", column + 1
    manifest["attributes"].append({"name": NAME, "kind": "continuous", "range": list(SKIN_RANGE), "sigma": SIGMA,
                                   "layers": layers[NAME], "columns": [column]})
    card = {"reader": reader_figures, "latent": latent_figures, "layers": layers[NAME], "carried": carried[NAME],
            "column": column, "range": list(SKIN_RANGE)}
    atomic_files.write_json(os.path.join(bundle, LATENT_CARD), card)
    atomic_files.write_json(os.path.join(bundle, "lace.json"), manifest)
    for name in retired:
        os.remove(os.path.join(bundle, name))
    return card


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True, help="a lace bundle folder (lace.json, generator, classifier)")
    ap.add_argument("-n", type=int, default=20_000, help="latents the regressor on w is fitted to")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    card = add_skin(args.bundle, args.n, args.seed)
    print(f"added '{NAME}' to {args.bundle} as column {card['column']} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
