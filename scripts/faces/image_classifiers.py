"""Image attribute classifiers for the rendered faces: the labeler, the evaluator and the checker.

All read images as the generator writes them ([B, 3, 64, 64] floats in [-1, 1]) and return the 11
outputs of render.LABEL_COLUMNS: 4 binary logits (smile, glasses, beard, hat), 5 hair-colour logits,
and the two continuous attributes (age, yaw) as regressions on their own scales.

- The labeler pseudo-labels generated samples; the latent classifier learns from its labels.
- The evaluator only scores samples, never guides them. To keep its errors independent of the
  labeler's it has another architecture (residual blocks, GroupNorm, global average pooling instead of
  a strided conv stack with a dense head), another initialisation seed and another slice of the data.
- The checker, the face bundle's verifier (lace reads every conditional image with it), has a third
  architecture, seed and slice, unlike both: the labeler taught the latent classifier and shares its blind spots.
- The reviewer, a fourth architecture (a patch transformer: attention instead of convolution), seed and slice: a
  further vote where a verifier is a panel of judges that must all read a condition met (Judges).
- SmilePatches reads only smile, from patches of the image (train_smile_patches.py); lace edit's verifier
  hears it beside the checker and the labeler (MeanWithSmilePatches).
"""
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from render import BINARY, CONTINUOUS, HAIR_CLASSES, LABEL_COLUMNS

NUM_BINARY, NUM_HAIR, NUM_CONT = len(BINARY), len(HAIR_CLASSES), len(CONTINUOUS)
NUM_OUTPUTS = len(LABEL_COLUMNS)
assert LABEL_COLUMNS[0] == "smile"  # MeanWithSmilePatches replaces the first column


