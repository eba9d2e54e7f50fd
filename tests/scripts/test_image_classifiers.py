"""scripts/faces/image_classifiers.py: every architecture scripts to TorchScript (as lace and the scripts load
them) and returns the 11 outputs; each can learn (it fits a small batch of rendered faces); and the roles
stay apart (each its own training slice, initialisation and architecture). Runs under pytest or directly."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import image_classifiers as ic  # noqa: E402
import render  # noqa: E402
import train_image_classifier as tic  # noqa: E402


@pytest.mark.parametrize("role", sorted(ic.ARCHITECTURES))
def test_scripts_and_returns_every_output(role):
    torch.manual_seed(0)
    model = torch.jit.script(ic.ARCHITECTURES[role]().eval())
    images, _ = render.render(5, seed=1)
    with torch.no_grad():
        out = model(ic.to_input(images))
    assert out.shape == (5, len(render.LABEL_COLUMNS)) and torch.isfinite(out).all()


@pytest.mark.parametrize("role", sorted(ic.ARCHITECTURES))
def test_learns_a_batch_of_faces(role):
    torch.manual_seed(0)
    images, attrs = render.render(32, seed=2)
    x, y = ic.to_input(images), torch.as_tensor(render.label_matrix(attrs))
    model = ic.ARCHITECTURES[role]()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    first = ic.loss(model(x), y).item()
    for _ in range(100):
        opt.zero_grad()
        ic.loss(model(x), y).backward()
        opt.step()
    assert ic.loss(model(x), y).item() < 0.7 * first


def test_the_roles_stay_apart():
    roles = sorted(ic.ARCHITECTURES)
    assert len({tic.DATA_SEEDS[r] for r in roles} | {tic.TEST_SEED}) == len(roles) + 1
    assert len({tic.INIT_SEEDS[r] for r in roles}) == len(roles)
    assert len({ic.ARCHITECTURES[r] for r in roles}) == len(roles)


def test_blur_is_a_gaussian_of_each_images_own_sigma():
    x = torch.zeros(3, 3, 21, 21)
    x[:, :, 10, 10] = 1.0                                    # an impulse in every channel of three images
    y = tic.blur(x, torch.tensor([0.0, 0.9, 1.2]))
    assert torch.equal(y[0], x[0])                           # sigma 0: the image as it was
    for i, s in ((1, 0.9), (2, 1.2)):
        g = torch.exp(-torch.arange(-4, 5.0) ** 2 / (2 * s * s))
        g = g / g.sum()                                      # the normalised 9-tap kernel, by hand
        expected = torch.zeros(21, 21)
        expected[6:15, 6:15] = torch.outer(g, g)             # separable: the impulse response is g g^T
        assert torch.allclose(y[i, 1], expected, atol=1e-6)
        assert abs(y[i].sum().item() - 3.0) < 1e-5          # the impulse's mass stays (away from the edges)
    assert y[2, 0, 10, 10] < y[1, 0, 10, 10] < 1.0           # a wider sigma spreads it further


def test_augment_blurs_only_when_asked():
    x = ic.to_input(render.render(8, seed=1)[0])
    plain = tic.augment(x, torch.Generator().manual_seed(0))
    again = tic.augment(x, torch.Generator().manual_seed(0), 0.0)
    assert torch.equal(plain, again)                        # max_blur 0 draws the same shifts and noise as before
    blurred = tic.augment(x, torch.Generator().manual_seed(0), 1.2)
    assert not torch.allclose(blurred, plain)


@pytest.mark.parametrize("judges", [False, True])
def test_a_pair_saves_as_their_mean_or_both_readings(tmp_path, judges):
    """save_mean writes the edit verifier: the mean of two networks' outputs, or both side by side ([B, 2, K],
    lace.json "judges": 2), each as the network alone reads it."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
    paths = []
    for i, role in enumerate(("checker", "labeler")):
        torch.manual_seed(i)
        paths.append(str(tmp_path / f"{role}.pt"))
        torch.jit.script(ic.ARCHITECTURES[role]().eval()).save(paths[-1])
    ic.save_mean(paths[0], paths[1], str(tmp_path / "pair.pt"), judges=judges)
    pair = torch.jit.load(str(tmp_path / "pair.pt"))
    x = ic.to_input(render.render(3, seed=4)[0])
    with torch.no_grad():
        a, b = (torch.jit.load(p)(x) for p in paths)
        out = pair(x)
    assert not torch.allclose(a, b)
    expected = torch.stack([a, b], 1) if judges else (a + b) / 2
    assert out.shape == expected.shape and torch.allclose(out, expected, atol=1e-6)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
