"""scripts/faces/retry_readings.py: the per-image reading of lace's retries, checked on hand-made records and
readings (hand-counted shares), and on a folder of PNGs with records. Runs under pytest or directly."""
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import retry_readings as rr  # noqa: E402


def record(index, p, kept, solved, p_image=None, expr="hat AND yaw=0.6"):
    r = {"index": index, "p": p, "min_p": 0.9, "tries": {"kept": kept, "solved": solved},
         "condition": {"expression": expr}}
    if p_image is not None:
        r["p_image"] = p_image
    return r


RECORDS = [record(0, 0.95, 0, 1, 0.97),   # verified at the first solve
           record(1, 0.95, 3, 4, 0.85),   # the verifier never passed it: the best of four
           record(2, 0.92, 2, 3, 0.91),   # verified at the third solve
           record(3, 0.50, 1, 4)]         # no verifier: p alone, below min_p
PRED = {"hat": np.array([1, 1, 0, 1]), "yaw": np.array([0.6, 0.9, 0.55, 0.5])}  # right: yes, no (yaw), no (hat), yes


def test_the_shares_by_hand():
    t = rr.retry_table("hat AND yaw=0.6", PRED, RECORDS)
    assert t["acc"] == 0.5 and t["n"] == 4 and t["mean_solves"] == 3.0
    assert t["verified_within"] == {1: 0.25, 2: 0.25, 4: 0.5}  # up to the most solves any image took
    assert t["acc_verified"] == 0.5 and t["acc_rest"] == 0.5
    assert t["literal_acc"] == {"hat": 0.75, "yaw=0.6": 0.75}
    one = rr.retry_table("hat", {"hat": np.array([1, 0, 1, 1])}, RECORDS)
    assert one["literal_acc"] == {} and one["acc"] == 0.75
    line = rr.markdown([t]).split("\n")[2]
    assert line == ("| `hat AND yaw=0.6` | 4 | 0.500 | 0.25 / 0.25 / 0.50 | 0.500 | 0.500 | "
                    "`hat` 0.750, `yaw=0.6` 0.750 | 3.0 |")


def test_all_verified_leaves_no_rest():
    records = [record(i, 0.99, 0, 1, 0.99) for i in range(3)]
    t = rr.retry_table("hat", {"hat": np.array([1, 1, 0])}, records)
    assert t["acc_rest"] is None and t["verified_within"] == {1: 1.0}
    assert "| n/a |" in rr.markdown([t])


def write_run(folder, records):
    folder.mkdir()
    for r in records:
        stem = folder / f"00001-{r['index']:04d}"
        Image.fromarray(np.full((64, 64, 3), r["index"], np.uint8)).save(f"{stem}.png")
        stem.with_suffix(".json").write_text(json.dumps(r))


def test_a_folder_is_read_in_index_order_and_must_hold_one_condition(tmp_path):
    write_run(tmp_path / "run", list(reversed(RECORDS)))
    expr, images, records = rr.read_run(str(tmp_path / "run"))
    assert expr == "hat AND yaw=0.6" and [r["index"] for r in records] == [0, 1, 2, 3]
    assert [int(im[0, 0, 0]) for im in images] == [0, 1, 2, 3]
    write_run(tmp_path / "mixed", [RECORDS[0], record(1, 0.9, 0, 1, expr="smile")])
    with pytest.raises(SystemExit, match="several conditions"):
        rr.read_run(str(tmp_path / "mixed"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no images"):
        rr.read_run(str(tmp_path / "empty"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
