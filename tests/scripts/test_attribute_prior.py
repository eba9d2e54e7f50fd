"""scripts/attribute_prior.py: cell probabilities and data shares worked by hand, the clipping, and a prior
written into a copy of the tiny bundle that lace then reads (LACE_BINARY, when set)."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "scripts", "faces"))
import attribute_prior  # noqa: E402

MANIFEST = {"attributes": [{"name": "smile", "kind": "binary", "columns": [0]},
                           {"name": "hair", "kind": "categorical", "classes": ["a", "b", "c"], "columns": [1, 2, 3]},
                           {"name": "age", "kind": "continuous", "columns": [4]}]}


def test_cell_probabilities_multiply_each_attributes_reading_last_fastest():
    logits = np.array([[0.0, 0.0, math.log(2), 0.0, 9.0], [math.log(3), 0.0, 0.0, 0.0, -9.0]])
    q = attribute_prior.cell_probabilities(logits, MANIFEST, ["smile", "hair"])
    expect = np.array([[0.5 * 0.25, 0.5 * 0.5, 0.5 * 0.25, 0.5 * 0.25, 0.5 * 0.5, 0.5 * 0.25],
                       [0.25 / 3, 0.25 / 3, 0.25 / 3, 0.75 / 3, 0.75 / 3, 0.75 / 3]])
    assert np.allclose(q, expect, atol=1e-12)
    q = attribute_prior.cell_probabilities(logits, MANIFEST, ["hair", "smile"])  # the other order
    assert np.allclose(q[0], [0.125, 0.125, 0.25, 0.25, 0.125, 0.125], atol=1e-12)


def test_data_shares_count_each_cell():
    labels = {"smile": np.array([1, 0, 1, 1]), "hair": np.array([2, 0, 2, 1])}
    shares = attribute_prior.data_shares(labels, [2, 3], ["smile", "hair"])
    assert list(shares) == [0.25, 0, 0, 0, 0.25, 0.5]


def test_log_ratio_is_clipped_both_ways():
    r = attribute_prior.log_ratio(np.array([0.2, 0.0, 0.5, 0.3]), np.array([0.1, 0.3, 0.001, 0.599]), 8.0)
    assert abs(r[0] - math.log(2)) < 1e-12
    assert abs(r[1] + math.log(8)) < 1e-12 and abs(r[2] - math.log(8)) < 1e-12  # none in the data; 500x
    assert abs(r[3] - math.log(0.3 / 0.599)) < 1e-12


def test_value_counts_refuse_continuous_and_unknown_attributes():
    assert attribute_prior.value_counts(MANIFEST, ["hair", "smile"]) == [3, 2]
    for bad in (["age"], ["beard"]):
        try:
            attribute_prior.value_counts(MANIFEST, bad)
        except SystemExit as e:
            assert bad[0] in str(e)
        else:
            raise AssertionError(f"{bad} accepted")


def test_writes_a_prior_the_tiny_bundle_accepts():
    with tempfile.TemporaryDirectory() as d:
        bundle = os.path.join(d, "tiny")
        shutil.copytree(os.path.join(ROOT, "models", "tiny"), bundle)
        rng = np.random.default_rng(0)
        labels = os.path.join(d, "labels.npz")
        np.savez(labels, smile=rng.integers(0, 2, 500), glasses=np.ones(500, np.int64), hair=rng.integers(0, 3, 500))
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "attribute_prior.py"), "--bundle", bundle,
                        "--labels", labels, "-n", "2000", "--weight", "0.5"], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(bundle, "lace.json")) as f:
            prior = json.load(f)["prior"]
        assert prior["attributes"] == ["smile", "glasses", "hair"] and prior["weight"] == 0.5
        r = np.array(prior["log_ratio"]).reshape(2, 2, 3)
        assert np.allclose(r[:, 0, :], -math.log(8), atol=1e-6)  # the labels never lack glasses: clipped at 1/8
        assert np.all(np.abs(r) <= math.log(8) + 1e-6)
        lace = os.environ.get("LACE_BINARY")
        if lace:
            info = json.loads(subprocess.run([lace, "info", "--model", bundle, "--json"], check=True,
                                             capture_output=True, text=True).stdout)
            assert info["prior"] == {"attributes": ["smile", "glasses", "hair"], "weight": 0.5}
            out = os.path.join(d, "out")
            subprocess.run([lace, "-q", "sample", "--model", bundle, "-n", "2", "--out", out], check=True)
            with open(os.path.join(out, "00001-0000.json")) as f:
                record = json.load(f)
            assert record["prior_weight"] == 0.5 and record["z"] != record["z0"]  # the prior guided it


def test_face_labels_are_the_attributes_render_draws():
    # Across a block boundary of the renderer's parameter stream (1,000 faces a block).
    import render
    faces = attribute_prior.face_labels(1200, seed=5)
    _, drawn = render.render(250, seed=5, start=950)
    for k in render.ATTRIBUTES:
        assert np.array_equal(faces[k][950:], drawn[k]), k
    balanced = render.attributes(50, seed=5, start=980, balanced=True)
    _, drawn = render.render(50, seed=5, start=980, balanced=True)
    assert all(np.array_equal(balanced[k], drawn[k]) for k in render.ATTRIBUTES)
    assert not np.array_equal(balanced["hair"], faces["hair"][980:1030])  # the balanced stream is its own


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
