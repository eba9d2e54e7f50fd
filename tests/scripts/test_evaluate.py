"""scripts/faces/evaluate.py's selection of conditions: --conditions names rows of the table exactly (each
keeps the seed of its place in the table, so an A/B of two bundles samples the same z), and a name that is
not in the table is refused with one line. Its parts: each condition's result is written as soon as it is
made and kept only under the same key (result_parts.py), so a stopped run measures again only what it had
not finished. Its unguided reference: the FD of the samples that satisfy a condition. Its target reference:
lace's energy worked by hand, and the samples an exact sampler of it accepts. Its cache of the evaluator's
readings of the real images. Runs under pytest or directly."""
import argparse
import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "faces", "evaluate.py")
sys.path.insert(0, os.path.join(ROOT, "scripts", "faces"))
import evaluate  # noqa: E402
import image_classifiers as ic  # noqa: E402
import result_parts  # noqa: E402


def test_conditions_are_named_exactly():
    assert evaluate.chosen_conditions(None) is None
    assert evaluate.chosen_conditions("hat; yaw=0.6 ;glasses AND hat") == {"hat", "yaw=0.6", "glasses AND hat"}
    table = [expr for expr, _, _ in evaluate.CONDITIONS]
    assert all(evaluate.chosen_conditions(e) == {e} for e in table)


def test_a_condition_not_in_the_table_is_refused():
    with pytest.raises(SystemExit, match="'hats' is not in the table"):
        evaluate.chosen_conditions("hat; hats")
    with pytest.raises(SystemExit, match="not in the table"):  # the table spells ANDs in capitals
        evaluate.chosen_conditions("smile and glasses")


def test_the_wilson_interval_by_hand():
    # 0 of 10: the upper end is z^2 / (n + z^2); 50 of 100: 0.5 -/+ 0.0962 (textbook values)
    lo, hi = evaluate.wilson_interval(0.0, 10)
    assert lo == 0.0 and hi == pytest.approx(1.96 ** 2 / (10 + 1.96 ** 2), abs=1e-12)
    assert evaluate.wilson_interval(0.5, 100) == pytest.approx((0.40383, 0.59617), abs=1e-5)
    lo, hi = evaluate.wilson_interval(1.0, 256)  # all met: the interval still reaches below 1
    assert hi == 1.0 and lo == pytest.approx(256 / (256 + 1.96 ** 2), abs=1e-12)
    lo, hi = evaluate.wilson_interval(0.855, 256)  # issue 3's yaw=0.6: below 0.95 beyond doubt
    assert lo < 0.855 < hi < 0.95 and hi - 0.855 < 0.855 - lo  # skewed toward 0.5
    assert evaluate.share_text(0.855, 256) == "0.855 [0.81, 0.89]"
    assert evaluate.wilson_interval(0.3, 0) == (0.0, 1.0)


def test_a_part_is_kept_only_under_the_same_key(tmp_path):
    key = {"n": 4, "bundle": "abc"}
    assert result_parts.load_part(tmp_path, "hat", key) is None  # missing
    result_parts.save_part(tmp_path, "hat", key, {"acc": 0.5})
    assert result_parts.load_part(tmp_path, "hat", key) == {"acc": 0.5}
    assert result_parts.load_part(tmp_path, "hat", {"n": 4, "bundle": "abd"}) is None
    (tmp_path / "hat.json").write_text('{"key": {"n": 4, "bun')  # cut short: measured again, no traceback
    assert result_parts.load_part(tmp_path, "hat", key) is None


def test_the_digest_follows_names_and_contents(tmp_path):
    (tmp_path / "a").write_bytes(b"one")
    (tmp_path / "b").write_bytes(b"two")
    files = [str(tmp_path / "a"), str(tmp_path / "b")]
    first = result_parts.files_digest(files)
    assert result_parts.files_digest(files[::-1]) == first  # order given does not matter
    (tmp_path / "b").write_bytes(b"twO")
    assert result_parts.files_digest(files) != first
    (tmp_path / "b").write_bytes(b"two")
    (tmp_path / "b").rename(tmp_path / "c")
    assert result_parts.files_digest([str(tmp_path / "a"), str(tmp_path / "c")]) != first


