"""scripts/faces/refit_mapping.py: the w-space GAN moves a mapping network's output onto a target distribution
with a minority mode, and the code reader learns to read codes back from images. Runs under pytest or
directly (about half a minute)."""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before torch: its BLAS pool would fight torch's

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import refit_mapping  # noqa: E402

torch.set_num_threads(1)  # tiny models: a second thread only waits (and fights a parallel test)


def two_modes(n, minority=0.25, dim=8, seed=0):
    """Codes in two clusters along the first axis (at -2 and +2, std 0.3): the +2 one holds `minority`."""
    g = torch.Generator().manual_seed(seed)
    codes = 0.3 * torch.randn(n, dim, generator=g)
    side = torch.rand(n, generator=g) < minority
    codes[:, 0] += torch.where(side, 2.0, -2.0)
    return codes


def test_fit_mapping_covers_the_minority_mode():
    torch.manual_seed(0)
    dim = 8
    mapping = nn.Sequential(nn.Linear(dim, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2),
                            nn.Linear(64, dim))
    with torch.no_grad():  # start collapsed on the majority mode, as a GAN that dropped glasses
        mapping[-1].weight.mul_(0.1)
        mapping[-1].bias.zero_()
        mapping[-1].bias[0] = -2.0
    codes = two_modes(20000)
    history = refit_mapping.fit_mapping(mapping, codes, dim, steps=1500, batch=256, lr=0.002, critic_width=128)
    with torch.no_grad():
        w = mapping(torch.randn(20000, dim, generator=torch.Generator().manual_seed(1)))
    share = float((w[:, 0] > 0).float().mean())
    assert 0.15 < share < 0.35, share                       # the minority mode is drawn at about its rate
    assert history[-1]["mmd"] < 0.2 * history[0]["mmd"], (history[0], history[-1])
    assert abs(float(w[:, 1:].std()) - 0.3) < 0.1           # and the spread within modes is kept


def test_w_mmd_is_zero_for_one_set_and_grows_with_a_shift():
    a = two_modes(500, seed=1)
    mmd = lambda x, y: float(refit_mapping.w_mmd(x, y))  # noqa: E731
    assert abs(mmd(a, a)) < 1e-6
    assert mmd(a, a + 1.0) > mmd(a, a + 0.2) > 0


def test_code_reader_reads_codes_from_images():
    """Images whose colour bands encode a 4-d code: the reader must recover held-out codes (R^2 near 1)."""
    g = torch.Generator().manual_seed(0)
    w = torch.rand(1200, 4, generator=g) * 2 - 1
    images = torch.zeros(1200, 8, 8, 3, dtype=torch.uint8)
    for k in range(4):  # band k (two rows) has brightness (w_k + 1) / 2
        images[:, 2 * k:2 * k + 2, :, :] = ((w[:, k] + 1) * 127.5).round().to(torch.uint8)[:, None, None, None]
    reader, r2 = refit_mapping.train_reader(w, images, steps=400, batch=32, held_out=200)
    assert r2 > 0.9, r2
    pred = refit_mapping.read_codes(reader, images[:5].numpy())
    assert torch.allclose(pred, w[:5], atol=0.25), (pred, w[:5])


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
