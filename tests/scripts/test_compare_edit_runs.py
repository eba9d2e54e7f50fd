"""scripts/faces/compare_edit_runs.py: the exact McNemar p-value by hand, and bars compared start by start on
hand-made evaluate_edit.py parts chunked differently in the two runs. Runs under pytest or directly."""
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import compare_edit_runs as cer  # noqa: E402

STEPS = ["glasses", "yaw=-0.6", "NOT smile"]  # never edited: beard, hat, hair, age


def start(glasses_after=1, yaw_end=-0.6, age_end=0.5, hair_end=2):
    """One start's readings at steps 0..3 that meet every bar unless told otherwise."""
    return {"smile": [1, 1, 1, 0], "glasses": [0, glasses_after, 1, 1], "beard": [0, 0, 0, 0], "hat": [1, 1, 1, 1],
            "hair": [2, 2, 2, hair_end], "age": [0.5, 0.5, 0.5, age_end], "yaw": [0.0, 0.0, -0.6, yaw_end]}


def write_run(folder, starts, chunks, steps=STEPS):
    os.makedirs(folder)
    for first, count in chunks:
        rows = starts[first:first + count]
        readings = {name: [r[name] for r in rows] for name in rows[0]}
        part = {"key": {"steps": steps, "seed": 42, "tolerance": 0.15, "lace_args": "", "bundle": "x"},
                "result": {"first": first, "count": count, "readings": readings}}
        with open(os.path.join(folder, f"starts-{first:04d}-{first + count - 1:04d}.json"), "w") as f:
            json.dump(part, f)
    return folder


def test_mcnemar_by_hand():
    assert cer.mcnemar_p(0, 0) == 1.0 and cer.mcnemar_p(4, 4) == 1.0
    assert cer.mcnemar_p(0, 5) == cer.mcnemar_p(5, 0) == 2 / 32  # both all-one-way splits of 5: 2 of 32
    assert abs(cer.mcnemar_p(1, 9) - 2 * (1 + 10) / 1024) < 1e-15  # P(X <= 1), X ~ Bin(10, 1/2), twice
    assert abs(cer.mcnemar_p(3, 16) - 2 * sum(math.comb(19, i) for i in range(4)) / 2 ** 19) < 1e-15


def test_bars_are_compared_start_by_start_across_chunkings():
    a = [start() for _ in range(10)]
    b = [start() for _ in range(11)]  # start 10 only in B: not compared
    b[2] = start(glasses_after=0)
    b[7] = start(glasses_after=0)     # glasses after its step: only A meets 2, p = 0.5
    a[5] = start(yaw_end=-0.8)        # yaw at the end: only B meets 1
    a[3] = start(age_end=0.7)         # age kept: A moved 0.2 (out), B 0.1 (within 0.15)
    b[3] = start(age_end=0.6)
    b[9] = start(hair_end=0)          # hair kept: only A
    with tempfile.TemporaryDirectory() as tmp:
        ra = write_run(os.path.join(tmp, "a"), a, [(0, 4), (4, 6)])
        rb = write_run(os.path.join(tmp, "b"), b, [(0, 11)])
        c = cer.compare(ra, rb)
    assert c["starts"] == 10 and (c["first"], c["last"]) == (0, 9)
    rows = {r["bar"]: r for r in c["rows"]}
    assert list(rows) == ["`glasses` after its step", "`yaw=-0.6` after its step", "`NOT smile` after its step",
                          "`glasses` at the end", "`yaw=-0.6` at the end", "`NOT smile` at the end",
                          "beard kept", "hat kept", "hair kept", "age kept"]
    g = rows["`glasses` after its step"]
    assert (g["a"], g["b"], g["only_a"], g["only_b"], g["p"]) == (1.0, 0.8, 2, 0, 0.5)
    y = rows["`yaw=-0.6` at the end"]
    assert (y["a"], y["b"], y["only_a"], y["only_b"]) == (0.9, 1.0, 0, 1)
    age = rows["age kept"]
    assert (age["a"], age["b"], age["only_a"], age["only_b"]) == (0.9, 1.0, 0, 1)
    hair = rows["hair kept"]
    assert (hair["a"], hair["b"], hair["only_a"], hair["only_b"]) == (1.0, 0.9, 1, 0)
    for name in ("beard kept", "hat kept", "`NOT smile` at the end"):
        assert (rows[name]["only_a"], rows[name]["only_b"], rows[name]["p"]) == (0, 0, 1.0)
    # a share on its bar meets it (yaw end 0.9 >= 0.85, age and hair 0.9 >= 0.90); B's glasses after, 0.8, not
    assert c["bars_met"] == {"a": 10, "b": 9}


def test_a_step_set_again_has_no_end_bar():
    steps = ["yaw=-0.6", "glasses", "yaw=0.0"]
    runs = [start() for _ in range(2)]
    for r in runs:
        r["yaw"] = [0.0, -0.6, -0.6, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        ra = write_run(os.path.join(tmp, "a"), runs, [(0, 2)], steps)
        rb = write_run(os.path.join(tmp, "b"), runs, [(0, 1), (1, 1)], steps)
        bars = [r["bar"] for r in cer.compare(ra, rb)["rows"]]
    assert "`yaw=-0.6` at the end" not in bars and "`yaw=0.0` at the end" in bars and "`glasses` at the end" in bars


def test_runs_of_other_steps_are_refused():
    with tempfile.TemporaryDirectory() as tmp:
        ra = write_run(os.path.join(tmp, "a"), [start()], [(0, 1)])
        rb = write_run(os.path.join(tmp, "b"), [start()], [(0, 1)], ["glasses", "yaw=-0.6", "smile"])
        for args in ((ra, rb), (ra, os.path.join(tmp, "none"))):
            try:
                cer.compare(*args)
            except SystemExit as e:
                assert "steps" in str(e) or "no evaluate_edit.py parts" in str(e), e
            else:
                raise AssertionError(f"compared {args}")


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
