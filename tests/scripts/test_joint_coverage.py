"""scripts/faces/joint_coverage.py: the skin-tone split reads the cheek patch only; the rates are the shares of
hand-built images a stand-in evaluator reads; a checkpoint and its exported generator.pt draw the same samples.
Runs under pytest or directly (a few seconds)."""
import os
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import image_classifiers as ic  # noqa: E402
import render  # noqa: E402
import joint_coverage as jc  # noqa: E402
import train_gan  # noqa: E402
from export_generator import export_generator  # noqa: E402

torch.set_num_threads(1)


def faces(cheeks, mouths):
    """Grey images whose cheek patch has the given brightness and whose row 45 (a stand-in mouth) is white
    (1: smiling) or black (0)."""
    images = np.full((len(cheeks), 64, 64, 3), 128, np.uint8)
    for i, (c, m) in enumerate(zip(cheeks, mouths)):
        images[i, 30:40, 24:40] = c
        images[i, 45] = 255 * m
    return images


class StandIn(torch.nn.Module):
    """An 'evaluator' reading smile from row 45 and beard from column 0's brightness; nothing else set."""
    def forward(self, x):
        out = torch.full((len(x), len(render.LABEL_COLUMNS)), -5.0)
        out[:, 0] = 10 * x[:, :, 45].mean((1, 2))            # smile: white row -> +10, black -> -10
        out[:, 2] = 10 * x[:, :, :, 0].mean((1, 2))          # beard: a white left column
        out[:, 4] = 5.0                                      # hair: black
        return out


def test_dark_faces_read_only_the_cheek_patch():
    images = faces([100, 109, 110, 200], [0, 0, 0, 0])
    images[:, :30] = 0                                       # anything outside the patch does not count
    assert jc.dark_faces(images).tolist() == [True, True, False, False]


def test_rates_are_the_shares_of_the_images_read():
    images = faces([60, 60, 60, 200, 200], [0, 1, 0, 0, 1])
    images[0, :, 0] = 255                                    # image 0: a dark face, a beard, no smile
    r = jc.rates(StandIn(), images)
    # by hand: dark = {0,1,2}; NOT smile = {0,2,3}; beard = {0}
    assert r["dark"] == pytest.approx(3 / 5) and r["NOT smile"] == pytest.approx(3 / 5)
    assert r["dark AND NOT smile"] == pytest.approx(2 / 5) and r["light AND NOT smile"] == pytest.approx(1 / 5)
    assert r["dark AND beard AND NOT smile"] == pytest.approx(1 / 5) and r["light AND beard AND NOT smile"] == 0
    assert r["NOT smile among dark"] == pytest.approx(2 / 3) and r["NOT smile among light"] == pytest.approx(1 / 2)


def test_a_checkpoint_and_its_export_draw_the_same_samples():
    torch.manual_seed(0)
    trainer = train_gan.Trainer(train_gan.smoke_config())
    with tempfile.TemporaryDirectory() as tmp:
        ck, exported = os.path.join(tmp, "checkpoint.pt"), os.path.join(tmp, "generator.pt")
        trainer.save(ck)
        export_generator(ck, exported, w_avg_samples=100)
        a, b = jc.generated(ck, 5, seed=3), jc.generated(exported, 5, seed=3)
    assert a.shape == (5, 64, 64, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # float rounding at most
    assert a.std() > 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
