"""scripts/faces/measure_layers.py on a generator whose layers are known: an attribute drawn only when two
layers agree must get both (one layer at a time, neither moves it alone), one drawn by a single layer
gets that layer alone. Runs under pytest or directly."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import measure_layers  # noqa: E402
import render  # noqa: E402

NUM_WS, W_DIM = 6, 4


class IdentityGenerator:
    """mapping(z) = z; the 'image' is w+ itself, so the fake labeler below reads layers directly."""
    w_avg = torch.zeros(W_DIM)

    @staticmethod
    def mapping(z):
        return z

    @staticmethod
    def synthesis(ws):
        return ws


def labeler(ws):
    """Labeler outputs in image_classifiers' column order. smile: present only where layers 1 and 4 both say
    so (an AND of their signs); every other attribute, and hair, from layer 3 alone."""
    b, columns = ws.shape[0], len(render.BINARY) + len(render.HAIR_CLASSES) + len(render.CONTINUOUS)
    out = ws[:, 3, :1].expand(b, columns) * 8
    out = out + torch.arange(columns, dtype=ws.dtype) * ws[:, 3, 1:2]  # hair classes differ from each other
    smile = torch.minimum(ws[:, 1, 0], ws[:, 4, 0]) * 20
    return torch.cat([smile[:, None], out[:, 1:]], 1)


def test_joint_layers_are_found():
    layers, carried = measure_layers.measure_layers(IdentityGenerator(), labeler, W_DIM, NUM_WS, n=300)
    assert layers["smile"] == [1, 4], layers
    for name in ["glasses", "beard", "hat", "hair", "age", "yaw"]:
        assert layers[name] == [3], (name, layers)
        assert carried[name] == 1.0
    assert carried["smile"] == 1.0


def test_carried_by_given_sets():
    both, one, other = measure_layers.carried_by(IdentityGenerator(), labeler, W_DIM, NUM_WS, [[1, 4], [1], [0, 5]],
                                                 n=300)
    assert both["smile"] == 1.0 and other["smile"] == 0.0, (both, other)
    assert 0.0 < one["smile"] < 1.0, one  # half the AND: some pairs flip, not all
    assert both["glasses"] == 0.0 and other["glasses"] == 0.0, (both, other)


def test_parse_sets():
    def fail(message):
        raise ValueError(message)
    assert measure_layers.parse_sets("5-9;0-4;1,3", fail) == [[5, 6, 7, 8, 9], [0, 1, 2, 3, 4], [1, 3]]
    assert measure_layers.parse_sets("2, 0-1", fail) == [[0, 1, 2]]
    for bad in ["9-5", "a", "1;", "1-", "-2"]:
        try:
            measure_layers.parse_sets(bad, fail)
        except ValueError as e:
            assert "--sets" in str(e), e
        else:
            raise AssertionError(f"{bad!r} was accepted")


if __name__ == "__main__":
    test_joint_layers_are_found()
    test_carried_by_given_sets()
    test_parse_sets()
    print("ok")
