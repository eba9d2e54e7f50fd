#!/usr/bin/env python3
"""Import a real StyleGAN2 checkpoint (e.g. FFHQ config-f, 1024x1024) as a lace bundle's generator.

    /usr/bin/python3 scripts/import_stylegan2.py CHECKPOINT --out models/ffhq [--name ffhq] [--truncation 0.7]

CHECKPOINT is either
- the PyTorch port's file (rosinality/stylegan2-pytorch, also what LACE uses): a torch.save dict with
  "g_ema" (the Generator's state_dict) and usually "latent_avg" (the mean w), e.g. stylegan2-ffhq-config-f.pt;
- an NVlabs stylegan2-ada-pytorch network pickle (.pkl, also their converted TF pickles): a dict with "G_ema".
Both are read with scripts/safe_pickle.py, which never imports or runs anything named in the file (NVlabs
pickles carry Python source that their own loader exec()s; this one drops it unread).

The architecture (z/w sizes, mapping depth, resolution, channels per resolution) is read from the tensor
shapes; every tensor is mapped by name to scripts/faces/stylegan.py's Generator with a shape check, and a
missing, extra or wrongly shaped tensor stops the import with one line naming it. Where the NVlabs
arithmetic differs from the port's (demodulation epsilon, optional conv clamp) the generator is built with
Config.layout = "nvlabs"; the up-sampling convolution, [1,3,3,1] filter, to-RGB weight gain and mapping lr
multiplier agree once the weights are mapped (see docs/bring-your-own-stylegan2.md).

Writes OUT/generator.pt (TorchScript: mapping, synthesis, buffer w_avg = the checkpoint's stored mean w, or
an estimate over --w-avg-samples latents when it has none), OUT/lace.json (format, generator, truncation;
the classifier and attributes come from scripts/train_latent_classifier.py, which lace needs next) and
OUT/import.json (what was imported). Exit code 0 on success, 2 with one line on stderr otherwise.
"""
import argparse
import json
import os
import re
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "faces"))
import atomic_files  # noqa: E402
import safe_pickle  # noqa: E402
import stylegan  # noqa: E402


class ImportFailure(Exception):
    """A checkpoint lace cannot import; the message is the one line the user sees."""


# ----------------------------------------------------------------------------------------------
# Reading

