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
import train_smile_patches as tsp  # noqa: E402


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
    assert len({tic.DATA_SEEDS[r] for r in roles} | {tic.TEST_SEED, tsp.DATA_SEED}) == len(roles) + 2
    assert len({tic.INIT_SEEDS[r] for r in roles} | {tsp.INIT_SEED}) == len(roles) + 1
    assert len({ic.ARCHITECTURES[r] for r in roles} | {ic.SmilePatches}) == len(roles) + 1


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


def test_a_panel_of_judges_keeps_each_reading_in_order(tmp_path):
    """save_judges writes a panel ([B, J, K], lace.json "judges": J): judge j's slice is what network j alone reads,
    in the order given (a panel that sorted or averaged its members would fail); one network is no panel."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
    paths = []
    for i, role in enumerate(("reviewer", "checker", "labeler")):
        torch.manual_seed(10 + i)
        paths.append(str(tmp_path / f"{role}.pt"))
        torch.jit.script(ic.ARCHITECTURES[role]().eval()).save(paths[-1])
    ic.save_judges(paths, str(tmp_path / "panel.pt"))
    x = ic.to_input(render.render(3, seed=4)[0])
    with torch.no_grad():
        alone = [torch.jit.load(p)(x) for p in paths]
        out = torch.jit.load(str(tmp_path / "panel.pt"))(x)
    assert out.shape == (3, 3, len(render.LABEL_COLUMNS))
    for j, reading in enumerate(alone):
        assert torch.allclose(out[:, j], reading, atol=1e-6)
    with pytest.raises(ValueError):
        ic.save_judges(paths[:1], str(tmp_path / "one.pt"))
    assert not os.path.exists(tmp_path / "one.pt")


class FixedReading(torch.nn.Module):
    """A judge that reads every image as the same row of outputs."""

    def __init__(self, row):
        super().__init__()
        self.register_buffer("row", torch.tensor(row))

    def forward(self, x):
        return self.row.expand(x.shape[0], -1)


def test_a_panel_measured_by_its_first_judge_takes_only_the_others_votes(tmp_path):
    """JudgesMeasuredByFirst: every judge's own yes/no and hair columns, the first judge's continuous columns in
    every slot; the first may carry one column more (skin.py's), the others' continuous columns are never read."""
    c = ic.NUM_BINARY + ic.NUM_HAIR
    first = [float(k) for k in range(c)] + [0.2, -0.6, 0.5]          # age 0.2, yaw -0.6, skin 0.5
    second = [float(-k) for k in range(c)] + [0.9, 0.7]              # its age and yaw must not show
    paths = []
    for i, row in enumerate((first, second)):
        paths.append(str(tmp_path / f"judge{i}.pt"))
        torch.jit.script(FixedReading(row)).save(paths[-1])
    ic.save_judges(paths, str(tmp_path / "panel.pt"), measured_by_first=True)
    with torch.no_grad():
        out = torch.jit.load(str(tmp_path / "panel.pt"))(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 2, c + 3)
    assert out[0, 0].tolist() == pytest.approx(first)
    assert out[1, 1].tolist() == pytest.approx(second[:c] + [0.2, -0.6, 0.5])


def test_the_smile_patch_judge_reads_its_most_smile_like_patch():
    torch.manual_seed(0)
    model = torch.jit.script(ic.SmilePatches().eval())
    x = ic.to_input(render.render(4, seed=1)[0])
    with torch.no_grad():
        patches, out = model.patch_logits(x), model(x)
    assert patches.shape == (4, 1, 16, 16) and out.shape == (4,)
    assert torch.equal(out, patches.flatten(1).amax(1))


def test_the_smile_patch_judge_sees_no_further_than_its_receptive_field():
    """A pixel changed near a corner or the middle changes exactly the patches whose receptive field holds it: no
    output reads the whole face. Patch r reads input rows 4r - 13 .. 4r + 14 (by hand: the 1x1 head,
    two 3x3 convolutions at stride 4, one at 2 with stride 2, one at 2, and the 4x4 stem of stride 2, padding 1 each)."""
    torch.manual_seed(0)
    model = ic.SmilePatches().eval()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    field = ic.SmilePatches.RECEPTIVE_FIELD

    def reads(r, pixel):
        return 4 * r - 13 <= pixel < 4 * r - 13 + field

    for row, col in ((0, 0), (63, 63), (3, 30), (30, 3), (33, 46)):
        y = x.clone()
        y[0, :, row, col] += 1.5
        with torch.no_grad():
            changed = (model.patch_logits(y) != model.patch_logits(x))[0, 0].nonzero().tolist()
        expected = [[r, c] for r in range(16) for c in range(16) if reads(r, row) and reads(c, col)]
        assert changed == expected


def test_the_smile_patch_judge_learns_a_batch_of_faces():
    torch.manual_seed(0)
    images, attrs = render.render(32, seed=2)
    x, y = ic.to_input(images), torch.as_tensor(attrs["smile"]).float()
    model = ic.SmilePatches()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    first = bce(model(x), y).item()
    for _ in range(60):
        opt.zero_grad()
        bce(model(x), y).backward()
        opt.step()
    assert bce(model(x), y).item() < 0.5 * first


def test_a_smile_patch_judge_joins_the_means_smile_column_alone(tmp_path):
    """save_mean(..., smile_path=S): column 0 is two thirds of the two networks' mean smile logit and a third of S's,
    the other columns the two networks' mean; with judges=True it refuses (no mean to join)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
    paths = []
    for i, (name, architecture) in enumerate((("checker", ic.Checker), ("labeler", ic.Labeler),
                                              ("smile_patches", ic.SmilePatches))):
        torch.manual_seed(i)
        paths.append(str(tmp_path / f"{name}.pt"))
        torch.jit.script(architecture().eval()).save(paths[-1])
    ic.save_mean(paths[0], paths[1], str(tmp_path / "verifier.pt"), smile_path=paths[2])
    verifier = torch.jit.load(str(tmp_path / "verifier.pt"))
    x = ic.to_input(render.render(3, seed=4)[0])
    with torch.no_grad():
        a, b, s = (torch.jit.load(p)(x) for p in paths)
        out = verifier(x)
    assert out.shape == a.shape
    assert torch.allclose(out[:, 1:], (a[:, 1:] + b[:, 1:]) / 2, atol=1e-6)
    assert torch.allclose(out[:, 0], (a[:, 0] + b[:, 0] + s) / 3, atol=1e-6)
    assert not torch.allclose(out[:, 0], (a[:, 0] + b[:, 0]) / 2, atol=1e-3)
    with pytest.raises(ValueError):
        ic.save_mean(paths[0], paths[1], str(tmp_path / "both.pt"), judges=True, smile_path=paths[2])
    assert not os.path.exists(tmp_path / "both.pt")


def test_train_smile_patches_writes_a_judge_and_its_card():
    model, card = tsp.train(256, 1, 16, log=lambda m: None)
    assert card["train"]["images"] == 256 and card["train"]["balanced"] == 128
    assert set(card["held_out_smile_accuracy"]) == {"held_out", "held_out_balanced"}
    for figures in card["held_out_smile_accuracy"].values():
        assert figures["images"] == 16 and 0.0 <= figures["accuracy"] <= 1.0
    x = ic.to_input(render.render(2, seed=5)[0])
    with torch.no_grad():
        assert torch.equal(torch.jit.script(model)(x), model(x))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
