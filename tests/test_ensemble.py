"""finetune.ensemble: greedy ensemble selection on validation, the ensemble network, its checkpoint and
ONNX export, and a search whose fine-tune ends in an ensemble."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import TINY

pytestmark = pytest.mark.filterwarnings("ignore")


def _complementary_logits(n=30, classes=3):
    """Three classifiers, each confidently wrong on a different third of the rows: 2/3 accurate alone,
    always right when their probabilities are averaged."""
    y = torch.arange(n) % classes
    outputs = []
    for j in range(3):
        logits = torch.full((n, classes), -4.0)
        logits[torch.arange(n), y] = 4.0
        wrong = torch.arange(n) % 3 == j
        logits[wrong] = -4.0
        logits[wrong, (y[wrong] + 1) % classes] = 3.0
        outputs.append(logits)
    return outputs, y


def test_greedy_selection_finds_the_ensemble_that_beats_every_member():
    from nas_cli.deploy.ensemble_fit import greedy_counts
    from nas_cli.tasks import get_task

    task = get_task("classification")
    outputs, y = _complementary_logits()
    for out in outputs:
        assert task.evaluate(out, y)["accuracy"] == pytest.approx(2 / 3)
    counts, val = greedy_counts(outputs, y, task)
    assert all(c > 0 for c in counts) and val["accuracy"] == 1.0


def test_greedy_selection_keeps_one_model_when_copies_add_nothing():
    from nas_cli.deploy.ensemble_fit import greedy_counts
    from nas_cli.tasks import get_task

    outputs, y = _complementary_logits()
    counts, val = greedy_counts([outputs[0], outputs[0].clone()], y, get_task("classification"))
    assert counts == [1, 0] and val["accuracy"] == pytest.approx(2 / 3)


def test_regression_members_are_averaged_in_target_units():
    from nas_cli.deploy.ensemble_fit import greedy_counts
    from nas_cli.tasks import get_task

    y = torch.linspace(0, 5, 20)
    counts, val = greedy_counts([y + 1.0, y - 1.0, y + 3.0], y, get_task("regression"))
    assert counts[0] == counts[1] > 0 and counts[2] == 0 and val["rmse"] == pytest.approx(0.0, abs=1e-6)


def test_ensemble_checkpoint_rebuilds_and_exports_like_one_network(tmp_path):
    import onnxruntime as ort

    from nas_cli.data import load_dataset
    from nas_cli.deploy.export import export_all, load_checkpoint
    from nas_cli.spaces import build_space
    from nas_cli.spaces.ensemble import build, describe, ensemble_arch
    from nas_cli.spaces.ensemble_net import EnsembleNet

    data = load_dataset("digits")
    space = build_space("cnn", spec=data.spec)
    a = {"layers": [{"filters": 16, "kernel": 3, "pool": "max"}], "activation": "relu", "batch_norm": True,
         "dropout": 0.0, "dense_units": 0}
    b = {"layers": [{"filters": 8, "kernel": 5, "pool": "avg"}, {"filters": 16, "kernel": 3, "pool": "none"}],
         "activation": "gelu", "batch_norm": False, "dropout": 0.1, "dense_units": 32}
    arch = ensemble_arch([a, b], [3, 1], "softmax")
    assert arch["ensemble"]["weights"] == [0.75, 0.25]
    assert describe(space, arch) == f"0.75 x ({space.describe(a)}) + 0.25 x ({space.describe(b)})"
    torch.manual_seed(0)
    model = build(space, arch, data.spec).eval()
    x = data.test_x[:9]
    with torch.inference_mode():
        ref = model(x)
        probs = 0.75 * torch.softmax(model.members[0](x), 1) + 0.25 * torch.softmax(model.members[1](x), 1)
    assert torch.allclose(ref.exp(), probs, atol=1e-6)  # log of the averaged probabilities
    res = export_all(model, space_name="cnn", arch=arch, hparams={"lr": 0.01}, spec=data.spec, config={},
                     inputs=data.test_x[:64], out_dir=tmp_path)
    assert res["onnx_max_abs_diff"] <= 1e-4 and res["pt2_max_abs_diff"] <= 1e-5
    loaded, ckpt = load_checkpoint(tmp_path / "model.pt")
    assert isinstance(loaded, EnsembleNet) and ckpt["arch"] == arch
    with torch.inference_mode():
        assert torch.allclose(loaded(x), ref, atol=1e-6)
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"))
    assert np.allclose(sess.run(None, {"input": x.numpy()})[0], ref.numpy(), atol=1e-4)


def test_a_search_fine_tunes_an_ensemble_tests_it_once_and_exports_it(compose_cfg, tmp_path, monkeypatch):
    """Selection forced to both candidates (tiny budgets rarely make an ensemble worth it): the run's
    test metrics are the ensemble's, and its export is the ensemble."""
    from nas_cli.deploy import ensemble_fit
    from nas_cli.deploy.export import load_checkpoint
    from nas_cli.spaces.ensemble_net import EnsembleNet
    from nas_cli.study.runner import run_study
    from nas_cli.tasks import get_task

    monkeypatch.setattr(ensemble_fit, "greedy_counts",
                        lambda outputs, y, task, rounds=25: ([1] * len(outputs), task.evaluate(outputs[0], y)))
    run = tmp_path / "run"
    cfg = compose_cfg([*TINY, f"runs_dir={tmp_path}", "finetune.top_k=2", "finetune.ensemble=true",
                       "robustness.enabled=false", "export.torch_export=false"])
    assert run_study(cfg, run) == 0
    summary = json.loads((run / "summary.json").read_text())
    ens = summary["finetune"]["ensemble"]
    assert [m["weight"] for m in ens["members"]] == [0.5, 0.5] and ens["combine"] == "softmax"
    assert {m["trial"] for m in ens["members"]} == {c["trial"] for c in summary["finetune"]["candidates"]}
    assert len(summary["finetune"]["refit"]["members"]) == 2  # each member refit on train + validation
    model, ckpt = load_checkpoint(run / "export" / "model.pt")
    assert isinstance(model, EnsembleNet) and len(model.members) == 2
    from nas_cli.data import load_dataset

    data = load_dataset("digits")
    with torch.inference_mode():
        test = get_task("classification").evaluate(model(data.test_x), data.test_y)
    assert test["accuracy"] == pytest.approx(summary["finetune"]["test"]["accuracy"], abs=1e-6)
    assert summary["export"]["onnx_max_abs_diff"] <= 1e-4


def test_finetune_ensemble_must_be_a_boolean(nas, tmp_path):
    res = nas(["search", "finetune.ensemble=maybe", *TINY], cwd=tmp_path)
    assert res.returncode == 2 and "finetune.ensemble" in res.stderr and "Traceback" not in res.stderr
