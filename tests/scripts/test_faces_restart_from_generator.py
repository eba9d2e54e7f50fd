"""train_gan.py --init-from generator.pt: a run restarts from lace's exported generator (the only training
state the repository keeps), with a new discriminator that trains alone for --d-warmup-kimg first.
Runs under pytest or directly (seconds)."""
import os
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import stylegan  # noqa: E402
import train_gan  # noqa: E402
from export_generator import export_generator  # noqa: E402

torch.set_num_threads(1)


def exported_tiny_generator(folder):
    """A tiny run's G_ema exported exactly as the bundle's generator.pt is; returns (path, trainer)."""
    torch.manual_seed(0)
    trainer = train_gan.Trainer(train_gan.smoke_config())
    with torch.no_grad():  # G_ema unlike a fresh init, so that loading it is visible
        for p in trainer.G_ema.parameters():
            p.add_(0.01 * torch.randn_like(p))
    ck = os.path.join(folder, "checkpoint.pt")
    trainer.save(ck)
    path = os.path.join(folder, "generator.pt")
    export_generator(ck, path, w_avg_samples=200)
    return path, trainer


def test_the_architecture_is_read_from_the_weights():
    cfg = stylegan.Config(z_dim=24, w_dim=20, mapping_layers=3, channels={4: 32, 8: 24, 16: 16, 32: 12, 64: 8})
    found = stylegan.Config.from_generator_state(stylegan.Generator(cfg).state_dict(), d_channels={4: 8, 64: 4})
    assert (found.resolution, found.z_dim, found.w_dim, found.mapping_layers) == (64, 24, 20, 3)
    assert found.channels == cfg.channels and found.d_channels == {4: 8, 64: 4}
    cfg32 = stylegan.Config(resolution=32, channels={4: 16, 8: 16, 16: 8, 32: 8})
    assert stylegan.Config.from_generator_state(stylegan.Generator(cfg32).state_dict()).resolution == 32


def test_a_run_restarts_from_an_exported_generator():
    with tempfile.TemporaryDirectory() as d:
        path, source_run = exported_tiny_generator(d)
        assert train_gan.is_torchscript(path) and not train_gan.is_torchscript(os.path.join(d, "checkpoint.pt"))
        source = train_gan.load_source(path)
        assert source["D"] is None and source["nimg"] == 0
        tc = train_gan.smoke_config()
        tc.gan = dict(source["train_config"]["gan"], d_pack=2)
        tc.rec_weight, tc.d_warmup_kimg = 0.0, 0.008  # plain GAN; D alone for the first two steps of 4
        tc.ema_rampup = 0.0
        trainer = train_gan.Trainer(tc)
        train_gan.start_from(trainer, source)

        # G and G_ema draw exactly what the exported file draws (its fixed-noise synthesis)
        exported = torch.jit.load(path)
        ws = torch.randn(3, trainer.cfg.num_ws, trainer.cfg.w_dim)
        with torch.no_grad():
            assert torch.equal(trainer.G_ema.synthesis(ws), exported.synthesis(ws))
            assert torch.equal(trainer.G.synthesis(ws), exported.synthesis(ws))

        pool = train_gan.Pool(200, 0, workers=1)
        g_before = [p.detach().clone() for p in trainer.G.parameters()]
        d_before = [p.detach().clone() for p in trainer.D.parameters()]
        for _ in range(2):
            stats = trainer.train_step(pool)
            assert "loss_d" in stats and "loss_g" not in stats
        assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters())), "G moved during warm-up"
        assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
        ema_before = [p.detach().clone() for p in trainer.G_ema.parameters()]
        stats = trainer.train_step(pool)
        assert "loss_g" in stats
        assert any(not torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters())), "G held after warm-up"
        # no ramp-up (--ema-rampup 0): G_ema moves towards G by the full half-life's share from the first step
        share = 1 - 0.5 ** (tc.batch / tc.ema_half_life)
        for old, ema, g in zip(ema_before, trainer.G_ema.parameters(), trainer.G.parameters()):
            assert torch.allclose(ema, old + share * (g - old), atol=1e-7)


def test_a_generator_source_takes_discriminator_widths_only():
    args = type("Args", (), {"tiny": False, "channels": None, "d_channels": "4:8,8:8,16:8,32:8,64:8", "z_dim": None,
                             "mapping_layers": None, "d_pack": 2, "batch": None, "pool": None, "rec_weight": 0.0,
                             "d_warmup_kimg": 5.0})()
    for name in train_gan.ANCHOR_DEFAULTS:
        setattr(args, name, None)
    gan = train_gan.smoke_config().gan
    tc = train_gan.new_config(args, gan, source_has_d=False)
    assert tc.gan["d_channels"] == {4: 8, 8: 8, 16: 8, 32: 8, 64: 8} and tc.d_warmup_kimg == 5.0
    with pytest.raises(SystemExit, match="only --d-pack"):  # a checkpoint brings its own discriminator
        train_gan.new_config(args, gan, source_has_d=True)


def test_a_file_that_is_not_a_generator_is_named():
    with tempfile.TemporaryDirectory() as d:
        other = os.path.join(d, "labeler.pt")
        torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), other)
        with pytest.raises(SystemExit, match="not a lace generator"):
            train_gan.load_source(other)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
