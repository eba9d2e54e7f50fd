#!/usr/bin/env python3
"""CI smoke test of train_latent_classifier.py: pairs labelled by the tiny bundle's own classifier,
a new classifier trained on them and installed into a copy of the bundle, which lace must then load.
Both architectures: the shared MLP on hard labels (decisions, class indices) into WORKDIR/bundle, and one
MLP per attribute on soft labels (probabilities) into WORKDIR/bundle-per-attribute, there as an ensemble of
two (--members 2) whose logits must be the mean of its members'.

  /usr/bin/python3 scripts/smoke_latent_classifier.py WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
work = sys.argv[1]
bundle = os.path.join(work, "bundle")
shutil.copytree(os.path.join(here, "..", "models", "tiny"), bundle)
shutil.copytree(bundle, bundle + "-per-attribute")
gen = torch.jit.load(os.path.join(bundle, "generator.pt"))
clf = torch.jit.load(os.path.join(bundle, "classifier.pt"))
with torch.no_grad():
    w = gen.mapping(torch.randn(4000, 8, generator=torch.Generator().manual_seed(0)))
    logits = clf(w)
np.savez(os.path.join(work, "pairs.npz"), w=w.numpy(), smile=(logits[:, 0] > 0).numpy().astype(np.uint8),
         hair=logits[:, 2:5].argmax(1).numpy(), age=logits[:, 5].numpy())
np.savez(os.path.join(work, "soft.npz"), w=w.numpy(), smile=torch.sigmoid(logits[:, 0]).numpy(),
         hair=torch.softmax(logits[:, 2:5], 1).numpy(), age=logits[:, 5].numpy())
spec = [{"name": "smile", "kind": "binary"},
        {"name": "hair", "kind": "categorical", "classes": ["black", "blonde", "red"]},
        {"name": "age", "kind": "continuous", "range": [0, 1], "sigma": 0.1, "layers": [1, 2]}]
with open(os.path.join(work, "attrs.json"), "w") as f:
    json.dump(spec, f)


def train(bundle, pairs, *extra):
    subprocess.run([sys.executable, os.path.join(here, "train_latent_classifier.py"), "--pairs",
                    os.path.join(work, pairs), "--attributes", os.path.join(work, "attrs.json"), "--bundle", bundle,
                    "--epochs", "30", "--lr", "1e-3", *extra], check=True, stdout=subprocess.DEVNULL)
    card = json.load(open(os.path.join(bundle, "classifier.json")))
    agreement = card["agreement"]
    print(card["architecture"], json.dumps(agreement))
    # The teacher is a small network of the same inputs: the student must learn it well.
    assert agreement["smile"] > 0.9 and agreement["hair"] > 0.85 and agreement["age"]["within_sigma"] > 0.8, agreement
    manifest = json.load(open(os.path.join(bundle, "lace.json")))
    assert [a["columns"] for a in manifest["attributes"]] == [[0], [1, 2, 3], [4]]
    assert manifest["classifier"]["num_logits"] == 5
    return torch.jit.load(os.path.join(bundle, "classifier.pt"))


train(bundle, "pairs.npz")
per_attribute = train(bundle + "-per-attribute", "soft.npz", "--architecture", "per-attribute", "--widths", "64,32",
                      "--members", "2")
members = [getattr(per_attribute.members, str(k)) for k in range(2)]
assert not hasattr(per_attribute.members, "2")
with torch.no_grad():
    outputs = [m(w[:64]) for m in members]
    assert torch.allclose(per_attribute(w[:64]), (outputs[0] + outputs[1]) / 2, atol=1e-6)
    assert (outputs[0] - outputs[1]).abs().max() > 1e-3  # two seeds, two networks
per_attribute = members[0]
# Each attribute's columns come from its own network only: silencing hair's network moves hair's columns
# (1-3) and nothing else.
with torch.no_grad():
    before = per_attribute(w[:64])
    for p in getattr(per_attribute.nets, "1").parameters():
        p.zero_()
    after = per_attribute(w[:64])
moved = (after - before).abs().amax(0)
assert moved[[0, 4]].max() == 0 and moved[1:4].min() > 0, moved
