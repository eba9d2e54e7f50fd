#!/usr/bin/env python3
"""Turn a trained face GAN into lace's face bundle: generator, pseudo-labelled pairs, latent classifier.

  /usr/bin/python3 scripts/faces/build_bundle.py --checkpoint RUN/checkpoint.pt --labeler RUN/labeler.pt \
      --evaluator RUN/evaluator.pt [--verifier RUN/checker.pt] --out models/faces [-n 20000] \
      [--pairs RUN/pairs.npz [--reuse-pairs]] [--panel RUN/labeler.pt,RUN/reviewer.pt]

1. exports G_ema as OUT/generator.pt (export_generator.py), writes OUT/lace.json's generator, truncation,
   sampling, editing and verifier sections, and copies the labeler, the verifier (the labeler unless
   --verifier names another; build.sh passes the checker) and the evaluator (with their cards) beside them;
   with a --verifier other than the labeler, also OUT/edit_verifier.pt, the mean of the two, which lace edit
   reads with (lace.json editing.verifier) and polishes by;
2. samples -n pseudo-labelled pairs (make_pairs.py: z, truncated w, the labeler's reading of the image), or
   with --reuse-pairs reads the ones an earlier build (or make_pairs.py, seed 0) left at --pairs;
3. trains the latent classifier on them (scripts/train_latent_classifier.py; one MLP per attribute, see
   PerAttributeClassifier there for why; the mean of --members such networks, see Ensemble), which writes
   OUT/classifier.pt, OUT/classifier.json and the attribute list of OUT/lace.json;
   then, with --refine-rounds R, R times: refine_pairs.py adds pairs from lace's own samples of every
   single condition (where the classifier is wrong about the labeler, the sampler finds out) and the
   classifier is trained again on all of them; and with --edit-rounds E, E times: edit_pairs.py adds pairs
   from where `lace edit` goes (random edit sequences on fresh starts) and the classifier is trained again.
4. with --skin, adds the attribute `skin` (skin.py): a skin-tone reader trained on rendered faces (before
   the pairs, which then also hold its tone of each image), a regressor on w fitted to those tones, and one
   more column on the classifier and the image judges, so that `lace edit` keeps a face's skin tone.
5. with --panel, makes lace sample's verifier a panel of the verifier and the judges named (panel.py add_panel,
   image_classifiers.JudgesMeasuredByFirst), written to OUT/panel.pt.
The pairs stay outside the repository (--pairs, default beside the checkpoint).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import image_classifiers  # noqa: E402
import make_pairs  # noqa: E402
import skin  # noqa: E402
from export_generator import export_generator  # noqa: E402
from panel import add_panel  # noqa: E402
from measure_layers import SHARE, measure_layers, write as write_layers  # noqa: E402
from render import BINARY, CONTINUOUS, HAIR_CLASSES, LABEL_COLUMNS  # noqa: E402

# sigma of the continuous attributes' energy: LACE's 0.1. With --min-p 0.9 a reading must lie within
# sigma * 0.46 of its target, 0.046 here, about the checker's own yaw error (0.043); at 0.05 (sessions 14-48) that
# was 0.023, finer than any judge reads, so most images were solved again, and the energy was stiffer where the
# latent classifier's yaw is steep: 3-4x more evaluations per image for `yaw=+-0.6`, accuracy within a sample or
# two of 64 (docs/faces-evaluation-provisional.md, "Session 49").
CONTINUOUS_SIGMA = 0.1
DEFAULT_TRUNCATION = 1.0
# lace sample's defaults for the bundle (lace.json "sampling"; models/faces/README.md): guidance 4 (each
# discrete term's probability to the 4th power) meets conditions with a hat more surely than 2 (32 per
# condition, evaluator: hat 0.59 -> 0.75, glasses AND hat 0.34 -> 0.44), and --min-p 0.9 solves again the
# images the classifier still doubts (hat 0.75 -> 0.91, glasses AND hat 0.44 -> 0.88). Up to 16 solves, not 4
# (session 43): the images the verifier passes are right, and a beard under a hat takes 7 solves on average
# (256 per condition, evaluator: beard AND hat 0.78 -> 0.95, smile AND beard AND hat 0.73 -> 0.97).
GUIDANCE = 4.0
MIN_P = 0.9
TRIES = 16
# lace edit's defaults for the bundle (lace.json "editing"), tuned on 16 starts of seed 7 with the labeler
# (models/faces/README.md; measured in docs/faces-edit-evaluation.md). LACE's weights assume sigma 0.1 and classifiers more certain than ours:
# here their newest-continuous 10 is stiff (thousands of steps per edit), reg_z 0.04 held binary edits
# back (hat: labeler 0.44 at newest weight 3; 0.88 without the regularizers) and previous 0.1 let later
# edits undo earlier ones (glasses 0.95 -> 0.45 in the yaw step).
# min_p 0.9 (session 19): a step whose target the latent classifier or the labeler (the verifier) reads below
# 0.9 is solved again, its conditions weighing double per try, up to three solves; on 32 starts of seed 42
# (glasses, NOT smile, beard) the evaluator read beard after its step in 0.91 of starts against 0.69.
# tolerance 0.05 (session 29): min_p reads every condition set so far, and without a tolerance a continuous
# one meets 0.9 only within 0.023 of its target, finer than the verifier reads (its error on real faces:
# yaw 0.03, age 0.06): on 16 starts 15 of 16 took every try at the fourth step. Within 0.05, P >= 0.9 holds
# up to 0.073 off at sigma 0.05, 0.096 at 0.1 (the evaluation's bar reads within 0.15).
# keep_sigma 0.05 (session 50): an unedited continuous attribute is held free within 0.1 of its first value, as
# before continuous sigma went to 0.1; at two of the new sigma (0.2, beyond the evaluation's 0.15) age kept fell
# 0.875 -> 0.594 on 32 starts (docs/faces-evaluation-provisional.md, "Session 49").
# polish 20 with the edit verifier (session 30): a step still below min_p after its tries takes 20 gradient
# steps on z against the energy read by the edit verifier on the image; the edit verifier is the mean of the
# checker's and the labeler's logits (image_classifiers.MeanOfTwo), so the polish cannot ride one
# network's blind spot. On 32 starts of seed 42 (docs/faces-edit-evaluation.md, session 30) the evaluator read
# `NOT smile` after its step on 0.844 (0.781 without), `glasses` 0.875 (0.781), `hair=black` 0.969 (0.844).
EDITING = {"weights": {"previous": 1.0, "newest": 3.0, "newest_continuous": 1.0, "reg_z": 0.02, "reg_logits": 0.01,
                       "keep": 1.0, "keep_sigma": 0.05},
           "min_p": 0.9, "tries": 3, "tolerance": 0.05, "polish": 20}
EDIT_VERIFIER = "edit_verifier.pt"  # written when the verifier is not the labeler: the mean of the two


def attribute_spec(layers):
    spec = [{"name": b, "kind": "binary"} for b in BINARY]
    spec.append({"name": "hair", "kind": "categorical", "classes": list(HAIR_CLASSES)})
    spec += [{"name": c, "kind": "continuous", "range": list(r), "sigma": CONTINUOUS_SIGMA}
             for c, r in CONTINUOUS.items()]
    for a in spec:
        a["layers"] = layers[a["name"]]
    return spec


def read_pairs(path, n):
    """Pairs an earlier run wrote, checked to be what this build would have sampled (count, soft labels)."""
    pairs = make_pairs.load_pairs(path)
    if len(pairs["w"]) != n:
        raise SystemExit(f"--reuse-pairs: {path} holds {len(pairs['w'])} pairs, not -n {n}")
    return pairs


def write_manifest(out, info, description, guidance, verifier, min_p=MIN_P, tries=TRIES, edit_verifier=None,
                   edit_judges=1):
    manifest = {
        "format": "lace-bundle", "version": 1, "name": "faces", "description": description,
        "generator": {"file": "generator.pt", **{k: info[k] for k in ("z_dim", "w_dim", "num_ws", "resolution",
                                                                       "channels")}},
        "truncation": {"default": DEFAULT_TRUNCATION, "w_avg": {"source": "buffer", "name": "w_avg"}},
        "sampling": {"guidance": guidance, "min_p": min_p, "tries": tries},
        # lace edit reads its images with the edit verifier, where there is one (and only then polishes).
        "editing": ({**EDITING, "verifier": {"file": edit_verifier, "num_logits": len(LABEL_COLUMNS),
                                             **({"judges": edit_judges} if edit_judges > 1 else {})}}
                    if edit_verifier else {k: v for k, v in EDITING.items() if k != "polish"}),
        # An image classifier (the labeler, the latent classifier's teacher, unless --verifier names another)
        # reads every image too (lace sample --verify), so --min-p retries where the latent classifier was
        # wrong about what the image shows; render's LABEL_COLUMNS are the classifier's columns
        # (train_latent_classifier.py writes "classifier" and "attributes" later).
        "verifier": {"file": os.path.basename(verifier), "num_logits": len(LABEL_COLUMNS)},
    }
    path = os.path.join(out, "lace.json")
    atomic_files.write_json(path, manifest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="train_gan.py's checkpoint.pt or a snapshot")
    ap.add_argument("--labeler", required=True)
    ap.add_argument("--evaluator", required=True)
    ap.add_argument("--verifier", help="the image classifier lace reads every conditional image with (lace.json "
                                       "verifier; default: the labeler), e.g. a checker of another architecture "
                                       "(train_image_classifier.py --role checker); never the evaluator")
    ap.add_argument("--out", default="models/faces")
    ap.add_argument("--pairs", help="where the pairs go (default: pairs.npz beside the checkpoint)")
    ap.add_argument("-n", type=int, default=20_000, help="pseudo-labelled pairs")
    ap.add_argument("--reuse-pairs", action="store_true",
                    help="read the pairs already at --pairs (their count must be -n) instead of sampling them")
    ap.add_argument("--architecture", default="per-attribute", choices=["per-attribute", "shared"],
                    help="latent classifier: one MLP per attribute, or LACE's single MLP")
    ap.add_argument("--widths", help="latent classifier hidden widths (default: 512,256,128 per attribute, where "
                                     "256,128 agreed 0.01-0.07 less with the labeler on age, yaw and hair; "
                                     "LACE's for shared)")
    ap.add_argument("--guidance", type=float, default=GUIDANCE,
                    help="the bundle's default guidance scale (lace.json sampling.guidance; lace sample --guidance)")
    ap.add_argument("--min-p", type=float, default=MIN_P,
                    help="lace sample's default --min-p for the bundle (lace.json sampling.min_p; 0: off)")
    ap.add_argument("--tries", type=int, default=TRIES, help="lace sample's default --tries (lace.json sampling.tries)")
    ap.add_argument("--members", type=int, default=3,
                    help="latent classifier: the mean of this many networks (train_latent_classifier.py --members)")
    ap.add_argument("--epochs", type=int, default=60, help="latent classifier epochs")
    ap.add_argument("--lr", type=float, default=1e-3, help="latent classifier learning rate")
    ap.add_argument("--refine-rounds", type=int, default=0,
                    help="rounds of refine_pairs.py (pairs where lace's sampler goes) and retraining")
    ap.add_argument("--refine-n", type=int, default=200, help="samples per condition and round")
    ap.add_argument("--refine-guidance", type=float, default=3.0)
    ap.add_argument("--edit-rounds", type=int, default=0,
                    help="rounds of edit_pairs.py (pairs where lace edit goes) and retraining, after the refine rounds")
    ap.add_argument("--edit-sequences", type=int, default=30, help="random edit sequences per round")
    ap.add_argument("--edit-starts", type=int, default=32, help="starts per edit sequence")
    ap.add_argument("--edit-lace-args", default="--solver rk4 --steps 20", help="options for lace edit in edit_pairs.py")
    ap.add_argument("--lace", default=os.path.join(HERE, "..", "..", "build", "lace"),
                    help="the lace binary, for the refinement rounds")
    ap.add_argument("--edit-judges", choices=["mean", "both"], default="mean",
                    help="lace edit's verifier (with --verifier): the mean of the verifier's and the labeler's logits, "
                         "or both read apart (\"judges\": 2: a condition is met as far as both read it met)")
    ap.add_argument("--edit-smile-judge",
                    help="a SmilePatches judge (train_smile_patches.py) whose smile logit joins the mean's in lace edit's "
                         "verifier (with --verifier, not with --edit-judges both; docs/faces-edit-evaluation.md, session 39)")
    ap.add_argument("--panel",
                    help="comma-separated image classifiers (e.g. RUN/labeler.pt,RUN/reviewer.pt) that join the verifier "
                         "in a panel, lace sample's verifier once the bundle is built: every judge votes on the yes/no and "
                         "hair columns, the verifier alone measures age and yaw (panel.py, "
                         "image_classifiers.JudgesMeasuredByFirst; docs/faces-evaluation-provisional.md, session 42)")
    ap.add_argument("--skin", action="store_true",
                    help="add the attribute `skin` (skin.py: a skin-tone reader, its column on the classifier and the "
                         "judges), which lace edit then keeps; not in the shipped bundle yet (docs/faces-edit-evaluation.md, session 33)")
    ap.add_argument("--skin-images", type=int, default=20_000,
                    help="rendered faces the skin-tone reader is trained on")
    ap.add_argument("--w-avg-samples", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    panel = [p for p in (args.panel or "").split(",") if p]
    if panel and not args.verifier:
        ap.error("--panel joins --verifier: give --verifier too")
    if any(os.path.realpath(p) in {os.path.realpath(args.evaluator), os.path.realpath(args.verifier)} for p in panel):
        ap.error("--panel: the evaluator never guides sampling, and the verifier is the panel's first judge already")
    models = {os.path.realpath(m) for m in (args.labeler, args.verifier, args.evaluator, args.edit_smile_judge, *panel)
              if m}
    if args.edit_smile_judge and (not args.verifier or args.edit_judges == "both"):
        ap.error("--edit-smile-judge joins the mean of --verifier and the labeler: it needs --verifier and --edit-judges mean")
    if args.verifier and os.path.realpath(args.verifier) == os.path.realpath(args.evaluator):
        ap.error("--verifier is the evaluator: the evaluator only scores, it never guides sampling")
    if len({os.path.basename(m) for m in models}) < len(models):
        ap.error("--labeler, --verifier, --evaluator, --edit-smile-judge and --panel: different files need different names "
                 "(all are copied beside the bundle)")
    torch.set_num_threads(args.threads)
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)

    info = export_generator(args.checkpoint, os.path.join(args.out, "generator.pt"), args.w_avg_samples)
    write_manifest(args.out, info, "Cartoon faces, 64x64: a StyleGAN2 trained on rendered faces with a latent "
                                   "classifier for smile, glasses, beard, hat, hair colour, age and yaw.",
                   args.guidance, args.verifier or args.labeler, args.min_p, args.tries,
                   EDIT_VERIFIER if args.verifier and os.path.realpath(args.verifier) != os.path.realpath(args.labeler)
                   else None, edit_judges=2 if args.edit_judges == "both" else 1)
    # The labeler, the verifier and the evaluator beside the bundle, before lace first loads it.
    for model in dict.fromkeys(m for m in (args.labeler, args.verifier, args.evaluator, args.edit_smile_judge, *panel)
                               if m):
        for ext in (".pt", ".json"):
            src = os.path.splitext(model)[0] + ext
            dst = os.path.join(args.out, os.path.basename(src))
            if os.path.abspath(src) != os.path.abspath(dst) and (ext == ".pt" or os.path.exists(src)):
                with atomic_files.replacing(dst) as tmp:  # a classifier's .json card travels with it
                    shutil.copyfile(src, tmp)
    if args.verifier and os.path.realpath(args.verifier) != os.path.realpath(args.labeler):
        image_classifiers.save_mean(args.verifier, args.labeler, os.path.join(args.out, EDIT_VERIFIER),
                                    judges=args.edit_judges == "both", smile_path=args.edit_smile_judge)
    print(f"exported the generator (step {info['step']}) in {time.time() - t0:.0f} s", flush=True)

    pairs_path = args.pairs or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "pairs.npz")
    generator = torch.jit.load(os.path.join(args.out, "generator.pt")).eval()
    labeler = torch.jit.load(args.labeler).eval()
    skin_reader = None
    if args.skin:  # before the pairs, so that one synthesis serves the labeler and the skin reader
        skin_reader, skin_figures = skin.train_skin_reader(args.skin_images)
        skin_reader = torch.jit.script(skin_reader)
        print(f"skin reader: held-out MAE {skin_figures['mae']:.3f} ({time.time() - t0:.0f} s)", flush=True)
    if args.reuse_pairs:
        pairs = read_pairs(pairs_path, args.n)
    else:
        pairs = make_pairs.make_pairs(generator, info["z_dim"], info["num_ws"], labeler, args.n, skin_reader=skin_reader)
        with atomic_files.replacing(pairs_path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **pairs)
    print(f"{args.n} pairs {'from' if args.reuse_pairs else '->'} {pairs_path} ({time.time() - t0:.0f} s); "
          "labeler rates: "
          + json.dumps({b: round(float(pairs[b].mean()), 3) for b in BINARY}), flush=True)

    layers, carried = measure_layers(generator, labeler, info["z_dim"], info["num_ws"])
    print("w+ layers per attribute (joint swaps, measure_layers.py):", json.dumps(layers), flush=True)
    write_layers(args.out, layers, carried, SHARE)
    spec_path = pairs_path + ".attributes.json"
    atomic_files.write_json(spec_path, attribute_spec(layers))
    widths = args.widths or ("512,256,128" if args.architecture == "per-attribute" else None)

    def train_classifier(pairs_file):
        subprocess.run([sys.executable, os.path.join(HERE, "..", "train_latent_classifier.py"), "--pairs", pairs_file,
                        "--attributes", spec_path, "--bundle", args.out, "--architecture", args.architecture,
                        *(["--widths", widths] if widths else []), "--members", str(args.members),
                        "--epochs", str(args.epochs), "--lr", str(args.lr),
                        "--threads", str(args.threads)], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(args.out, "classifier.json")) as f:
            print("latent classifier held-out agreement with the labeler:", json.dumps(json.load(f)["agreement"]),
                  flush=True)

    train_classifier(pairs_path)
    # Refinement rounds (refine_pairs.py): pairs where the bundle's own sampler goes, then retrain.
    for r in range(1, args.refine_rounds + 1):
        refined = f"{os.path.splitext(pairs_path)[0]}-refined{r}.npz"
        subprocess.run([sys.executable, os.path.join(HERE, "refine_pairs.py"), "--lace", args.lace, "--bundle",
                        args.out, "--labeler", args.labeler, "--pairs", pairs_path, "--out", refined,
                        "-n", str(args.refine_n), "--guidance", str(args.refine_guidance), "--seed", str(5000 * r),
                        "--threads", str(args.threads)], check=True)
        pairs_path = refined
        train_classifier(pairs_path)
    # Edit rounds (edit_pairs.py): pairs where lace edit goes, then retrain.
    for r in range(1, args.edit_rounds + 1):
        edited = f"{os.path.splitext(pairs_path)[0]}-edited{r}.npz"
        subprocess.run([sys.executable, os.path.join(HERE, "edit_pairs.py"), "--lace", args.lace, "--bundle", args.out,
                        "--labeler", args.labeler, "--pairs", pairs_path, "--out", edited,
                        "--sequences", str(args.edit_sequences), "--starts", str(args.edit_starts),
                        "--seed", str(7000 + 1000 * (r - 1)), f"--lace-args={args.edit_lace_args}", "--threads", str(args.threads)], check=True)
        pairs_path = edited
        train_classifier(pairs_path)

    if args.skin:  # last: the rounds above train and sample with the classifier as train_latent_classifier wrote it
        if "skin" in pairs:
            w, tones = pairs["w"], pairs["skin"]
        else:  # pairs of a build before skin.py
            w, tones = skin.latent_tones(generator, skin_reader, info["z_dim"], info["num_ws"], args.n)
        skin_card = skin.install_skin(args.out, generator, skin_reader, skin_figures, w, tones)
        print("skin: regressor on w held-out MAE {:.3f} against the reader; w+ layers {}".format(
              skin_card["latent"]["mae"], skin_card["layers"]), flush=True)

    if panel:  # last: the refinement rounds sample with the verifier alone, as the measured bundle was built
        with open(os.path.join(args.out, "lace.json")) as f:
            verifier = json.load(f)["verifier"]["file"]  # the checker, or with --skin the checker with skin's column
        add_panel(args.out, [os.path.join(args.out, verifier)]
                  + [os.path.join(args.out, os.path.basename(p)) for p in panel], measured_by_first=True)
        print(f"lace sample's verifier: a panel of {verifier} and {', '.join(map(os.path.basename, panel))}", flush=True)

    card = {"checkpoint": os.path.abspath(args.checkpoint), "step": info["step"], "pairs": args.n, "skin": args.skin,
            "refine_rounds": args.refine_rounds, "edit_rounds": args.edit_rounds,
            **({"edit_sequences": args.edit_sequences, "edit_starts": args.edit_starts} if args.edit_rounds else {}),
            "seconds": round(time.time() - t0)}
    atomic_files.write_json(os.path.join(args.out, "build.json"), card)
    print(f"bundle written to {args.out} in {card['seconds']} s")


if __name__ == "__main__":
    main()
