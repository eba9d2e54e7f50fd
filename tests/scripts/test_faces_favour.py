"""train_gan.py's --favour: real images drawn with weights by their true attributes. The rules parse or are
refused with the rule named; the pool draws favoured images at the rate the weights give; a checkpoint keeps
the rules. Runs under pytest or directly (a few seconds)."""
import os
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import train_gan  # noqa: E402

torch.set_num_threads(1)


def test_rules_parse():
    assert train_gan.parse_favour("smile=0:2, hat=1:1.5") == [((("smile", 0),), 2.0), ((("hat", 1),), 1.5)]
    assert train_gan.parse_favour("hair=3:4") == [((("hair", 3),), 4.0)]
    assert train_gan.parse_favour("dark=1&smile=0:3") == [((("dark", 1), ("smile", 0)), 3.0)]
    assert train_gan.parse_favour("") == []


@pytest.mark.parametrize("rule, says", [("smile:2", "ATTRIBUTE=VALUE"), ("smile=x:2", "ATTRIBUTE=VALUE"),
                                        ("smile=0&:2", "ATTRIBUTE=VALUE"), ("dark=1&age=1:2", "neither"),
                                        ("age=1:2", "neither a discrete attribute"), ("mood=1:2", "neither"),
                                        ("dark=2:2", "0 or 1"),
                                        ("smile=0:0", "positive"), ("smile=0:-1", "positive")])
def test_bad_rules_are_named(rule, says):
    with pytest.raises(ValueError, match=says) as e:
        train_gan.parse_favour("hat=1:2," + rule)
    assert rule in str(e.value)


def test_weights_multiply_where_rules_overlap():
    attrs = {"smile": np.array([0, 1, 0, 1]), "hat": np.array([1, 1, 0, 0])}
    w = train_gan.favour_weights(attrs, "smile=0:2,hat=1:1.5")
    # unnormalised 3, 1.5, 2, 1 (hand-computed) over their sum 7.5
    assert np.allclose(w, [3 / 7.5, 1.5 / 7.5, 2 / 7.5, 1 / 7.5])
    assert train_gan.favour_weights(attrs, "") is None
    tones = np.array([0.3, 0.7, 0.7, 0.4])                    # dark: images 0 and 3
    w = train_gan.favour_weights(attrs, "dark=1:3,smile=0:2", lambda: tones)
    assert np.allclose(w, np.array([6, 1, 2, 3]) / 12)      # by hand: 3*2, 1, 2, 3
    w = train_gan.favour_weights(attrs, "dark=1&smile=0:4", lambda: tones)
    assert np.allclose(w, np.array([4, 1, 1, 1]) / 7)       # only image 0 is dark and not smiling


def test_the_dark_rule_reads_the_pools_skin_tones():
    pool = train_gan.Pool(600, seed=5, workers=1, favour="dark=1:4")
    dark = train_gan.render.skin_tones(600, seed=5) < train_gan.render.DARK_SKIN_BELOW
    assert 0.15 < dark.mean() < 0.45
    assert np.allclose(pool.weights[dark], pool.weights[dark][0]) and np.allclose(pool.weights[dark] / 4, pool.weights[~dark][0])


def test_pool_draws_favoured_images_at_the_weighted_rate():
    pool = train_gan.Pool(600, seed=5, workers=1, favour="smile=0:3")
    q = (pool.attrs["smile"] == 0).mean()
    expected = 3 * q / (3 * q + (1 - q))
    rng = np.random.default_rng(0)
    drawn = np.concatenate([rng.choice(len(pool.images), 64, p=pool.weights) for _ in range(300)])
    share = (pool.attrs["smile"][drawn] == 0).mean()
    assert abs(share - expected) < 0.02, (share, expected)
    assert abs(share - q) > 0.1  # and not the data's own rate
    assert pool.batch(rng, 8).shape == (8, 3, 64, 64)


def test_a_checkpoint_keeps_the_rules():
    tc = train_gan.smoke_config()
    tc.favour = "beard=1:2"
    trainer = train_gan.Trainer(tc)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "checkpoint.pt")
        trainer.save(path)
        assert train_gan.Trainer.load(path).tc.favour == "beard=1:2"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