def test_the_sampling_key_leaves_out_what_only_lace_edit_reads(tmp_path):
    # Every listed source exists (a renamed one would silently be counted again), none is used by `lace
    # sample`'s code (no sampling source includes an edit header), and leaving them out changes only the
    # sources' digest.
    for rel in result_parts.EDIT_ONLY_SOURCES:
        assert os.path.isfile(os.path.join(ROOT, rel)), rel
    for rel in ("src/jobs/sample_job.cpp", "src/sampling/latent_energy.cpp", "src/sampling/vp_ode.cpp"):
        text = open(os.path.join(ROOT, rel)).read()
        assert "edit_job.hpp" not in text and "edit_energy.hpp" not in text, rel
    evaluator = os.path.join(ROOT, "models", "faces", "evaluator.pt")
    full = result_parts.models_and_lace_key(os.path.join(ROOT, "models", "faces"), evaluator)
    narrow = result_parts.models_and_lace_key(os.path.join(ROOT, "models", "faces"), evaluator, sampling=True)
    assert full["evaluator"] == narrow["evaluator"] and full["lace_sources"] != narrow["lace_sources"]
    # The bundle's "editing" section is lace edit's alone: changing it keeps the sampling key, not the full one.
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "generator.pt").write_bytes(b"weights")
    (bundle / "README.md").write_text("a card")
    keys = []
    for editing in ({"min_p": 0.9}, {"min_p": 0.9, "tolerance": 0.05}, None):
        manifest = {"name": "b", "sampling": {"guidance": 4}}
        if editing is not None:
            manifest["editing"] = editing
        (bundle / "lace.json").write_text(json.dumps(manifest))
        keys.append((result_parts.models_and_lace_key(str(bundle), evaluator)["bundle"],
                     result_parts.models_and_lace_key(str(bundle), evaluator, sampling=True)["bundle"]))
    assert len({k[0] for k in keys}) == 3 and len({k[1] for k in keys}) == 1
    (bundle / "lace.json").write_text(json.dumps({"name": "b", "sampling": {"guidance": 3}}))
    assert result_parts.models_and_lace_key(str(bundle), evaluator, sampling=True)["bundle"] != keys[0][1]
    # ... and so is the edit verifier lace.json's "editing" names (unless lace sample's verifier is the same file).
    (bundle / "lace.json").write_text(json.dumps({"name": "b", "sampling": {"guidance": 4}}))
    before = result_parts.models_and_lace_key(str(bundle), evaluator, sampling=True)["bundle"]
    (bundle / "lace.json").write_text(json.dumps({"name": "b", "sampling": {"guidance": 4},
                                                  "editing": {"verifier": {"file": "edit.pt"}}}))
    (bundle / "edit.pt").write_bytes(b"an edit verifier")
    assert result_parts.models_and_lace_key(str(bundle), evaluator, sampling=True)["bundle"] == before
    full = result_parts.models_and_lace_key(str(bundle), evaluator)["bundle"]
    (bundle / "edit.pt").write_bytes(b"another edit verifier")
    assert result_parts.models_and_lace_key(str(bundle), evaluator)["bundle"] != full
    (bundle / "lace.json").write_text(json.dumps({"name": "b", "sampling": {"guidance": 4}, "verifier": {"file": "edit.pt"},
                                                  "editing": {"verifier": {"file": "edit.pt"}}}))
    assert result_parts.models_and_lace_key(str(bundle), evaluator, sampling=True)["bundle"] != before


def reading(n, **values):
    """A reading of n samples for every attribute the table names: zeros, hair black, continuous 0.5, except
    the arrays given."""
    r = {b: np.zeros(n, dtype=int) for b in evaluate.render.BINARY}
    r.update(hair=np.zeros(n, dtype=int), age=np.full(n, 0.5), yaw=np.full(n, 0.5))
    r.update(values)
    return r


