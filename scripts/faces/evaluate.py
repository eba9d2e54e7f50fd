#!/usr/bin/env python3
"""Measure the face bundle through the lace binary, judged by the evaluator (which never guides sampling).

  /usr/bin/python3 scripts/faces/evaluate.py --lace build/lace --model models/faces \
      --evaluator models/faces/evaluator.pt --report docs/faces-evaluation.md [-n 256]

Every image is made by `lace sample` as a user would run it (default settings of the bundle), read back
from its PNG and scored by the evaluator. The report (markdown, with a contact sheet per condition under
<report>-sheets/) holds:
- coverage: the evaluator's rates on 2,000 unconditional samples beside the data's true rates; each
  discrete value must reach half its data rate, each continuous attribute must span its range;
- Frechet distance (FD) on the evaluator's pooled features: unconditional samples vs real images, beside
  the FD between two real sets of the same sizes (the floor);
- ACC per condition (the share of samples whose evaluator reading satisfies the whole expression) with
  the thresholds of issue 3, and the conditional FD against real images that satisfy the same condition
  (true attributes), beside the unconditional FD at the same sample size and beside the FD of unguided
  samples: the first n of --unguided unconditional samples that the evaluator reads as satisfying the
  condition (where that many do), what the generator draws for the condition with no guidance at all,
  and beside the FD of an exact sampler of lace's own target: the unconditional samples accepted with
  probability exp(-E), E the condition's energy at the run's guidance as the latent classifier reads each
  one (its record), what lace's ODE would give if it sampled its target exactly.
Continuous targets count as met within --tolerance of the target on the attribute's scale.

The full table takes hours (the rare combinations retry most images), so it is measured in parts: each
condition's result (and the unconditional one) goes to <report>-results/<condition>.json as soon as it is
made, under a key of the settings, the bundle's and the evaluator's files and lace's sources; a rerun with
the same key keeps those parts and measures only the rest, and the report covers every part made so far
(listing the conditions not measured yet). So a run can stop and resume, span sessions, or be split over
two processes on disjoint --conditions with --threads 1 each (then --report-only writes the whole report).
"""
import argparse
import atexit
import glob
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import image_classifiers as ic  # noqa: E402
import render  # noqa: E402
from result_parts import load_part, models_and_lace_key, save_part  # noqa: E402

# (expression, group, threshold). Groups follow issue 3's "what it must show".
CONDITIONS = (
    [(b, "single", 0.95) for b in render.BINARY]
    + [(f"hair={c}", "single", 0.95) for c in render.HAIR_CLASSES]
    + [(f"age={v}", "single", 0.95) for v in (0.2, 0.5, 0.8)]
    + [(f"yaw={v}", "single", 0.95) for v in (-0.6, 0.0, 0.6)]
    + [(f"{a} AND {b}", "and", 0.90) for i, a in enumerate(render.BINARY) for b in render.BINARY[i + 1:]]
    + [("glasses AND hair=red", "and", 0.90), ("smile AND age=0.8", "and", 0.90),
       ("hat AND yaw=0.6", "and", 0.90)]
    + [("hat AND glasses AND beard", "rare", 0.80), ("hat AND glasses AND beard AND NOT smile", "rare", 0.80),
       ("smile AND beard AND hat", "rare", 0.80), ("hat AND hair=red", "rare", 0.80),
       ("beard AND hat AND hair=red", "rare", 0.80), ("beard AND hat AND hair=blonde", "rare", 0.80),
       ("hair=red AND age=0.8", "rare", 0.80), ("glasses AND beard AND age=0.2", "rare", 0.80)]
    + [(f"NOT {b}", "not", 0.95) for b in render.BINARY]
    + [("smile OR glasses", "or", 0.95), ("beard OR hat", "or", 0.95), ("hair=red OR hair=blonde", "or", 0.95)]
)

GROUP_TITLES = {"single": "Single attribute values", "and": "Two-attribute ANDs",
                "rare": "Rare combinations (under 1% of the data, see faces-data-card.md)",
                "not": "NOT", "or": "OR"}


# ----------------------------------------------------------------------------------------------
# Expressions: the few forms used above (OR of ANDs of possibly negated atoms), judged on readings

def satisfied(expr, reading, tolerance):
    """Boolean array: which samples satisfy expr. reading: {name: array} (binary 0/1, hair class index,
    continuous values), as image_classifiers.predictions or render's true attributes."""
    return np.any([np.all([literal(t.strip(), reading, tolerance) for t in term.split(" AND ")], axis=0)
                   for term in expr.split(" OR ")], axis=0)


