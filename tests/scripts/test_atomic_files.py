"""scripts/atomic_files.py: a file is replaced whole or left as it was. Runs under pytest or directly."""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import atomic_files  # noqa: E402


def test_write_json_replaces_the_file():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "report.json")
        atomic_files.write_json(path, {"a": 1})
        atomic_files.write_json(path, {"a": 2}, indent=1)
        with open(path) as f:
            text = f.read()
        assert json.loads(text) == {"a": 2} and text.endswith("\n")
        assert os.listdir(d) == ["report.json"]  # no temporary file left beside it


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.pt")
        atomic_files.write_text(path, "old")
        try:
            with atomic_files.replacing(path) as tmp:
                with open(tmp, "w") as f:
                    f.write("half of the ne")
                raise OSError("disk full")
        except OSError as e:
            assert str(e) == "disk full"  # the writer's error reaches the caller
        else:
            raise AssertionError("the error was swallowed")
        with open(path) as f:
            assert f.read() == "old"
        assert os.listdir(d) == ["model.pt"]


def test_the_temporary_keeps_the_extension():
    """numpy.savez and PIL choose the format from the extension; the temporary must keep it."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "pairs.npz")
        with atomic_files.replacing(path) as tmp:
            assert tmp == os.path.join(d, "pairs.tmp.npz")
            np.savez(tmp, x=np.arange(3))
        with np.load(path) as f:
            assert f["x"].tolist() == [0, 1, 2]
        assert os.listdir(d) == ["pairs.npz"]


def test_a_per_process_temporary_names_the_process_and_keeps_the_extension():
    """Two processes writing the same file at once must not share a temporary (one would rename the other's half-written
    file into place, and the other's rename would then fail)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "readings.npz")
        with atomic_files.replacing(path, per_process=True) as tmp:
            assert tmp == os.path.join(d, f"readings.tmp{os.getpid()}.npz")
            np.savez(tmp, x=np.arange(2))
        with np.load(path) as f:
            assert f["x"].tolist() == [0, 1]
        assert os.listdir(d) == ["readings.npz"]


def test_save_torch_writes_a_loadable_file():
    import torch
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "checkpoint.pt")
        atomic_files.save_torch({"step": 3, "w": torch.arange(4.0)}, path)
        back = torch.load(path)
        assert back["step"] == 3 and back["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
        assert os.listdir(d) == ["checkpoint.pt"]


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
