#!/usr/bin/env python3
"""Refits a trained generator's mapping network to where real images land in w (attribute-blind experiment).

    /usr/bin/python3 scripts/faces/refit_mapping.py CHECKPOINT --out DIR [--labeler models/faces/labeler.pt]

Why: a GAN trained here drops minority features (glasses on 2.6% of samples against 24% of the data), yet
inverting real faces shows that the synthesis network can draw them from codes the mapping network rarely
gives (docs/faces-data-card.md). So the synthesis network stays as it is and only the distribution of w
changes, fitted to where the data's own images land in w:

1. draw:    (z, w, image) from the generator as trained; shards under DIR/draws, resumable.
2. encoder: a CNN that reads w back from an image, trained by regression on those draws (the generator
            only runs forward, so this is cheap on a CPU, unlike inversion by optimisation).
3. encode:  the training pool's real images -> their codes w = E(x).
4. fit:     the mapping network, from its trained weights, as the generator of a small GAN in w space
            whose critic tells its w from the codes of real images (optionally plus an MMD term). No
            attribute is seen anywhere: the data's images alone decide where the mass of w goes.
5. export:  DIR/checkpoint.pt, the input checkpoint with the new mapping in G and G_ema (and w_avg
            measured again), loadable by train_gan.Trainer.load and export_generator.py as before.

The labeler, when given, only reports: its rates on reconstructions G(E(x)) of real images and on samples
of the old and new mappings (DIR/report.json, DIR/reconstructions.png). Every phase skips work whose
output already exists. Measured on the wide GPU run (session 10, docs/faces-data-card.md): the fit does
follow the codes (hair colours rebalance), but a regression encoder (held-out R^2 0.60) does not carry
glasses or beards (reconstructions: 4.8% and 1.4%), so the refitted samples have fewer, not more; the
fit is only as good as the encoder, and an encoder trained through the synthesis network is the next try.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import encoder  # noqa: E402
import rank_runs  # noqa: E402
import render  # noqa: E402
import stylegan  # noqa: E402
import train_gan  # noqa: E402
from torch import nn  # noqa: E402

SHARD = 1000


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------
# 1. draws

@torch.no_grad()
def draw_shard(G, index, seed, size=SHARD, batch=50):
    """z from (seed, index), w = mapping(z), images from the exported (fixed-noise) synthesis."""
    z = torch.randn(size, G.z_dim, generator=torch.Generator().manual_seed(seed * 100003 + index))
    w = torch.cat([G.mapping(z[i:i + batch]) for i in range(0, size, batch)])
    return {"z": z, "w": w, "images": torch.from_numpy(train_gan.to_uint8(train_gan.synthesize(G, w, batch)))}


def draws(G, out_dir, n, seed):
    """All shards for n draws, computing the missing ones; returns (w [n, w_dim], images uint8 [n, H, W, 3])."""
    d = os.path.join(out_dir, "draws")
    os.makedirs(d, exist_ok=True)
    ws, images = [], []
    for k in range((n + SHARD - 1) // SHARD):
        path = os.path.join(d, f"shard_{k:04d}.pt")
        if not os.path.exists(path):
            t0 = time.time()
            atomic_files.save_torch(draw_shard(G, k, seed), path)
            log(f"draws: shard {k} ({SHARD / (time.time() - t0):.1f} images/s)")
        s = torch.load(path)
        ws.append(s["w"])
        images.append(s["images"])
    return torch.cat(ws)[:n], torch.cat(images)[:n]


# ----------------------------------------------------------------------------------------------
# 2. the encoder: image -> w, by regression on the generator's own draws

ENCODER_CHANNELS = {64: 8, 32: 32, 16: 64, 8: 128, 4: 128}  # narrow at 64x64: 0.2 s per batch of 64 here (4 s with 32)


class CodeReader(nn.Module):
    """image [B, 3, R, R] in [-1, 1] -> w [B, w_dim]. The anchor's encoder trunk (the discriminator's
    residual blocks); it predicts standardised w, scaled back with the draws' mean and std."""

    def __init__(self, resolution, w_dim):
        super().__init__()
        self.trunk = encoder.Encoder(resolution, ENCODER_CHANNELS, w_dim)
        self.register_buffer("w_mean", torch.zeros(w_dim))
        self.register_buffer("w_std", torch.ones(w_dim))

    def forward(self, img):
        return self.trunk(img)[0] * self.w_std + self.w_mean


