"""The reconstruction anchor's losses (scripts/faces/encoder.py) against values that are known by hand or
by construction. Runs under pytest or directly."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import encoder  # noqa: E402


def test_mmd_is_near_zero_for_prior_draws_and_positive_off_the_prior_shell():
    torch.manual_seed(0)
    mean = lambda scale: sum(encoder.mmd_to_prior(torch.randn(64, 128) * scale).item() for _ in range(20)) / 20  # noqa: E731
    assert abs(mean(1.0)) < 0.004
    assert mean(1.2) > 0.03      # the shell the codes of real images sat on before the MMD term
    assert mean(0.8) > 0.03
    shifted = sum(encoder.mmd_to_prior(torch.randn(64, 128) + 0.5).item() for _ in range(20)) / 20
    assert shifted > 0.03


def test_mmd_gradient_pulls_codes_towards_the_prior_shell():
    torch.manual_seed(1)
    z = (torch.randn(64, 128) * 1.3).requires_grad_(True)
    encoder.mmd_to_prior(z).backward()
    # moving along -grad shrinks the codes: the radial component of the gradient is outward
    assert (z.grad * z).sum().item() > 0


def test_mmd_hand_computed_for_one_dimension_two_points():
    z = torch.tensor([[0.0], [1.0]])
    torch.manual_seed(4)
    expected_p = torch.randn_like(z)  # the draw mmd_to_prior will make after the same seed
    torch.manual_seed(4)
    got = encoder.mmd_to_prior(z, scales=(1.0,)).item()
    k = lambda a, b: 2.0 / (2.0 + (a - b) ** 2)  # noqa: E731   C = 2 * D * s = 2
    a, b = expected_p[:, 0].tolist()
    want = k(0.0, 1.0) + k(a, b) - 0.5 * (k(0, a) + k(0, b) + k(1, a) + k(1, b))
    assert abs(got - want) < 1e-6


def test_edge_term_separates_a_blurred_image_from_the_sharp_one():
    real = -torch.ones(1, 3, 64, 64)
    real[..., 30:32, 10:54] = 1.0                     # a two-pixel bar: the size of a glasses frame
    blurred = torch.nn.functional.avg_pool2d(real, 5, stride=1, padding=2, count_include_pad=False)
    plain = encoder.reconstruction_error(blurred, real).item()
    with_edges = encoder.reconstruction_error(blurred, real, edge_weight=1.0).item()
    assert encoder.reconstruction_error(real, real, edge_weight=1.0).item() == 0.0
    # by hand: the sharp bar has vertical differences of 2 on two rows of 44 pixels, mean over 63 x 64
    # positions = 176 / 4032; the blur spreads each over several rows at a fraction of the height, so
    # the edge term adds at least a good part of that
    assert with_edges - plain > 0.5 * (2 * 44 * 2.0) / (63 * 64)


def test_l1_prefers_dropping_a_minority_stroke_and_l2_a_faint_one():
    # Four faces, one with a dark bar (glasses): one output for all four, as a decoder draws when the code
    # does not tell them apart. Plain L1 is lowest without the bar (the median); with the squared term a
    # faint bar (the mean) beats leaving it out.
    plain = -torch.ones(4, 3, 64, 64)
    real = plain.clone()
    real[0, :, 30:32, 10:54] = 1.0
    faint = plain[:1].clone()
    faint[0, :, 30:32, 10:54] = -0.5                  # the mean of one bar at +1 and three at -1
    err = lambda out, **kw: encoder.reconstruction_error(out.expand(4, -1, -1, -1), real, **kw).item()  # noqa: E731
    assert err(plain[:1]) < err(faint)
    # the weights of the training run (edge 1, l2 5): already at 5 the faint bar wins
    assert err(faint, edge_weight=1.0, l2_weight=5.0) < err(plain[:1], edge_weight=1.0, l2_weight=5.0)
    assert err(plain[:1], edge_weight=1.0, l2_weight=1.0) < err(faint, edge_weight=1.0, l2_weight=1.0)


def test_stroke_map_by_hand():
    real = -torch.ones(1, 3, 8, 8)
    real[0, 0, 4, 2] = 1.0                            # one red pixel: differences of 2 to its neighbours
    m = encoder.stroke_map(real)[0, 0]
    assert m.shape == (8, 8)
    assert m[4, 2] == 2.0 and m[5, 3] == 2.0 and m[3, 1] == 2.0   # the pixel, spread over 3x3 (and one more)
    assert m[0, 7] == 0.0 and m[7, 7] == 0.0


def test_stroke_weight_makes_l1_draw_a_minority_bar():
    # The case L1 gets wrong: one face in four has a bar, the code tells none apart. With strokes weighted
    # the full bar beats no bar, while the error stays L1 (a faint bar is no better than the full one).
    plain = -torch.ones(4, 3, 64, 64)
    real = plain.clone()
    real[0, :, 30:32, 10:54] = 1.0
    bar = real[:1].clone()
    faint = plain[:1].clone()
    faint[0, :, 30:32, 10:54] = -0.5
    err = lambda out, k: encoder.reconstruction_error(out.expand(4, -1, -1, -1), real, stroke_weight=k).item()  # noqa: E731
    assert err(plain[:1], 0.0) < err(bar, 0.0)       # plain L1: the median, no bar
    assert err(bar, 5.0) < err(plain[:1], 5.0)       # weighted: the bar
    assert err(bar, 5.0) <= err(faint, 5.0) + 1e-6


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
