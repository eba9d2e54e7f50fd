"""train_gan.py's decisive term (--decisive-weight): the loss against hand-computed values, its gradient, and
a training step that uses it. Runs under pytest or directly (a few seconds)."""
import math
import os
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import render  # noqa: E402
import train_gan  # noqa: E402

torch.set_num_threads(1)


def reading(smile, age, yaw):
    """One image's [1, 11] outputs: smile's logit as given, the other binaries sure (+30), hair sure of black."""
    return torch.tensor([[smile, 30.0, 30.0, 30.0, 30.0, 0.0, 0.0, 0.0, 0.0, age, yaw]], requires_grad=True)


def softplus(x):
    return math.log1p(math.exp(x))


def test_judges_sure_of_the_same_reading_pay_nothing():
    a, b = reading(25.0, 0.3, -0.2), reading(30.0, 0.3, -0.2)
    assert train_gan.decisive_loss([a, b]).item() < 1e-9


def test_loss_and_gradient_by_hand():
    a, b = reading(2.0, 0.2, 0.4), reading(-1.0, 0.4, 0.0)
    loss = train_gan.decisive_loss([a, b])
    # shared smile: mean logit 0.5 > 0, so label 1: a pays softplus(-2), b softplus(1); shared age 0.3, yaw 0.2:
    # each judge is 0.1 and 0.2 off, 10 * (0.01 + 0.04) apiece
    assert loss.item() == pytest.approx(softplus(-2.0) + softplus(1.0) + 2 * 10 * 0.05, abs=1e-6)
    loss.backward()
    assert a.grad[0, 0].item() == pytest.approx(1 / (1 + math.exp(-2.0)) - 1, abs=1e-6)  # sigmoid(2) - 1
    assert a.grad[0, 9].item() == pytest.approx(10 * 2 * (0.2 - 0.3), abs=1e-6)          # the target has no gradient
    assert b.grad[0, 10].item() == pytest.approx(10 * 2 * (0.0 - 0.2), abs=1e-6)
    # the terms one at a time: the values alone, the labels alone
    assert train_gan.decisive_loss([a, b], ["values"]).item() == pytest.approx(1.0, abs=1e-6)
    assert train_gan.decisive_loss([a, b], ["binary", "hair"]).item() == pytest.approx(
        softplus(-2.0) + softplus(1.0), abs=1e-6)


def test_a_training_step_uses_the_judges_and_the_run_keeps_them():
    with tempfile.TemporaryDirectory() as tmp:
        judge = torch.nn.Sequential(torch.nn.AvgPool2d(8), torch.nn.Flatten(),
                                    torch.nn.Linear(192, len(render.LABEL_COLUMNS)))
        path = os.path.join(tmp, "judge.pt")
        torch.jit.save(torch.jit.script(judge), path)
        tc = train_gan.smoke_config()
        tc.rec_weight, tc.pool, tc.decisive_weight, tc.decisive_judges = 0.0, 64, 0.5, f"{path},{path}"
        trainer = train_gan.Trainer(tc)
        pool = train_gan.Pool(tc.pool, tc.data_seed, workers=1)
        before = [p.detach().clone() for p in trainer.G.parameters()]
        stats = trainer.train_step(pool)
        assert stats["decisive"] >= 0 and len(trainer.judges) == 2
        assert any(not torch.equal(p, q) for p, q in zip(before, trainer.G.parameters()))
        trainer.save(os.path.join(tmp, "checkpoint.pt"))
        again = train_gan.Trainer.load(os.path.join(tmp, "checkpoint.pt"))
        assert again.tc.decisive_weight == 0.5 and len(again.judges) == 2


if __name__ == "__main__":
    test_judges_sure_of_the_same_reading_pay_nothing()
    test_loss_and_gradient_by_hand()
    test_a_training_step_uses_the_judges_and_the_run_keeps_them()
    print("decisive tests passed")
