#!/usr/bin/env python3
"""Train the unconditional StyleGAN2 face generator on rendered faces (issue 3, item 2), on a CPU.

Start:   /usr/bin/python3 scripts/faces/train_gan.py --run-dir /work/lace-training/faces
Resume:  the same command with --resume (continues from RUN_DIR/checkpoint.pt with its own settings)
Monitor: RUN_DIR/stdout.log (a line every --print-every steps), RUN_DIR/log.jsonl (one JSON line per
         snapshot), RUN_DIR/samples/*.png (8x8 G_ema samples with fixed z at every snapshot)
Stop:    kill -TERM PID: it writes a checkpoint and exits
Smoke:   --smoke: tiny networks, ~20 steps in a temporary folder: rendering, training, checkpoint, resume,
         snapshot, labeler hook and TorchScript export end to end, in seconds

The loop is StyleGAN2's: non-saturating logistic loss, lazy R1 on reals, Adam (0, 0.99), an EMA copy of
G (G_ema: what gets exported), w_avg tracking, style mixing. No path length regularization (it would
cost about a quarter more per step). See docs/faces-data-card.md for the design and the measured speed.
"""
import os

# Before numpy/torch load: one OpenBLAS thread (with two torch threads a step of the trial model took
# 0.52 s on this 2-core machine, 0.87 s with OpenBLAS's default); the torch thread count is tuned at run time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import copy
import json
import math
import random
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # sibling modules, and scripts/ for atomic_files
import atomic_files  # noqa: E402
import encoder  # noqa: E402
import image_classifiers as ic  # noqa: E402
import render  # noqa: E402
import stylegan  # noqa: E402
from export_generator import export_generator  # noqa: E402

DEFAULT_RUN_DIR = "/work/lace-training/faces"
DECISIVE_PARTS = ("binary", "hair", "values")  # the terms of decisive_loss


@dataclass
class TrainConfig:
    gan: dict = field(default_factory=lambda: stylegan.Config().to_dict())
    batch: int = 16
    lr_g: float = 0.002
    lr_d: float = 0.002
    r1_gamma: float = 0.05          # StyleGAN2-ADA's rule 0.0002 * res^2 / batch at 64x64, batch 16
    r1_every: int = 16              # lazy R1: every 16 D steps, scaled up by 16
    ema_half_life: float = 10_000   # images
    ema_rampup: float = 0.05        # early on, half-life at most this fraction of the images seen (0: none,
                                    # for a run that starts from trained networks: G_ema is already good)
    mixing_prob: float = 0.9
    w_avg_beta: float = 0.995
    pool: int = 100_000             # rendered training images, kept in memory as uint8
    data_seed: int = 0              # render seed of the pool (use other seeds for labeler / evaluator)
    # Reconstruction anchor (encoder.py): 0 trains a plain GAN. With it, G's loss adds
    # rec_weight * (reconstruction error + kl_weight * KL per pixel) on a second batch of real images.
    rec_weight: float = 0.0
    kl_weight: float = 1.0
    adv_start_kimg: float = 0.0
    mmd_weight: float = 0.0         # encoder.mmd_to_prior: the codes of real images must fill the prior
    edge_weight: float = 0.0        # encoder.reconstruction_error: weight of the edge term
    l2_weight: float = 0.0          # encoder.reconstruction_error: weight of the squared-error term
    stroke_weight: float = 0.0      # encoder.reconstruction_error: extra weight of the real image's strokes
    # The first d_warmup_kimg of a run train D alone (G, G_ema held): a run started from a generator without
    # its discriminator (--init-from generator.pt) would otherwise learn from a random critic's gradients.
    d_warmup_kimg: float = 0.0
    # Real images drawn with weights by their true attributes, "smile=0:2,dark=1&smile=0:3" (each rule multiplies
    # the weight of the images that meet all its conditions; "" draws uniformly). G never sees the attributes;
    # this only curates the data, to pull a generator towards values it draws too rarely (e.g. closed mouths on
    # dark faces).
    favour: str = ""
    # Decisive faces (session 36): G's loss adds decisive_weight * decisive_loss over these judges (TorchScript
    # image classifiers, comma-separated paths, frozen) on its fakes: each judge is pulled to the judges'
    # shared reading, so a face reads as one class to all of them. The judges never see real images here and
    # G still never sees an attribute; the evaluator must not be among them.
    decisive_weight: float = 0.0
    decisive_judges: str = ""
    decisive_parts: str = ",".join(DECISIVE_PARTS)  # which terms of decisive_loss count


# The anchor's settings that a new run takes when not given, and that --resume may change (the encoder
# and the networks adapt; nothing is rebuilt). Keys are TrainConfig fields and argparse destinations.
ANCHOR_DEFAULTS = {"kl_weight": 1.0, "adv_start_kimg": 20.0, "mmd_weight": 100.0, "edge_weight": 1.0,
                   "l2_weight": 0.0, "stroke_weight": 0.0}


def smoke_config():
    gan = stylegan.Config(z_dim=16, w_dim=16, mapping_layers=2, channels={4: 16, 8: 16, 16: 16, 32: 8, 64: 8},
                          d_channels=None)
    return TrainConfig(gan=gan.to_dict(), batch=4, pool=1000, r1_every=4, rec_weight=10.0, adv_start_kimg=0.02,
                       mmd_weight=100.0, edge_weight=1.0, l2_weight=5.0, stroke_weight=5.0)


# ----------------------------------------------------------------------------------------------
# Data

class Pool:
    """A fixed set of rendered faces in memory; batches are drawn uniformly with replacement.
    cache (optional): an .npz file holding the same pool, read if it exists and written otherwise, so that
    several runs on one machine render it once."""

    def __init__(self, n, seed, workers=2, device="cpu", cache=None, favour=""):
        t0 = time.perf_counter()
        key = np.array([n, seed])
        if cache and os.path.exists(cache):
            with np.load(cache) as f:
                assert np.array_equal(f["key"], key), f"{cache} holds another pool than ({n}, seed {seed})"
                self.images = f["images"]
                self.attrs = {k[len("attr_"):]: f[k] for k in f.files if k.startswith("attr_")}
        else:
            self.images, self.attrs = render.render_many(n, seed, workers)
            if cache:
                with atomic_files.replacing(cache) as tmp, open(tmp, "wb") as f:
                    np.savez(f, key=key, images=self.images, **{"attr_" + k: v for k, v in self.attrs.items()})
        self.device = torch.device(device)
        self.weights = favour_weights(self.attrs, favour, lambda: render.skin_tones(n, seed))
        self.seconds = time.perf_counter() - t0

    def batch(self, rng, size):
        if self.weights is None:
            idx = rng.integers(0, len(self.images), size)
        else:
            idx = rng.choice(len(self.images), size, p=self.weights)
        return to_tensor(self.images[idx]).to(self.device, non_blocking=True)


