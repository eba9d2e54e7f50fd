"""scripts/faces/evaluate_edit.py's reference edit: the renderer applies a step to the parameters of a face,
changing exactly that attribute (and what the renderer ties to it), so the reference can stand for the
ideal editor; and the attributes no step names are found from the expressions. Runs under pytest or directly."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import evaluate_edit  # noqa: E402
import render  # noqa: E402

N = 64


def params():
    return render.sample_params(N, np.random.default_rng(5))


def changed(a, b):
    return sorted(k for k in a if not np.array_equal(a[k], b[k]))


def test_a_binary_step_sets_that_attribute_and_nothing_else():
    p = params()
    q = evaluate_edit.apply_step(p, "glasses")
    assert q["glasses"].all()
    assert changed(p, q) == ["glasses"]
    assert not evaluate_edit.apply_step(q, "NOT glasses")["glasses"].any()
    assert not np.array_equal(p["glasses"], q["glasses"])  # some faces had none: the step is not a no-op
    # ... and the drawn face changes only where glasses are drawn: the eye band, not the mouth or the shirt
    before, after = evaluate_edit.draw_images(p), evaluate_edit.draw_images(q)
    rows = np.nonzero(np.abs(before.astype(int) - after.astype(int)).sum(axis=(0, 2, 3)))[0]
    assert len(rows) and rows.min() > 10 and rows.max() < 45, rows


def test_age_greys_the_hair_as_the_renderer_does_and_keeps_the_class():
    p = params()
    q = evaluate_edit.apply_step(p, "age=0.8")
    assert np.allclose(q["age"], 0.8)
    assert np.array_equal(q["hair"], p["hair"])
    assert changed(p, q) == ["age", "grey_share"]
    assert np.allclose(q["grey_share"], np.clip(0.5 / 0.6 * p["grey_speed"], 0, 1))


def test_hair_class_and_conjunctions():
    q = evaluate_edit.apply_step(params(), "hair=red AND NOT smile AND yaw=-0.6")
    assert (q["hair"] == render.HAIR_CLASSES.index("red")).all()
    assert np.allclose(q["hair_rgb"], np.clip(render.HAIR_RGB[q["hair"]] * q["hair_jit"], 0, 1))
    assert not q["smile"].any() and np.allclose(q["yaw"], -0.6)
    assert evaluate_edit.apply_step(params(), "smile OR glasses") is None  # no single face for a mixture


def test_never_edited():
    assert evaluate_edit.never_edited(["glasses", "age=0.8", "yaw=-0.6", "NOT smile", "beard"]) == ["hat", "hair"]
    assert evaluate_edit.never_edited(["(smile OR hat) AND NOT glasses", "hair=red"]) == ["beard", "age", "yaw"]


def test_a_step_set_again_later_is_not_judged_at_the_end():
    steps = ["glasses", "yaw=-0.6", "NOT smile", "smile AND beard", "yaw=0"]
    assert [evaluate_edit.set_again(steps, k) for k in range(1, 6)] == [None, 5, 4, None, None]


def test_kept_share():
    start = {"hair": np.array([0, 1, 2, 3]), "age": np.array([0.2, 0.5, 0.5, 0.9], np.float32)}
    end = {"hair": np.array([0, 1, 4, 3]), "age": np.array([0.3, 0.8, 0.5, 0.95], np.float32)}
    kept = evaluate_edit.kept_share(start, end, ["hair", "age"], 0.15)
    assert kept == {"hair": 0.75, "age": 0.75}, kept


def close(a, b, rel=1e-4):
    """Equal JSON values, floats to a relative tolerance."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)
    return a == b


def test_close():
    assert close({"a": [1.0, 2]}, {"a": [1.00001, 2]}) and not close({"a": [1.0, 2]}, {"a": [1.01, 2]})
    assert not close({"a": 1.0}, {"b": 1.0}) and not close([1.0], [1.0, 2.0]) and not close(0.5, 0.5001, 1e-6)


