"""Write StyleGAN2 checkpoints in both public formats with random values, for tests (never committed).

The key names and shapes are written out here from the two public code bases, not taken from
scripts/faces/stylegan.py, so the importer's name mapping is tested against an independent description:
- rosinality/stylegan2-pytorch: torch.save({"g_ema": Generator.state_dict(), "latent_avg": [w_dim]});
- NVlabs/stylegan2-ada-pytorch: pickle.dump({"G": ..., "D": ..., "G_ema": ..., ...}) where every network
  module is a torch_utils.persistence object, pickled as _reconstruct_persistent_obj(meta) with meta =
  {type, version, module_src, class_name, state = the module's __dict__}.

`weights(...)` draws one set of generator weights (a neutral description: per layer, the tensors in the
port's orientation) so both writers can store the same network and a test can compare the imports.
"""
import collections
import math
import pickle
import sys
import types

import torch


def channels_for(resolution, channel_max=512, channel_base=32768):
    """Both ports at config-f: min(32768 / res, 512) (rosinality: 512 up to 32, then 16 * 2 * 1024 / res)."""
    res, ch = 4, {}
    while res <= resolution:
        ch[res] = min(channel_base // res, channel_max)
        res *= 2
    return ch


def weights(resolution=1024, z_dim=512, w_dim=512, n_mlp=8, channel_max=512, channel_base=32768, seed=0):
    """Random generator weights. Layers are listed in synthesis order: ("conv", res, in, out, up) and
    ("rgb", res, in). Values are scaled so the network runs in a sane range (biases and noise strengths are
    non-zero, so a wrong mapping shows)."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    ch = channels_for(resolution, channel_max, channel_base)
    net = {"mapping": [(rnd(w_dim, z_dim if i == 0 else w_dim) * 100, rnd(w_dim) * 0.1) for i in range(n_mlp)],
           "const": rnd(ch[4], 4, 4), "layers": [], "w_avg": rnd(w_dim) * 0.1}

    def conv(res, cin, cout, up):
        return {"kind": "conv", "res": res, "up": up, "weight": rnd(cout, cin, 3, 3), "affine_w": rnd(cin, w_dim),
                "affine_b": 1 + 0.1 * rnd(cin), "bias": 0.1 * rnd(cout), "noise_strength": 0.1 * rnd(()).abs(),
                "noise": rnd(res, res)}

    def rgb(res, cin):
        return {"kind": "rgb", "res": res, "weight": rnd(3, cin, 1, 1), "affine_w": rnd(cin, w_dim),
                "affine_b": 1 + 0.1 * rnd(cin), "bias": 0.1 * rnd(3)}

    net["layers"] += [conv(4, ch[4], ch[4], False), rgb(4, ch[4])]
    res = 8
    while res <= resolution:
        net["layers"] += [conv(res, ch[res // 2], ch[res], True), conv(res, ch[res], ch[res], False), rgb(res, ch[res])]
        res *= 2
    net["sizes"] = dict(resolution=resolution, z_dim=z_dim, w_dim=w_dim, n_mlp=n_mlp)
    return net


def _kernel(scale):
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = k[None, :] * k[:, None]
    return k / k.sum() * scale


# ----------------------------------------------------------------------------------------------
# rosinality/stylegan2-pytorch

def rosinality_state(net):
    """g_ema state_dict with the port's names (model.py: style, input, conv1, to_rgb1, convs, to_rgbs, noises)."""
    sd = collections.OrderedDict()
    for i, (w, b) in enumerate(net["mapping"]):
        sd[f"style.{i + 1}.weight"], sd[f"style.{i + 1}.bias"] = w, b  # style.0 is PixelNorm
    sd["input.input"] = net["const"][None]
    convs = [l for l in net["layers"] if l["kind"] == "conv"]
    rgbs = [l for l in net["layers"] if l["kind"] == "rgb"]

    def styled(prefix, l):
        sd[f"{prefix}.conv.weight"] = l["weight"][None]
        sd[f"{prefix}.conv.modulation.weight"] = l["affine_w"]
        sd[f"{prefix}.conv.modulation.bias"] = l["affine_b"]
        if l["up"]:
            sd[f"{prefix}.conv.blur.kernel"] = _kernel(4)
        sd[f"{prefix}.noise.weight"] = l["noise_strength"].reshape(1)
        sd[f"{prefix}.activate.bias"] = l["bias"]

    def to_rgb(prefix, l, up):
        sd[f"{prefix}.bias"] = l["bias"].reshape(1, 3, 1, 1)
        if up:
            sd[f"{prefix}.upsample.kernel"] = _kernel(4)
        sd[f"{prefix}.conv.weight"] = l["weight"][None]
        sd[f"{prefix}.conv.modulation.weight"] = l["affine_w"]
        sd[f"{prefix}.conv.modulation.bias"] = l["affine_b"]

    styled("conv1", convs[0])
    to_rgb("to_rgb1", rgbs[0], False)
    for k, l in enumerate(convs[1:]):
        styled(f"convs.{k}", l)
    for k, l in enumerate(rgbs[1:]):
        to_rgb(f"to_rgbs.{k}", l, True)
    for i, l in enumerate(convs):
        sd[f"noises.noise_{i}"] = l["noise"][None, None]
    return sd


def write_rosinality(net, path, with_latent_avg=True, edit=None):
    ck = {"g_ema": rosinality_state(net)}
    if with_latent_avg:
        ck["latent_avg"] = net["w_avg"]
    if edit:
        edit(ck["g_ema"])
    torch.save(ck, path)


# ----------------------------------------------------------------------------------------------
# NVlabs/stylegan2-ada-pytorch

# What an NVlabs pickle carries as module source. A loader that exec()s it creates MARKER: the tests check
# that importing never does.
HOSTILE_SOURCE = "open({marker!r}, 'w').write('module source was executed')\n"


class _Persistent(torch.nn.Module):
    """A module that pickles the way torch_utils.persistence does."""

    def __init__(self, class_name, source, **init_kwargs):
        super().__init__()
        self._class_name, self._source = class_name, source
        self._init_args, self._init_kwargs = (), init_kwargs

    def __reduce__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("_class_name", "_source")}
        meta = dict(type="class", version=6, module_src=self._source, class_name=self._class_name, state=state)
        return (_fake_modules()["torch_utils.persistence"]._reconstruct_persistent_obj, (meta,))


