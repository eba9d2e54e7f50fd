"""PacGAN packing in scripts/faces/stylegan.py's discriminator: it scores packs of consecutive images, and a
tiny run trains, saves and resumes with it. Runs under pytest or directly (a few seconds)."""
import os
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import stylegan  # noqa: E402
import train_gan  # noqa: E402

torch.set_num_threads(1)


def packed_config(pack):
    cfg = stylegan.Config.from_dict(train_gan.smoke_config().gan)
    cfg.d_pack = pack
    return cfg


def test_packed_discriminator_scores_consecutive_packs():
    torch.manual_seed(0)
    D = stylegan.Discriminator(packed_config(2)).eval()
    x = torch.randn(4, 3, 64, 64)
    out = D(x)
    assert out.shape == (2, 1)
    assert D.from_rgb.conv.weight.shape[1] == 6  # a pack: images 0 and 1 stacked along the channels
    # The first pack's score is the one computed from the hand-stacked channels of images 0 and 1 (the
    # minibatch feature still sees both packs, as it sees every image without packing).
    stacked = torch.cat([x[0:1], x[1:2]], 1)
    assert torch.allclose(D.from_rgb(stacked), D.from_rgb(x.reshape(2, 6, 64, 64))[0:1])
    swapped = D(x[[1, 0, 2, 3]])           # order within a pack matters: the channels differ
    assert not torch.allclose(swapped[0], out[0])


def test_packed_discriminator_rejects_a_batch_that_does_not_split():
    D = stylegan.Discriminator(packed_config(2))
    with pytest.raises(ValueError, match="packs of 2"):
        D(torch.randn(3, 3, 64, 64))


def test_pack_of_one_is_stylegan2s_discriminator():
    torch.manual_seed(0)
    D1 = stylegan.Discriminator(packed_config(1))
    assert D1(torch.randn(5, 3, 64, 64)).shape == (5, 1)


def test_a_packed_run_trains_saves_and_resumes():
    torch.manual_seed(0)
    tc = train_gan.smoke_config()
    tc.gan = dict(tc.gan, d_pack=2)
    tc.batch = 4
    tc.r1_every = 1                           # the R1 path runs through the packed discriminator too
    tc.adv_start_kimg = 0.0                   # adversarial from the first step
    trainer = train_gan.Trainer(tc)
    images = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)

    class FixedPool:
        def batch(self, rng, size):
            return train_gan.to_tensor(images[rng.integers(0, len(images), size)])

    stats = trainer.train_step(FixedPool())
    assert np.isfinite(stats["loss_d"]) and np.isfinite(stats["r1"]) and np.isfinite(stats["loss_g"])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "checkpoint.pt")
        trainer.save(path)
        again = train_gan.Trainer.load(path)
    assert again.cfg.d_pack == 2 and again.D.pack == 2
    for a, b in zip(trainer.D.parameters(), again.D.parameters()):
        assert torch.equal(a, b)


def test_a_packed_run_can_start_from_a_plain_runs_networks():
    """--init-from: G and G_ema are the source's; the packed D starts as the plain D applied to each pack's
    mean image (so the first steps keep the source's judgement instead of a random first layer)."""
    torch.manual_seed(0)
    plain = train_gan.Trainer(train_gan.smoke_config())
    source = plain.weights()
    tc = train_gan.smoke_config()
    tc.gan = dict(source["train_config"]["gan"], d_pack=2)
    packed = train_gan.Trainer(tc)
    train_gan.start_from(packed, source)
    x = torch.randn(4, 3, 64, 64)
    means = (x[0::2] + x[1::2]) / 2
    with torch.no_grad():
        assert torch.allclose(packed.D(x), plain.D(means), atol=1e-5)
    for a, b in zip(packed.G_ema.parameters(), plain.G_ema.parameters()):
        assert torch.equal(a, b)
    tc3 = train_gan.smoke_config()
    tc3.gan = dict(tc3.gan, d_pack=3)
    with pytest.raises(SystemExit, match="does not extend"):  # 3 from 2 cannot be tiled
        src2 = dict(packed.weights())
        train_gan.start_from(train_gan.Trainer(tc3), src2)


def test_init_from_refuses_architecture_options():
    args = type("Args", (), {"tiny": False, "channels": "4:8,8:8,16:8,32:8,64:8", "d_channels": None, "z_dim": None,
                             "mapping_layers": None, "d_pack": 2, "batch": None, "pool": None, "rec_weight": 0.0})()
    with pytest.raises(SystemExit, match="only --d-pack"):
        train_gan.new_config(args, train_gan.smoke_config().gan)


def test_init_from_names_what_is_wrong_with_its_file():
    with tempfile.TemporaryDirectory() as d:
        with pytest.raises(SystemExit, match="no such file"):
            train_gan.load_source(os.path.join(d, "missing.pt"))
        snapshot = os.path.join(d, "g_ema-0000001.pt")
        torch.save({"gan": train_gan.smoke_config().gan, "step": 1, "G_ema": {}}, snapshot)
        with pytest.raises(SystemExit, match="not a training checkpoint"):
            train_gan.load_source(snapshot)
        text = os.path.join(d, "notes.txt")
        with open(text, "w") as f:
            f.write("not a checkpoint")
        with pytest.raises(SystemExit, match="not a readable checkpoint"):
            train_gan.load_source(text)


def test_batch_must_be_a_multiple_of_the_pack():
    tc = train_gan.smoke_config()
    tc.gan = dict(tc.gan, d_pack=4)
    with pytest.raises(SystemExit, match="multiple"):
        train_gan.set_batch(tc, 6)
    train_gan.set_batch(tc, 8)
    assert tc.batch == 8


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