def test_parts_are_kept_and_do_not_depend_on_the_chunking():
    """Starts measured in parts (one JSON per chunk of starts): a rerun with a lace that always fails reads
    them back with the same figures; other chunks give the same per-start figures (each start's edit and
    fresh sample depend only on its seed and index); a missing part leaves a report that says how many
    starts it covers."""
    lace = os.environ.get("LACE_BINARY")
    if not lace:
        print("LACE_BINARY not set: parts check skipped")
        return
    import json
    import subprocess
    import tempfile
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    script = os.path.join(root, "scripts", "faces", "evaluate_edit.py")
    with tempfile.TemporaryDirectory() as tmp:
        def evaluate(binary, results, *extra):
            report = os.path.join(tmp, f"report-{results}.md")
            cmd = [sys.executable, script, "--lace", binary, "--model", os.path.join(root, "models", "faces"),
                   "--evaluator", os.path.join(root, "models", "faces", "evaluator.pt"), "--report", report,
                   "--results", os.path.join(tmp, results), "--steps", "glasses; NOT smile", "--starts", "3",
                   "--lace-args", "--solver rk4 --steps 4 --min-p 0", *extra]
            r = subprocess.run(cmd, capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
            with open(os.path.splitext(report)[0] + ".json") as f:
                return json.load(f), r.stdout, open(report).read()
        first, _, _ = evaluate(lace, "a", "--chunk", "2")
        assert first["starts"] == 3 and first["start_ranges"] == [[0, 1], [2, 2]]
        again, out, _ = evaluate("/bin/false", "a", "--chunk", "2")
        assert "2 part(s) already measured" in out, out
        assert again == first
        whole, _, _ = evaluate(lace, "b", "--chunk", "3")
        for figures in (first, whole):
            del figures["edit_seconds"], figures["start_ranges"]
        # Equal to float noise: lace's float32 solves round differently by batch size (a batch of 2 and one
        # of 3 write PNGs whose bytes differ, `lace sample`'s too), and so do the evaluator's batches; seen
        # 1.1e-4 relative on a feature distance (session 29). Another start would differ by far more.
        assert close(whole, first, rel=2e-3)
        os.remove(os.path.join(tmp, "a", "starts-0002-0002.json"))
        partial, _, report = evaluate("/bin/false", "a", "--chunk", "2", "--report-only")
        assert partial["starts"] == 2 and "Part way: 2 of the 3 starts" in report, report


def test_a_new_report_is_the_title_and_the_marked_table():
    text = evaluate_edit.splice_report(None, "| table |\n")
    assert text == (f"{evaluate_edit.TITLE}\n\n{evaluate_edit.BEGIN}\n| table |\n{evaluate_edit.END}\n")


def test_a_rerun_replaces_only_the_marked_table_and_keeps_the_notes():
    first = evaluate_edit.splice_report(None, "| old |\n")
    notes = first.replace(evaluate_edit.BEGIN, "## notes by hand\n\n" + evaluate_edit.BEGIN) + "\n## older notes\n"
    again = evaluate_edit.splice_report(notes, "| new |\n")
    assert "| old |" not in again and "| new |" in again
    assert again.index("## notes by hand") < again.index("| new |") < again.index("## older notes")
    assert again == notes.replace("| old |", "| new |")


def test_a_report_without_markers_is_not_overwritten():
    for text in ("# someone's notes\n", f"{evaluate_edit.END}\n{evaluate_edit.BEGIN}\n"):
        try:
            evaluate_edit.splice_report(text, "| table |\n")
        except ValueError as e:
            assert "--report" in str(e)
        else:
            raise AssertionError("a report without a BEGIN..END pair was overwritten")


def test_reuse_reads_a_fresh_sample_by_the_index_in_its_records():
    """--reuse takes images first..first+count-1 by the index lace wrote in each record, whatever the file
    names say (a rerun numbers its files on), and draws afresh when one of them is missing."""
    import json
    import tempfile
    from types import SimpleNamespace
    from PIL import Image
    with tempfile.TemporaryDirectory() as out:
        # file names sort in the other order from the indices; an extra image outside the range is ignored
        for name, index in (("00003-0000", 6), ("00001-0000", 7), ("00002-0000", 5)):
            Image.fromarray(np.full((4, 4, 3), index, np.uint8)).save(os.path.join(out, name + ".png"))
            with open(os.path.join(out, name + ".json"), "w") as f:
                json.dump({"index": index}, f)
        args = SimpleNamespace(reuse=True, lace="/bin/false", model="none", seed=0)
        images = evaluate_edit.fresh_sample(args, "glasses", 6, 2, out)
        assert images.shape == (2, 4, 4, 3) and images[0, 0, 0, 0] == 6 and images[1, 0, 0, 0] == 7
        try:  # index 8 is not there: lace is run (and /bin/false fails)
            evaluate_edit.fresh_sample(args, "glasses", 7, 2, out)
            raise AssertionError("expected lace to be run")
        except SystemExit as e:
            assert "lace sample failed" in str(e)


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