class Labeler(nn.Module):
    """Strided conv stack 64 -> 4, then a dense layer and one linear layer for every output."""

    def __init__(self, width=32):
        super().__init__()
        w = width
        layers, cin = [], 3
        for cout in (w, 2 * w, 4 * w, 4 * w):  # 64 -> 32 -> 16 -> 8 -> 4
            layers += [nn.Conv2d(cin, cout, 3, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2),
                       nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * 16, 256), nn.LeakyReLU(0.2), nn.Linear(256, NUM_OUTPUTS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(8, cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, 1, 1),
                                  nn.GroupNorm(8, cout), nn.SiLU(), nn.Conv2d(cout, cout, 3, 1, 1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.skip(x) + self.body(x), 2)


class Evaluator(nn.Module):
    """Residual blocks with GroupNorm and SiLU, average pooling, global pooling, one linear layer."""

    def __init__(self, width=16):
        super().__init__()
        w = width
        # A strided stem: residual blocks at full 64x64 would cost ten times the labeler on this CPU.
        self.stem = nn.Conv2d(3, w, 4, 2, 1)  # 64 -> 32
        self.blocks = nn.Sequential(ResBlock(w, 2 * w), ResBlock(2 * w, 4 * w), ResBlock(4 * w, 8 * w),
                                    ResBlock(8 * w, 8 * w))  # 32 -> 2
        self.norm = nn.GroupNorm(8, 8 * w)
        self.out = nn.Linear(8 * w, NUM_OUTPUTS)

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features: what the Frechet distance between sample sets is computed on."""
        return F.silu(self.norm(self.blocks(self.stem(x)))).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


class Checker(nn.Module):
    """A third architecture, unlike both others: no normalisation, ELU, max pooling, and global max and mean
    pooling side by side before a two-layer head. A candidate second verifier: an image that fools one
    architecture (a cap-shaped lump of blonde hair that the labeler reads as a hat) need not fool another."""

    def __init__(self, width=24):
        super().__init__()
        w = width
        layers, cin = [nn.Conv2d(3, w, 4, 2, 1), nn.ELU()], w  # 64 -> 32
        for cout in (w, 2 * w, 4 * w, 128):  # 32 -> 16 -> 8 -> 4 -> 2
            layers += [nn.Conv2d(cin, cout, 3, 1, 1), nn.ELU(), nn.Conv2d(cout, cout, 3, 1, 1), nn.ELU(),
                       nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(2 * cin, 128), nn.ELU(), nn.Linear(128, NUM_OUTPUTS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return self.head(torch.cat([f.amax((2, 3)), f.mean((2, 3))], 1))


class AttentionBlock(nn.Module):
    """Pre-norm self-attention over the tokens, then a pre-norm MLP, both residual; written out (no fused kernel),
    so that TorchScript and LibTorch run the same operations as training did."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        b, n, d = t.shape
        qkv = self.qkv(self.norm1(t)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each [B, heads, tokens, d / heads]
        a = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, -1)
        t = t + self.proj((a @ v).transpose(1, 2).reshape(b, n, d))
        return t + self.mlp(self.norm2(t))


class PatchTransformer(nn.Module):
    """A fourth architecture, the reviewer: 8x8-pixel patches as 64 tokens with a learned position embedding, four
    attention blocks, the mean of the tokens, one linear layer. No convolution past the patch embedding, so every
    token can weigh every other from the first block on; its errors on generated faces fall elsewhere than the
    convolutional networks' (session 41: where the checker and the labeler both read a head turned -0.6, the evaluator
    agrees on 0.93 of unconditional samples; where the reviewer does too, on 0.99)."""

    def __init__(self, dim=128, depth=4, heads=4, patch=8):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.pos = nn.Parameter(torch.randn(1, (64 // patch) ** 2, dim) * 0.02)
        self.blocks = nn.Sequential(*[AttentionBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, NUM_OUTPUTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x).flatten(2).transpose(1, 2) + self.pos  # [B, 64, dim]
        return self.out(self.norm(self.blocks(t)).mean(1))


ARCHITECTURES = {"labeler": Labeler, "evaluator": Evaluator, "checker": Checker, "reviewer": PatchTransformer}


class SmilePatches(nn.Module):
    """A smile judge that sees patches, not faces: a fully convolutional stack whose every output reads a patch of
    at most 28 x 28 pixels (a mouth and what is around it), and the image's smile logit is its most smile-like
    patch's. Why: on dark bearded faces the generator draws a wide light mouth that people and the evaluator read
    as a smile and the checker and the labeler, which read the whole face, do not (docs/faces-edit-evaluation.md,
    sessions 32 and 39); a judge that cannot see the rest of the face cannot read the mouth from its context."""

    RECEPTIVE_FIELD = 28  # pixels: the 4x4 stem, then each 3x3 convolution adds 2 x its input's stride (2, 2, 4, 4)

    def __init__(self, width=16):
        super().__init__()
        w = width
        layers, cin = [], 3
        for cout, kernel, stride, pad in ((w, 4, 2, 1), (2 * w, 3, 1, 1), (4 * w, 3, 2, 1), (4 * w, 3, 1, 1),
                                          (4 * w, 3, 1, 1)):  # 64 -> 32 -> 32 -> 16 -> 16 -> 16
            layers += [nn.Conv2d(cin, cout, kernel, stride, pad), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
            cin = cout
        self.body = nn.Sequential(*layers, nn.Conv2d(cin, 1, 1))

    @torch.jit.export
    def patch_logits(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1, 16, 16]: each patch's smile logit."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B]: the smile logit of the most smile-like patch."""
        return self.patch_logits(x).flatten(1).amax(1)


def to_input(images_uint8):
    """uint8 [n, 64, 64, 3] (numpy or tensor) -> float [n, 3, 64, 64] in [-1, 1], as the generator writes."""
    x = torch.as_tensor(np.asarray(images_uint8)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def loss(outputs, labels):
    """Sum of the three kinds of loss; labels are render.label_matrix rows."""
    b = F.binary_cross_entropy_with_logits(outputs[:, :NUM_BINARY], labels[:, :NUM_BINARY])
    hair = labels[:, NUM_BINARY:NUM_BINARY + NUM_HAIR].argmax(1)
    h = F.cross_entropy(outputs[:, NUM_BINARY:NUM_BINARY + NUM_HAIR], hair)
    c = F.mse_loss(outputs[:, -NUM_CONT:], labels[:, -NUM_CONT:])
    return b + h + 10.0 * c  # continuous errors are small numbers: weight them up to matter


def predictions(outputs):
    """Decisions from outputs: {binary name: 0/1, 'hair': class index, continuous name: value} as numpy."""
    o = outputs.detach().cpu()
    out = {name: (o[:, i] > 0).numpy().astype(np.uint8) for i, name in enumerate(BINARY)}
    out["hair"] = o[:, NUM_BINARY:NUM_BINARY + NUM_HAIR].argmax(1).numpy()
    for j, name in enumerate(CONTINUOUS):
        out[name] = o[:, NUM_BINARY + NUM_HAIR + j].numpy()
    return out


def agreement(p, q):
    """How alike two networks' predictions (predictions()) read the same images: the share of equal labels per
    binary attribute and hair, and the mean |difference| of the continuous ones."""
    out = {a: float((p[a] == q[a]).mean()) for a in (*BINARY, "hair")}
    out.update({f"{a} |diff|": float(np.abs(p[a] - q[a]).mean()) for a in CONTINUOUS})
    return out


def agreement_score(a):
    """One number for an agreement(): the mean share of equal labels less the mean |difference| of the continuous
    readings (both near 0.1 apart from perfect on this generator's faces; higher is more alike)."""
    shares = [v for k, v in a.items() if not k.endswith("|diff|")]
    diffs = [v for k, v in a.items() if k.endswith("|diff|")]
    return sum(shares) / len(shares) - sum(diffs) / len(diffs)


def metrics(pred, attrs):
    """Held-out agreement per attribute: accuracy for discrete ones, mean absolute error and the share
    within 0.1 for continuous ones (on the attribute's own scale)."""
    m = {name: float((pred[name] == attrs[name]).mean()) for name in BINARY}
    m["hair"] = float((pred["hair"] == attrs["hair"]).mean())
    for name in CONTINUOUS:
        err = np.abs(pred[name] - attrs[name])
        m[name] = {"mae": float(err.mean()), "within_0.1": float((err < 0.1).mean())}
    return m


@torch.no_grad()
def classify(model, images_uint8, batch=500):
    model.eval()
    return torch.cat([model(to_input(images_uint8[i:i + batch])) for i in range(0, len(images_uint8), batch)])


class MeanOfTwo(nn.Module):
    """The mean of two image classifiers' outputs (same columns): the face bundle's edit verifier, the checker's
    and the labeler's logits averaged. A polish that follows its gradient through the generator must change
    what two networks of different architecture read, not a blind spot of one (session 30: following the
    checker alone made glasses the evaluator read on 0.72 of edited faces, the mean 0.91)."""

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return 0.5 * (self.a(x) + self.b(x))


class Judges(nn.Module):
    """Several image classifiers' outputs side by side, [B, J, columns]: a verifier with `"judges": J` in lace.json,
    which counts a condition met only as far as every judge reads it met and polishes with the sum of their
    energies. Why not the mean: the mean meets a continuous target (yaw -0.6) when one network reads -0.9 and the
    other -0.3, and a polish that follows it pulls them apart (session 35, docs/faces-edit-evaluation.md)."""

    def __init__(self, *nets):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x):
        return torch.stack([net(x) for net in self.nets], 1)


class JudgesMeasuredByFirst(nn.Module):
    """A panel (Judges' [B, J, columns], the first judge's columns) where every judge votes on the yes/no and
    hair-colour columns but the first alone measures the continuous ones (age, yaw, skin): its readings fill those
    columns in every judge's slot. Why: a vote helps where the judges err on different faces (beard AND hat 0.78 ->
    0.88 with checker, labeler and reviewer, session 41), but the labeler and the reviewer read this generator's right
    turns short, so a panel that must all read yaw 0.6 picks faces turned too far (hat AND yaw=0.6 0.70 -> 0.59);
    measured by the checker alone, 0.70."""

    def __init__(self, *nets):
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.first_continuous = NUM_BINARY + NUM_HAIR

    def forward(self, x):
        # The others' continuous columns are never read, so they may have fewer (the first with skin.py's column).
        c = self.first_continuous
        outs = [net(x) for net in self.nets]
        measured = outs[0][:, c:]
        return torch.stack([torch.cat([out[:, :c], measured], 1) for out in outs], 1)


class MeanWithSmilePatches(nn.Module):
    """The mean of two classifiers' outputs (MeanOfTwo), whose smile column (the first) also hears a SmilePatches
    judge: (1 - share) x their mean smile logit + share x the patch judge's. At a third, a wide light mouth that only
    the patch judge reads as a smile (logit +6 against -3 and -4) reads unsure (-0.3), so lace edit's min_p check
    sees the step fail, and its polish follows the patch judge's gradient too."""

    # A third, written as the measured bundle was built with it (1/3 differs from it in the last bit of a float32).
    SHARE = 0.3333333

    def __init__(self, a, b, smile, share: float = SHARE):
        super().__init__()
        self.mean, self.smile, self.share = MeanOfTwo(a, b), smile, share

    def forward(self, x):
        mean = self.mean(x)
        smile = (1 - self.share) * mean[:, 0] + self.share * self.smile(x)
        return torch.cat([smile[:, None], mean[:, 1:]], 1)


def save_mean(path_a, path_b, out, judges=False, smile_path=None):
    """Writes the TorchScript mean of the TorchScript classifiers at path_a and path_b to `out` (atomically);
    judges=True: both readings side by side instead (Judges); smile_path: a SmilePatches judge whose smile
    logit joins their mean's (MeanWithSmilePatches)."""
    if smile_path and judges:
        raise ValueError("a smile patch judge joins the mean; with judges=True there is no mean to join")
    if judges:
        return save_judges([path_a, path_b], out)
    a, b = torch.jit.load(path_a).eval(), torch.jit.load(path_b).eval()
    pair = MeanWithSmilePatches(a, b, torch.jit.load(smile_path).eval()) if smile_path else MeanOfTwo(a, b)
    _save_scripted(pair, out)


def save_judges(paths, out, measured_by_first=False):
    """Writes the TorchScript classifiers at `paths` as one panel of judges (Judges: [B, len(paths), columns];
    with measured_by_first, JudgesMeasuredByFirst) to `out` (atomically); lace.json's verifier then needs
    `"judges": len(paths)`."""
    if len(paths) < 2:
        raise ValueError("a panel of judges needs two networks or more")
    panel = JudgesMeasuredByFirst if measured_by_first else Judges
    _save_scripted(panel(*[torch.jit.load(p).eval() for p in paths]), out)


def _save_scripted(module, out):
    import atomic_files
    scripted = torch.jit.script(module.eval())
    with atomic_files.replacing(out) as tmp:
        scripted.save(tmp)
