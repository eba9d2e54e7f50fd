"""Files written whole or not at all.

Every script that writes a model, a checkpoint, a bundle file or a report writes it under a temporary name
beside the target and renames it into place (os.replace is atomic on POSIX). A crash, a full disk or a
Ctrl-C part way through leaves the previous file as it was and no half-written one; a reader (lace, a
training run's monitor) never sees a partial file.

    with replacing("model.pt") as tmp:   # tmp = "model.tmp.pt": the extension stays, for writers
        torch.save(obj, tmp)             # that infer the format from it (PIL, numpy.savez)
    write_json("report.json", {...})
    save_torch(checkpoint, "checkpoint.pt")
"""
import contextlib
import json
import os


@contextlib.contextmanager
def replacing(path, per_process=False):
    """Yields a temporary path beside `path`; on a clean exit it replaces `path`, on an error it is removed.
    per_process: the temporary's name holds this process's id, for a file that two processes may write at once
    (each writes its own temporary; the last rename wins, and every rename puts a whole file in place)."""
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{os.getpid() if per_process else ''}{ext}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    with replacing(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def save_torch(obj, path):
    """torch.save, whole or not at all (torch is imported here only, so the JSON helpers do not need it)."""
    import torch
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def write_json(path, obj, indent=2):
    """JSON with a final newline."""
    write_text(path, json.dumps(obj, indent=indent) + "\n")
