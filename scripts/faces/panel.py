#!/usr/bin/env python3
"""Panels of judges: how far the evaluator agrees where several networks all read a condition met, and a copy of a
bundle whose sampling verifier is such a panel.

    /usr/bin/python3 scripts/faces/panel.py agreement --judges checker.pt,labeler.pt,reviewer.pt [-n 8000]
    /usr/bin/python3 scripts/faces/panel.py bundle OUT --judges checker.pt,labeler.pt,reviewer.pt [--measured-by-first] [--model DIR]

agreement: unconditional samples of the bundle's generator, read by the evaluator and every judge; for each target
(yaw at -0.6, 0 and 0.6; each binary attribute and its NOT) and each subset of the judges, the samples every judge
of the subset reads met (yaw within --within of the target; a binary logit beyond +-2.2, P 0.9) and the share of
them the evaluator reads met (yaw within --tolerance, the evaluation's). A share that rises with the panel's size
says the judges err on different faces, so that a sampler checked by all of them would be checked better
(session 41: yaw -0.6 0.90 / 0.93 / 0.99 for the checker / with the labeler / with the reviewer too).
bundle: a copy of the bundle (the evaluator left out) whose lace.json verifier is image_classifiers.Judges over the
judges given, `"judges": J`: lace sample counts a condition met only as far as every judge reads it met; with
--measured-by-first, JudgesMeasuredByFirst: every judge votes on the yes/no and hair columns, the first alone
measures age and yaw.
"""
import argparse
import itertools
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
import atomic_files  # noqa: E402
import image_classifiers as ic  # noqa: E402
from evaluate import satisfied  # noqa: E402
from render import BINARY, LABEL_COLUMNS  # noqa: E402

YAW = LABEL_COLUMNS.index("yaw")
SURE = 2.2                             # a binary logit beyond this is P above 0.9, lace's min_p
PANEL_FILE = "panel.pt"


def name_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def agreement_rows(readings, within=0.05, tolerance=0.15, targets=(-0.6, 0.0, 0.6)):
    """readings: {name: logits [n, 11]} with "evaluator" among them. Rows (target, panel, n, share): for each target
    and each non-empty subset of the other networks, how many samples every member reads met and the share of those
    the evaluator reads met as the evaluation does (evaluate.satisfied; nan where none)."""
    judges = [k for k in readings if k != "evaluator"]
    ev = ic.predictions(torch.as_tensor(readings["evaluator"]))
    judge_met = {f"yaw={t:g}": lambda o, t=t: np.abs(o[:, YAW] - t) < within for t in targets}
    for i, name in enumerate(BINARY):
        judge_met[name] = lambda o, i=i: o[:, i] > SURE
        judge_met[f"NOT {name}"] = lambda o, i=i: o[:, i] < -SURE
    rows = []
    for target, met in judge_met.items():
        evaluator_met = satisfied(target, ev, tolerance)
        for size in range(1, len(judges) + 1):
            for panel in itertools.combinations(judges, size):
                chosen = np.all([met(readings[j]) for j in panel], 0)
                share = float(evaluator_met[chosen].mean()) if chosen.any() else float("nan")
                rows.append((target, "+".join(panel), int(chosen.sum()), share))
    return rows


def write_panel_bundle(model, out, judges, measured_by_first=False):
    """Copies the bundle at `model` to `out` (not its evaluator) with a panel over `judges` as its verifier
    (add_panel). `out` must not exist: a half-made copy is removed."""
    if os.path.exists(out):
        sys.exit(f"panel.py: {out} exists; give a new folder")
    try:
        shutil.copytree(model, out, ignore=shutil.ignore_patterns("evaluator.*"))
        add_panel(out, judges, measured_by_first)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def add_panel(bundle, judges, measured_by_first=False):
    """Makes the bundle's lace.json verifier a panel over `judges` (image_classifiers.Judges, or with
    measured_by_first JudgesMeasuredByFirst), written to BUNDLE/panel.pt, `"judges": J`: lace sample counts a
    condition met only as far as every judge reads it met."""
    path = os.path.join(bundle, PANEL_FILE)
    ic.save_judges(judges, path, measured_by_first)
    with open(os.path.join(bundle, "lace.json")) as f:
        manifest = json.load(f)
    g = manifest["generator"]
    with torch.no_grad():  # the first judge's columns: 11, or 12 with skin.py's
        columns = torch.jit.load(path)(torch.zeros(1, g["channels"], g["resolution"], g["resolution"])).shape[-1]
    manifest["verifier"] = {"file": PANEL_FILE, "num_logits": columns, "judges": len(judges)}
    atomic_files.write_json(os.path.join(bundle, "lace.json"), manifest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["agreement", "bundle"])
    ap.add_argument("out", nargs="?", help="bundle: the new bundle's folder")
    ap.add_argument("--judges", required=True, help="comma-separated TorchScript image classifiers")
    ap.add_argument("--model", default=os.path.join(HERE, "..", "..", "models", "faces"))
    ap.add_argument("--evaluator", help="agreement: default MODEL/evaluator.pt")
    ap.add_argument("-n", type=int, default=8000, help="agreement: unconditional samples")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--within", type=float, default=0.05, help="agreement: a judge reads a yaw target met within this")
    ap.add_argument("--tolerance", type=float, default=0.15, help="agreement: the evaluator, within this")
    ap.add_argument("--measured-by-first", action="store_true",
                    help="bundle: every judge votes on the yes/no and hair columns, the first judge alone measures "
                         "the continuous ones (image_classifiers.JudgesMeasuredByFirst)")
    args = ap.parse_args()
    judges = [p for p in args.judges.split(",") if p]
    if args.command == "bundle":
        if not args.out or len(judges) < 2:
            ap.error("bundle needs OUT and two judges or more")
        write_panel_bundle(args.model, args.out, judges, args.measured_by_first)
        print(f"panel.py: wrote {args.out} (verifier: {len(judges)} judges)")
        return
    from joint_coverage import generated
    torch.set_num_threads(2)
    nets = {"evaluator": args.evaluator or os.path.join(args.model, "evaluator.pt"), **{name_of(p): p for p in judges}}
    images = generated(os.path.join(args.model, "generator.pt"), args.n, args.seed)
    readings = {k: ic.classify(torch.jit.load(p).eval(), images).numpy() for k, p in nets.items()}
    print(f"| target | judges that all read it met | samples | evaluator agrees |\n|---|---|---|---|")
    for target, panel, n, share in agreement_rows(readings, args.within, args.tolerance):
        print(f"| `{target}` | {panel} | {n} | {share:.3f} |")


if __name__ == "__main__":
    main()
