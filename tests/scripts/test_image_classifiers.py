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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
