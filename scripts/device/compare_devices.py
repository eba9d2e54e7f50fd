#!/usr/bin/env python3
"""Compares two `lace sample` output folders of the same command on two devices (cuda_check.sh): the final
latents and attribute probabilities in the records, and the pixels. Prints one markdown table row.

    python3 compare_devices.py CPU_DIR CUDA_DIR
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


def main():
    a_dir, b_dir = sys.argv[1], sys.argv[2]
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(a_dir, "*-[0-9][0-9][0-9][0-9].json")))
    if not names:
        sys.exit(f"compare_devices: no records in {a_dir}")
    dz, dp, dpix, nfe_a, nfe_b = [], [], [], [], []
    for name in names:
        ra, rb = (json.load(open(os.path.join(d, name))) for d in (a_dir, b_dir))
        dz.append(np.abs(np.array(ra["z"]) - np.array(rb["z"])).max())
        pa, pb = leaves(ra["attributes"]), leaves(rb["attributes"])
        dp.append(max(abs(pa[k] - pb[k]) for k in pa))
        nfe_a.append(ra["stats"]["nfe"])
        nfe_b.append(rb["stats"]["nfe"])
        ia, ib = (np.asarray(Image.open(os.path.join(d, name[:-5] + ".png")).convert("RGB"), np.float64)
                  for d in (a_dir, b_dir))
        dpix.append(np.abs(ia - ib).mean())
    print(f"| {len(names)} | {max(dz):.2e} | {max(dp):.2e} | {np.mean(dpix):.3f} (max {max(dpix):.3f}) | "
          f"{np.mean(nfe_a):.1f} / {np.mean(nfe_b):.1f} |")


if __name__ == "__main__":
    main()
