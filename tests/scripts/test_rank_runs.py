"""scripts/faces/rank_runs.py: coverage ratios against hand-computed values, and the ranking of run folders
written here. Runs under pytest or directly."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import rank_runs  # noqa: E402
import render  # noqa: E402


def freqs(glasses, grey, yaw_span):
    """A labeler summary: every binary attribute at 0.5 except glasses; hair even except grey."""
    out = {name: 0.5 for name in render.BINARY}
    out["glasses"] = glasses
    rest = (1 - grey) / (len(render.HAIR_CLASSES) - 1)
    out["hair"] = {c: (grey if c == "grey" else rest) for c in render.HAIR_CLASSES}
    for name in render.CONTINUOUS:
        out[name] = {"mean": 0.0, "std": 0.1, "p05": -yaw_span / 2, "p95": yaw_span / 2}
    return out


def test_ratios_by_hand():
    data = freqs(glasses=0.24, grey=0.2, yaw_span=1.6)
    r = rank_runs.ratios(freqs(glasses=0.06, grey=0.1, yaw_span=0.8), data)
    assert r["glasses"] == 0.25                       # 0.06 / 0.24
    assert r["NOT glasses"] == 1.0                    # 0.94 / 0.76 capped at 1
    assert r["hair=grey"] == 0.5                      # 0.1 / 0.2
    assert r["hair=black"] == 1.0                     # 0.225 / 0.2 capped
    assert r["yaw span"] == 0.5                       # 0.8 / 1.6
    assert r["smile"] == 1.0 and r["NOT smile"] == 1.0


def test_rank_orders_by_the_weakest_value_and_reports_runs_without_snapshots():
    data = freqs(glasses=0.24, grey=0.2, yaw_span=1.6)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"good": freqs(0.2, 0.18, 1.5), "bad": freqs(0.01, 0.2, 1.6)}
        for name, samples in runs.items():
            os.makedirs(os.path.join(tmp, name))
            with open(os.path.join(tmp, name, "log.jsonl"), "w") as f:
                f.write(json.dumps({"step": 1, "kimg": 1.0}) + "\n")  # a line without frequencies is skipped
                f.write(json.dumps({"step": 2, "kimg": 2.0, "frequencies": {"samples": samples, "data": data}}) + "\n")
        os.makedirs(os.path.join(tmp, "empty"))
        rows = rank_runs.rank([os.path.join(tmp, n) for n in ("bad", "empty", "good")])
        assert [os.path.basename(x["run"]) for x in rows] == ["good", "bad", "empty"]
        assert rows[0]["kimg"] == 2.0 and abs(rows[0]["coverage"] - 0.833) < 1e-3  # glasses 0.2 / 0.24
        assert rows[1]["worst"] == "glasses" and abs(rows[1]["coverage"] - 0.042) < 1e-3
        assert rows[2]["coverage"] < 0
        # The command line: the table on stdout, the best run's folder in --best-to's file.
        best_file = os.path.join(tmp, "best.txt")
        out = subprocess.run([sys.executable, rank_runs.__file__, *(os.path.join(tmp, n) for n in ("bad", "good")),
                              "--best-to", best_file], check=True, capture_output=True, text=True).stdout
        assert out.count("\n") == 4 and "| glasses |" in out  # header, rule, two runs
        with open(best_file) as f:
            assert f.read() == os.path.join(tmp, "good") + "\n"


def test_best_snapshot_looks_at_every_snapshot_of_every_run():
    data = freqs(glasses=0.24, grey=0.2, yaw_span=1.6)
    with tempfile.TemporaryDirectory() as tmp:
        # run a peaks at step 2 (glasses 0.2: coverage 0.833) and drifts; run b ties a's coverage at step 5
        # (glasses 0.2) but with a narrower yaw span (mean ratio lower); step 9 of b has no file.
        snaps = {"a": [(1, freqs(0.1, 0.2, 1.6)), (2, freqs(0.2, 0.2, 1.6)), (3, freqs(0.05, 0.2, 1.6))],
                 "b": [(5, freqs(0.2, 0.2, 1.4)), (9, freqs(0.24, 0.2, 1.6))]}
        for name, lines in snaps.items():
            os.makedirs(os.path.join(tmp, name, "snapshots"))
            with open(os.path.join(tmp, name, "log.jsonl"), "w") as f:
                for step, samples in lines:
                    f.write(json.dumps({"step": step, "kimg": step / 10,
                                        "frequencies": {"samples": samples, "data": data}}) + "\n")
                    if step != 9:
                        open(rank_runs.snapshot_file(os.path.join(tmp, name), step), "w").close()
        runs = [os.path.join(tmp, n) for n in ("b", "a")]
        best = rank_runs.best_snapshot(runs)
        assert best["file"] == os.path.join(tmp, "a", "snapshots", "g_ema-0000002.pt")
        assert abs(best["coverage"] - 0.833) < 1e-3
        # b's last line scores better, but its file is missing: the last-snapshot ranking still prefers b.
        assert os.path.basename(rank_runs.rank(runs)[0]["run"]) == "b"
        out_file = os.path.join(tmp, "best-snapshot.txt")
        subprocess.run([sys.executable, rank_runs.__file__, *runs, "--best-snapshot-to", out_file], check=True,
                       capture_output=True)
        with open(out_file) as f:
            assert f.read() == best["file"] + "\n"
        assert rank_runs.best_snapshot([os.path.join(tmp, "missing")]) is None
        failed = subprocess.run([sys.executable, rank_runs.__file__, os.path.join(tmp, "missing"),
                                 "--best-snapshot-to", out_file], capture_output=True, text=True)
        assert failed.returncode == 1 and "no run has a scored snapshot" in failed.stderr


def agree(smile, yaw_gap):
    """A logged labeler-checker agreement: every label agrees but smile; age agrees, yaw differs by yaw_gap."""
    return {"smile": smile, "glasses": 1.0, "beard": 1.0, "hat": 1.0, "hair": 1.0, "age |diff|": 0.0,
            "yaw |diff|": yaw_gap}


def test_choose_by_agreement_among_snapshots_that_cover_enough():
    data = freqs(glasses=0.24, grey=0.2, yaw_span=1.6)
    with tempfile.TemporaryDirectory() as tmp:
        # step 1: coverage 0.833, agreement (0.8 + 4) / 5 - 0.1 / 2 = 0.91
        # step 2: coverage 1.0,   agreement (0.6 + 4) / 5 - 0.3 / 2 = 0.77
        # step 3: coverage 0.25,  agreement 1.0 (covers too little: never chosen by agreement)
        lines = [(1, freqs(0.2, 0.2, 1.6), agree(0.8, 0.1)), (2, freqs(0.24, 0.2, 1.6), agree(0.6, 0.3)),
                 (3, freqs(0.06, 0.2, 1.6), agree(1.0, 0.0))]
        run = os.path.join(tmp, "r")
        os.makedirs(os.path.join(run, "snapshots"))
        with open(os.path.join(run, "log.jsonl"), "w") as f:
            for step, samples, a in lines:
                f.write(json.dumps({"step": step, "kimg": step, "frequencies": {
                    "samples": samples, "data": data, "agreement": {"samples": a, "data": agree(1.0, 0.0)}}}) + "\n")
                open(rank_runs.snapshot_file(run, step), "w").close()
        rows = rank_runs.snapshot_rows([run])
        assert [x["agreement"] for x in rows] == [0.91, 0.77, 1.0]
        assert rank_runs.best_snapshot([run])["step"] == 2                                   # by coverage
        assert rank_runs.best_snapshot([run], "agreement")["step"] == 1                      # coverage >= 0.5
        assert rank_runs.best_snapshot([run], "agreement", min_coverage=0.2)["step"] == 3
        assert rank_runs.best_snapshot([run], "agreement", min_coverage=1.01)["step"] == 2  # none qualifies
        out = subprocess.run([sys.executable, rank_runs.__file__, run, "--snapshots"], check=True,
                             capture_output=True, text=True).stdout
        assert out.count("\n") == 5 and "| 0.91 |" in out


if __name__ == "__main__":
    test_ratios_by_hand()
    test_rank_orders_by_the_weakest_value_and_reports_runs_without_snapshots()
    test_best_snapshot_looks_at_every_snapshot_of_every_run()
    test_choose_by_agreement_among_snapshots_that_cover_enough()
    print("rank_runs tests passed")
