"""Balanced rendering (every attribute independent and even, for training a judge that reads rare
combinations) and scripts/faces/judge_on_real.py's reading of real faces per condition. Runs under pytest
or directly."""
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import evaluate  # noqa: E402
import judge_on_real  # noqa: E402
import render  # noqa: E402

N = 4000


@pytest.fixture(scope="module")
def balanced():
    return render.render(N, seed=11, balanced=True)


def test_balanced_attributes_are_even_and_independent(balanced):
    _, a = balanced
    for b in render.BINARY:
        assert abs(a[b].mean() - 0.5) < 0.03, b
    grey = render.HAIR_CLASSES.index("grey")
    rates = np.bincount(a["hair"], minlength=5) / N  # grey only at age 0.5 and over, as in the data
    assert np.allclose(rates[:grey], 0.225, atol=0.025) and abs(rates[grey] - 0.1) < 0.02
    assert a["age"][a["hair"] == grey].min() >= 0.5
    old = a["age"] >= 0.5
    assert abs((a["hair"][old] == grey).mean() - 0.2) < 0.03
    assert abs(a["age"].mean() - 0.5) < 0.02 and a["age"].min() < 0.01 and a["age"].max() > 0.99
    assert abs(a["yaw"].mean()) < 0.04 and a["yaw"].min() < -0.99 and a["yaw"].max() > 0.99
    # The data ties beards and glasses to age and grey hair to age; balanced data does not.
    assert abs(np.corrcoef(a["age"], a["beard"])[0, 1]) < 0.05
    assert abs(np.corrcoef(a["age"], a["glasses"])[0, 1]) < 0.05
    # Rare in the data (data card), common here.
    assert abs(evaluate.satisfied("hat AND glasses AND beard", a, 0.0).mean() - 1 / 8) < 0.02
    assert abs(evaluate.satisfied("beard AND hat AND hair=red", a, 0.0).mean() - 0.25 * 0.225) < 0.015
    assert abs(evaluate.satisfied("hair=red AND age=0.8", a, 0.1).mean() - 0.2 * 0.225) < 0.015


def test_balanced_is_its_own_stream_and_natural_is_unchanged(balanced):
    images, a = balanced
    natural, na = render.render(200, seed=11)
    again, _ = render.render(200, seed=11, balanced=False)
    assert np.array_equal(natural, again)
    assert not np.array_equal(natural, images[:200])
    part, pa = render.render(300, seed=11, start=1700, balanced=True)  # image i depends on (seed, i) only
    assert np.array_equal(part, images[1700:2000]) and np.array_equal(pa["age"], a["age"][1700:2000])
    many, _ = render.render_many(2 * render.BLOCK + 500, seed=11, workers=2, balanced=True)  # forked workers
    assert np.array_equal(many, images[:len(many)])
    assert not np.array_equal(na["age"], a["age"][:200])


class Replay(torch.nn.Module):
    """Returns fixed outputs in order, batch after batch: a classifier whose readings the test chooses."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs, self.at = outputs, 0

    def forward(self, x):
        out = self.outputs[self.at:self.at + len(x)]
        self.at += len(x)
        return out


def outputs_for(attrs):
    """The outputs a perfect classifier would give: logits +-5, the hair class's logit 5, values as they are."""
    labels = torch.from_numpy(render.label_matrix(attrs))
    nb, nh = len(render.BINARY), len(render.HAIR_CLASSES)
    return torch.cat([10 * labels[:, :nb + nh] - 5, labels[:, nb + nh:]], 1)


def test_a_perfect_reader_passes_every_condition_and_a_hat_blind_one_none_with_a_hat(balanced):
    images, a = balanced
    perfect = outputs_for(a)
    blind = perfect.clone()
    blind[:, render.BINARY.index("hat")] = -5.0
    rows, agreement = judge_on_real.judge({"perfect": Replay(perfect), "blind": Replay(blind)}, (images, a), 0.15)
    assert set(rows) == {expr for expr, _, _ in evaluate.CONDITIONS}
    for expr, row in rows.items():
        assert row["real"] == int(evaluate.satisfied(expr, a, 0.03).sum())
        if row["real"] < 20:
            assert row["perfect"] is None and row["blind"] is None
            continue
        assert row["perfect"] == 1.0, expr
        if "hat" in expr and "NOT hat" not in expr and " OR " not in expr:
            assert row["blind"] == 0.0, expr
    assert rows["NOT hat"]["blind"] == 1.0
    # beard OR hat: the blind reader passes exactly the real images with a beard
    hat_or_beard = evaluate.satisfied("beard OR hat", a, 0.03)
    assert rows["beard OR hat"]["blind"] == pytest.approx(a["beard"][hat_or_beard].mean())
    assert agreement["perfect"]["hat"] == 1.0 and agreement["perfect"]["age"]["mae"] == 0.0
    assert agreement["blind"]["hat"] == pytest.approx(1.0 - a["hat"].mean())


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