def test_the_unguided_reference_takes_the_first_n_samples_that_satisfy_the_condition():
    rng = np.random.default_rng(0)
    args = SimpleNamespace(n=30, tolerance=0.15, unconditional=300)
    # 300 real images, all with hats; features N(0, 1) in 4 dimensions.
    real_feat = rng.normal(size=(300, 4))
    real_attrs = reading(300, hat=np.ones(300, dtype=int))
    # 100 samples: every third wears a hat and has the real features' distribution; the others are far off.
    hat = (np.arange(100) % 3 == 0).astype(int)
    feat = np.where(hat[:, None] == 1, rng.normal(size=(100, 4)), rng.normal(loc=8.0, size=(100, 4)))
    out = evaluate.unguided_fds(args, reading(100, hat=hat), feat, real_attrs, real_feat)
    assert out["hat"]["count"] == 34
    assert out["hat"]["fd"] < 1.0  # the hats' features only: the others would put it near 4 * 8^2
    assert out["NOT hat"]["count"] == 66 and out["NOT hat"]["fd"] is None  # no real image lacks a hat
    assert out["smile"]["count"] == 0 and out["smile"]["fd"] is None
    few = evaluate.unguided_fds(SimpleNamespace(n=35, tolerance=0.15, unconditional=300),
                                reading(100, hat=hat), feat, real_attrs, real_feat)
    assert few["hat"] == {"count": 34, "fd": None}  # fewer than n satisfy it


ATTRIBUTES = [{"name": "smile", "kind": "binary"}, {"name": "glasses", "kind": "binary"},
              {"name": "hair", "kind": "categorical"}, {"name": "age", "kind": "continuous", "sigma": 0.05}]


def test_the_target_energy_is_lace_s_energy_worked_by_hand():
    latent = {"smile": np.array([0.2]), "glasses": np.array([0.9]),
              "hair": {"red": np.array([0.2]), "blonde": np.array([0.3]), "black": np.array([0.5])},
              "age": np.array([0.75])}
    e = lambda expr, g=4.0: float(evaluate.target_energy(expr, latent, ATTRIBUTES, g)[0])  # noqa: E731
    assert e("smile AND glasses") == pytest.approx(-4 * np.log(0.2) - 4 * np.log(0.9))
    assert e("smile AND glasses", 1.0) == pytest.approx(-np.log(0.2 * 0.9))
    assert e("NOT smile") == pytest.approx(-4 * np.log(0.8))
    assert e("hair=red") == pytest.approx(-4 * np.log(0.2))
    # OR: the equal-weight mixture of the guided terms, (p_red^4 + p_blonde^4) / 2
    assert e("hair=red OR hair=blonde") == pytest.approx(-np.log((0.2 ** 4 + 0.3 ** 4) / 2))
    # continuous: (0.75 - 0.8)^2 / (2 * 0.05^2) = 0.5, whatever the guidance
    assert e("age=0.8") == pytest.approx(0.5) and e("age=0.8", 1.0) == pytest.approx(0.5)
    assert e("smile AND age=0.8") == pytest.approx(-4 * np.log(0.2) + 0.5)
    with pytest.raises(ValueError, match="NOT of a continuous"):
        e("NOT age=0.8")


def test_the_target_guidance_is_the_bundle_s_unless_the_lace_args_change_it():
    bundle = json.load(open(os.path.join(ROOT, "models", "faces", "lace.json")))
    guidance = lambda extra: evaluate.target_guidance(SimpleNamespace(lace_args=extra), bundle)  # noqa: E731
    assert guidance("") == bundle["sampling"]["guidance"]
    assert guidance("--guidance 2") == 2.0
    assert guidance("-g 1.5 --tries 4") == 1.5
    assert guidance("--guidance=3") == 3.0
    assert guidance("--prior-weight 0") is None  # other proposals: no target column
    for bad in ("--guidance", "-g x"):  # one line, no traceback
        with pytest.raises(SystemExit, match="needs a number"):
            guidance(bad)


