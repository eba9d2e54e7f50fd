"""The encoder that anchors the face GAN's training to every training image (training only, never exported).

Why: a GAN trained on this CPU for a few hours drops thin, minority features (a trial lost glasses entirely
and almost every mouth smiled), and nothing in the GAN loss forces it to bring them back. Training the
generator as the decoder of a VAE as well (VAE-GAN, Larsen et al. 2016) ties it to the data: the encoder
maps each real image to a Gaussian q(z | x), the generator's own mapping and synthesis networks must
redraw that image from z ~ q(z | x), and a KL term keeps q close to the N(0, I) prior that lace samples
from. The generator still sees no attributes; the adversarial loss on prior samples keeps them sharp.
"""
import torch
from torch import nn

from stylegan import ConvLayer, EqualLinear, ResBlock


class Encoder(nn.Module):
    """image [B, 3, R, R] in [-1, 1] -> (mean, log variance) of q(z | x), each [B, z_dim]. The same residual
    trunk as the discriminator, without the minibatch feature (each image's code must depend on it alone)."""

    def __init__(self, resolution: int, channels: dict, z_dim: int):
        super().__init__()
        res = resolution
        self.from_rgb = ConvLayer(3, channels[res], 1)
        blocks = []
        while res > 4:
            blocks.append(ResBlock(channels[res], channels[res // 2]))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        self.final_conv = ConvLayer(channels[4], channels[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 16, channels[4], activate=True),
                                          EqualLinear(channels[4], 2 * z_dim))

    def forward(self, img: torch.Tensor):
        x = self.final_conv(self.blocks(self.from_rgb(img)))
        mean, log_var = self.final_linear(x.flatten(1)).chunk(2, dim=1)
        return mean, log_var.clamp(-12.0, 4.0)


def sample_posterior(mean, log_var, generator=None):
    return mean + torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device) * (0.5 * log_var).exp()


def _dx(x):  # horizontal neighbour differences [..., H, W - 1]
    return x[..., :, 1:] - x[..., :, :-1]


def _dy(x):  # vertical neighbour differences [..., H - 1, W]
    return x[..., 1:, :] - x[..., :-1, :]


def kl_to_prior(mean, log_var):
    """KL(q(z | x) || N(0, I)) in nats, per image [B]."""
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(1)


def stroke_map(real):
    """Where the real image has strokes: per pixel, the largest horizontal or vertical difference to a
    neighbour over the colour channels, spread over its 3x3 neighbourhood; 0 on flat regions, up to 2."""
    d = real.new_zeros(real.shape[0], 1, *real.shape[2:])
    dx = _dx(real).abs().amax(1, keepdim=True)
    dy = _dy(real).abs().amax(1, keepdim=True)
    d[..., :, 1:] = torch.maximum(d[..., :, 1:], dx)
    d[..., 1:, :] = torch.maximum(d[..., 1:, :], dy)
    return nn.functional.max_pool2d(d, 3, stride=1, padding=1)


def reconstruction_error(fake, real, edge_weight: float = 0.0, l2_weight: float = 0.0, stroke_weight: float = 0.0):
    """Mean absolute error at full resolution plus at 1/4 resolution (layout and colours weigh as much as
    edges), both in [-1, 1] units. edge_weight > 0 adds the error of horizontal and vertical pixel
    differences: a blurred face scores almost as well as a sharp one on plain L1, but not on its edges,
    and glasses, eyes and mouths are nothing but thin edges at 64x64. l2_weight > 0 adds the mean squared
    error: L1 is minimised by the median, so a feature on a quarter of the faces (glasses) that the code
    does not yet carry costs nothing to leave out, and nothing rewards the encoder for carrying it; the
    squared error is minimised by the mean, so a faint frame pays and the code that tells it apart gains
    (but in the run it blurred the reconstructions). stroke_weight k > 0 weighs the full-resolution L1 by
    1 + k * stroke_map(real), normalised to mean 1 per image: the error stays L1 (sharp), but its weighted
    median draws a stroke that a quarter of the faces have once their stroke pixels weigh more than three
    times the flat skin of the others (k above about 2 for strokes of height 2)."""
    coarse = nn.functional.avg_pool2d
    pixel = (fake - real).abs()
    if stroke_weight > 0:
        weight = 1.0 + stroke_weight * stroke_map(real)
        pixel = pixel * weight / weight.mean((1, 2, 3), keepdim=True)
    error = pixel.mean() + (coarse(fake, 4) - coarse(real, 4)).abs().mean()
    if edge_weight > 0:
        error = error + edge_weight * ((_dx(fake) - _dx(real)).abs().mean() + (_dy(fake) - _dy(real)).abs().mean())
    if l2_weight > 0:
        error = error + l2_weight * (fake - real).square().mean()
    return error


def mmd_to_prior(z, scales=(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)):
    """Maximum mean discrepancy between a batch of codes z [B, D] and as many N(0, I) draws, with inverse
    multiquadric kernels C / (C + |x - y|^2), C = 2 D s, summed over scales s (WAE-MMD, Tolstikhin et al.
    2018). Why: with narrow posteriors the codes of real images sat on a shell of radius 1.2 sqrt(D) while
    the prior's samples lie at sqrt(D); in 128 dimensions the two shells do not meet, so the decoder learnt
    blurred reconstructions on one and unanchored GAN faces on the other, and the anchor did nothing for
    coverage. The KL term acts on each posterior alone and is too weak to close the gap; MMD matches the
    codes' aggregate to the prior directly."""
    b, d = z.shape
    p = torch.randn_like(z)
    zz, pp, zp = torch.cdist(z, z).square(), torch.cdist(p, p).square(), torch.cdist(z, p).square()
    off = 1.0 - torch.eye(b, dtype=z.dtype, device=z.device)
    total = z.new_zeros(())
    for s in scales:
        c = 2.0 * d * s
        k = lambda dist: c / (c + dist)  # noqa: E731
        total = total + ((k(zz) + k(pp)) * off).sum() / (b * (b - 1)) - 2.0 * k(zp).mean()
    return total


def kl_per_pixel(kl, resolution: int):
    """KL is a sum over z, the reconstruction error a mean over pixels: this puts KL in per-pixel units."""
    return kl / (3 * resolution * resolution)