def literal(text, reading, tolerance):
    if text.startswith("NOT "):
        return ~literal(text[4:], reading, tolerance)
    if "=" in text:
        name, value = text.split("=")
        if name == "hair":
            return reading["hair"] == render.HAIR_CLASSES.index(value)
        return np.abs(reading[name] - float(value)) <= tolerance
    return reading[text].astype(bool)


# ----------------------------------------------------------------------------------------------
# How sure a share is

def wilson_interval(share, n, z=1.96):
    """The Wilson score interval (95% at z = 1.96) of a share measured on n samples: the range of true rates
    that share is consistent with. It stays inside 0..1 and is sound at shares near 0 or 1, where the normal
    approximation is not (0 of 10 gives 0..0.28, not 0..0)."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def share_text(share, n):
    """'0.855 [0.81, 0.89]': a share and its 95% Wilson interval, as the reports print them."""
    lo, hi = wilson_interval(share, n)
    return f"{share:.3f} [{lo:.2f}, {hi:.2f}]"


# ----------------------------------------------------------------------------------------------
# Frechet distance

def frechet_distance(a, b):
    """FD between Gaussians fitted to feature sets a [n, d] and b [m, d] (float64)."""
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # trace of sqrt(ca cb) from the eigenvalues of sqrt(ca) cb sqrt(ca), which is symmetric
    vals, vecs = np.linalg.eigh(ca)
    sqrt_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    m = sqrt_a @ cb @ sqrt_a
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt)


# ----------------------------------------------------------------------------------------------
# Running lace and reading its PNGs

def read_png(path):
    """An RGB image written by lace, as uint8 [H, W, 3] (lace's PNGs carry their record in a text chunk)."""
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


LACE_BATCH = 64
RUN_STAMP = "evaluate-run.json"  # what a folder's images were drawn by; lace ignores names not starting with digits


def run_lace(lace, model, expr, n, seed, out_dir, extra=(), global_args=(), resume_key=None, start=0):
    """Images start..start+n-1 of `lace sample` into out_dir. Returns (images, seconds, records), in index order.

    A run stopped part way leaves some images in out_dir, and lace numbers new files on rather than overwrite them.
    Without resume_key the folder is emptied first. With it (JSON naming what the images depend on beyond the
    command: evaluate.py passes its key of the bundle, lace's sources and the settings), a folder left by a stopped
    run of the same command, n and key keeps its complete first batches (lace writes them batch by batch) and lace
    draws only the rest from --start-index. An image depends only on (seed, index), so they are the images an
    unstopped run draws; seconds then count the stopped runs up to their last image written."""
    head = [lace, *global_args, "-q", "sample", "--model", model]
    tail = ["-b", str(LACE_BATCH), "--seed", str(seed), "--out", out_dir]
    if expr:
        tail += ["--attrs", expr, *extra]
    stamp = {"command": head + tail, "start": start, "n": n, "key": resume_key}
    first, seconds_before = resumable(out_dir, stamp) if resume_key is not None else (0, 0.0)
    if first == 0:
        shutil.rmtree(out_dir, ignore_errors=True)
        os.makedirs(out_dir)
    atomic_files.write_json(os.path.join(out_dir, RUN_STAMP),
                            dict(stamp, started=time.time(), seconds_before=seconds_before))
    cmd = head + ["-n", str(n - first)] + tail
    if start + first:
        cmd += ["--start-index", str(start + first)]
    t0 = time.perf_counter()
    if first < n:
        code = subprocess.run(cmd).returncode
        if code != 0:  # lace has printed its one line; add which run it was, without a traceback
            raise SystemExit(f"lace sample failed (exit {code}) on condition {expr or '(unconditional)'!r}, "
                             f"seed {seed}: {shlex.join(cmd)}")
    seconds = seconds_before + time.perf_counter() - t0
    found = indexed_images(out_dir)
    wanted = range(start, start + n)
    if sorted(found) != list(wanted):
        raise SystemExit(f"expected images {start}..{start + n - 1} in {out_dir}, found {len(found)}")
    images, records = read_images(found, wanted)
    return images, seconds, records


def indexed_images(out_dir):
    """{index: path without extension} of every image in out_dir with its record beside it."""
    found = {}
    for path in glob.glob(os.path.join(out_dir, "*.json")):
        stem = os.path.splitext(path)[0]
        if os.path.basename(path) == RUN_STAMP or not os.path.exists(stem + ".png"):
            continue
        try:
            with open(path) as f:
                index = json.load(f)["index"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found[index] = stem
    return found


def read_images(found, indices):
    """(images, records) of images `indices`, in that order, from indexed_images' {index: path without extension}."""
    records = []
    for i in indices:  # the record lace writes beside each PNG
        with open(found[i] + ".json") as r:
            records.append(json.load(r))
    return np.stack([read_png(found[i] + ".png") for i in indices]), records


def resumable(out_dir, stamp):
    """(k, seconds): the first k images (start..start+k-1) that a stopped run of the same stamp left complete in
    out_dir, and the seconds it and the runs before it took up to the last of them; (0, 0.0) where there is nothing
    to keep. Images past the first missing index are removed (they are drawn again)."""
    try:
        with open(os.path.join(out_dir, RUN_STAMP)) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return 0, 0.0
    if not isinstance(old, dict) or {k: old.get(k) for k in stamp} != json.loads(json.dumps(stamp)):
        return 0, 0.0
    found, start = indexed_images(out_dir), stamp["start"]
    k = 0
    while start + k in found:
        k += 1
    k = min(k, stamp["n"])
    if k < stamp["n"]:  # whole batches: each one then solves the rows an unstopped run's batch solves
        k -= k % LACE_BATCH
    for index, stem in found.items():
        if not start <= index < start + k:
            for ext in (".png", ".json"):
                os.remove(stem + ext)
    if k == 0:
        return 0, 0.0
    last = max(os.path.getmtime(found[start + i] + ".png") for i in range(k))
    return k, float(old["seconds_before"]) + max(0.0, last - float(old["started"]))


def latent_satisfaction(records):
    """P(condition) of each sample under the latent classifier that guided it (the record's p; exp(-E) in
    records older than p): near 1 where the sampler reached what the classifier calls the condition, so a
    low ACC with a high value here is the classifier (or the generator) disagreeing with the evaluator, and
    a low value is the sampler or a classifier that has no such region."""
    return np.array([r["p"] if "p" in r else math.exp(r["log_p"]) for r in records])


@torch.no_grad()
def score(evaluator, images, batch=500):
    outs, feats = [], []
    for i in range(0, len(images), batch):
        x = ic.to_input(images[i:i + batch])
        outs.append(evaluator(x))
        feats.append(evaluator.features(x).flatten(1))  # pooled already for the evaluator; maps for the labeler
    return ic.predictions(torch.cat(outs)), torch.cat(feats).double().numpy()


# Real images: a seed no network was trained on; two disjoint sets give the FD floor.
REAL_SEED = 9000


def real_readings(args, evaluator):
    """The true attributes of --real rendered images and the evaluator's readings and features of them. Scoring
    200,000 images takes 20-45 minutes at one thread, so the readings are kept in a cache file under --real-cache,
    named by the evaluator's digest, the count and the seed, and read from there by every later run (an evaluation
    split over processes or sessions)."""
    from result_parts import files_digest
    name = f"real-{files_digest([args.evaluator])}-{args.real}-{REAL_SEED}.npz"
    cache = os.path.join(args.real_cache, name) if args.real_cache else None
    if cache and os.path.exists(cache):
        with np.load(cache) as f:
            attrs = {k[5:]: f[k] for k in f.files if k.startswith("attr:")}
            pred = {k[5:]: f[k] for k in f.files if k.startswith("pred:")}
            return attrs, pred, f["feat"]
    images, attrs = render.render_many(args.real, seed=REAL_SEED)
    pred, feat = score(evaluator, images)
    if cache:
        os.makedirs(args.real_cache, exist_ok=True)
        # per_process: two runs started side by side both score the images and both write the cache
        with atomic_files.replacing(cache, per_process=True) as tmp:
            np.savez(tmp, feat=feat, **{f"attr:{k}": v for k, v in attrs.items()},
                     **{f"pred:{k}": v for k, v in pred.items()})
    return attrs, pred, feat


def slug(expr):
    return re.sub(r"[^a-z0-9.=-]+", "_", expr.lower()).strip("_")


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lace", default="build/lace")
    ap.add_argument("--model", default="models/faces")
    ap.add_argument("--evaluator", default="models/faces/evaluator.pt")
    ap.add_argument("--report", default="docs/faces-evaluation.md")
    ap.add_argument("--results", help="folder of per-part results (default: <report>-results)")
    ap.add_argument("-n", type=int, default=256, help="samples per condition")
    ap.add_argument("--unconditional", type=int, default=2000)
    ap.add_argument("--unguided", type=int, default=4000,
                    help="unconditional samples to pick each condition's unguided reference from (at least "
                         "--unconditional; the first --unconditional of them give coverage and FD)")
    ap.add_argument("--real", type=int, default=200_000, help="rendered images to draw real sets from")
    ap.add_argument("--real-cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                                                      "lace", "evaluate"),
                    help="folder that keeps the evaluator's readings of the real images between runs ('' for none)")
    ap.add_argument("--tolerance", type=float, default=0.15, help="continuous targets: |reading - target|")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads for lace and the evaluator (0: lace's default, two for the evaluator); "
                         "1 for two runs side by side")
    ap.add_argument("--only", help="evaluate only conditions containing this text (quick checks)")
    ap.add_argument("--conditions", help='evaluate only these conditions of the table, "a; b; ..." (A/B checks)')
    ap.add_argument("--skip-unconditional", action="store_true",
                    help="leave the unconditional part to another process running beside this one")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: write the report from the results already in --results")
    ap.add_argument("--keep", help="keep the sampled PNGs in this folder; a condition stopped part way (a killed "
                    "process, a session's end) resumes from the whole batches of 64 kept there")
    ap.add_argument("--lace-args", default="",
                    help='more options for the conditional lace samples, e.g. "--guidance 3"')
    args = ap.parse_args()
    if args.unguided < args.unconditional:
        ap.error("--unguided must be at least --unconditional (its first samples are the unconditional ones)")
    results = args.results or os.path.splitext(args.report)[0] + "-results"
    sheets = os.path.splitext(args.report)[0] + "-sheets"
    key = run_key(args)
    if not args.report_only:
        measure(args, key, results, sheets)
    write_all(args, key, results, sheets)


def measure(args, key, results, sheets):
    """Runs every selected part whose result is not already in `results` under the same key, writing each
    part's result as soon as it is made: an evaluation stopped part way (or spread over sessions, or over
    two processes given different --conditions) loses at most the part it was making."""
    torch.set_num_threads(args.threads or 2)
    chosen = chosen_conditions(args.conditions)
    selected = [(k, expr, group, threshold) for k, (expr, group, threshold) in enumerate(CONDITIONS)
                if not (args.only and args.only not in expr) and not (chosen and expr not in chosen)]
    todo = [c for c in selected if load_part(results, slug(c[1]), key) is None]
    need_unconditional = not args.skip_unconditional and load_part(results, UNCONDITIONAL, key) is None
    if len(selected) > len(todo):
        print(f"{len(selected) - len(todo)} selected condition(s) already measured under the same key in {results}; "
              "kept", flush=True)
    if not todo and not need_unconditional:
        return
    evaluator = torch.jit.load(args.evaluator).eval()
    work = args.keep or tempfile.mkdtemp(prefix="lace-eval-")
    if not args.keep:  # removed however the run ends, a failed lace call included
        atexit.register(shutil.rmtree, work, True)
    os.makedirs(sheets, exist_ok=True)
    lace_global = ["--threads", str(args.threads)] if args.threads else []

    real_attrs, real_pred, real_feat = real_readings(args, evaluator)
    nu = args.unconditional

    if need_unconditional:  # coverage, FD and each condition's unguided reference
        t0 = time.time()
        # Image i depends only on (seed, i): the first nu of the unguided samples are the unconditional ones.
        unc_images, unc_seconds, unc_records = run_lace(args.lace, args.model, "", args.unguided, args.seed,
                                              os.path.join(work, "unconditional"), global_args=lace_global,
                                              resume_key=key)
        all_pred, all_feat = score(evaluator, unc_images)
        unc_images, unc_feat = unc_images[:nu], all_feat[:nu]
        unc_pred = {name: values[:nu] for name, values in all_pred.items()}
        # Real image i depends only on (seed, i): these are the first 32 of the real set, rendered in milliseconds.
        real_shown = render.render(32, seed=REAL_SEED)[0]
        render.contact_sheet(np.concatenate([unc_images[:32], real_shown]), 8).save(
            os.path.join(sheets, "unconditional-vs-real.png"))
        save_part(results, UNCONDITIONAL, key, {
            "fd_real_floor": frechet_distance(real_feat[:nu], real_feat[nu:2 * nu]),
            "fd_real_floor_n": frechet_distance(real_feat[2 * nu:2 * nu + args.n], real_feat[:nu]),
            "fd_unconditional": frechet_distance(unc_feat, real_feat[:nu]),
            "fd_unconditional_n": frechet_distance(unc_feat[:args.n], real_feat[:nu]),
            "unconditional_seconds": round(unc_seconds, 1),
            "coverage": coverage_table(unc_pred, real_attrs, real_pred),
            "unguided_fd": unguided_fds(args, all_pred, all_feat, real_attrs, real_feat),
            "target_fd": target_fds(args, unc_records, all_pred, all_feat, real_attrs, real_feat),
            "minutes": round((time.time() - t0) / 60, 1)})

    for k, expr, group, threshold in todo:
        t0 = time.time()
        images, seconds, records = run_lace(args.lace, args.model, expr, args.n, args.seed + 1 + k,
                                            os.path.join(work, slug(expr)), shlex.split(args.lace_args), lace_global,
                                            resume_key=key)
        pred, feat = score(evaluator, images)
        match, real_match = real_matching(expr, real_attrs, real_feat, args)
        render.contact_sheet(images[:16], 8).save(os.path.join(sheets, slug(expr) + ".png"))
        row = {"expr": expr, "group": group, "threshold": threshold,
               "acc": float(satisfied(expr, pred, args.tolerance).mean()),
               "fd": frechet_distance(feat, real_match) if len(real_match) >= 2 * feat.shape[1] else None,
               "latent_p": float(latent_satisfaction(records).mean()),
               "judge_on_real": judge_on_real(expr, real_attrs, real_pred, args.tolerance),
               "real_matches": int(match.sum()), "seconds": round(seconds, 1),
               "minutes": round((time.time() - t0) / 60, 1)}
        save_part(results, slug(expr), key, row)
        print(json.dumps(row), flush=True)


def write_all(args, key, results, sheets):
    """The report and its JSON from every part in `results` made under `key`, in the table's order; the
    conditions not measured yet are listed as such."""
    unconditional = load_part(results, UNCONDITIONAL, key)
    if unconditional is None:
        sys.exit(f"evaluate.py: no unconditional result under this key in {results}: run without --report-only first")
    rows, missing = [], []
    for expr, _, _ in CONDITIONS:
        row = load_part(results, slug(expr), key)
        if row is None:
            missing.append(expr)
        else:
            rows.append(row)
    result = {"n": args.n, "unconditional": args.unconditional, "unguided": args.unguided,
              "tolerance": args.tolerance, "key": key,
              **{k: v for k, v in unconditional.items() if k != "minutes"}, "conditions": rows, "missing": missing,
              "minutes": round(unconditional["minutes"] + sum(r.get("minutes", 0) for r in rows), 1)}
    atomic_files.write_json(os.path.splitext(args.report)[0] + ".json", result, indent=1)
    write_report(args, result, sheets)
    print(f"wrote {args.report}: {len(rows)} of {len(CONDITIONS)} conditions"
          + (f" ({len(missing)} not measured yet)" if missing else ""))


# ----------------------------------------------------------------------------------------------
# Parts: one JSON per condition (and one for the unconditional samples), kept only under the same key
# (result_parts.py)

UNCONDITIONAL = "unconditional"


def run_key(args):
    """What a result depends on: the settings, the bundle's and the evaluator's files and lace's sources but
    what only `lace edit` reads (the binary is taken as built from this checkout). A part made under another key is
    measured again."""
    return {"n": args.n, "seed": args.seed, "unconditional": args.unconditional, "unguided": args.unguided,
            "real": args.real, "tolerance": args.tolerance, "lace_args": args.lace_args,
            **models_and_lace_key(args.model, args.evaluator, sampling=True)}


def chosen_conditions(text):
    """--conditions "a; b": the named conditions, each exactly as the table spells it (so that its seed, which
    follows its place in the table, stays the same in every run), or one line naming the unknown one."""
    if not text:
        return None
    chosen = [c.strip() for c in text.split(";") if c.strip()]
    known = [expr for expr, _, _ in CONDITIONS]
    for c in chosen:
        if c not in known:
            sys.exit(f"evaluate.py: --conditions: {c!r} is not in the table (one of: {'; '.join(known)})")
    return set(chosen)


def real_matching(expr, real_attrs, real_feat, args):
    """Which real images satisfy the condition (true attributes), and the features of the first
    --unconditional of them: the reference set of the condition's FD."""
    match = satisfied(expr, real_attrs, args.tolerance)
    return match, real_feat[match][:args.unconditional]


def unguided_fds(args, pred, feat, real_attrs, real_feat):
    """Per condition: how many of the unguided (unconditional) samples the evaluator reads as satisfying it,
    and the FD of the first n of them against the condition's real set (None where fewer than n do, or the
    real set is too small): the conditional FD a perfect sampler of this generator would get."""
    out = {}
    for expr, _, _ in CONDITIONS:
        chosen = np.flatnonzero(satisfied(expr, pred, args.tolerance))
        _, real_match = real_matching(expr, real_attrs, real_feat, args)
        out[expr] = {"count": int(len(chosen)), "fd": first_n_fd(args, chosen, feat, real_match)}
    return out


def first_n_fd(args, chosen, feat, real_match):
    """The FD of the first n of the samples `chosen` (indices, in order) against a condition's real set; None where
    fewer than n are chosen or the real set is too small for its covariance (under twice the features' width)."""
    if len(chosen) < args.n or len(real_match) < 2 * feat.shape[1]:
        return None
    return frechet_distance(feat[chosen[:args.n]], real_match)


# ----------------------------------------------------------------------------------------------
# The target: what lace's ODE aims at, sampled exactly by rejection from the unconditional samples

def latent_readings(records, attributes):
    """The latent classifier's reading of each record's z (lace writes it as the record's "attributes"), as
    arrays: a binary attribute's probability, a categorical one's {class: probability}, a continuous one's value."""
    out = {}
    for a in attributes:
        name = a["name"]
        if a["kind"] == "categorical":
            out[name] = {c: np.array([float(r["attributes"][name][c]) for r in records])
                         for c in records[0]["attributes"][name]}
        else:
            out[name] = np.array([float(r["attributes"][name]) for r in records])
    return out


def target_energy(expr, latent, attributes, guidance):
    """Per sample, the energy lace samples `expr` by (exact operators, docs/expressions.md): a discrete literal's
    -log p times the guidance (NOT: -log(1 - p)), a continuous target's (f - t)^2 / 2 sigma^2, AND a sum, OR the
    equal-weight mixture -log(mean of exp(-E)). The table's forms only: an OR of ANDs of literals, NOT on a
    discrete literal."""
    by_name = {a["name"]: a for a in attributes}

    def literal(text):
        negated = text.startswith("NOT ")
        name, _, value = (text[4:] if negated else text).partition("=")
        a = by_name[name]
        if a["kind"] == "continuous":
            if negated:
                raise ValueError(f"target_energy: NOT of a continuous target is not in the table: {text!r}")
            return (latent[name] - float(value)) ** 2 / (2 * a["sigma"] ** 2)
        p = latent[name][value] if a["kind"] == "categorical" else latent[name]
        with np.errstate(divide="ignore"):  # p read as exactly 0: energy inf, never accepted
            return -guidance * np.log(1 - p if negated else p)

    terms = [sum(literal(t.strip()) for t in term.split(" AND ")) for term in expr.split(" OR ")]
    if len(terms) == 1:
        return terms[0]
    return -np.logaddexp.reduce(-np.stack(terms), axis=0) + math.log(len(terms))


def target_guidance(args, bundle):
    """The guidance the conditional samples were drawn at (the bundle's lace.json, or --lace-args' --guidance), or
    None where --lace-args changes the target in another way (the unconditional samples are then not its proposals)."""
    g = bundle.get("sampling", {}).get("guidance", 1.0)
    words = shlex.split(args.lace_args)
    for i, w in enumerate(words):
        if w in ("-g", "--guidance") or w.startswith("--guidance="):
            value = w.split("=", 1)[1] if "=" in w else (words[i + 1] if i + 1 < len(words) else "")
            try:
                g = float(value)
            except ValueError:
                sys.exit(f"evaluate.py: --lace-args: {w.split('=')[0]} needs a number, got {value!r}")
        elif w.split("=")[0] in ("--prior-weight", "--truncation", "--operators"):
            return None
    return float(g)


def target_fds(args, records, pred, feat, real_attrs, real_feat):
    """Per condition: how many of the unguided (unconditional) samples an exact sampler of lace's target accepts
    (each with probability exp(-E), target_energy from its record's latent reading; a fixed uniform per sample
    and condition), and the FD and the evaluator's ACC of the first n accepted (None where fewer are, or the real
    set is too small). The unconditional samples follow lace's prior, so these are samples of
    p(z) exp(-prior) exp(-E): the distribution lace's ODE aims at, before --min-p and the verifier. A conditional
    FD far above this one is the solver's; this one far above the unguided FD, the latent classifier's."""
    with open(os.path.join(args.model, "lace.json")) as f:
        bundle = json.load(f)
    guidance = target_guidance(args, bundle)
    if guidance is None:
        return None
    attributes = bundle["attributes"]
    latent = latent_readings(records, attributes)
    out = {}
    for k, (expr, _, _) in enumerate(CONDITIONS):
        u = np.random.default_rng([args.seed, k]).random(len(records))
        accepted = np.flatnonzero(u < np.exp(-target_energy(expr, latent, attributes, guidance)))
        _, real_match = real_matching(expr, real_attrs, real_feat, args)
        fd = first_n_fd(args, accepted, feat, real_match)
        first = {name: values[accepted[:args.n]] for name, values in pred.items()}
        out[expr] = {"count": int(len(accepted)), "fd": fd,
                     "acc": None if fd is None else float(satisfied(expr, first, args.tolerance).mean())}
    return out


def judge_on_real(expr, real_attrs, real_pred, tolerance, exact=0.03, least=20):
    """The evaluator's own ceiling for a condition: of the real images whose true attributes satisfy it
    (continuous ones within `exact` of the target), the share it reads as satisfying it. None with fewer
    than `least` such images."""
    true = satisfied(expr, real_attrs, exact)
    if true.sum() < least:
        return None
    return float(satisfied(expr, {k: v[true] for k, v in real_pred.items()}, tolerance).mean())


def coverage_table(pred, real_attrs, real_pred):
    """Per value: evaluator rate on samples, true rate in the data, and the evaluator's rate on real images
    (how the evaluator itself reads the data); continuous: 1st/99th percentiles."""
    rows = []
    for name in render.BINARY:
        rows.append({"value": name, "samples": float(pred[name].mean()), "data": float(real_attrs[name].mean()),
                     "data_read": float(real_pred[name].mean())})
    for k, c in enumerate(render.HAIR_CLASSES):
        rows.append({"value": f"hair={c}", "samples": float((pred["hair"] == k).mean()),
                     "data": float((real_attrs["hair"] == k).mean()), "data_read": float((real_pred["hair"] == k).mean())})
    for name, (lo, hi) in render.CONTINUOUS.items():
        rows.append({"value": name, "range": [lo, hi],
                     "samples": [float(np.percentile(pred[name], 1)), float(np.percentile(pred[name], 99))],
                     "data": [float(np.percentile(real_attrs[name], 1)), float(np.percentile(real_attrs[name], 99))],
                     "data_read": [float(np.percentile(real_pred[name], 1)), float(np.percentile(real_pred[name], 99))]})
    return rows


def target_text(t):
    """A target FD cell: 'FD (ACC)', or 'n/a (count accepted)'."""
    if t is None:
        return "n/a"
    return f"{t['fd']:.3f} ({t['acc']:.3f})" if t["fd"] is not None else f"n/a ({t['count']})"


def write_report(args, r, sheets):
    rel = os.path.relpath(sheets, os.path.dirname(args.report) or ".")
    cmd = (f"/usr/bin/python3 scripts/faces/evaluate.py --lace {args.lace} --model {args.model} "
           f"--evaluator {args.evaluator} --report {args.report} -n {args.n}"
           + (f" --lace-args '{args.lace_args}'" if args.lace_args else ""))
    out = ["# Face bundle: measured control and quality", "",
           f"Made by `{cmd}` ({r['minutes']} min of measuring on the 2-core development machine, summed over the "
           "parts, which may have run in several sessions or side by side: `--results` keeps each one under a key of "
           "the settings, the bundle, the evaluator and lace's sources). Every image comes from "
           "`lace sample` with the bundle's defaults (conditional ones with the options after --lace-args, if "
           "any) and is read back from its PNG; every reading is the evaluator's (`models/faces/evaluator.pt`), "
           "which played no part in training the generator, the latent classifier or in guiding the sampler. "
           "Real images are rendered with seed 9000, which no network "
           "was trained on. Raw figures: " + f"[{os.path.basename(os.path.splitext(args.report)[0])}.json]"
           f"({os.path.basename(os.path.splitext(args.report)[0])}.json).", "",
           "## Coverage", "",
           f"{r['unconditional']} unconditional samples. A discrete value passes when its rate in the samples is at "
           "least half its true rate in the data; a continuous attribute when the samples' 1st-99th percentiles "
           "reach within 0.1 of the data's (as the evaluator reads real images).", "",
           "| value | samples | data (true) | data (evaluator) | pass |", "|---|---|---|---|---|"]
    for c in r["coverage"]:
        if "range" in c:
            s, d, dr = c["samples"], c["data"], c["data_read"]
            ok = s[0] <= dr[0] + 0.1 and s[1] >= dr[1] - 0.1
            out.append(f"| {c['value']} (1%-99%) | {s[0]:.2f} .. {s[1]:.2f} | {d[0]:.2f} .. {d[1]:.2f} | "
                       f"{dr[0]:.2f} .. {dr[1]:.2f} | {'yes' if ok else '**no**'} |")
        else:
            ok = c["samples"] >= 0.5 * c["data"]
            out.append(f"| {c['value']} | {c['samples']:.3f} | {c['data']:.3f} | {c['data_read']:.3f} | "
                       f"{'yes' if ok else '**no**'} |")
    out += ["", "## Quality: Frechet distance on evaluator features", "",
            "| sets | FD |", "|---|---|",
            f"| {r['unconditional']} unconditional samples vs {r['unconditional']} real | {r['fd_unconditional']:.3f} |",
            f"| {r['unconditional']} real vs {r['unconditional']} other real (floor) | {r['fd_real_floor']:.3f} |",
            f"| {r['n']} unconditional samples vs {r['unconditional']} real | {r['fd_unconditional_n']:.3f} |",
            f"| {r['n']} real vs {r['unconditional']} other real (floor) | {r['fd_real_floor_n']:.3f} |", "",
            f"![unconditional samples (top 4 rows) and real images (bottom 4 rows)]({rel}/unconditional-vs-real.png)", "",
            "## Control: ACC per condition", "",
            f"{r['n']} samples per condition. ACC: the share of samples whose evaluator reading satisfies the whole "
            f"expression (continuous values within {r['tolerance']} of the target); in brackets its 95% interval "
            f"(Wilson): the true rates {r['n']} samples cannot tell apart, so a target inside it is not decided "
            "by this table either way. Conditional FD: the samples vs "
            "real images whose true attributes satisfy the condition (up to "
            f"{r['unconditional']}); compare it with the unconditional FD at {r['n']} samples, "
            f"{r['fd_unconditional_n']:.3f} (pass: at most 1.5x, {1.5 * r['fd_unconditional_n']:.3f}). "
            f"Unguided FD: the same distance for the first {r['n']} of {r['unguided']} unconditional samples that the "
            "evaluator reads as satisfying the condition (n/a where fewer do, count in brackets): what the generator "
            "itself draws for the condition, the FD a perfect sampler would get; a conditional FD near it is the "
            "generator's, one far above it the guidance's. "
            + (f"Target FD: the same distance for the first {r['n']} of the {r['unguided']} unconditional samples "
               "accepted each with probability exp(-E), E the condition's energy at the samples' guidance as the "
               "latent classifier reads the sample (its record), with the evaluator's ACC of them in brackets (n/a "
               "where fewer are accepted, count in brackets): an exact sampler of the distribution lace's ODE aims "
               "at, before --min-p and the verifier; a conditional FD far above it is the solver's, a target FD "
               "far above the unguided FD the latent classifier's (what it reads as the condition is not what the "
               "evaluator does). " if r.get("target_fd") else "") +
            "Latent p: the mean over samples of exp(-E), the probability of the condition under the latent "
            "classifier that guided the sampler (from each PNG's record): a low ACC beside a high latent p is "
            "the classifier or the generator disagreeing with the evaluator; a low latent p, the sampler not "
            "reaching the condition. Judge on real: the evaluator's ACC on real images whose true attributes "
            "satisfy the condition (continuous ones within 0.03 of the target), the ceiling its own errors put "
            "on any ACC.", ""]
    for group, title in GROUP_TITLES.items():
        rows = [x for x in r["conditions"] if x["group"] == group]
        if not rows:
            continue
        targets = r.get("target_fd")
        out += [f"### {title}", "", "| condition | ACC [95% interval] | target | latent p | judge on real | FD | FD / unconditional "
                "| unguided FD " + ("| target FD (ACC) " if targets else "") + "| real matches | seconds |",
                "|---|---|---|---|---|---|---|---|" + ("---|" if targets else "") + "---|---|"]
        for x in rows:
            ok = x["acc"] >= x["threshold"]
            fd = "n/a" if x["fd"] is None else f"{x['fd']:.3f}"
            judge = "n/a" if x.get("judge_on_real") is None else f"{x['judge_on_real']:.3f}"
            ratio = "n/a" if x["fd"] is None else f"{x['fd'] / r['fd_unconditional_n']:.2f}"
            ref = r["unguided_fd"].get(x["expr"], {"count": 0, "fd": None})
            unguided = f"{ref['fd']:.3f}" if ref["fd"] is not None else f"n/a ({ref['count']})"
            out.append(f"| `{x['expr']}` | {share_text(x['acc'], r['n'])}{'' if ok else ' **(below)**'} | "
                       f"{x['threshold']:.2f} | "
                       f"{x['latent_p']:.3f} | {judge} | {fd} | "
                       f"{ratio} | {unguided} | " + (f"{target_text(targets.get(x['expr']))} | " if targets else "")
                       + f"{x['real_matches']} | {x['seconds']} |")
        out += [""]
        out += [f"`{x['expr']}`:\n\n![{x['expr']}]({rel}/{slug(x['expr'])}.png)\n" for x in rows]
    if r["missing"]:
        out += ["## Not measured yet", "", f"{len(r['missing'])} of {len(CONDITIONS)} conditions: "
                + ", ".join(f"`{e}`" for e in r["missing"]) + ".", ""]
    atomic_files.write_text(args.report, "\n".join(out) + "\n")


if __name__ == "__main__":
    main()