def test_the_target_accepts_each_sample_with_probability_exp_minus_e():
    n = 20000
    records = [{"attributes": {"smile": 0.5, "glasses": 0.5, "hair": {"red": 0.5, "black": 0.5}, "age": 0.5}}] * n
    latent = evaluate.latent_readings(records, ATTRIBUTES)
    assert latent["hair"]["red"].shape == (n,) and latent["age"][0] == 0.5
    u = np.random.default_rng(0).random(n)
    for g, rate in ((1.0, 0.5), (4.0, 0.5 ** 4)):
        share = (u < np.exp(-evaluate.target_energy("smile", latent, ATTRIBUTES, g))).mean()
        assert abs(share - rate) < 4 * np.sqrt(rate * (1 - rate) / n)


def test_the_target_reference_takes_the_first_n_samples_it_accepts(tmp_path):
    rng = np.random.default_rng(0)
    model = tmp_path / "bundle"
    model.mkdir()
    (model / "lace.json").write_text(json.dumps({"sampling": {"guidance": 4}, "attributes": [
        *({"name": b, "kind": "binary"} for b in evaluate.render.BINARY), {"name": "hair", "kind": "categorical"},
        {"name": "age", "kind": "continuous", "sigma": 0.05}, {"name": "yaw", "kind": "continuous", "sigma": 0.05}]}))
    args = SimpleNamespace(model=str(model), lace_args="", seed=0, n=30, tolerance=0.15, unconditional=300)
    real_feat = rng.normal(size=(300, 4))
    real_attrs = reading(300, hat=np.ones(300, dtype=int))
    # 100 samples: the latent classifier is sure of a hat on every third (p 1, always accepted) and of none on the
    # others (p 0, never); only those have the real features' distribution, and the evaluator reads a hat on half.
    sure = np.arange(100) % 3 == 0
    hair = {c: 0.2 for c in evaluate.render.HAIR_CLASSES}
    records = [{"attributes": {**{b: float(s) if b == "hat" else 0.5 for b in evaluate.render.BINARY},
                               "hair": hair, "age": 0.5, "yaw": 0.0}} for s in sure]
    feat = np.where(sure[:, None], rng.normal(size=(100, 4)), rng.normal(loc=8.0, size=(100, 4)))
    read_hat = (np.arange(100) % 6 == 0).astype(int)
    out = evaluate.target_fds(args, records, reading(100, hat=read_hat), feat, real_attrs, real_feat)
    assert out["hat"]["count"] == 34 and out["hat"]["fd"] < 1.0
    assert out["hat"]["acc"] == pytest.approx(15 / 30)  # of the first 30 accepted (0, 3, ..., 87), every other
    assert out["NOT hat"]["count"] == 66 and out["NOT hat"]["fd"] is None  # no real image lacks a hat
    assert evaluate.target_fds(SimpleNamespace(**{**vars(args), "lace_args": "--prior-weight 0"}), records,
                               reading(100, hat=read_hat), feat, real_attrs, real_feat) is None


FAKE_LACE = textwrap.dedent("""\
    #!/usr/bin/env python3
    # A stand-in for lace sample: images --start-index.. of random 64x64 PNGs (image i depends on (seed, i) only)
    # with records, named as lace names them (the next run number); logs each call; fails on FAIL_ON, or stops
    # after STOP_AFTER images as a killed run would.
    import json, os, re, sys
    import numpy as np
    from PIL import Image
    a = sys.argv[1:]
    n, seed, out = int(a[a.index("-n") + 1]), int(a[a.index("--seed") + 1]), a[a.index("--out") + 1]
    first = int(a[a.index("--start-index") + 1]) if "--start-index" in a else 0
    expr = a[a.index("--attrs") + 1] if "--attrs" in a else ""
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write((expr or "(unconditional)") + (f" from {first}" if first else "") + "\\n")
    if expr and expr == os.environ.get("FAIL_ON"):
        sys.exit("lace: fake failure")
    runs = [int(m.group(1)) for p in os.listdir(out) for m in [re.match(r"(\\d{5,9})-", p)] if m]
    run = max(runs, default=0) + 1
    for k, i in enumerate(range(first, first + n)):
        if k == int(os.environ.get("STOP_AFTER", -1)):
            sys.exit("lace: fake stop")
        rng = np.random.default_rng([seed, i])
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(f"{out}/{run:05d}-{i:04d}.png")
        latent = {b: float(rng.random()) for b in ("smile", "glasses", "beard", "hat")}
        hair = rng.dirichlet(np.ones(5))
        latent.update(hair=dict(zip(("black", "brown", "blonde", "red", "grey"), map(float, hair))),
                      age=float(rng.random()), yaw=float(rng.uniform(-1, 1)))
        json.dump({"p": 0.75, "index": i, "attributes": latent}, open(f"{out}/{run:05d}-{i:04d}.json", "w"))
""")