def parse_favour(text):
    """ "smile=0:2,dark=1&beard=1:3" -> [((("smile", 0),), 2.0), ((("dark", 1), ("beard", 1)), 3.0)]: each rule
    a conjunction of ATTRIBUTE=VALUE conditions and a factor; ValueError naming the bad rule."""
    rules = []
    for rule in filter(None, (r.strip() for r in text.split(","))):
        try:
            conds, factor = rule.rsplit(":", 1)
            conds = tuple((name.strip(), int(value)) for name, value in
                          (c.split("=") for c in conds.split("&")))
            factor = float(factor)
        except ValueError:
            raise ValueError(f"favour rule '{rule}': expected ATTRIBUTE=VALUE[&ATTRIBUTE=VALUE...]:FACTOR, "
                             "e.g. smile=0:2 or dark=1&smile=0:3") from None
        for name, value in conds:
            if name != "dark" and (name not in render.ATTRIBUTES or name in render.CONTINUOUS):
                raise ValueError(f"favour rule '{rule}': {name} is neither a discrete attribute nor dark")
            if name == "dark" and value not in (0, 1):
                raise ValueError(f"favour rule '{rule}': dark is 0 or 1")
        if not factor > 0:
            raise ValueError(f"favour rule '{rule}': the factor must be positive")
        rules.append((conds, factor))
    return rules


def favour_weights(attrs, favour, skin_tones=None):
    """Drawing probabilities of the pool's images under the favour rules, or None (uniform) without rules: an
    image's weight is the product of the factors of the rules whose every condition it meets. The name "dark"
    (1: skin tone under render.DARK_SKIN_BELOW) reads skin_tones(), the pool's tones: skin is a nuisance of the
    renderer, not an attribute, and the generator entangles it with some."""
    rules = parse_favour(favour)
    if not rules:
        return None
    n = len(attrs[render.ATTRIBUTES[0]])
    dark = None
    w = np.ones(n)
    for conds, factor in rules:
        match = np.ones(n, bool)
        for name, value in conds:
            if name == "dark" and dark is None:
                dark = (skin_tones() < render.DARK_SKIN_BELOW).astype(int)
            match &= (dark if name == "dark" else attrs[name]) == value
        w[match] *= factor
    return w / w.sum()


