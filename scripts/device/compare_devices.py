#!/usr/bin/env python3
"""Compares two output folders of the same lace command on two devices (cuda_check.sh): the final latents and
attribute probabilities in the records, and the pixels. Prints one markdown table row.

    python3 compare_devices.py CPU_DIR CUDA_DIR          # lace sample: records NNNNN-IIII.json
    python3 compare_devices.py --edit CPU_DIR CUDA_DIR   # lace edit: records NNNNN-IIII-step{k}.json

--edit adds the w+ latents (`ws`) and how often both devices took the same number of solves and the same
polish decision (`tries`): a step near `min_p` may be solved again on one device and not on the other, and
from there its start's later steps differ by more than rounding.
"""
import glob
import json
import os
import sys

import numpy as np
from PIL import Image


def leaves(x, prefix=""):
    """Flattens the record's attribute tree to {name: probability}."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            out.update(leaves(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: float(x)}


def max_abs(a, b):
    return float(np.abs(np.array(a, np.float64) - np.array(b, np.float64)).max())


def compare(a_dir, b_dir, pattern):
    """Per record of a_dir matching pattern: {dz, dws, dp, dpix, nfe_a, nfe_b, same_tries} (dws and same_tries
    only where the records hold them)."""
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(a_dir, pattern)))
    if not names:
        sys.exit(f"compare_devices: no records {pattern} in {a_dir}")
    rows = []
    for name in names:
        ra, rb = (json.load(open(os.path.join(d, name))) for d in (a_dir, b_dir))
        pa, pb = leaves(ra["attributes"]), leaves(rb["attributes"])
        ia, ib = (np.asarray(Image.open(os.path.join(d, name[:-5] + ".png")).convert("RGB"), np.float64)
                  for d in (a_dir, b_dir))
        row = {"dz": max_abs(ra["z"], rb["z"]), "dp": max(abs(pa[k] - pb[k]) for k in pa),
               "dpix": float(np.abs(ia - ib).mean()), "nfe_a": ra["stats"]["nfe"], "nfe_b": rb["stats"]["nfe"]}
        if "ws" in ra:
            row["dws"] = max_abs(ra["ws"], rb["ws"])
        if "tries" in ra:
            row["same_tries"] = ra["tries"] == rb["tries"]
        rows.append(row)
    return rows


def main():
    args = sys.argv[1:]
    edit = args[:1] == ["--edit"]
    if edit:
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__.strip())
    rows = compare(*args, "*-step[0-9]*.json" if edit else "*-[0-9][0-9][0-9][0-9].json")
    col = lambda key: [r[key] for r in rows if key in r]  # noqa: E731
    dpix = col("dpix")
    cells = [str(len(rows)), f"{max(col('dz')):.2e}"]
    if edit:
        cells.append(f"{max(col('dws')):.2e}")
    cells += [f"{max(col('dp')):.2e}", f"{np.mean(dpix):.3f} (max {max(dpix):.3f})"]
    if edit:
        same = col("same_tries")
        cells.append(f"{sum(same)} of {len(same)}")
    cells.append(f"{np.mean(col('nfe_a')):.1f} / {np.mean(col('nfe_b')):.1f}")
    print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