def fake_lace(tmp_path):
    lace = tmp_path / "lace"
    lace.write_text(FAKE_LACE.replace("/usr/bin/env python3", sys.executable))
    lace.chmod(0o755)
    return str(lace)


def test_run_lace_starts_from_an_empty_folder(tmp_path, monkeypatch):
    """A stopped run leaves some of its images behind, and lace numbers new files on rather than overwrite them;
    the rerun must not find them beside its own (session 40: 16 where 8 were expected stopped an evaluation)."""
    out = tmp_path / "fresh1-starts-0000-0001"
    out.mkdir()
    (out / "00001-0001.png").write_bytes(b"left by a stopped run")
    (out / "00001-0001.json").write_text('{"index": 1}')
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    images, _, records = evaluate.run_lace(fake_lace(tmp_path), "m", "smile", 2, 0, str(out))
    assert images.shape == (2, 64, 64, 3) and [(r["p"], r["index"]) for r in records] == [(0.75, 0), (0.75, 1)]
    assert sorted(p.name for p in out.iterdir()) == [
        "00001-0000.json", "00001-0000.png", "00001-0001.json", "00001-0001.png", evaluate.RUN_STAMP]


def test_run_lace_resumes_a_stopped_run_from_its_whole_batches(tmp_path, monkeypatch):
    lace, log = fake_lace(tmp_path), tmp_path / "calls.log"
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setattr(evaluate, "LACE_BATCH", 2)
    whole, _, whole_records = evaluate.run_lace(lace, "m", "smile", 7, 3, str(tmp_path / "whole"), start=10)

    out, key = str(tmp_path / "stopped"), {"bundle": "b1"}
    monkeypatch.setenv("STOP_AFTER", "5")  # images 10..14 written, then killed inside the third batch
    with pytest.raises(SystemExit, match="lace sample failed"):
        evaluate.run_lace(lace, "m", "smile", 7, 3, out, resume_key=key, start=10)
    monkeypatch.delenv("STOP_AFTER")
    log.write_text("")
    images, seconds, records = evaluate.run_lace(lace, "m", "smile", 7, 3, out, resume_key=key, start=10)
    assert log.read_text() == "smile from 14\n"  # two whole batches kept; image 14, half a batch, drawn again
    assert np.array_equal(images, whole) and records == whole_records
    assert sorted(os.listdir(out)) == [f"{run:05d}-{i:04d}.{ext}" for run, i in [(1, 10), (1, 11), (1, 12), (1, 13),
                                       (2, 14), (2, 15), (2, 16)] for ext in ("json", "png")] + [evaluate.RUN_STAMP]
    assert 0 < seconds < 60

    log.write_text("")  # complete: nothing to draw
    again, _, _ = evaluate.run_lace(lace, "m", "smile", 7, 3, out, resume_key=key, start=10)
    assert log.read_text() == "" and np.array_equal(again, whole)
    for changed in ({"bundle": "b2"}, None):  # another key, or none: drawn anew in an emptied folder
        log.write_text("")
        evaluate.run_lace(lace, "m", "smile", 7, 3, out, resume_key=changed, start=10)
        assert log.read_text() == "smile from 10\n" and len(os.listdir(out)) == 15
    log.write_text("")  # another seed with the same key: the command differs, so nothing is kept
    evaluate.run_lace(lace, "m", "smile", 7, 4, out, resume_key=key, start=10)
    assert log.read_text() == "smile from 10\n"


