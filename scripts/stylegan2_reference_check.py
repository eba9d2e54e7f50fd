#!/usr/bin/env python3
"""Check import_stylegan2.py numerically against the two public StyleGAN2 code bases (optional, offline).

    /usr/bin/python3 scripts/stylegan2_reference_check.py --nvlabs DIR --rosinality DIR [--resolution 256]

DIR are checkouts of NVlabs/stylegan2-ada-pytorch and rosinality/stylegan2-pytorch (their code is imported
from there for this check only; nothing of it is copied into lace). For each, the script builds their
Generator with random weights (non-zero biases and noise strengths), saves it the way they do (a real
persistent-class network pickle; a torch.save dict with g_ema and latent_avg), imports the file with
import_stylegan2.build_generator, and compares mapping(z) and synthesis(ws) with their forward pass in
float32 on the CPU, with constant noise. Both need only CPU fallbacks: NVlabs' ops fall back to reference
implementations; rosinality's ops try to compile CUDA at import, which is stubbed out here.
Prints the largest absolute differences; exits 1 if one exceeds --tol.
"""
import argparse
import os
import pickle
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import import_stylegan2  # noqa: E402


def randomize(module, gen):
    """Their inits leave biases and noise strengths at zero; a mapping error there would not show."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias") or "noise_strength" in name or name.endswith("noise.weight"):
                p.add_(0.1 * torch.randn(p.shape, generator=gen))


def compare(ours, z, ws, their_w, their_img):
    with torch.no_grad():
        w = ours.mapping(z)
        img = ours.synthesize(ws, False)
    return float((w - their_w).abs().max()), float((img - their_img).abs().max()), float(their_img.abs().mean())


def check_nvlabs(repo, res, work, gen, conv_clamp):
    sys.path.insert(0, repo)
    from training import networks  # their code, from the checkout given on the command line
    ch_base = 32768 if res == 1024 else 512 * res  # config-f widths at 1024; 512 channels at every level below
    G = networks.Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3,
                           mapping_kwargs=dict(num_layers=8), synthesis_kwargs=dict(channel_base=ch_base,
                                                                                    channel_max=512, conv_clamp=conv_clamp))
    randomize(G, gen)
    G.eval()
    with torch.no_grad():
        z = torch.randn(2, 512, generator=gen)
        G.mapping.w_avg.copy_(0.1 * torch.randn(512, generator=gen))
        their_w = G.mapping(z, None)[:, 0]
        ws = G.mapping(z, None)
        their_img = G.synthesis(ws, noise_mode="const", force_fp32=True)
    path = os.path.join(work, "nvlabs.pkl")
    with open(path, "wb") as f:
        pickle.dump({"G": G, "D": None, "G_ema": G, "augment_pipe": None, "training_set_kwargs": None}, f)
    ours, record = import_stylegan2.build_generator(path)
    assert torch.equal(ours.w_avg, G.mapping.w_avg)
    return compare(ours, z, ws, their_w, their_img) + (record["layout"],)


def check_rosinality(repo, res, work, gen, conv_clamp):
    import torch.utils.cpp_extension as ext
    ext.load = lambda *a, **k: None  # their op/ compiles CUDA kernels at import; the CPU paths do not need them
    sys.path.insert(0, repo)
    import model  # their model.py, from the checkout given on the command line
    g = model.Generator(res, 512, 8, channel_multiplier=2)
    randomize(g, gen)
    g.eval()
    with torch.no_grad():
        z = torch.randn(2, 512, generator=gen)
        their_w = g.style(z)
        ws = their_w.unsqueeze(1).repeat(1, g.n_latent, 1)
        their_img, _ = g([ws], input_is_latent=True, randomize_noise=False)
    path = os.path.join(work, "rosinality.pt")
    torch.save({"g_ema": g.state_dict(), "latent_avg": their_w.mean(0)}, path)
    ours, record = import_stylegan2.build_generator(path)
    return compare(ours, z, ws, their_w, their_img) + (record["layout"],)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nvlabs", help="checkout of NVlabs/stylegan2-ada-pytorch")
    ap.add_argument("--rosinality", help="checkout of rosinality/stylegan2-pytorch")
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--conv-clamp", type=float, default=256, help="NVlabs conv_clamp (their runs: 256; small: exercised)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    worst = 0.0
    with tempfile.TemporaryDirectory() as work:
        for repo, check in ((args.nvlabs, check_nvlabs), (args.rosinality, check_rosinality)):
            if not repo:
                continue
            gen = torch.Generator().manual_seed(0)
            dw, dimg, scale, layout = check(os.path.abspath(repo), args.resolution, work, gen, args.conv_clamp)
            print(f"{layout}: {args.resolution}x{args.resolution}: max |w - theirs| = {dw:.2e}, "
                  f"max |image - theirs| = {dimg:.2e} (mean |image| {scale:.3f})", flush=True)
            worst = max(worst, dw, dimg)
    sys.exit(0 if worst <= args.tol else 1)


if __name__ == "__main__":
    main()
