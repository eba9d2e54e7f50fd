"""scripts/faces/panel.py: the evaluator's agreement where every judge of a panel reads a condition met, by hand on
made-up readings; and a panel bundle is a copy whose lace.json names the panel, without the evaluator. Runs under
pytest or directly."""
import json
import math
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import image_classifiers as ic  # noqa: E402
import panel  # noqa: E402


def readings_with_yaw(values):
    out = np.zeros((len(values), ic.NUM_OUTPUTS), np.float32)
    out[:, panel.YAW] = values
    out[:, 0] = -5.0  # no smile anywhere, every network sure of it
    return out


def test_agreement_counts_only_what_every_member_reads_met():
    # Five faces. a reads faces 0-3 at 0.6, b faces 1-4; the evaluator is within 0.15 on faces 0, 2, 3.
    r = {"evaluator": readings_with_yaw([0.6, 0.9, 0.7, 0.5, 0.6]),
         "a": readings_with_yaw([0.6, 0.62, 0.58, 0.6, 0.0]),
         "b": readings_with_yaw([0.0, 0.6, 0.6, 0.64, 0.6])}
    rows = {(t, p): (n, s) for t, p, n, s in panel.agreement_rows(r, targets=(0.6,))}
    assert rows[("yaw=0.6", "a")] == (4, 0.75)          # faces 0-3, the evaluator misses face 1
    assert rows[("yaw=0.6", "b")] == (4, 0.75)          # faces 1-4
    assert rows[("yaw=0.6", "a+b")] == (3, 2 / 3)       # faces 1-3 only: both must read it
    assert rows[("NOT smile", "a+b")] == (5, 1.0)
    n, share = rows[("smile", "a")]
    assert n == 0 and math.isnan(share)                  # nobody reads a smile: no share, not 0


def test_a_panel_bundle_names_its_judges_and_leaves_the_evaluator(tmp_path):
    model = tmp_path / "bundle"
    model.mkdir()
    (model / "lace.json").write_text(json.dumps({"name": "x", "generator": {"channels": 3, "resolution": 64},
                                                 "verifier": {"file": "checker.pt", "num_logits": 11}}))
    (model / "evaluator.pt").write_text("never copied")
    judges = []
    for i, role in enumerate(("checker", "labeler")):
        torch.manual_seed(i)
        judges.append(str(tmp_path / f"{role}.pt"))
        torch.jit.script(ic.ARCHITECTURES[role]().eval()).save(judges[-1])
    out = tmp_path / "panel-bundle"
    panel.write_panel_bundle(str(model), str(out), judges)
    manifest = json.loads((out / "lace.json").read_text())
    assert manifest["verifier"] == {"file": panel.PANEL_FILE, "num_logits": 11, "judges": 2}
    assert manifest["name"] == "x" and not (out / "evaluator.pt").exists()
    x = torch.zeros(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.jit.load(str(out / panel.PANEL_FILE))(x).shape == (2, 2, 11)
    with pytest.raises(SystemExit):                       # an existing folder is never written into
        panel.write_panel_bundle(str(model), str(out), judges)
    with pytest.raises(ValueError):                       # one judge is no panel, and no half-made copy stays
        panel.write_panel_bundle(str(model), str(tmp_path / "one"), judges[:1])
    assert not (tmp_path / "one").exists()


def test_a_panel_measured_by_its_first_judge_has_the_first_judges_columns(tmp_path):
    """add_panel with measured_by_first: lace.json's num_logits is what the first judge reads (12 for a checker with
    skin.py's column beside 11-column judges), so lace checks the panel's shape against the first judge's."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "lace.json").write_text(json.dumps({"generator": {"channels": 3, "resolution": 64},
                                                  "verifier": {"file": "checker+skin.pt", "num_logits": 12}}))
    judges = []
    for role, extra in (("checker+skin", 1), ("labeler", 0)):
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, ic.NUM_OUTPUTS + extra))
        judges.append(str(tmp_path / f"{role}.pt"))
        torch.jit.script(net.eval()).save(judges[-1])
    panel.add_panel(str(bundle), judges, measured_by_first=True)
    manifest = json.loads((bundle / "lace.json").read_text())
    assert manifest["verifier"] == {"file": panel.PANEL_FILE, "num_logits": 12, "judges": 2}
    with torch.no_grad():
        assert torch.jit.load(str(bundle / panel.PANEL_FILE))(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 12)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