def read_checkpoint(path):
    """-> (layout, {name: tensor} of the EMA generator, stored mean w or None, constructor kwargs or {})."""
    if not os.path.isfile(path):
        raise ImportFailure(f"{path}: no such file")
    try:
        data = safe_pickle.load(path)
    except safe_pickle.UnsafePickleError as e:
        raise ImportFailure(str(e)) from None
    except Exception as e:  # truncated or not a pickle at all
        raise ImportFailure(f"{path}: cannot be read as a checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise ImportFailure(f"{path}: expected a dict with 'g_ema' or 'G_ema', found {type(data).__name__}")
    if "G_ema" in data:
        g = data["G_ema"]
        try:
            tensors = safe_pickle.named_tensors(g)
        except ValueError:
            raise ImportFailure(f"{path}: G_ema is not a pickled network module") from None
        kwargs = g.state.get("_init_kwargs") if isinstance(g.state, dict) else None
        return "nvlabs", tensors, None, dict(kwargs or {})
    if "g_ema" in data:
        sd = data["g_ema"]
        if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
            raise ImportFailure(f"{path}: g_ema is not a state_dict of tensors")
        avg = data.get("latent_avg")
        if avg is not None and not torch.is_tensor(avg):
            raise ImportFailure(f"{path}: latent_avg is not a tensor")
        return "rosinality", dict(sd), avg, {}
    raise ImportFailure(f"{path}: neither 'g_ema' (rosinality/stylegan2-pytorch) nor 'G_ema' (NVlabs) in "
                        f"the checkpoint; keys: {', '.join(map(str, list(data)[:8]))}")


def _need(tensors, name, ndim):
    t = tensors.get(name)
    if t is None:
        raise ImportFailure(f"missing tensor {name}")
    if t.dim() != ndim:
        raise ImportFailure(f"tensor {name} has shape {list(t.shape)}, expected {ndim} dimensions")
    return t


def infer_config(layout, tensors, kwargs, lr_mapping):
    """Our Config from the tensor shapes (and, for NVlabs pickles, the constructor arguments they record)."""
    if layout == "nvlabs":
        mk = dict(kwargs.get("mapping_kwargs") or {})
        sk = dict(kwargs.get("synthesis_kwargs") or {})
        if int(kwargs.get("c_dim") or 0) > 0:
            raise ImportFailure("conditional generators (c_dim > 0) are not supported: lace has no class input")
        if sk.get("architecture", "skip") != "skip":
            raise ImportFailure(f"synthesis architecture {sk['architecture']!r} is not supported (only 'skip')")
        if mk.get("activation", "lrelu") != "lrelu":
            raise ImportFailure(f"mapping activation {mk['activation']!r} is not supported (only 'lrelu')")
        fc = "mapping.fc{}.weight"
        n_map = len([k for k in tensors if re.fullmatch(r"mapping\.fc\d+\.weight", k)])
        first, last = _need(tensors, fc.format(0), 2), _need(tensors, fc.format(max(n_map - 1, 0)), 2)
        res = [int(m.group(1)) for k in tensors for m in [re.fullmatch(r"synthesis\.b(\d+)\.conv1\.weight", k)] if m]
        if not res:
            raise ImportFailure("missing tensor synthesis.b4.conv1.weight")
        resolution = max(res)
        channels = {}
        r = 4
        while r <= resolution:
            channels[r] = _need(tensors, f"synthesis.b{r}.conv1.weight", 4).shape[0]
            r *= 2
        lr = float(mk.get("lr_multiplier", lr_mapping))
        clamp = sk.get("conv_clamp")
    else:
        n_map = len([k for k in tensors if re.fullmatch(r"style\.\d+\.weight", k)])
        first, last = _need(tensors, "style.1.weight", 2), _need(tensors, f"style.{max(n_map, 1)}.weight", 2)
        n_up = len([k for k in tensors if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)])
        resolution = 4 * 2 ** n_up
        channels = {4: _need(tensors, "conv1.conv.weight", 5).shape[1]}
        for k in range(n_up):
            channels[8 * 2 ** k] = _need(tensors, f"convs.{2 * k + 1}.conv.weight", 5).shape[1]
        lr, clamp = lr_mapping, None
    if resolution < 8 or resolution & (resolution - 1):
        raise ImportFailure(f"resolution {resolution} is not a power of two >= 8")
    return stylegan.Config(resolution=resolution, z_dim=first.shape[1], w_dim=last.shape[0], mapping_layers=n_map,
                           channels=channels, d_channels=None, lr_mapping=lr, layout=layout,
                           conv_clamp=float(clamp) if clamp is not None else None)


# ----------------------------------------------------------------------------------------------
# Name mapping: our key -> (their key, function from our shape to the shape their tensor must have)

SAME = lambda s: s  # noqa: E731
DROP1 = lambda s: s[1:]  # noqa: E731  their tensor lacks our leading singleton dimension
DROP2 = lambda s: s[2:]  # noqa: E731
SCALAR = lambda s: torch.Size([])  # noqa: E731
RGB_BIAS = lambda s: s[1:2]  # noqa: E731  [1, 3, 1, 1] -> [3]


def rosinality_names(G):
    """The port's names are ours, except the noise buffers (ours live in each layer)."""
    table = {}
    for key in G.state_dict():
        m = re.fullmatch(r"conv1\.noise\.const", key) or re.fullmatch(r"convs\.(\d+)\.noise\.const", key)
        if m:
            table[key] = ("noises.noise_0" if key.startswith("conv1") else f"noises.noise_{int(m.group(1)) + 1}", SAME)
        elif key != "w_avg":
            table[key] = (key, SAME)
    return table


