"""scripts/faces/joint_coverage.py: render.skin_tones follows render's own stream (the skin-tone reader it
uses is tested in test_skin.py); the rates are the shares of hand-built images a stand-in evaluator reads;
a checkpoint and its exported generator.pt draw the same samples. Runs under pytest or directly (~20 s)."""
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


def faces(mouths):
    """Grey images whose row 45 (a stand-in mouth) is white (1: smiling) or black (0)."""
    images = np.full((len(mouths), 64, 64, 3), 128, np.uint8)
    for i, m in enumerate(mouths):
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


def test_skin_tones_follow_the_renderers_stream():
    images, _ = render.render(6, seed=4, start=997)          # across a block boundary
    tones = render.skin_tones(6, seed=4, start=997)
    assert tones.shape == (6,) and ((tones > 0.2) & (tones < 1.0)).all()
    neck = images[:, 52:56, 29:35].reshape(6, -1).mean(1)   # the neck is drawn in the skin colour
    assert np.corrcoef(neck, tones)[0, 1] > 0.6
    assert np.allclose(tones[3:], render.skin_tones(3, seed=4, start=1000))


def test_rates_are_the_shares_of_the_images_read():
    images = faces([0, 1, 0, 0, 1])
    images[0, :, 0] = 255                                    # image 0: a beard, no smile
    dark = np.array([True, True, True, False, False])
    r = jc.rates(ic.predictions(StandIn()(ic.to_input(images))), dark)
    # by hand: dark = {0,1,2}; NOT smile = {0,2,3}; beard = {0}
    assert r["dark"] == pytest.approx(3 / 5) and r["NOT smile"] == pytest.approx(3 / 5)
    assert r["dark AND NOT smile"] == pytest.approx(2 / 5) and r["light AND NOT smile"] == pytest.approx(1 / 5)
    assert r["dark AND beard AND NOT smile"] == pytest.approx(1 / 5) and r["light AND beard AND NOT smile"] == 0
    assert r["NOT smile among dark"] == pytest.approx(2 / 3) and r["NOT smile among light"] == pytest.approx(1 / 2)
    assert r["dark among smile"] == pytest.approx(1 / 2) and r["dark among NOT smile"] == pytest.approx(2 / 3)
    assert r["dark among NOT glasses"] == pytest.approx(3 / 5) and np.isnan(r["dark among glasses"])


def test_agreement_counts_equal_labels_and_mean_gaps():
    p = {"smile": np.array([1, 0, 1, 1]), "glasses": np.array([0, 0, 0, 0]), "beard": np.array([1, 1, 0, 0]),
         "hat": np.array([0, 1, 0, 1]), "hair": np.array([2, 2, 4, 0]), "age": np.array([0.1, 0.5, 0.9, 0.3]),
         "yaw": np.array([-0.6, 0.0, 0.2, 0.4])}
    q = {"smile": np.array([1, 1, 1, 0]), "glasses": np.array([0, 0, 0, 0]), "beard": np.array([0, 0, 1, 1]),
         "hat": np.array([0, 1, 1, 1]), "hair": np.array([2, 1, 4, 0]), "age": np.array([0.1, 0.3, 0.9, 0.7]),
         "yaw": np.array([-0.3, 0.0, -0.2, 0.4])}
    a = ic.agreement(p, q)
    assert a["smile"] == pytest.approx(0.5) and a["glasses"] == 1 and a["beard"] == 0
    assert a["hat"] == pytest.approx(0.75) and a["hair"] == pytest.approx(0.75)
    assert a["age |diff|"] == pytest.approx(0.15) and a["yaw |diff|"] == pytest.approx(0.175)
    assert ic.agreement(p, p) == {**{k: 1.0 for k in ("smile", "glasses", "beard", "hat", "hair")},
                                  "age |diff|": 0.0, "yaw |diff|": 0.0}
    # by hand: shares (0.5 + 1 + 0 + 0.75 + 0.75) / 5 = 0.6, gaps (0.15 + 0.175) / 2 = 0.1625
    assert ic.agreement_score(a) == pytest.approx(0.4375) and ic.agreement_score(ic.agreement(p, p)) == 1.0


def test_features_feed_the_frechet_distance():
    class Pooled(StandIn):
        def features(self, x):                               # per-channel means: colour moves them
            return x.mean((2, 3))
    images = render.render(64, seed=2)[0]
    a = jc.score(Pooled(), images)[1]
    assert a.shape == (64, 3) and a.dtype == np.float64
    assert jc.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shifted = jc.score(Pooled(), np.clip(images.astype(int) + 40, 0, 255).astype(np.uint8))[1]
    assert jc.frechet_distance(shifted, a) > 0.05


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