def train_reader(w, images, steps, batch=64, held_out=1000, lr=0.002, seed=0):
    """Fits a CodeReader on all draws but the last `held_out`; returns (reader, held-out R^2 of w)."""
    torch.manual_seed(seed)
    reader = CodeReader(images.shape[1], w.shape[1])
    reader.w_mean.copy_(w.mean(0))
    reader.w_std.copy_(w.std(0))
    opt = torch.optim.Adam(reader.parameters(), lr=lr, betas=(0.9, 0.99))
    # 5% warm-up; OneCycleLR divides by the warm-up length, which must be 2 steps or more
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=max(0.05, 2.5 / steps))
    n_train = len(w) - held_out
    rng = np.random.default_rng(seed)
    t0 = time.time()
    for step in range(steps):
        idx = torch.from_numpy(rng.integers(0, n_train, batch))
        x = train_gan.to_tensor(images[idx].numpy())
        loss = ((reader(x) - w[idx]) / reader.w_std).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == steps - 1:
            log(f"encoder: step {step} loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    reader.eval().requires_grad_(False)
    held_w = w[n_train:]
    pred = read_codes(reader, images[n_train:].numpy())
    r2 = 1 - float((pred - held_w).square().sum() / (held_w - held_w.mean(0)).square().sum())
    return reader, r2


@torch.no_grad()
def read_codes(reader, images_uint8, batch=64):  # larger batches ran 10x slower here (memory-bound)
    return torch.cat([reader(train_gan.to_tensor(images_uint8[i:i + batch]))
                      for i in range(0, len(images_uint8), batch)])


# ----------------------------------------------------------------------------------------------
# 4. fitting the mapping network to the codes of real images: a GAN in w space

class CodeCritic(nn.Module):
    """w [B, w_dim] -> realness logit [B]. An MLP with a minibatch standard deviation feature (groups of 4),
    which sees a batch that lacks the codes' spread."""

    def __init__(self, w_dim, width=512, group=4):
        super().__init__()
        self.group = group
        self.body = nn.Sequential(nn.Linear(w_dim, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Linear(width + 1, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, w):
        h = self.body(w)
        g = min(self.group, h.shape[0])
        sd = h.reshape(g, -1, h.shape[1]).std(0).mean(1)  # [B / g]
        sd = sd.repeat(g).unsqueeze(1)
        return self.head(torch.cat([h, sd], 1)).squeeze(1)


def w_mmd(a, b, scales=(0.2, 0.5, 1.0, 2.0, 5.0)):
    """MMD^2 between two sets of standardised codes (inverse multiquadric kernels); differentiable."""
    x = torch.cat([a, b])
    d2 = torch.cdist(x, x).square() / a.shape[1]
    k = sum(s / (s + d2) for s in scales)
    n = len(a)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def fit_mapping(mapping, codes, z_dim, steps, batch=512, lr=0.002, mapping_lr=None, r1_gamma=0.1, mmd_weight=0.0,
                critic_width=512, seed=0):
    """Trains `mapping` (z -> w) so that mapping(z ~ N(0, I)) matches the distribution of `codes`.
    Non-saturating GAN loss, R1 on the codes, optionally plus mmd_weight x MMD^2 between the batch and as many
    codes (it pulls on every region the batch misses, however small); everything is standardised with the
    codes' mean and std. mapping_lr (default lr): the mapping's Adam rate; StyleGAN's mapping layers scale
    their parameters by lr_mul = 0.01, so they need about lr / 0.01 to move as fast as the critic.
    Returns the log, every 250 steps."""
    torch.manual_seed(seed)
    mean, std = codes.mean(0), codes.std(0)
    critic = CodeCritic(codes.shape[1], critic_width)
    opt_m = torch.optim.Adam(mapping.parameters(), lr=mapping_lr or lr, betas=(0.0, 0.99))
    opt_c = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.0, 0.99))
    mapping.train().requires_grad_(True)
    softplus = nn.functional.softplus
    history, t0 = [], time.time()
    for step in range(steps):
        real = (codes[torch.randint(0, len(codes), (batch,))] - mean) / std
        with torch.no_grad():
            fake = (mapping(torch.randn(batch, z_dim)) - mean) / std
        real.requires_grad_(True)
        real_logit = critic(real)
        (grad,) = torch.autograd.grad(real_logit.sum(), real, create_graph=True)
        loss_c = softplus(critic(fake)).mean() + softplus(-real_logit).mean() + r1_gamma / 2 * grad.square().sum(1).mean()
        opt_c.zero_grad(set_to_none=True)
        loss_c.backward()
        opt_c.step()

        fake = (mapping(torch.randn(batch, z_dim)) - mean) / std
        loss_m = softplus(-critic(fake)).mean()
        if mmd_weight > 0:
            loss_m = loss_m + mmd_weight * w_mmd(fake, real.detach())
        opt_m.zero_grad(set_to_none=True)
        loss_m.backward()
        opt_m.step()
        if step % 250 == 0 or step == steps - 1:
            with torch.no_grad():
                sample = (mapping(torch.randn(2000, z_dim)) - mean) / std
                ref = (codes[torch.randint(0, len(codes), (2000,))] - mean) / std
                mmd = float(w_mmd(sample, ref))
            history.append({"step": step, "loss_critic": round(loss_c.item(), 4), "loss_mapping": round(loss_m.item(), 4),
                            "mmd": round(mmd, 5), "seconds": round(time.time() - t0, 1)})
            log(f"fit: {history[-1]}")
    mapping.eval().requires_grad_(False)
    return history


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="train_gan.py checkpoint or weights file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--draws", type=int, default=20000, help="generator draws the encoder learns from")
    ap.add_argument("--encoder-steps", type=int, default=6000)
    ap.add_argument("--pool", type=int, default=100000, help="real images (render seed 0: the training pool)")
    ap.add_argument("--fit-steps", type=int, default=4000)
    ap.add_argument("--fit-lr", type=float, default=0.002)
    ap.add_argument("--fit-mapping-lr", type=float, default=0.1,
                    help="the mapping network's rate (its layers scale parameters by 0.01)")
    ap.add_argument("--fit-mmd", type=float, default=0.0, help="weight of the MMD term beside the GAN loss")
    ap.add_argument("--labeler", help="report only: the labeler's rates on reconstructions and samples")
    ap.add_argument("--report-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--phase", choices=["draw", "encode", "all"], default="all", help="stop after this phase")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    trainer = train_gan.Trainer.load(args.checkpoint)
    G = trainer.G_ema.eval().requires_grad_(False)
    # The labeler reads images only for the report; nothing it says feeds back into the fit.
    labeler = torch.jit.load(args.labeler).eval() if args.labeler else None
    report_path = os.path.join(args.out, "report.json")
    report = json.load(open(report_path)) if os.path.exists(report_path) else {}
    report["checkpoint"] = args.checkpoint

    w, images = draws(G, args.out, args.draws, args.seed)
    log(f"draws: {len(w)} ready")
    if args.phase == "draw":
        return

    reader_path = os.path.join(args.out, "encoder.pt")
    if os.path.exists(reader_path):
        reader = CodeReader(G.resolution, G.w_dim)
        reader.load_state_dict(torch.load(reader_path))
        reader.eval().requires_grad_(False)
    else:
        reader, r2 = train_reader(w, images, args.encoder_steps, held_out=min(1000, len(w) // 5))
        atomic_files.save_torch(reader.state_dict(), reader_path)
        report["encoder"] = {"steps": args.encoder_steps, "draws": len(w), "held_out_r2": round(r2, 4)}
        log(f"encoder: held-out R^2 {r2:.4f}")

    codes_path = os.path.join(args.out, "codes.pt")
    if os.path.exists(codes_path):
        codes = torch.load(codes_path)
    else:
        pool, attrs = render.render_many(args.pool, 0)
        codes = read_codes(reader, pool)
        atomic_files.save_torch(codes, codes_path)
        log(f"encode: {len(codes)} real images")
        if labeler is not None:
            n = args.report_n
            recon = train_gan.synthesize(G, codes[:n])
            report["reconstructions"] = train_gan.frequencies(train_gan.label(labeler, recon))
            report["data"] = train_gan.frequencies(train_gan.label(labeler, train_gan.to_tensor(pool[:n])))
            train_gan.save_sheet(np.concatenate([pool[:16], train_gan.to_uint8(recon[:16]), pool[16:32],
                                                 train_gan.to_uint8(recon[16:32])]),
                                 os.path.join(args.out, "reconstructions.png"), cols=16)
        atomic_files.write_json(report_path, report, indent=1)
    if args.phase == "encode":
        return

    mapping = trainer.G_ema.style
    before = train_gan.generate(G, args.report_n, seed=777) if labeler is not None else None  # the snapshots' fixed z
    history = fit_mapping(mapping, codes, G.z_dim, args.fit_steps, lr=args.fit_lr, mapping_lr=args.fit_mapping_lr,
                          mmd_weight=args.fit_mmd)
    trainer.G.style.load_state_dict(mapping.state_dict())
    w_avg = stylegan.measure_w_avg(G)
    trainer.G.w_avg.copy_(w_avg)
    trainer.G_ema.w_avg.copy_(w_avg)
    atomic_files.save_torch(trainer.weights(), os.path.join(args.out, "checkpoint.pt"))
    report["fit"] = {"steps": args.fit_steps, "lr": args.fit_lr, "mapping_lr": args.fit_mapping_lr, "mmd_weight": args.fit_mmd, "history": history}
    if labeler is not None:
        after = train_gan.generate(G, args.report_n, seed=777)
        report["samples_before"] = train_gan.frequencies(train_gan.label(labeler, before))
        report["samples_after"] = train_gan.frequencies(train_gan.label(labeler, after))
        for key in ("samples_before", "samples_after"):
            r = rank_runs.ratios(report[key], report["data"])
            report[key + "_coverage"] = {"weakest": min(r, key=r.get), "ratio": min(r.values()), "ratios": r}
        train_gan.save_sheet(train_gan.to_uint8(after[:64]), os.path.join(args.out, "samples_after.png"))
    atomic_files.write_json(report_path, report, indent=1)
    log("done: " + json.dumps({k: report.get(k + "_coverage", {}).get("ratio") for k in ("samples_before", "samples_after")}))


if __name__ == "__main__":
    main()
