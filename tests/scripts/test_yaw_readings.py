"""scripts/faces/yaw_readings.py: the blur touches only the rows asked, and the mirror gap is 0 for a reader that
reads a mirrored face as the opposite turn and what it is, by hand, for one that is lopsided. Runs under pytest or
directly."""
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageFilter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import image_classifiers as ic  # noqa: E402
import yaw_readings  # noqa: E402

YAW = ic.NUM_BINARY + ic.NUM_HAIR + list(ic.CONTINUOUS).index("yaw")


class Reader(torch.nn.Module):
    """A stand-in judge whose yaw is the left half's mean brightness less (symmetric) or alone (lopsided)."""

    def __init__(self, symmetric):
        super().__init__()
        self.symmetric = symmetric

    def forward(self, x):
        out = torch.zeros(x.shape[0], ic.NUM_BINARY + ic.NUM_HAIR + ic.NUM_CONT)
        left, right = x[..., :32].mean((1, 2, 3)), x[..., 32:].mean((1, 2, 3))
        out[:, YAW] = left - right if self.symmetric else left
        return out


def test_the_mirror_gap():
    images = np.random.default_rng(0).integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    assert abs(yaw_readings.mirror_gap(Reader(True), images)) < 1e-6
    white = np.full((3, 64, 64, 3), 255, np.uint8)  # the lopsided reader: yaw(x) + yaw(mirror x) = 1 + 1
    assert abs(yaw_readings.mirror_gap(Reader(False), white) - 2.0) < 1e-6
    ramp = np.repeat(np.repeat(np.linspace(0, 255, 64).astype(np.uint8)[None, None, :, None], 64, 1), 3, 3)
    assert abs(yaw_readings.mirror_gap(Reader(True), ramp)) < 1e-6 and yaw_readings.yaw(Reader(True), ramp)[0] < -0.9


def test_only_the_band_is_blurred():
    images = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    out = yaw_readings.blur_rows(images, 14, 34)
    assert np.array_equal(out[:, :14], images[:, :14]) and np.array_equal(out[:, 34:], images[:, 34:])
    for x, y in zip(images, out):
        assert np.array_equal(y[14:34], np.asarray(Image.fromarray(x).filter(ImageFilter.GaussianBlur(4)))[14:34])
    assert out[:, 14:34].astype(float).std() < 0.5 * images[:, 14:34].astype(float).std()  # noise smoothed away


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