def _fake_modules():
    """Stand-ins for torch_utils.persistence and dnnlib.util, so pickle writes their real global names."""
    if "torch_utils.persistence" not in sys.modules:
        tu, tp = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")

        def _reconstruct_persistent_obj(meta):
            raise RuntimeError("test stand-in: never called")

        _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
        _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
        tp._reconstruct_persistent_obj = _reconstruct_persistent_obj
        tu.persistence = tp
        dn, du = types.ModuleType("dnnlib"), types.ModuleType("dnnlib.util")
        easy = type("EasyDict", (dict,), {"__module__": "dnnlib.util", "__qualname__": "EasyDict"})
        du.EasyDict, dn.util, dn.EasyDict = easy, du, easy
        sys.modules.update({"torch_utils": tu, "torch_utils.persistence": tp, "dnnlib": dn, "dnnlib.util": du})
    return sys.modules


def nvlabs_generator(net, source, conv_clamp=None):
    """G_ema as NVlabs' module tree (training/networks.py): Generator{synthesis{b4..bR}, mapping{fc0..}}."""
    s = net["sizes"]
    easy = _fake_modules()["dnnlib.util"].EasyDict
    P = torch.nn.Parameter
    filt = _kernel(1)

    def fc(w, b):
        m = _Persistent("FullyConnectedLayer", source)
        m.weight, m.bias = P(w.clone()), P(b.clone())
        m.activation, m.weight_gain, m.bias_gain = "lrelu", 1.0 / math.sqrt(w.shape[1]), 1.0
        return m

    def layer(l):
        m = _Persistent("SynthesisLayer", source)
        m.register_buffer("resample_filter", filt.clone())
        m.affine = fc(l["affine_w"], l["affine_b"])
        m.weight = P(l["weight"].clone())
        m.register_buffer("noise_const", l["noise"].clone())
        m.noise_strength = P(l["noise_strength"].clone().reshape(()))
        m.bias = P(l["bias"].clone())
        m.up, m.resolution, m.conv_clamp = 2 if l["up"] else 1, l["res"], conv_clamp
        return m

    def torgb(l):
        m = _Persistent("ToRGBLayer", source)
        m.affine = fc(l["affine_w"], l["affine_b"])
        m.weight, m.bias = P(l["weight"].clone()), P(l["bias"].clone())
        return m

    mapping = _Persistent("MappingNetwork", source)
    for i, (w, b) in enumerate(net["mapping"]):
        setattr(mapping, f"fc{i}", fc(w, b))
    mapping.register_buffer("w_avg", net["w_avg"].clone())
    synthesis = _Persistent("SynthesisNetwork", source)
    layers = list(net["layers"])
    res = 4
    while layers:
        block = _Persistent("SynthesisBlock", source)
        block.register_buffer("resample_filter", filt.clone())
        if res == 4:
            block.const = P(net["const"].clone())
            block.conv1, block.torgb = layer(layers[0]), torgb(layers[1])
            layers = layers[2:]
        else:
            block.conv0, block.conv1, block.torgb = layer(layers[0]), layer(layers[1]), torgb(layers[2])
            layers = layers[3:]
        setattr(synthesis, f"b{res}", block)
        res *= 2
    G = _Persistent("Generator", source, z_dim=s["z_dim"], c_dim=0, w_dim=s["w_dim"], img_resolution=s["resolution"],
                    img_channels=3,
                    mapping_kwargs=easy(num_layers=s["n_mlp"], lr_multiplier=0.01),
                    synthesis_kwargs=easy(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=conv_clamp,
                                          architecture="skip"))
    G.synthesis, G.mapping = synthesis, mapping
    return G.eval()


def write_nvlabs(net, path, marker, conv_clamp=None, edit=None):
    """A network pickle like NVlabs' (G, D, G_ema, augment_pipe, training_set_kwargs); D is a token module."""
    source = HOSTILE_SOURCE.format(marker=str(marker))
    G_ema = nvlabs_generator(net, source, conv_clamp)
    if edit:
        edit(G_ema)
    D = _Persistent("Discriminator", source)
    D.b4 = _Persistent("DiscriminatorBlock", source)
    D.b4.weight = torch.nn.Parameter(torch.zeros(4, 4))
    easy = _fake_modules()["dnnlib.util"].EasyDict
    data = {"G": G_ema, "D": D, "G_ema": G_ema, "augment_pipe": None,
            "training_set_kwargs": easy(path="ffhq.zip", resolution=net["sizes"]["resolution"])}
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)


def module_at(root, dotted):
    """Child module by dotted name, for edits."""
    for part in dotted.split("."):
        root = getattr(root, part)
    return root
