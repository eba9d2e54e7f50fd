"""scripts/faces/invert.py: the inversion finds codes that G itself drew, and the labeler rates are counted
as by hand. Runs under pytest or directly (a few seconds)."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import invert  # noqa: E402
import render  # noqa: E402
import stylegan  # noqa: E402
import train_gan  # noqa: E402


def tiny_generator():
    torch.manual_seed(0)
    return stylegan.Generator(stylegan.Config.from_dict(train_gan.smoke_config().gan)).eval()


def test_inversion_in_w_moves_towards_the_code_that_drew_the_image():
    G = tiny_generator()
    with torch.no_grad():
        w_true = G.mapping(torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(3)))
        target = G.synthesis(w_true.unsqueeze(1).repeat(1, G.num_ws, 1))
    code, drawn, losses = invert.invert(G, target, steps=150, space="w", lr=0.05)
    assert code.shape == w_true.shape and drawn.shape == target.shape
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    w_avg = G.mapping(torch.randn(5000, G.z_dim, generator=torch.Generator().manual_seed(0))).mean(0)
    start = (w_avg - w_true).norm(dim=1)
    assert ((code - w_true).norm(dim=1) < start).all()


def test_wplus_codes_have_one_w_per_layer():
    G = tiny_generator()
    target = torch.zeros(2, 3, 64, 64)
    code, _, losses = invert.invert(G, target, steps=3, space="wplus")
    assert code.shape == (2, G.num_ws, G.w_dim) and len(losses) == 3


def test_binary_rates_by_hand():
    n = 4
    outputs = torch.full((n, len(render.LABEL_COLUMNS)), -1.0)
    g = render.BINARY.index("glasses")
    outputs[[0, 2], g] = 1.0                      # read on images 0 and 2
    truth = {name: np.zeros(n, np.uint8) for name in render.BINARY}
    truth["glasses"] = np.array([1, 1, 0, 0], np.uint8)
    r = invert.binary_rates(outputs, truth)["glasses"]
    assert r == {"real_positives": 2, "read_on_positives": 0.5, "read_on_negatives": 0.5}
    assert invert.binary_rates(outputs, truth)["smile"]["read_on_positives"] is None


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
