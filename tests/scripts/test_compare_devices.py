"""scripts/device/compare_devices.py: the row it prints for two hand-made output folders (lace sample records
and lace edit records), against hand-computed differences. Runs under pytest or directly."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "device", "compare_devices.py")


def write(folder, name, record, pixel):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".json"), "w") as f:
        json.dump(record, f)
    Image.fromarray(np.full((4, 4, 3), pixel, np.uint8)).save(os.path.join(folder, name + ".png"))


def row(*args):
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, check=True).stdout
    return [c.strip() for c in out.strip().strip("|").split("|")]


def test_sample_folders():
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "cpu"), os.path.join(d, "cuda")
        for i, (dz, dp, dpix) in enumerate([(0.25, 0.5, 2), (0.5, 0.125, 4)]):
            name = f"00007-{i:04d}"
            write(a, name, {"z": [0.0, 1.0], "attributes": {"smile": 0.5, "hair": {"red": 0.25}},
                            "stats": {"nfe": 10}}, 100)
            write(b, name, {"z": [0.0, 1.0 + dz], "attributes": {"smile": 0.5, "hair": {"red": 0.25 + dp}},
                            "stats": {"nfe": 20}}, 100 + dpix)
        # max |dz| 0.5, max |dp| 0.5, pixels 2 and 4: mean 3, max 4, NFE 10 / 20
        assert row(a, b) == ["2", "5.00e-01", "5.00e-01", "3.000 (max 4.000)", "10.0 / 20.0"]


def test_edit_folders():
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "cpu"), os.path.join(d, "cuda")
        base = {"z": [1.0], "ws": [[0.0, 0.0]], "attributes": {"glasses": 0.9}, "stats": {"nfe": 30}}
        write(a, "00042-0000-step0", base, 50)
        write(b, "00042-0000-step0", base, 50)
        tries = {"solved": 1, "kept": 1, "polished": False}
        write(a, "00042-0000-step1", {**base, "tries": tries}, 50)
        write(b, "00042-0000-step1", {**base, "ws": [[0.0, -0.75]], "tries": {**tries, "solved": 2}}, 51)
        write(a, "00042-0000-strip", base, 0)  # a strip has no step number: not read
        # w+ differs by 0.75 on step 1, which also took another number of solves; pixels 0 and 1
        assert row("--edit", a, b) == ["2", "0.00e+00", "7.50e-01", "0.00e+00", "0.500 (max 1.000)", "0 of 1",
                                       "30.0 / 30.0"]


def test_empty_folder_is_one_line():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, SCRIPT, "--edit", d, d], capture_output=True, text=True)
        assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and "no records" in r.stderr


if __name__ == "__main__":
    for test in (test_sample_folders, test_edit_folders, test_empty_folder_is_one_line):
        test()
    print("ok")