def test_a_stopped_evaluation_measures_again_only_what_it_had_not_finished(tmp_path):
    lace = fake_lace(tmp_path)
    log = tmp_path / "calls.log"
    report = tmp_path / "eval.md"

    def evaluate_run(*extra, fail_on=""):
        cmd = [sys.executable, SCRIPT, "--lace", str(lace), "--report", str(report), "-n", "8",
               "--unconditional", "300", "--unguided", "400", "--real", "2000", "--threads", "1",
               "--conditions", "hat; NOT hat; smile OR glasses", *extra]
        env = dict(os.environ, FAKE_LOG=str(log), FAIL_ON=fail_on, XDG_CACHE_HOME=str(tmp_path / "cache"))
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)

    first = evaluate_run(fail_on="NOT hat")  # table order: hat, then NOT hat fails, smile OR glasses never runs
    assert first.returncode != 0 and "lace sample failed" in first.stderr and "Traceback" not in first.stderr
    assert log.read_text().split("\n")[:-1] == ["(unconditional)", "hat", "NOT hat"]
    parts = sorted(p.name for p in (tmp_path / "eval-results").iterdir())
    assert parts == ["hat.json", "unconditional.json"]

    log.write_text("")
    second = evaluate_run()
    assert second.returncode == 0, second.stderr
    assert log.read_text().split("\n")[:-1] == ["NOT hat", "smile OR glasses"]  # the rest was kept
    result = json.loads((tmp_path / "eval.json").read_text())
    assert [r["expr"] for r in result["conditions"]] == ["hat", "NOT hat", "smile OR glasses"]
    assert all(r["latent_p"] == 0.75 for r in result["conditions"])
    assert len(result["missing"]) == len(evaluate.CONDITIONS) - 3
    assert "## Not measured yet" in report.read_text()
    assert "| unguided FD |" in report.read_text() and set(result["unguided_fd"]) == {
        expr for expr, _, _ in evaluate.CONDITIONS}
    assert "| target FD (ACC) |" in report.read_text() and set(result["target_fd"]) == {
        expr for expr, _, _ in evaluate.CONDITIONS}

    log.write_text("")
    again = evaluate_run("--report-only")
    assert again.returncode == 0 and log.read_text() == ""
    assert json.loads((tmp_path / "eval.json").read_text())["conditions"] == result["conditions"]

    other = evaluate_run("--seed", "1", "--report-only")  # another key: nothing to report from
    assert other.returncode != 0 and "no unconditional result under this key" in other.stderr


def test_the_real_readings_are_read_back_from_the_cache_as_they_were_made(tmp_path, monkeypatch):
    torch.manual_seed(0)
    path = str(tmp_path / "evaluator.pt")
    torch.jit.script(ic.ARCHITECTURES["evaluator"]().eval()).save(path)
    evaluator = torch.jit.load(path).eval()
    args = argparse.Namespace(evaluator=path, real=40, real_cache=str(tmp_path / "cache"))
    attrs, pred, feat = evaluate.real_readings(args, evaluator)
    assert feat.shape[0] == 40 and len(os.listdir(tmp_path / "cache")) == 1
    images, true_attrs = evaluate.render.render_many(40, seed=evaluate.REAL_SEED)
    assert all(np.array_equal(attrs[k], true_attrs[k]) for k in true_attrs)  # the real set, in order

    def neither(*a, **k):
        raise AssertionError("rendered or scored again although the readings were cached")
    monkeypatch.setattr(evaluate.render, "render_many", neither)
    monkeypatch.setattr(evaluate, "score", neither)
    attrs2, pred2, feat2 = evaluate.real_readings(args, evaluator)
    assert np.array_equal(feat, feat2)
    assert attrs.keys() == attrs2.keys() and all(np.array_equal(attrs[k], attrs2[k]) for k in attrs)
    assert pred.keys() == pred2.keys() and all(np.array_equal(pred[k], pred2[k]) for k in pred)
    monkeypatch.undo()
    # The unconditional part's contact sheet renders only the real images it shows: image i depends on (seed, i).
    assert np.array_equal(evaluate.render.render(8, seed=evaluate.REAL_SEED)[0], images[:8])
    other = argparse.Namespace(evaluator=path, real=41, real_cache=str(tmp_path / "cache"))
    monkeypatch.setattr(evaluate.render, "render_many", neither)
    with pytest.raises(AssertionError):  # another count is another cache file
        evaluate.real_readings(other, evaluator)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
