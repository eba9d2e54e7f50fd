#!/usr/bin/env python3
"""Benchmark helpers at 1024x1024 (docs/benchmarks-1024.md): a random config-f bundle, and bare synthesis.

    /usr/bin/python3 scripts/stylegan2_bench.py make-bundle /tmp/bench/ffhq
    /usr/bin/python3 scripts/stylegan2_bench.py synthesis /tmp/bench/ffhq --batch 4 --threads 1

make-bundle: random FFHQ config-f weights written as a rosinality checkpoint, imported with
import_stylegan2.py, and a latent classifier trained from StyleFlow-layout files (3 epochs): a bundle of the
real sizes that lace can sample. synthesis: what lace's last step costs on its own, the same TorchScript
generator called from Python: load, mapping of B latents, truncation 0.7, one synthesis call.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def make_bundle(out, threads):
    sys.path.insert(0, os.path.join(ROOT, "tests", "scripts"))
    import fake_stylegan2
    import test_import_stylegan2  # for its StyleFlow-layout writer
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "ffhq.pt")
        fake_stylegan2.write_rosinality(fake_stylegan2.weights(seed=0), ckpt)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "import_stylegan2.py"), ckpt, "--out", out,
                        "--threads", str(threads)], check=True)
        test_import_stylegan2._styleflow_files(os.path.join(tmp, "styleflow"),
                                               torch.jit.load(os.path.join(out, "generator.pt")))
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train_latent_classifier.py"), "--styleflow",
                        os.path.join(tmp, "styleflow"), "--bundle", out, "--epochs", "3", "--lr", "1e-3",
                        "--threads", str(threads)], check=True, stdout=subprocess.DEVNULL)


def synthesis(bundle, batch, threads):
    torch.set_num_threads(threads)
    t0 = time.time()
    g = torch.jit.load(os.path.join(bundle, "generator.pt"))
    t1 = time.time()
    with torch.no_grad():
        z = torch.randn(batch, g.z_dim, generator=torch.Generator().manual_seed(0))
        w = g.w_avg + 0.7 * (g.mapping(z) - g.w_avg)
        img = g.synthesis(w[:, None].repeat(1, g.num_ws, 1))
    t2 = time.time()
    print(f"batch {batch}: load {t1 - t0:.2f} s, mapping + synthesis {t2 - t1:.2f} s, image {tuple(img.shape)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["make-bundle", "synthesis"])
    ap.add_argument("bundle")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.what == "make-bundle":
        make_bundle(args.bundle, args.threads)
    else:
        synthesis(args.bundle, args.batch, args.threads)


if __name__ == "__main__":
    main()