def nvlabs_names(G, cfg):
    table = {}
    for i in range(cfg.mapping_layers):
        for p in ("weight", "bias"):
            table[f"style.{i + 1}.{p}"] = (f"mapping.fc{i}.{p}", SAME)
    table["w_avg"] = ("mapping.w_avg", SAME)
    table["input.input"] = ("synthesis.b4.const", DROP1)

    def layer(ours, theirs):
        table[f"{ours}.conv.weight"] = (f"{theirs}.weight", DROP1)
        table[f"{ours}.conv.modulation.weight"] = (f"{theirs}.affine.weight", SAME)
        table[f"{ours}.conv.modulation.bias"] = (f"{theirs}.affine.bias", SAME)  # stored with its +1 init, as ours

    def styled(ours, theirs):
        layer(ours, theirs)
        table[f"{ours}.activate.bias"] = (f"{theirs}.bias", SAME)
        table[f"{ours}.noise.weight"] = (f"{theirs}.noise_strength", SCALAR)
        table[f"{ours}.noise.const"] = (f"{theirs}.noise_const", DROP2)

    def to_rgb(ours, theirs):
        layer(ours, theirs)
        table[f"{ours}.bias"] = (f"{theirs}.bias", RGB_BIAS)

    styled("conv1", "synthesis.b4.conv1")
    to_rgb("to_rgb1", "synthesis.b4.torgb")
    for k in range(len(G.to_rgbs)):
        r = 8 * 2 ** k
        styled(f"convs.{2 * k}", f"synthesis.b{r}.conv0")
        styled(f"convs.{2 * k + 1}", f"synthesis.b{r}.conv1")
        to_rgb(f"to_rgbs.{k}", f"synthesis.b{r}.torgb")
    return table


def check_nvlabs_filters(tensors):
    """NVlabs keeps its resampling filter as buffers; ours is built in: accept only the [1,3,3,1] it assumes."""
    f = stylegan.make_kernel([1, 3, 3, 1])
    for key in [k for k in tensors if k.endswith("resample_filter")]:
        t = tensors.pop(key)
        if t.shape != f.shape or not torch.allclose(t.float(), f, atol=1e-6):
            raise ImportFailure(f"tensor {key}: resampling filter is not [1,3,3,1] (shape {list(t.shape)}); "
                                "not supported")


def map_tensors(G, table, tensors, derived=()):
    """Our state_dict from theirs. `derived`: our buffers the checkpoint does not carry (built-in filters)."""
    ours = G.state_dict()
    used, out = set(), {}
    for key, target in ours.items():
        if key not in table:
            if key in derived:
                continue
            raise ImportFailure(f"internal: no source named for {key}")
        src, shape_of = table[key]
        t = tensors.get(src)
        if t is None:
            raise ImportFailure(f"missing tensor {src} (for {key}, shape {list(shape_of(target.shape))})")
        want = shape_of(target.shape)
        if t.shape != want:
            raise ImportFailure(f"tensor {src} has shape {list(t.shape)}, expected {list(want)}")
        if not t.is_floating_point():
            raise ImportFailure(f"tensor {src} has dtype {t.dtype}, expected floating point")
        out[key] = t.reshape(target.shape).to(torch.float32)
        used.add(src)
    extra = sorted(set(tensors) - used)
    if extra:
        raise ImportFailure(f"unexpected tensor {extra[0]} (shape {list(tensors[extra[0]].shape)})"
                            + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")
                            + ": not part of a StyleGAN2 generator this importer knows")
    return out


