"""scripts/faces/edit_pairs.py: its random sequences are valid lace edits (no attribute twice in a row, targets
inside their ranges, every kind of step), it refuses the evaluation's seeds, and an end-to-end run through the
lace binary (LACE_BINARY) on the default bundle adds one pair per start and step whose w is the one lace
edited to (the script checks the latent classifier reads on it what lace recorded) and whose labels are the
labeler's reading of that w's image. Runs under pytest or directly."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path[:0] = [os.path.join(ROOT, "scripts", "faces"), os.path.join(ROOT, "scripts")]
import edit_pairs  # noqa: E402
import make_pairs  # noqa: E402
from render import BINARY, CONTINUOUS, HAIR_CLASSES  # noqa: E402

BUNDLE = os.path.join(ROOT, "models", "faces")


def test_sequences_are_valid_edits():
    rng = np.random.default_rng(0)
    kinds = set()
    for _ in range(300):
        steps = edit_pairs.sequence(rng, 5)
        assert len(steps) == 5
        for a, b in zip(steps, steps[1:]):
            assert edit_pairs.attribute(a) != edit_pairs.attribute(b), steps
        for step in steps:
            name, _, value = step.removeprefix("NOT ").partition("=")
            if name in CONTINUOUS:
                lo, hi = CONTINUOUS[name]
                assert lo < float(value) < hi and not step.startswith("NOT "), step
                kinds.add("continuous")
            elif name == "hair":
                assert value in HAIR_CLASSES, step
                kinds.add("hair")
            else:
                assert name in BINARY and value == "", step
                kinds.add("NOT" if step.startswith("NOT ") else "binary")
    assert kinds == {"continuous", "hair", "binary", "NOT"}


def run(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "faces", "edit_pairs.py"), *args],
                          capture_output=True, text=True)


def test_the_evaluation_seeds_are_refused():
    r = run("--bundle", BUNDLE, "--labeler", "x", "--pairs", "x", "--out", "x", "--seed", "40", "--sequences", "3")
    assert r.returncode != 0 and "evaluation's seeds" in r.stderr, r.stderr


def test_end_to_end_with_lace():
    lace = os.environ.get("LACE_BINARY")
    if not lace:
        print("LACE_BINARY not set: end-to-end run skipped")
        return
    generator = torch.jit.load(os.path.join(BUNDLE, "generator.pt")).eval()
    labeler = torch.jit.load(os.path.join(BUNDLE, "labeler.pt")).eval()
    with tempfile.TemporaryDirectory() as tmp:
        old = make_pairs.make_pairs(generator, 128, 10, labeler, 6, seed=3, batch=6)
        np.savez(os.path.join(tmp, "old.npz"), **old)
        out = os.path.join(tmp, "new.npz")
        r = run("--lace", lace, "--bundle", BUNDLE, "--labeler", os.path.join(BUNDLE, "labeler.pt"),
                "--pairs", os.path.join(tmp, "old.npz"), "--out", out, "--sequences", "1", "--starts", "2",
                "--steps", "2", "--lace-args", "--solver rk4 --steps 4 --min-p 0 --no-verify")
        assert r.returncode == 0, r.stdout + r.stderr
        new = make_pairs.load_pairs(out)
    assert len(new["w"]) == 6 + 2 * 2
    assert np.array_equal(new["w"][:6], old["w"]) and np.array_equal(new["z"][:6], old["z"])
    with torch.no_grad():  # the new rows: labels are the labeler's reading of each w drawn at every layer
        w = torch.from_numpy(new["w"][6:])
        assert torch.allclose(w, make_pairs.truncated_w(generator, torch.from_numpy(new["z"][6:]), 1.0), atol=1e-5)
        outputs = labeler(generator.synthesis(w.unsqueeze(1).repeat(1, 10, 1)).clamp(-1, 1))
    assert np.allclose(new["labeler_outputs"][6:], outputs.numpy(), atol=1e-4)
    assert np.allclose(new["smile"][6:], torch.sigmoid(outputs[:, 0]).numpy(), atol=1e-5)


if __name__ == "__main__":
    for name, f in list(globals().items()):
        if name.startswith("test_"):
            f()
    print("ok")
