"""scripts/faces/skin.py: the skin-tone reader learns the renderer's tones; WithColumn appends one reading;
add_skin turns a copy of the face bundle into one with a `skin` attribute whose classifier and judges read
as before plus one column, which lace then loads, samples and edits with. Runs under pytest or directly
(~1 minute; lace's part needs LACE_BINARY)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts", "faces"))
import image_classifiers as ic  # noqa: E402
import render  # noqa: E402
import skin  # noqa: E402

torch.set_num_threads(1)
FACES = os.path.join(ROOT, "models", "faces")


def test_the_skin_reader_learns_the_tones():
    reader, figures = skin.train_skin_reader(n=5000, epochs=4, n_test=500)
    assert figures["correlation"] > 0.9 and figures["mae"] < 0.06, figures
    untrained = skin.read_tones(skin.SkinReader(), render.render(500, seed=8000)[0])
    assert abs(np.corrcoef(untrained, render.skin_tones(500, seed=8000))[0, 1]) < 0.9


def test_with_column_appends_the_extra_reading():
    class Base(torch.nn.Module):
        def forward(self, x):
            return torch.stack([x.sum(1), -x.sum(1)], 1)

    class Extra(torch.nn.Module):
        def forward(self, x):
            return x[:, 0] * 10

    model = torch.jit.script(skin.WithColumn(torch.jit.script(Base()), torch.jit.script(Extra())))
    out = model(torch.tensor([[1.0, 2.0], [3.0, -1.0]]))
    assert torch.equal(out, torch.tensor([[3.0, -3.0, 10.0], [2.0, -2.0, 30.0]]))


def test_the_latent_regressor_learns_a_function_of_w():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3000, 16, generator=g)
    tones = 0.55 + 0.1 * torch.tanh(w[:, 0] - 0.5 * w[:, 3])
    _, figures = skin.train_latent_skin(w, tones, epochs=80)
    assert figures["correlation"] > 0.95 and figures["mae"] < 0.02, figures


@pytest.fixture(scope="module")
def bundle():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "faces")
        shutil.copytree(FACES, out)
        card = skin.add_skin(out, n=600, reader_images=3000, log=lambda *_: None)
        yield out, card


def test_add_skin_writes_a_bundle_with_one_more_column(bundle):
    out, card = bundle
    with open(os.path.join(out, "lace.json")) as f:
        after = json.load(f)
    with open(os.path.join(FACES, "lace.json")) as f:
        before = json.load(f)
    k = before["classifier"]["num_logits"]
    attr = after["attributes"][-1]
    assert attr["name"] == "skin" and attr["kind"] == "continuous" and attr["columns"] == [k] == [card["column"]]
    assert attr["range"] == list(skin.SKIN_RANGE) and attr["layers"] and attr["layers"] == sorted(attr["layers"])
    assert after["attributes"][:-1] == before["attributes"]
    for section in (after["classifier"], after["verifier"], after["editing"]["verifier"]):
        assert section["num_logits"] == k + 1 and section["file"].endswith("+skin.pt")
    # The old classifier and edit verifier are gone (the wrapped ones hold them); the checker stays.
    assert not os.path.exists(os.path.join(out, before["classifier"]["file"]))
    assert not os.path.exists(os.path.join(out, before["editing"]["verifier"]["file"]))
    assert os.path.exists(os.path.join(out, before["verifier"]["file"]))
    assert card["reader"]["correlation"] > 0.9 and card["latent"]["correlation"] > 0.5, card

    # The first k columns are the old models' readings exactly; the last the reader's (or the regressor's).
    reader = torch.jit.load(os.path.join(out, skin.READER_FILE))
    images = ic.to_input(render.render(8, seed=11)[0])
    for old, new in ((before["verifier"], after["verifier"]), (before["editing"]["verifier"], after["editing"]["verifier"])):
        a = torch.jit.load(os.path.join(FACES, old["file"]))(images)
        b = torch.jit.load(os.path.join(out, new["file"]))(images)
        assert torch.allclose(b[:, :k], a) and torch.allclose(b[:, k], reader(images))
    w = torch.randn(5, after["generator"]["w_dim"])
    a = torch.jit.load(os.path.join(FACES, before["classifier"]["file"]))(w)
    b = torch.jit.load(os.path.join(out, after["classifier"]["file"]))(w)
    assert torch.allclose(b[:, :k], a) and b.shape == (5, k + 1)
    with pytest.raises(SystemExit, match="already has the attribute 'skin'"):
        skin.add_skin(out, n=10)


def test_lace_samples_and_edits_with_the_skin_attribute(bundle):
    lace = os.environ.get("LACE_BINARY")
    if not lace:
        print("LACE_BINARY not set: lace's part skipped")
        return
    out, _ = bundle
    run = lambda *a: subprocess.run([lace, "-q", *a], capture_output=True, text=True)  # noqa: E731
    info = run("info", "--model", out)
    assert info.returncode == 0 and "skin" in info.stdout, info.stdout + info.stderr
    with tempfile.TemporaryDirectory() as tmp:
        r = run("sample", "--model", out, "--attrs", "skin=0.4 AND glasses", "-n", "2", "--solver", "rk4",
                "--steps", "4", "--min-p", "0", "--out", tmp)
        assert r.returncode == 0, r.stderr
        sequence = os.path.join(tmp, "edits.json")
        with open(sequence, "w") as f:
            json.dump({"start": {"seed": 1, "count": 1}, "steps": ["glasses"]}, f)
        r = run("edit", "--model", out, "--sequence", sequence, "--solver", "rk4", "--steps", "4", "--min-p", "0",
                "--out", os.path.join(tmp, "edit"))
        assert r.returncode == 0, r.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