def build_generator(path, lr_mapping=0.01, w_avg_samples=100_000):
    """-> (Generator with the checkpoint's weights, eval mode; record of what was imported)."""
    layout, tensors, latent_avg, kwargs = read_checkpoint(path)
    tensors = dict(tensors)
    if layout == "nvlabs":
        check_nvlabs_filters(tensors)
    cfg = infer_config(layout, tensors, kwargs, lr_mapping)
    G = stylegan.Generator(cfg)
    if layout == "nvlabs":
        derived = {k for k in G.state_dict() if k.endswith("blur.kernel") or k.endswith("upsample.kernel")}
        state = map_tensors(G, nvlabs_names(G, cfg), tensors, derived)
        state.update({k: v for k, v in G.state_dict().items() if k in derived})
        w_avg_source = "checkpoint: mapping.w_avg"
    else:
        state = map_tensors(G, rosinality_names(G), tensors, derived={"w_avg"})
        if latent_avg is not None:
            if latent_avg.numel() != cfg.w_dim:
                raise ImportFailure(f"latent_avg has {latent_avg.numel()} values, expected w_dim = {cfg.w_dim}")
            state["w_avg"] = latent_avg.reshape(cfg.w_dim).float()
            w_avg_source = "checkpoint: latent_avg"
        else:
            state["w_avg"] = torch.zeros(cfg.w_dim)
            w_avg_source = f"estimate: mean of mapping(z) over {w_avg_samples} latents, seed 2021"
    G.load_state_dict(state)
    G.eval().requires_grad_(False)
    if w_avg_source.startswith("estimate"):
        with torch.no_grad():
            z = torch.randn(w_avg_samples, cfg.z_dim, generator=torch.Generator().manual_seed(2021))
            G.w_avg.copy_(torch.cat([G.mapping(c) for c in z.split(10_000)]).mean(0))
    record = {"checkpoint": os.path.abspath(path), "layout": layout, "config": cfg.to_dict(),
              "w_avg": w_avg_source, "tensors": len(state),
              "parameters": sum(p.numel() for p in G.parameters())}
    return G, record


# ----------------------------------------------------------------------------------------------
# Export

def export_bundle(G, record, out_dir, name, truncation):
    os.makedirs(out_dir, exist_ok=True)
    gen_path = os.path.join(out_dir, "generator.pt")
    with atomic_files.replacing(gen_path) as tmp:
        torch.jit.save(torch.jit.script(G), tmp)
    manifest_path = os.path.join(out_dir, "lace.json")
    manifest = {}
    if os.path.exists(manifest_path):  # re-import: keep a classifier that was trained for this generator
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest.update({
        "format": "lace-bundle",
        "version": 1,
        "name": name,
        "description": f"StyleGAN2 imported from {os.path.basename(record['checkpoint'])} ({record['layout']} "
                       f"layout) by scripts/import_stylegan2.py",
        "generator": {"file": "generator.pt", "z_dim": G.z_dim, "w_dim": G.w_dim, "num_ws": G.num_ws,
                      "resolution": G.resolution, "channels": 3},
        "truncation": {"default": truncation, "w_avg": {"source": "buffer", "name": "w_avg"}},
    })
    atomic_files.write_json(manifest_path, manifest)
    atomic_files.write_json(os.path.join(out_dir, "import.json"), record)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="rosinality .pt (dict with g_ema) or NVlabs .pkl (dict with G_ema)")
    ap.add_argument("--out", required=True, help="bundle folder to write (created if needed)")
    ap.add_argument("--name", default=None, help="bundle name (default: the folder's name)")
    ap.add_argument("--truncation", type=float, default=0.7, help="default psi in lace.json (LACE samples at 0.7)")
    ap.add_argument("--lr-mapping", type=float, default=0.01,
                    help="mapping lr multiplier of a rosinality checkpoint (not stored in it; 0.01 is the port's)")
    ap.add_argument("--w-avg-samples", type=int, default=100_000,
                    help="latents averaged for w_avg when the checkpoint stores no mean w")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    try:
        G, record = build_generator(args.checkpoint, args.lr_mapping, args.w_avg_samples)
        with torch.no_grad():
            w = G.mapping(torch.zeros(1, G.z_dim))
        if not torch.isfinite(w).all():
            raise ImportFailure("mapping(0) is not finite: the weights are broken")
        name = args.name or os.path.basename(os.path.normpath(args.out))
        export_bundle(G, record, args.out, name, args.truncation)
    except ImportFailure as e:
        print(f"import_stylegan2: {e}", file=sys.stderr)
        return 2
    print(f"imported {record['layout']} checkpoint: {G.resolution}x{G.resolution}, z {G.z_dim}, w {G.w_dim}, "
          f"{G.num_ws} ws, {record['parameters'] / 1e6:.1f}M parameters, w_avg from {record['w_avg']} -> "
          f"{args.out} ({time.time() - t0:.1f} s)")
    print(f"next: train a latent classifier: scripts/train_latent_classifier.py --styleflow DATA --bundle {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
