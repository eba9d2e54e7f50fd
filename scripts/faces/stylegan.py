"""A StyleGAN2 generator (and a residual discriminator for training it), in plain PyTorch.

One module for both of lace's uses:
- the small face model trained here (scripts/faces/train_gan.py, Config.faces64());
- later, real StyleGAN2 FFHQ weights (Config.ffhq_config_f(): z = w = 512, 8 mapping layers, 18 ws at
  1024x1024). The arithmetic and the parameter names follow the PyTorch port that LACE uses
  (rosinality/stylegan2-pytorch, a .pt dict whose "g_ema" is that Generator's state_dict), so an importer
  only has to rename the noise buffers (`noises.noise_0` -> `conv1.noise.const`, `noises.noise_{k+1}` ->
  `convs.{k}.noise.const`) and compute `w_avg` (mean of mapping(z)); every other key loads as is.
  NVlabs stylegan2-ada-pytorch networks load through a name table (scripts/import_stylegan2.py), with
  Config.layout = "nvlabs" and Config.conv_clamp reproducing the two places where their arithmetic differs.

Architecture (StyleGAN2, config-f style): mapping = pixel norm + equalized-lr linear layers with a 0.01 lr
multiplier; synthesis = learned constant 4x4 input, modulated 3x3 convolutions with weight demodulation,
per-layer noise with a learned strength, transposed-conv upsampling followed by a [1,3,3,1] blur, and
skip-architecture to-RGB outputs (the RGB image so far is upsampled and added to at each resolution).

TorchScript: `torch.jit.script(Generator(cfg))` exports `mapping(z) -> w [B, w_dim]`,
`synthesis(ws [B, num_ws, w_dim]) -> image [B, 3, R, R] in [-1, 1]` and the buffer `w_avg`, which is what
lace's bundle format expects (docs/bundle-format.md). `synthesis` uses fixed noise buffers drawn from
Config.noise_seed, so it is deterministic; training calls forward() with fresh noise.
"""
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Config:
    resolution: int = 64
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    # Generator widths per resolution. Thin strokes (glasses, mouths) are drawn at 32 and 64, so those
    # levels keep more width than a "halve per level" rule would give them.
    channels: Dict[int, int] = field(default_factory=lambda: {4: 256, 8: 256, 16: 128, 32: 96, 64: 32})
    # Discriminator widths per resolution (None: the generator's)
    d_channels: Optional[Dict[int, int]] = field(default_factory=lambda: {4: 256, 8: 256, 16: 128, 32: 64, 64: 32})
    lr_mapping: float = 0.01       # mapping network learning-rate multiplier (StyleGAN2's)
    mbstd_group: int = 4           # minibatch standard deviation group size
    # PacGAN (Lin et al. 2018): the discriminator judges d_pack images at once, stacked along the channels,
    # so a generator that drops a mode loses on every pack (a pack of reals shows the mode more often
    # than any one image does). 1: StyleGAN2's discriminator.
    d_pack: int = 1
    noise_seed: int = 0            # seed of the fixed noise buffers used by synthesis()
    # Imported checkpoints (scripts/import_stylegan2.py): whose arithmetic to reproduce where the two public
    # ports differ. "rosinality": demodulation epsilon added to the scaled weights (the default, also for
    # training here); "nvlabs" (stylegan2-ada-pytorch): epsilon added to the raw weights.
    layout: str = "rosinality"
    conv_clamp: Optional[float] = None  # stylegan2-ada-pytorch clamps conv outputs to +-256 in its own runs

    @property
    def num_ws(self) -> int:
        return 2 * int(math.log2(self.resolution)) - 2

    def to_dict(self):
        return asdict(self)

    @staticmethod
    def from_dict(d):
        d = dict(d)
        d["channels"] = {int(k): v for k, v in d["channels"].items()}  # JSON turns keys into strings
        if d.get("d_channels"):
            d["d_channels"] = {int(k): v for k, v in d["d_channels"].items()}
        return Config(**d)

    @staticmethod
    def from_generator_state(state, d_channels=None):
        """The architecture of a Generator's state_dict (e.g. of an exported generator.pt, which holds no
        config): widths from the weights' shapes. The discriminator is not in it: d_channels (None: this
        class's default). Raises ValueError naming the first key that does not fit."""
        def shape(key):
            if key not in state:
                raise ValueError(f"not a generator's weights (no {key})")
            return tuple(state[key].shape)
        mapping = sorted(int(k.split(".")[1]) for k in state if k.startswith("style.") and k.endswith(".weight"))
        if not mapping:
            raise ValueError("not a generator's weights (no mapping layers style.N.weight)")
        w_dim, z_dim = shape(f"style.{mapping[0]}.weight")
        convs = len({k.split(".")[1] for k in state if k.startswith("convs.")})
        if convs == 0 or convs % 2:
            raise ValueError(f"not a generator's weights ({convs} synthesis convolutions: expected pairs)")
        channels = {4: shape("conv1.conv.weight")[1]}
        for i in range(convs // 2):
            channels[8 << i] = shape(f"convs.{2 * i + 1}.conv.weight")[1]
        cfg = Config(resolution=8 << (convs // 2 - 1), z_dim=z_dim, w_dim=w_dim, mapping_layers=len(mapping),
                     channels=channels)
        if d_channels is not None:
            cfg.d_channels = d_channels
        return cfg

    @staticmethod
    def ffhq_config_f():
        """StyleGAN2 config-f at 1024x1024 (channel multiplier 2), the FFHQ checkpoint LACE uses."""
        ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}
        return Config(resolution=1024, z_dim=512, w_dim=512, mapping_layers=8, channels=ch, d_channels=None)


# ----------------------------------------------------------------------------------------------
# Building blocks

def make_kernel(k: List[float]) -> torch.Tensor:
    k = torch.tensor(k, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int, down: int, pad0: int, pad1: int) -> torch.Tensor:
    """Upsample by zero insertion, pad, FIR filter (depthwise), downsample: the reference (native) form."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    x = F.pad(x, [pad0, pad1, pad0, pad1])
    k = torch.flip(kernel, [0, 1]).to(x.dtype)[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, k, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


class Blur(nn.Module):
    def __init__(self, kernel: List[float], pad0: int, pad1: int, upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * (upsample_factor ** 2))
        self.pad0, self.pad1 = pad0, pad1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, 1, 1, self.pad0, self.pad1)


class Upsample(nn.Module):
    """2x upsampling with the [1,3,3,1] filter (for the skip RGB images)."""

    def __init__(self, kernel: List[float]):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * 4)
        p = len(kernel) - 2
        self.pad0, self.pad1 = (p + 1) // 2 + 1, p // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, 2, 1, self.pad0, self.pad1)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate: weights stored at unit scale, scaled at run time."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            out = F.linear(x, self.weight * self.scale)
            return F.leaky_relu(out + self.bias * self.lr_mul, 0.2) * math.sqrt(2.0)  # keeps unit variance
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, k: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, k, k))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * k * k)
        self.padding = k // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """Convolution whose input channels are scaled by a style from w, with the output demodulated to unit
    variance. Computed as scale-input / shared conv / scale-output (StyleGAN2's non-fused form): the same
    result as per-sample weights, and one large convolution is faster on a CPU than a grouped one."""

    def __init__(self, in_ch: int, out_ch: int, k: int, w_dim: int, demodulate: bool = True, upsample: bool = False,
                 blur_kernel: List[float] = (1, 3, 3, 1), layout: str = "rosinality"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, k, k))
        self.modulation = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * k * k)
        # NVlabs adds 1e-8 to the sum of squares of the unscaled weights: the same as scale^2 * 1e-8 here.
        self.demod_eps = 1e-8 * self.scale ** 2 if layout == "nvlabs" else 1e-8
        self.padding = k // 2
        self.demodulate = demodulate
        self.upsample = upsample
        if upsample:
            p = (len(blur_kernel) - 2) - (k - 1)
            self.blur = Blur(list(blur_kernel), (p + 1) // 2 + 1, p // 2 + 1, upsample_factor=2)
        else:
            self.blur = nn.Identity()

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        batch, in_ch = x.shape[0], x.shape[1]
        weight = self.scale * self.weight.squeeze(0)            # [out, in, k, k]
        style = self.modulation(w)                              # [B, in]
        x = x * style.reshape(batch, in_ch, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
            out = self.blur(out)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # 1 / sqrt(sum over in, k, k of (weight * style)^2) per sample and output channel
            dcoefs = torch.rsqrt((style * style) @ weight.square().sum([2, 3]).t() + self.demod_eps)  # [B, out]
            out = out * dcoefs.reshape(batch, -1, 1, 1)
        return out


class NoiseInjection(nn.Module):
    """Adds per-pixel Gaussian noise times a learned strength: fresh noise in training, the fixed `const`
    buffer (drawn once from a seed) when deterministic."""

    def __init__(self, resolution: int, gen: torch.Generator):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.register_buffer("const", torch.randn(1, 1, resolution, resolution, generator=gen))

    def forward(self, x: torch.Tensor, random_noise: bool) -> torch.Tensor:
        if random_noise:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], dtype=x.dtype, device=x.device)
        else:
            noise = self.const
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int, clamp: float = 0.0):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.clamp = clamp  # 0: off

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(x + self.bias.reshape(1, -1, 1, 1), 0.2) * math.sqrt(2.0)  # keeps unit variance
        if self.clamp > 0:
            x = x.clamp(-self.clamp, self.clamp)
        return x


class StyledConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, gen: torch.Generator,
                 upsample: bool = False, layout: str = "rosinality", clamp: float = 0.0):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, upsample=upsample, layout=layout)
        self.noise = NoiseInjection(resolution, gen)
        self.activate = FusedLeakyReLU(out_ch, clamp)

    def forward(self, x: torch.Tensor, w: torch.Tensor, random_noise: bool) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, w), random_noise))


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, w_dim: int, upsample: bool = True, clamp: float = 0.0):
        super().__init__()
        self.upsample = Upsample([1, 3, 3, 1]) if upsample else nn.Identity()
        self.conv = ModulatedConv2d(in_ch, 3, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.clamp = clamp  # 0: off; NVlabs clamps this layer's output before adding the skip image

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: Optional[torch.Tensor]) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if self.clamp > 0:
            out = out.clamp(-self.clamp, self.clamp)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)


# ----------------------------------------------------------------------------------------------
# Generator

class Generator(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.z_dim, self.w_dim, self.resolution, self.num_ws = cfg.z_dim, cfg.w_dim, cfg.resolution, cfg.num_ws
        ch = cfg.channels
        layers: List[nn.Module] = [PixelNorm()]
        for i in range(cfg.mapping_layers):
            layers.append(EqualLinear(cfg.z_dim if i == 0 else cfg.w_dim, cfg.w_dim, lr_mul=cfg.lr_mapping,
                                      activate=True))
        self.style = nn.Sequential(*layers)

        gen = torch.Generator().manual_seed(cfg.noise_seed)
        if cfg.layout not in ("rosinality", "nvlabs"):
            raise ValueError(f"Config.layout must be 'rosinality' or 'nvlabs', not {cfg.layout!r}")
        clamp = float(cfg.conv_clamp or 0.0)
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], cfg.w_dim, 4, gen, layout=cfg.layout, clamp=clamp)
        self.to_rgb1 = ToRGB(ch[4], cfg.w_dim, upsample=False, clamp=clamp)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_ch = ch[4]
        for log_res in range(3, int(math.log2(cfg.resolution)) + 1):
            res = 2 ** log_res
            self.convs.append(StyledConv(in_ch, ch[res], cfg.w_dim, res, gen, upsample=True, layout=cfg.layout,
                                         clamp=clamp))
            self.convs.append(StyledConv(ch[res], ch[res], cfg.w_dim, res, gen, layout=cfg.layout, clamp=clamp))
            self.to_rgbs.append(ToRGB(ch[res], cfg.w_dim, clamp=clamp))
            in_ch = ch[res]
        # Mean w (for truncation); updated by the training loop, read by lace.
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    @torch.jit.export
    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, z_dim] -> w [B, w_dim] (no truncation: lace applies it with w_avg)."""
        return self.style(z)

    def synthesize(self, ws: torch.Tensor, random_noise: bool) -> torch.Tensor:
        """ws [B, num_ws, w_dim] -> image [B, 3, R, R], not clamped (training needs the gradients)."""
        x = self.conv1(self.input(ws.shape[0]), ws[:, 0], random_noise)
        skip = self.to_rgb1(x, ws[:, 1], None)
        features: List[torch.Tensor] = []  # the output of each resolution, for its to-RGB layer
        for k, conv in enumerate(self.convs):
            x = conv(x, ws[:, k + 1], random_noise)
            if k % 2 == 1:
                features.append(x)
        for j, to_rgb in enumerate(self.to_rgbs):
            skip = to_rgb(features[j], ws[:, 2 * j + 3], skip)
        return skip

    @torch.jit.export
    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """ws [B, num_ws, w_dim] -> image [B, 3, R, R] in [-1, 1], with the fixed noise: deterministic."""
        return self.synthesize(ws, False).clamp(-1.0, 1.0)

    def forward(self, z: torch.Tensor, random_noise: bool = True) -> torch.Tensor:
        ws = self.mapping(z).unsqueeze(1).repeat(1, self.num_ws, 1)
        return self.synthesize(ws, random_noise)


@torch.no_grad()
def measure_w_avg(G: Generator, n: int = 100_000, seed: int = 2021) -> torch.Tensor:
    """The mean of G's mapping over n fixed z (the truncation centre lace reads from the w_avg buffer)."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([G.mapping(c.to(G.w_avg.device)) for c in z.split(10_000)]).mean(0)


# ----------------------------------------------------------------------------------------------
# Discriminator (training only)

class ConvLayer(nn.Module):
    """Equalized conv, optionally after 2x average-pool downsampling, then bias + leaky ReLU."""

    def __init__(self, in_ch: int, out_ch: int, k: int, down: bool = False, activate: bool = True):
        super().__init__()
        self.conv = EqualConv2d(in_ch, out_ch, k, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_ch)) if activate else None
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = F.avg_pool2d(x, 2)
        x = self.conv(x)
        if self.bias is not None:
            x = F.leaky_relu(x + self.bias.reshape(1, -1, 1, 1), 0.2) * math.sqrt(2.0)  # keeps unit variance
        return x


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, down=True)
        self.skip = ConvLayer(in_ch, out_ch, 1, down=True, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


class Discriminator(nn.Module):
    """StyleGAN2's residual discriminator with a minibatch standard deviation feature at 4x4: it lets D see
    how varied a batch is, which pushes G not to drop rare modes (glasses, closed mouths). With
    cfg.d_pack = k it scores packs of k consecutive images: [B, 3, R, R] -> [B / k, 1]."""

    def __init__(self, cfg: Config):
        super().__init__()
        ch = cfg.d_channels or cfg.channels
        res = cfg.resolution
        self.pack = cfg.d_pack
        self.from_rgb = ConvLayer(3 * cfg.d_pack, ch[res], 1)
        blocks = []
        while res > 4:
            blocks.append(ResBlock(ch[res], ch[res // 2]))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        self.group = cfg.mbstd_group
        self.final_conv = ConvLayer(ch[4] + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activate=True), EqualLinear(ch[4], 1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        n, c, h, w = img.shape
        if n % self.pack:
            raise ValueError(f"a batch of {n} images does not split into packs of {self.pack}")
        x = self.blocks(self.from_rgb(img.reshape(n // self.pack, self.pack * c, h, w)))
        b, c, h, w = x.shape
        g = min(self.group, b)
        while b % g:  # the group must divide the batch
            g -= 1
        std = x.reshape(g, -1, c, h, w).var(0, unbiased=False).add(1e-8).sqrt().mean([1, 2, 3])  # [B / g]
        std = std.reshape(1, -1, 1, 1, 1).repeat(g, 1, 1, h, w).reshape(b, 1, h, w)
        x = self.final_conv(torch.cat([x, std], 1))
        return self.final_linear(x.flatten(1))
