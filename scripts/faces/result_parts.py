"""Results measured in parts: each part (a condition of evaluate.py, a chunk of starts of evaluate_edit.py)
is a JSON file {"key": ..., "result": ...} written as soon as it is made, and read back only under the same
key, so a long evaluation can stop, resume, span sessions or run in two processes side by side, and never
mixes figures of different bundles, evaluators or lace builds."""
import glob
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # scripts/, for atomic_files
import atomic_files  # noqa: E402


# What only `lace edit` reads: its sources (command, job, sequence file, energy), the bundle's "editing"
# section and the edit verifier it names (edit_only_files). A change there cannot change what `lace sample` draws, so evaluate.py's key (sampling=True)
# leaves them out and an edit fix does not throw away hours of sampling measurements. A new edit-only file
# missing here only costs a re-measure.
EDIT_ONLY_SOURCES = ("src/cli/edit_command.cpp", "src/jobs/edit_job.cpp", "src/jobs/edit_sequence.cpp",
                     "src/sampling/edit_energy.cpp", "include/lace/jobs/edit_job.hpp",
                     "include/lace/jobs/edit_sequence.hpp", "include/lace/sampling/edit_energy.hpp")


def without_editing(path, data):
    """A bundle file's bytes as sampling reads them: lace.json without its "editing" section."""
    if os.path.basename(path) != "lace.json":
        return data
    manifest = json.loads(data)
    manifest.pop("editing", None)
    return json.dumps(manifest, sort_keys=True).encode()


def edit_only_files(model):
    """The bundle's files only `lace edit` loads: lace.json's editing.verifier, unless `lace sample` loads it too."""
    try:
        with open(os.path.join(model, "lace.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return set()
    edit = manifest.get("editing", {}).get("verifier", {}).get("file")
    if not edit or edit == manifest.get("verifier", {}).get("file"):
        return set()
    return {os.path.join(model, edit)}


def models_and_lace_key(model, evaluator, sampling=False):
    """The part of a result's key that is not a setting: digests of the bundle's files (its cards, *.md,
    aside), of the evaluator and of lace's sources in this checkout; for a sampling result (sampling=True)
    without what only `lace edit` reads."""
    root = os.path.dirname(os.path.dirname(HERE))
    skip = {os.path.join(root, p) for p in EDIT_ONLY_SOURCES} if sampling else set()
    sources = ([os.path.join(root, "CMakeLists.txt")]
               + glob.glob(os.path.join(root, "src", "**", "*"), recursive=True)
               + glob.glob(os.path.join(root, "include", "**", "*"), recursive=True))
    edit_files = edit_only_files(model) if sampling else set()
    return {"bundle": files_digest([f for f in glob.glob(os.path.join(model, "*"))
                                    if not f.endswith(".md") and f not in edit_files],
                                   without_editing if sampling else None),
            "evaluator": files_digest([evaluator]),
            "lace_sources": files_digest([f for f in sources if f not in skip])}


def files_digest(paths, read_as=None):
    """sha256 over the files' names (relative to their common folder) and contents, in sorted order; read_as(path,
    bytes) gives the bytes to digest in place of a file's own."""
    files = sorted(p for p in paths if os.path.isfile(p))
    if not files:
        sys.exit(f"no files to read at {paths[0] if paths else '(nothing)'}")
    base = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in files])
    h = hashlib.sha256()
    for p in files:
        h.update(os.path.relpath(os.path.abspath(p), base).encode() + b"\0")
        with open(p, "rb") as f:
            data = f.read()
        h.update(read_as(p, data) if read_as else data)
    return h.hexdigest()[:16]


def save_part(results, name, key, value):
    os.makedirs(results, exist_ok=True)
    atomic_files.write_json(os.path.join(results, name + ".json"), {"key": key, "result": value}, indent=1)


def load_part(results, name, key):
    """The part's result if it was made under `key`; None if it is missing, made under another key, or not
    readable (it is then measured again)."""
    try:
        with open(os.path.join(results, name + ".json")) as f:
            part = json.load(f)
    except (OSError, ValueError):
        return None
    return part.get("result") if isinstance(part, dict) and part.get("key") == key else None
