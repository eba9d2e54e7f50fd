"""scripts/faces/compare_sample_runs.py: two results folders side by side, in the table's order, only the conditions
both hold, with hand-checked Wilson intervals and bold where a share meets its bar. Runs under pytest or directly."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import compare_sample_runs as c  # noqa: E402


def write(folder, expr, acc, seconds, n=256):
    folder.mkdir(exist_ok=True)
    (folder / (c.slug(expr) + ".json")).write_text(json.dumps({"key": {"n": n},
                                                                "result": {"acc": acc, "seconds": seconds}}))


def test_only_conditions_both_hold_in_the_tables_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write(a, "NOT smile", 1.0, 29)
    write(a, "beard AND hat", 0.78125, 897)    # 200 of 256
    write(b, "beard AND hat", 0.875, 910, n=128)  # another size: its interval is at n = 128
    write(b, "smile", 0.98, 18)                # only in b: left out
    write(a, "hat", 0.96, 10)
    write(b, "hat", 0.94, 12)
    text = c.table(str(a), str(b), ("a", "b")).split("\n")
    assert text[0] == "| condition (bar) | a | b | seconds of lace |"
    assert [line.split("`")[1] for line in text[2:]] == ["hat", "beard AND hat"]   # the table's order
    # hat: 0.96 meets 0.95, 0.94 does not; Wilson at n = 256 by hand: 0.96 -> [0.928, 0.978], 0.94 -> [0.904, 0.963]
    assert text[2] == "| `hat` (0.95) | **0.960** [0.93, 0.98] | 0.940 [0.90, 0.96] | 10 / 12 |"
    # beard AND hat: 0.875 at n = 128 by hand: [0.806, 0.922]; at 256 it would be [0.829, 0.909]
    assert text[3].startswith("| `beard AND hat` (0.90) | 0.781 [0.73, 0.83] | 0.875 [0.81, 0.92] | 897 / 910 |")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