def frozen(module):
    """module in eval mode with no parameter asking for gradients (a ScriptModule has no requires_grad_)."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def decisive_loss(outputs, parts=DECISIVE_PARTS):
    """How far each judge's reading of the same images is from the judges' shared one. outputs: list of [B, 11]
    (render.LABEL_COLUMNS). The shared reading (no gradient) is the mean of the judges' outputs, turned into a
    label for the binary attributes (mean logit > 0) and hair (argmax of the mean logits) and kept as a value for
    the continuous ones; each judge pays binary cross-entropy, hair cross-entropy and 10x the squared difference
    of the continuous values against it, averaged over images and summed over judges. Zero only where every judge
    is sure of the same labels and reads the same values; ambiguous faces (a logit near 0) pay most. parts: which
    of the three terms count. Measured (session 36, docs/faces-data-card.md): every form of it drifted G towards
    smiling faces, which the judges read most alike."""
    nb, nh = len(render.BINARY), len(render.HAIR_CLASSES)
    with torch.no_grad():
        mean = torch.stack(outputs).mean(0)
        binary, hair, values = (mean[:, :nb] > 0).float(), mean[:, nb:nb + nh].argmax(1), mean[:, nb + nh:]
    loss = 0.0
    for o in outputs:
        if "binary" in parts:
            loss = loss + F.binary_cross_entropy_with_logits(o[:, :nb], binary, reduction="none").sum(1).mean()
        if "hair" in parts:
            loss = loss + F.cross_entropy(o[:, nb:nb + nh], hair)
        if "values" in parts:
            loss = loss + 10.0 * (o[:, nb + nh:] - values).square().sum(1).mean()
    return loss


def to_tensor(images):
    """uint8 [B, H, W, 3] -> float [B, 3, H, W] in [-1, 1]"""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def to_uint8(x):
    return ((x.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


# ----------------------------------------------------------------------------------------------
# Training state

class Trainer:
    def __init__(self, tc: TrainConfig, device="cpu"):
        """device: where the networks train; not part of the run's settings (a run may resume elsewhere)."""
        self.tc = tc
        self.device = torch.device(device)
        self.cfg = stylegan.Config.from_dict(tc.gan)
        self.G = stylegan.Generator(self.cfg).to(self.device)
        self.D = stylegan.Discriminator(self.cfg).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g, betas=(0.0, 0.99), eps=1e-8)
        c = tc.r1_every / (tc.r1_every + 1)  # lazy regularization: StyleGAN2's Adam adjustment
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d * c, betas=(0.0, 0.99 ** c), eps=1e-8)
        self.E = None
        if tc.rec_weight > 0:
            self.E = encoder.Encoder(self.cfg.resolution, self.cfg.d_channels or self.cfg.channels,
                                     self.cfg.z_dim).to(self.device)
            self.opt_e = torch.optim.Adam(self.E.parameters(), lr=tc.lr_g, betas=(0.0, 0.99), eps=1e-8)
        self.judges = [frozen(torch.jit.load(p, map_location=self.device))
                       for p in tc.decisive_judges.split(",") if p] if tc.decisive_weight > 0 else []
        self.decisive_parts = tc.decisive_parts.split(",")
        self.step = 0
        self.nimg = 0
        self.train_seconds = 0.0
        self.data_rng = np.random.default_rng([tc.data_seed, 12345])

    # --- one step -------------------------------------------------------------------------------
    def ws(self, batch):
        """Latents for a batch: w repeated over the layers, with style mixing at a random cutoff."""
        G, n = self.G, self.cfg.num_ws
        w = G.mapping(torch.randn(batch, self.cfg.z_dim, device=self.device))
        with torch.no_grad():
            G.w_avg.copy_(w.detach().mean(0).lerp(G.w_avg, self.tc.w_avg_beta))
        ws = w.unsqueeze(1).repeat(1, n, 1)
        if random.random() < self.tc.mixing_prob:
            cutoff = random.randint(1, n - 1)
            ws2 = G.mapping(torch.randn(batch, self.cfg.z_dim, device=self.device))
            ws = torch.cat([ws[:, :cutoff], ws2.unsqueeze(1).repeat(1, n - cutoff, 1)], 1)
        return ws

    def train_step(self, pool):
        tc, G, stats = self.tc, self.G, {}
        # With the reconstruction anchor, the first adv_start_kimg are a plain VAE: the decoder learns to
        # draw every kind of face at a third of a GAN step's cost before the discriminator joins.
        adversarial = self.E is None or self.nimg >= tc.adv_start_kimg * 1000
        if adversarial:
            self.d_step(pool, stats)
        if self.nimg >= tc.d_warmup_kimg * 1000:
            self.g_step(pool, stats, adversarial)

        # G_ema: half-life in images, shorter early on so that early samples are not stale.
        self.nimg += tc.batch
        half_life = min(tc.ema_half_life, self.nimg * tc.ema_rampup) if tc.ema_rampup > 0 else tc.ema_half_life
        beta = 0.5 ** (tc.batch / max(half_life, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), G.parameters()):
                p_ema.lerp_(p, 1.0 - beta)
            for b_ema, b in zip(self.G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)
        self.step += 1
        return stats

    def d_step(self, pool, stats):
        """Logistic loss on reals and fakes; fakes are scored without building G's graph; lazy R1 on reals."""
        tc, G, D = self.tc, self.G, self.D
        real = pool.batch(self.data_rng, tc.batch)
        r1_now = self.step % tc.r1_every == 0
        with torch.no_grad():
            fake = G.synthesize(self.ws(tc.batch), True)
        D.requires_grad_(True)
        real.requires_grad_(r1_now)
        logits_real = D(real)
        loss_d = F.softplus(D(fake)).mean() + F.softplus(-logits_real).mean()
        stats["loss_d"] = loss_d.item()
        if r1_now:
            (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
            r1 = grad.square().sum([1, 2, 3]).mean()
            loss_d = loss_d + r1 * (tc.r1_gamma / 2) * tc.r1_every
            stats["r1"] = r1.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        stats["d_real"] = logits_real.detach().mean().item()

    def g_step(self, pool, stats, adversarial):
        """Non-saturating loss on fresh samples (D's weights need no gradients: a third of D's backward
        pass saved), plus the reconstruction anchor when there is an encoder."""
        loss_g = torch.zeros((), device=self.device)
        if adversarial:
            self.D.requires_grad_(False)
            fake = self.G.synthesize(self.ws(self.tc.batch), True)
            logits_fake = self.D(fake)
            loss_g = F.softplus(-logits_fake).mean()
            stats["loss_g"] = loss_g.item()
            stats["d_fake"] = logits_fake.detach().mean().item()
            if self.judges:
                decisive = decisive_loss([j(fake) for j in self.judges], self.decisive_parts)
                loss_g = loss_g + self.tc.decisive_weight * decisive
                stats["decisive"] = decisive.item()
        if self.E is not None:
            loss_g = loss_g + self.reconstruction_loss(pool, stats)
            self.opt_e.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.E is not None:
            self.opt_e.step()

    def reconstruction_loss(self, pool, stats):
        """VAE term: encode real images, redraw them through G's mapping and synthesis (encoder.py)."""
        tc = self.tc
        real = pool.batch(self.data_rng, tc.batch)
        mean, log_var = self.E(real)
        z = encoder.sample_posterior(mean, log_var)
        w = self.G.mapping(z)
        rec = self.G.synthesize(w.unsqueeze(1).repeat(1, self.cfg.num_ws, 1), True)
        error = encoder.reconstruction_error(rec, real, tc.edge_weight, tc.l2_weight, tc.stroke_weight)
        kl = encoder.kl_to_prior(mean, log_var).mean()
        stats["rec"], stats["kl"] = error.item(), kl.item()
        stats["z_sq"] = z.detach().square().mean().item()  # 1 when the codes lie where the prior's samples do
        loss = tc.rec_weight * (error + tc.kl_weight * encoder.kl_per_pixel(kl, self.cfg.resolution))
        if tc.mmd_weight > 0:
            mmd = encoder.mmd_to_prior(z)
            stats["mmd"] = mmd.item()
            loss = loss + tc.mmd_weight * mmd
        return loss

    # --- checkpoints ----------------------------------------------------------------------------
    def state(self):
        return {
            "format": "lace-faces-gan-checkpoint", "version": 1,
            "train_config": asdict(self.tc), "step": self.step, "nimg": self.nimg,
            "train_seconds": self.train_seconds,
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "E": self.E.state_dict() if self.E else None, "opt_e": self.opt_e.state_dict() if self.E else None,
            "rng": {"torch": torch.get_rng_state(), "numpy": self.data_rng.bit_generator.state,
                    "python": random.getstate()},
        }

    def save(self, path):
        """Atomic: a reader (or a crash) never sees half a checkpoint."""
        atomic_files.save_torch(self.state(), path)

    def weights(self):
        """The state without the optimizers' moments: a third of the size, for carrying a run between
        machines. Trainer.load starts fresh Adam moments from it (with beta1 = 0 they refill within a few
        hundred steps)."""
        return {k: v for k, v in self.state().items() if not k.startswith("opt_")}

    @staticmethod
    def load(path, device="cpu"):
        ck = torch.load(path, map_location="cpu", weights_only=False)  # our own files: configs and RNG states too
        t = Trainer(TrainConfig(**ck["train_config"]), device)
        t.G.load_state_dict(ck["G"])
        t.D.load_state_dict(ck["D"])
        t.G_ema.load_state_dict(ck["G_ema"])
        if "opt_g" in ck:  # absent in Trainer.weights() files
            t.opt_g.load_state_dict(ck["opt_g"])
            t.opt_d.load_state_dict(ck["opt_d"])
        if t.E is not None:
            t.E.load_state_dict(ck["E"])
            if ck.get("opt_e") is not None:
                t.opt_e.load_state_dict(ck["opt_e"])
        t.step, t.nimg, t.train_seconds = ck["step"], ck["nimg"], ck["train_seconds"]
        torch.set_rng_state(ck["rng"]["torch"])
        t.data_rng.bit_generator.state = ck["rng"]["numpy"]
        random.setstate(ck["rng"]["python"])
        return t


# ----------------------------------------------------------------------------------------------
# Snapshots: samples, and the labeler's attribute frequencies when a labeler exists

@torch.no_grad()
def synthesize(G, w, batch=100):
    """Images [n, 3, R, R] in [-1, 1] from codes w [n, w_dim] (the same w at every layer), in batches, with
    the deterministic (fixed-noise) synthesis that is exported."""
    return torch.cat([G.synthesis(w[i:i + batch].unsqueeze(1).repeat(1, G.num_ws, 1)) for i in range(0, len(w), batch)])


@torch.no_grad()
def generate(G, n, seed, batch=100):
    """n images from fixed z (seed): the mapping, then synthesize."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(G.w_avg.device)
    return synthesize(G, torch.cat([G.mapping(z[i:i + batch]) for i in range(0, n, batch)]), batch)


def frequencies(outputs):
    """Attribute rates from a labeler's outputs in render.LABEL_COLUMNS order."""
    out, nb, nh = {}, len(render.BINARY), len(render.HAIR_CLASSES)
    outputs = outputs.cpu()
    for i, name in enumerate(render.BINARY):
        out[name] = round(float((outputs[:, i] > 0).float().mean()), 4)
    # the combination the generator draws least often against the data (a beard under a hat, session 32)
    out["beard AND hat"] = round(float(((outputs[:, render.BINARY.index("beard")] > 0)
                                        & (outputs[:, render.BINARY.index("hat")] > 0)).float().mean()), 4)
    hair = outputs[:, nb:nb + nh].argmax(1)
    out["hair"] = {c: round(float((hair == k).float().mean()), 4) for k, c in enumerate(render.HAIR_CLASSES)}
    for j, name in enumerate(render.CONTINUOUS):
        v = outputs[:, nb + nh + j]
        out[name] = {"mean": round(float(v.mean()), 4), "std": round(float(v.std()), 4),
                     "p05": round(float(v.quantile(0.05)), 4), "p95": round(float(v.quantile(0.95)), 4)}
    return out


@torch.no_grad()
def label(labeler, images, batch=100):
    """A labeler's outputs on many images, in batches."""
    return torch.cat([labeler(images[i:i + batch]) for i in range(0, len(images), batch)])


class LabelerHook:
    """Optional: if the labeler file exists (it may appear while training runs, or be replaced), score
    1,000 G_ema samples and 1,000 training images with it. The labeler is TorchScript:
    forward(images [B, 3, 64, 64] in [-1, 1]) -> [B, len(render.LABEL_COLUMNS)] (binary logits, hair
    logits, age, yaw). With a second network of the same interface (checker), also how alike the two read
    the samples and the data (image_classifiers.agreement): session 35 found favoured fine-tunes drawing faces
    that networks trained on clean renders read apart, and lace's sampling and editing lose there."""

    def __init__(self, path, pool, n=1000, checker=None):
        self.path, self.pool, self.n, self.checker_path = path, pool, n, checker
        self.models = {}  # path -> (mtime, TorchScript module)

    def _load(self, path):
        mtime = os.path.getmtime(path)
        if self.models.get(path, (None,))[0] != mtime:
            self.models[path] = (mtime, torch.jit.load(path, map_location=self.pool.device).eval())
        return self.models[path][1]

    def __call__(self, G_ema, reconstruct=None):
        """reconstruct (optional): real images -> their redrawings through the encoder and G_ema; the
        labeler's rates on them show whether the anchor carries an attribute at all."""
        if not self.path or not os.path.exists(self.path):
            return None
        try:
            model = self._load(self.path)
            with torch.no_grad():
                fake = generate(G_ema, self.n, seed=777)
                real = to_tensor(self.pool.images[:self.n]).to(self.pool.device)
                read_fake, read_real = label(model, fake), label(model, real)
                out = {"labeler": self.path, "samples": frequencies(read_fake), "data": frequencies(read_real)}
                if self.checker_path and os.path.exists(self.checker_path):
                    checker = self._load(self.checker_path)
                    out["agreement"] = {
                        "checker": self.checker_path,
                        "samples": ic.agreement(ic.predictions(read_fake), ic.predictions(label(checker, fake))),
                        "data": ic.agreement(ic.predictions(read_real), ic.predictions(label(checker, real)))}
                if reconstruct is not None:
                    out["reconstructions"] = frequencies(label(model, torch.cat(
                        [reconstruct(real[i:i + 100]) for i in range(0, len(real), 100)])))
                return out
        except Exception as e:  # a broken labeler must not stop a long training run
            return {"labeler": self.path, "error": repr(e)}


def save_sheet(images_uint8, path, cols=8):
    with atomic_files.replacing(path) as tmp:
        render.contact_sheet(images_uint8, cols).save(tmp)


def snapshot(trainer, run_dir, hook, window):
    """Contact sheet of G_ema on fixed z, a copy of G_ema's weights, and a log line."""
    os.makedirs(os.path.join(run_dir, "samples"), exist_ok=True)
    tag = f"{trainer.step:07d}"
    sheet = to_uint8(generate(trainer.G_ema, 64, seed=123))
    save_sheet(sheet, os.path.join(run_dir, "samples", f"samples-{tag}.png"))
    shutil.copyfile(os.path.join(run_dir, "samples", f"samples-{tag}.png"), os.path.join(run_dir, "samples-latest.png"))
    reconstruct = None
    if trainer.E is not None:  # 32 training images above their reconstructions through G_ema
        # From a sample of q(z | x), not its mean: once the posteriors are wide the mean lies inside the
        # prior's shell, where G draws an average face (seeded: the sheets of two snapshots compare).
        noise = torch.Generator(trainer.device).manual_seed(321)

        def reconstruct(real):
            with torch.no_grad():
                w = trainer.G_ema.mapping(encoder.sample_posterior(*trainer.E(real), generator=noise))
                return trainer.G_ema.synthesis(w.unsqueeze(1).repeat(1, trainer.cfg.num_ws, 1))
        real = to_tensor(hook.pool.images[:32]).to(trainer.device)
        rec = reconstruct(real)
        save_sheet(np.concatenate([to_uint8(real), to_uint8(rec)]), os.path.join(run_dir, "reconstructions-latest.png"))
    os.makedirs(os.path.join(run_dir, "snapshots"), exist_ok=True)
    atomic_files.save_torch({"gan": trainer.tc.gan, "step": trainer.step, "G_ema": trainer.G_ema.state_dict()},
                            os.path.join(run_dir, "snapshots", f"g_ema-{tag}.pt"))
    line = {"step": trainer.step, "kimg": round(trainer.nimg / 1000, 2), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "train_hours": round(trainer.train_seconds / 3600, 3)}
    line.update(window.summary())
    freq = hook(trainer.G_ema, reconstruct)
    if freq is not None:
        line["frequencies"] = freq
    with open(os.path.join(run_dir, "log.jsonl"), "a") as f:
        f.write(json.dumps(line) + "\n")
    return line


class Window:
    """Running means of the step statistics since the last snapshot."""

    def __init__(self):
        self.sums, self.counts, self.count, self.seconds, self.images = {}, {}, 0, 0.0, 0

    def add(self, stats, seconds, images):
        for k, v in stats.items():  # r1 only comes every r1_every steps: each key has its own count
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1
        self.count, self.seconds, self.images = self.count + 1, self.seconds + seconds, self.images + images

    def summary(self):
        out = {k: round(v / self.counts[k], 4) for k, v in self.sums.items()}
        out["s_per_step"] = round(self.seconds / max(self.count, 1), 3)
        out["images_per_s"] = round(self.images / max(self.seconds, 1e-9), 1)
        self.__init__()
        return out


class ThreadTuner:
    """Picks the torch thread count by measuring it. Two threads halve the step time on an idle 2-core
    machine, but when another process holds a core they wait on each other at every parallel region and a
    step becomes several times slower than with one thread. So every `period` seconds the loop runs a few
    steps with each choice and keeps the faster one."""

    def __init__(self, choices, period=600.0, probe_steps=6):
        self.choices, self.period, self.probe_steps = list(choices), period, probe_steps
        self.threads = self.choices[-1]
        self.times = {}          # threads -> step times during the current probe
        self.next_probe = 0.0    # monotonic time of the next probe (0: right away)
        self.probing = None      # the choice being measured, or None

    def before_step(self):
        if len(self.choices) == 1:
            return
        if self.probing is None and time.monotonic() >= self.next_probe:
            self.times, self.probing = {}, self.choices[0]
            self._set(self.probing)

    def after_step(self, seconds):
        if self.probing is None:
            return None
        times = self.times.setdefault(self.probing, [])
        times.append(seconds)
        best = min([float(np.median(v[1:])) for t, v in self.times.items() if t != self.probing] or [np.inf])
        hopeless = len(times) >= 2 and times[-1] > 2 * best  # don't spend minutes confirming a bad choice
        if len(times) < self.probe_steps + 1 and not hopeless:  # the first step after a switch is a warm-up
            return None
        i = self.choices.index(self.probing)
        if i + 1 < len(self.choices):
            self.probing = self.choices[i + 1]
            self._set(self.probing)
            return None
        median = {t: float(np.median(v[1:])) for t, v in self.times.items()}
        self.probing, self.next_probe = None, time.monotonic() + self.period
        self._set(min(median, key=median.get))
        return {"threads": self.threads, "probe_s_per_step": {str(t): round(m, 3) for t, m in median.items()}}

    def _set(self, n):
        self.threads = n
        torch.set_num_threads(n)


# ----------------------------------------------------------------------------------------------
# The loop

def train(trainer, pool, run_dir, args, stop):
    """Steps until stop['flag'] (a signal), --max-steps, --max-hours or --stop-after-minutes; checkpoints and
    snapshots by wall time."""
    hook = LabelerHook(args.labeler, pool, args.labeler_samples, args.checker)
    ck_path = os.path.join(run_dir, "checkpoint.pt")
    last_ck = last_snap = time.monotonic()
    window, printed = Window(), Window()
    tuner = ThreadTuner([1, 2] if args.threads == 0 else [args.threads])
    start_step, started = trainer.step, time.monotonic()
    while not stop["flag"]:
        tuner.before_step()
        t0 = time.perf_counter()
        stats = trainer.train_step(pool)
        dt = time.perf_counter() - t0
        choice = tuner.after_step(dt)
        if choice:
            print("torch threads", json.dumps(choice), flush=True)
        trainer.train_seconds += dt
        window.add(stats, dt, trainer.tc.batch)
        printed.add(stats, dt, trainer.tc.batch)
        if trainer.step % args.print_every == 0:
            s = printed.summary()
            print(f"step {trainer.step} kimg {trainer.nimg / 1000:.1f} threads {tuner.threads} " +
                  " ".join(f"{k} {v}" for k, v in s.items()), flush=True)
        done = (args.max_steps and trainer.step - start_step >= args.max_steps) or \
               (args.max_hours and trainer.train_seconds >= args.max_hours * 3600) or \
               (args.stop_after_minutes and time.monotonic() - started >= args.stop_after_minutes * 60)
        now = time.monotonic()
        if now - last_snap >= args.snapshot_minutes * 60 or done:
            line = snapshot(trainer, run_dir, hook, window)
            print("snapshot", json.dumps(line), flush=True)
            last_snap = now
        if now - last_ck >= args.checkpoint_minutes * 60 or done:
            trainer.save(ck_path)
            print(f"checkpoint step {trainer.step} -> {ck_path}", flush=True)
            last_ck = now
        if done:
            return
    trainer.save(ck_path)
    print(f"stopped by signal: checkpoint step {trainer.step} -> {ck_path}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help="checkpoints, samples and logs (outside the repo)")
    ap.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt with its settings")
    ap.add_argument("--smoke", action="store_true", help="tiny end-to-end check in a temporary folder (seconds)")
    ap.add_argument("--tiny", action="store_true", help="a new run with the smoke test's tiny networks (pipeline checks)")
    ap.add_argument("--labeler", help="TorchScript labeler; its frequencies are logged at snapshots once it exists")
    ap.add_argument("--labeler-samples", type=int, default=1000)
    ap.add_argument("--checker", help="a second TorchScript image classifier (the labeler's outputs); at snapshots, "
                                      "how alike it and the labeler read the samples is logged too")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads; 0: measure 1 and 2 every 10 minutes and use the faster")
    ap.add_argument("--nice", type=int, default=10, help="lower the priority so the machine stays usable")
    ap.add_argument("--checkpoint-minutes", type=float, default=10.0)
    ap.add_argument("--snapshot-minutes", type=float, default=30.0)
    ap.add_argument("--print-every", type=int, default=100)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in this run (0: never)")
    ap.add_argument("--max-hours", type=float, default=0.0, help="stop at this much total training time (0: never)")
    ap.add_argument("--stop-after-minutes", type=float, default=0.0,
                    help="stop after this much wall time in this invocation (0: never)")
    ap.add_argument("--render-workers", type=int, default=2)
    ap.add_argument("--pool-cache", help=".npz of the rendered pool: read if it exists, else written (runs side by side)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (the run's files stay device-neutral)")
    ap.add_argument("--batch", type=int, help="images per step (default 16); on --resume R1's gamma follows it")
    # New runs only (a resumed run keeps the settings in its checkpoint):
    ap.add_argument("--pool", type=int)
    ap.add_argument("--channels", help='generator widths, e.g. "4:256,8:256,16:128,32:96,64:32"')
    ap.add_argument("--d-channels", help="discriminator widths, same form")
    ap.add_argument("--z-dim", type=int)
    ap.add_argument("--mapping-layers", type=int)
    ap.add_argument("--d-pack", type=int, help="PacGAN: the discriminator judges this many images at once (default 1); "
                                               "the batch must be a multiple of it")
    ap.add_argument("--init-from", metavar="CHECKPOINT",
                    help="start the new run from another run's networks and architecture (its --d-pack may differ: "
                         "a packed discriminator starts as the old one applied to the pack's mean image); or from "
                         "an exported generator.pt (G and G_ema from it, a new discriminator: see --d-warmup-kimg)")
    ap.add_argument("--favour", metavar="RULES",
                    help='draw real images with weights by their true attributes, e.g. "smile=0:2" (each matching '
                         'image twice as often) or "dark=1&smile=0:3" (all conditions); hair by class index (hair=3 '
                         'is red); "dark=1" names faces of dark skin; the generator never sees them')
    ap.add_argument("--decisive-weight", type=float, default=0.0,
                    help="weight of decisive_loss on G's fakes over --decisive-judges (session 36; 0: none)")
    ap.add_argument("--decisive-judges", metavar="A.pt,B.pt", default="",
                    help="TorchScript image classifiers whose shared reading G's faces are pulled to (never the evaluator)")
    ap.add_argument("--decisive-parts", default=",".join(DECISIVE_PARTS),
                    help="which terms of decisive_loss count (comma-separated of binary, hair, values)")
    ap.add_argument("--d-warmup-kimg", type=float, default=0.0,
                    help="train the discriminator alone for this many thousand images first (G held)")
    ap.add_argument("--lr", type=float, help="Adam learning rate of G and D (default 0.002, StyleGAN2's; lower "
                                             "for fine-tuning trained networks)")
    ap.add_argument("--ema-rampup", type=float,
                    help="G_ema's half-life ramp-up (default 0.05; 0: none, when starting from trained networks)")
    ap.add_argument("--rec-weight", type=float, default=10.0,
                    help="weight of the reconstruction anchor (encoder.py); 0 trains a plain GAN")
    # These may also change on --resume (the encoder and the networks adapt; nothing is rebuilt):
    ap.add_argument("--kl-weight", type=float, help="weight of the KL term in the reconstruction anchor (default 1)")
    ap.add_argument("--adv-start-kimg", type=float,
                    help="with --rec-weight: train as a plain VAE for this many thousand images first (default 20)")
    ap.add_argument("--mmd-weight", type=float,
                    help="weight of the MMD between real images' codes and the prior (encoder.mmd_to_prior; default 100)")
    ap.add_argument("--edge-weight", type=float,
                    help="weight of the edge term of the reconstruction error (encoder.reconstruction_error; default 1)")
    ap.add_argument("--l2-weight", type=float,
                    help="weight of the squared-error term of the reconstruction error (default 0; 5 was tried, docs/faces-data-card.md)")
    ap.add_argument("--stroke-weight", type=float,
                    help="extra weight of the real image's strokes in the pixel error (encoder.stroke_map; default 0)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or 2)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit("--device cuda: no CUDA device is available")
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if args.nice:
        os.nice(args.nice)
    if args.smoke:
        return smoke(args)

    os.makedirs(args.run_dir, exist_ok=True)
    ck_path = os.path.join(args.run_dir, "checkpoint.pt")
    if args.resume:
        if args.init_from:
            sys.exit("train_gan.py: --init-from starts a new run; it cannot be combined with --resume")
        trainer = Trainer.load(ck_path, args.device)
        print(f"resumed {ck_path} at step {trainer.step} ({trainer.nimg / 1000:.1f} kimg, "
              f"{trainer.train_seconds / 3600:.2f} h of training)", flush=True)
        for name in ANCHOR_DEFAULTS:  # only the ones given: the rest keep the checkpoint's values
            if getattr(args, name) is not None:
                setattr(trainer.tc, name, getattr(args, name))
        if args.batch and args.batch != trainer.tc.batch:
            set_batch(trainer.tc, args.batch)
    else:
        if os.path.exists(ck_path):
            sys.exit(f"{ck_path} exists: pass --resume, or choose another --run-dir")
        source = load_source(args.init_from) if args.init_from else None
        tc = new_config(args, source["train_config"]["gan"] if source else None,
                        source_has_d=bool(source and source["D"] is not None))
        torch.manual_seed(tc.data_seed)
        random.seed(tc.data_seed)
        trainer = Trainer(tc, args.device)
        if source:
            start_from(trainer, source)
            print(f"networks from {args.init_from} (step {source['step']}, {source['nimg'] / 1000:.1f} kimg)", flush=True)
            del source  # a whole checkpoint, Adam moments too: not to be held in memory while training runs
    tc = trainer.tc
    print("config", json.dumps(asdict(tc)), flush=True)
    print(f"G {count(trainer.G) / 1e6:.2f}M parameters, D {count(trainer.D) / 1e6:.2f}M, num_ws {trainer.cfg.num_ws}",
          flush=True)
    pool = Pool(tc.pool, tc.data_seed, args.render_workers, args.device, args.pool_cache, tc.favour)
    print(f"rendered the pool: {tc.pool} images in {pool.seconds:.1f} s", flush=True)
    if not os.path.exists(os.path.join(args.run_dir, "reals.png")):
        save_sheet(pool.images[:64], os.path.join(args.run_dir, "reals.png"))
        atomic_files.write_json(os.path.join(args.run_dir, "data_rates.json"), render.rates(pool.attrs), indent=1)

    stop = {"flag": False}

    def on_signal(signum, frame):
        print(f"signal {signum}: finishing the step, then checkpointing", flush=True)
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    train(trainer, pool, args.run_dir, args, stop)


def parse_widths(text):
    return {int(k): int(v) for k, v in (kv.split(":") for kv in text.split(","))}


def new_config(args, source_gan=None, source_has_d=True):
    """A new run's settings from the command line; source_gan (--init-from): that run's architecture, of which
    only the discriminator's pack may change (and its widths, when the source brings no discriminator)."""
    if args.tiny:
        return smoke_config()
    tc = TrainConfig()
    gan = stylegan.Config.from_dict(source_gan or tc.gan)
    if source_gan and (args.channels or (args.d_channels and source_has_d) or args.z_dim or args.mapping_layers):
        raise SystemExit("train_gan.py: --init-from takes the architecture from its checkpoint; "
                         "of the architecture options only --d-pack may be given with it "
                         "(and --d-channels with a generator.pt, which has no discriminator)")
    if args.channels:
        gan.channels = parse_widths(args.channels)
    if args.d_channels:
        gan.d_channels = parse_widths(args.d_channels)
    if args.z_dim:
        gan.z_dim = gan.w_dim = args.z_dim
    if args.mapping_layers:
        gan.mapping_layers = args.mapping_layers
    if args.d_pack:
        gan.d_pack = args.d_pack
    tc.gan = gan.to_dict()
    if args.batch:
        set_batch(tc, args.batch)
    else:
        require_whole_packs(tc)  # the default batch against --d-pack (set_batch checks a given one)
    if args.pool:
        tc.pool = args.pool
    tc.rec_weight = args.rec_weight
    tc.d_warmup_kimg = getattr(args, "d_warmup_kimg", 0.0)
    tc.favour = getattr(args, "favour", None) or ""
    tc.decisive_weight = getattr(args, "decisive_weight", 0.0) or 0.0
    tc.decisive_judges = getattr(args, "decisive_judges", "") or ""
    if tc.decisive_weight > 0 and not tc.decisive_judges:
        raise SystemExit("train_gan.py: --decisive-weight needs --decisive-judges")
    tc.decisive_parts = getattr(args, "decisive_parts", None) or ",".join(DECISIVE_PARTS)
    if not set(tc.decisive_parts.split(",")) <= set(DECISIVE_PARTS):
        raise SystemExit(f"train_gan.py: --decisive-parts: each of {', '.join(DECISIVE_PARTS)}, comma-separated")
    try:
        parse_favour(tc.favour)
    except ValueError as e:
        raise SystemExit(f"train_gan.py: --favour: {e}")
    if getattr(args, "lr", None):
        tc.lr_g = tc.lr_d = args.lr
    if getattr(args, "ema_rampup", None) is not None:
        tc.ema_rampup = args.ema_rampup
    for name, default in ANCHOR_DEFAULTS.items():
        setattr(tc, name, default if getattr(args, name) is None else getattr(args, name))
    return tc


def load_source(path):
    """--init-from's checkpoint (train_gan.py's checkpoint.pt or Trainer.weights file, or an exported
    generator.pt), or one line saying why not."""
    if not os.path.isfile(path):
        sys.exit(f"train_gan.py: --init-from {path}: no such file")
    if is_torchscript(path):
        return generator_source(path)
    try:
        source = torch.load(path, map_location="cpu", weights_only=False)  # our own files: configs too
    except Exception as e:
        sys.exit(f"train_gan.py: --init-from {path}: not a readable checkpoint ({type(e).__name__})")
    missing = [k for k in ("train_config", "G", "G_ema", "D", "step", "nimg") if k not in source]
    if missing:
        sys.exit(f"train_gan.py: --init-from {path}: not a training checkpoint (no {', '.join(missing)}; "
                 "snapshots/g_ema-*.pt hold only G_ema)")
    return source


def is_torchscript(path):
    """torch.jit.save writes a zip archive holding a constants.pkl; torch.save's archives hold none."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def generator_source(path):
    """An exported generator.pt as --init-from's source: its weights become G and G_ema (export_generator.py
    writes G_ema); the architecture is read from the weights' shapes; there is no discriminator (a new one
    is made, with new_config's --d-channels if given), and the run counts from zero."""
    try:
        state = {k: v.detach().clone() for k, v in torch.jit.load(path, map_location="cpu").state_dict().items()}
        cfg = stylegan.Config.from_generator_state(state)
        stylegan.Generator(cfg).load_state_dict(state)  # every key and shape, or the error names the first
    except (RuntimeError, ValueError) as e:
        sys.exit(f"train_gan.py: --init-from {path}: not a lace generator ({str(e).splitlines()[0]})")
    return {"train_config": {"gan": cfg.to_dict()}, "G": state, "G_ema": state, "D": None, "step": 0, "nimg": 0}


def start_from(trainer, source):
    """Load another run's G, G_ema and D into a new run (the optimizers start fresh). When the new run packs
    k times as many images into the discriminator, its first layer's weights are tiled k times and scaled so
    that it starts as the old discriminator applied to the mean of each pack (equalized lr: the runtime scale
    is 1 / sqrt(fan-in), so the stored weights shrink by sqrt(k), not k)."""
    trainer.G.load_state_dict(source["G"])
    trainer.G_ema.load_state_dict(source["G_ema"])
    if source["D"] is None:  # an exported generator: the new run's discriminator starts from scratch
        return
    d = dict(source["D"])
    old, new = source["train_config"]["gan"].get("d_pack", 1), trainer.cfg.d_pack
    if new != old:
        if new % old:
            raise SystemExit(f"train_gan.py: --init-from: a pack of {new} does not extend the source's pack of {old}")
        d["from_rgb.conv.weight"] = d["from_rgb.conv.weight"].repeat(1, new // old, 1, 1) / math.sqrt(new // old)
    trainer.D.load_state_dict(d)


def set_batch(tc, batch):
    """StyleGAN2-ADA's rule for R1's gamma: 0.0002 * resolution^2 / batch."""
    tc.batch = batch
    tc.r1_gamma = 0.0002 * tc.gan["resolution"] ** 2 / batch
    require_whole_packs(tc)


def require_whole_packs(tc):
    """PacGAN: the discriminator scores packs of d_pack consecutive images, so the batch must split into them."""
    pack = tc.gan.get("d_pack", 1)
    if tc.batch % pack:
        raise SystemExit(f"train_gan.py: the batch ({tc.batch}) is not a multiple of the discriminator's pack ({pack})")


def count(module):
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------------
# Smoke test: every piece once, tiny and fast (CI runs this)

def smoke(args):
    t_start = time.perf_counter()
    run_dir = tempfile.mkdtemp(prefix="lace-gan-smoke-")
    try:
        torch.manual_seed(0)
        tc = smoke_config()
        pool = Pool(tc.pool, tc.data_seed, workers=1)
        images, attrs = pool.images, pool.attrs
        assert images.shape == (tc.pool, 64, 64, 3) and images.dtype == np.uint8
        again, _ = render.render(10, tc.data_seed, start=5)
        assert np.array_equal(again, images[5:15]), "rendering must depend only on (seed, index)"
        assert set(attrs) == set(render.ATTRIBUTES)

        # a stand-in labeler, so that the hook runs
        labeler_path = os.path.join(run_dir, "labeler.pt")
        lab = torch.nn.Sequential(torch.nn.AvgPool2d(8), torch.nn.Flatten(),
                                  torch.nn.Linear(192, len(render.LABEL_COLUMNS)))
        torch.jit.save(torch.jit.script(lab), labeler_path)
        args.labeler = labeler_path
        args.checker = labeler_path  # a network agrees with itself on every image: all labels, no gaps
        args.snapshot_minutes = args.checkpoint_minutes = 1e9  # only at the end of each leg
        args.print_every = 5
        args.labeler_samples = 200
        args.threads = 1  # tiny networks: a second thread only adds waiting
        torch.set_num_threads(1)

        trainer = Trainer(tc)
        args.max_steps = 10
        train(trainer, pool, run_dir, args, {"flag": False})
        ck = os.path.join(run_dir, "checkpoint.pt")
        assert os.path.exists(ck) and trainer.step == 10

        # resume: a fresh trainer from the checkpoint continues exactly where the first one stopped
        resumed = Trainer.load(ck)
        assert resumed.step == 10 and resumed.nimg == trainer.nimg
        for a, b in zip(resumed.G_ema.state_dict().values(), trainer.G_ema.state_dict().values()):
            assert torch.equal(a, b)
        s1 = trainer.train_step(pool)
        resumed2 = Trainer.load(ck)
        s2 = resumed2.train_step(pool)
        assert abs(s1["loss_d"] - s2["loss_d"]) < 1e-4 and abs(s1["loss_g"] - s2["loss_g"]) < 1e-4, (s1, s2)
        train(resumed2, pool, run_dir, args, {"flag": False})
        assert resumed2.step == 21

        # the weights-only file (for carrying a run between machines) resumes with fresh optimizers
        light = os.path.join(run_dir, "weights.pt")
        torch.save(resumed2.weights(), light)
        again = Trainer.load(light)
        assert again.step == 21 and all(torch.equal(a, b) for a, b in zip(again.E.state_dict().values(),
                                                                         resumed2.E.state_dict().values()))
        again.train_step(pool)

        # the pool cache: the second reader gets exactly the rendered pool
        cache = os.path.join(run_dir, "pool.npz")
        first, second = Pool(300, 5, 1, cache=cache), Pool(300, 5, 1, cache=cache)
        assert np.array_equal(first.images, second.images) and np.array_equal(first.attrs["hair"], second.attrs["hair"])

        log = [json.loads(x) for x in open(os.path.join(run_dir, "log.jsonl"))]
        assert len(log) == 2 and "samples" in log[-1]["frequencies"], log[-1]
        assert ic.agreement_score(log[-1]["frequencies"]["agreement"]["samples"]) == 1.0, log[-1]
        assert os.path.exists(os.path.join(run_dir, "samples-latest.png"))

        # export: TorchScript with mapping, synthesis and w_avg, deterministic
        out = os.path.join(run_dir, "generator.pt")
        info = export_generator(ck, out, w_avg_samples=1000)
        g = torch.jit.load(out)
        z = torch.randn(3, info["z_dim"])
        w = g.mapping(z)
        ws = w.unsqueeze(1).repeat(1, info["num_ws"], 1)
        img = g.synthesis(ws)
        assert w.shape == (3, info["w_dim"]) and img.shape == (3, 3, 64, 64)
        assert img.min() >= -1 and img.max() <= 1 and torch.equal(img, g.synthesis(ws))
        assert g.w_avg.shape == (info["w_dim"],)
        print(f"smoke test passed in {time.perf_counter() - t_start:.1f} s ({run_dir})")
    finally:
        if not os.environ.get("LACE_KEEP_SMOKE"):
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
